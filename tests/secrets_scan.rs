//! R6: no token bytes in what tfpilot shows or keeps. Every CLI test's output, `--json` output,
//! trace-level log and leftover files are scanned by the shared harness (`support/home.rs`,
//! `support/cli.rs`); this file checks that the scan can see what it looks for, scans the
//! snapshots, and checks the `Debug` output (what a panic message or an error chain could carry)
//! of everything that holds a secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/home.rs"]
mod home;

use home::Home;
use home::secrets::{AWS_TEST_SECRET, assert_clean, find_secret, secrets_under};
use tfpilot::github::{GitHub, GitHubSettings};
use tfpilot::sim::{SimOptions, Simulator};

#[test]
fn the_scan_finds_what_it_looks_for() {
    for text in [
        "Authorization: token sim-alice",
        "GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "key AKIAIOSFODNN7EXAMPLE",
        AWS_TEST_SECRET,
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "-----BEGIN RSA PRIVATE KEY-----",
        "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3NjUwMDAwMDAsImlzcyI6IjEyMyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU",
    ] {
        assert!(find_secret(text).is_some(), "{text}");
    }
    for text in [
        "the simulator",
        "sim- ",
        "ghp_short",
        "tfpilot sim --port 4010",
    ] {
        assert_eq!(find_secret(text), None, "{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log.json"), "{\"token\":\"sim-bob\"}").unwrap();
    let found = secrets_under(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn snapshots_hold_no_secrets_and_no_sensitive_values() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_clean(&path.display().to_string(), &text);
        // A module field marked sensitive (the fixture's Datadog key) is never drawn.
        assert!(
            !text.contains("dd-secret-value"),
            "{} shows a sensitive value",
            path.display()
        );
        scanned += 1;
    }
    assert!(scanned >= 28, "{scanned} snapshots");
}

#[tokio::test]
async fn what_holds_a_token_never_prints_it() {
    let sim = Simulator::for_tests(SimOptions::default()).await.unwrap();
    let settings = GitHubSettings::new(sim.base_url());
    let github = GitHub::connect(&settings, "sim-alice").unwrap();
    assert_clean("the settings' Debug", &format!("{settings:?}"));
    let token = tfpilot::github::token::Token::new("sim-alice").unwrap();
    assert_clean("the token's Debug", &format!("{token:?}"));
    let user = github.current_user().await.unwrap();
    assert_eq!(user.login, "alice");
}

/// The binary at trace level, failing and succeeding against GitHub: its log is not empty (so
/// the scans of logs elsewhere look at something) and holds no token.
#[tokio::test(flavor = "multi_thread")]
async fn a_trace_log_of_github_calls_holds_no_token() {
    let sim = Simulator::for_tests(SimOptions::default()).await.unwrap();
    let home = Home::new();
    let (code, _, err) = home
        .run(
            sim.base_url(),
            &["whoami"],
            &[("GITHUB_TOKEN", "sim-alice")],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    // A token GitHub refuses (401): the error names the source, never the value.
    let (code, _, err) = home
        .run(
            sim.base_url(),
            &["whoami"],
            &[("GITHUB_TOKEN", "ghp_0123456789abcdefghijABCDEFGHIJ")],
        )
        .await;
    assert_ne!(code, 0, "{err}");
    let log = home.log_text();
    assert!(log.lines().count() > 3, "{log}");
    assert!(log.contains("GET /user") || log.contains("/user"), "{log}");
    assert_clean("the trace log", &log);
    // `home` is scanned again, every file in it, when it is dropped.
}
