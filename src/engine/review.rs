//! Approve and merge: both bound to the head that was planned.

use serde_json::json;

use super::guard::{Finish, Held, PendingEvent, locked};
use super::verify::{MergeBasis, github_subject};
use super::{Engine, EngineError, OpOutcome, repo_of};
use crate::domain::Request;
use crate::domain::operation::Operation;
use crate::domain::request::Approval;
use crate::domain::review::APPROVAL_MARK;
use crate::github::{GitHubError, RepoId};

impl Engine {
    /// Records the approval of the planned head, and submits it as a GitHub review when the
    /// approver is not the PR's author (GitHub refuses an author's own approval).
    pub async fn approve(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Approve, key, approve_locked)
    }

    async fn approve_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let number = pr_number(&request)?;
        // The head comes from GitHub's plan run, not from the document.
        let planned = self
            .verify_planned(held, &request, &repo, Operation::Approve)
            .await?;
        let pull = self.github.get_pull_current(&repo, number).await?;
        // Self-approval is judged against the pull request's author on GitHub.
        self.require(
            Operation::Approve,
            github_subject(&pull, &request.environment),
        )?;
        if pull.head.sha != planned {
            let fact = pull.to_fact();
            self.persist(held, |r| r.pr = Some(Box::new(fact.clone())))
                .await?;
            return Err(EngineError::denied(format!(
                "the branch moved to {} after the plan of {planned}; plan again before approving",
                pull.head.sha
            )));
        }
        self.policy_gate(held, &request, &repo, Operation::Approve)
            .await?;
        let author = pull.user.as_ref().map(|u| u.login.as_str()).unwrap_or("");
        let body = format!("{APPROVAL_MARK} plan of {planned}.");
        let as_comment = "recorded on GitHub as a comment review (GitHub refuses an approving review from the pull request's author)";
        let review = if author.eq_ignore_ascii_case(&self.actor) {
            self.github
                .comment_review(&repo, number, &planned, &body)
                .await?;
            as_comment.to_string()
        } else {
            match self.github.approve(&repo, number, &planned, &body).await {
                Ok(_) => "submitted as a GitHub review".to_string(),
                Err(GitHubError::SelfApproval) => {
                    self.github
                        .comment_review(&repo, number, &planned, &body)
                        .await?;
                    as_comment.to_string()
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
        let basis = self.verify_approved(held, &request, &repo, number).await?;
        let (approved, approvers, merged_sha) = match basis {
            MergeBasis::MergedAlready { merge_sha } => {
                let head = request.approval.as_ref().and_then(|a| a.head_sha.clone());
                (head.unwrap_or_default(), Vec::new(), merge_sha)
            }
            MergeBasis::Approved { head, approvers } => {
                self.policy_gate(held, &request, &repo, Operation::Merge)
                    .await?;
                let merged = self.merge_at(&repo, number, &head).await?;
                (head, approvers, merged)
            }
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
                PendingEvent::new("pr_merged", format!("#{number} merged as {sha}")).with_data(
                    json!({"pr": number, "head_sha": approved, "merged_sha": sha, "approvers": approvers}),
                ),
            ],
        })
    }
}

impl Engine {
    /// Asks GitHub to merge exactly `head`; it refuses when the branch has moved on.
    async fn merge_at(
        &self,
        repo: &RepoId,
        number: u64,
        head: &str,
    ) -> Result<String, EngineError> {
        let method = self.settings.merge_method;
        match self.github.merge(repo, number, head, method).await {
            Ok(sha) => Ok(sha),
            Err(GitHubError::HeadChanged { .. }) => Err(EngineError::conflict(format!(
                "the branch moved after {head} was approved; GitHub refused the merge. Plan and approve again"
            ))),
            Err(error) => Err(error.into()),
        }
    }
}

fn pr_number(request: &Request) -> Result<u64, EngineError> {
    request
        .pr
        .as_ref()
        .and_then(|pr| pr.number)
        .ok_or_else(|| EngineError::denied("the request has no pull request"))
}
