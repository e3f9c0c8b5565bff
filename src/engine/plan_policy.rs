//! Policies on a finished plan: the plan as data (the plan workflow's `tfpilot-plan-json`
//! artifact, kept masked as `plans/<id>/<run>.json`), the team's policies evaluated on it, the
//! report kept as `policy/<id>/<run>.json` and its verdict folded into the request.
//!
//! With policies, a plan that cannot be read as JSON (no artifact, expired, not a plan) is
//! judged `deny`, with the reason: a guardrail that could not look never passes silently.

use serde_json::json;

use super::{Engine, EngineError};
use crate::domain::Request;
use crate::domain::plan_json::{PLAN_JSON_ARTIFACT, PlanJson, text_from_artifact_zip};
use crate::domain::policy::{
    PolicyFact, PolicyReport, PolicyResult, plan_json_key, policy_input, report_key,
};
use crate::domain::request::CostFact;
use crate::github::RepoId;
use crate::rego::{Mode, PolicySet};

/// What a broken plan read is reported as, beside the policies.
const PLAN_READ: &str = "(plan json)";

impl Engine {
    /// The masked JSON plan of plan run `run_id`: the copy in the store, else the run's
    /// artifact, which is kept there now. `Err` says why there is none.
    pub(super) async fn plan_json_of(
        &self,
        request: &Request,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Result<PlanJson, String>, EngineError> {
        let key = plan_json_key(&request.id, run_id);
        if let Some(body) = self.store.get_blob(&key).await? {
            return Ok(PlanJson::parse(&String::from_utf8_lossy(&body))
                .map_err(|error| format!("{key}: {error}")));
        }
        let plan = match self.plan_json_from_github(repo, run_id).await? {
            Ok(plan) => plan,
            Err(reason) => return Ok(Err(reason)),
        };
        self.store
            .put_once(&key, plan.to_json().into_bytes())
            .await?;
        Ok(Ok(plan))
    }

    /// The JSON plan of plan run `run_id` as GitHub holds it: the run's artifact, read now.
    pub(super) async fn plan_json_from_github(
        &self,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Result<PlanJson, String>, EngineError> {
        let artifacts = self
            .github
            .run_artifacts(repo, run_id, PLAN_JSON_ARTIFACT)
            .await?;
        let Some(artifact) = artifacts.iter().find(|a| a.name == PLAN_JSON_ARTIFACT) else {
            return Ok(Err(format!(
                "plan run {run_id} uploaded no {PLAN_JSON_ARTIFACT} artifact; the plan workflow needs its `Plan as JSON` and upload steps (tfpilot init-repo writes them)"
            )));
        };
        if artifact.expired {
            return Ok(Err(format!(
                "the {PLAN_JSON_ARTIFACT} artifact of plan run {run_id} has expired; plan again"
            )));
        }
        let zip = self.github.artifact_zip(repo, artifact.id).await?;
        Ok(text_from_artifact_zip(&zip)
            .and_then(|text| PlanJson::parse(&text))
            .map_err(|error| format!("plan run {run_id}: {error}")))
    }

    /// Judges plan run `run_id` of `request` by the team's policies as they are now, keeps the
    /// report and returns the fact for the document; `None` when the team has no policies.
    pub(super) async fn judge_plan(
        &self,
        request: &Request,
        repo: &RepoId,
        run_id: u64,
        cost: Option<&CostFact>,
    ) -> Result<Option<PolicyFact>, EngineError> {
        // Kept whether or not there are policies yet: `policy test --request` reads it.
        let plan = self.plan_json_of(request, repo, run_id).await?;
        let policies = self.policy_set().await?;
        if policies.is_empty() {
            return Ok(None);
        }
        let report = self.report_for(policies, plan, request, cost).await;
        let now = self.now();
        let key = report_key(&request.id, run_id);
        let record = json!({
            "request_id": request.id,
            "run_id": run_id,
            "evaluated_at": now,
            "evaluated_by": self.actor,
            "report": report,
        });
        self.store
            .put_once(&key, serde_json::to_vec_pretty(&record).unwrap_or_default())
            .await?;
        Ok(Some(PolicyFact::from_report(&report, run_id, key, now)))
    }
}

impl Engine {
    /// The policies' report on `plan` (or on its absence: every policy blocks, with why).
    pub(super) async fn report_for(
        &self,
        policies: PolicySet,
        plan: Result<PlanJson, String>,
        request: &Request,
        cost: Option<&CostFact>,
    ) -> PolicyReport {
        match plan {
            Ok(plan) => {
                let input = policy_input(
                    plan.scoped(request.block_id()),
                    request,
                    self.team.module(&request.module),
                    cost,
                );
                evaluate(policies, input).await
            }
            Err(reason) => {
                let mut results = vec![PolicyResult::broken(
                    PLAN_READ,
                    format!("the plan could not be read as JSON: {reason}"),
                )];
                results.extend(
                    policies
                        .names()
                        .into_iter()
                        .map(|name| PolicyResult::broken(&name, "not evaluated: no plan JSON")),
                );
                PolicyReport::judge(results)
            }
        }
    }
}

/// Every policy on `input`, off the async threads: a large plan keeps the cores busy for a
/// tenth of a second or more.
pub(super) async fn evaluate(policies: PolicySet, input: serde_json::Value) -> PolicyReport {
    let names = policies.names();
    match tokio::task::spawn_blocking(move || policies.evaluate(&input, Mode::Judge)).await {
        Ok(report) => report,
        // A panic in the evaluator is that evaluation's failure, never a pass.
        Err(_) => PolicyReport::judge(
            names
                .iter()
                .map(|name| PolicyResult::broken(name, "the evaluator failed"))
                .collect(),
        ),
    }
}
