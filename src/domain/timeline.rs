//! The timeline of a request: lifecycle steps read from the document, merged with audit events.

use serde::Serialize;
use serde_json::Value;

use super::event::LifecycleEvent;
use super::request::Request;
use super::run::RunFact;
use super::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    Active,
    Failed,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEntry {
    Step {
        step: &'static str,
        state: StepState,
        at: Option<Timestamp>,
        detail: Option<String>,
    },
    Event {
        at: Timestamp,
        kind: String,
        actor: String,
        message: Option<String>,
    },
    Note {
        at: Option<Timestamp>,
        text: String,
    },
}

impl TimelineEntry {
    pub fn at(&self) -> Option<Timestamp> {
        match self {
            TimelineEntry::Step { at, .. } | TimelineEntry::Note { at, .. } => *at,
            TimelineEntry::Event { at, .. } => Some(*at),
        }
    }
}

fn run_step(step: &'static str, run: &RunFact) -> TimelineEntry {
    let state = if run.succeeded() {
        StepState::Done
    } else if run.completed_without_success() {
        StepState::Failed
    } else if run.is_in_flight() {
        StepState::Active
    } else {
        StepState::Pending
    };
    let mut detail = run.describe();
    if let Some(id) = run.id {
        detail = format!("run {id}: {detail}");
    }
    TimelineEntry::Step {
        step,
        state,
        at: run.updated_at.or(run.created_at),
        detail: Some(detail),
    }
}

fn pending(step: &'static str) -> TimelineEntry {
    TimelineEntry::Step {
        step,
        state: StepState::Pending,
        at: None,
        detail: None,
    }
}

/// Lifecycle steps in order. Steps that have not happened are `Pending`; destroy appears only
/// once a destroy run exists.
pub fn lifecycle_steps(request: &Request) -> Vec<TimelineEntry> {
    let mut steps = vec![TimelineEntry::Step {
        step: "requested",
        state: StepState::Done,
        at: Some(request.created_at),
        detail: Some(format!("by {}", request.requested_by)),
    }];
    steps.push(match &request.pr {
        Some(pr) => TimelineEntry::Step {
            step: "pull_request",
            state: StepState::Done,
            at: None,
            detail: pr
                .number
                .map(|n| format!("#{n} {}", pr.state.as_deref().unwrap_or(""))),
        },
        None => pending("pull_request"),
    });
    steps.push(match &request.plan_run {
        Some(run) => run_step("plan", run),
        None => pending("plan"),
    });
    steps.push(match &request.approval {
        Some(approval) if approval.approved => TimelineEntry::Step {
            step: "approval",
            state: StepState::Done,
            at: approval.at,
            detail: Some(format!("by {}", approval.approvers.join(", "))),
        },
        _ => pending("approval"),
    });
    let merged = request.pr.as_deref().is_some_and(|pr| pr.merged) || request.merged_sha.is_some();
    steps.push(if merged {
        TimelineEntry::Step {
            step: "merge",
            state: StepState::Done,
            at: request.pr.as_deref().and_then(|pr| pr.merged_at),
            detail: request
                .merged_sha
                .as_ref()
                .map(|sha| format!("sha {}", short_sha(sha))),
        }
    } else {
        pending("merge")
    });
    steps.push(match &request.apply_run {
        Some(run) => run_step("apply", run),
        None => pending("apply"),
    });
    if let Some(run) = &request.destroy_run {
        steps.push(run_step("destroy", run));
    }
    steps
}

/// The first seven characters of a commit sha, as GitHub shows it (the whole text when it is
/// shorter, or not ASCII: documents are not trusted to hold real shas).
pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn note(value: &Value) -> TimelineEntry {
    let at = ["at", "timestamp", "time"]
        .iter()
        .find_map(|k| value.get(k)?.as_str().and_then(Timestamp::parse));
    let text = ["message", "step", "label", "event"]
        .iter()
        .find_map(|k| value.get(k)?.as_str().map(String::from))
        .unwrap_or_else(|| value.to_string());
    TimelineEntry::Note { at, text }
}

/// Steps that happened, stored notes and audit events in time order (ties keep lifecycle
/// order), then the steps still to come. A step that happened but carries no time (an old
/// document's pull request) keeps its lifecycle place: it sorts with the step before it.
pub fn build_timeline(request: &Request, events: &[LifecycleEvent]) -> Vec<TimelineEntry> {
    let steps = lifecycle_steps(request);
    let (upcoming, happened): (Vec<_>, Vec<_>) = steps.into_iter().partition(|s| {
        matches!(
            s,
            TimelineEntry::Step {
                state: StepState::Pending,
                ..
            }
        )
    });

    let mut keyed: Vec<(Option<Timestamp>, TimelineEntry)> = Vec::new();
    let mut previous = None;
    for step in happened {
        let key = step.at().or(previous);
        previous = key;
        keyed.push((key, step));
    }
    for note in request.timeline.iter().map(note) {
        keyed.push((note.at(), note));
    }
    for e in events {
        let entry = TimelineEntry::Event {
            at: e.at,
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            message: e.message.clone(),
        };
        keyed.push((Some(e.at), entry));
    }
    // Stable sort; `None` keys (undated notes) go last, before what is still to come.
    keyed.sort_by_key(|(at, _)| (at.is_none(), *at));
    keyed
        .into_iter()
        .map(|(_, entry)| entry)
        .chain(upcoming)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{Approval, PullRequestFact};
    use crate::domain::run::{RunConclusion, RunStatus};

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn step_names(entries: &[TimelineEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                TimelineEntry::Step { step, state, .. } => format!("{step}:{state:?}"),
                TimelineEntry::Event { kind, .. } => format!("event:{kind}"),
                TimelineEntry::Note { text, .. } => format!("note:{text}"),
            })
            .collect()
    }

    #[test]
    fn new_request_has_one_done_step_and_the_rest_pending() {
        let request = Request::new("r", "p", "dev", "m", "alice", t("2026-01-01T00:00:00Z"));
        let names = step_names(&build_timeline(&request, &[]));
        assert_eq!(
            names,
            [
                "requested:Done",
                "pull_request:Pending",
                "plan:Pending",
                "approval:Pending",
                "merge:Pending",
                "apply:Pending"
            ]
        );
    }

    #[test]
    fn steps_and_events_interleave_by_time() {
        let mut request = Request::new("r", "p", "dev", "m", "alice", t("2026-01-01T00:00:00Z"));
        request.pr = Some(Box::new(PullRequestFact {
            number: Some(4),
            state: Some("open".into()),
            ..Default::default()
        }));
        request.plan_run = Some(Box::new(RunFact {
            id: Some(10),
            status: Some(RunStatus::Completed),
            conclusion: Some(RunConclusion::Failure),
            updated_at: Some(t("2026-01-01T00:05:00Z")),
            ..RunFact::default()
        }));
        request.approval = Some(Box::new(Approval {
            approved: false,
            ..Default::default()
        }));
        request
            .timeline
            .push(serde_json::json!({"at": "2026-01-01T00:06:00Z", "message": "retry requested"}));
        let events = vec![
            LifecycleEvent::new("r", t("2026-01-01T00:01:00Z"), "plan_dispatched", "alice"),
            LifecycleEvent::new("r", t("2026-01-01T00:00:00Z"), "created", "alice"),
        ];
        let names = step_names(&build_timeline(&request, &events));
        assert_eq!(
            names,
            [
                "requested:Done",
                "pull_request:Done",
                "event:created",
                "event:plan_dispatched",
                "plan:Failed",
                "note:retry requested",
                "approval:Pending",
                "merge:Pending",
                "apply:Pending",
            ]
        );
    }

    #[test]
    fn destroy_step_appears_only_with_a_destroy_run() {
        let mut request = Request::new("r", "p", "dev", "m", "alice", t("2026-01-01T00:00:00Z"));
        request.merged_sha = Some("0123456789abcdef".into());
        request.destroy_run = Some(Box::new(RunFact {
            status: Some(RunStatus::InProgress),
            ..RunFact::default()
        }));
        let timeline = build_timeline(&request, &[]);
        let names = step_names(&timeline);
        assert!(names.contains(&"destroy:Active".to_string()), "{names:?}");
        assert!(names.contains(&"merge:Done".to_string()), "{names:?}");
        let merge_detail = timeline.iter().find_map(|e| match e {
            TimelineEntry::Step {
                step: "merge",
                detail,
                ..
            } => detail.clone(),
            _ => None,
        });
        assert_eq!(merge_detail.as_deref(), Some("sha 0123456"));
    }
}
