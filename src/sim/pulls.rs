//! Pull requests, reviews, merges and branch updates.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::git::Repository;
use super::model::{Pull, PullState, Review, SimState};
use super::repos::{GitHubJson, unprocessable};
use super::server::{Caller, json as reply, not_found};
use super::{Shared, payloads};

const PULLS_DOCS: &str = "https://docs.github.com/rest/pulls/pulls";
const REVIEWS_DOCS: &str =
    "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";
const MERGE_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request";

/// Approvals that count: each reviewer's latest decisive review.
fn approvals(state: &SimState, pull: &Pull) -> usize {
    let mut latest: Vec<(&str, &str)> = Vec::new();
    for review in state
        .reviews
        .iter()
        .filter(|r| r.repo.eq_ignore_ascii_case(&pull.repo) && r.pull == pull.number)
        .filter(|r| r.state == "APPROVED" || r.state == "CHANGES_REQUESTED")
    {
        latest.retain(|(user, _)| *user != review.user);
        latest.push((&review.user, &review.state));
    }
    latest
        .iter()
        .filter(|(_, state)| *state == "APPROVED")
        .count()
}

fn mergeability(
    state: &SimState,
    repo: &Repository,
    pull: &Pull,
    now: DateTime<Utc>,
) -> payloads::Mergeability {
    if pull.state == PullState::Closed {
        return payloads::Mergeability {
            mergeable: None,
            state: "unknown",
        };
    }
    let (Some(head), Some(base)) = (repo.tip(&pull.head), repo.tip(&pull.base)) else {
        return payloads::Mergeability {
            mergeable: Some(false),
            state: "dirty",
        };
    };
    let pushed = head.at.max(base.at).max(pull.created_at);
    if now < pushed + chrono::Duration::seconds(state.options.mergeability_seconds as i64) {
        return payloads::Mergeability {
            mergeable: None,
            state: "unknown",
        };
    }
    if !repo.overlapping_changes(&base.sha, &head.sha).is_empty() {
        return payloads::Mergeability {
            mergeable: Some(false),
            state: "dirty",
        };
    }
    if approvals(state, pull) < repo.required_approvals as usize {
        return payloads::Mergeability {
            mergeable: Some(true),
            state: "blocked",
        };
    }
    payloads::Mergeability {
        mergeable: Some(true),
        state: "clean",
    }
}

fn render(
    state: &mut SimState,
    base: &str,
    repo: &Repository,
    pull: &Pull,
    now: DateTime<Utc>,
) -> Value {
    let merge = mergeability(state, repo, pull, now);
    let author_id = state.user_id(&pull.author);
    let owner_id = state.user_id(&repo.owner);
    let merged_by = pull.merged_by.clone().map(|login| {
        let id = state.user_id(&login);
        payloads::user(base, &login, id)
    });
    let head_sha = head_of(repo, pull).unwrap_or_default();
    let base_sha = repo
        .tip(&pull.base)
        .map(|c| c.sha.clone())
        .unwrap_or_default();
    payloads::pull(
        base, repo, pull, author_id, owner_id, &head_sha, &base_sha, &merge, merged_by,
    )
}

/// The pull request's head commit: its branch's tip, or the one kept when the branch went.
fn head_of(repo: &Repository, pull: &Pull) -> Option<String> {
    repo.tip(&pull.head)
        .map(|commit| commit.sha.clone())
        .or_else(|| pull.kept_head_sha.clone())
}

/// Fields of a full pull request that GitHub's list leaves out: it answers with the shorter
/// `pull-request-simple` shape (no `merged`: a reader of the list goes by `merged_at`).
const NOT_IN_SIMPLE: [&str; 12] = [
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
];

fn simple(mut pull: Value) -> Value {
    if let Value::Object(fields) = &mut pull {
        for field in NOT_IN_SIMPLE {
            fields.remove(field);
        }
    }
    pull
}

fn load(
    state: &SimState,
    owner: &str,
    name: &str,
    number: u64,
) -> Result<(Repository, Pull), Response> {
    let repo = state.repo(owner, name).cloned().ok_or_else(not_found)?;
    let pull = state
        .pull(&repo.full_name(), number)
        .cloned()
        .ok_or_else(not_found)?;
    Ok((repo, pull))
}

fn store(state: &mut SimState, pull: Pull) {
    if let Some(slot) = state
        .pulls
        .iter_mut()
        .find(|p| p.repo.eq_ignore_ascii_case(&pull.repo) && p.number == pull.number)
    {
        *slot = pull;
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    head: Option<String>,
    base: Option<String>,
    sort: Option<String>,
    direction: Option<String>,
    per_page: Option<usize>,
    page: Option<usize>,
}

pub async fn list(
    State(shared): State<Arc<Shared>>,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let wanted = query.state.as_deref().unwrap_or("open");
    let head = query.head.as_deref().map(|head| {
        head.split_once(':')
            .map_or(head, |(_, branch)| branch)
            .to_string()
    });
    let mut pulls: Vec<Pull> = state
        .pulls
        .iter()
        .filter(|p| p.repo.eq_ignore_ascii_case(&repo.full_name()))
        .filter(|p| match wanted {
            "all" => true,
            "closed" => p.state == PullState::Closed,
            _ => p.state == PullState::Open,
        })
        .filter(|p| head.as_ref().is_none_or(|h| &p.head == h))
        .filter(|p| query.base.as_ref().is_none_or(|b| &p.base == b))
        .cloned()
        .collect();
    // GitHub: `created` (the default) or `updated`; descending by default only for `created`.
    let by_update = match query.sort.as_deref().unwrap_or("created") {
        "created" => false,
        "updated" => true,
        other => {
            return unprocessable(
                &format!(
                    "sort must be one of created, updated (the simulator does not rank `{other}`)"
                ),
                PULLS_DOCS,
            );
        }
    };
    let descending = match query.direction.as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return unprocessable(
                &format!("direction must be asc or desc, not `{other}`"),
                PULLS_DOCS,
            );
        }
        None => !by_update,
    };
    pulls.sort_by_key(|pull| {
        (
            if by_update {
                pull.updated_at
            } else {
                pull.created_at
            },
            pull.number,
        )
    });
    if descending {
        pulls.reverse();
    }
    let per_page = query.per_page.unwrap_or(30).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let items: Vec<Value> = pulls
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|pull| simple(render(&mut state, &base_url, &repo, pull, now)))
        .collect();
    reply(StatusCode::OK, Value::Array(items))
}

#[derive(Deserialize)]
pub struct CreatePull {
    title: String,
    head: String,
    base: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    draft: bool,
}

pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    GitHubJson(request): GitHubJson<CreatePull>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let head = request
        .head
        .split_once(':')
        .map_or(request.head.as_str(), |(_, branch)| branch)
        .to_string();
    let invalid = |field: &str| {
        reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            payloads::validation_failed(
                json!([{"resource": "PullRequest", "field": field, "code": "invalid"}]),
                PULLS_DOCS,
            ),
        )
    };
    let custom = |message: String| {
        reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            payloads::validation_failed(
                json!([{"resource": "PullRequest", "code": "custom", "message": message}]),
                PULLS_DOCS,
            ),
        )
    };
    let (Some(base_tip), Some(head_tip)) = (repo.tip(&request.base), repo.tip(&head)) else {
        return invalid(if repo.tip(&request.base).is_none() {
            "base"
        } else {
            "head"
        });
    };
    if state.pulls.iter().any(|p| {
        p.repo.eq_ignore_ascii_case(&repo.full_name())
            && p.state == PullState::Open
            && p.head == head
            && p.base == request.base
    }) {
        return custom(format!(
            "A pull request already exists for {}:{head}.",
            repo.owner
        ));
    }
    if repo.ahead_by(&base_tip.sha, &head_tip.sha) == 0 {
        return custom(format!("No commits between {} and {head}", request.base));
    }
    let pull = Pull {
        id: state.allocate_id(),
        number: state.next_pull_number(&repo.full_name()),
        repo: repo.full_name(),
        title: request.title,
        body: request.body.unwrap_or_default(),
        head,
        base: request.base,
        author: login,
        state: PullState::Open,
        draft: request.draft,
        created_at: now,
        updated_at: now,
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        merged_by: None,
        kept_head_sha: None,
    };
    state.pulls.push(pull.clone());
    let body = render(&mut state, &base_url, &repo, &pull, now);
    reply(StatusCode::CREATED, body)
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    match load(&state, &owner, &name, number) {
        Ok((repo, pull)) => {
            let body = render(&mut state, &base_url, &repo, &pull, now);
            reply(StatusCode::OK, body)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub struct UpdatePull {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// `PATCH /repos/{o}/{r}/pulls/{number}`: title, body and state (`open`/`closed`). A merged
/// pull request cannot be reopened, nor one whose head branch is gone; closing a closed one
/// changes nothing.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    GitHubJson(request): GitHubJson<UpdatePull>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let (repo, mut pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match request.state.as_deref() {
        None => {}
        Some("closed") if pull.state == PullState::Open => {
            pull.state = PullState::Closed;
            pull.closed_at = Some(now);
        }
        Some("closed") => {}
        Some("open") => {
            if pull.merged_at.is_some() {
                return unprocessable(
                    "state cannot be changed. The pull request cannot be reopened because it has been merged.",
                    PULLS_DOCS,
                );
            }
            if repo.tip(&pull.head).is_none() {
                return unprocessable(
                    "state cannot be changed. The head branch of this pull request was deleted.",
                    PULLS_DOCS,
                );
            }
            pull.state = PullState::Open;
            pull.closed_at = None;
        }
        Some(other) => {
            return reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                payloads::validation_failed(
                    json!([{"resource": "PullRequest", "field": "state", "code": "invalid", "value": other}]),
                    PULLS_DOCS,
                ),
            );
        }
    }
    if let Some(title) = request.title {
        pull.title = title;
    }
    if let Some(body) = request.body {
        pull.body = body;
    }
    pull.updated_at = now;
    store(&mut state, pull.clone());
    let body = render(&mut state, &base_url, &repo, &pull, now);
    reply(StatusCode::OK, body)
}

#[derive(Deserialize)]
pub struct FilesQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

/// `GET /repos/{o}/{r}/pulls/{number}/files`: the head against the merge base, 30 files a page
/// (`per_page` up to 100), with a `Link` header while there are more.
pub async fn list_files(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    Query(query): Query<FilesQuery>,
) -> Response {
    let base_url = shared.base_url.clone();
    let state = shared.lock();
    let (repo, pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    // A merged pull request keeps the diff it was merged with: the head it was merged at
    // against the base before the merge.
    let head = match pull.merged_at {
        Some(_) => pull.kept_head_sha.clone(),
        None => head_of(&repo, &pull),
    };
    let base = match &pull.merge_commit_sha {
        Some(sha) => repo
            .commits
            .get(sha)
            .and_then(|merge| merge.parents.first().cloned()),
        None => repo.tip(&pull.base).map(|commit| commit.sha.clone()),
    };
    let changes = match (base, head) {
        (Some(base), Some(head)) => repo.changed_files(&base, &head),
        _ => Vec::new(),
    };
    let total = changes.len();
    let per_page = query.per_page.unwrap_or(30).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let full = repo.full_name();
    let items: Vec<Value> = changes
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|change| {
            let mut entry = json!({
                "sha": change.sha,
                "filename": change.path,
                "status": change.status,
                "additions": change.additions,
                "deletions": change.deletions,
                "changes": change.additions + change.deletions,
                "blob_url": format!("{base_url}/{full}/blob/{}/{}", change.sha, change.path),
                "raw_url": format!("{base_url}/{full}/raw/{}/{}", change.sha, change.path),
                "contents_url": format!("{base_url}/repos/{full}/contents/{}?ref={}", change.path, change.sha),
            });
            if !change.patch.is_empty() {
                entry["patch"] = json!(change.patch);
            }
            entry
        })
        .collect();
    drop(state);
    let mut response = reply(StatusCode::OK, Value::Array(items));
    let last = total.div_ceil(per_page).max(1);
    if page < last {
        let link = |p: usize| {
            format!("<{base_url}/repos/{full}/pulls/{number}/files?per_page={per_page}&page={p}>")
        };
        let value = format!(
            "{}; rel=\"next\", {}; rel=\"last\"",
            link(page + 1),
            link(last)
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(axum::http::header::LINK, value);
        }
    }
    response
}

pub async fn list_reviews(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Response {
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let (repo, pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let reviews: Vec<Review> = state
        .reviews
        .iter()
        .filter(|r| {
            r.repo.eq_ignore_ascii_case(&pull.repo) && r.pull == pull.number && r.state != "PENDING"
        })
        .cloned()
        .collect();
    let items: Vec<Value> = reviews
        .iter()
        .map(|review| {
            let id = state.user_id(&review.user);
            payloads::review(&base_url, &repo, review, id)
        })
        .collect();
    reply(StatusCode::OK, Value::Array(items))
}

#[derive(Deserialize)]
pub struct CreateReview {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    commit_id: Option<String>,
}

pub async fn create_review(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    GitHubJson(request): GitHubJson<CreateReview>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let (repo, pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let review_state = match request.event.as_deref() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        None => "PENDING",
        Some(other) => {
            return unprocessable(
                &format!("Invalid request.\n\n\"{other}\" is not a valid event."),
                REVIEWS_DOCS,
            );
        }
    };
    let refuse = |message: &str| {
        reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Unprocessable Entity", "errors": [message], "documentation_url": REVIEWS_DOCS, "status": "422"}),
        )
    };
    if pull.author == login && review_state == "APPROVED" {
        return refuse("Can not approve your own pull request");
    }
    if pull.author == login && review_state == "CHANGES_REQUESTED" {
        return refuse("Can not request changes on your own pull request");
    }
    if review_state != "APPROVED"
        && review_state != "PENDING"
        && request.body.as_deref().is_none_or(str::is_empty)
    {
        return refuse("Review body is required for this event");
    }
    let head_sha = head_of(&repo, &pull).unwrap_or_default();
    if let Some(commit) = &request.commit_id
        && !repo.commits.contains_key(commit)
    {
        return refuse("commit_id is not part of the pull request");
    }
    let review = Review {
        id: state.allocate_id(),
        repo: pull.repo.clone(),
        pull: pull.number,
        user: login.clone(),
        state: review_state.to_string(),
        body: request.body.unwrap_or_default(),
        commit_id: request.commit_id.unwrap_or(head_sha),
        submitted_at: now,
    };
    state.reviews.push(review.clone());
    // A review updates the pull request (it moves up a list sorted by `updated`).
    if let Some(reviewed) = state
        .pulls
        .iter_mut()
        .find(|p| p.repo.eq_ignore_ascii_case(&pull.repo) && p.number == pull.number)
    {
        reviewed.updated_at = now;
    }
    let id = state.user_id(&login);
    reply(
        StatusCode::OK,
        payloads::review(&base_url, &repo, &review, id),
    )
}

#[derive(Deserialize)]
pub struct MergeRequest {
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    merge_method: Option<String>,
    #[serde(default)]
    commit_title: Option<String>,
}

pub async fn merge(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    GitHubJson(request): GitHubJson<MergeRequest>,
) -> Response {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let (repo, mut pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let not_allowed = |message: &str| {
        reply(
            StatusCode::METHOD_NOT_ALLOWED,
            payloads::error(message, MERGE_DOCS),
        )
    };
    let method = request.merge_method.as_deref().unwrap_or("merge");
    if !matches!(method, "merge" | "squash" | "rebase") {
        return unprocessable(
            &format!("Invalid request.\n\n{method:?} is not a valid merge_method."),
            MERGE_DOCS,
        );
    }
    if pull.state != PullState::Open {
        return not_allowed("Pull Request is not mergeable");
    }
    let (Some(head), Some(base)) = (repo.tip(&pull.head).cloned(), repo.tip(&pull.base).cloned())
    else {
        return not_allowed("Pull Request is not mergeable");
    };
    if request.sha.as_ref().is_some_and(|sha| sha != &head.sha) {
        return reply(
            StatusCode::CONFLICT,
            payloads::error(
                "Head branch was modified. Review and try the merge again.",
                MERGE_DOCS,
            ),
        );
    }
    if !repo.overlapping_changes(&base.sha, &head.sha).is_empty() {
        return not_allowed("Pull Request is not mergeable");
    }
    let required = repo.required_approvals as usize;
    if approvals(&state, &pull) < required {
        return not_allowed(&format!(
            "At least {required} approving review{} required by reviewers with write access.",
            if required == 1 { " is" } else { "s are" }
        ));
    }
    let Ok(tree) = repo.merge_trees(&base.sha, &head.sha) else {
        return not_allowed("Pull Request is not mergeable");
    };
    let title = request.commit_title.unwrap_or_else(|| {
        format!(
            "Merge pull request #{} from {}/{}",
            pull.number, repo.owner, pull.head
        )
    });
    let parents = if method == "merge" {
        vec![base.sha.clone(), head.sha.clone()]
    } else {
        vec![base.sha.clone()]
    };
    let Some(stored) = state.repo_mut(&owner, &name) else {
        return not_found();
    };
    let sha = stored.add_commit(tree, parents, &title, &login, now);
    stored.branches.insert(pull.base.clone(), sha.clone());
    pull.state = PullState::Closed;
    pull.merged_at = Some(now);
    pull.closed_at = Some(now);
    pull.updated_at = now;
    pull.merge_commit_sha = Some(sha.clone());
    pull.merged_by = Some(login);
    pull.kept_head_sha = Some(head.sha.clone());
    store(&mut state, pull);
    reply(
        StatusCode::OK,
        json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
    )
}

#[derive(Deserialize)]
pub struct UpdateBranch {
    #[serde(default)]
    expected_head_sha: Option<String>,
}

pub async fn update_branch(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): Path<(String, String, u64)>,
    GitHubJson(request): GitHubJson<UpdateBranch>,
) -> Response {
    let now: DateTime<Utc> = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let (repo, mut pull) = match load(&state, &owner, &name, number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (Some(head), Some(base)) = (repo.tip(&pull.head).cloned(), repo.tip(&pull.base).cloned())
    else {
        return unprocessable("The head or base branch no longer exists.", PULLS_DOCS);
    };
    if pull.state != PullState::Open {
        return unprocessable("Cannot update a closed pull request.", PULLS_DOCS);
    }
    if request
        .expected_head_sha
        .as_ref()
        .is_some_and(|sha| sha != &head.sha)
    {
        return unprocessable(
            "expected head sha didn't match current head ref.",
            PULLS_DOCS,
        );
    }
    if repo.is_ancestor(&base.sha, &head.sha) {
        return unprocessable("There are no new commits on the base branch.", PULLS_DOCS);
    }
    let Ok(tree) = repo.merge_trees(&base.sha, &head.sha) else {
        return unprocessable("merge conflict between base and head", PULLS_DOCS);
    };
    let message = format!("Merge branch '{}' into {}", pull.base, pull.head);
    let Some(stored) = state.repo_mut(&owner, &name) else {
        return not_found();
    };
    let sha = stored.add_commit(
        tree,
        vec![head.sha.clone(), base.sha.clone()],
        &message,
        &login,
        now,
    );
    stored.branches.insert(pull.head.clone(), sha);
    pull.updated_at = now;
    let html = format!("{base_url}/{}/pull/{}", repo.full_name(), pull.number);
    store(&mut state, pull.clone());
    state.pushed(&repo.full_name(), &pull.head, now);
    reply(
        StatusCode::ACCEPTED,
        json!({"message": "Updating pull request branch.", "url": html}),
    )
}
