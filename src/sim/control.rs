//! The `/_sim/` control endpoints: create repositories, script outcomes, inject
//! faults, move the clock, set budgets and inspect everything. They need no
//! token and never count against a rate limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::git::Repository;
use super::model::{Budget, FaultRule, ScriptedOutcome, repo_key};
use super::repos::GitHubJson;
use super::server::json as reply;
use super::{Shared, SimError, device};

const CONTROL_DOCS: &str = "docs/simulator.md";

pub fn dispatch_key(owner: &str, repo: &str, workflow: &str, request_id: &str) -> String {
    format!("{}/{workflow}/{request_id}", repo_key(owner, repo))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub fn create_repo(
    shared: &Shared,
    owner: &str,
    name: &str,
    files: BTreeMap<String, String>,
    required_approvals: u32,
) -> Result<Value, SimError> {
    if !valid_name(owner) || !valid_name(name) {
        return Err(SimError::Invalid(format!(
            "{owner}/{name} is not a repository name; use letters, digits, `-`, `_` and `.`"
        )));
    }
    if let Some(bad) = files.keys().find(|path| {
        path.is_empty()
            || path.starts_with('/')
            || path.ends_with('/')
            || path.split('/').any(|part| part.is_empty() || part == "..")
    }) {
        return Err(SimError::Invalid(format!(
            "{bad:?} is not a relative file path"
        )));
    }
    let now = shared.clock.now();
    let mut state = shared.lock();
    if state.repo(owner, name).is_some() {
        return Err(SimError::Invalid(format!(
            "repository {owner}/{name} already exists"
        )));
    }
    let id = state.allocate_id();
    state.user_id(owner);
    let mut repo = Repository::new(id, owner, name, files, owner, now);
    repo.required_approvals = required_approvals;
    let main = repo.branches["main"].clone();
    state.repos.insert(repo_key(owner, name), repo);
    Ok(
        json!({"id": id, "full_name": format!("{owner}/{name}"), "default_branch": "main", "head_sha": main}),
    )
}

fn control_error(status: StatusCode, message: &str) -> Response {
    reply(
        status,
        json!({"message": message, "documentation_url": CONTROL_DOCS}),
    )
}

#[derive(Deserialize)]
pub struct NewRepo {
    owner: String,
    name: String,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    required_approvals: u32,
    /// Deployment environments: name -> required reviewers.
    #[serde(default)]
    environments: BTreeMap<String, Vec<String>>,
    /// login -> `read`, `triage`, `write`, `maintain` or `admin`; the owner is an admin.
    #[serde(default)]
    collaborators: BTreeMap<String, String>,
}

pub async fn post_repo(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<NewRepo>,
) -> Response {
    let collaborators = match super::access::parse_collaborators(&request.collaborators) {
        Ok(collaborators) => collaborators,
        Err(error) => return control_error(StatusCode::UNPROCESSABLE_ENTITY, &error),
    };
    match create_repo(
        &shared,
        &request.owner,
        &request.name,
        request.files,
        request.required_approvals,
    ) {
        Ok(body) => {
            let mut state = shared.lock();
            if let Some(repo) = state.repo_mut(&request.owner, &request.name) {
                repo.environments = request.environments;
                repo.collaborators = collaborators;
            }
            reply(StatusCode::CREATED, body)
        }
        Err(error) => control_error(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    }
}

#[derive(Deserialize)]
pub struct TokenScopes {
    login: String,
    /// `null` answers like a fine-grained token: no `X-OAuth-Scopes`.
    scopes: Option<String>,
}

pub async fn post_token_scopes(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<TokenScopes>,
) -> Response {
    shared
        .lock()
        .token_scopes
        .insert(request.login.clone(), request.scopes.clone());
    reply(
        StatusCode::OK,
        json!({"login": request.login, "scopes": request.scopes}),
    )
}

pub fn snapshot(shared: &Shared) -> Value {
    let now = shared.clock.now();
    let mut state = shared.lock();
    super::runs::settle(&mut state, now);
    let repos: Vec<Value> = state
        .repos
        .values()
        .map(|repo| json!({"full_name": repo.full_name(), "branches": repo.branches, "tags": repo.tags, "required_approvals": repo.required_approvals}))
        .collect();
    let runs: Vec<Value> = state
        .runs
        .iter()
        .map(|run| json!({
            "id": run.id, "job_id": run.job_id, "repo": run.repo, "workflow": run.workflow, "name": run.name,
            "operation": run.operation, "request_id": run.request_id, "block_id": run.block_id, "dispatch_id": run.dispatch_id,
            "head_branch": run.head_branch, "head_sha": run.head_sha, "status": run.status(now),
            "conclusion": run.conclusion_at(now), "created_at": run.created_at,
        }))
        .collect();
    let calls: Vec<Value> = state
        .calls
        .iter()
        .map(|((method, route, status), count)| json!({"method": method, "route": route, "status": status, "count": count}))
        .collect();
    let deployed: Vec<Value> = state
        .deployed
        .iter()
        .map(|((repo, directory), blocks)| json!({"repo": repo, "directory": directory, "requests": blocks.keys().collect::<Vec<_>>()}))
        .collect();
    json!({
        "now": now,
        "options": state.options,
        "repos": repos,
        "pulls": state.pulls,
        "reviews": state.reviews,
        "runs": runs,
        "dispatches": state.dispatches,
        "deployed": deployed,
        "outcomes": state.outcomes,
        "faults": state.faults,
        "rate_limits": state.budgets,
        "calls": calls,
        "apps": super::apps::snapshot(&state.apps),
    })
}

pub async fn get_state(State(shared): State<Arc<Shared>>) -> Response {
    reply(StatusCode::OK, snapshot(&shared))
}

pub async fn post_fault(
    State(shared): State<Arc<Shared>>,
    GitHubJson(rule): GitHubJson<FaultRule>,
) -> Response {
    if !(0.0..=1.0).contains(&rule.rate) {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rate must be between 0.0 and 1.0",
        );
    }
    if rule.status.is_none() && rule.latency_ms.is_none() && !rule.drop_connection {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a fault needs a status, a latency_ms or drop_connection",
        );
    }
    if let Some(status) = rule.status
        && !(100..=599).contains(&status)
    {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "status must be an HTTP status code",
        );
    }
    shared.lock().faults.push(rule.clone());
    reply(StatusCode::CREATED, json!(rule))
}

pub async fn delete_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().faults.clear();
    reply(StatusCode::OK, json!({"faults": []}))
}

pub async fn post_outcome(
    State(shared): State<Arc<Shared>>,
    GitHubJson(outcome): GitHubJson<ScriptedOutcome>,
) -> Response {
    if !matches!(
        outcome.conclusion.as_str(),
        "success" | "failure" | "cancelled"
    ) {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "conclusion must be success, failure or cancelled",
        );
    }
    if !super::model::WORKFLOWS
        .iter()
        .any(|(_, operation)| *operation == outcome.operation)
    {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "operation must be plan, apply, destroy, cleanup or drift",
        );
    }
    shared.lock().outcomes.push(outcome.clone());
    reply(StatusCode::CREATED, json!(outcome))
}

pub async fn delete_outcomes(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().outcomes.clear();
    reply(StatusCode::OK, json!({"outcomes": []}))
}

#[derive(Deserialize)]
pub struct ClockMove {
    advance_seconds: f64,
}

pub async fn post_clock(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<ClockMove>,
) -> Response {
    let Ok(by) = Duration::try_from_secs_f64(request.advance_seconds) else {
        return control_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "advance_seconds must be a non-negative number",
        );
    };
    shared.clock.advance(by);
    reply(StatusCode::OK, json!({"now": shared.clock.now()}))
}

pub fn set_budget(
    shared: &Shared,
    login: &str,
    limit: Option<u32>,
    remaining: Option<u32>,
    reset_in: Option<Duration>,
) -> Budget {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let default_limit = state.options.rate_limit;
    let budget = state
        .budgets
        .entry(login.to_string())
        .or_insert_with(|| Budget::fresh(default_limit, now));
    if let Some(limit) = limit {
        budget.limit = limit;
        budget.remaining = budget.remaining.min(limit);
    }
    if let Some(remaining) = remaining {
        budget.remaining = remaining.min(budget.limit);
    }
    if let Some(reset_in) = reset_in {
        budget.reset =
            now + chrono::Duration::from_std(reset_in).unwrap_or(chrono::Duration::hours(1));
    }
    budget.clone()
}

#[derive(Deserialize)]
pub struct BudgetRequest {
    login: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    remaining: Option<u32>,
    #[serde(default)]
    reset_in_seconds: Option<u64>,
}

pub async fn post_rate_limit(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<BudgetRequest>,
) -> Response {
    let budget = set_budget(
        &shared,
        &request.login,
        request.limit,
        request.remaining,
        request.reset_in_seconds.map(Duration::from_secs),
    );
    reply(StatusCode::OK, json!(budget))
}

#[derive(Deserialize)]
pub struct DeviceDecision {
    user_code: String,
    login: String,
    #[serde(default)]
    deny: bool,
}

pub async fn post_device_authorize(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<DeviceDecision>,
) -> Response {
    match device::authorize(&shared, &request.user_code, &request.login, request.deny) {
        Ok(()) => reply(
            StatusCode::OK,
            json!({"user_code": request.user_code, "authorized": !request.deny}),
        ),
        Err(error) => control_error(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    }
}
