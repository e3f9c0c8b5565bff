//! Deployment reviews: approving or rejecting the environment review a waiting apply or
//! destroy run is held for. GitHub decides who may review (the environment's required
//! reviewers); tfpilot asks it first, so a refusal says who can, and records the decision.

use serde_json::json;

use super::guard::{Finish, Held, PendingEvent, locked};
use super::{Engine, EngineError, OpOutcome, repo_of};
use crate::domain::Request;
use crate::domain::deployment::{GATED_KINDS, Verdict, waiting_run};
use crate::domain::operation::Operation;
use crate::github::models::PendingDeployment;

impl Engine {
    /// Approves or rejects the deployment review the request's waiting run is held for.
    /// `comment` is recorded on GitHub and in the audit trail.
    pub async fn review_deployment(
        &self,
        id: &str,
        verdict: Verdict,
        comment: Option<&str>,
        key: Option<&str>,
    ) -> Result<OpOutcome, EngineError> {
        let operation = match verdict {
            Verdict::Approve => Operation::ApproveDeployment,
            Verdict::Reject => Operation::RejectDeployment,
        };
        self.catch_up_on_waiting(id).await;
        locked!(
            self,
            id,
            operation,
            key,
            review_deployment_locked,
            verdict,
            comment
        )
    }

    /// The document learns that a run waits only when it is synced: a run recorded as queued
    /// or in progress may wait by now, so it is synced before readiness is judged (and before a
    /// confirmation shows what waits).
    pub async fn catch_up_on_waiting(&self, id: &str) {
        let Ok(read) = self.store.get_request(id).await else {
            return; // `begin` reports what is wrong with the document.
        };
        let request = &read.value;
        let in_flight = GATED_KINDS
            .iter()
            .any(|kind| kind.of(request).is_some_and(|run| run.is_in_flight()));
        if waiting_run(request).is_none()
            && in_flight
            && let Err(error) = self.sync(id).await
        {
            tracing::warn!(request = id, %error, "syncing before a deployment review");
        }
    }

    async fn review_deployment_locked(
        &self,
        held: &Held,
        request: Request,
        verdict: Verdict,
        comment: Option<&str>,
    ) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let Some((kind, known)) = waiting_run(&request) else {
            return Err(EngineError::denied(
                "no apply or destroy run of this request waits for a deployment review",
            ));
        };
        let run_id = known
            .id
            .ok_or_else(|| EngineError::denied("the waiting run's id is not known yet; sync it"))?;
        let now_on_github = self.github.get_run_current(&repo, run_id).await?.to_fact();
        if !now_on_github.is_waiting() {
            self.fold_run(held, &request.id, kind, now_on_github.clone())
                .await?;
            return Err(EngineError::conflict(format!(
                "{} run {run_id} is {} on GitHub and no longer waits for a deployment review; nothing was sent",
                kind.name(),
                now_on_github.describe()
            )));
        }
        let pending = self.github.pending_deployments(&repo, run_id).await?;
        if pending.is_empty() {
            return Err(EngineError::denied(format!(
                "{} run {run_id} waits, but not for a reviewer (a wait timer or another protection rule holds it)",
                kind.name()
            )));
        }
        let mine: Vec<&PendingDeployment> = pending
            .iter()
            .filter(|deployment| deployment.current_user_can_approve)
            .collect();
        if mine.is_empty() {
            return Err(EngineError::denied(self.not_a_reviewer(
                &pending,
                kind.name(),
                run_id,
                now_on_github.dispatched_by.as_deref(),
            )));
        }
        let environment_ids: Vec<u64> = mine.iter().filter_map(|d| d.environment.id).collect();
        let environments = names(&mine);
        let comment = comment
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| verdict.default_comment(&self.actor));
        self.github
            .review_deployments(
                &repo,
                run_id,
                &environment_ids,
                verdict == Verdict::Approve,
                &comment,
            )
            .await?;
        let mut after = self.github.get_run_current(&repo, run_id).await?.to_fact();
        if after.is_waiting() {
            // Another environment still holds it.
            after.deployment_review = known.deployment_review.clone();
        }
        self.fold_run(held, &request.id, kind, after).await?;
        let done = match verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        };
        Ok(Finish {
            message: format!(
                "{done} the {environments} deployment of {} run {run_id}",
                kind.name()
            ),
            events: vec![
                PendingEvent::new(
                    verdict.event(),
                    format!(
                        "{environments} deployment of {} run {run_id}: {comment}",
                        kind.name()
                    ),
                )
                .with_data(json!({
                    "run": kind.name(),
                    "run_id": run_id,
                    "environments": mine.iter().filter_map(|d| d.environment.name.clone()).collect::<Vec<_>>(),
                    "comment": comment,
                })),
            ],
        })
    }

    fn not_a_reviewer(
        &self,
        pending: &[PendingDeployment],
        run: &str,
        run_id: u64,
        dispatched_by: Option<&str>,
    ) -> String {
        let all: Vec<&PendingDeployment> = pending.iter().collect();
        let reviewers: Vec<String> = pending
            .iter()
            .flat_map(|d| d.reviewers.iter().filter_map(|r| r.name()))
            .collect();
        let listed = reviewers
            .iter()
            .any(|login| login.eq_ignore_ascii_case(&self.actor));
        let why = if listed && dispatched_by.is_some_and(|by| by.eq_ignore_ascii_case(&self.actor))
        {
            format!(
                "{} started the run, and the environment prevents self-review: another reviewer must",
                self.actor
            )
        } else {
            format!("{} is not one of its required reviewers", self.actor)
        };
        format!(
            "GitHub does not let {} review the {} deployment of {run} run {run_id}: {why} ({})",
            self.actor,
            names(&all),
            if reviewers.is_empty() {
                "GitHub lists no reviewers".to_string()
            } else {
                format!("reviewers: {}", reviewers.join(", "))
            }
        )
    }
}

fn names(deployments: &[&PendingDeployment]) -> String {
    let names: Vec<&str> = deployments
        .iter()
        .map(|d| d.environment.name.as_deref().unwrap_or("?"))
        .collect();
    names.join(", ")
}
