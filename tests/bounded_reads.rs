//! Reads are bounded and never hang: a FIFO, a device, a symbolic link or a 2 GB file where a
//! document or the config belongs, and an S3 endpoint that accepts connections and never
//! answers, each end at once (or within the timeout) with an error that says what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test: failing loudly and printing are its job

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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cli::setup;

/// A command that must end well within this.
const PROMPT: Duration = Duration::from_secs(20);

fn fifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_and_oversized_files_are_refused_without_reading_them() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-bounded").await;
    let root = PathBuf::from(&cli.store);
    let requests = root.join("requests");

    // A FIFO where a document belongs: `show` ends at once (opening it used to block forever).
    let fifo_id = "req_01KFIFO00000000000000000000";
    fifo(&requests.join(format!("{fifo_id}.json")));
    let started = Instant::now();
    let (code, _, err) = cli.run("alice", &["show", fifo_id]).await;
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_ne!(code, 0);
    assert!(err.contains("not a regular file (a FIFO)"), "{err}");

    // A symbolic link out of the store is not followed.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), b"{\"secret\": true}").unwrap();
    let link_id = "req_01KLINK00000000000000000000";
    std::os::unix::fs::symlink(outside.path(), requests.join(format!("{link_id}.json"))).unwrap();
    let (code, _, err) = cli.run("alice", &["show", link_id]).await;
    assert_ne!(code, 0);
    assert!(err.contains("a symbolic link"), "{err}");

    // A 2 GB sparse document: listed as unreadable with its size, never read.
    let big_id = "req_01KBIG000000000000000000000";
    let big = std::fs::File::create(requests.join(format!("{big_id}.json"))).unwrap();
    big.set_len(2 << 30).unwrap();
    let started = Instant::now();
    let (code, listed, err) = cli.run("alice", &["list"]).await;
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(code, 0, "{err}");
    let rows = listed.as_array().unwrap();
    let big_row = rows.iter().find(|row| row["id"] == big_id).expect("listed");
    assert!(
        big_row["error"]
            .as_str()
            .unwrap()
            .contains("too large: 2147483648 bytes, limit 1048576 bytes"),
        "{big_row}"
    );
    assert!(rows.iter().any(|row| row["id"] == id.as_str()), "{rows:?}");
    let (code, _, err) = cli.run("alice", &["show", big_id]).await;
    assert_ne!(code, 0);
    assert!(err.contains("too large"), "{err}");

    // A FIFO where the policy belongs: operations and doctor end with the reason.
    std::fs::remove_file(root.join("config/policy.json")).unwrap();
    fifo(&root.join("config/policy.json"));
    for args in [vec!["approve", id.as_str()], vec!["doctor"]] {
        let started = Instant::now();
        let (code, out, err) = cli.run("bob", &args).await;
        assert!(
            started.elapsed() < PROMPT,
            "{args:?}: {:?}",
            started.elapsed()
        );
        assert_ne!(code, 0, "{args:?}");
        let said = format!("{out}{err}");
        assert!(
            said.contains("config/policy.json") && said.contains("not a regular file"),
            "{args:?}: {said}"
        );
    }
}

#[tokio::test]
async fn a_config_that_is_a_device_is_refused() {
    let home = home::Home::new();
    let started = Instant::now();
    let (code, _, err) = home
        .run(
            "http://127.0.0.1:9",
            &["list"],
            &[("TFPILOT_CONFIG", "/dev/zero")],
        )
        .await;
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_ne!(code, 0);
    assert!(err.contains("not a regular file"), "{err}");
}

/// A server that accepts connections and never answers; abort the task to close it.
async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (address, silent)
}

/// A GitHub that accepts connections and never answers: every attempt ends at the operation
/// timeout (set to 1 s here, 60 s by default), the retries give up, and the command says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_github_times_out() {
    let (address, silent) = silent_server().await;
    let home = home::Home::new();
    let store = tempfile::tempdir().unwrap();
    let store_path = store.path().to_str().unwrap();
    let started = Instant::now();
    let (code, _, err) = home
        .run(
            &format!("http://{address}"),
            &[
                "--store",
                store_path,
                "approve",
                "req_01KSILENT0000000000000000000",
            ],
            &[
                ("GITHUB_TOKEN", "sim-alice"),
                ("TFPILOT_GITHUB_OPERATION_TIMEOUT_SECS", "1"),
            ],
        )
        .await;
    let took = started.elapsed();
    silent.abort();
    assert_ne!(code, 0, "{err}");
    assert!(took < PROMPT, "took {took:?}: {err}");
    assert!(err.contains("no complete answer within 1 s"), "{err}");
    println!("a silent GitHub: `approve` ended after {took:?}: {err}");
}

/// An S3 endpoint that accepts connections and never answers: the call ends within its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_s3_endpoint_times_out() {
    let (address, silent) = silent_server().await;
    let home = home::Home::new();
    let endpoint = format!("http://{address}");
    let started = Instant::now();
    let (code, _, err) = home
        .run(
            "http://127.0.0.1:9",
            &["--store", "s3://silent-bucket/team", "list"],
            &[
                ("TFPILOT_S3_ENDPOINT", endpoint.as_str()),
                ("TFPILOT_S3_OPERATION_TIMEOUT_SECS", "2"),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
        )
        .await;
    let took = started.elapsed();
    silent.abort();
    assert_ne!(code, 0, "{err}");
    assert!(took < PROMPT, "took {took:?}: {err}");
    assert!(
        err.to_lowercase().contains("timeout") || err.contains("timed out"),
        "{err}"
    );
    println!("a silent S3 endpoint: `list` ended after {took:?}: {err}");
}

/// Events have the documents' limit too, and the limit is configurable
/// (`TFPILOT_MAX_DOCUMENT_BYTES`, `max_document_bytes` in the config file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_limit_covers_events_and_can_be_set() {
    let Some((bed, mut cli)) = setup(false).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-limit").await;
    let logs = PathBuf::from(&cli.store).join("logs").join(&id);
    let huge = std::fs::File::create(logs.join("20991231T000000.000Z-huge-x.json")).unwrap();
    huge.set_len(2 << 20).unwrap();
    let (code, events, err) = cli.run("alice", &["events", &id]).await;
    assert_eq!(code, 0, "{err}");
    let said = format!("{events}{err}");
    assert!(
        said.contains("too large: 2097152 bytes, limit 1048576 bytes"),
        "{said}"
    );

    cli.env
        .push(("TFPILOT_MAX_DOCUMENT_BYTES", "100".to_string()));
    let (code, listed, err) = cli.run("alice", &["list"]).await;
    assert_eq!(code, 0, "{err}");
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert!(
        row["error"]
            .as_str()
            .unwrap_or_default()
            .contains("limit 100 bytes"),
        "{row}"
    );
}

/// An S3 object larger than any read takes into memory (64 MiB) is refused from its
/// Content-Length, before its body is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_object_over_the_read_limit_is_refused() {
    let Some((bed, _cli)) = setup(true).await else {
        return;
    };
    let backend = bed.store.backend();
    let size = (64 << 20) + 1;
    backend
        .put(
            "plans/req_01KHUGE000000000000000000000/1.txt",
            vec![b'x'; size],
            tfpilot::store::PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    let error = backend
        .get("plans/req_01KHUGE000000000000000000000/1.txt")
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("too large: {size} bytes, limit 67108864 bytes")),
        "{error}"
    );
}
