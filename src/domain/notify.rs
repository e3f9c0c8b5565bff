//! Notifications: which transitions of a request are worth telling people about, each with a
//! key that names it once and for all (so it is claimed once, in the request document, by
//! whoever sees it first), and the Slack-compatible message for it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request::Request;
use super::run::RunFact;
use super::run_kind::RunKind;
use super::time::Timestamp;

/// One transition to announce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub request_id: String,
    /// Unique per transition: `apply-2006-success`, `drift-drifted-4006`.
    pub key: String,
    /// `plan_succeeded`, `apply_failed`, `drift_detected`, ...
    pub kind: String,
    /// When the transition happened.
    pub at: Timestamp,
    /// One line for people, plain text.
    pub summary: String,
    pub link: Option<String>,
}

/// A claim on a notice, kept in the request document: the reconciler whose conditional write
/// adds it first posts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeClaim {
    /// `claimed` (being posted), `sent`, or `failed` (to be retried).
    pub state: String,
    pub by: String,
    pub at: Timestamp,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub const CLAIMED: &str = "claimed";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// Posts that fail are retried this many times in all, one attempt per reconcile.
pub const MAX_ATTEMPTS: u32 = 5;
/// A claim still `claimed` after this long belongs to a reconciler that died mid-post.
pub const CLAIM_LEASE_SECONDS: i64 = 300;

impl NoticeClaim {
    /// Whether another reconciler may take this claim over now (and post).
    pub fn may_take_over(&self, now: Timestamp) -> bool {
        match self.state.as_str() {
            SENT => false,
            FAILED => self.attempts < MAX_ATTEMPTS,
            _ => (now.0 - self.at.0).num_seconds() >= CLAIM_LEASE_SECONDS,
        }
    }
}

/// The transitions of `request` that happened at or after `since`, oldest first: plan, apply
/// and destroy runs that concluded, an apply or destroy that waits for its deployment review
/// (the reviewers must hear of it), and drift found or gone.
pub fn notices(request: &Request, since: Timestamp) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some((kind, run)) = super::deployment::waiting_run(request)
        && let (Some(run_id), Some(at)) = (run.id, run.updated_at.or(run.created_at))
        && at >= since
    {
        out.push(Notice {
            request_id: request.id.clone(),
            key: format!("review-{}-{run_id}", kind.name()),
            kind: "deployment_review_requested".into(),
            at,
            summary: format!(
                "{}: {} {}",
                headline(request),
                kind.name(),
                super::deployment::describe_wait(run)
            ),
            link: run.html_url.clone(),
        });
    }
    for kind in [RunKind::Plan, RunKind::Apply, RunKind::Destroy] {
        if let Some(notice) = kind
            .of(request)
            .and_then(|run| run_notice(request, kind.name(), run))
            && notice.at >= since
        {
            out.push(notice);
        }
    }
    if let Some(drift) = &request.drift
        && let (Some(since_run), Some(at)) = (drift.since_run, drift.since.or(drift.checked_at))
        && at >= since
    {
        let cleared =
            drift.state.as_deref() == Some("clean") && drift.previous.as_deref() == Some("drifted");
        if drift.is_drifted() || cleared {
            let (kind, summary) = if cleared {
                (
                    "drift_cleared",
                    format!("{}: no drift any more", headline(request)),
                )
            } else {
                (
                    "drift_detected",
                    format!(
                        "{}: changed outside Terraform ({})",
                        headline(request),
                        if drift.resources.is_empty() {
                            "see the drift check".to_string()
                        } else {
                            drift.resources.join(", ")
                        }
                    ),
                )
            };
            out.push(Notice {
                request_id: request.id.clone(),
                key: format!(
                    "drift-{}-{since_run}",
                    drift.state.as_deref().unwrap_or("?")
                ),
                kind: kind.into(),
                at,
                summary,
                link: request
                    .drift_run
                    .as_deref()
                    .and_then(|r| r.html_url.clone()),
            });
        }
    }
    out.sort_by_key(|notice| notice.at);
    out
}

fn run_notice(request: &Request, operation: &str, run: &RunFact) -> Option<Notice> {
    if !run.is_completed() || run.extra.contains_key("rejected") {
        return None;
    }
    let run_id = run.id?;
    let conclusion = run
        .conclusion
        .as_ref()
        .map_or("unknown", |c| c.as_str())
        .to_string();
    let succeeded = run.succeeded();
    let verb = if succeeded { "succeeded" } else { "failed" };
    let mut summary = format!("{}: {operation} {verb}", headline(request));
    if !succeeded {
        summary.push_str(&format!(" ({conclusion})"));
    }
    if operation == "plan" && succeeded {
        let plan = request.plan.as_deref();
        if let Some(attribution) = plan.and_then(|p| p.attribution()) {
            summary.push_str(&format!(": {}", attribution.describe()));
            if attribution.changes_outside() {
                summary.push_str(" - review what lies outside before approving");
            }
        } else if let Some(counts) = plan.and_then(|p| p.summary) {
            summary.push_str(&format!(
                ": +{} ~{} -{}",
                counts.add, counts.change, counts.destroy
            ));
        }
        if let Some(fact) =
            super::policy::current(request).filter(|fact| fact.run_id == Some(run_id))
        {
            summary.push_str(&format!("; policies: {}", fact.describe()));
            let messages = if fact.denies() {
                &fact.deny
            } else {
                &fact.warn
            };
            if let Some(first) = messages.first() {
                summary.push_str(&format!(" - {first}"));
                if messages.len() > 1 {
                    summary.push_str(&format!(" (and {} more)", messages.len() - 1));
                }
            }
        }
    }
    Some(Notice {
        request_id: request.id.clone(),
        key: format!("{operation}-{run_id}-{conclusion}"),
        kind: format!(
            "{operation}_{}",
            if succeeded { "succeeded" } else { "failed" }
        ),
        at: run.updated_at.or(run.created_at)?,
        summary,
        link: run.html_url.clone(),
    })
}

fn headline(request: &Request) -> String {
    format!(
        "{} ({} in {}/{}, by {})",
        request.id, request.module, request.project, request.environment, request.requested_by
    )
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup; everything else is text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message for an incoming webhook: `text` for clients that show only that (and for
/// Mattermost, Rocket.Chat and the like), `blocks` for Slack.
pub fn slack_message(notice: &Notice) -> Value {
    let icon = match notice.kind.as_str() {
        kind if kind.ends_with("_succeeded") => ":white_check_mark:",
        kind if kind.ends_with("_failed") => ":x:",
        "drift_detected" => ":warning:",
        "deployment_review_requested" => ":hourglass_flowing_sand:",
        _ => ":information_source:",
    };
    let mut text = format!("{icon} {}", escape(&notice.summary));
    if let Some(link) = &notice.link {
        text.push_str(&format!(" <{}|run>", escape(link)));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("tfpilot · {} · {}", notice.kind, notice.at.to_rfc3339())}
            ]}
        ]
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::request::DriftFact;

    fn at(text: &str) -> Timestamp {
        Timestamp(chrono::DateTime::parse_from_rfc3339(text).unwrap().into())
    }

    fn request() -> Request {
        let mut request = Request::new(
            "req_1",
            "payments",
            "dev",
            "s3-bucket",
            "alice",
            at("2026-11-26T10:00:00Z"),
        );
        request.apply_run = Some(Box::new(
            serde_json::from_value(json!({"id": 2006, "status": "completed",
                "conclusion": "success", "html_url": "https://gh/runs/2006",
                "updated_at": "2026-11-26T11:00:00Z"}))
            .unwrap(),
        ));
        request.plan_run = Some(Box::new(
            serde_json::from_value(json!({"id": 1005, "status": "completed",
                "conclusion": "failure", "updated_at": "2026-11-26T10:30:00Z"}))
            .unwrap(),
        ));
        request.destroy_run =
            Some(serde_json::from_value(json!({"id": 3001, "status": "in_progress"})).unwrap());
        request
    }

    #[test]
    fn concluded_runs_since_the_window_each_have_one_key() {
        let found = notices(&request(), at("2026-11-26T00:00:00Z"));
        let keys: Vec<&str> = found.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(
            keys,
            ["plan-1005-failure", "apply-2006-success"],
            "oldest first"
        );
        assert_eq!(found[0].kind, "plan_failed");
        assert!(
            found[0].summary.ends_with("plan failed (failure)"),
            "{}",
            found[0].summary
        );
        let later = notices(&request(), at("2026-11-26T10:45:00Z"));
        assert_eq!(later.len(), 1, "older transitions are history, not news");
    }

    #[test]
    fn a_plan_notice_says_what_the_policies_said() {
        use crate::domain::policy::{PolicyFact, Verdict};
        let mut denied = request();
        denied.plan_run = Some(Box::new(
            serde_json::from_value(serde_json::json!({"id": 1005, "status": "completed", "conclusion": "success", "created_at": "2026-01-01T10:05:00Z"}))
                .expect("run"),
        ));
        denied.policy = Some(Box::new(PolicyFact {
            run_id: Some(1005),
            verdict: Some(Verdict::Deny),
            deny: vec![
                "prod-databases: not multi_az".into(),
                "monthly-cost: too dear".into(),
            ],
            ..PolicyFact::default()
        }));
        let found = notices(&denied, at("2026-01-01T00:00:00Z"));
        let plan = found
            .iter()
            .find(|n| n.kind == "plan_succeeded")
            .expect("a plan notice");
        assert!(
            plan.summary
                .ends_with("; policies: deny (2) - prod-databases: not multi_az (and 1 more)"),
            "{}",
            plan.summary
        );
        // A verdict on an older plan is not this plan's.
        denied.policy.as_deref_mut().expect("fact").run_id = Some(1004);
        let found = notices(&denied, at("2026-01-01T00:00:00Z"));
        let plan = found
            .iter()
            .find(|n| n.kind == "plan_succeeded")
            .expect("a plan notice");
        assert!(!plan.summary.contains("policies"), "{}", plan.summary);
    }

    #[test]
    fn a_run_waiting_for_its_review_is_announced_to_the_reviewers_once() {
        let mut request = request();
        request.destroy_run = Some(Box::new(
            serde_json::from_value(json!({"id": 3001, "status": "waiting",
                "html_url": "https://gh/runs/3001", "updated_at": "2026-11-26T12:00:00Z",
                "deployment_review": {"environment": "prod", "reviewers": ["bob", "carol"]}}))
            .unwrap(),
        ));
        let found = notices(&request, at("2026-11-26T11:30:00Z"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "review-destroy-3001");
        assert_eq!(found[0].kind, "deployment_review_requested");
        assert!(
            found[0]
                .summary
                .ends_with("destroy waiting for prod deployment review: bob, carol"),
            "{}",
            found[0].summary
        );
        assert!(
            slack_message(&found[0])["text"]
                .as_str()
                .unwrap()
                .starts_with(":hourglass_flowing_sand:")
        );
    }

    #[test]
    fn drift_is_announced_once_per_transition() {
        let mut request = request();
        let check = |run_id: u64, state: &str, minute: u32| DriftFact {
            checked_at: Some(at(&format!("2026-11-26T12:{minute:02}:00Z"))),
            state: Some(state.into()),
            run_id: Some(run_id),
            resources: vec!["module.tfpilot_req_1.aws_s3_bucket.this".into()],
            ..DriftFact::default()
        };
        let since = at("2026-11-26T00:00:00Z");
        let drift_keys = |request: &Request| -> Vec<String> {
            notices(request, since)
                .into_iter()
                .filter(|n| n.key.starts_with("drift"))
                .map(|n| n.key)
                .collect()
        };
        request.drift = Some(Box::new(check(1, "clean", 1).following(None)));
        assert!(
            drift_keys(&request).is_empty(),
            "a first clean check is no news"
        );
        request.drift = Some(Box::new(
            check(2, "drifted", 2).following(request.drift.as_deref()),
        ));
        assert_eq!(drift_keys(&request), ["drift-drifted-2"]);
        request.drift = Some(Box::new(
            check(3, "drifted", 3).following(request.drift.as_deref()),
        ));
        assert_eq!(
            drift_keys(&request),
            ["drift-drifted-2"],
            "still the same drift"
        );
        request.drift = Some(Box::new(
            check(4, "clean", 4).following(request.drift.as_deref()),
        ));
        assert_eq!(drift_keys(&request), ["drift-clean-4"]);
        let cleared = notices(&request, since);
        assert_eq!(cleared.last().unwrap().kind, "drift_cleared");
    }

    #[test]
    fn claims_are_taken_over_only_when_dead_or_failed() {
        let now = at("2026-11-26T12:00:00Z");
        let claim = |state: &str, attempts: u32, at_: &str| NoticeClaim {
            state: state.into(),
            by: "x".into(),
            at: at(at_),
            attempts,
            error: None,
        };
        assert!(!claim(SENT, 1, "2026-11-26T00:00:00Z").may_take_over(now));
        assert!(!claim(CLAIMED, 1, "2026-11-26T11:59:00Z").may_take_over(now));
        assert!(claim(CLAIMED, 1, "2026-11-26T11:50:00Z").may_take_over(now));
        assert!(claim(FAILED, 2, "2026-11-26T11:59:59Z").may_take_over(now));
        assert!(!claim(FAILED, MAX_ATTEMPTS, "2026-11-26T11:00:00Z").may_take_over(now));
    }

    #[test]
    fn the_message_is_slack_shaped_and_escaped() {
        let mut notice = notices(&request(), at("2026-11-26T00:00:00Z"))
            .pop()
            .unwrap();
        notice.summary.push_str(" <b>&");
        let message = slack_message(&notice);
        let text = message["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                ":white_check_mark: req_1 (s3-bucket in payments/dev, by alice): apply succeeded"
            ),
            "{text}"
        );
        assert!(text.contains("&lt;b&gt;&amp;"), "{text}");
        assert!(text.ends_with("<https://gh/runs/2006|run>"), "{text}");
        assert_eq!(message["blocks"][0]["text"]["text"], text);
    }
}
