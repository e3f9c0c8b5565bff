//! Repository settings `tfpilot doctor` reads: branch protection and deployment environments,
//! in GitHub's shapes (see GitHub's REST reference for "Get branch protection" and "Get an
//! environment").

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::Shared;
use super::repos::with_repo;
use super::server::json as reply;

pub async fn get_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, branch)): Path<(String, String, String)>,
) -> Response {
    let base = shared.base_url.clone();
    with_repo(&shared, &owner, &name, |_, repo| {
        let url = format!(
            "{base}/repos/{}/branches/{branch}/protection",
            repo.full_name()
        );
        if !repo.branches.contains_key(&branch) {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"message": "Branch not found", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection", "status": "404"}),
            );
        }
        if branch != repo.default_branch || repo.required_approvals == 0 {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"message": "Branch not protected", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection", "status": "404"}),
            );
        }
        let flag = |name: &str, enabled: bool| json!({"url": format!("{url}/{name}"), "enabled": enabled});
        reply(
            StatusCode::OK,
            json!({
                "url": url,
                "required_pull_request_reviews": {
                    "url": format!("{url}/required_pull_request_reviews"),
                    "dismiss_stale_reviews": true,
                    "require_code_owner_reviews": false,
                    "require_last_push_approval": false,
                    "required_approving_review_count": repo.required_approvals
                },
                "enforce_admins": flag("enforce_admins", false),
                "required_signatures": flag("required_signatures", false),
                "required_linear_history": {"enabled": false},
                "allow_force_pushes": {"enabled": false},
                "allow_deletions": {"enabled": false},
                "required_conversation_resolution": {"enabled": false},
                "lock_branch": {"enabled": false},
                "allow_fork_syncing": {"enabled": false}
            }),
        )
    })
    .unwrap_or_else(|response| response)
}

pub async fn get_environment(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, environment)): Path<(String, String, String)>,
) -> Response {
    let base = shared.base_url.clone();
    with_repo(&shared, &owner, &name, |state, repo| {
        let Some(reviewers) = repo.environments.get(&environment) else {
            return super::server::not_found();
        };
        let id = super::deployments::environment_id(repo, &environment);
        let reviewers = super::deployments::reviewer_objects(state, &base, reviewers);
        let mut rules = Vec::new();
        if !reviewers.is_empty() {
            rules.push(json!({"id": id + 1, "node_id": format!("GA_sim{}", id + 1),
                "type": "required_reviewers", "prevent_self_review": true, "reviewers": reviewers}));
        }
        rules.push(json!({"id": id + 2, "node_id": format!("GA_sim{}", id + 2), "type": "branch_policy"}));
        let mut body = super::deployments::environment_ref(&base, repo, &environment);
        for (field, value) in [
            ("created_at", json!("2026-01-01T00:00:00Z")),
            ("updated_at", json!("2026-01-01T00:00:00Z")),
            ("can_admins_bypass", json!(false)),
            ("protection_rules", json!(rules)),
            (
                "deployment_branch_policy",
                json!({"protected_branches": false, "custom_branch_policies": true}),
            ),
        ] {
            body[field] = value;
        }
        reply(StatusCode::OK, body)
    })
    .unwrap_or_else(|response| response)
}
