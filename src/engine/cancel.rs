//! Cancel: stops a running plan, or an apply or destroy that has not started yet, through
//! GitHub's "cancel a workflow run". GitHub is asked first, so a run that started or ended in
//! the meantime is not cancelled on the document's word.

use serde_json::json;

use super::guard::{Finish, Held, PendingEvent, locked};
use super::{Engine, EngineError, OpOutcome, repo_of};
use crate::domain::operation::{Operation, cancellable_run};
use crate::domain::{Request, RunKind, RunStatus};
use crate::github::GitHubError;

impl Engine {
    pub async fn cancel(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Cancel, key, cancel_locked)
    }

    async fn cancel_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let Some((kind, known)) = cancellable_run(&request) else {
            return Err(EngineError::denied("nothing to cancel"));
        };
        let run_id = known
            .id
            .ok_or_else(|| EngineError::denied("the run's id is not known yet; sync it"))?;
        let mut now_on_github = self.github.get_run_current(&repo, run_id).await?.to_fact();
        if now_on_github.is_completed() {
            self.fold_run(held, &request.id, kind, now_on_github.clone())
                .await?;
            return Err(EngineError::conflict(format!(
                "{} run {run_id} already completed ({}); nothing was cancelled",
                kind.name(),
                now_on_github.describe()
            )));
        }
        if kind != RunKind::Plan && now_on_github.status == Some(RunStatus::InProgress) {
            self.fold_run(held, &request.id, kind, now_on_github.clone())
                .await?;
            return Err(EngineError::conflict(format!(
                "{} run {run_id} started meanwhile: stopping Terraform half way could leave its state half written; nothing was cancelled",
                kind.name()
            )));
        }
        match self.github.cancel_run(&repo, run_id).await {
            Ok(()) => {}
            // It completed between the read and the cancel.
            Err(GitHubError::Conflict { message, .. }) => {
                now_on_github = self.github.get_run_current(&repo, run_id).await?.to_fact();
                self.fold_run(held, &request.id, kind, now_on_github)
                    .await?;
                return Err(EngineError::conflict(format!(
                    "GitHub refused to cancel {} run {run_id}: {message}",
                    kind.name()
                )));
            }
            Err(error) => return Err(error.into()),
        }
        // GitHub stops a run within seconds; the document says what it says now, and sync
        // records the conclusion once it is there.
        let mut after = self.github.get_run_current(&repo, run_id).await?.to_fact();
        if kind != RunKind::Plan {
            after.cancelled_before_start_by = Some(self.actor.clone());
        }
        self.fold_run(held, &request.id, kind, after).await?;
        Ok(Finish {
            message: format!("cancelled {} run {run_id}", kind.name()),
            events: vec![
                PendingEvent::new(
                    "run_cancelled",
                    format!("{} run {run_id} cancelled", kind.name()),
                )
                .with_data(json!({"run": kind.name(), "run_id": run_id})),
            ],
        })
    }
}
