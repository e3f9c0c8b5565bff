//! Crash-resume: an operation interrupted after each of its steps (GitHub acted, the answer
//! was lost) is run again with the same key, and the world ends with exactly one branch, one
//! pull request and one run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;

use bed::{Bed, bucket};
use tfpilot::domain::Status;
use tfpilot::engine::{EngineError, OpResult};
use tfpilot::sim::FaultRule;
use tfpilot::store::ObjectStore;

fn lost_reply(method: &str, path: &str) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        status: Some(502),
        after_handler: true,
        times: Some(1),
        ..FaultRule::on(path)
    }
}

fn failing(method: &str, path: &str) -> FaultRule {
    FaultRule {
        after_handler: false,
        times: None,
        ..lost_reply(method, path)
    }
}

const DISPATCH: &str = "/repos/*/actions/workflows/*/dispatches";
const WORKFLOW_RUNS: &str = "/repos/*/actions/workflows/*/runs";

/// The id a create with `key` made (from its persisted idempotency record).
async fn id_for_key(bed: &Bed, key: &str) -> String {
    bed.store
        .get_create_key(key)
        .await
        .unwrap()
        .expect("the key was claimed")
        .request_id
}

async fn create_resumes_after_each_step(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let steps: Vec<(&str, Vec<FaultRule>)> = vec![
        ("branch", vec![lost_reply("POST", "/repos/*/git/refs")]),
        ("commit", vec![lost_reply("PUT", "/repos/*/contents/*")]),
        ("pull request", vec![lost_reply("POST", "/repos/*/pulls")]),
        (
            "plan dispatch",
            vec![lost_reply("POST", DISPATCH), failing("GET", WORKFLOW_RUNS)],
        ),
    ];
    for (n, (step, faults)) in steps.into_iter().enumerate() {
        let key = format!("resume-{n}");
        let mut input = bucket(&format!("payments-dev-resume{n}"), "dev");
        input.idempotency_key = Some(key.clone());
        for fault in faults {
            bed.sim.add_fault(fault);
        }
        let error = alice.create(input.clone()).await.unwrap_err();
        assert!(matches!(error, EngineError::GitHub(_)), "{step}: {error}");
        bed.sim.clear_faults();
        let id = id_for_key(&bed, &key).await;
        let stored = bed.store.get_request(&id).await.unwrap().value;
        assert!(
            stored.lock.is_none(),
            "{step}: the lock is released on failure"
        );

        let resumed = alice.create(input.clone()).await.unwrap();
        assert_eq!(
            resumed.result,
            OpResult::Done,
            "{step}: {}",
            resumed.message
        );
        assert_eq!(resumed.request.id, id);
        assert_eq!(bed.branches_for(&id), 1, "{step}: one branch");
        assert_eq!(bed.pulls_for(&id), 1, "{step}: one pull request");
        assert_eq!(bed.runs_for("plan", &id), 1, "{step}: one plan run");
        assert!(resumed.request.plan_run.as_deref().unwrap().id.is_some());

        // And once more: the finished create is replayed, not redone.
        let replayed = alice.create(input).await.unwrap();
        assert_eq!(replayed.result, OpResult::Replayed);
        assert_eq!(replayed.request.id, id);
        assert_eq!(bed.runs_for("plan", &id), 1);
    }
}

async fn a_key_reused_for_something_else_is_refused(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let mut first = bucket("payments-dev-one", "dev");
    first.idempotency_key = Some("same-key".into());
    alice.create(first).await.unwrap();
    let mut second = bucket("payments-dev-two", "dev");
    second.idempotency_key = Some("same-key".into());
    let error = alice.create(second).await.unwrap_err();
    assert_eq!(error.exit_code(), 4, "{error}");
    assert!(error.to_string().contains("different request"), "{error}");
}

async fn apply_resumes_after_each_step(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.merged("payments-dev-apply").await;
    let bob = bed.engine("bob").await;

    // The tag was made but its answer lost.
    bed.sim.add_fault(lost_reply("POST", "/repos/*/git/refs"));
    bob.apply(&id, Some("apply-1")).await.unwrap_err();
    bed.sim.clear_faults();
    // The dispatch reached GitHub but its answer was lost, and the run could not be looked
    // up either: the dispatch id stays in the document.
    bed.sim.add_fault(lost_reply("POST", DISPATCH));
    bed.sim.add_fault(failing("GET", WORKFLOW_RUNS));
    bob.apply(&id, Some("apply-1")).await.unwrap_err();
    bed.sim.clear_faults();
    let pending = bed.store.get_request(&id).await.unwrap().value;
    let intent = pending.apply_run.clone().unwrap();
    assert!(
        intent.id.is_none() && intent.dispatch_id.is_some(),
        "{intent:?}"
    );
    assert!(pending.lock.is_none());
    assert_eq!(bed.runs_for("apply", &id), 1, "GitHub did start it");

    let resumed = bob.apply(&id, Some("apply-1")).await.unwrap();
    assert_eq!(resumed.result, OpResult::Done, "{}", resumed.message);
    let run = resumed.request.apply_run.clone().unwrap();
    assert_eq!(
        run.dispatch_id, intent.dispatch_id,
        "the same dispatch, found again"
    );
    assert_eq!(bed.runs_for("apply", &id), 1, "exactly one apply run");
    assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 1);

    // The same key within the window replays the outcome.
    let replay = bob.apply(&id, Some("apply-1")).await.unwrap();
    assert_eq!(replay.result, OpResult::Replayed);
    bed.finish_runs();
    assert_eq!(bob.sync(&id).await.unwrap().status, Status::Applied);
}

async fn a_refused_dispatch_leaves_no_pending_intent(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.merged("payments-dev-apply").await;
    let bob = bed.engine("bob").await;
    bed.sim.add_fault(FaultRule {
        status: Some(422),
        ..failing("POST", DISPATCH)
    });
    let error = bob.apply(&id, None).await.unwrap_err();
    assert!(matches!(error, EngineError::GitHub(_)), "{error}");
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert!(request.apply_run.is_none(), "{:?}", request.apply_run);
    assert_eq!(bed.runs_for("apply", &id), 0);
}

async fn a_replay_writes_a_lost_event_once(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-lost-event").await;
    let bob = bed.engine("bob").await;
    bob.approve(&id, Some("approve-1")).await.unwrap();
    // The event is lost (as if the process died before writing it).
    let store = bed.store.backend();
    let events = bed.store.list_all(&format!("logs/{id}/")).await.unwrap();
    let approved: Vec<_> = events
        .iter()
        .filter(|meta| meta.key.contains("request_approved"))
        .collect();
    assert_eq!(approved.len(), 1, "{events:?}");
    store.delete(&approved[0].key, None).await.unwrap();
    assert!(
        !bed.event_kinds(&id)
            .await
            .contains(&"request_approved".to_string())
    );

    for _ in 0..2 {
        let replay = bob.approve(&id, Some("approve-1")).await.unwrap();
        assert_eq!(replay.result, OpResult::Replayed);
    }
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "request_approved").count(),
        1,
        "{kinds:?}"
    );
}

with_both_stores!(
    a_replay_writes_a_lost_event_once,
    create_resumes_after_each_step,
    a_key_reused_for_something_else_is_refused,
    apply_resumes_after_each_step,
    a_refused_dispatch_leaves_no_pending_intent,
);
