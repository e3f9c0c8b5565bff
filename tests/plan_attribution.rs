//! A plan is split into the request's changes and everything outside it. By default plans and
//! applies target the request's module, so one request's apply never creates another's
//! resources; a repository set to whole-root runs needs `--include-outside` to apply a plan that
//! changes anything else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;

use bed::Bed;
use tfpilot::domain::{Status, derive_status};
use tfpilot::store::{ObjectStore, Store};

const ROOT_REPOS: &str = r#"{"projects": {"payments": {
  "dev":  {"owner": "acme", "repo": "infra-live", "base": "main", "env_path": "envs/dev",  "file": "tfpilot.tf"},
  "prod": {"owner": "acme", "repo": "infra-live", "base": "main", "env_path": "envs/prod", "file": "tfpilot.tf"}
}}, "repositories": {"acme/infra-live": {"targeting": "root"}}}"#;

/// The requests whose blocks the simulator's Terraform state holds for envs/dev.
fn deployed(bed: &Bed) -> Vec<String> {
    let snapshot = bed.sim.snapshot();
    snapshot["deployed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["directory"] == "envs/dev")
        .flat_map(|entry| entry["requests"].as_array().cloned().unwrap_or_default())
        .map(|id| id.as_str().unwrap().to_string())
        .collect()
}

/// A merged request nobody applied yet, then bob's new request planned and merged: under
/// request targeting its plan shows only its own resources and its apply creates only them.
async fn a_request_plan_and_apply_touch_only_the_request(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let waiting = bed.merged("left-unapplied").await;
    let id = bed.merged("applied-alone").await;
    let plan = bed
        .store
        .get_request(&id)
        .await
        .unwrap()
        .value
        .plan
        .unwrap();
    let attribution = plan.attribution().unwrap();
    assert!(!attribution.request.is_empty());
    assert!(!attribution.changes_outside(), "{attribution:?}");
    let bob = bed.engine("bob").await;
    bob.apply(&id, None).await.unwrap();
    bed.finish_runs();
    let request = bob.sync(&id).await.unwrap().request;
    assert_eq!(derive_status(&request), Status::Applied);
    assert_eq!(
        deployed(&bed),
        vec![id],
        "{waiting} was not applied with it"
    );
}

/// With whole-root runs the same plan also shows the merged-but-unapplied request's resources,
/// outside this one: apply refuses (GitHub's plan log is read, not the document) until told to
/// include them.
async fn a_root_plan_that_changes_more_needs_include_outside(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    store
        .put_once("config/infra-repos.json", ROOT_REPOS.as_bytes().to_vec())
        .await
        .unwrap();
    bed::seed_team(&store).await;
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    let bed = Bed { sim, store };
    let waiting = bed.merged("root-unapplied").await;
    let id = bed.merged("root-applied").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    let plan = request.plan.as_deref().unwrap();
    let attribution = plan.attribution().unwrap();
    assert!(attribution.changes_outside());
    let label = tfpilot::domain::infra_file::module_label(&waiting);
    assert!(
        attribution
            .outside
            .addresses
            .iter()
            .all(|address| address.starts_with(&format!("module.{label}."))),
        "{attribution:?}"
    );
    let lines = tfpilot::domain::presentation::plan_lines(&request);
    assert!(lines[1].contains("OUTSIDE this request"), "{lines:?}");

    let bob = bed.engine("bob").await;
    let error = bob.apply(&id, None).await.unwrap_err();
    assert_eq!(error.exit_code(), 3, "{error}");
    let text = error.to_string();
    assert!(text.contains("outside this request"), "{text}");
    assert!(text.contains("--include-outside"), "{text}");
    assert!(text.contains(&label), "{text}");
    assert_eq!(bed.runs_for("apply", &id), 0);
    // Editing the document's copy of the plan does not lift the refusal: GitHub's log decides.
    bed.store
        .update_request(&id, request.updated_at, |request| {
            if let Some(plan) = request.plan.as_deref_mut() {
                plan.outside = None;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert!(bob.apply(&id, None).await.is_err());
    // Nor does naming another request's plan run, whose plan changed nothing outside it: GitHub
    // must show the run as this request's plan, and the document is repaired.
    let innocent = bed.store.get_request(&waiting).await.unwrap().value;
    let their_plan = innocent.plan_run.clone();
    bed.store
        .update_request(&id, request.updated_at, |request| {
            request.plan_run = their_plan.clone();
            Ok(())
        })
        .await
        .unwrap();
    let error = bob.apply(&id, None).await.unwrap_err();
    assert_eq!(error.exit_code(), 3, "{error}");
    assert!(error.to_string().contains("is not a plan of"), "{error}");
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"document_contradicted".to_string())
    );
    assert_eq!(bed.runs_for("apply", &id), 0);
    // The repaired document names no plan run now (the forged one was not this request's);
    // accepting what lies outside still applies.

    bob.apply_with(&id, None, true).await.unwrap();
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    let mut applied = deployed(&bed);
    applied.sort();
    let mut both = vec![id, waiting];
    both.sort();
    assert_eq!(
        applied, both,
        "a whole-root apply applies everything merged"
    );
}

with_both_stores!(
    a_request_plan_and_apply_touch_only_the_request,
    a_root_plan_that_changes_more_needs_include_outside,
);
