//! Withdraw: takes back a request that was never applied. Its pull request is closed unmerged,
//! a plan still running is cancelled, its branch is deleted, and who withdrew it and why is
//! recorded; with the pull request closed the request derives `withdrawn`.
//!
//! GitHub is asked first: a pull request merged meanwhile is not "withdrawn" on the document's
//! word (refused, recorded and repaired), one that is not this request's is never closed, and
//! the only branch deleted is `tfpilot/<id>`, named from the id rather than from the document.

use serde_json::json;

use super::guard::{Finish, Held, PendingEvent, locked};
use super::verify::{Disagreement, github_subject};
use super::{Engine, EngineError, OpOutcome, repo_of};
use crate::domain::operation::{Operation, cancellable_run};
use crate::domain::request::{PullRequestFact, Withdrawal};
use crate::domain::{Request, RunKind};
use crate::github::{GitHubError, RepoId};

/// The longest reason kept; a reason is a sentence, not a document.
pub const MAX_REASON_CHARS: usize = 500;

impl Engine {
    pub async fn withdraw(
        &self,
        id: &str,
        reason: Option<&str>,
        key: Option<&str>,
    ) -> Result<OpOutcome, EngineError> {
        let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
        if let Some(reason) = reason
            && reason.chars().count() > MAX_REASON_CHARS
        {
            return Err(EngineError::Invalid {
                message: format!(
                    "the reason is {} characters; keep it to {MAX_REASON_CHARS}",
                    reason.chars().count()
                ),
            });
        }
        let reason = reason.map(str::to_string);
        locked!(self, id, Operation::Withdraw, key, withdraw_locked, reason)
    }

    async fn withdraw_locked(
        &self,
        held: &Held,
        request: Request,
        reason: Option<String>,
    ) -> Result<Finish, EngineError> {
        let branch = format!("tfpilot/{}", request.id);
        let mut closed = None;
        let mut cancelled = None;
        let mut branch_deleted = false;
        if request.target.is_some() {
            let (repo, _) = repo_of(&request)?;
            let pr_number = request.pr.as_deref().and_then(|pr| pr.number);
            if let Some(number) = pr_number {
                closed = Some(self.close_own_pull(held, &request, &repo, number).await?);
            }
            cancelled = self.cancel_running_plan(held, &request, &repo).await?;
            branch_deleted = self.github.delete_branch(&repo, &branch).await?;
        }
        // Values it stored for itself have nothing to configure any more. A failure here does
        // not undo the withdrawal: it is said, and the parameters are named.
        let secrets = match self.delete_own_secrets(&request).await {
            Ok(deleted) if deleted.is_empty() => String::new(),
            Ok(deleted) => format!("; deleted {}", deleted.join(", ")),
            Err(error) => {
                tracing::warn!(request = %request.id, %error, "could not delete a withdrawn request's secrets");
                format!("; its sensitive values were not deleted: {error}")
            }
        };
        let withdrawal = Withdrawal {
            by: self.actor.clone(),
            at: self.now(),
            reason: reason.clone(),
        };
        let pr_fact = closed.clone();
        self.persist(held, |r| {
            r.withdrawal = Some(Box::new(withdrawal.clone()));
            if let Some(fact) = &pr_fact {
                r.pr = Some(Box::new(fact.clone()));
            }
        })
        .await?;
        let number = closed.as_ref().and_then(|pr| pr.number);
        let mut done = Vec::new();
        if let Some(number) = number {
            done.push(format!("closed pull request #{number}"));
        }
        if let Some(run_id) = cancelled {
            done.push(format!("cancelled plan run {run_id}"));
        }
        if branch_deleted {
            done.push(format!("deleted branch {branch}"));
        }
        let summary = match done.is_empty() {
            true => format!("nothing was on GitHub yet{secrets}"),
            false => format!("{}{secrets}", done.join(", ")),
        };
        let because = reason
            .as_deref()
            .map(|reason| format!(" because {reason:?}"))
            .unwrap_or_default();
        Ok(Finish {
            message: format!("withdrew {}{because}: {summary}", request.id),
            events: vec![
                PendingEvent::new(
                    "request_withdrawn",
                    format!("withdrawn{because}: {summary}"),
                )
                .with_data(json!({
                    "reason": reason,
                    "pr": number,
                    "plan_run_cancelled": cancelled,
                    "branch": branch,
                    "branch_deleted": branch_deleted,
                })),
            ],
        })
    }

    /// Closes pull request `number` once GitHub shows it is this request's and not merged, and
    /// the policy lets this actor withdraw what GitHub says its author asked for.
    async fn close_own_pull(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
        number: u64,
    ) -> Result<PullRequestFact, EngineError> {
        let pull = self.github.get_pull_current(repo, number).await?;
        let branch = format!("tfpilot/{}", request.id);
        if pull.head.name != branch {
            let disagreement = Disagreement {
                operation: Operation::Withdraw,
                claim: format!("the document says pull request #{number} is this request's"),
                github: format!("#{number} is the pull request of branch {}", pull.head.name),
                data: json!({"pr": number, "github_head_branch": pull.head.name}),
            };
            return Err(self
                .contradicted(held, request, disagreement, |r| r.pr = None)
                .await);
        }
        if pull.is_merged() {
            let fact = pull.to_fact();
            let sha = pull.merge_commit_sha.clone();
            let disagreement = Disagreement {
                operation: Operation::Withdraw,
                claim: format!("the document says pull request #{number} is not merged"),
                github: format!(
                    "it was merged as {}; apply it, then destroy it to take it back",
                    sha.as_deref().unwrap_or("an unknown commit")
                ),
                data: json!({"pr": number, "github_merged_sha": sha}),
            };
            return Err(self
                .contradicted(held, request, disagreement, |r| {
                    r.pr = Some(Box::new(fact.clone()));
                    r.merged_sha = sha.clone();
                })
                .await);
        }
        self.require(
            Operation::Withdraw,
            github_subject(&pull, &request.environment),
        )?;
        if pull.state.as_deref() != Some("open") {
            return Ok(pull.to_fact());
        }
        match self.github.close_pull(repo, number).await {
            Ok(closed) => Ok(closed.to_fact()),
            Err(error) => Err(error.into()),
        }
    }

    /// Stops the request's plan if it is still queued or running: a withdrawn request has
    /// nothing to plan. A plan that ended meanwhile is left as it ended.
    async fn cancel_running_plan(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
    ) -> Result<Option<u64>, EngineError> {
        let Some((RunKind::Plan, run)) = cancellable_run(request) else {
            return Ok(None);
        };
        let Some(run_id) = run.id else {
            return Ok(None);
        };
        match self.github.cancel_run(repo, run_id).await {
            Ok(()) => {}
            // It completed between the listing and the cancel: nothing to stop.
            Err(GitHubError::Conflict { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let after = self.github.get_run_current(repo, run_id).await?.to_fact();
        self.fold_run(held, &request.id, RunKind::Plan, after)
            .await?;
        Ok(Some(run_id))
    }
}
