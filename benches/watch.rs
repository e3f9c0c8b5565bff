//! `cargo bench --bench watch`: one simulated hour of watching 100 active requests spread over 5
//! repositories, against the simulator, with the poller the dashboard runs.
//!
//! The hour: every request has a plan run in flight at the start, each run taking an hour, the
//! runs staggered so that one finishes every 35 s on average. A minute after each finishes, its developer
//! plans it again (another hour-long run), so about 100 requests stay active throughout. The
//! watcher (its own GitHub login and client, production settings) runs the real `Poller`.
//!
//! Printed:
//! - the watcher's GitHub calls by outcome, counted by its client: `200` and other answers count
//!   against the primary rate limit, `304` does not, `cached` never left the process;
//! - the same hour watched the old way, side by side in the same run: a per-request poller that
//!   GETs each request's pull request and run every active interval (3 s), without ETags;
//! - status lag: for each finished run, the simulated time from the run finishing to the poller
//!   delivering `plan_ready` (what the dashboard shows on receipt), p50/p95/max.
//!
//! tokio's clock is paused and the simulator's clock follows it (within 100 ms), so an hour
//! takes seconds of wall time and the figures do not depend on the machine. Without `--bench`
//! (as `cargo test --all-targets` runs it) it is a smoke run: 10 requests for 6 minutes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "../tests/support/sim.rs"]
mod sim_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tfpilot::domain::Status;
use tfpilot::engine::{CreateInput, Engine, PollEvent, Poller, PollerConfig};
use tfpilot::github::{GitHub, GitHubSettings, RepoId};
use tfpilot::sim::{SimClock, SimOptions, Simulator};
use tfpilot::store::{LocalStore, Store};
use tokio::time::Instant;

const REPOS: usize = 5;
const RUN_SECONDS: u64 = 3600;
const THINK_SECONDS: u64 = 60;
const POLICY: &str = r#"{"admins": ["admin"], "approvers": ["bob"], "prod_environments": []}"#;

struct Scale {
    requests: usize,
    hour: Duration,
    /// Seconds between one run finishing and the next.
    stagger: u64,
}

fn github(base_url: &str, login: &str, ttl_cache: bool) -> GitHub {
    // Production settings but for timeouts: on a paused clock they would fire at once.
    let mut settings = GitHubSettings::new(base_url).without_timeouts();
    if !ttl_cache {
        settings = settings.without_ttl_cache();
    }
    GitHub::connect(&settings, &format!("sim-{login}")).expect("client")
}

fn outcomes(github: &GitHub, into: &mut BTreeMap<&'static str, u64>) {
    for count in github.transport().call_counts() {
        *into.entry(count.outcome).or_default() += count.count;
    }
}

async fn team(store: &Store, sim: &Simulator) {
    let module = std::fs::read("examples/store/config/modules/s3-bucket.json").expect("module");
    let mut projects = Map::new();
    for repo in 0..REPOS {
        let name = format!("infra-{repo}");
        let files = BTreeMap::from([(
            "envs/dev/tfpilot.tf".to_string(),
            sim_support::PREAMBLE.to_string(),
        )]);
        sim.create_repo("acme", &name, sim_support::with_workflows(files))
            .expect("repo");
        sim_support::grant_team(sim, "acme", &name);
        projects.insert(
            format!("team{repo}"),
            json!({"dev": {"owner": "acme", "repo": name, "base": "main",
                           "env_path": "envs/dev", "file": "tfpilot.tf"}}),
        );
    }
    let registry = serde_json::to_vec(&json!({ "projects": projects })).expect("json");
    for (key, body) in [
        ("config/modules/s3-bucket.json", module),
        ("config/infra-repos.json", registry),
        ("config/policy.json", POLICY.as_bytes().to_vec()),
    ] {
        store.put_once(key, body).await.expect("team config");
    }
}

async fn engine(store: &Store, sim: &Simulator, login: &str, ttl_cache: bool) -> Engine {
    let team = store.load_team_config().await.expect("team config");
    assert!(team.problems.is_empty(), "{:?}", team.problems);
    Engine::new(
        store.clone(),
        github(sim.base_url(), login, ttl_cache),
        team,
        login,
    )
    .with_holder(format!("{login}@bench"))
}

fn bucket(n: usize) -> CreateInput {
    let values: Map<String, Value> = json!({"bucket_name": format!("watch-bench-{n}")})
        .as_object()
        .cloned()
        .unwrap_or_default();
    CreateInput {
        project: format!("team{}", n % REPOS),
        environment: "dev".into(),
        module: "s3-bucket".into(),
        values,
        idempotency_key: None,
        template: None,
        assistant: None,
    }
}

/// Keeps the simulator's clock on tokio's (paused) clock, so runs progress as the hour passes.
async fn follow_clock(clock: SimClock, start: Instant, stop: Arc<AtomicBool>) {
    let mut moved = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = start.elapsed();
        clock.advance(now - moved);
        moved = now;
    }
}

/// The old design: every active interval, per request, GET its pull request and its run.
async fn per_request_poller(
    store: Store,
    base_url: String,
    ids: Vec<String>,
    calls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> BTreeMap<&'static str, u64> {
    let mut totals = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        // A fresh client each round: the old poller kept no ETags.
        let client = github(&base_url, "legacy", false);
        for id in &ids {
            let Ok(doc) = store.get_request(id).await else {
                continue;
            };
            let request = doc.value;
            let Some(target) = &request.target else {
                continue;
            };
            let repo = RepoId::new(&target.owner, &target.repo);
            if let Some(number) = request.pr.as_deref().and_then(|pr| pr.number) {
                let _ = client.get_pull(&repo, number).await;
                calls.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(run) = request.plan_run.as_deref().and_then(|run| run.id) {
                let _ = client.get_run(&repo, run).await;
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }
        outcomes(&client, &mut totals);
    }
    totals
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn hour(scale: Scale, with_baseline: bool) {
    let wall = std::time::Instant::now();
    let sim = sim_support::simulator(SimOptions {
        queue_seconds: 0,
        run_seconds: RUN_SECONDS,
        rate_limit: 5_000,
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::new(Arc::new(
        LocalStore::open_or_create(dir.path().join("store")).expect("store"),
    ));
    team(&store, &sim).await;
    // The developers' own budget is not the watcher's; give them room.
    // The baseline is never throttled, so it shows every call it would make.
    sim.set_rate_limit_ceiling("alice", 1_000_000, Duration::from_secs(7200));
    sim.set_rate_limit_ceiling("legacy", u32::MAX, Duration::from_secs(7200));
    let alice = engine(&store, &sim, "alice", false).await;

    // Staggered dispatches, `stagger` s apart on average (jitter of 2 s), so that
    // runs finish at every phase of the poller's 3 s cycle rather than in step with it.
    let mut ids = Vec::new();
    let mut dispatched = Vec::new();
    let first = sim.clock().now();
    let mut jitter: u64 = 0x9e37_79b9;
    for n in 0..scale.requests {
        dispatched.push(sim.clock().now() - first);
        ids.push(alice.create(bucket(n)).await.expect("create").request.id);
        jitter = jitter
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let step = (scale.stagger - 1) * 1000 + (jitter >> 33) % 2000;
        if n + 1 < scale.requests {
            sim.advance(Duration::from_millis(step));
        }
    }
    // The hour starts when the first run finishes.
    let run = chrono::Duration::seconds(RUN_SECONDS as i64);
    let until_first = run - (sim.clock().now() - first);
    sim.advance(
        until_first
            .to_std()
            .expect("the runs outlast the dispatching"),
    );
    let finishes: Vec<Duration> = dispatched
        .iter()
        .map(|at| at.to_std().expect("after the first"))
        .collect();
    let index: HashMap<String, usize> = ids.iter().cloned().zip(0..).collect();

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let clock = tokio::spawn(follow_clock(sim.clock().clone(), start, stop.clone()));
    let legacy_calls = Arc::new(AtomicU64::new(0));
    let legacy = with_baseline.then(|| {
        tokio::spawn(per_request_poller(
            store.clone(),
            sim.base_url().to_string(),
            ids.clone(),
            legacy_calls.clone(),
            stop.clone(),
        ))
    });
    let replans = {
        let ids = ids.clone();
        let finishes = finishes.clone();
        tokio::spawn(async move {
            for (n, id) in ids.iter().enumerate() {
                let at = start + finishes[n] + Duration::from_secs(THINK_SECONDS);
                tokio::time::sleep_until(at).await;
                alice.plan(id, None).await.expect("plan again");
            }
        })
    };

    let watcher = engine(&store, &sim, "bob", true).await;
    let watcher_github = watcher.github().clone();
    let (sender, mut events) = tokio::sync::mpsc::channel(256);
    let poller = tokio::spawn(Poller::new(watcher, PollerConfig::default()).run(sender));

    let mut lags: Vec<f64> = Vec::new();
    let mut seen_ready = vec![false; ids.len()];
    let mut failures = 0;
    let end = start + scale.hour;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::time::sleep_until(end) => None,
        };
        match event {
            Some(PollEvent::Synced(report)) => {
                let Some(&n) = index.get(&report.id) else {
                    continue;
                };
                if report.status == Status::PlanReady && !seen_ready[n] {
                    seen_ready[n] = true;
                    lags.push((start.elapsed() - finishes[n]).as_secs_f64());
                }
            }
            Some(PollEvent::Failed { .. } | PollEvent::RateLimited { .. }) => failures += 1,
            Some(_) => {}
            None => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    poller.abort();
    replans.abort();
    let _ = clock.await;

    let mut watched = BTreeMap::new();
    outcomes(&watcher_github, &mut watched);
    let get =
        |totals: &BTreeMap<&'static str, u64>, key: &str| totals.get(key).copied().unwrap_or(0);
    let primary = |totals: &BTreeMap<&'static str, u64>| {
        totals
            .iter()
            .filter(|(outcome, _)| !matches!(**outcome, "304" | "cached" | "network"))
            .map(|(_, count)| count)
            .sum::<u64>()
    };
    println!(
        "watch: {} requests over {REPOS} repositories, {} min simulated, one run finishing every {} s",
        scale.requests,
        scale.hour.as_secs() / 60,
        scale.stagger
    );
    println!(
        "  {:<46} {:>9} {:>9} {:>9}",
        "who", "primary", "304", "cached"
    );
    println!(
        "  {:<46} {:>9} {:>9} {:>9}",
        "tfpilot poller (per-repo run listing)",
        primary(&watched),
        get(&watched, "304"),
        get(&watched, "cached")
    );
    if let Some(legacy) = legacy {
        let totals = legacy.await.expect("legacy poller");
        println!(
            "  {:<46} {:>9} {:>9} {:>9}",
            "baseline: per-request poller, no ETags",
            primary(&totals),
            get(&totals, "304"),
            get(&totals, "cached")
        );
        let per_hour =
            legacy_calls.load(Ordering::Relaxed) as f64 * 3600.0 / scale.hour.as_secs_f64();
        println!(
            "  baseline would exhaust GitHub's 5,000/hour after {:.0} s",
            5000.0 * 3600.0 / per_hour
        );
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "  status lag, run finished -> plan_ready delivered ({} runs): p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        lags.len(),
        percentile(&lags, 50.0),
        percentile(&lags, 95.0),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    println!("  tfpilot's calls by endpoint and outcome:");
    for count in watcher_github.transport().call_counts() {
        println!(
            "    {:<56} {:>7} {:>7}",
            count.endpoint, count.outcome, count.count
        );
    }
    println!("  poller failures: {failures}");
    println!("  wall time: {:.1?}", wall.elapsed());
    assert_eq!(failures, 0, "the poller reported failures");
    assert!(
        lags.len() as u64 >= (scale.hour.as_secs() / scale.stagger).min(scale.requests as u64) - 1,
        "every run that finished within the hour was seen"
    );
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let scale = if benchmarking {
        Scale {
            requests: 100,
            hour: Duration::from_secs(3600),
            stagger: 35,
        }
    } else {
        Scale {
            requests: 10,
            hour: Duration::from_secs(360),
            stagger: 36,
        }
    };
    let baseline = std::env::var_os("TFPILOT_BENCH_NO_BASELINE").is_none();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(hour(scale, baseline));
}
