//! The mutating operations and whether a request is ready for each: pure checks on the
//! document's facts, asked after the access decision and again under the lock.

use serde::{Deserialize, Serialize};

use super::request::Request;
use super::run::{RunFact, RunStatus};
use super::run_kind::RunKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Plan,
    Approve,
    Merge,
    Apply,
    Destroy,
    Cleanup,
    DriftCheck,
    /// Approve the deployment a waiting apply or destroy run is held for.
    ApproveDeployment,
    /// Reject it: GitHub fails the run.
    RejectDeployment,
    /// Cancel a running plan, or an apply or destroy that has not started.
    Cancel,
    /// Take back a request that was never applied: close its pull request unmerged, delete its
    /// branch, record who and why.
    Withdraw,
    /// Open a change request that edits an applied request's block in place.
    Change,
    /// Let the latest plan through the team's policies' deny, with a reason (admins).
    OverridePolicy,
}

impl Operation {
    /// The name used in documents, events, idempotency entries and locks.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Plan => "plan",
            Operation::Approve => "approve",
            Operation::Merge => "merge",
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
            Operation::Cleanup => "cleanup",
            Operation::DriftCheck => "drift_check",
            Operation::ApproveDeployment => "approve_deployment",
            Operation::RejectDeployment => "reject_deployment",
            Operation::Cancel => "cancel",
            Operation::Withdraw => "withdraw",
            Operation::Change => "change",
            Operation::OverridePolicy => "override_policy",
        }
    }

    /// The word for messages ("cannot drift-check this request").
    pub fn verb(self) -> &'static str {
        match self {
            Operation::DriftCheck => "drift-check",
            Operation::ApproveDeployment => "approve the deployment",
            Operation::RejectDeployment => "reject the deployment",
            Operation::OverridePolicy => "override the policy deny",
            other => other.as_str(),
        }
    }

    /// Changes GitHub or infrastructure in a way that cannot be taken back by running another
    /// operation: the dashboard asks first, and the CLI asks (or wants `--yes`).
    pub fn needs_confirmation(self) -> bool {
        matches!(
            self,
            Operation::Merge
                | Operation::Apply
                | Operation::Destroy
                | Operation::Cleanup
                | Operation::ApproveDeployment
                | Operation::RejectDeployment
                | Operation::Cancel
                | Operation::Withdraw
                | Operation::OverridePolicy
        )
    }

    /// Takes a line of text from the person (a deployment review's comment, a withdrawal's
    /// reason): the dashboard's confirmation asks for it, the CLI takes a flag.
    pub fn takes_comment(self) -> bool {
        self.verdict().is_some() || matches!(self, Operation::Withdraw | Operation::OverridePolicy)
    }

    /// The decision on a deployment review this operation makes, if it is one.
    pub fn verdict(self) -> Option<super::deployment::Verdict> {
        match self {
            Operation::ApproveDeployment => Some(super::deployment::Verdict::Approve),
            Operation::RejectDeployment => Some(super::deployment::Verdict::Reject),
            _ => None,
        }
    }

    /// Deletes what the request built: in a production environment the confirmation is the
    /// request id typed out, not a key.
    pub fn is_destructive(self) -> bool {
        self == Operation::Destroy
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a request's facts allow an operation now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "readiness", content = "reason", rename_all = "snake_case")]
pub enum Readiness {
    Ready,
    /// What the operation would achieve already holds (or is under way): nothing to do.
    AlreadyDone(String),
    /// The lifecycle does not allow it yet (or any more); the reason says why and what to do.
    NotReady(String),
}

fn run_label(run: &RunFact) -> String {
    match (run.id, &run.html_url) {
        (_, Some(url)) => url.clone(),
        (Some(id), None) => format!("run {id}"),
        (None, None) => "a run whose dispatch is being confirmed".to_string(),
    }
}

/// A dispatch was recorded but its run is not known yet (a crash, or GitHub not listing it
/// yet): the operation must look for that run rather than dispatch again.
pub fn dispatch_pending(run: &RunFact) -> bool {
    run.id.is_none() && run.dispatch_id.is_some() && run.status.is_none()
}

/// A run that is known and has not finished. A dispatch still pending confirmation is not:
/// the lock keeps two operations from confirming it at once, so whoever holds the lock next
/// resumes it (finds the run by its dispatch id, or dispatches it after all).
fn underway(run: &RunFact) -> bool {
    !is_rejected(run) && (run.is_in_flight() || (run.id.is_some() && run.status.is_none()))
}

/// The run a cancel would stop: a plan that is queued or running, or an apply or destroy that
/// has not started (queued, or waiting for a deployment review). An apply or destroy that runs is
/// not: stopping Terraform half way can leave its state half written. The run must be known to
/// GitHub (an id): a dispatch still being confirmed cannot be cancelled yet.
pub fn cancellable_run(request: &Request) -> Option<(RunKind, &RunFact)> {
    let known = |run: &&RunFact| run.id.is_some() && !is_rejected(run);
    if let Some(plan) = request
        .plan_run
        .as_deref()
        .filter(known)
        .filter(|run| run.is_in_flight())
    {
        return Some((RunKind::Plan, plan));
    }
    [RunKind::Destroy, RunKind::Apply]
        .into_iter()
        .find_map(|kind| {
            kind.of(request)
                .filter(known)
                .filter(|run| run.is_in_flight() && run.status != Some(RunStatus::InProgress))
                .map(|run| (kind, run))
        })
}

/// A run sync refused to accept (an apply of another commit): it counts for nothing, so the
/// operation can be run again.
pub fn is_rejected(run: &RunFact) -> bool {
    run.extra.contains_key("rejected")
}

fn is_merged(request: &Request) -> bool {
    request.merged_sha.is_some() || request.pr.as_deref().is_some_and(|pr| pr.merged)
}

fn pr_head(request: &Request) -> Option<&str> {
    request.pr.as_deref().and_then(|pr| pr.head_sha.as_deref())
}

/// Approval given for exactly the head the PR has now.
pub fn approved_at_head(request: &Request) -> bool {
    match (&request.approval, pr_head(request)) {
        (Some(approval), Some(head)) => {
            approval.approved && approval.head_sha.as_deref() == Some(head)
        }
        _ => false,
    }
}

/// The plan run succeeded on the PR's current head.
pub fn plan_ready_at_head(request: &Request) -> bool {
    match (&request.plan_run, pr_head(request)) {
        (Some(run), Some(head)) => run.succeeded() && run.head_sha.as_deref() == Some(head),
        _ => false,
    }
}

pub fn readiness(operation: Operation, request: &Request) -> Readiness {
    use Readiness::{AlreadyDone, NotReady, Ready};
    if let Some(original) = request.changes.as_deref()
        && matches!(
            operation,
            Operation::Destroy | Operation::Cleanup | Operation::DriftCheck | Operation::Change
        )
    {
        return NotReady(format!(
            "{} is a change of {original}: the resources are {original}'s; {} {original} instead",
            request.id,
            operation.verb()
        ));
    }
    let open_pr = request.pr.as_deref().is_some_and(|pr| pr.is_open());
    match operation {
        Operation::Create => Ready,
        Operation::Update | Operation::Plan => {
            if is_merged(request) {
                let what = match operation {
                    Operation::Update => "an update",
                    _ => "a plan",
                };
                return NotReady(format!(
                    "already merged; {what} of the branch changes nothing now (once applied, `tfpilot change {}` opens a change request)",
                    request.id
                ));
            }
            if request.pr.is_none() {
                return NotReady(
                    "the request has no pull request yet; run the create again with its idempotency key to finish it".into(),
                );
            }
            if !open_pr {
                return NotReady("its pull request was closed without merging".into());
            }
            match &request.plan_run {
                Some(run) if operation == Operation::Plan && underway(run) => {
                    AlreadyDone(format!("a plan is already running: {}", run_label(run)))
                }
                _ => Ready,
            }
        }
        Operation::Approve => {
            if is_merged(request) {
                return AlreadyDone("already merged".into());
            }
            if approved_at_head(request) {
                let by = request
                    .approval
                    .as_ref()
                    .map(|a| a.approvers.join(", "))
                    .unwrap_or_default();
                return AlreadyDone(format!("already approved by {by} at this head"));
            }
            if !open_pr {
                return NotReady("there is no open pull request to approve".into());
            }
            if plan_ready_at_head(request) {
                Ready
            } else {
                NotReady(plan_not_ready(request))
            }
        }
        Operation::Merge => {
            if is_merged(request) {
                let sha = request.merged_sha.as_deref().unwrap_or("its head");
                return AlreadyDone(format!("already merged at {sha}"));
            }
            if !open_pr {
                return NotReady("there is no open pull request to merge".into());
            }
            if approved_at_head(request) {
                Ready
            } else if request.approval.as_deref().is_some_and(|a| a.approved) {
                NotReady(
                    "the approval was for an earlier head; plan again and get a new approval"
                        .into(),
                )
            } else {
                NotReady("needs an approval of the current plan first".into())
            }
        }
        Operation::Apply => {
            if request.destroy_run.is_some() {
                return NotReady("the request is being or was destroyed".into());
            }
            if request.merged_sha.is_none() {
                return NotReady(if is_merged(request) {
                    "merged, but the merge commit is not known yet; sync it first".into()
                } else {
                    "not merged yet: approve and merge first".into()
                });
            }
            match &request.apply_run {
                Some(run) if underway(run) => {
                    AlreadyDone(format!("an apply is already running: {}", run_label(run)))
                }
                Some(run) if run.succeeded() => AlreadyDone("already applied".into()),
                _ => Ready,
            }
        }
        Operation::Destroy => match can_destroy(request) {
            Ok(_) => Ready,
            Err(refusal) => refusal,
        },
        Operation::Cleanup => {
            // Done once the PR is open and its state check reached GitHub. A cleanup interrupted
            // before that (no run, or a dispatch GitHub never confirmed) resumes; a check that
            // failed runs again.
            if let (Some(pr), Some(run)) = (&request.cleanup_pr, request.cleanup_run.as_deref()) {
                let number = pr.number.map(|n| format!(" #{n}")).unwrap_or_default();
                if underway(run) {
                    return AlreadyDone(format!(
                        "cleanup pull request{number} already opened; its state check is running: {}",
                        run_label(run)
                    ));
                }
                if run.succeeded() {
                    return AlreadyDone(format!(
                        "cleanup pull request{number} already opened; its state check passed"
                    ));
                }
            }
            match &request.destroy_run {
                Some(run) if run.succeeded() => Ready,
                Some(_) => NotReady("the destroy has not succeeded yet".into()),
                None => NotReady("destroy the request's resources first".into()),
            }
        }
        Operation::ApproveDeployment | Operation::RejectDeployment => {
            match super::deployment::waiting_run(request) {
                Some(_) => Ready,
                None => NotReady(
                    "no apply or destroy run of this request waits for a deployment review".into(),
                ),
            }
        }
        Operation::Cancel => {
            if cancellable_run(request).is_some() {
                return Ready;
            }
            let started = [RunKind::Apply, RunKind::Destroy].into_iter().find(|kind| {
                kind.of(request)
                    .is_some_and(|run| run.status == Some(RunStatus::InProgress))
            });
            match started {
                Some(kind) => NotReady(format!(
                    "the {} is running: stopping Terraform half way could leave its state half written; wait for it to finish",
                    kind.name()
                )),
                None => NotReady(
                    "nothing to cancel: no plan is running and no apply or destroy waits to start"
                        .into(),
                ),
            }
        }
        Operation::Withdraw => withdraw_readiness(request),
        Operation::OverridePolicy => {
            use super::policy::{Verdict, current, current_override};
            match (
                current(request).and_then(|fact| fact.verdict),
                current_override(request),
            ) {
                (Some(Verdict::Deny), None) => Ready,
                (Some(Verdict::Deny), Some(record)) => AlreadyDone(format!(
                    "{} overrode the deny of this plan already: {}",
                    record.by, record.reason
                )),
                _ => NotReady(
                    "the team's policies do not deny the latest plan: nothing to override".into(),
                ),
            }
        }
        Operation::Change => {
            if drift_eligible(request) || request.drift_run.as_deref().is_some_and(underway) {
                Ready
            } else {
                NotReady(
                    "only an applied request that is not destroyed can be changed; a request not yet merged is edited with `update`".into(),
                )
            }
        }
        Operation::DriftCheck => {
            if let Some(run) = request.drift_run.as_deref().filter(|run| underway(run)) {
                return AlreadyDone(format!(
                    "a drift check is already running: {}",
                    run_label(run)
                ));
            }
            if drift_eligible(request) {
                Ready
            } else {
                NotReady("only applied requests that are not destroyed can be drift-checked".into())
            }
        }
    }
}

/// A request can be withdrawn until it is merged: after that its change is (or is about to be)
/// in the infrastructure, and destroy is the way back.
fn withdraw_readiness(request: &Request) -> Readiness {
    let open_pr = request.pr.as_deref().is_some_and(|pr| pr.is_open());
    if let Some(withdrawal) = request.withdrawal.as_deref()
        && !open_pr
        && !is_merged(request)
    {
        return Readiness::AlreadyDone(format!("already withdrawn by {}", withdrawal.by));
    }
    if request.apply_run.is_some() {
        return Readiness::NotReady(
            "it was applied (or an apply ran): destroy it instead of withdrawing it".into(),
        );
    }
    if is_merged(request) {
        return Readiness::NotReady(
            "already merged: its change goes in with the apply; apply it, then destroy it to take it back".into(),
        );
    }
    Readiness::Ready
}

fn plan_not_ready(request: &Request) -> String {
    match &request.plan_run {
        None => "no plan has run yet: plan first".into(),
        Some(run) if underway(run) => "the plan is still running; wait for it".into(),
        Some(run) if dispatch_pending(run) => {
            "the plan's dispatch is not confirmed yet; sync the request or plan again".into()
        }
        Some(run) if run.completed_without_success() => {
            format!("the plan failed ({}); fix and plan again", run.describe())
        }
        Some(_) => "the plan is for an earlier head of the branch; plan again".into(),
    }
}

/// Can this request be destroyed? `Ok` carries why it can.
pub fn can_destroy(request: &Request) -> Result<String, Readiness> {
    use Readiness::{AlreadyDone, NotReady};
    if let Some(run) = &request.destroy_run {
        if underway(run) {
            return Err(AlreadyDone(format!(
                "a destroy is already running: {}",
                run_label(run)
            )));
        }
        if run.succeeded() {
            return Err(AlreadyDone("already destroyed".into()));
        }
    }
    match &request.apply_run {
        None => Err(NotReady(
            "nothing to destroy: the request was never applied".into(),
        )),
        Some(run) if underway(run) => Err(NotReady(
            "an apply is running; wait for it to finish before destroying".into(),
        )),
        Some(run) if run.succeeded() => Ok(match &request.destroy_run {
            Some(failed) => format!(
                "applied; the last destroy failed ({}) and can be retried",
                failed.describe()
            ),
            None => "applied; its resources can be destroyed".into(),
        }),
        Some(run) => Ok(format!(
            "the apply failed ({}) and may have created some resources; destroy removes them",
            run.describe()
        )),
    }
}

/// Applied, still standing, and not being checked right now.
pub fn drift_eligible(request: &Request) -> bool {
    let applied = request.apply_run.as_deref().is_some_and(RunFact::succeeded);
    let checking = request.drift_run.as_deref().is_some_and(underway);
    applied && request.destroy_run.is_none() && !checking
}

/// The operations that move a request forward which `actor` could start on it right now: the
/// policy allows them, the facts are ready, and for a deployment review GitHub lists the actor
/// as a reviewer. What "waiting on me" means in the dashboard. `status` is the request's
/// derived status: it says which operation could be ready at all, so a settled request costs
/// no policy check (the dashboard asks this of every row it loads).
pub fn waiting_on(
    access: &super::access::AccessPolicy,
    actor: &str,
    request: &Request,
    status: super::Status,
) -> Vec<Operation> {
    use super::Status;
    let candidate = match status {
        Status::PlanReady => Operation::Approve,
        Status::Approved => Operation::Merge,
        Status::Merged | Status::Failed => Operation::Apply,
        Status::Applying | Status::Destroying => Operation::ApproveDeployment,
        _ => return Vec::new(),
    };
    [candidate]
        .into_iter()
        .filter(|operation| readiness(*operation, request) == Readiness::Ready)
        .filter(|operation| {
            access
                .authorize(actor, *operation, super::access::Subject::of(request))
                .is_allowed()
        })
        .filter(|operation| {
            *operation != Operation::ApproveDeployment
                || super::deployment::waiting_run(request)
                    .and_then(|(_, run)| run.deployment_review.as_ref())
                    .is_some_and(|review| review.reviewers.iter().any(|r| r == actor))
        })
        .collect()
}

#[cfg(test)]
#[path = "operation_tests.rs"]
mod tests;
