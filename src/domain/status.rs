//! Lifecycle status: derived from facts by one pure, total function (docs/architecture.md,
//! "Status derivation").

use std::fmt;

use serde::{Deserialize, Serialize};

use super::request::Request;
use super::run::RunFact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    RequestCreated,
    Planning,
    PlanReady,
    Approved,
    Merged,
    Applying,
    Applied,
    Destroying,
    Destroyed,
    Failed,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::RequestCreated,
        Status::Planning,
        Status::PlanReady,
        Status::Approved,
        Status::Merged,
        Status::Applying,
        Status::Applied,
        Status::Destroying,
        Status::Destroyed,
        Status::Failed,
        Status::Withdrawn,
    ];

    /// The machine name, as in JSON output and `--status` filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::RequestCreated => "request_created",
            Status::Planning => "planning",
            Status::PlanReady => "plan_ready",
            Status::Approved => "approved",
            Status::Merged => "merged",
            Status::Applying => "applying",
            Status::Applied => "applied",
            Status::Destroying => "destroying",
            Status::Destroyed => "destroyed",
            Status::Failed => "failed",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// The human label.
    pub fn label(self) -> &'static str {
        match self {
            Status::RequestCreated => "Request created",
            Status::Planning => "Planning",
            Status::PlanReady => "Plan ready",
            Status::Approved => "Approved",
            Status::Merged => "Merged",
            Status::Applying => "Applying",
            Status::Applied => "Applied",
            Status::Destroying => "Destroying",
            Status::Destroyed => "Destroyed",
            Status::Failed => "Failed",
            Status::Withdrawn => "Withdrawn",
        }
    }

    /// A one-cell symbol for dense lists.
    pub fn symbol(self) -> char {
        match self {
            Status::RequestCreated => '○',
            Status::Planning => '◔',
            Status::PlanReady => '◑',
            Status::Approved => '◕',
            Status::Merged => '●',
            Status::Applying => '▶',
            Status::Applied => '✔',
            Status::Destroying => '▼',
            Status::Destroyed => '∅',
            Status::Failed => '✖',
            Status::Withdrawn => '⊘',
        }
    }

    /// No further change happens without a new action: polling stops.
    pub fn is_terminal(self) -> bool {
        self.is_final()
    }

    /// A GitHub run is expected to move soon: poll at the fast interval.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Planning | Status::Applying | Status::Destroying
        )
    }

    pub fn parse(text: &str) -> Option<Status> {
        let wanted = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == wanted)
    }

    /// Nothing more happens on its own: applied, destroyed, failed, withdrawn.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Applied | Status::Destroyed | Status::Failed | Status::Withdrawn
        )
    }

    /// What moves a request in this status forward, for `explain`.
    pub fn next_step(self) -> &'static str {
        match self {
            Status::RequestCreated => "open the pull request and dispatch a plan run",
            Status::Planning => "wait for the plan run to finish (sync picks up its result)",
            Status::PlanReady => {
                "review the plan; an approver other than the requester approves it"
            }
            Status::Approved => "merge the pull request with the planned head sha",
            Status::Merged => "dispatch the apply run on the merged sha",
            Status::Applying => "wait for the apply run to finish (sync picks up its result)",
            Status::Applied => {
                "nothing: applied is terminal; a destroy or a new request starts again"
            }
            Status::Destroying => "wait for the destroy run to finish (sync picks up its result)",
            Status::Destroyed => "nothing: destroyed is terminal",
            Status::Failed => {
                "read the failed run's log, fix the cause, then re-run the failed step (plan, apply or destroy)"
            }
            Status::Withdrawn => {
                "nothing: withdrawn is terminal (its pull request is closed, nothing was applied); a new request starts again"
            }
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The derivation rules, in priority order: the first that matches decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Withdrawn,
    DestroyInFlight,
    DestroySucceeded,
    DestroyFailed,
    ApplyFailed,
    PlanFailed,
    ApplyInFlight,
    ApplySucceeded,
    Merged,
    Approved,
    PlanSucceeded,
    PlanInFlightOrPrOpen,
    NothingYet,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::Withdrawn,
        Rule::DestroyInFlight,
        Rule::DestroySucceeded,
        Rule::DestroyFailed,
        Rule::ApplyFailed,
        Rule::PlanFailed,
        Rule::ApplyInFlight,
        Rule::ApplySucceeded,
        Rule::Merged,
        Rule::Approved,
        Rule::PlanSucceeded,
        Rule::PlanInFlightOrPrOpen,
        Rule::NothingYet,
    ];

    /// 1-based position in the priority order (docs/architecture.md, "Status derivation").
    pub fn number(self) -> u8 {
        // The discriminants follow declaration order, which is the priority order.
        self as u8 + 1
    }

    pub fn status(self) -> Status {
        match self {
            Rule::Withdrawn => Status::Withdrawn,
            Rule::DestroyInFlight => Status::Destroying,
            Rule::DestroySucceeded => Status::Destroyed,
            Rule::DestroyFailed | Rule::ApplyFailed | Rule::PlanFailed => Status::Failed,
            Rule::ApplyInFlight => Status::Applying,
            Rule::ApplySucceeded => Status::Applied,
            Rule::Merged => Status::Merged,
            Rule::Approved => Status::Approved,
            Rule::PlanSucceeded => Status::PlanReady,
            Rule::PlanInFlightOrPrOpen => Status::Planning,
            Rule::NothingYet => Status::RequestCreated,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Rule::Withdrawn => {
                "withdrawal is recorded, the pull request is not open and nothing was merged"
            }
            Rule::DestroyInFlight => "destroy run is queued or in progress",
            Rule::DestroySucceeded => "destroy run completed with success",
            Rule::DestroyFailed => "destroy run completed without success",
            Rule::ApplyFailed => "apply run completed without success",
            Rule::PlanFailed => "plan run completed without success",
            Rule::ApplyInFlight => "apply run is queued or in progress",
            Rule::ApplySucceeded => "apply run completed with success",
            Rule::Merged => "pull request is merged or a merged sha is recorded",
            Rule::Approved => "approval is recorded",
            Rule::PlanSucceeded => "plan run completed with success",
            Rule::PlanInFlightOrPrOpen => {
                "plan run is queued or in progress, or the pull request is open"
            }
            Rule::NothingYet => "no run, pull request or approval yet",
        }
    }
}

/// One fact a rule looked at, as `name = value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub name: &'static str,
    pub value: String,
}

/// The derived status with the rule that decided it and the facts that rule used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Derivation {
    pub status: Status,
    pub rule: Rule,
    pub facts: Vec<Fact>,
}

/// Derives the lifecycle status. Total: every document gets exactly one status.
pub fn derive_status(request: &Request) -> Status {
    derive(request).status
}

/// Derives the status and explains it.
pub fn derive(request: &Request) -> Derivation {
    let rule = Rule::ALL
        .into_iter()
        .find(|rule| matches(*rule, request))
        .unwrap_or(Rule::NothingYet);
    Derivation {
        status: rule.status(),
        rule,
        facts: facts_for(rule, request),
    }
}

fn run_is(run: &Option<Box<RunFact>>, predicate: fn(&RunFact) -> bool) -> bool {
    run.as_deref().is_some_and(predicate)
}

/// An apply or destroy tfpilot cancelled before it started counts as no run: it changed
/// nothing, so the request is where it was (merged, or applied) and the step can run again. One
/// cancelled on GitHub may have stopped half way: it counts as failed, as a cancelled plan does.
fn counted(run: &Option<Box<RunFact>>) -> &Option<Box<RunFact>> {
    const NONE: &Option<Box<RunFact>> = &None;
    if run.as_deref().is_some_and(RunFact::cancelled_unstarted) {
        NONE
    } else {
        run
    }
}

fn matches(rule: Rule, r: &Request) -> bool {
    match rule {
        Rule::Withdrawn => {
            r.withdrawal.is_some()
                && !r.pr.as_deref().is_some_and(|pr| pr.is_open() || pr.merged)
                && r.merged_sha.is_none()
                && r.apply_run.is_none()
        }
        Rule::DestroyInFlight => run_is(&r.destroy_run, RunFact::is_in_flight),
        Rule::DestroySucceeded => run_is(&r.destroy_run, RunFact::succeeded),
        Rule::DestroyFailed => run_is(counted(&r.destroy_run), RunFact::completed_without_success),
        Rule::ApplyFailed => run_is(counted(&r.apply_run), RunFact::completed_without_success),
        Rule::PlanFailed => run_is(&r.plan_run, RunFact::completed_without_success),
        Rule::ApplyInFlight => run_is(&r.apply_run, RunFact::is_in_flight),
        Rule::ApplySucceeded => run_is(&r.apply_run, RunFact::succeeded),
        Rule::Merged => r.pr.as_deref().is_some_and(|pr| pr.merged) || r.merged_sha.is_some(),
        Rule::Approved => r.approval.as_deref().is_some_and(|a| a.approved),
        Rule::PlanSucceeded => run_is(&r.plan_run, RunFact::succeeded),
        Rule::PlanInFlightOrPrOpen => {
            run_is(&r.plan_run, RunFact::is_in_flight)
                || r.pr.as_deref().is_some_and(|pr| pr.is_open())
        }
        Rule::NothingYet => true,
    }
}

fn run_fact(name: &'static str, run: &Option<Box<RunFact>>) -> Fact {
    let value = match run {
        None => "none".to_string(),
        Some(run) => match run.id {
            Some(id) => format!("{} (run {id})", run.describe()),
            None => run.describe(),
        },
    };
    Fact { name, value }
}

fn facts_for(rule: Rule, r: &Request) -> Vec<Fact> {
    match rule {
        Rule::Withdrawn => {
            let withdrawal = r.withdrawal.as_deref();
            vec![
                Fact {
                    name: "withdrawal.by",
                    value: withdrawal.map(|w| w.by.clone()).unwrap_or_default(),
                },
                Fact {
                    name: "withdrawal.reason",
                    value: withdrawal
                        .and_then(|w| w.reason.clone())
                        .unwrap_or_else(|| "none given".into()),
                },
                Fact {
                    name: "pr.state",
                    value: r
                        .pr
                        .as_ref()
                        .and_then(|pr| pr.state.clone())
                        .unwrap_or_else(|| "none".into()),
                },
            ]
        }
        Rule::DestroyInFlight | Rule::DestroySucceeded | Rule::DestroyFailed => {
            vec![run_fact("destroy_run", &r.destroy_run)]
        }
        Rule::ApplyFailed | Rule::ApplyInFlight | Rule::ApplySucceeded => {
            vec![run_fact("apply_run", &r.apply_run)]
        }
        Rule::PlanFailed | Rule::PlanSucceeded => vec![run_fact("plan_run", &r.plan_run)],
        Rule::Merged => vec![
            Fact {
                name: "pr.merged",
                value: r.pr.as_deref().is_some_and(|pr| pr.merged).to_string(),
            },
            Fact {
                name: "merged_sha",
                value: r.merged_sha.clone().unwrap_or_else(|| "none".into()),
            },
        ],
        Rule::Approved => {
            let approvers = r
                .approval
                .as_ref()
                .map(|a| a.approvers.join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unnamed".into());
            vec![
                Fact {
                    name: "approval.approved",
                    value: "true".into(),
                },
                Fact {
                    name: "approval.approvers",
                    value: approvers,
                },
            ]
        }
        Rule::PlanInFlightOrPrOpen | Rule::NothingYet => vec![
            run_fact("plan_run", &r.plan_run),
            Fact {
                name: "pr.state",
                value: r
                    .pr
                    .as_ref()
                    .and_then(|pr| pr.state.clone())
                    .unwrap_or_else(|| "none".into()),
            },
        ],
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
