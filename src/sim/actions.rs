//! GitHub Actions: workflow dispatch, runs, jobs and job logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::git::{self, Repository};
use super::model::{Run, RunPhase, SimState, WORKFLOWS};
use super::repos::{GitHubJson, unprocessable};
use super::server::{Caller, json as reply, not_found};
use super::{Shared, control, deployments, payloads, workflow_file};

const DISPATCH_DOCS: &str =
    "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
const REQUIRED_INPUTS: [&str; 3] = ["request_id", "environment", "dispatch_id"];
/// The plan and apply workflows' optional `scope` (a choice input, default `request`).
const SCOPES: [&str; 2] = ["request", "root"];

fn optional_inputs(operation: &str) -> &'static [&'static str] {
    match operation {
        "plan" | "apply" => &["scope"],
        _ => &[],
    }
}

/// Stable workflow ids per repo: the repo id and the workflow's position.
fn workflow_id(repo: &Repository, index: usize) -> u64 {
    repo.id * 100 + index as u64 + 1
}

fn workflow_path(file: &str) -> String {
    format!(".github/workflows/{file}")
}

/// GitHub knows a repository's workflows by the files on its default branch.
fn has_workflow(repo: &Repository, file: &str) -> bool {
    repo.resolve(&repo.default_branch)
        .is_some_and(|commit| commit.tree.contains_key(&workflow_path(file)))
}

/// The workflow a path segment names: its file name or its numeric id.
fn find_workflow(repo: &Repository, segment: &str) -> Option<(u64, &'static str, &'static str)> {
    WORKFLOWS
        .iter()
        .enumerate()
        .find_map(|(index, (file, operation))| {
            let id = workflow_id(repo, index);
            (segment == *file || segment == id.to_string()).then_some((id, *file, *operation))
        })
}

#[derive(Deserialize)]
pub struct DispatchRequest {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
    #[serde(default)]
    return_run_details: Option<bool>,
}

pub async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, workflow)): Path<(String, String, String)>,
    GitHubJson(request): GitHubJson<DispatchRequest>,
) -> Response {
    let now = shared.clock.now();
    let base_url = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let Some((workflow_id, file, operation)) = find_workflow(&repo, &workflow) else {
        return not_found();
    };
    if !has_workflow(&repo, file) {
        return not_found();
    }
    if request.return_run_details.is_some() && !state.options.return_run_details {
        return unprocessable(
            "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
            DISPATCH_DOCS,
        );
    }
    let Some(head) = repo
        .resolve(&request.reference)
        .filter(|_| !repo.commits.contains_key(&request.reference))
    else {
        return unprocessable(
            &format!("No ref found for: {}", request.reference),
            DISPATCH_DOCS,
        );
    };
    let head_sha = head.sha.clone();
    // The file at the dispatched commit is the one that runs.
    let Some(definition) = head
        .tree
        .get(&workflow_path(file))
        .map(|text| workflow_file::parse(text))
    else {
        return unprocessable(
            "Workflow does not have 'workflow_dispatch' trigger",
            DISPATCH_DOCS,
        );
    };
    // GitHub reports a tag's name as the run's head_branch too.
    let branch = request
        .reference
        .trim_start_matches("refs/heads/")
        .trim_start_matches("refs/tags/")
        .to_string();
    for input in REQUIRED_INPUTS {
        if !request.inputs.contains_key(input) {
            return unprocessable(
                &format!("Required input '{input}' not provided"),
                DISPATCH_DOCS,
            );
        }
    }
    // GitHub takes only the inputs the workflow file at that commit declares.
    let unexpected: Vec<&String> = request
        .inputs
        .keys()
        .filter(|key| !definition.inputs.contains(key))
        .collect();
    if !unexpected.is_empty() {
        return unprocessable(
            &format!("Unexpected inputs provided: {unexpected:?}"),
            DISPATCH_DOCS,
        );
    }
    let text = |key: &str| match &request.inputs[key] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let (request_id, environment, dispatch_id) =
        (text("request_id"), text("environment"), text("dispatch_id"));
    let scope = if optional_inputs(operation).contains(&"scope") {
        let scope = request
            .inputs
            .get("scope")
            .map(|_| text("scope"))
            .unwrap_or_else(|| "request".to_string());
        if !SCOPES.contains(&scope.as_str()) {
            return unprocessable(
                &format!(
                    "Provided value '{scope}' for input 'scope' not in the list of allowed values"
                ),
                DISPATCH_DOCS,
            );
        }
        Some(scope)
    } else {
        None
    };
    let outcome = state.take_outcome(&request_id, operation);
    let values: BTreeMap<String, String> = request
        .inputs
        .keys()
        .map(|key| (key.clone(), text(key)))
        .collect();
    let workflow_name = definition
        .name
        .clone()
        .unwrap_or_else(|| workflow_path(file));
    // Without a run-name GitHub titles a dispatched run with the workflow's name.
    let title = definition
        .run_name
        .as_deref()
        .map(|template| workflow_file::render(template, &values))
        .unwrap_or_else(|| workflow_name.clone());
    let gate = definition
        .environment
        .as_deref()
        .map(|expression| workflow_file::render(expression, &values))
        .and_then(|environment| deployments::gate_for(&repo, &environment));
    let run = Run {
        id: state.allocate_id(),
        job_id: state.allocate_id(),
        repo: repo.full_name(),
        workflow: file.to_string(),
        workflow_id,
        run_number: state
            .runs
            .iter()
            .filter(|r| r.repo == repo.full_name() && r.workflow == file)
            .count() as u64
            + 1,
        name: title,
        workflow_name,
        operation: operation.to_string(),
        request_id: request_id.clone(),
        block_id: request
            .inputs
            .get("block_id")
            .map(|_| text("block_id"))
            .filter(|block| !block.is_empty()),
        dispatch_id,
        environment,
        head_branch: branch,
        head_sha,
        actor: login,
        created_at: now,
        queue_seconds: state.options.queue_seconds as i64,
        run_seconds: state.options.run_seconds as i64,
        conclusion: outcome
            .as_ref()
            .map_or_else(|| "success".to_string(), |o| o.conclusion.clone()),
        error: outcome.as_ref().and_then(|o| o.error.clone()),
        drift: outcome.is_some_and(|o| o.drift),
        log: None,
        gate,
        stopped_at: None,
        scope,
        uploads: definition.uploads.clone(),
        plan_json: None,
    };
    let key = control::dispatch_key(&repo.owner, &repo.name, file, &request_id);
    *state.dispatches.entry(key).or_default() += 1;
    let details = json!({
        "workflow_run_id": run.id,
        "run_url": format!("{base_url}/repos/{}/actions/runs/{}", repo.full_name(), run.id),
        "html_url": format!("{base_url}/{}/actions/runs/{}", repo.full_name(), run.id),
    });
    state.runs.push(run);
    if request.return_run_details == Some(true) {
        reply(StatusCode::OK, details)
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

#[derive(Deserialize)]
pub struct RunsQuery {
    event: Option<String>,
    branch: Option<String>,
    status: Option<String>,
    actor: Option<String>,
    head_sha: Option<String>,
    per_page: Option<usize>,
    page: Option<usize>,
}

pub async fn list_runs(
    State(shared): State<Arc<Shared>>,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<RunsQuery>,
) -> Response {
    runs_page(&shared, &owner, &name, None, &query)
}

pub async fn list_workflow_runs(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, workflow)): Path<(String, String, String)>,
    Query(query): Query<RunsQuery>,
) -> Response {
    runs_page(&shared, &owner, &name, Some(&workflow), &query)
}

fn runs_page(
    shared: &Shared,
    owner: &str,
    name: &str,
    workflow: Option<&str>,
    query: &RunsQuery,
) -> Response {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let Some(repo) = state.repo(owner, name).cloned() else {
        return not_found();
    };
    let workflow_file = match workflow {
        Some(segment) => match find_workflow(&repo, segment) {
            Some((_, file, _)) if has_workflow(&repo, file) => Some(file),
            _ => return not_found(),
        },
        None => None,
    };
    let mut runs: Vec<Run> = state
        .runs
        .iter()
        .filter(|run| run.repo == repo.full_name())
        .filter(|run| workflow_file.is_none_or(|file| run.workflow == file))
        .filter(|_| {
            query
                .event
                .as_deref()
                .is_none_or(|event| event == "workflow_dispatch")
        })
        .filter(|run| {
            query
                .branch
                .as_ref()
                .is_none_or(|branch| &run.head_branch == branch)
        })
        .filter(|run| query.actor.as_ref().is_none_or(|actor| &run.actor == actor))
        .filter(|run| {
            query
                .head_sha
                .as_ref()
                .is_none_or(|sha| &run.head_sha == sha)
        })
        .filter(|run| {
            query.status.as_deref().is_none_or(|status| {
                run.status(now) == status || run.conclusion_at(now) == Some(status)
            })
        })
        .cloned()
        .collect();
    runs.sort_by_key(|run| std::cmp::Reverse(run.id));
    let total = runs.len();
    let per_page = query.per_page.unwrap_or(30).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let items: Vec<Value> = runs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|run| render_run(&mut state, &shared.base_url, &repo, run, now))
        .collect();
    drop(state);
    let mut response = reply(
        StatusCode::OK,
        json!({"total_count": total, "workflow_runs": items}),
    );
    let last = total.div_ceil(per_page).max(1);
    if page < last {
        let path = match workflow {
            Some(segment) => format!(
                "/repos/{}/actions/workflows/{segment}/runs",
                repo.full_name()
            ),
            None => format!("/repos/{}/actions/runs", repo.full_name()),
        };
        let mut filters = String::new();
        for (key, value) in [
            ("event", &query.event),
            ("branch", &query.branch),
            ("status", &query.status),
            ("actor", &query.actor),
            ("head_sha", &query.head_sha),
        ] {
            if let Some(value) = value {
                filters.push_str(&format!("&{key}={value}"));
            }
        }
        let link = |p: usize| {
            format!(
                "<{}{path}?per_page={per_page}&page={p}{filters}>",
                shared.base_url
            )
        };
        let value = format!(
            "{}; rel=\"next\", {}; rel=\"last\"",
            link(page + 1),
            link(last)
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

fn render_run(
    state: &mut SimState,
    base: &str,
    repo: &Repository,
    run: &Run,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let context = payloads::RunContext {
        owner_id: state.user_id(&repo.owner),
        actor_id: state.user_id(&run.actor),
        commit: repo.commits.get(&run.head_sha),
        now,
    };
    payloads::run(base, repo, run, &context)
}

/// The repository and its run that `matches`, or GitHub's 404.
fn repo_and_run<'a>(
    state: &'a SimState,
    owner: &str,
    name: &str,
    matches: impl Fn(&Run) -> bool,
) -> Result<(&'a Repository, &'a Run), Response> {
    let repo = state.repo(owner, name).ok_or_else(not_found)?;
    let run = state
        .runs
        .iter()
        .find(|run| run.repo == repo.full_name() && matches(run))
        .ok_or_else(not_found)?;
    Ok((repo, run))
}

pub async fn get_run(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let (repo, run) = match repo_and_run(&state, &owner, &name, |run| run.id == run_id) {
        Ok((repo, run)) => (repo.clone(), run.clone()),
        Err(response) => return response,
    };
    let body = render_run(&mut state, &shared.base_url, &repo, &run, now);
    reply(StatusCode::OK, body)
}

pub async fn list_jobs(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    match repo_and_run(&state, &owner, &name, |run| run.id == run_id) {
        Ok((repo, run)) => {
            let job = payloads::job(&shared.base_url, repo, run, now);
            reply(StatusCode::OK, json!({"total_count": 1, "jobs": [job]}))
        }
        Err(response) => response,
    }
}

pub async fn get_job(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, job_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    match repo_and_run(&state, &owner, &name, |run| run.job_id == job_id) {
        Ok((repo, run)) => reply(
            StatusCode::OK,
            payloads::job(&shared.base_url, repo, run, now),
        ),
        Err(response) => response,
    }
}

/// The signature a log download URL carries, as GitHub's short-lived blob URLs do.
fn log_signature(job_id: u64) -> String {
    git::content_sha(&[b"job-log", job_id.to_string().as_bytes()])
}

pub async fn job_logs(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, job_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    let run = match repo_and_run(&state, &owner, &name, |run| run.job_id == job_id) {
        Ok((_, run)) => run,
        Err(response) => return response,
    };
    if run.phase(now) != RunPhase::Completed || run.log.is_none() {
        return not_found();
    }
    let location = format!(
        "{}/_sim/logs/{job_id}?sig={}",
        shared.base_url,
        log_signature(job_id)
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Deserialize)]
pub struct BlobQuery {
    sig: Option<String>,
}

/// The log blob a job-log redirect points at: plain text, no GitHub token.
pub async fn log_blob(
    State(shared): State<Arc<Shared>>,
    Path(job_id): Path<u64>,
    Query(query): Query<BlobQuery>,
) -> Response {
    if query.sig.as_deref() != Some(log_signature(job_id).as_str()) {
        return (
            StatusCode::FORBIDDEN,
            "AuthenticationFailed: the log URL signature is missing or wrong",
        )
            .into_response();
    }
    let state = shared.lock();
    match state
        .runs
        .iter()
        .find(|run| run.job_id == job_id)
        .and_then(|run| run.log.clone())
    {
        Some(log) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log).into_response(),
        None => (StatusCode::NOT_FOUND, "BlobNotFound").into_response(),
    }
}
