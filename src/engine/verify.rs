//! The checks right before an operation acts. A request document is a claim anyone with write
//! access to the bucket can make; each check asks GitHub (bypassing the TTL cache, so a 304
//! keeps it nearly free) for the facts the operation depends on. When GitHub disagrees the
//! operation is refused, a `document_contradicted` event records both sides, and the document
//! is repaired from GitHub and marked with the contradiction.

use serde_json::{Value, json};

use super::guard::{Held, PendingEvent};
use super::{Engine, EngineError};
use crate::domain::access::Subject;
use crate::domain::operation::Operation;
use crate::domain::request::Contradiction;
use crate::domain::review::{PullFacts, ReviewFact, approvers_on_github};
use crate::domain::{Request, RunKind};
use crate::github::RepoId;
use crate::github::models::PullRequest;

/// What the document claimed and what GitHub says, for one operation.
pub(super) struct Disagreement {
    pub operation: Operation,
    pub claim: String,
    pub github: String,
    pub data: Value,
}

/// What a merge may go ahead with: the head GitHub shows approved, and by whom.
pub(super) enum MergeBasis {
    Approved {
        head: String,
        approvers: Vec<String>,
    },
    /// GitHub shows the pull request merged at the approved head already (an earlier attempt
    /// merged it and did not live to record it).
    MergedAlready { merge_sha: String },
}

impl Engine {
    /// Records a disagreement, repairs the document with `repair`, and returns the refusal.
    pub(super) async fn contradicted<F>(
        &self,
        held: &Held,
        request: &Request,
        disagreement: Disagreement,
        mut repair: F,
    ) -> EngineError
    where
        F: FnMut(&mut Request) + Send,
    {
        let Disagreement {
            operation,
            claim,
            github,
            mut data,
        } = disagreement;
        if let Value::Object(fields) = &mut data {
            fields.insert("operation".into(), json!(operation.as_str()));
        }
        let now = self.now();
        let event = PendingEvent::new("document_contradicted", format!("{claim}; {github}"))
            .with_data(data);
        self.write_event(&request.id, now, &event, &format!("{operation}-check"), 0)
            .await;
        let contradiction = Contradiction {
            at: now,
            claim: claim.clone(),
            github: github.clone(),
        };
        let repaired = self
            .persist(held, |r| {
                repair(r);
                r.contradiction = Some(Box::new(contradiction.clone()));
            })
            .await;
        if let Err(error) = repaired {
            tracing::warn!(request = %request.id, %error, "could not repair a contradicted document");
        }
        EngineError::denied(format!(
            "{claim}, but GitHub says {github}; nothing was done ({} refused), and the document now says what GitHub does",
            operation.verb()
        ))
    }

    /// Approve (and a whole-root apply, which reads the plan's log): the plan run the document
    /// names must be, on GitHub, a successful plan of this request at the head the document
    /// says. Returns that head as GitHub reports it.
    pub(super) async fn verify_planned(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
        operation: Operation,
    ) -> Result<String, EngineError> {
        let claimed = request.plan_run.as_deref();
        let Some(run_id) = claimed.and_then(|run| run.id) else {
            return Err(EngineError::denied(
                "the request has no plan run on GitHub to approve; plan it first",
            ));
        };
        let claimed_head = claimed.and_then(|run| run.head_sha.clone());
        let run = self.github.get_run_current(repo, run_id).await?;
        let this_request = run.tfpilot_name().is_some_and(|name| {
            name.operation == RunKind::Plan.name() && name.request_id == request.id
        });
        let fact = run.to_fact();
        if this_request && fact.succeeded() && claimed_head.as_deref() == Some(&run.head_sha) {
            return Ok(run.head_sha);
        }
        let github = if this_request {
            format!(
                "run {run_id} planned {} and is {}",
                run.head_sha,
                fact.describe()
            )
        } else {
            format!("run {run_id} is not a plan of {}", request.id)
        };
        let disagreement = Disagreement {
            operation,
            claim: format!(
                "the document says plan run {run_id} of {} succeeded",
                claimed_head.as_deref().unwrap_or("an unknown head")
            ),
            github,
            data: json!({
                "plan_run": run_id,
                "claimed_head_sha": claimed_head,
                "github_head_sha": this_request.then_some(&run.head_sha),
                "github_conclusion": run.conclusion,
                "github_run_is_this_plan": this_request,
            }),
        };
        let repaired = this_request.then_some(fact);
        Err(self
            .contradicted(held, request, disagreement, |r| {
                r.plan_run = repaired.clone().map(Box::new);
            })
            .await)
    }

    /// Merge: the pull request must be open at the approved head, and GitHub must hold an
    /// approving review of that head by someone the policy lets approve it (judged against the
    /// pull request's author on GitHub, not the document's requester).
    pub(super) async fn verify_approved(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
        number: u64,
    ) -> Result<MergeBasis, EngineError> {
        let approval = request.approval.as_deref();
        let approved_head = approval
            .and_then(|a| a.head_sha.clone())
            .unwrap_or_default();
        let pull = self.github.get_pull_current(repo, number).await?;
        if pull.is_merged() && pull.head.sha == approved_head {
            return Ok(MergeBasis::MergedAlready {
                merge_sha: pull.merge_commit_sha.clone().unwrap_or_default(),
            });
        }
        if pull.state.as_deref() != Some("open") {
            let state = if pull.is_merged() {
                "merged"
            } else {
                pull.state.as_deref().unwrap_or("unknown")
            };
            let disagreement = Disagreement {
                operation: Operation::Merge,
                claim: format!("the document says pull request #{number} is open"),
                github: format!("it is {state}"),
                data: json!({"pr": number, "github_state": state}),
            };
            let fact = pull.to_fact();
            return Err(self
                .contradicted(held, request, disagreement, |r| {
                    r.pr = Some(Box::new(fact.clone()));
                })
                .await);
        }
        if pull.head.sha != approved_head {
            // A branch that moved is not a forgery: the approval was for another commit.
            let fact = pull.to_fact();
            self.persist(held, |r| r.pr = Some(Box::new(fact.clone())))
                .await?;
            return Err(EngineError::conflict(format!(
                "the branch moved to {} after {approved_head} was approved; plan and approve again",
                pull.head.sha
            )));
        }
        let approvers = self
            .approvers_of(repo, number, &pull, &request.environment)
            .await?;
        if !approvers.is_empty() {
            return Ok(MergeBasis::Approved {
                head: approved_head,
                approvers,
            });
        }
        let claimed = approval
            .map(|a| a.approvers.join(", "))
            .filter(|who| !who.is_empty())
            .unwrap_or_else(|| "someone".to_string());
        let disagreement = Disagreement {
            operation: Operation::Merge,
            claim: format!("the document says {claimed} approved {approved_head}"),
            github: format!(
                "no review of {approved_head} approves it by someone config/policy.json lets approve this request (approve it again with `tfpilot approve {}`)",
                request.id
            ),
            data: json!({
                "pr": number,
                "head_sha": approved_head,
                "claimed_approvers": approval.map(|a| a.approvers.clone()),
            }),
        };
        Err(self
            .contradicted(held, request, disagreement, |r| r.approval = None)
            .await)
    }

    /// Who GitHub shows approving the pull request's current head, as the policy counts them.
    pub(super) async fn approvers_of(
        &self,
        repo: &RepoId,
        number: u64,
        pull: &PullRequest,
        environment: &str,
    ) -> Result<Vec<String>, EngineError> {
        let reviews = self.github.list_reviews(repo, number).await?;
        let facts: Vec<ReviewFact<'_>> = reviews
            .iter()
            .filter_map(|review| {
                Some(ReviewFact {
                    user: review.user.as_ref()?.login.as_str(),
                    state: review.state.as_str(),
                    commit_id: review.commit_id.as_deref(),
                    body: review.body.as_deref().unwrap_or(""),
                })
            })
            .collect();
        let author = pull.user.as_ref().map_or("", |u| u.login.as_str());
        let facts_of_pull = PullFacts {
            author,
            environment,
            head: &pull.head.sha,
        };
        Ok(approvers_on_github(
            &self.team.access,
            facts_of_pull,
            &facts,
        ))
    }

    /// Apply: GitHub must say the pull request is merged and that `claimed` is its merge
    /// commit, the commit about to be tagged.
    pub(super) async fn verify_merged(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
        claimed: &str,
    ) -> Result<(), EngineError> {
        let number = request
            .pr
            .as_deref()
            .and_then(|pr| pr.number)
            .ok_or_else(|| EngineError::denied("the request has no pull request to apply"))?;
        let pull = self.github.get_pull_current(repo, number).await?;
        let github_sha = pull
            .is_merged()
            .then(|| pull.merge_commit_sha.clone())
            .flatten();
        if github_sha.as_deref() == Some(claimed) {
            return Ok(());
        }
        let github = match &github_sha {
            Some(sha) => format!("pull request #{number} was merged as {sha}"),
            None => format!(
                "pull request #{number} is {} and not merged",
                pull.state.as_deref().unwrap_or("unknown")
            ),
        };
        let disagreement = Disagreement {
            operation: Operation::Apply,
            claim: format!("the document says it was merged as {claimed}"),
            github,
            data: json!({
                "claimed_merged_sha": claimed,
                "github_merged_sha": github_sha,
                "pr": number,
            }),
        };
        let fact = pull.to_fact();
        Err(self
            .contradicted(held, request, disagreement, |r| {
                r.pr = Some(Box::new(fact.clone()));
                r.merged_sha = github_sha.clone();
            })
            .await)
    }

    /// Destroy: GitHub must show the run the document names as this request's apply,
    /// concluded as the document says.
    pub(super) async fn verify_applied(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
    ) -> Result<(), EngineError> {
        let claimed = request.apply_run.as_deref();
        let Some(run_id) = claimed.and_then(|run| run.id) else {
            return Ok(()); // Readiness refuses a destroy with no apply run.
        };
        let run = self.github.get_run_current(repo, run_id).await?;
        let this_request = run.tfpilot_name().is_some_and(|name| {
            name.operation == RunKind::Apply.name() && name.request_id == request.id
        });
        let conclusion = run.conclusion.as_deref();
        let claimed_conclusion = claimed.and_then(|run| run.conclusion.as_ref());
        let agrees = this_request
            && run.status.as_deref() == Some("completed")
            && claimed_conclusion.map(|c| c.as_str()) == conclusion;
        if agrees {
            return Ok(());
        }
        let github = if this_request {
            format!(
                "run {run_id} is {} ({})",
                run.status.as_deref().unwrap_or("unknown"),
                conclusion.unwrap_or("no conclusion")
            )
        } else {
            format!("run {run_id} is not an apply of {}", request.id)
        };
        let disagreement = Disagreement {
            operation: Operation::Destroy,
            claim: format!(
                "the document says apply run {run_id} concluded {}",
                claimed_conclusion.map_or("without a conclusion", |c| c.as_str())
            ),
            github,
            data: json!({
                "apply_run": run_id,
                "claimed_conclusion": claimed_conclusion.map(|c| c.as_str()),
                "github_conclusion": conclusion,
                "github_run_is_this_apply": this_request,
            }),
        };
        let repaired = this_request.then(|| run.to_fact());
        Err(self
            .contradicted(held, request, disagreement, |r| {
                r.apply_run = repaired.clone().map(Box::new);
            })
            .await)
    }
}

/// The subject of an approval as GitHub knows it: the pull request's author is the requester.
pub(super) fn github_subject<'a>(pull: &'a PullRequest, environment: &'a str) -> Subject<'a> {
    Subject {
        environment,
        requested_by: pull.user.as_ref().map_or("", |u| u.login.as_str()),
        cancels: None,
    }
}
