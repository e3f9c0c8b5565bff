//! R3: the real binary killed with SIGKILL after each step of create and of apply, then run
//! again (or reconcile run) on the same store and GitHub: exactly one branch, one pull request
//! and one run each.
//!
//! A step is caught by making GitHub slow on it: held before its handler (the process dies
//! after the previous step, this one never happened) or after it (GitHub acted, the answer never
//! came). The process is killed while it waits. A lock the dead process left is expired by
//! moving its expiry back (what two minutes of waiting would do).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
#[macro_use]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod sim;

use std::time::{Duration, Instant};

use bed::Bed;
use cli::{Cli, setup};
use tfpilot::domain::{Status, Timestamp, derive_status};
use tfpilot::sim::FaultRule;

const DISPATCH: &str = "/repos/*/actions/workflows/*/dispatches";

/// The GitHub writes of each operation, in order.
const CREATE_STEPS: [(&str, &str, &str); 4] = [
    ("branch", "POST", "/repos/*/git/refs"),
    ("commit", "PUT", "/repos/*/contents/*"),
    ("pull request", "POST", "/repos/*/pulls"),
    ("plan dispatch", "POST", DISPATCH),
];
const APPLY_STEPS: [(&str, &str, &str); 2] = [
    ("apply tag", "POST", "/repos/*/git/refs"),
    ("apply dispatch", "POST", DISPATCH),
];

/// Runs `args` as `login` and kills it with SIGKILL while GitHub holds `method path`, before or
/// after acting on it.
async fn kill_during(
    bed: &Bed,
    cli: &Cli,
    login: &str,
    args: &[&str],
    step: (&str, &str),
    after: bool,
) {
    let (method, path) = step;
    bed.sim.add_fault(FaultRule {
        method: Some(method.into()),
        latency_ms: Some(60_000),
        after_handler: after,
        times: Some(1),
        ..FaultRule::on(path)
    });
    let mut child = cli.command(login, args).spawn().expect("spawn tfpilot");
    let started = Instant::now();
    while bed.sim.pending_faults() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{method} {path} never arrived"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("tfpilot finished ({status}) before {method} {path}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Held before the handler: nothing happened yet. After: give the handler its moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().await.expect("SIGKILL");
    bed.sim.clear_faults();
}

/// How many of the step's own effects GitHub shows for `id`, where they can be counted.
fn effects(bed: &Bed, step: &str, id: &str) -> Option<usize> {
    match step {
        "branch" => Some(bed.branches_for(id)),
        "pull request" => Some(bed.pulls_for(id)),
        "plan dispatch" => Some(bed.runs_for("plan", id)),
        "apply dispatch" => Some(bed.runs_for("apply", id)),
        _ => None,
    }
}

/// What two minutes of waiting would do to a lock the dead process left.
async fn expire_lock(bed: &Bed, id: &str) {
    let past = Timestamp(chrono::Utc::now()).minus_seconds(1);
    bed.store
        .update_request(id, past, |r| {
            if let Some(lock) = r.lock.as_deref_mut() {
                lock.expires_at = past;
            }
            Ok(())
        })
        .await
        .expect("the document is readable");
}

async fn create_killed_after_each_step(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    for (n, (step, method, path)) in CREATE_STEPS.into_iter().enumerate() {
        for after in [false, true] {
            let key = format!("killed-{n}-{after}");
            let name = format!("bucket_name=payments-dev-killed{n}{}", u8::from(after));
            let args = [
                "create",
                "--module",
                "s3-bucket",
                "--project",
                "payments",
                "--env",
                "dev",
                "--set",
                name.as_str(),
                "--idempotency-key",
                key.as_str(),
            ];
            let when = if after { "after" } else { "before" };
            kill_during(&bed, &cli, "alice", &args, (method, path), after).await;
            let id = bed
                .store
                .get_create_key(&key)
                .await
                .expect("readable")
                .expect("the key was claimed before the first GitHub write")
                .request_id;
            if let Some(count) = effects(&bed, step, &id) {
                assert_eq!(count, usize::from(after), "{step} ({when}): killed there");
            }
            expire_lock(&bed, &id).await;

            let (code, out, err) = cli.run("alice", &args).await;
            assert_eq!(code, 0, "{step} ({when}): {err}");
            assert_eq!(out["id"], id.as_str(), "{step} ({when}): the same request");
            assert_eq!(bed.branches_for(&id), 1, "{step} ({when}): one branch");
            assert_eq!(bed.pulls_for(&id), 1, "{step} ({when}): one pull request");
            assert_eq!(
                bed.runs_for("plan", &id),
                1,
                "{step} ({when}): one plan run"
            );
            let request = bed.store.get_request(&id).await.expect("readable").value;
            assert!(request.lock.is_none(), "{step} ({when})");
            assert!(request.plan_run.as_deref().and_then(|r| r.id).is_some());
        }
    }
}

async fn apply_killed_after_each_step(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    for (n, (step, method, path)) in APPLY_STEPS.into_iter().enumerate() {
        for (m, after) in [false, true].into_iter().enumerate() {
            let when = if after { "after" } else { "before" };
            let id = bed.merged(&format!("payments-dev-apply{n}{m}")).await;
            let key = format!("apply-{n}-{m}");
            let args = [
                "apply",
                id.as_str(),
                "--yes",
                "--idempotency-key",
                key.as_str(),
            ];
            kill_during(&bed, &cli, "bob", &args, (method, path), after).await;
            if let Some(count) = effects(&bed, step, &id) {
                assert_eq!(count, usize::from(after), "{step} ({when}): killed there");
            }
            expire_lock(&bed, &id).await;
            // Half the cases come back through the same command, half through reconcile.
            if m == 0 {
                let (code, out, err) = cli.run("bob", &args).await;
                assert_eq!(code, 0, "{step} ({when}): {err}");
                assert_ne!(out["result"], "already_done", "{step} ({when}): {out}");
            } else {
                let (code, _, err) = cli.run("admin", &["reconcile"]).await;
                assert_eq!(code, 0, "{step} ({when}): {err}");
                let request = bed.store.get_request(&id).await.expect("readable").value;
                if request.apply_run.as_deref().and_then(|r| r.id).is_none() {
                    // Reconcile clears the dead lock; an apply that never reached GitHub is
                    // then asked for again by a person.
                    let (code, _, err) = cli.run("bob", &args).await;
                    assert_eq!(code, 0, "{step} ({when}): {err}");
                }
            }
            assert_eq!(
                bed.runs_for("apply", &id),
                1,
                "{step} ({when}): one apply run"
            );
            assert_eq!(
                bed.dispatches("tfpilot-apply.yml", &id),
                1,
                "{step} ({when})"
            );
            let request = bed.store.get_request(&id).await.expect("readable").value;
            assert!(request.lock.is_none(), "{step} ({when})");
            assert!(request.apply_run.as_deref().and_then(|r| r.id).is_some());
            assert_eq!(derive_status(&request), Status::Applying, "{step} ({when})");
        }
    }
}

on_both_stores!(create_killed_after_each_step, apply_killed_after_each_step);
