//! GitHub Actions run facts as recorded in a request document.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::time::Timestamp;

/// Declares a string enum that keeps any value GitHub may add later, so a rewrite loses nothing.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know; kept verbatim.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }

            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(|text| Self::parse(&text))
            }
        }
    };
}

open_string_enum!(
    /// `status` of a workflow run, as GitHub reports it.
    RunStatus {
        Requested => "requested",
        Queued => "queued",
        Pending => "pending",
        Waiting => "waiting",
        InProgress => "in_progress",
        Completed => "completed",
    }
);

open_string_enum!(
    /// `conclusion` of a completed workflow run, as GitHub reports it.
    RunConclusion {
        Success => "success",
        Failure => "failure",
        Cancelled => "cancelled",
        Skipped => "skipped",
        TimedOut => "timed_out",
        ActionRequired => "action_required",
        Neutral => "neutral",
        Stale => "stale",
        StartupFailure => "startup_failure",
    }
);

/// One GitHub Actions run tfpilot dispatched or found (plan, apply, destroy, drift).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<RunConclusion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Who dispatched the run: GitHub's `triggering_actor` once the run is seen there, until
    /// then the login the dispatch intent recorded. Its conclusion is credited to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched_by: Option<String>,
    /// GitHub accepted the dispatch (its answer reached the dispatcher), so the dispatcher
    /// records the dispatch event. Unset on an intent whose dispatcher stopped before that:
    /// whoever finds its run records the event instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dispatch_accepted: bool,
    /// Who cancelled the run through tfpilot, which cancels an apply or destroy only before it
    /// starts: such a run changed nothing. (A run cancelled on GitHub may have stopped half way.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_before_start_by: Option<String>,
    /// While the run is `waiting`: the environment and its reviewers GitHub listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_review: Option<super::deployment::DeploymentReview>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunFact {
    /// Queued or running. GitHub's `requested`, `pending` and `waiting` (for example a job held
    /// by an environment's required reviewers) are states before `in_progress`, so they count too.
    pub fn is_in_flight(&self) -> bool {
        matches!(
            self.status,
            Some(
                RunStatus::Requested
                    | RunStatus::Queued
                    | RunStatus::Pending
                    | RunStatus::Waiting
                    | RunStatus::InProgress
            )
        )
    }

    /// Finished. A run with a conclusion but no status (older documents) is finished too: GitHub
    /// only sets a conclusion once a run has completed.
    pub fn is_completed(&self) -> bool {
        match &self.status {
            Some(RunStatus::Completed) => true,
            None => self.conclusion.is_some(),
            Some(_) => false,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.is_completed() && self.conclusion == Some(RunConclusion::Success)
    }

    /// Completed as `cancelled`.
    pub fn was_cancelled(&self) -> bool {
        self.is_completed() && self.conclusion == Some(RunConclusion::Cancelled)
    }

    /// Cancelled through tfpilot before it started: it changed nothing.
    pub fn cancelled_unstarted(&self) -> bool {
        self.was_cancelled() && self.cancelled_before_start_by.is_some()
    }

    /// Completed with any conclusion other than `success` (including a missing one).
    pub fn completed_without_success(&self) -> bool {
        self.is_completed() && self.conclusion != Some(RunConclusion::Success)
    }

    /// `status` and `conclusion` in one short phrase, for explanations; a waiting run says
    /// what it waits for.
    pub fn describe(&self) -> String {
        if self.is_waiting() {
            return super::deployment::describe_wait(self);
        }
        let status = self.status.as_ref().map_or("unknown", RunStatus::as_str);
        match &self.conclusion {
            Some(conclusion) => format!("{status}/{conclusion}"),
            None => status.to_string(),
        }
    }

    /// Seconds from creation to the last update, for a completed run.
    pub fn duration_seconds(&self) -> Option<i64> {
        match (self.created_at, self.updated_at) {
            (Some(start), Some(end)) if self.is_completed() => {
                Some(end.seconds_since(start).max(0))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: Option<&str>, conclusion: Option<&str>) -> RunFact {
        RunFact {
            status: status.map(RunStatus::parse),
            conclusion: conclusion.map(RunConclusion::parse),
            ..RunFact::default()
        }
    }

    #[test]
    fn unknown_values_survive_a_round_trip() {
        let fact: RunFact =
            serde_json::from_str(r#"{"status":"brand_new","conclusion":"odd","x":1}"#).unwrap();
        assert_eq!(fact.status, Some(RunStatus::Other("brand_new".into())));
        let back = serde_json::to_value(&fact).unwrap();
        assert_eq!(back["status"], "brand_new");
        assert_eq!(back["conclusion"], "odd");
        assert_eq!(back["x"], 1);
    }

    #[test]
    fn waiting_counts_as_in_flight() {
        assert!(run(Some("waiting"), None).is_in_flight());
        assert!(run(Some("queued"), None).is_in_flight());
        assert!(!run(Some("completed"), Some("success")).is_in_flight());
        assert!(!run(Some("mystery"), None).is_in_flight());
    }

    #[test]
    fn completion_is_read_from_conclusion_when_status_is_missing() {
        assert!(run(None, Some("success")).succeeded());
        assert!(run(None, Some("cancelled")).completed_without_success());
        assert!(run(Some("completed"), None).completed_without_success());
        assert!(!run(Some("in_progress"), Some("success")).is_completed());
    }
}
