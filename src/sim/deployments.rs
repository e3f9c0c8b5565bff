//! Deployment protection and run control: a job that targets an environment with required
//! reviewers waits until one of them reviews it (GitHub's "Review pending deployments for a
//! workflow run"), and a run that has not completed can be cancelled ("Cancel a workflow run").

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::git::{self, Repository};
use super::model::{Gate, GateDecision, Run, RunPhase, SimState};
use super::payloads::{self, time};
use super::repos::{GitHubJson, unprocessable};
use super::server::{Caller, json as reply, not_found};

const REVIEW_DOCS: &str = "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run";
const CANCEL_DOCS: &str =
    "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run";

/// The gate a new run whose job targets `environment` (its workflow file says so) meets there:
/// the environment's required reviewers, if any.
pub fn gate_for(repo: &Repository, environment: &str) -> Option<Gate> {
    let reviewers = repo.environments.get(environment)?;
    (!reviewers.is_empty()).then(|| Gate {
        environment: environment.to_string(),
        reviewers: reviewers.clone(),
        decision: None,
    })
}

/// A stable id per repository and environment name.
pub fn environment_id(repo: &Repository, environment: &str) -> u64 {
    let digest = git::content_sha(&[b"environment", environment.as_bytes()]);
    let low = u64::from_str_radix(&digest[..6], 16).unwrap_or_default();
    repo.id * 1000 + low % 1000
}

/// The environment object GitHub nests in pending deployments and deployments.
pub fn environment_ref(base: &str, repo: &Repository, environment: &str) -> Value {
    let id = environment_id(repo, environment);
    json!({
        "id": id,
        "node_id": format!("EN_sim{id}"),
        "name": environment,
        "url": format!("{base}/repos/{}/environments/{environment}", repo.full_name()),
        "html_url": format!("{base}/{}/deployments/activity_log?environments_filter={environment}", repo.full_name()),
    })
}

/// Required reviewers as GitHub lists them in environments and pending deployments.
pub fn reviewer_objects(state: &mut SimState, base: &str, logins: &[String]) -> Vec<Value> {
    logins
        .iter()
        .map(|login| {
            let id = state.user_id(login);
            json!({"type": "User", "reviewer": payloads::user(base, login, id)})
        })
        .collect()
}

/// The environment protects against self-review (the simulator's environments all do, as
/// `GET /environments/{name}` says): the login that started a run cannot approve it.
fn may_review(gate: &Gate, run: &Run, login: &str) -> bool {
    gate.reviewers.iter().any(|r| r.eq_ignore_ascii_case(login))
        && !run.actor.eq_ignore_ascii_case(login)
}

fn find_run<'a>(state: &'a SimState, repo: &Repository, run_id: u64) -> Option<&'a Run> {
    state
        .runs
        .iter()
        .find(|run| run.repo == repo.full_name() && run.id == run_id)
}

pub async fn list_pending(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let base = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let Some(run) = find_run(&state, &repo, run_id).cloned() else {
        return not_found();
    };
    let Some(gate) = run.pending_gate(now) else {
        return reply(StatusCode::OK, json!([]));
    };
    let reviewers = reviewer_objects(&mut state, &base, &gate.reviewers);
    reply(
        StatusCode::OK,
        json!([{
            "environment": environment_ref(&base, &repo, &gate.environment),
            "wait_timer": 0,
            "wait_timer_started_at": time(run.queued_until()),
            "current_user_can_approve": may_review(gate, &run, &login),
            "reviewers": reviewers,
        }]),
    )
}

#[derive(Deserialize)]
pub struct ReviewRequest {
    environment_ids: Vec<u64>,
    state: String,
    comment: String,
}

pub async fn review_pending(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
    GitHubJson(review): GitHubJson<ReviewRequest>,
) -> Response {
    let now = shared.clock.now();
    let base = shared.base_url.clone();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let approved = match review.state.as_str() {
        "approved" => true,
        "rejected" => false,
        other => {
            return unprocessable(
                &format!(
                    "Invalid request.\n\nstate must be one of \"approved\" or \"rejected\", not {other:?}."
                ),
                REVIEW_DOCS,
            );
        }
    };
    let Some(index) = state
        .runs
        .iter()
        .position(|run| run.repo == repo.full_name() && run.id == run_id)
    else {
        return not_found();
    };
    let run = state.runs[index].clone();
    let Some(gate) = run.pending_gate(now) else {
        return unprocessable(
            "No pending deployment requests to approve or reject",
            REVIEW_DOCS,
        );
    };
    let pending_id = environment_id(&repo, &gate.environment);
    if review.environment_ids.is_empty()
        || review.environment_ids.iter().any(|id| *id != pending_id)
    {
        return unprocessable(
            &format!(
                "Unknown environment_ids: run {run_id} waits only for environment {pending_id} ({})",
                gate.environment
            ),
            REVIEW_DOCS,
        );
    }
    if !may_review(gate, &run, &login) {
        let why = if run.actor.eq_ignore_ascii_case(&login) {
            "the environment prevents self-review of the run you triggered"
        } else {
            "you are not one of its required reviewers"
        };
        return unprocessable(
            &format!(
                "{login} cannot review the deployment to {}: {why}",
                gate.environment
            ),
            REVIEW_DOCS,
        );
    }
    let environment = gate.environment.clone();
    let decision = GateDecision {
        approved,
        by: login.clone(),
        at: now,
        comment: review.comment.clone(),
    };
    let stored = &mut state.runs[index];
    if let Some(gate) = stored.gate.as_mut() {
        gate.decision = Some(decision);
    }
    if !approved {
        // As on GitHub: a rejected deployment fails the run.
        stored.stopped_at = Some(now);
        stored.conclusion = "failure".to_string();
        stored.error = Some(format!(
            "The deployment to {environment} was rejected by {login}"
        ));
    }
    let deployment_id = state.allocate_id();
    let creator_id = state.user_id(&run.actor);
    let body = json!([{
        "url": format!("{base}/repos/{}/deployments/{deployment_id}", repo.full_name()),
        "id": deployment_id,
        "node_id": format!("DE_sim{deployment_id}"),
        "sha": run.head_sha,
        "ref": run.head_branch,
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": Value::Null,
        "creator": payloads::user(&base, &run.actor, creator_id),
        "created_at": time(run.created_at),
        "updated_at": time(now),
        "statuses_url": format!("{base}/repos/{}/deployments/{deployment_id}/statuses", repo.full_name()),
        "repository_url": format!("{base}/repos/{}", repo.full_name()),
        "transient_environment": false,
        "production_environment": false,
        "performed_via_github_app": Value::Null,
    }]);
    reply(StatusCode::OK, body)
}

/// `POST .../runs/{id}/cancel`: 202 while the run has not completed, 409 once it has.
pub async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
) -> Response {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let Some(repo) = state.repo(&owner, &name).cloned() else {
        return not_found();
    };
    let Some(run) = state
        .runs
        .iter_mut()
        .find(|run| run.repo == repo.full_name() && run.id == run_id)
    else {
        return not_found();
    };
    if run.phase(now) == RunPhase::Completed {
        return reply(
            StatusCode::CONFLICT,
            payloads::error(
                "Cannot cancel a workflow run that is completed.",
                CANCEL_DOCS,
            ),
        );
    }
    run.stopped_at = Some(now);
    run.conclusion = "cancelled".to_string();
    run.error = None;
    reply(StatusCode::ACCEPTED, json!({}))
}
