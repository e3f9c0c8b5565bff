//! What only the S3 backend does: encryption at rest, prefixes, and clear connection errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

mod common;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;

use tfpilot::store::{ObjectStore, PutCondition, S3Options, S3Store, Store, StoreError};

#[tokio::test]
async fn every_write_is_encrypted_and_kept_under_the_prefix() {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let (client, bucket) = common::fresh_bucket(&endpoint).await;
    let store = Store::new(std::sync::Arc::new(S3Store::with_client(
        client.clone(),
        bucket.clone(),
        "/team-a/".into(),
    )));
    store
        .create_request(&common::sample_request("req_sse"))
        .await
        .unwrap();

    let head = client
        .head_object()
        .bucket(&bucket)
        .key("team-a/requests/req_sse.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(head.content_type(), Some("application/json"));

    // Objects outside the prefix are invisible to this store.
    client
        .put_object()
        .bucket(&bucket)
        .key("team-b/requests/req_other.json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = store
        .list_all("requests/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["requests/req_sse.json"]);
    assert_eq!(store.location(), format!("s3://{bucket}/team-a"));
}

#[tokio::test]
async fn an_unreachable_endpoint_says_so() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = S3Options {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        ..S3Options::default()
    };
    let store = S3Store::connect("some-bucket".into(), String::new(), &options).await;
    let err = store
        .put("requests/x.json", b"{}".to_vec(), PutCondition::IfAbsent)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    assert!(
        err.is_transient(),
        "no answer may be a passing failure: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("is the endpoint reachable"), "{text}");
    assert!(text.contains("s3://some-bucket"), "{text}");
}

#[tokio::test]
async fn a_missing_bucket_is_named_in_one_line() {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let store = S3Store::with_client(
        common::s3_client(&endpoint),
        "tfpilot-no-such-bucket".into(),
        String::new(),
    );
    let err = store.list("requests/", None, 10).await.unwrap_err();
    assert!(
        !err.is_transient(),
        "a refusal is not worth asking again: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("NoSuchBucket (HTTP 404)"), "{text}");
    assert!(text.contains("check the bucket name"), "{text}");
    assert!(
        !text.contains('\n') && text.len() < 300,
        "one readable line: {text}"
    );
}

#[tokio::test]
async fn a_busy_server_is_a_passing_failure() {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let (_, bucket) = common::fresh_bucket(&endpoint).await;
    let proxy = fault_proxy::start(
        &endpoint,
        fault_proxy::Faults {
            slow_down: 1.0,
            ..fault_proxy::Faults::default()
        },
    )
    .await;
    let store = S3Store::with_client(common::s3_client(&proxy.url), bucket, String::new());
    let err = store
        .put("requests/x.json", b"{}".to_vec(), PutCondition::IfAbsent)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SlowDown"), "{err}");
    assert!(err.is_transient(), "{err:?}");
}
