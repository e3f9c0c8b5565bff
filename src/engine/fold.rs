//! Folding what one sync observed on GitHub into the request document: pure, so every rule
//! of how facts land (a run that is not the recorded one is left alone, an apply of another
//! commit is rejected, an approval GitHub does not back is removed) is tested without I/O.

use serde_json::json;

use super::guard::PendingEvent;
use super::runs::{dispatch_key, recovered_dispatch};
use super::sync::Observed;
use crate::domain::cost;
use crate::domain::operation::dispatch_pending;
use crate::domain::request::{Approval, Contradiction, DriftFact};
use crate::domain::{Request, RunFact, RunKind, Timestamp, derive_status};

/// The same run: by id, or by dispatch id while the id is not known yet.
fn same_run(known: &RunFact, seen: &RunFact) -> bool {
    match known.id {
        Some(id) => seen.id == Some(id),
        None => known.dispatch_id.is_some() && known.dispatch_id == seen.dispatch_id,
    }
}

/// An event sync learned of, when it happened, and what tells it apart from another event of
/// the same kind at the same instant (the run it is about), so a replay writes it once.
pub(super) struct TimedEvent {
    pub at: Timestamp,
    pub event: PendingEvent,
    pub discriminator: String,
}

/// Folds what was observed into the document. Pure; returns what changed and the events to
/// write. Run it on the freshest document: an operation may have started a newer run of a
/// kind meanwhile, and a run that is no longer the one recorded is left alone.
pub(super) fn fold(
    request: &mut Request,
    observed: &Observed,
    now: Timestamp,
) -> (Vec<String>, Vec<TimedEvent>) {
    let mut changes = Vec::new();
    let mut events = Vec::new();
    if let Some(pr) = &observed.pr {
        let claimed_merge = request.merged_sha.clone();
        if let Some(claimed) = claimed_merge
            && observed.merge_commit_sha.as_deref() != Some(claimed.as_str())
        {
            let github = match &observed.merge_commit_sha {
                Some(sha) => format!("it was merged as {sha}"),
                None => format!(
                    "pull request #{} is {} and not merged",
                    pr.number.unwrap_or_default(),
                    pr.state.as_deref().unwrap_or("unknown")
                ),
            };
            contradict(
                request,
                format!("the document says it was merged as {claimed}"),
                github,
                now,
                &mut changes,
                &mut events,
            );
            request.merged_sha = observed.merge_commit_sha.clone();
        }
        let mut next = pr.clone();
        if let Some(old) = &request.pr {
            next.extra = old.extra.clone();
        }
        if request.pr.as_deref() != Some(&next) {
            changes.push(format!(
                "pull request: {} head {}",
                next.state.as_deref().unwrap_or("?"),
                short(next.head_sha.as_deref())
            ));
            request.pr = Some(Box::new(next));
        }
        if request.merged_sha.is_none()
            && let Some(sha) = &observed.merge_commit_sha
        {
            request.merged_sha = Some(sha.clone());
            changes.push(format!("merged as {}", short(Some(sha))));
        }
    }
    if let Some(pr) = &observed.cleanup_pr
        && request.cleanup_pr.as_deref() != Some(pr)
    {
        request.cleanup_pr = Some(Box::new(pr.clone()));
        changes.push("cleanup pull request updated".into());
    }
    fold_approval(request, observed, now, &mut changes, &mut events);
    for (kind, seen) in &observed.runs {
        let merged_sha = request.merged_sha.clone();
        let Some(known) = kind.of_mut(request).as_mut() else {
            continue;
        };
        if !same_run(known, seen) {
            continue;
        }
        let mut next = seen.clone();
        next.extra = known.extra.clone();
        if next.dispatched_by.is_none() {
            next.dispatched_by = known.dispatched_by.clone();
        }
        if next.cancelled_before_start_by.is_none() {
            next.cancelled_before_start_by = known.cancelled_before_start_by.clone();
        }
        if let Some(dispatch_id) = known.dispatch_id.as_deref()
            && dispatch_pending(known)
            && !known.dispatch_accepted
            && next.id.is_some()
        {
            // Its dispatcher stopped before GitHub's answer: nobody recorded the dispatch.
            events.push(TimedEvent {
                at: next.created_at.unwrap_or(now),
                event: recovered_dispatch(*kind, &next),
                discriminator: dispatch_key(dispatch_id),
            });
        }
        if *kind == RunKind::Apply
            && let (Some(head), Some(merged)) = (&seen.head_sha, &merged_sha)
            && head != merged
        {
            // Not the merged commit: the run is recorded but its outcome is not accepted.
            let reason = format!("runs {head}, not the merged commit {merged}");
            next.status = None;
            next.conclusion = None;
            next.extra.insert("rejected".into(), json!(reason));
            if known.extra.get("rejected").is_none() {
                events.push(TimedEvent {
                    at: now,
                    event: PendingEvent::new("apply_run_rejected", reason),
                    discriminator: format!("run-{}", seen.id.unwrap_or_default()),
                });
            }
        }
        if **known != next {
            let finished = next.is_completed() && !known.is_completed();
            changes.push(format!(
                "{} run {}: {}",
                kind.name(),
                next.id.unwrap_or_default(),
                next.describe()
            ));
            if finished {
                let (event_kind, message) = if next.succeeded() {
                    (
                        format!("{}_succeeded", kind.name()),
                        "succeeded".to_string(),
                    )
                } else if next.was_cancelled() {
                    (format!("{}_cancelled", kind.name()), next.describe())
                } else {
                    (format!("{}_failed", kind.name()), next.describe())
                };
                let at = next.updated_at.unwrap_or(now);
                let mut event = PendingEvent::new(&event_kind, message)
                    .with_data(json!({"run_id": next.id, "html_url": next.html_url}));
                // The conclusion is the dispatcher's, whoever syncs it.
                if let Some(login) = &next.dispatched_by {
                    event = event.by(login);
                }
                events.push(TimedEvent {
                    at,
                    event,
                    discriminator: format!("run-{}", next.id.unwrap_or_default()),
                });
            }
            **known = next;
        }
    }
    if let Some((run_id, plan)) = &observed.plan
        && request.plan_run.as_deref().and_then(|r| r.id) == Some(*run_id)
        && request.plan.as_deref() != Some(plan)
    {
        request.plan = Some(Box::new(plan.clone()));
        if let Some(summary) = plan.summary {
            changes.push(format!(
                "plan: {} to add, {} to change, {} to destroy",
                summary.add, summary.change, summary.destroy
            ));
        }
    }
    if let Some((run_id, cost)) = &observed.cost
        && request.plan_run.as_deref().and_then(|r| r.id) == Some(*run_id)
        && request.cost.as_deref() != Some(cost)
    {
        request.cost = Some(Box::new(cost.clone()));
        changes.push(format!("cost: {}", cost::describe(Some(cost))));
    }
    if let Some((run_id, policy)) = &observed.policy
        && request.plan_run.as_deref().and_then(|r| r.id) == Some(*run_id)
        && request.policy.as_deref() != Some(policy)
    {
        request.policy = Some(Box::new(policy.clone()));
        changes.push(format!("policy: {}", policy.describe()));
    }
    if let Some((run_id, drift)) = &observed.drift
        && request.drift_run.as_deref().and_then(|r| r.id) == Some(*run_id)
        && request.drift.as_deref().and_then(|d| d.run_id) != Some(*run_id)
    {
        let state = drift.state.clone().unwrap_or_default();
        let was_drifted = request.drift.as_deref().is_some_and(DriftFact::is_drifted);
        // Transitions are what people are told about; every other result is still audited.
        let (kind, message) = match (state.as_str(), was_drifted) {
            ("drifted", false) => (
                "drift_detected",
                format!(
                    "drift check run {run_id} found changes made outside Terraform: {}",
                    drift.resources.join(", ")
                ),
            ),
            ("clean", true) => (
                "drift_cleared",
                format!("drift check run {run_id}: no drift any more"),
            ),
            _ => (
                "drift_checked",
                format!("drift check run {run_id}: {state}"),
            ),
        };
        events.push(TimedEvent {
            at: drift.checked_at.unwrap_or(now),
            event: PendingEvent::new(kind, message).with_data(json!({
                "run_id": run_id,
                "state": state,
                "resources": drift.resources,
            })),
            discriminator: format!("run-{run_id}"),
        });
        request.drift = Some(Box::new(drift.clone().following(request.drift.as_deref())));
        changes.push(format!("drift: {state}"));
    }
    let status = derive_status(request);
    if !changes.is_empty() || request.status.as_deref() != Some(status.as_str()) {
        if request.status.as_deref() != Some(status.as_str()) {
            changes.push(format!("status: {}", status.as_str()));
            request.status = Some(status.as_str().to_string());
        }
        request.status_derived_at = Some(now);
    }
    (changes, events)
}

/// An approval holds for one head: a new head withdraws it; an approving GitHub review of the
/// current head by someone allowed to approve counts as one.
fn fold_approval(
    request: &mut Request,
    observed: &Observed,
    now: Timestamp,
    changes: &mut Vec<String>,
    events: &mut Vec<TimedEvent>,
) {
    let Some(head) = request.pr.as_deref().and_then(|pr| pr.head_sha.clone()) else {
        return;
    };
    if request.pr.as_deref().is_some_and(|pr| pr.merged) {
        return;
    }
    if let Some(approval) = request.approval.as_deref_mut()
        && approval.approved
        && approval.head_sha.as_deref().is_some_and(|sha| sha != head)
    {
        approval.approved = false;
        changes.push("approval withdrawn: the branch has a new head".into());
    }
    let approved_here = request
        .approval
        .as_ref()
        .is_some_and(|a| a.approved && a.head_sha.as_deref() == Some(head.as_str()));
    let plan_at_head = request
        .plan_run
        .as_ref()
        .is_some_and(|run| run.succeeded() && run.head_sha.as_deref() == Some(head.as_str()));
    let Some(approvers) = observed.approvals_at_head.clone() else {
        return;
    };
    if approved_here {
        if approvers.is_empty() {
            let claimed = request
                .approval
                .as_deref()
                .map(|a| a.approvers.join(", "))
                .unwrap_or_default();
            contradict(
                request,
                format!("the document says {claimed} approved {head}"),
                format!(
                    "no review of {head} approves it by someone config/policy.json lets approve this request"
                ),
                now,
                changes,
                events,
            );
            request.approval = None;
        }
        return;
    }
    if !plan_at_head {
        return;
    }
    if !approvers.is_empty() {
        changes.push(format!("approved on GitHub by {}", approvers.join(", ")));
        request.approval = Some(Box::new(Approval {
            approved: true,
            approvers,
            at: Some(now),
            head_sha: Some(head),
            ..Approval::default()
        }));
    }
}

/// Records that the document claimed what GitHub contradicts; the caller repairs the claim.
fn contradict(
    request: &mut Request,
    claim: String,
    github: String,
    now: Timestamp,
    changes: &mut Vec<String>,
    events: &mut Vec<TimedEvent>,
) {
    changes.push(format!(
        "document contradicted GitHub: {claim}, but GitHub says {github}"
    ));
    events.push(TimedEvent {
        at: now,
        event: PendingEvent::new("document_contradicted", format!("{claim}; {github}"))
            .with_data(json!({"operation": "sync", "claim": claim, "github": github})),
        discriminator: "sync-check".to_string(),
    });
    request.contradiction = Some(Box::new(Contradiction {
        at: now,
        claim,
        github,
    }));
}

/// The first 7 characters of a sha (documents are data: never slice them by bytes).
fn short(sha: Option<&str>) -> String {
    sha.map_or_else(|| "?".to_string(), |s| s.chars().take(7).collect())
}
