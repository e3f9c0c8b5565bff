//! Eight tfpilot processes racing approve, merge and apply on the same requests, round after
//! round, on one store and one simulated GitHub: exactly one dispatch and one effect per
//! operation, no lost update, no unreadable document.
//!
//! The suite runs 3 rounds per store; `TFPILOT_SOAK_ROUNDS=200` (`scripts/soak`) runs 200.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod sim;

use cli::setup;
use tfpilot::domain::{Status, derive_status};

const PROCESSES: usize = 8;

fn rounds() -> usize {
    std::env::var("TFPILOT_SOAK_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

#[derive(Debug, Default)]
struct Tally {
    done: usize,
    already: usize,
    locked: usize,
}

async fn race(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let rounds = rounds();
    let mut totals = Tally::default();
    for round in 0..rounds {
        let id = bed
            .planned("dev", &format!("payments-dev-race{round}"))
            .await;
        for operation in ["approve", "merge", "apply"] {
            let args = [operation, id.as_str(), "--yes"];
            let presses = (0..PROCESSES).map(|n| {
                let login = if n % 2 == 0 { "bob" } else { "admin" };
                cli.run(login, &args)
            });
            let mut tally = Tally::default();
            for (code, out, err) in futures::future::join_all(presses).await {
                match code {
                    0 if out["result"] == "done" => tally.done += 1,
                    0 => {
                        assert_eq!(out["result"], "already_done", "{operation}: {out}");
                        tally.already += 1;
                    }
                    4 => {
                        assert!(err.contains("locked by"), "{operation}: {err}");
                        tally.locked += 1;
                    }
                    other => panic!("round {round} {operation}: exit {other}: {err}"),
                }
            }
            assert_eq!(tally.done, 1, "round {round} {operation}: {tally:?}");
            totals.done += tally.done;
            totals.already += tally.already;
            totals.locked += tally.locked;
        }

        // One effect each on GitHub.
        assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 1, "round {round}");
        assert_eq!(bed.runs_for("apply", &id), 1, "round {round}");
        let snapshot = bed.sim.snapshot();
        let request = bed.store.get_request(&id).await.expect("readable").value;
        let number = request
            .pr
            .as_deref()
            .and_then(|pr| pr.number)
            .expect("a PR");
        let approvals = snapshot["reviews"]
            .as_array()
            .expect("reviews")
            .iter()
            .filter(|r| r["pull"] == number && r["state"] == "APPROVED")
            .count();
        assert_eq!(approvals, 1, "round {round}: one GitHub review");

        // Every write landed: the approval, the merge and the run are all in the document.
        assert_eq!(derive_status(&request), Status::Applying, "round {round}");
        assert!(request.approval.as_deref().is_some_and(|a| a.approved));
        assert!(request.merged_sha.is_some());
        assert!(
            request
                .apply_run
                .as_deref()
                .is_some_and(|run| run.id.is_some())
        );
        assert!(
            request.lock.is_none(),
            "round {round}: the lock was released"
        );
        let kinds = bed.event_kinds(&id).await;
        for kind in ["request_approved", "pr_merged", "apply_dispatched"] {
            assert_eq!(
                kinds.iter().filter(|k| *k == kind).count(),
                1,
                "round {round}: {kinds:?}"
            );
        }
    }
    // Every document in the store is still readable.
    let (code, listed, err) = cli.run("alice", &["list"]).await;
    assert_eq!(code, 0, "{err}");
    let listed = listed.as_array().expect("a list").clone();
    assert_eq!(listed.len(), rounds);
    assert!(listed.iter().all(|r| r["error"].is_null()), "{listed:?}");
    eprintln!(
        "{} store, {rounds} rounds x 3 operations x {PROCESSES} processes: {totals:?}",
        if s3 { "S3" } else { "local" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_processes_race_every_operation_local_store() {
    race(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_processes_race_every_operation_s3_store() {
    race(true).await;
}
