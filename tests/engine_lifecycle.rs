//! The whole lifecycle through the engine, against the GitHub simulator over HTTP, with both
//! stores: create -> plan -> approve -> merge -> apply -> destroy -> cleanup.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;

use bed::{Bed, bucket};
use tfpilot::domain::{Status, derive_status};
use tfpilot::engine::{EngineError, OpResult};
use tfpilot::sim::FaultRule;
use tfpilot::store::ObjectStore;

async fn status(bed: &Bed, id: &str) -> Status {
    derive_status(&bed.store.get_request(id).await.unwrap().value)
}

async fn lifecycle(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let bob = bed.engine("bob").await;
    let admin = bed.engine("admin").await;

    let created = alice
        .create(bucket("payments-dev-logs", "dev"))
        .await
        .unwrap();
    assert_eq!(created.result, OpResult::Done, "{}", created.message);
    let id = created.request.id.clone();
    assert!(id.starts_with("req_"));
    assert_eq!(created.request.status.as_deref(), Some("planning"));
    assert!(created.request.lock.is_none(), "the lock is released");
    assert_eq!(bed.dispatches("tfpilot-plan.yml", &id), 1);
    let pr = created.request.pr.clone().unwrap();
    assert!(pr.is_open());
    assert_eq!(pr.head_sha, created.request.commit_sha);

    // Approving before the plan finished is refused with the reason.
    match bob.approve(&id, None).await {
        Err(EngineError::Denied { reason }) => {
            assert!(reason.contains("still running"), "{reason}")
        }
        other => panic!("expected a denial, got {other:?}"),
    }

    bed.finish_runs();
    let report = alice.sync(&id).await.unwrap();
    assert!(report.changed);
    assert_eq!(report.status, Status::PlanReady);
    let request = bed.store.get_request(&id).await.unwrap().value;
    let plan = request.plan.clone().unwrap();
    assert!(plan.summary.unwrap().add > 0, "{plan:?}");
    let copy = bed
        .store
        .get_blob(plan.output_key.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&copy).contains("to add"));
    // A second sync learns nothing and writes nothing.
    let etag = bed.store.get_request(&id).await.unwrap().etag;
    let again = alice.sync(&id).await.unwrap();
    assert!(!again.changed, "{:?}", again.changes);
    assert_eq!(bed.store.get_request(&id).await.unwrap().etag, etag);

    let approved = bob.approve(&id, None).await.unwrap();
    assert_eq!(approved.result, OpResult::Done);
    assert!(
        approved.message.contains("GitHub review"),
        "{}",
        approved.message
    );
    assert_eq!(status(&bed, &id).await, Status::Approved);

    let merged = alice.merge(&id, None).await.unwrap();
    assert_eq!(merged.result, OpResult::Done, "{}", merged.message);
    assert!(merged.request.merged_sha.is_some());
    assert_eq!(status(&bed, &id).await, Status::Merged);

    let applying = bob.apply(&id, None).await.unwrap();
    assert_eq!(applying.result, OpResult::Done, "{}", applying.message);
    let run = applying.request.apply_run.clone().unwrap();
    assert_eq!(run.head_sha, applying.request.merged_sha);
    assert_eq!(status(&bed, &id).await, Status::Applying);
    bed.finish_runs();
    assert_eq!(bob.sync(&id).await.unwrap().status, Status::Applied);

    // Pressing apply again is "done already", not a second run.
    let again = bob.apply(&id, None).await.unwrap();
    assert_eq!(again.result, OpResult::AlreadyDone);
    assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 1);

    let destroying = admin.destroy(&id, None).await.unwrap();
    assert_eq!(destroying.result, OpResult::Done, "{}", destroying.message);
    assert_eq!(status(&bed, &id).await, Status::Destroying);
    bed.finish_runs();
    assert_eq!(admin.sync(&id).await.unwrap().status, Status::Destroyed);

    // The check's dispatch fails before GitHub acts: the cleanup PR is open and the dispatch
    // is recorded as intended. Running cleanup again sends it, once. (The soak under faults
    // found cleanup answering "already opened" here, so the check was never sent.)
    bed.sim.add_fault(FaultRule {
        method: Some("POST".into()),
        status: Some(502),
        ..FaultRule::on("/repos/*/actions/workflows/tfpilot-cleanup.yml/dispatches")
    });
    let failed = alice.cleanup(&id, Some("cleanup-1")).await;
    assert!(failed.is_err(), "{failed:?}");
    bed.sim.clear_faults();
    let interrupted = bed.store.get_request(&id).await.unwrap().value;
    assert!(interrupted.cleanup_pr.is_some());
    let intent = interrupted.cleanup_run.as_deref().unwrap();
    assert!(
        intent.id.is_none() && intent.dispatch_id.is_some(),
        "{intent:?}"
    );
    assert_eq!(bed.dispatches("tfpilot-cleanup.yml", &id), 0);
    let cleanup = alice.cleanup(&id, Some("cleanup-1")).await.unwrap();
    assert_eq!(cleanup.result, OpResult::Done, "{}", cleanup.message);
    assert_eq!(bed.dispatches("tfpilot-cleanup.yml", &id), 1);
    assert!(cleanup.request.cleanup_pr.as_deref().unwrap().is_open());
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert!(request.cleanup_run.as_deref().unwrap().succeeded());
    assert_eq!(derive_status(&request), Status::Destroyed);

    let kinds = bed.event_kinds(&id).await;
    for kind in bed::LIFECYCLE_EVENTS {
        let count = kinds.iter().filter(|k| *k == kind).count();
        assert_eq!(count, 1, "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.len(), 11, "{kinds:?}");
}

with_both_stores!(lifecycle);
