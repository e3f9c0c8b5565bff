//! `cargo bench --bench github_sync`: what observing dispatched runs costs in
//! GitHub's rate limit, against the simulator.
//!
//! Three ways to watch N runs over 10 sync cycles (the runs complete half way):
//! - per run, no cache: one GET per run per cycle (the system we replace);
//! - per run through the rate-aware layer: conditional GETs, 304 when unchanged;
//! - per repository: one conditional list call per 100 runs, as sync does.
//!
//! Printed per strategy: calls by outcome (counted by the client), primary rate
//! limit spent (read from the simulator, which charges as GitHub does) and wall
//! time. Cycles are 16 s apart on tokio's paused clock, past every cache TTL, so
//! the caches never answer for free. Without `--bench` (as `cargo test
//! --all-targets` runs it) it is a smoke run over 20 runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "../tests/support/sim.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tfpilot::github::{DispatchInputs, GitHub, RepoId};
use tfpilot::sim::{SimOptions, Simulator};

const CYCLES: usize = 10;

async fn spent(sim: &Simulator, login: &str) -> u64 {
    let probe = support::client(sim, login);
    let rate = probe.rate_limit().await.unwrap();
    rate.limit - rate.remaining
}

fn outcomes(github: &GitHub) -> BTreeMap<&'static str, u64> {
    let mut totals = BTreeMap::new();
    for count in github.transport().call_counts() {
        *totals.entry(count.outcome).or_default() += count.count;
    }
    totals
}

async fn next_cycle(sim: &Simulator, cycle: usize) {
    // Half way through, every run finishes: bodies change once.
    let sim_step = if cycle == CYCLES / 2 {
        Duration::from_secs(60)
    } else {
        Duration::ZERO
    };
    sim.advance(sim_step);
    tokio::time::advance(Duration::from_secs(16)).await;
}

async fn per_run(
    sim: &Simulator,
    repo: &RepoId,
    runs: &[u64],
    login: &str,
    reuse_client: bool,
) -> (BTreeMap<&'static str, u64>, u64, Duration) {
    let started = Instant::now();
    let before = spent(sim, login).await;
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut github = support::client(sim, login);
    for cycle in 0..CYCLES {
        if !reuse_client {
            for (outcome, count) in outcomes(&github) {
                *totals.entry(outcome).or_default() += count;
            }
            github = support::client(sim, login);
        }
        for run in runs {
            github.get_run(repo, *run).await.unwrap();
        }
        next_cycle(sim, cycle).await;
    }
    for (outcome, count) in outcomes(&github) {
        *totals.entry(outcome).or_default() += count;
    }
    let cost = spent(sim, login).await - before;
    (totals, cost, started.elapsed())
}

async fn per_repo(
    sim: &Simulator,
    repo: &RepoId,
    count: usize,
    login: &str,
) -> (BTreeMap<&'static str, u64>, u64, Duration) {
    let started = Instant::now();
    let before = spent(sim, login).await;
    let github = support::client(sim, login);
    let pages = count.div_ceil(100) as u32;
    for cycle in 0..CYCLES {
        let mut seen = 0;
        for page in 1..=pages {
            seen += github
                .list_dispatch_runs(repo, page, 100)
                .await
                .unwrap()
                .workflow_runs
                .len();
        }
        assert_eq!(seen, count);
        next_cycle(sim, cycle).await;
    }
    let cost = spent(sim, login).await - before;
    (outcomes(&github), cost, started.elapsed())
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = if benchmarking { 200 } else { 20 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = support::simulator(SimOptions::default()).await;
        println!("github_sync: watching {count} dispatched runs for {CYCLES} cycles (runs complete after cycle {})", CYCLES / 2);
        println!("{:<34} {:>8} {:>8} {:>8} {:>12} {:>10}", "strategy", "200", "304", "cached", "rate limit", "wall");
        let (repo, runs) = seed(&sim, "naive", count).await;
        let naive = per_run(&sim, &repo, &runs, "naive", false).await;
        let (repo, runs) = seed(&sim, "etag", count).await;
        let etag = per_run(&sim, &repo, &runs, "etag", true).await;
        let (repo, _) = seed(&sim, "lister", count).await;
        let listed = per_repo(&sim, &repo, count, "lister").await;
        for (name, (totals, cost, wall)) in [
            ("per run, no cache", naive),
            ("per run, conditional (ETag)", etag),
            ("per repository list, conditional", listed),
        ] {
            let get = |key| totals.get(key).copied().unwrap_or(0);
            println!(
                "{name:<34} {:>8} {:>8} {:>8} {:>12} {:>9.0?}",
                get("200"),
                get("304"),
                get("cached"),
                cost,
                wall
            );
        }
    });
}

/// A repository of its own with `count` queued runs, so each strategy sees the
/// runs change exactly once.
async fn seed(sim: &Simulator, name: &str, count: usize) -> (RepoId, Vec<u64>) {
    let files = BTreeMap::from([("envs/dev/tfpilot.tf".to_string(), String::new())]);
    sim.create_repo("acme", name, support::with_workflows(files))
        .unwrap();
    support::grant_team(sim, "acme", name);
    // Each strategy watches as a login of its own (named like its repository), a reader there.
    sim.grant("acme", name, name, tfpilot::sim::access::Permission::Read)
        .unwrap();
    let repo = RepoId::new("acme", name);
    let github = support::client(sim, "seeder");
    let mut runs = Vec::new();
    for index in 0..count {
        let inputs = DispatchInputs {
            request_id: format!("req_{index:04}"),
            environment: "dev".into(),
            dispatch_id: format!("{name}-{index}"),
            scope: None,
            block_id: None,
        };
        runs.push(
            github
                .dispatch(&repo, "tfpilot-plan.yml", "main", &inputs)
                .await
                .unwrap()
                .run_id
                .unwrap(),
        );
    }
    (repo, runs)
}
