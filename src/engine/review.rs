//! Approve and merge: both bound to the head that was planned.

use serde_json::json;

use super::guard::{Finish, Held, PendingEvent, locked};
use super::{Engine, EngineError, OpOutcome, repo_of};
use crate::domain::Request;
use crate::domain::operation::Operation;
use crate::domain::request::Approval;
use crate::github::GitHubError;

impl Engine {
    /// Records the approval of the planned head, and submits it as a GitHub review when the
    /// approver is not the PR's author (GitHub refuses an author's own approval).
    pub async fn approve(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Approve, key, approve_locked)
    }

    async fn approve_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let number = pr_number(&request)?;
        let planned = request
            .plan_run
            .as_ref()
            .and_then(|run| run.head_sha.clone())
            .unwrap_or_default();
        let pull = self.github.get_pull_current(&repo, number).await?;
        if pull.head.sha != planned {
            let fact = pull.to_fact();
            self.persist(held, |r| r.pr = Some(Box::new(fact.clone())))
                .await?;
            return Err(EngineError::denied(format!(
                "the branch moved to {} after the plan of {planned}; plan again before approving",
                pull.head.sha
            )));
        }
        let author = pull.user.as_ref().map(|u| u.login.as_str()).unwrap_or("");
        let review = if author.eq_ignore_ascii_case(&self.actor) {
            "not submitted on GitHub: the approver opened the pull request".to_string()
        } else {
            let body = format!("Approved in tfpilot: plan of {planned}.");
            match self.github.approve(&repo, number, &planned, &body).await {
                Ok(_) => "submitted as a GitHub review".to_string(),
                Err(GitHubError::SelfApproval) => {
                    "not submitted on GitHub: GitHub counts the approver as the author".to_string()
                }
                Err(error) => return Err(error.into()),
            }
        };
        let now = self.now();
        let actor = self.actor.clone();
        self.persist(held, |r| {
            let mut approvers = r
                .approval
                .as_ref()
                .filter(|a| a.head_sha.as_deref() == Some(planned.as_str()))
                .map(|a| a.approvers.clone())
                .unwrap_or_default();
            if !approvers.iter().any(|a| a.eq_ignore_ascii_case(&actor)) {
                approvers.push(actor.clone());
            }
            r.approval = Some(Box::new(Approval {
                approved: true,
                approvers,
                at: Some(now),
                head_sha: Some(planned.clone()),
                ..Approval::default()
            }));
        })
        .await?;
        Ok(Finish {
            message: format!("approved the plan of {planned}; {review}"),
            events: vec![
                PendingEvent::new("request_approved", format!("plan of {planned}; {review}"))
                    .with_data(json!({"head_sha": planned, "pr": number})),
            ],
        })
    }

    /// Merges the pull request at exactly the approved head.
    pub async fn merge(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Merge, key, merge_locked)
    }

    async fn merge_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let number = pr_number(&request)?;
        let approved = request
            .approval
            .as_ref()
            .and_then(|a| a.head_sha.clone())
            .unwrap_or_default();
        let merged_sha = match self
            .github
            .merge(&repo, number, &approved, self.settings.merge_method)
            .await
        {
            Ok(sha) => sha,
            Err(GitHubError::HeadChanged { .. }) => {
                return Err(EngineError::conflict(format!(
                    "the branch moved after {approved} was approved; GitHub refused the merge. Plan and approve again"
                )));
            }
            Err(error) => return Err(error.into()),
        };
        let pull = self.github.get_pull(&repo, number).await?;
        let mut fact = pull.to_fact();
        fact.merged = true;
        let sha = if merged_sha.is_empty() {
            pull.merge_commit_sha.clone().unwrap_or_default()
        } else {
            merged_sha
        };
        self.persist(held, |r| {
            r.pr = Some(Box::new(fact.clone()));
            r.merged_sha = Some(sha.clone());
        })
        .await?;
        Ok(Finish {
            message: format!("merged pull request #{number} as {sha}"),
            events: vec![
                PendingEvent::new("pr_merged", format!("#{number} merged as {sha}"))
                    .with_data(json!({"pr": number, "head_sha": approved, "merged_sha": sha})),
            ],
        })
    }
}

fn pr_number(request: &Request) -> Result<u64, EngineError> {
    request
        .pr
        .as_ref()
        .and_then(|pr| pr.number)
        .ok_or_else(|| EngineError::denied("the request has no pull request"))
}
