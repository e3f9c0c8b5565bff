//! The kinds of workflow run a request records: each one's workflow file, its name in events
//! and messages, and its place in the document. Every list of a request's runs starts here.

use super::request::Request;
use super::run::RunFact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunKind {
    Plan,
    Apply,
    Destroy,
    Drift,
    Cleanup,
}

impl RunKind {
    /// In lifecycle order.
    pub const ALL: [RunKind; 5] = [
        RunKind::Plan,
        RunKind::Apply,
        RunKind::Destroy,
        RunKind::Drift,
        RunKind::Cleanup,
    ];

    /// The workflow file it dispatches (`docs/workflows/`).
    pub fn workflow(self) -> &'static str {
        match self {
            RunKind::Plan => "tfpilot-plan.yml",
            RunKind::Apply => "tfpilot-apply.yml",
            RunKind::Destroy => "tfpilot-destroy.yml",
            RunKind::Drift => "tfpilot-drift.yml",
            RunKind::Cleanup => "tfpilot-cleanup.yml",
        }
    }

    /// The name in run names, event kinds (`plan_succeeded`, `apply_failed`) and titles.
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Plan => "plan",
            RunKind::Apply => "apply",
            RunKind::Destroy => "destroy",
            RunKind::Drift => "drift",
            RunKind::Cleanup => "cleanup",
        }
    }

    /// The event that records its dispatch.
    pub fn dispatched_event(self) -> &'static str {
        match self {
            RunKind::Plan => "plan_dispatched",
            RunKind::Apply => "apply_dispatched",
            RunKind::Destroy => "destroy_dispatched",
            RunKind::Drift => "drift_check_started",
            RunKind::Cleanup => "cleanup_dispatched",
        }
    }

    /// The command that dispatches it.
    pub fn command(self) -> &'static str {
        match self {
            RunKind::Drift => "drift-check",
            other => other.name(),
        }
    }

    /// The document field that records it.
    pub fn document_key(self) -> &'static str {
        match self {
            RunKind::Plan => "plan_run",
            RunKind::Apply => "apply_run",
            RunKind::Destroy => "destroy_run",
            RunKind::Drift => "drift_run",
            RunKind::Cleanup => "cleanup_run",
        }
    }

    pub fn of(self, request: &Request) -> Option<&RunFact> {
        match self {
            RunKind::Plan => request.plan_run.as_deref(),
            RunKind::Apply => request.apply_run.as_deref(),
            RunKind::Destroy => request.destroy_run.as_deref(),
            RunKind::Drift => request.drift_run.as_deref(),
            RunKind::Cleanup => request.cleanup_run.as_deref(),
        }
    }

    pub fn of_mut(self, request: &mut Request) -> &mut Option<Box<RunFact>> {
        match self {
            RunKind::Plan => &mut request.plan_run,
            RunKind::Apply => &mut request.apply_run,
            RunKind::Destroy => &mut request.destroy_run,
            RunKind::Drift => &mut request.drift_run,
            RunKind::Cleanup => &mut request.cleanup_run,
        }
    }

    /// The request's recorded runs, in lifecycle order.
    pub fn recorded(request: &Request) -> impl Iterator<Item = (RunKind, &RunFact)> {
        RunKind::ALL
            .into_iter()
            .filter_map(|kind| kind.of(request).map(|run| (kind, run)))
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_owns_its_own_document_field() {
        let mut request = Request::new(
            "req",
            "payments",
            "dev",
            "s3-bucket",
            "alice",
            crate::domain::Timestamp::from_unix_seconds(0).expect("the epoch is a valid time"),
        );
        for (index, kind) in RunKind::ALL.into_iter().enumerate() {
            *kind.of_mut(&mut request) = Some(Box::new(RunFact {
                id: Some(index as u64),
                ..RunFact::default()
            }));
        }
        let value = serde_json::to_value(&request).expect("serializes");
        for (index, kind) in RunKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.of(&request).and_then(|run| run.id), Some(index as u64));
            assert_eq!(value[kind.document_key()]["id"], index as u64, "{kind}");
        }
        assert_eq!(RunKind::recorded(&request).count(), 5);
    }
}
