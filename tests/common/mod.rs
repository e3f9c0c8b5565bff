//! Shared test helpers: the two real backends, fresh for each test.
#![allow(dead_code)]

use std::sync::Arc;

use tfpilot::domain::{Request, Timestamp};
use tfpilot::store::{LocalStore, ObjectStore, S3Store};

/// The S3-compatible server `scripts/test` starts (moto in server mode).
pub const S3_ENDPOINT_VAR: &str = "TFPILOT_TEST_S3_ENDPOINT";

/// `None` when no server is configured and we are not in CI; in CI a missing server fails.
pub fn s3_endpoint() -> Option<String> {
    match std::env::var(S3_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but {S3_ENDPOINT_VAR} is not: S3 tests must run against a server (run scripts/test)"
            )
        }
        _ => {
            eprintln!(
                "skipping: {S3_ENDPOINT_VAR} is not set (scripts/test starts moto and sets it)"
            );
            None
        }
    }
}

pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let credentials =
        aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tfpilot-tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(credentials)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A new, empty bucket on the test server, so tests never see each other's objects.
pub async fn fresh_bucket(endpoint: &str) -> (aws_sdk_s3::Client, String) {
    let client = s3_client(endpoint);
    let bucket = format!(
        "tfpilot-test-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create test bucket");
    (client, bucket)
}

pub async fn s3_backend() -> Option<Arc<dyn ObjectStore>> {
    let endpoint = s3_endpoint()?;
    let (client, bucket) = fresh_bucket(&endpoint).await;
    Some(Arc::new(S3Store::with_client(
        client,
        bucket,
        "team-a".into(),
    )))
}

/// Runs a test body on a thread and runtime with 8 MiB stacks: the AWS SDK's futures are deep,
/// and an unoptimised build can pass the 2 MiB a test thread gets.
pub fn block_on_big_stack(body: impl std::future::Future<Output = ()> + Send + 'static) {
    const STACK: usize = 8 << 20;
    let thread = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(STACK)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(body)
        })
        .expect("test thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

pub fn local_backend() -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::open_or_create(dir.path().join("store")).expect("open local store");
    (dir, Arc::new(store))
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test timestamp")
}

pub fn sample_request(id: &str) -> Request {
    Request::new(
        id,
        "payments",
        "dev",
        "s3-bucket",
        "alice",
        at("2026-03-01T10:00:00Z"),
    )
}
