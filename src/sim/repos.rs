//! Users, the rate limit, repositories, contents and refs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::git::{self, Repository};
use super::model::{Budget, SimState};
use super::server::{Caller, json as reply, not_found};
use super::{Shared, payloads};

pub const CONTENTS_DOCS: &str = "https://docs.github.com/rest/repos/contents";
pub const REFS_DOCS: &str = "https://docs.github.com/rest/git/refs";

/// A JSON request body, rejected the way GitHub rejects one: malformed JSON
/// is a 400, a well-formed body with wrong or missing fields a 422. An empty
/// body reads as `{}`.
pub struct GitHubJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GitHubJson<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        const DOCS: &str = "https://docs.github.com/rest";
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let value: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&body).map_err(|_| {
                reply(
                    StatusCode::BAD_REQUEST,
                    payloads::error("Problems parsing JSON", DOCS),
                )
            })?
        };
        serde_json::from_value(value)
            .map(GitHubJson)
            .map_err(|error| unprocessable(&format!("Invalid request.\n\n{error}"), DOCS))
    }
}

pub fn unprocessable(message: &str, docs: &str) -> Response {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        payloads::error(message, docs),
    )
}

pub fn with_repo<T>(
    shared: &Shared,
    owner: &str,
    name: &str,
    act: impl FnOnce(&mut SimState, &Repository) -> T,
) -> Result<T, Response> {
    let mut state = shared.lock();
    let repo = state.repo(owner, name).cloned().ok_or_else(not_found)?;
    Ok(act(&mut state, &repo))
}

pub async fn current_user(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
) -> Response {
    // An app installation is no user: GitHub refuses it the authenticated user.
    if login.ends_with("[bot]") {
        return crate::sim::server::json(
            StatusCode::FORBIDDEN,
            json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user", "status": "403"}),
        );
    }
    let id = shared.lock().user_id(&login);
    let mut body = payloads::user(&shared.base_url, &login, id);
    // The authenticated user's own view: GitHub's `private-user`.
    if let Value::Object(map) = &mut body {
        for (field, value) in [
            ("name", json!(login)),
            ("email", Value::Null),
            ("bio", Value::Null),
            ("blog", json!("")),
            ("company", Value::Null),
            ("hireable", Value::Null),
            ("location", Value::Null),
            ("public_repos", json!(0)),
            ("public_gists", json!(0)),
            ("followers", json!(0)),
            ("following", json!(0)),
            ("private_gists", json!(0)),
            ("total_private_repos", json!(0)),
            ("owned_private_repos", json!(0)),
            ("disk_usage", json!(0)),
            ("collaborators", json!(0)),
            ("two_factor_authentication", json!(true)),
            ("created_at", json!("2020-01-01T00:00:00Z")),
            ("updated_at", json!("2020-01-01T00:00:00Z")),
        ] {
            map.insert(field.into(), value);
        }
    }
    reply(StatusCode::OK, body)
}

pub async fn rate_limit(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
) -> Response {
    let now = shared.clock.now();
    let budget = {
        let mut state = shared.lock();
        let limit = state.options.rate_limit;
        state
            .budgets
            .entry(login)
            .or_insert_with(|| Budget::fresh(limit, now))
            .clone()
    };
    let core = json!({
        "limit": budget.limit,
        "used": budget.limit.saturating_sub(budget.remaining),
        "remaining": budget.remaining,
        "reset": budget.reset.timestamp(),
        "resource": "core"
    });
    let other = |resource: &str, limit: u32| json!({"limit": limit, "used": 0, "remaining": limit, "reset": (now + chrono::Duration::minutes(1)).timestamp(), "resource": resource});
    reply(
        StatusCode::OK,
        json!({
            "resources": {
                "core": core,
                "search": other("search", 30),
                "graphql": other("graphql", 5000),
                "integration_manifest": other("integration_manifest", 5000),
                "code_search": other("code_search", 10)
            },
            "rate": core
        }),
    )
}

pub async fn get_repo(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
) -> Response {
    let base = shared.base_url.clone();
    with_repo(&shared, &owner, &name, |state, repo| {
        let owner_id = state.user_id(&repo.owner);
        let mut body = payloads::repository(&base, repo, owner_id);
        // What the caller may do here, as GitHub reports it to them.
        body["permissions"] = super::access::Permission::flags(super::access::role(repo, &login));
        reply(StatusCode::OK, body)
    })
    .unwrap_or_else(|response| response)
}

#[derive(Deserialize)]
pub struct RefQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

pub async fn get_contents(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, path)): Path<(String, String, String)>,
    Query(query): Query<RefQuery>,
) -> Response {
    let base = shared.base_url.clone();
    with_repo(&shared, &owner, &name, |_, repo| {
        let reference = query
            .reference
            .unwrap_or_else(|| repo.default_branch.clone());
        let Some(commit) = repo.resolve(&reference) else {
            return reply(
                StatusCode::NOT_FOUND,
                payloads::error(
                    &format!("No commit found for the ref {reference}"),
                    CONTENTS_DOCS,
                ),
            );
        };
        let path = path.trim_end_matches('/');
        if let Some(content) = commit.tree.get(path) {
            return reply(
                StatusCode::OK,
                payloads::content_file(&base, repo, path, content, &reference),
            );
        }
        let prefix = format!("{path}/");
        let mut entries: BTreeMap<String, Value> = BTreeMap::new();
        for (file, content) in commit.tree.range(prefix.clone()..) {
            let Some(rest) = file.strip_prefix(&prefix) else {
                break;
            };
            let entry = match rest.split_once('/') {
                Some((directory, _)) => {
                    let child = format!("{prefix}{directory}");
                    let sha = git::content_sha(&[b"dir", child.as_bytes(), commit.sha.as_bytes()]);
                    payloads::content_entry(&base, repo, &child, "dir", &sha, 0, &reference)
                }
                None => payloads::content_entry(
                    &base,
                    repo,
                    file,
                    "file",
                    &git::blob_sha(content),
                    content.len(),
                    &reference,
                ),
            };
            let key = entry["path"].as_str().unwrap_or_default().to_string();
            entries.entry(key).or_insert(entry);
        }
        if entries.is_empty() {
            return not_found();
        }
        reply(
            StatusCode::OK,
            Value::Array(entries.into_values().collect()),
        )
    })
    .unwrap_or_else(|response| response)
}

#[derive(Deserialize)]
pub struct PutContents {
    message: String,
    content: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

pub async fn put_contents(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, path)): Path<(String, String, String)>,
    GitHubJson(request): GitHubJson<PutContents>,
) -> Response {
    let cleaned: String = request
        .content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cleaned) else {
        return unprocessable("content is not valid Base64", CONTENTS_DOCS);
    };
    let Ok(content) = String::from_utf8(bytes) else {
        return unprocessable("the simulator stores UTF-8 text files only", CONTENTS_DOCS);
    };
    let now = shared.clock.now();
    let base = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo_mut(&owner, &name) else {
        return not_found();
    };
    let branch = request
        .branch
        .unwrap_or_else(|| repo.default_branch.clone());
    let Some(tip) = repo.tip(&branch).cloned() else {
        return reply(
            StatusCode::NOT_FOUND,
            payloads::error(&format!("Branch {branch} not found"), CONTENTS_DOCS),
        );
    };
    let existing = tip.tree.get(&path).map(|content| git::blob_sha(content));
    match (&existing, &request.sha) {
        (Some(_), None) => {
            return unprocessable(
                "Invalid request.\n\n\"sha\" wasn't supplied.",
                CONTENTS_DOCS,
            );
        }
        (Some(current), Some(given)) if current != given => {
            return reply(
                StatusCode::CONFLICT,
                payloads::error(&format!("{path} does not match {given}"), CONTENTS_DOCS),
            );
        }
        (None, Some(given)) => {
            return reply(
                StatusCode::CONFLICT,
                payloads::error(&format!("{path} does not match {given}"), CONTENTS_DOCS),
            );
        }
        _ => {}
    }
    let mut tree = tip.tree.clone();
    tree.insert(path.clone(), content.clone());
    let sha = repo.add_commit(tree, vec![tip.sha.clone()], &request.message, &login, now);
    repo.branches.insert(branch.clone(), sha.clone());
    let repo = repo.clone();
    // As on GitHub, a push to a pull request's head updates it (and dismisses stale reviews).
    state.pushed(&repo.full_name(), &branch, now);
    let commit = &repo.commits[&sha];
    let mut file = payloads::content_file(&base, &repo, &path, &content, &branch);
    if let Value::Object(map) = &mut file {
        map.remove("content");
        map.remove("encoding");
    }
    drop(state);
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    reply(
        status,
        json!({"content": file, "commit": payloads::commit(&base, &repo, commit)}),
    )
}

pub async fn get_ref(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, reference)): Path<(String, String, String)>,
) -> Response {
    let base = shared.base_url.clone();
    with_repo(&shared, &owner, &name, |_, repo| {
        let sha = if let Some(branch) = reference.strip_prefix("heads/") {
            repo.branches.get(branch)
        } else if let Some(tag) = reference.strip_prefix("tags/") {
            repo.tags.get(tag)
        } else {
            None
        };
        match sha {
            Some(sha) => reply(
                StatusCode::OK,
                payloads::git_ref(&base, repo, &reference, sha),
            ),
            None => reply(
                StatusCode::NOT_FOUND,
                payloads::error("Not Found", REFS_DOCS),
            ),
        }
    })
    .unwrap_or_else(|response| response)
}

#[derive(Deserialize)]
pub struct CreateRef {
    #[serde(rename = "ref")]
    reference: String,
    sha: String,
}

pub async fn create_ref(
    State(shared): State<Arc<Shared>>,
    Path((owner, name)): Path<(String, String)>,
    GitHubJson(request): GitHubJson<CreateRef>,
) -> Response {
    let base = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo_mut(&owner, &name) else {
        return not_found();
    };
    let (name, is_tag) = match (
        request.reference.strip_prefix("refs/heads/"),
        request.reference.strip_prefix("refs/tags/"),
    ) {
        (Some(branch), _) => (branch, false),
        (None, Some(tag)) => (tag, true),
        (None, None) => {
            return unprocessable(
                "Reference name must start with 'refs/heads/' or 'refs/tags/' in the simulator",
                REFS_DOCS,
            );
        }
    };
    if name.is_empty() || name.contains("..") || name.ends_with('/') || name.contains(' ') {
        return unprocessable(
            &format!("{} is not a valid ref name.", request.reference),
            REFS_DOCS,
        );
    }
    let commit_exists = repo.commits.contains_key(&request.sha);
    let refs = if is_tag {
        &mut repo.tags
    } else {
        &mut repo.branches
    };
    if refs.contains_key(name) {
        return unprocessable("Reference already exists", REFS_DOCS);
    }
    if !commit_exists {
        return unprocessable("Object does not exist", REFS_DOCS);
    }
    refs.insert(name.to_string(), request.sha.clone());
    let full = request.reference.trim_start_matches("refs/").to_string();
    let body = payloads::git_ref(&base, repo, &full, &request.sha);
    reply(StatusCode::CREATED, body)
}

/// `DELETE /repos/{o}/{r}/git/refs/{ref}`: 204, or 422 "Reference does not exist" as GitHub
/// answers for a ref that is not there; the default branch cannot be deleted.
pub async fn delete_ref(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, reference)): Path<(String, String, String)>,
) -> Response {
    let mut state = shared.lock();
    let Some(repo) = state.repo_mut(&owner, &name) else {
        return not_found();
    };
    if let Some(branch) = reference.strip_prefix("heads/") {
        if branch == repo.default_branch {
            return unprocessable("Cannot delete the default branch", REFS_DOCS);
        }
        let full_name = repo.full_name();
        if let Some(tip) = repo.branches.remove(branch) {
            for pull in state
                .pulls
                .iter_mut()
                .filter(|pull| pull.repo.eq_ignore_ascii_case(&full_name) && pull.head == branch)
            {
                pull.kept_head_sha = Some(tip.clone());
            }
            return StatusCode::NO_CONTENT.into_response();
        }
    } else if let Some(tag) = reference.strip_prefix("tags/")
        && repo.tags.remove(tag).is_some()
    {
        return StatusCode::NO_CONTENT.into_response();
    }
    unprocessable("Reference does not exist", REFS_DOCS)
}

/// A file's bytes by blob sha: where `download_url` points (GitHub serves these
/// from raw.githubusercontent.com).
pub async fn raw_blob(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, sha)): Path<(String, String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(repo) = state.repo(&owner, &name) else {
        return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
    };
    let content = repo
        .commits
        .values()
        .flat_map(|commit| commit.tree.values())
        .find(|content| git::blob_sha(content) == sha)
        .cloned();
    match content {
        Some(content) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            content,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404: Not Found").into_response(),
    }
}
