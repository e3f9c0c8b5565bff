//! Many people pressing the same key at once: exactly one effect per operation, one event each,
//! and everyone else told "done already" or "locked by X".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;

use bed::Bed;
use tfpilot::domain::operation::Operation;
use tfpilot::engine::{Engine, EngineError, OpResult};
use tfpilot::store::ObjectStore;

/// Eight engines (four terminals each for bob and admin) press `operation` at once.
async fn press_at_once(bed: &Bed, id: &str, operation: Operation) -> (usize, usize, usize) {
    let mut engines: Vec<Engine> = Vec::new();
    for n in 0..8 {
        let login = if n % 2 == 0 { "bob" } else { "admin" };
        engines.push(
            bed.engine(login)
                .await
                .with_holder(format!("{login}@terminal-{n}")),
        );
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(engines.len()));
    let tasks: Vec<_> = engines
        .into_iter()
        .map(|engine| {
            let (id, barrier) = (id.to_string(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                match operation {
                    Operation::Approve => engine.approve(&id, None).await,
                    Operation::Merge => engine.merge(&id, None).await,
                    Operation::Apply => engine.apply(&id, None).await,
                    other => panic!("not pressed here: {other}"),
                }
            })
        })
        .collect();
    let (mut done, mut already, mut locked) = (0, 0, 0);
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(outcome) if outcome.result == OpResult::Done => done += 1,
            Ok(outcome) => {
                assert_eq!(outcome.result, OpResult::AlreadyDone, "{}", outcome.message);
                already += 1;
            }
            Err(EngineError::Locked { held }) => {
                assert!(held.holder.contains("@terminal-"), "{held}");
                assert_eq!(held.operation, operation.as_str());
                locked += 1;
            }
            Err(other) => panic!("{operation}: unexpected {other}"),
        }
    }
    (done, already, locked)
}

async fn races(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-race").await;

    for operation in [Operation::Approve, Operation::Merge, Operation::Apply] {
        let (done, already, locked) = press_at_once(&bed, &id, operation).await;
        eprintln!("{operation}: done {done}, done already {already}, locked {locked}");
        assert_eq!(done, 1, "{operation}: exactly one did it");
        assert_eq!(done + already + locked, 8);
        let request = bed.store.get_request(&id).await.unwrap().value;
        assert!(request.lock.is_none(), "{operation}: the lock was released");
    }
    assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 1);
    assert_eq!(bed.runs_for("apply", &id), 1);
    let snapshot = bed.sim.snapshot();
    let approvals = snapshot["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "APPROVED")
        .count();
    assert_eq!(approvals, 1, "one GitHub review");
    let merges = snapshot["pulls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["merged_at"].is_string())
        .count();
    assert_eq!(merges, 1);

    let kinds = bed.event_kinds(&id).await;
    for kind in ["request_approved", "pr_merged", "apply_dispatched"] {
        assert_eq!(kinds.iter().filter(|k| *k == kind).count(), 1, "{kinds:?}");
    }
}

with_both_stores!(races);
