//! `cargo bench --bench terminal`: the real `tfpilot` binary in a pseudo-terminal (200x60), on a
//! sandbox whose store holds 10,000 requests, timed as a user sees it: the screen is kept by a
//! terminal emulator (vt100) fed with what the process writes.
//!
//! Printed:
//! - first frame: from spawning the process to the first frame that shows every request
//!   (` requests 10000/10000 `), for a cold start (no cache file, no shared index), a new machine
//!   (no cache file, the bucket's shared index) and a warm start (the cache file from the last
//!   run); medians of 3 starts;
//! - memory: the process's resident set (VmRSS) and its peak (VmHWM) 1.5 s after that frame,
//!   side by side with the same dashboard on a sandbox with no requests;
//! - key press to frame: from writing `j` or `k` to the pty to the selection marker having moved
//!   on the emulated screen, p50/p99/max, with the poller at its defaults and nothing changing
//!   (baseline), then with the poller busy: listing every 500 ms while another process changes
//!   20 documents a second, so every listing brings changed documents to fetch, fold and re-sort.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run: 300 requests,
//! one start each, 20 key presses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "../tests/support/dashboard.rs"]
mod dashboard;
#[path = "../tests/support/pty.rs"]
mod pty;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use pty::{Home, Session};
use tfpilot::domain::{Status, Timestamp};
use tfpilot::store::shared_index::INDEX_KEY;
use tfpilot::store::{LocalStore, Store};

const ROWS: u16 = 60;
const COLS: u16 = 200;

/// Statuses that leave the poller nothing to sync on GitHub, so the figures are the store's
/// and the screen's alone.
const SETTLED: [Status; 3] = [Status::Applied, Status::Destroyed, Status::Failed];

struct Start {
    first_frame: Duration,
    rss_kib: u64,
    peak_kib: u64,
}

fn store(dir: &Path) -> Store {
    Store::new(Arc::new(LocalStore::open_or_create(dir).expect("store")))
}

async fn seed(store: &Store, count: usize) {
    futures::stream::iter(0..count)
        .for_each_concurrent(32, |n| {
            let store = store.clone();
            async move {
                let request = dashboard::request(n, SETTLED[n % SETTLED.len()]);
                store.create_request(&request).await.expect("seed");
            }
        })
        .await;
}

fn sandbox(home: &Path, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Session {
    let mut args = vec!["sandbox", "--dir", dir.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    Session::start_with(Home::At(home.to_path_buf()), &args, ROWS, COLS, env)
}

/// Starts the dashboard, waits for `needle`, measures, quits.
fn start(home: &Path, dir: &Path, extra: &[&str], needle: &str) -> Start {
    let mut session = sandbox(home, dir, extra, &[]);
    session.wait_for(needle, Duration::from_secs(300));
    let first_frame = session.spawned.elapsed();
    // Let the first listing settle (the cache file is written after it) before measuring.
    std::thread::sleep(Duration::from_millis(1500));
    let (rss_kib, peak_kib) = pty::resident_kib(session.pid());
    session.quit();
    Start {
        first_frame,
        rss_kib,
        peak_kib,
    }
}

fn median(mut starts: Vec<Start>) -> Start {
    starts.sort_by_key(|s| s.first_frame);
    starts.swap_remove(starts.len() / 2)
}

fn report_start(name: &str, start: &Start) {
    println!(
        "  {name:<46} {:>10.0} ms {:>9.1} MB {:>9.1} MB",
        start.first_frame.as_secs_f64() * 1e3,
        start.rss_kib as f64 / 1024.0,
        start.peak_kib as f64 / 1024.0
    );
}

fn forget_caches(home: &Path) {
    let _ = std::fs::remove_dir_all(home.join("cache"));
}

/// The screen row of the list's selection marker.
fn marker_row(session: &Session) -> Option<usize> {
    session
        .screen
        .screen()
        .rows(0, 60)
        .position(|row| row.contains('›'))
}

/// Presses `j` and `k` in turn (the selection moves between two rows, so the list never
/// scrolls) and times each until the marker has moved on the screen.
fn key_presses(session: &mut Session, presses: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(presses);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for n in 0..presses {
        session.pump(Duration::from_millis(1));
        let before = marker_row(session).expect("a selected row");
        let (key, expected) = if n % 2 == 0 {
            (b"j", before + 1)
        } else {
            (b"k", before - 1)
        };
        let pressed = Instant::now();
        session.send(key);
        loop {
            session.pump(Duration::from_millis(1));
            if marker_row(session) == Some(expected) {
                times.push(pressed.elapsed());
                break;
            }
            assert!(
                pressed.elapsed() < Duration::from_secs(5),
                "the selection never moved:\n{}",
                session.text()
            );
        }
        // A person's pace, uneven, so presses land at every phase of the poller's work.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % 60));
    }
    times
}

fn report_keys(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |p: f64| {
        let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
        times[rank.clamp(1, times.len()) - 1].as_secs_f64() * 1e3
    };
    println!(
        "  {name:<46} {:>5} presses  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        times.len(),
        at(50.0),
        at(99.0),
        times.last().map_or(0.0, |t| t.as_secs_f64() * 1e3)
    );
}

/// Another process changing documents, `per_second` of them, until stopped.
fn churn(dir: &Path, count: usize, per_second: u64, stop: Arc<AtomicBool>) -> u64 {
    let store = store(dir);
    let changed = AtomicU64::new(0);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_second));
        let mut n: usize = 7;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            n = (n * 7919 + 13) % count;
            let id = dashboard::id(n);
            let now = Timestamp(chrono::Utc::now());
            let result = store
                .update_request(&id, now, |doc| {
                    doc.requested_by = format!("churn-{}", changed.load(Ordering::Relaxed));
                    Ok(())
                })
                .await;
            if result.is_ok() {
                changed.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    changed.load(Ordering::Relaxed)
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = if benchmarking { 10_000 } else { 300 };
    let runs = if benchmarking { 3 } else { 1 };
    let presses = if benchmarking { 400 } else { 20 };
    let root = tempfile::tempdir().expect("tempdir");
    let home = root.path().join("home");
    let dir = root.path().join("sandbox");
    let empty = root.path().join("empty");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let requests = store(&dir);
    runtime.block_on(seed(&requests, count));
    let needle = format!(" requests {count}/{count} ");

    println!(
        "terminal: tfpilot sandbox in a {COLS}x{ROWS} pseudo-terminal, {count} requests, median of {runs} starts"
    );
    println!(
        "  {:<46} {:>13} {:>12} {:>12}",
        "start", "first frame", "RSS", "peak RSS"
    );
    let starts = |dir: &Path, extra: &[&str], needle: &str, cold: bool, no_index: bool| {
        median(
            (0..runs)
                .map(|_| {
                    if cold {
                        forget_caches(&home);
                    }
                    if no_index {
                        runtime.block_on(async {
                            let _ = requests.backend().delete(INDEX_KEY, None).await;
                        });
                    }
                    start(&home, dir, extra, needle)
                })
                .collect(),
        )
    };
    let baseline = starts(&empty, &["--no-requests"], " requests 0/0 ", true, false);
    report_start("baseline: no requests", &baseline);
    let cold = starts(&dir, &[], &needle, true, true);
    report_start("cold: no cache file, no shared index", &cold);
    let indexed = starts(&dir, &[], &needle, true, false);
    report_start("new machine: no cache file, shared index", &indexed);
    let warm = starts(&dir, &[], &needle, false, false);
    report_start("warm: cache file from the last start", &warm);
    println!(
        "  {count} requests add {:.1} MB resident over the baseline (warm start)",
        (warm.rss_kib as f64 - baseline.rss_kib as f64) / 1024.0
    );

    println!("key press to frame (j/k, the marker moving on the emulated screen):");
    let mut session = sandbox(&home, &dir, &[], &[]);
    session.wait_for(&needle, Duration::from_secs(300));
    std::thread::sleep(Duration::from_millis(1500));
    report_keys(
        "baseline: poller at its defaults, no changes",
        key_presses(&mut session, presses),
    );
    session.quit();

    let busy = [
        ("TFPILOT_SYNC_INTERVAL_IDLE_MS", "500"),
        ("TFPILOT_SYNC_INTERVAL_ACTIVE_MS", "500"),
    ];
    let mut session = sandbox(&home, &dir, &[], &busy);
    session.wait_for(&needle, Duration::from_secs(300));
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let dir = dir.clone();
        let stop = stop.clone();
        std::thread::spawn(move || churn(&dir, count, 20, stop))
    };
    std::thread::sleep(Duration::from_millis(1500));
    let mut resident = vec![pty::resident_kib(session.pid()).0];
    let started = Instant::now();
    let times = key_presses(&mut session, presses);
    let elapsed = started.elapsed();
    resident.push(pty::resident_kib(session.pid()).0);
    // Whether memory settles or keeps growing under the same load, with no keys pressed.
    for _ in 0..if benchmarking { 4 } else { 1 } {
        let until = Instant::now() + Duration::from_secs(if benchmarking { 15 } else { 2 });
        while Instant::now() < until {
            session.pump(Duration::from_millis(50));
        }
        resident.push(pty::resident_kib(session.pid()).0);
    }
    let busy_for = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let changed = churner.join().expect("churn");
    report_keys("busy: listing every 500 ms, 20 changes/s", times);
    println!(
        "    ({presses} keys pressed over {:.1} s; {changed} documents changed by another process over {:.0} s)",
        elapsed.as_secs_f64(),
        busy_for.as_secs_f64()
    );
    let samples: Vec<String> = resident
        .iter()
        .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
        .collect();
    println!(
        "    resident during the busy run (MB): {} (peak {:.1})",
        samples.join(" -> "),
        pty::resident_kib(session.pid()).1 as f64 / 1024.0
    );
    session.quit();
}
