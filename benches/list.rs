//! `cargo bench --bench list`: listing 10,000 requests, local store and S3-compatible server.
//!
//! Prints, per backend: the LIST + sequential GET-each baseline (what the system we replace
//! did), cold listings (parallel GETs without the shared index; the first cold start, which
//! writes the index; a new machine reading the index) and warm refreshes with nothing changed,
//! each with its wall time and the GET and LIST calls it made (counted at the backend, not
//! self-reported). `TFPILOT_BENCH_DELAY_MS=20` adds a table with a modelled S3 round trip.
//!
//! A plain harness rather than criterion: one baseline sample against S3 takes tens of seconds,
//! and the call counts are the point as much as the times. Run without `--bench` (as
//! `cargo test --all-targets` does) it is a quick smoke run over 200 documents.
//!
//! S3 figures need a server: `TFPILOT_TEST_S3_ENDPOINT=http://127.0.0.1:PORT` (scripts/test
//! shows how to start moto).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/instrumented.rs"]
mod instrumented;

use futures::StreamExt;
use instrumented::Instrumented;
use tfpilot::domain::{Request, Timestamp, parse_request};
use tfpilot::store::listing::cache_file_for;
use tfpilot::store::shared_index::INDEX_KEY;
use tfpilot::store::{LocalStore, ObjectStore, RequestLister, S3Store, Store};

struct Measurement {
    name: &'static str,
    times: Vec<Duration>,
    gets: usize,
    lists: usize,
    listed: usize,
}

/// GETs and LISTs since the last look.
fn reads(counting: &Instrumented) -> (usize, usize) {
    let counts = counting.take();
    let n = |kind: &str| counts.get(kind).copied().unwrap_or(0) as usize;
    (n("get"), n("list"))
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn document(n: usize) -> Request {
    let created = Timestamp::parse("2026-01-01T00:00:00Z")
        .unwrap()
        .plus_seconds(n as i64 * 60);
    let mut request = Request::new(
        format!("req_{n:06}"),
        "payments",
        "dev",
        "s3-bucket",
        "alice",
        created,
    );
    request
        .config
        .insert("bucket_name".into(), format!("bench-bucket-{n}").into());
    request.config.insert("versioning".into(), true.into());
    request
}

async fn seed(store: &Store, count: usize) {
    futures::stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                store
                    .create_request(&document(n))
                    .await
                    .expect("seed document")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

/// The old way: LIST every page, then GET each object one after another.
async fn baseline(store: &Store) -> usize {
    let mut continuation: Option<String> = None;
    let mut parsed = 0;
    loop {
        let page = store
            .list_request_page(continuation.as_deref(), 1000)
            .await
            .unwrap();
        for meta in &page.objects {
            let object = store.backend().get(&meta.key).await.unwrap().unwrap();
            parsed += usize::from(parse_request(&object.body).is_ok());
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => return parsed,
        }
    }
}

async fn seed_backend(label: &str, backend: Arc<dyn ObjectStore>, count: usize) {
    let started = Instant::now();
    seed(&Store::new(backend), count).await;
    eprintln!(
        "{label}: seeded {count} documents in {:.1?}",
        started.elapsed()
    );
}

async fn measure_backend(
    label: &str,
    backend: Arc<dyn ObjectStore>,
    delay: Duration,
    count: usize,
    runs: usize,
) {
    let counting = Arc::new(Instrumented::new(backend, delay));
    let store = Store::new(counting.clone());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache_file = cache_file_for(cache_dir.path(), &store.location());

    let mut results = Vec::new();

    let started = Instant::now();
    let listed = baseline(&store).await;
    let (gets, lists) = reads(&counting);
    results.push(Measurement {
        name: "baseline: LIST + GET each, sequential",
        times: vec![started.elapsed()],
        gets,
        lists,
        listed,
    });

    let mut cold = Measurement {
        name: "cold, no shared index: parallel GETs",
        times: vec![],
        gets: 0,
        lists: 0,
        listed: 0,
    };
    for _ in 0..runs {
        let _ = std::fs::remove_file(&cache_file);
        let mut lister =
            RequestLister::new(store.clone(), Some(cache_file.clone())).with_shared_index(false);
        let started = Instant::now();
        let (entries, _) = lister.refresh().await.unwrap();
        cold.times.push(started.elapsed());
        (cold.gets, cold.lists) = reads(&counting);
        cold.listed = entries.len();
    }
    results.push(cold);

    // The first cold start after the index is gone pays the GETs and writes the index once.
    let _ = store.backend().delete(INDEX_KEY, None).await;
    let _ = std::fs::remove_file(&cache_file);
    reads(&counting);
    let started = Instant::now();
    let (entries, stats) = RequestLister::new(store.clone(), Some(cache_file.clone()))
        .refresh()
        .await
        .unwrap();
    let (gets, lists) = reads(&counting);
    assert!(stats.index_written, "the first cold start writes the index");
    results.push(Measurement {
        name: "cold, first one: GETs, then writes the index",
        times: vec![started.elapsed()],
        gets,
        lists,
        listed: entries.len(),
    });
    let index_bytes = store
        .backend()
        .get(INDEX_KEY)
        .await
        .unwrap()
        .map_or(0, |o| o.body.len());
    reads(&counting);

    let mut cold_indexed = Measurement {
        name: "cold, new machine: LIST + shared index",
        times: vec![],
        gets: 0,
        lists: 0,
        listed: 0,
    };
    for _ in 0..runs {
        let _ = std::fs::remove_file(&cache_file);
        let mut lister = RequestLister::new(store.clone(), Some(cache_file.clone()));
        let started = Instant::now();
        let (entries, stats) = lister.refresh().await.unwrap();
        cold_indexed.times.push(started.elapsed());
        (cold_indexed.gets, cold_indexed.lists) = reads(&counting);
        cold_indexed.listed = entries.len();
        assert_eq!(stats.from_index, count, "every document from the index");
    }
    results.push(cold_indexed);

    let mut warm_disk = Measurement {
        name: "warm: new process, cache file, no change",
        times: vec![],
        gets: 0,
        lists: 0,
        listed: 0,
    };
    let mut warm_memory = Measurement {
        name: "warm: same process, no change",
        times: vec![],
        gets: 0,
        lists: 0,
        listed: 0,
    };
    for _ in 0..runs {
        let mut lister = RequestLister::new(store.clone(), Some(cache_file.clone()));
        let started = Instant::now();
        let (entries, _) = lister.refresh().await.unwrap();
        warm_disk.times.push(started.elapsed());
        (warm_disk.gets, warm_disk.lists) = reads(&counting);
        warm_disk.listed = entries.len();

        let started = Instant::now();
        let (entries, _) = lister.refresh().await.unwrap();
        warm_memory.times.push(started.elapsed());
        (warm_memory.gets, warm_memory.lists) = reads(&counting);
        warm_memory.listed = entries.len();
    }
    results.push(warm_disk);
    results.push(warm_memory);

    let baseline_time = median(&results[0].times);
    println!(
        "\n{label}: {count} documents ({} location)",
        store.location().split(':').next().unwrap_or("?")
    );
    println!(
        "  {:<44} {:>10} {:>7} {:>6} {:>8} {:>8}",
        "measurement", "median", "GETs", "LISTs", "listed", "speedup"
    );
    println!(
        "  (shared index: {index_bytes} bytes gzip for {count} documents; the GET column counts it)"
    );
    for m in &results {
        let time = median(&m.times);
        println!(
            "  {:<44} {:>10.1?} {:>7} {:>6} {:>8} {:>7.1}x",
            m.name,
            time,
            m.gets,
            m.lists,
            m.listed,
            baseline_time.as_secs_f64() / time.as_secs_f64().max(1e-9),
        );
        assert_eq!(m.listed, count, "{}: every document listed", m.name);
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = if benchmarking { 10_000 } else { 200 };
    let runs = if benchmarking { 3 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(LocalStore::open_or_create(dir.path().join("store")).unwrap());
        seed_backend("local directory store", local.clone(), count).await;
        measure_backend("local directory store", local, Duration::ZERO, count, runs).await;

        match std::env::var(common::S3_ENDPOINT_VAR) {
            Ok(endpoint) if !endpoint.is_empty() => {
                let (client, bucket) = common::fresh_bucket(&endpoint).await;
                let s3: Arc<dyn ObjectStore> =
                    Arc::new(S3Store::with_client(client, bucket, "bench".into()));
                let label = format!("S3-compatible server (moto) at {endpoint}");
                seed_backend(&label, s3.clone(), count).await;
                measure_backend(&label, s3.clone(), Duration::ZERO, count, runs).await;
                // A model of S3's first-byte latency (see tests/support/instrumented.rs). Its
                // baseline alone takes minutes at 10,000 documents, so it runs on request.
                let delay_ms = std::env::var("TFPILOT_BENCH_DELAY_MS")
                    .ok()
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .unwrap_or(if benchmarking { 0 } else { 2 });
                if delay_ms > 0 {
                    let delay = Duration::from_millis(delay_ms);
                    measure_backend(
                        &format!("{label} + {delay:?} per call"),
                        s3,
                        delay,
                        count,
                        runs,
                    )
                    .await;
                }
            }
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "CI is set but {} is not: the S3 part cannot be skipped",
                    common::S3_ENDPOINT_VAR
                )
            }
            _ => println!(
                "\nS3: skipped (set {} to an S3-compatible server)",
                common::S3_ENDPOINT_VAR
            ),
        }
    });
}
