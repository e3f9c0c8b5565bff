//! R2: whole lifecycles (create, plan, approve, merge, apply, destroy, cleanup) while GitHub and
//! S3 misbehave. The simulator answers 20% of calls with a 5xx, some with 429 or a 403
//! secondary rate limit (with `retry-after`), holds some for 2 s and drops some connections; a
//! fault proxy in front of the S3 server answers `503 SlowDown` and resets connections before and
//! after the server acted. Each step is retried as a script would (the same command, the same
//! idempotency key) until it succeeds. At the end: every lifecycle complete, exactly one dispatch
//! per workflow, and every lifecycle event exactly once.
//!
//! The suite runs 2 lifecycles; `TFPILOT_SOAK_LIFECYCLES=100` (`scripts/soak`) runs 100.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/sim.rs"]
mod sim;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bed::{Bed, bucket};
use fault_proxy::Faults;
use tfpilot::domain::{Status, Timestamp, derive_status};
use tfpilot::engine::{Engine, EngineError, OpOutcome, SyncReport};
use tfpilot::sim::FaultRule;
use tfpilot::store::{S3Options, S3Store, Store};

/// Steps that failed and were run again, over the whole test.
static RETRIED: AtomicUsize = AtomicUsize::new(0);

fn lifecycles() -> usize {
    std::env::var("TFPILOT_SOAK_LIFECYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2)
}

/// GitHub's faults, on every API path.
fn github_faults() -> Vec<FaultRule> {
    let on = |rate: f64| FaultRule {
        rate,
        ..FaultRule::on("/repos/*")
    };
    vec![
        FaultRule {
            status: Some(502),
            ..on(0.10)
        },
        FaultRule {
            status: Some(500),
            ..on(0.10)
        },
        FaultRule {
            status: Some(429),
            retry_after: Some(1),
            ..on(0.02)
        },
        FaultRule {
            status: Some(403),
            retry_after: Some(1),
            body: Some(serde_json::json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
            })),
            ..on(0.02)
        },
        FaultRule {
            latency_ms: Some(2_000),
            ..on(0.02)
        },
        FaultRule {
            drop_connection: true,
            ..on(0.03)
        },
    ]
}

/// The document whose lock a step takes: known by id, or (a create) by its idempotency key.
#[derive(Clone, Copy)]
enum Locks<'a> {
    Request(&'a str),
    CreatedWith(&'a str),
}

/// Retries `step` as a script would, until it succeeds. A lock left by an attempt whose release
/// never reached the store is expired (what two minutes of waiting would do).
async fn until_done<T, F, Fut>(what: &str, direct: &Store, locks: Locks<'_>, mut step: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EngineError>>,
{
    let mut last = String::new();
    for _ in 0..60 {
        match step().await {
            Ok(value) => return value,
            Err(EngineError::Locked { .. }) => {
                let id = match locks {
                    Locks::Request(id) => Some(id.to_string()),
                    Locks::CreatedWith(key) => direct
                        .get_create_key(key)
                        .await
                        .ok()
                        .flatten()
                        .map(|record| record.request_id),
                };
                let past = Timestamp(chrono::Utc::now()).minus_seconds(1);
                if let Some(id) = id {
                    let _ = direct
                        .update_request(&id, past, |r| {
                            if let Some(lock) = r.lock.as_deref_mut() {
                                lock.expires_at = past;
                            }
                            Ok(())
                        })
                        .await;
                }
            }
            Err(error) => {
                RETRIED.fetch_add(1, Ordering::Relaxed);
                last = error.to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} never succeeded; last error: {last}");
}

async fn sync_until(engine: &Engine, direct: &Store, id: &str, wanted: Status) {
    for _ in 0..60 {
        let report: SyncReport =
            until_done("sync", direct, Locks::Request(id), || engine.sync(id)).await;
        if report.status == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} never reached {wanted:?}");
}

/// The three people of a lifecycle. Made once, before the faults begin: each engine reads the
/// team config when it is made, and that read is not the subject here.
struct People {
    alice: Engine,
    bob: Engine,
    admin: Engine,
}

async fn lifecycle(bed: &Bed, people: &People, direct: &Store, n: usize) -> String {
    let People { alice, bob, admin } = people;
    let mut input = bucket(&format!("payments-dev-faults{n}"), "dev");
    let create_key = format!("create-{n}");
    input.idempotency_key = Some(create_key.clone());
    let created: OpOutcome = until_done("create", direct, Locks::CreatedWith(&create_key), || {
        alice.create(input.clone())
    })
    .await;
    let id = created.request.id.clone();
    let (approve, merge, apply, destroy, cleanup) = (
        format!("approve-{n}"),
        format!("merge-{n}"),
        format!("apply-{n}"),
        format!("destroy-{n}"),
        format!("cleanup-{n}"),
    );
    bed.finish_runs();
    sync_until(alice, direct, &id, Status::PlanReady).await;
    until_done("approve", direct, Locks::Request(&id), || {
        bob.approve(&id, Some(&approve))
    })
    .await;
    until_done("merge", direct, Locks::Request(&id), || {
        alice.merge(&id, Some(&merge))
    })
    .await;
    until_done("apply", direct, Locks::Request(&id), || {
        bob.apply(&id, Some(&apply))
    })
    .await;
    bed.finish_runs();
    sync_until(bob, direct, &id, Status::Applied).await;
    until_done("destroy", direct, Locks::Request(&id), || {
        admin.destroy(&id, Some(&destroy))
    })
    .await;
    bed.finish_runs();
    sync_until(admin, direct, &id, Status::Destroyed).await;
    until_done("cleanup", direct, Locks::Request(&id), || {
        alice.cleanup(&id, Some(&cleanup))
    })
    .await;
    bed.finish_runs();
    for _ in 0..60 {
        until_done("sync", direct, Locks::Request(&id), || alice.sync(&id)).await;
        let request = direct.get_request(&id).await.expect("readable").value;
        if request
            .cleanup_run
            .as_deref()
            .is_some_and(|r| r.succeeded())
        {
            return id;
        }
    }
    let request = direct.get_request(&id).await.expect("readable").value;
    panic!(
        "{id}: the cleanup check never succeeded; cleanup_pr {:?}, cleanup_run {:?}",
        request.cleanup_pr, request.cleanup_run
    );
}

#[test]
fn lifecycles_complete_under_faults() {
    common::block_on_big_stack(run());
}

async fn run() {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let (client, bucket) = common::fresh_bucket(&endpoint).await;
    // The verifier reads the server directly; the engines go through the proxy, connected the
    // way the product connects (the AWS chain, its standard retries).
    let direct = Store::new(Arc::new(S3Store::with_client(
        client,
        bucket.clone(),
        "team-a".into(),
    )));
    let proxy = fault_proxy::start(&endpoint, Faults::default()).await;
    // SAFETY: set before any other thread of this test binary reads the environment; this
    // binary has this one test.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/tfpilot-test");
    }
    let options = S3Options {
        endpoint: Some(proxy.url.clone()),
        region: Some("us-east-1".into()),
        ..S3Options::default()
    };
    let store = S3Store::connect(bucket, "team-a".into(), &options).await;
    let bed = bed::bed(Arc::new(store)).await;

    let people = People {
        alice: bed.engine("alice").await,
        bob: bed.engine("bob").await,
        admin: bed.engine("admin").await,
    };
    for fault in github_faults() {
        bed.sim.add_fault(fault);
    }
    proxy.set(Faults {
        slow_down: 0.06,
        reset_before: 0.03,
        reset_after: 0.03,
    });
    let count = lifecycles();
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(lifecycle(&bed, &people, &direct, n).await);
    }
    bed.sim.clear_faults();
    proxy.set(Faults::default());

    for id in &ids {
        let request = direct.get_request(id).await.expect("readable").value;
        assert_eq!(derive_status(&request), Status::Destroyed, "{id}");
        for workflow in [
            "tfpilot-plan.yml",
            "tfpilot-apply.yml",
            "tfpilot-destroy.yml",
            "tfpilot-cleanup.yml",
        ] {
            assert_eq!(
                bed.dispatches(workflow, id),
                1,
                "{id}: one {workflow} dispatch"
            );
        }
        let snapshot = bed.sim.snapshot();
        let mut heads: Vec<String> = snapshot["pulls"]
            .as_array()
            .expect("pulls")
            .iter()
            .filter_map(|p| p["head"].as_str())
            .filter(|head| head.contains(id.as_str()))
            .map(String::from)
            .collect();
        heads.sort();
        assert_eq!(
            heads,
            [format!("tfpilot/{id}"), format!("tfpilot/{id}-cleanup")],
            "{id}: one pull request each for the request and its cleanup"
        );
        let events = direct.list_events(id).await.expect("events");
        let kinds: Vec<String> = events
            .into_iter()
            .map(|event| event.expect("every event readable").kind)
            .collect();
        for kind in bed::LIFECYCLE_EVENTS {
            let found = kinds.iter().filter(|k| *k == kind).count();
            assert_eq!(found, 1, "{id}: {kind} exactly once in {kinds:?}");
        }
    }
    let counts = &proxy.counts;
    eprintln!(
        "{count} lifecycles under faults, {} failed steps run again; S3 proxy: {} forwarded, {} SlowDown, {} reset before, {} reset after",
        RETRIED.load(Ordering::Relaxed),
        counts.forwarded.load(Ordering::Relaxed),
        counts.slow_down.load(Ordering::Relaxed),
        counts.reset_before.load(Ordering::Relaxed),
        counts.reset_after.load(Ordering::Relaxed),
    );
    assert!(counts.slow_down.load(Ordering::Relaxed) > 0);
    assert!(counts.reset_after.load(Ordering::Relaxed) > 0);
}
