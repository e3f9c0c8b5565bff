//! `cargo bench --bench startup`: the real `tfpilot` binary in a pseudo-terminal, on a sandbox
//! whose store holds 10,000 requests.
//!
//! Printed, for a cold start (no cache file, no shared index), a new machine (no cache file, the
//! bucket's shared index) and a warm start (the cache file from the last run):
//! - time from spawning the process to the first frame that shows every request
//!   (` requests 10000/10000 ` on the screen, as parsed by a terminal emulator);
//! - the process's resident memory then (VmRSS) and its peak (VmHWM), from /proc.
//!
//! Side by side, in the same run: the same dashboard on a sandbox with no requests, the memory
//! baseline of the process itself. Medians of 3 starts each. Without `--bench` (as
//! `cargo test --all-targets` runs it) it is a smoke run over 300 requests.

#[path = "../tests/support/dashboard.rs"]
mod dashboard;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use tfpilot::domain::Status;
use tfpilot::store::shared_index::INDEX_KEY;
use tfpilot::store::{LocalStore, ObjectStore, Store};

const ROWS: u16 = 60;
const COLS: u16 = 200;

struct Start {
    first_frame: Duration,
    rss_kb: u64,
    peak_kb: u64,
}

/// Statuses that leave the poller nothing to sync, so the figures are the listing's alone.
const SETTLED: [Status; 3] = [Status::Applied, Status::Destroyed, Status::Failed];

async fn seed(dir: &Path, count: usize) {
    let store = Store::new(Arc::new(LocalStore::open_or_create(dir).expect("store")));
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

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// Starts `tfpilot sandbox --dir DIR EXTRA...` and waits for `needle` on the screen.
fn start(home: &Path, dir: &Path, extra: &[&str], needle: &str) -> Start {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_tfpilot"));
    command.args(["sandbox", "--dir", dir.to_str().expect("utf-8 path")]);
    command.args(extra);
    command.env("HOME", home);
    for (var, sub) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_DATA_HOME", "data"),
    ] {
        command.env(var, home.join(sub));
    }
    command.env("TFPILOT_KEYRING", "off");
    command.env("TERM", "xterm-256color");
    let started = Instant::now();
    let mut child = pty.slave.spawn_command(command).expect("spawn tfpilot");
    drop(pty.slave);
    let pid = child.process_id().expect("a pid");
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let (sender, output) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 65536];
        while let Ok(read) = reader.read(&mut buffer) {
            if read == 0 || sender.send(buffer[..read].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut screen = vt100::Parser::new(
        std::num::NonZeroU16::new(ROWS).expect("rows"),
        std::num::NonZeroU16::new(COLS).expect("cols"),
        0,
    );
    let deadline = started + Duration::from_secs(300);
    let first_frame = loop {
        if let Ok(bytes) = output.recv_timeout(Duration::from_millis(5)) {
            screen.process(&bytes);
            if screen.screen().contents().contains(needle) {
                break started.elapsed();
            }
        }
        assert!(
            Instant::now() < deadline,
            "never saw {needle:?}:\n{}",
            screen.screen().contents()
        );
    };
    // Let the first listing settle (the cache file is written after it) before measuring.
    std::thread::sleep(Duration::from_millis(1500));
    let rss_kb = status_kb(pid, "VmRSS:");
    let peak_kb = status_kb(pid, "VmHWM:");
    let mut writer = pty.master.take_writer().expect("writer");
    let _ = writer.write_all(b"q");
    let _ = writer.flush();
    let quit_by = Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > quit_by {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Start {
        first_frame,
        rss_kb,
        peak_kb,
    }
}

fn median(mut starts: Vec<Start>) -> Start {
    starts.sort_by_key(|s| s.first_frame);
    starts.swap_remove(starts.len() / 2)
}

fn report(name: &str, start: &Start) {
    println!(
        "  {name:<46} {:>10.0} ms {:>9.1} MB {:>9.1} MB",
        start.first_frame.as_secs_f64() * 1e3,
        start.rss_kb as f64 / 1024.0,
        start.peak_kb as f64 / 1024.0
    );
}

fn forget_caches(home: &Path) {
    let _ = std::fs::remove_dir_all(home.join("cache"));
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = if benchmarking { 10_000 } else { 300 };
    let runs = if benchmarking { 3 } else { 1 };
    let root = tempfile::tempdir().expect("tempdir");
    let home = root.path().join("home");
    // portable-pty starts the child in $HOME, so it has to exist.
    std::fs::create_dir_all(&home).expect("home");
    let dir: PathBuf = root.path().join("sandbox");
    let empty: PathBuf = root.path().join("empty");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(seed(&dir, count));
    let needle = format!(" requests {count}/{count} ");
    let backend = LocalStore::open_or_create(&dir).expect("store");

    println!(
        "startup: tfpilot sandbox in a {COLS}x{ROWS} pseudo-terminal, {count} requests, median of {runs}"
    );
    println!(
        "  {:<46} {:>13} {:>12} {:>12}",
        "start", "first frame", "RSS", "peak RSS"
    );
    let baseline = median(
        (0..runs)
            .map(|_| {
                forget_caches(&home);
                start(&home, &empty, &["--no-requests"], " requests 0/0 ")
            })
            .collect(),
    );
    report("baseline: no requests", &baseline);

    let cold = median(
        (0..runs)
            .map(|_| {
                forget_caches(&home);
                runtime.block_on(async {
                    let _ = backend.delete(INDEX_KEY, None).await;
                });
                start(&home, &dir, &[], &needle)
            })
            .collect(),
    );
    report("cold: no cache file, no shared index", &cold);
    let indexed = median(
        (0..runs)
            .map(|_| {
                forget_caches(&home);
                start(&home, &dir, &[], &needle)
            })
            .collect(),
    );
    report("new machine: no cache file, shared index", &indexed);
    let warm = median(
        (0..runs)
            .map(|_| start(&home, &dir, &[], &needle))
            .collect(),
    );
    report("warm: cache file from the last start", &warm);
    println!(
        "  {count} requests add {:.1} MB resident over the baseline (warm start)",
        (warm.rss_kb as f64 - baseline.rss_kb as f64) / 1024.0
    );
}
