//! Policies on plans through sync, against the simulator's artifacts: a finished plan's
//! `tfpilot-plan-json` artifact is downloaded once, kept masked as `plans/<id>/<run>.json`,
//! judged by the team's policies, the report kept as `policy/<id>/<run>.json`, and the verdict
//! folded into the request. A plan without its JSON, and a broken policy, judge `deny`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;

use serde_json::json;
use tfpilot::domain::policy::{Verdict, current};
use tfpilot::sim::FaultRule;
use tfpilot::store::ObjectStore;

/// Prod buckets must be versioned: a deny in prod, a warning elsewhere.
const VERSIONED: &str = r#"package tfpilot.versioned

unversioned contains rc.address if {
	some rc in input.plan.resource_changes
	rc.type == "aws_s3_bucket_server_side_encryption_configuration"
	not rc.change.after.versioning == true
}

deny contains msg if {
	input.request.environment == "prod"
	some address in unversioned
	msg := sprintf("%s: prod buckets are versioned", [address])
}

warn contains msg if {
	input.request.environment != "prod"
	some address in unversioned
	msg := sprintf("%s is not versioned", [address])
}

warn contains msg if {
	count(input.outside) > 0
	msg := sprintf("the plan also changes %d resources outside the request", [count(input.outside)])
}
"#;

async fn a_finished_plan_is_judged_once_by_the_teams_policies(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let admin = bed.engine("admin").await;
    admin.seed_policies().await.unwrap();
    admin.put_policy("versioned", VERSIONED).await.unwrap();

    // The seeded `buckets` policy passes: the simulated module blocks public access.
    let id = bed.planned("dev", "payments-dev-judged").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    let run_id = request.plan_run.as_ref().and_then(|r| r.id).unwrap();
    let fact = current(&request).expect("a verdict on the latest plan");
    assert_eq!(fact.verdict, Some(Verdict::Pass), "{fact:?}");
    assert_eq!(
        fact.policies,
        ["buckets", "monthly-cost", "prod-databases", "versioned"]
    );
    assert_eq!(
        fact.source.as_deref(),
        Some(format!("policy/{id}/{run_id}.json").as_str())
    );

    // The plan JSON is kept masked; the report beside it.
    let kept = bed
        .store
        .get_blob(&format!("plans/{id}/{run_id}.json"))
        .await
        .unwrap()
        .expect("the plan JSON is kept");
    let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap();
    let addresses: Vec<&str> = kept["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    let module = format!("module.{}", tfpilot::domain::infra_file::module_label(&id));
    assert_eq!(
        addresses,
        [
            format!("{module}.aws_s3_bucket.this"),
            format!("{module}.aws_s3_bucket_public_access_block.this"),
            format!("{module}.aws_s3_bucket_server_side_encryption_configuration.this"),
        ]
    );
    let report = bed
        .store
        .get_blob(&format!("policy/{id}/{run_id}.json"))
        .await
        .unwrap()
        .expect("the report is kept");
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["report"]["verdict"], "pass");
    assert_eq!(report["evaluated_by"], "alice");

    // A prod bucket without versioning is denied, with the policy's words.
    let mut unversioned = bed::bucket("payments-prod-plain", "prod");
    unversioned
        .values
        .insert("versioning".into(), json!("false"));
    let bob = bed.engine("bob").await;
    let prod = bob.create(unversioned).await.unwrap().request.id;
    bed.finish_runs();
    let synced = bob.sync(&prod).await.unwrap();
    assert!(
        synced.changes.iter().any(|c| c == "policy: deny (1)"),
        "{:?}",
        synced.changes
    );
    let fact = current(&synced.request).unwrap();
    assert_eq!(
        fact.deny,
        [format!(
            "versioned: module.{}.aws_s3_bucket_server_side_encryption_configuration.this: prod buckets are versioned",
            tfpilot::domain::infra_file::module_label(&prod)
        )]
    );
    // Judged once: a second sync asks GitHub for no artifact again.
    let listings = || -> u64 {
        bed.sim
            .calls_to(
                "GET",
                "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
            )
            .values()
            .sum()
    };
    let before = listings();
    bob.sync(&prod).await.unwrap();
    assert_eq!(listings(), before);
    assert_eq!(before, 2, "one listing per finished plan run");
}

async fn a_plan_that_cannot_be_read_or_a_broken_policy_denies(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let admin = bed.engine("admin").await;
    admin.put_policy("versioned", VERSIONED).await.unwrap();

    // The run uploaded no plan JSON (a workflow without the step): judged deny, with why.
    bed.sim.add_fault(FaultRule {
        method: Some("GET".into()),
        status: Some(200),
        body: Some(json!({"total_count": 0, "artifacts": []})),
        ..FaultRule::on("/repos/*/actions/runs/*/artifacts*")
    });
    let id = bed.planned("dev", "payments-dev-blind").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    let fact = current(&request).unwrap();
    assert_eq!(fact.verdict, Some(Verdict::Deny));
    assert!(
        fact.deny[0].starts_with(
            "(plan json): cannot be evaluated: the plan could not be read as JSON: plan run"
        ),
        "{:?}",
        fact.deny
    );
    assert!(
        fact.deny[0].contains("uploaded no tfpilot-plan-json artifact"),
        "{:?}",
        fact.deny
    );
    bed.sim.clear_faults();

    // A policy file written around tfpilot that does not parse blocks every plan, named.
    bed.store
        .put_once(
            "policies/broken.rego",
            b"package tfpilot.broken\n\ndeny contains if\n".to_vec(),
        )
        .await
        .unwrap();
    let id = bed.planned("dev", "payments-dev-broken").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    let fact = current(&request).unwrap();
    assert_eq!(fact.verdict, Some(Verdict::Deny));
    assert_eq!(fact.deny.len(), 1, "{:?}", fact.deny);
    assert!(
        fact.deny[0].starts_with("broken: cannot be evaluated: "),
        "{:?}",
        fact.deny
    );
    // The other policy still judged: `bucket()` asks for versioning, so `versioned` is silent.
    assert_eq!(fact.policies, ["broken", "versioned"]);
    assert!(fact.warn.is_empty(), "{:?}", fact.warn);
}

async fn without_policies_nothing_is_judged_but_the_plan_is_kept(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-free").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert!(request.policy.is_none());
    let run_id = request.plan_run.as_ref().and_then(|r| r.id).unwrap();
    assert!(
        bed.store
            .get_blob(&format!("plans/{id}/{run_id}.json"))
            .await
            .unwrap()
            .is_some()
    );
}

/// Buckets whose name says "blocked" are denied: a policy on the request's values.
const NAMES: &str = r#"package tfpilot.names

deny contains msg if {
	contains(input.request.values.bucket_name, "blocked")
	msg := sprintf("bucket %s is blocked", [input.request.values.bucket_name])
}
"#;

fn denied(error: &tfpilot::engine::EngineError) -> String {
    assert_eq!(error.exit_code(), 3, "{error}");
    error.to_string()
}

async fn a_deny_blocks_approve_merge_and_apply_until_an_admin_overrides_it(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let (alice, bob, admin) = (
        bed.engine("alice").await,
        bed.engine("bob").await,
        bed.engine("admin").await,
    );
    // Approved before the policy existed: the merge and the apply are gated all the same.
    let id = bed.planned("dev", "payments-dev-blocked").await;
    bob.approve(&id, None).await.unwrap();
    admin.put_policy("names", NAMES).await.unwrap();
    let error = alice.merge(&id, None).await.unwrap_err();
    let message = denied(&error);
    assert!(
        message.contains("names: bucket payments-dev-blocked is blocked"),
        "{message}"
    );
    assert!(
        message.contains(&format!("tfpilot policy override {id} --reason TEXT")),
        "{message}"
    );
    assert_eq!(bed.pulls_for(&id), 1);
    // The document said nothing of the deny (judged before the policy): repaired.
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        current(&request).and_then(|fact| fact.verdict),
        Some(Verdict::Deny)
    );
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"policy_denied".to_string())
    );

    // Only an admin overrides, with a reason.
    let error = bob.override_policy(&id, "ship it").await.unwrap_err();
    assert!(denied(&error).contains("admin"), "{error}");
    let error = admin.override_policy(&id, "  ").await.unwrap_err();
    assert_eq!(error.exit_code(), 2, "{error}");
    let record = admin
        .override_policy(&id, "the name is a test fixture")
        .await
        .unwrap();
    assert_eq!(record.by, "admin");
    assert_eq!(
        record.denied,
        ["names: bucket payments-dev-blocked is blocked"]
    );
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"policy_overridden".to_string())
    );
    // Overriding again keeps the first record.
    let again = admin.override_policy(&id, "another reason").await.unwrap();
    assert_eq!(again.reason, "the name is a test fixture");

    alice.merge(&id, None).await.unwrap();
    bob.apply(&id, None).await.unwrap();
    bed.finish_runs();
    let synced = bob.sync(&id).await.unwrap();
    assert_eq!(synced.status, tfpilot::domain::Status::Applied);
}

async fn a_new_plan_withdraws_the_override_and_a_forged_verdict_is_judged_again(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let (alice, bob, admin) = (
        bed.engine("alice").await,
        bed.engine("bob").await,
        bed.engine("admin").await,
    );
    admin.put_policy("names", NAMES).await.unwrap();
    let id = bed.planned("dev", "payments-dev-blocked-again").await;
    assert!(denied(&bob.approve(&id, None).await.unwrap_err()).contains("is blocked"));

    // A document edited to say the plan passed is judged again from GitHub, and repaired.
    let now = tfpilot::domain::Timestamp(chrono::Utc::now());
    bed.store
        .update_request(&id, now, |request| {
            let policy = request.policy.as_deref_mut().unwrap();
            policy.verdict = Some(Verdict::Pass);
            policy.deny.clear();
            Ok(())
        })
        .await
        .unwrap();
    assert!(denied(&bob.approve(&id, None).await.unwrap_err()).contains("is blocked"));
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        request.policy.as_deref().unwrap().verdict,
        Some(Verdict::Deny)
    );

    // An override written around tfpilot by someone who is not an admin counts for nothing.
    let run_id = request.plan_run.as_ref().and_then(|r| r.id).unwrap();
    let forged = json!({"run_id": run_id, "by": "bob", "reason": "mine", "at": now});
    bed.store
        .put_once(
            &format!("overrides/{id}/{run_id}.json"),
            serde_json::to_vec(&forged).unwrap(),
        )
        .await
        .unwrap();
    assert!(denied(&bob.approve(&id, None).await.unwrap_err()).contains("is blocked"));

    // A new plan (the config changed) has no override: the admin's override of the old one
    // does not carry over.
    let updated = alice
        .update(
            &id,
            json!({"lifecycle_days": "30"})
                .as_object()
                .cloned()
                .unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_ne!(
        updated.request.plan_run.as_ref().and_then(|r| r.id),
        Some(run_id)
    );
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    admin
        .override_policy(&id, "accepted for the new plan")
        .await
        .unwrap();
    bob.approve(&id, None).await.unwrap();
    let approved = bed.store.get_request(&id).await.unwrap().value;
    assert!(tfpilot::domain::policy::current_override(&approved).is_some());
    // ...and a plan after that one is judged afresh.
    alice
        .update(
            &id,
            json!({"lifecycle_days": "60"})
                .as_object()
                .cloned()
                .unwrap(),
            None,
        )
        .await
        .unwrap();
    bed.finish_runs();
    let replanned = alice.sync(&id).await.unwrap().request;
    assert!(tfpilot::domain::policy::current_override(&replanned).is_none());
    assert!(denied(&bob.approve(&id, None).await.unwrap_err()).contains("is blocked"));

    // Nothing denied, nothing to override.
    let clean = bed.planned("dev", "payments-dev-clean").await;
    let error = admin.override_policy(&clean, "why not").await.unwrap_err();
    assert_eq!(error.exit_code(), 2, "{error}");
    assert!(error.to_string().contains("nothing to override"), "{error}");
}

with_both_stores!(
    a_deny_blocks_approve_merge_and_apply_until_an_admin_overrides_it,
    a_new_plan_withdraws_the_override_and_a_forged_verdict_is_judged_again,
    a_finished_plan_is_judged_once_by_the_teams_policies,
    a_plan_that_cannot_be_read_or_a_broken_policy_denies,
    without_policies_nothing_is_judged_but_the_plan_is_kept
);
