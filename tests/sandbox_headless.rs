//! `tfpilot sandbox --headless` as the real binary: one line saying where everything is, about
//! thirty-three requests in every status, and a restart on the same directory that keeps it all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/home.rs"]
mod home;

use std::collections::BTreeSet;
use std::process::Stdio;

use home::Home;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Starts a sandbox and reads its one line: `(store dir, github url)`.
async fn start(home: &Home, args: &[&str]) -> (Child, String, String) {
    let mut command = home.command("http://unused");
    command
        .arg("sandbox")
        .arg("--headless")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line())
        .await
        .expect("the sandbox says where it is")
        .unwrap()
        .expect("a line");
    let (store, github) = line
        .strip_prefix("store=file://")
        .and_then(|rest| rest.split_once(" github="))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(github.starts_with("http://127.0.0.1:"), "{line}");
    (child, store.to_string(), github.to_string())
}

async fn tfpilot(
    home: &Home,
    github: &str,
    store: &str,
    login: &str,
    args: &[&str],
) -> (i32, Value) {
    let mut full = vec!["--store", store, "--json"];
    full.extend_from_slice(args);
    let token = format!("sim-{login}");
    let (code, out, err) = home.run(github, &full, &[("GITHUB_TOKEN", &token)]).await;
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}\n{err}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_sandbox_survives_a_restart() {
    let home = Home::new();
    let dir = home.path().join("sandbox");
    let dir_arg = dir.to_str().unwrap().to_string();
    let (mut first, store, github) = start(&home, &["--dir", &dir_arg]).await;
    assert_eq!(store, dir_arg);

    let (code, listed) = tfpilot(&home, &github, &store, "alice", &["list"]).await;
    assert_eq!(code, 0);
    let requests = listed.as_array().unwrap();
    assert!((31..=35).contains(&requests.len()), "{}", requests.len());
    // The seeded policies judged every plan: a deny, a warning and an admin's override.
    let judged = |status: &str, verdict: &str, overridden: bool| {
        requests
            .iter()
            .filter(|r| {
                r["status"] == status
                    && r["policy"] == verdict
                    && r["policy_overridden"] == overridden
            })
            .count()
    };
    assert_eq!(judged("plan_ready", "deny", false), 1, "{requests:#?}");
    assert_eq!(judged("plan_ready", "warn", false), 1, "{requests:#?}");
    assert_eq!(judged("approved", "deny", true), 1, "{requests:#?}");
    assert!(judged("applied", "pass", false) >= 5, "{requests:#?}");
    let statuses: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    for status in [
        "request_created",
        "planning",
        "plan_ready",
        "approved",
        "merged",
        "applying",
        "applied",
        "destroying",
        "destroyed",
        "failed",
        "withdrawn",
    ] {
        assert!(
            statuses.contains(status),
            "{status} missing from {statuses:?}"
        );
    }
    let plan_ready = requests
        .iter()
        .find(|r| r["status"] == "plan_ready" && r["environment"] == "dev")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    first.kill().await.unwrap();
    first.wait().await.unwrap();

    // The same directory: no new requests, and the simulated GitHub still has its pull
    // requests and runs, so operations carry on.
    let (mut second, store, github) = start(&home, &["--dir", &dir_arg]).await;
    let (_, listed) = tfpilot(&home, &github, &store, "alice", &["list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), requests.len());
    let (code, approved) = tfpilot(&home, &github, &store, "bob", &["approve", &plan_ready]).await;
    assert_eq!(code, 0, "{approved}");
    assert_eq!(approved["status"], "approved");
    second.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_requests_seeds_only_the_team() {
    let home = Home::new();
    let (mut child, store, github) = start(&home, &["--no-requests"]).await;
    let (_, listed) = tfpilot(&home, &github, &store, "alice", &["list"]).await;
    assert_eq!(listed, Value::Array(Vec::new()));
    let (_, modules) = tfpilot(&home, &github, &store, "alice", &["modules"]).await;
    assert_eq!(modules["modules"].as_array().unwrap().len(), 4);
    let (code, created) = tfpilot(
        &home,
        &github,
        &store,
        "alice",
        &[
            "create",
            "--module",
            "sqs-queue",
            "--project",
            "search",
            "--env",
            "dev",
            "--set",
            "queue_name=jobs",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["status"], "planning");
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(store);
}

/// The sandbox keeps sensitive values in its own directory instead of SSM: the rds-postgres
/// master password lands in a 0600 file under `.sandbox/secrets/`, and nowhere else in the
/// sandbox (documents, events, the simulator's saved world).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_keeps_sensitive_values_in_its_own_directory() {
    use std::os::unix::fs::PermissionsExt;
    const PASSWORD: &str = "sandbox-Pa55word-e1f0";
    let home = Home::new();
    let (mut child, store, github) = start(&home, &["--no-requests"]).await;
    let set = format!("master_password={PASSWORD}");
    let (code, created) = tfpilot(
        &home,
        &github,
        &store,
        "alice",
        &[
            "create",
            "--module",
            "rds-postgres",
            "--project",
            "payments",
            "--env",
            "dev",
            "--set",
            "identifier=orders-db",
            "--set",
            &set,
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let dir = std::path::Path::new(&store);
    let version = dir.join(format!(
        ".sandbox/secrets/tfpilot/payments/dev/{id}/master_password/1"
    ));
    assert_eq!(std::fs::read_to_string(&version).unwrap(), PASSWORD);
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&version), 0o600);
    assert_eq!(mode(version.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.join(".sandbox/secrets")), 0o700);
    child.kill().await.unwrap();
    let _ = child.wait().await;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.ends_with(".sandbox/secrets") {
            continue;
        }
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(PASSWORD),
                "the password is in {}",
                path.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(store);
}

/// As on a GitHub whose `prod` environment has required reviewers: in the sandbox a prod apply
/// waits for a reviewer who did not start it. admin applies a merged prod request; it waits,
/// naming bob and admin; admin may not review his own run, bob approves it, and it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prod_apply_in_the_sandbox_waits_until_bob_approves_it() {
    let home = Home::new();
    let (mut child, store, github) = start(&home, &[]).await;
    let (_, listed) = tfpilot(
        &home,
        &github,
        &store,
        "admin",
        &["list", "--status", "merged", "--env", "prod"],
    )
    .await;
    let id = listed[0]["id"]
        .as_str()
        .expect("a merged prod request")
        .to_string();
    let (code, applied) = tfpilot(&home, &github, &store, "admin", &["apply", &id, "--yes"]).await;
    assert_eq!(code, 0, "{applied}");
    // The run is queued for two seconds, then waits.
    let mut shown = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        tfpilot(&home, &github, &store, "admin", &["sync", &id]).await;
        shown = tfpilot(&home, &github, &store, "admin", &["show", &id])
            .await
            .1;
        if !shown["waiting"].is_null() {
            break;
        }
    }
    assert_eq!(shown["status"], "applying", "{shown}");
    assert_eq!(shown["waiting"]["environment"], "prod", "{shown}");
    assert_eq!(
        shown["waiting"]["reviewers"],
        serde_json::json!(["bob", "admin"])
    );
    let (code, refused) = tfpilot(
        &home,
        &github,
        &store,
        "admin",
        &["deployment", "approve", &id, "--yes"],
    )
    .await;
    assert_eq!(code, 3, "admin started the run: {refused}");
    let (code, approved) = tfpilot(
        &home,
        &github,
        &store,
        "bob",
        &[
            "deployment",
            "approve",
            &id,
            "--yes",
            "--comment",
            "change window",
        ],
    )
    .await;
    assert_eq!(code, 0, "{approved}");
    assert_eq!(approved["operation"], "approve_deployment", "{approved}");
    let (_, shown) = tfpilot(&home, &github, &store, "bob", &["show", &id]).await;
    assert!(shown["waiting"].is_null(), "{shown}");
    assert_ne!(shown["apply_run"]["status"], "waiting", "{shown}");
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(store);
}

/// The sandbox installs a GitHub App on its repositories and keeps its key in a 0600 file:
/// reconcile runs as `tfpilot-bot[bot]`, which its policy lists under `automation`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_runs_as_the_sandboxs_github_app() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = Home::new();
    let dir = home.path().join("sandbox").display().to_string();
    let (mut child, _, _) = start(&home, &["--no-requests", "--dir", &dir]).await;
    let key = std::path::Path::new(&dir).join(tfpilot::sandbox::APP_KEY_FILE);
    let first_key = std::fs::read(&key).unwrap();
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    // A restart keeps the app's key (a new one takes a few hundred ms to make).
    let (mut child, store, github) = start(&home, &["--no-requests", "--dir", &dir]).await;
    assert_eq!(std::fs::read(&key).unwrap(), first_key);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", key.display());
    let key = key.display().to_string();
    let app_id = tfpilot::sandbox::APP_ID.to_string();
    let env = [
        ("TFPILOT_GITHUB_APP_ID", app_id.as_str()),
        ("TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE", key.as_str()),
    ];
    let (code, out, err) = home
        .run(&github, &["--store", &store, "--json", "whoami"], &env)
        .await;
    assert_eq!(code, 0, "{err}");
    let who: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(who["login"], "tfpilot-bot[bot]");
    assert_eq!(who["source_kind"], "github-app");
    let (code, out, err) = home
        .run(&github, &["--store", &store, "--json", "reconcile"], &env)
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    child.kill().await.unwrap();
}
