//! The policy gate: before approve, merge and apply, the team's policies judge the request's
//! plan again, from GitHub (the run's `tfpilot-plan-json` artifact and the Infracost estimate in
//! its log), since the verdict in the document is a claim anyone who writes the bucket could
//! edit. A `deny` refuses the operation (exit 3, the messages) unless an admin has overridden
//! that plan run's deny (`overrides/<id>/<run>.json`). A document whose verdict differs from
//! the one just made is repaired.

use serde_json::json;

use super::guard::{Held, PendingEvent};
use super::{Engine, EngineError, repo_of};
use crate::domain::Request;
use crate::domain::access::Role;
use crate::domain::cost;
use crate::domain::operation::Operation;
use crate::domain::policy::{PolicyFact, PolicyOverride, override_key, report_key};
use crate::domain::request::CostFact;
use crate::github::RepoId;
use crate::rego::PolicySet;
use crate::store::PutOnce;

use super::withdraw::MAX_REASON_CHARS;

/// The verdict parts a repair compares (when and by whom differ between any two judgings).
fn same_verdict(a: &PolicyFact, b: &PolicyFact) -> bool {
    (a.run_id, a.verdict, &a.deny, &a.warn) == (b.run_id, b.verdict, &b.deny, &b.warn)
}

impl Engine {
    /// Refuses `operation` when the policies deny the request's plan and no admin overrode it.
    pub(super) async fn policy_gate(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
        operation: Operation,
    ) -> Result<(), EngineError> {
        let policies = self.policy_set().await?;
        if policies.is_empty() {
            return Ok(());
        }
        let Some(run_id) = request.plan_run.as_deref().and_then(|run| run.id) else {
            return Err(EngineError::denied(format!(
                "the team's policies judge plans, and this request has no plan run to judge; plan before you {}",
                operation.verb()
            )));
        };
        let fact = self
            .judge_from_github(request, repo, run_id, policies)
            .await?;
        if !request
            .policy
            .as_deref()
            .is_some_and(|claimed| same_verdict(claimed, &fact))
        {
            self.persist(held, |r| r.policy = Some(Box::new(fact.clone())))
                .await?;
        }
        if !fact.denies() {
            return Ok(());
        }
        if let Some(record) = self.override_of(&request.id, run_id).await? {
            tracing::info!(request = %request.id, run = run_id, by = %record.by, %operation, "policy deny overridden");
            return Ok(());
        }
        let event = PendingEvent::new(
            "policy_denied",
            format!(
                "{} refused: the policies deny plan run {run_id}",
                operation.verb()
            ),
        )
        .with_data(json!({"operation": operation.as_str(), "run_id": run_id, "deny": fact.deny}));
        self.write_event(
            &request.id,
            self.now(),
            &event,
            &format!("{operation}-policy"),
            0,
        )
        .await;
        Err(EngineError::denied(format!(
            "the team's policies deny plan run {run_id}:\n  {}\nFix the request and plan again, or an admin may override this plan: tfpilot policy override {} --reason TEXT",
            fact.deny.join("\n  "),
            request.id
        )))
    }

    /// The policies' verdict on plan run `run_id` from what GitHub holds now.
    async fn judge_from_github(
        &self,
        request: &Request,
        repo: &RepoId,
        run_id: u64,
        policies: PolicySet,
    ) -> Result<PolicyFact, EngineError> {
        let plan = self.plan_json_from_github(repo, run_id).await?;
        let cost = self.cost_from_github(request, repo, run_id).await?;
        let report = self
            .report_for(policies, plan, request, cost.as_ref())
            .await;
        Ok(PolicyFact::from_report(
            &report,
            run_id,
            report_key(&request.id, run_id),
            self.now(),
        ))
    }

    /// The Infracost estimate the plan run printed, read from its log now.
    async fn cost_from_github(
        &self,
        request: &Request,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Option<CostFact>, EngineError> {
        let Some(log) = self.run_log(repo, run_id).await? else {
            return Ok(None);
        };
        let key = format!("cost/{}/{run_id}.json", request.id);
        Ok(cost::extract_infracost(&log)
            .and_then(|json| cost::parse_infracost(&json).ok())
            .map(|estimate| estimate.to_fact(&key, run_id)))
    }

    /// An admin's override of plan run `run_id`, when there is one and its author is an admin
    /// under the team's policy now.
    async fn override_of(
        &self,
        request_id: &str,
        run_id: u64,
    ) -> Result<Option<PolicyOverride>, EngineError> {
        let key = override_key(request_id, run_id);
        let Some(body) = self.store.get_blob(&key).await? else {
            return Ok(None);
        };
        let record: PolicyOverride = match serde_json::from_slice(&body) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%key, %error, "an unreadable override counts as none");
                return Ok(None);
            }
        };
        if record.run_id != run_id || self.team.access.role_of(&record.by) != Role::Admin {
            tracing::warn!(%key, by = %record.by, "an override by someone who is not an admin counts as none");
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Judges the request's latest plan again, from GitHub, by the policies as they are now
    /// (after a policy changed), and writes the verdict into the document (not for viewers:
    /// they get it without a write).
    pub async fn evaluate_policies(&self, id: &str) -> Result<PolicyFact, EngineError> {
        let request = self.store.get_request(id).await?.value;
        let (repo, _) = repo_of(&request)?;
        let Some(run_id) = request.plan_run.as_deref().and_then(|run| run.id) else {
            return Err(EngineError::Invalid {
                message: format!("request {id} has no plan run to judge; plan it first"),
            });
        };
        if !request
            .plan_run
            .as_deref()
            .is_some_and(|run| run.succeeded())
        {
            return Err(EngineError::Invalid {
                message: format!(
                    "plan run {run_id} of {id} did not succeed: there is no plan to judge"
                ),
            });
        }
        let policies = self.policy_set().await?;
        if policies.is_empty() {
            return Err(EngineError::Invalid {
                message: "the team has no policies (tfpilot policy list)".into(),
            });
        }
        let mut fact = self
            .judge_from_github(&request, &repo, run_id, policies)
            .await?;
        // The report kept at the first judging is that judging's; this one lives in the document.
        fact.source = None;
        if self.may_write_store() {
            let now = self.now();
            self.store
                .update_request(id, now, |r| {
                    if r.plan_run.as_deref().and_then(|run| run.id) == Some(run_id) {
                        r.policy = Some(Box::new(fact.clone()));
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(fact)
    }

    /// Records an admin's override of the policies' deny on the request's latest plan, once.
    /// The deny is judged again from GitHub first: a plan that is not denied has nothing to
    /// override.
    pub async fn override_policy(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<PolicyOverride, EngineError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(EngineError::Invalid {
                message: format!(
                    "an override needs a reason of 1 to {MAX_REASON_CHARS} characters (--reason TEXT): it is what the audit trail keeps"
                ),
            });
        }
        let request = self.store.get_request(id).await?.value;
        if let crate::domain::access::Decision::Denied { reason } =
            self.authorize(Operation::OverridePolicy, &request)
        {
            return Err(EngineError::denied(reason));
        }
        let (repo, _) = repo_of(&request)?;
        let Some(run_id) = request.plan_run.as_deref().and_then(|run| run.id) else {
            return Err(EngineError::Invalid {
                message: format!("request {id} has no plan run: nothing to override"),
            });
        };
        let policies = self.policy_set().await?;
        if policies.is_empty() {
            return Err(EngineError::Invalid {
                message: "the team has no policies: nothing to override".into(),
            });
        }
        let fact = self
            .judge_from_github(&request, &repo, run_id, policies)
            .await?;
        if !fact.denies() {
            return Err(EngineError::Invalid {
                message: format!(
                    "the policies do not deny plan run {run_id} ({}): nothing to override",
                    fact.describe()
                ),
            });
        }
        let record = PolicyOverride {
            run_id,
            by: self.actor.clone(),
            reason: reason.to_string(),
            at: self.now(),
            denied: fact.deny.clone(),
            extra: serde_json::Map::new(),
        };
        let key = override_key(id, run_id);
        let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
        let record = match self.store.put_once(&key, body).await? {
            PutOnce::Created => {
                let event = PendingEvent::new(
                    "policy_overridden",
                    format!(
                        "{} overrode the policies' deny of plan run {run_id}: {reason}",
                        self.actor
                    ),
                )
                .with_data(json!({"run_id": run_id, "reason": reason, "denied": fact.deny}));
                self.write_event(id, record.at, &event, &format!("override-{run_id}"), 0)
                    .await;
                record
            }
            // Overridden already: that record stands.
            PutOnce::AlreadyPresent => match self.override_of(id, run_id).await? {
                Some(existing) => existing,
                None => {
                    return Err(EngineError::conflict(format!(
                        "{key} exists but is not an admin's readable override; an admin must look at it"
                    )));
                }
            },
        };
        let now = self.now();
        self.store
            .update_request(id, now, |r| {
                r.policy = Some(Box::new(fact.clone()));
                r.policy_override = Some(Box::new(record.clone()));
                Ok(())
            })
            .await?;
        Ok(record)
    }
}
