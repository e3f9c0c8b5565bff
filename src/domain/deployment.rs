//! Deployment reviews: a run held by its environment's required reviewers. GitHub keeps such a
//! run `waiting` until one of them approves (it then runs) or rejects it (it fails). Which run
//! of a request waits, and how that is said, is decided here for every output.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request::Request;
use super::run::{RunFact, RunStatus};
use super::run_kind::RunKind;

/// Who must review a waiting run's deployment, as GitHub listed it when the run was last read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeploymentReview {
    pub environment: String,
    /// Logins, and `team:<slug>` for teams.
    #[serde(default)]
    pub reviewers: Vec<String>,
}

/// How a decision on a deployment review goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }

    /// The event that records it.
    pub fn event(self) -> &'static str {
        match self {
            Verdict::Approve => "deployment_approved",
            Verdict::Reject => "deployment_rejected",
        }
    }

    /// The comment GitHub records when the reviewer gave none.
    pub fn default_comment(self, login: &str) -> String {
        match self {
            Verdict::Approve => format!("Approved in tfpilot by {login}"),
            Verdict::Reject => format!("Rejected in tfpilot by {login}"),
        }
    }
}

/// The run kinds whose workflows target the request's environment (docs/workflows/): the ones
/// an environment's protection rules can hold.
pub const GATED_KINDS: [RunKind; 2] = [RunKind::Destroy, RunKind::Apply];

impl RunFact {
    pub fn is_waiting(&self) -> bool {
        self.status == Some(RunStatus::Waiting)
    }
}

/// The request's run that waits for a deployment review (a destroy before an apply: the later
/// step of the lifecycle), if one does.
pub fn waiting_run(request: &Request) -> Option<(RunKind, &RunFact)> {
    GATED_KINDS.into_iter().find_map(|kind| {
        kind.of(request)
            .filter(|run| run.is_waiting())
            .map(|run| (kind, run))
    })
}

/// What a waiting run waits for, in words: `waiting for prod deployment review: bob, carol`.
pub fn describe_wait(run: &RunFact) -> String {
    match &run.deployment_review {
        Some(review) if review.reviewers.is_empty() => {
            format!("waiting for {} deployment review", review.environment)
        }
        Some(review) => format!(
            "waiting for {} deployment review: {}",
            review.environment,
            review.reviewers.join(", ")
        ),
        None => "waiting for the environment's protection rules".to_string(),
    }
}

/// The request's wait, in words, if a run of it waits.
pub fn waiting(request: &Request) -> Option<String> {
    waiting_run(request).map(|(_, run)| describe_wait(run))
}

/// The wait for `show --json`, `list --json` and `watch --json`: `null` when nothing waits.
pub fn waiting_json(request: &Request) -> Value {
    let Some((kind, run)) = waiting_run(request) else {
        return Value::Null;
    };
    let review = run.deployment_review.clone().unwrap_or_default();
    json!({
        "run": kind.name(),
        "run_id": run.id,
        "environment": (!review.environment.is_empty()).then_some(review.environment),
        "reviewers": review.reviewers,
        "summary": describe_wait(run),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn request() -> Request {
        Request::new(
            "req-1",
            "payments",
            "prod",
            "svc",
            "alice",
            Timestamp::from_unix_seconds(1_700_000_000).expect("valid time"),
        )
    }

    fn run(status: &str, review: Option<DeploymentReview>) -> Box<RunFact> {
        Box::new(RunFact {
            id: Some(7),
            status: Some(RunStatus::parse(status)),
            deployment_review: review,
            ..RunFact::default()
        })
    }

    #[test]
    fn a_waiting_apply_says_who_must_review_it() {
        let mut request = request();
        request.apply_run = Some(run(
            "waiting",
            Some(DeploymentReview {
                environment: "prod".into(),
                reviewers: vec!["bob".into(), "team:platform".into()],
            }),
        ));
        assert_eq!(
            waiting(&request).as_deref(),
            Some("waiting for prod deployment review: bob, team:platform")
        );
        assert_eq!(
            waiting_run(&request).map(|(kind, _)| kind),
            Some(RunKind::Apply)
        );
    }

    #[test]
    fn only_a_waiting_gated_run_waits() {
        let mut request = request();
        request.apply_run = Some(run("in_progress", None));
        request.plan_run = Some(run("waiting", None));
        assert_eq!(waiting(&request), None);
        request.destroy_run = Some(run("waiting", None));
        assert_eq!(
            waiting(&request).as_deref(),
            Some("waiting for the environment's protection rules")
        );
    }
}
