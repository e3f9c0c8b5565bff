//! Several tfpilot processes sharing one local store directory: every increment lands.
//!
//! The parent test re-runs this test binary as child processes (selected by an environment
//! variable) so the writers really are separate processes with their own file locks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

mod common;

use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use tfpilot::store::{LocalStore, Store};

const CHILD_STORE: &str = "TFPILOT_TEST_CHILD_STORE";
const PROCESSES: usize = 4;
const INCREMENTS_PER_PROCESS: usize = 10;

#[test]
fn increments_from_several_processes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::new(Arc::new(LocalStore::open_or_create(&root).unwrap()));
    let mut request = common::sample_request("req_shared");
    request.config.insert("count".into(), json!(0));
    runtime.block_on(store.create_request(&request)).unwrap();

    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "child_increments",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_STORE, &root)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child process failed");
    }

    let stored = runtime
        .block_on(store.get_request("req_shared"))
        .unwrap()
        .value;
    assert_eq!(
        stored.config["count"],
        json!(PROCESSES * INCREMENTS_PER_PROCESS)
    );
}

/// Does nothing unless started by the test above.
#[test]
fn child_increments() {
    let Some(root) = std::env::var_os(CHILD_STORE) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::new(Arc::new(LocalStore::open(root).unwrap()));
    runtime.block_on(async {
        for _ in 0..INCREMENTS_PER_PROCESS {
            store
                .update_request("req_shared", common::at("2026-03-01T12:00:00Z"), |doc| {
                    let count = doc.config["count"].as_u64().unwrap();
                    doc.config.insert("count".into(), json!(count + 1));
                    Ok(())
                })
                .await
                .unwrap();
        }
    });
}
