//! `cargo bench --bench lifecycle`: what one full lifecycle costs, step by step: GitHub calls
//! (counted by the clients, by endpoint) and store operations (GETs, LISTs, conditional PUTs),
//! against the simulator, with the local store and, when `TFPILOT_TEST_S3_ENDPOINT` is set, S3.
//!
//! Steps: create, sync after the plan, approve, merge, apply, sync after the apply, destroy, sync
//! after the destroy, cleanup, sync after the cleanup check. Each user is a separate engine with
//! its own GitHub client, as separate terminals would be. Without `--bench` (as `cargo test
//! --all-targets` runs it) it is one smoke lifecycle on the local store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "../tests/support/engine.rs"]
mod bed;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/instrumented.rs"]
mod instrumented;
#[path = "../tests/support/sim.rs"]
mod sim;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use instrumented::Instrumented;
use tfpilot::engine::Engine;
use tfpilot::store::ObjectStore;

fn github_calls(engines: &[&Engine]) -> (u64, u64, BTreeMap<String, u64>) {
    let (mut sent, mut cached) = (0, 0);
    let mut by_endpoint = BTreeMap::new();
    for engine in engines {
        for count in engine.github().transport().call_counts() {
            if count.outcome == "cached" {
                cached += count.count;
                continue;
            }
            sent += count.count;
            *by_endpoint.entry(count.endpoint.clone()).or_default() += count.count;
        }
    }
    (sent, cached, by_endpoint)
}

struct Step {
    name: &'static str,
    github: u64,
    store: BTreeMap<&'static str, u64>,
}

async fn lifecycle(backend: Arc<dyn ObjectStore>, print: bool) -> Duration {
    let counting = Arc::new(Instrumented::new(backend, Duration::ZERO));
    let bed = bed::bed(counting.clone()).await;
    let (alice, bob, admin) = (
        bed.engine("alice").await,
        bed.engine("bob").await,
        bed.engine("admin").await,
    );
    counting.take(); // Seeding the team configuration is not part of a lifecycle.
    let engines = [&alice, &bob, &admin];
    let mut steps: Vec<Step> = Vec::new();
    let mut github_before = 0;
    let mut record = |name: &'static str, steps: &mut Vec<Step>| {
        let (sent, _, _) = github_calls(&engines);
        steps.push(Step {
            name,
            github: sent - github_before,
            store: counting.take(),
        });
        github_before = sent;
    };
    let started = Instant::now();
    let id = alice
        .create(bed::bucket("payments-dev-costs", "dev"))
        .await
        .unwrap()
        .request
        .id;
    record("create", &mut steps);
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    record("sync (plan done)", &mut steps);
    bob.approve(&id, None).await.unwrap();
    record("approve", &mut steps);
    alice.merge(&id, None).await.unwrap();
    record("merge", &mut steps);
    bob.apply(&id, None).await.unwrap();
    record("apply", &mut steps);
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    record("sync (apply done)", &mut steps);
    admin.destroy(&id, None).await.unwrap();
    record("destroy", &mut steps);
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    record("sync (destroy done)", &mut steps);
    alice.cleanup(&id, None).await.unwrap();
    record("cleanup", &mut steps);
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    record("sync (check done)", &mut steps);
    let elapsed = started.elapsed();
    if print {
        print_steps(&steps, &engines);
    }
    elapsed
}

fn print_steps(steps: &[Step], engines: &[&Engine]) {
    println!(
        "{:<22} {:>7} {:>5} {:>5} {:>8} {:>11} {:>7}",
        "step", "github", "get", "list", "put-new", "put-update", "writes"
    );
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    let mut github_total = 0;
    for step in steps {
        let n = |kind: &str| step.store.get(kind).copied().unwrap_or(0);
        let writes = n("put-new") + n("put-update") + n("delete");
        println!(
            "{:<22} {:>7} {:>5} {:>5} {:>8} {:>11} {:>7}",
            step.name,
            step.github,
            n("get"),
            n("list"),
            n("put-new"),
            n("put-update"),
            writes
        );
        github_total += step.github;
        for (kind, count) in &step.store {
            *totals.entry(kind).or_default() += count;
        }
        *totals.entry("writes").or_default() += writes;
    }
    let n = |kind: &str| totals.get(kind).copied().unwrap_or(0);
    println!(
        "{:<22} {:>7} {:>5} {:>5} {:>8} {:>11} {:>7}",
        "total",
        github_total,
        n("get"),
        n("list"),
        n("put-new"),
        n("put-update"),
        n("writes")
    );
    let (_, cached, by_endpoint) = github_calls(engines);
    println!("GitHub calls by endpoint ({cached} more answered from the cache):");
    for (endpoint, count) in by_endpoint {
        println!("  {count:>3}  {endpoint}");
    }
}

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (_dir, local) = common::local_backend();
        println!("== one lifecycle, local store ==");
        lifecycle(local, true).await;
        if !bench {
            return;
        }
        if let Some(backend) = common::s3_backend().await {
            println!("== one lifecycle, S3 ({}) ==", backend.location());
            lifecycle(backend, true).await;
        }
        for s3 in [false, true] {
            let mut times = Vec::new();
            for _ in 0..10 {
                let (dir, backend) = if s3 {
                    match common::s3_backend().await {
                        Some(backend) => (None, backend),
                        None => break,
                    }
                } else {
                    let (dir, backend) = common::local_backend();
                    (Some(dir), backend)
                };
                times.push(lifecycle(backend, false).await);
                drop(dir);
            }
            if times.is_empty() {
                continue;
            }
            times.sort();
            println!(
                "{}: lifecycle wall time over {} runs: median {:?}, max {:?}",
                if s3 { "s3" } else { "local" },
                times.len(),
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
    });
}
