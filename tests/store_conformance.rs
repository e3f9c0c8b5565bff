//! One contract, two backends: every test here runs against the local directory store and
//! against a real S3-compatible server (moto), through the same typed `Store`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

mod common;
#[path = "support/hooked.rs"]
mod hooked;
#[path = "support/instrumented.rs"]
mod instrumented;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use serde_json::json;
use tfpilot::domain::{DocumentError, IdempotencyRecord, LifecycleEvent};
use tfpilot::store::{
    IdempotencyClaim, ObjectStore, PutCondition, PutOnce, RequestLister, Store, StoreError,
};

use common::{at, sample_request};
use hooked::{Hook, Hooked, backend_error};

/// A backend whose next conditional write lands but whose answer is lost, as when a transport
/// retry of a PUT that already succeeded gets 412 back.
#[derive(Debug, Default)]
struct LosesNextAnswer {
    armed: std::sync::atomic::AtomicBool,
    /// The answer is a failing server (a reset connection), not a refused condition.
    as_failure: std::sync::atomic::AtomicBool,
    /// The failure comes before the write reaches the store.
    before_landing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Hook for LosesNextAnswer {
    async fn put(
        &self,
        inner: &dyn ObjectStore,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<tfpilot::store::ETag, StoreError> {
        let armed = self.armed.swap(false, Ordering::SeqCst);
        let failure = backend_error("put", inner, key, true);
        if armed && self.before_landing.load(Ordering::SeqCst) {
            return Err(failure);
        }
        let landed = inner.put(key, body, condition.clone()).await?;
        if !armed {
            return Ok(landed);
        }
        Err(match condition {
            _ if self.as_failure.load(Ordering::SeqCst) => failure,
            PutCondition::IfAbsent => StoreError::AlreadyExists { key: key.into() },
            PutCondition::IfMatch(_) => StoreError::PreconditionFailed { key: key.into() },
        })
    }
}

/// Runs each listed test body once per backend.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (_dir, backend) = super::common::local_backend();
                    super::$name(backend).await;
                }
            )+
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(backend) = super::common::s3_backend().await else { return };
                    super::$name(backend).await;
                }
            )+
        }
    };
}

/// A unique start of an id names its request; a shared one names the candidates; the whole id
/// wins even when it is the start of another.
async fn ids_are_completed_from_a_unique_prefix(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    for id in ["req_alpha01", "req_alpha02", "req_beta", "req_beta2"] {
        store.create_request(&sample_request(id)).await.unwrap();
    }
    assert_eq!(
        store.resolve_request_id("req_alpha01").await.unwrap(),
        "req_alpha01"
    );
    assert_eq!(
        store
            .resolve_request_id("req_bet")
            .await
            .unwrap_err()
            .to_string(),
        "req_bet could be any of req_beta, req_beta2; give more of the id"
    );
    assert_eq!(
        store.resolve_request_id("req_beta").await.unwrap(),
        "req_beta"
    );
    assert_eq!(
        store.resolve_request_id("req_beta2").await.unwrap(),
        "req_beta2"
    );
    assert_eq!(
        store
            .resolve_request_id("req_alpha0")
            .await
            .unwrap_err()
            .to_string(),
        "req_alpha0 could be any of req_alpha01, req_alpha02; give more of the id"
    );
    assert!(matches!(
        store.resolve_request_id("req_gamma").await,
        Err(tfpilot::store::StoreError::NotFound { .. })
    ));
    assert!(store.resolve_request_id("../etc").await.is_err());
}

conformance!(
    ids_are_completed_from_a_unique_prefix,
    create_get_round_trip,
    create_is_create_only,
    sixteen_concurrent_creators_one_wins,
    sixteen_concurrent_increments_all_land,
    stale_etag_is_refused_and_update_reapplies,
    update_refusals_and_no_ops_write_nothing,
    missing_and_invalid_ids,
    archive_moves_to_history,
    events_are_append_only_and_ordered,
    blobs_and_idempotency_records_are_create_only,
    list_2500_documents_with_paging_and_cache,
    malformed_and_future_documents_are_reported_not_fatal,
    cold_starts_share_one_listing_index,
    lost_answers_are_recognised_not_reapplied,
);

async fn create_get_round_trip(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let mut request = sample_request("req_round_trip");
    request
        .config
        .insert("bucket_name".into(), json!("logs-\"quoted\""));
    request
        .extra
        .insert("added_by_a_newer_build".into(), json!({"keep": true}));
    let created = store.create_request(&request).await.unwrap();
    let read = store.get_request("req_round_trip").await.unwrap();
    assert_eq!(read, created);
    assert!(
        read.value.revision.is_some(),
        "every write carries a revision"
    );
    let mut without_revision = read.value.clone();
    without_revision.revision = None;
    assert_eq!(without_revision, request);
}

async fn create_is_create_only(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let request = sample_request("req_once");
    store.create_request(&request).await.unwrap();
    // A second create is a second write, even of an identical document: only the engine's
    // idempotency records make an application-level retry safe.
    let err = store.create_request(&request).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let mut other = request.clone();
    other.requested_by = "mallory".into();
    let err = store.create_request(&other).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert_eq!(
        store
            .get_request("req_once")
            .await
            .unwrap()
            .value
            .requested_by,
        "alice"
    );
}

async fn sixteen_concurrent_creators_one_wins(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let attempts = (0..16).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut request = sample_request("req_contested");
            request.requested_by = format!("operator-{n}");
            store.create_request(&request).await.map(|_| n)
        })
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<usize> = results
        .iter()
        .filter_map(|r| r.as_ref().unwrap().as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one creator wins: {winners:?}");
    for result in results {
        if let Err(err) = result.unwrap() {
            assert!(
                matches!(err, StoreError::AlreadyExists { .. }),
                "losers see AlreadyExists, got {err}"
            );
        }
    }
    let stored = store.get_request("req_contested").await.unwrap().value;
    assert_eq!(stored.requested_by, format!("operator-{}", winners[0]));
}

async fn sixteen_concurrent_increments_all_land(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let mut request = sample_request("req_counter");
    request.config.insert("count".into(), json!(0));
    store.create_request(&request).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks = (0..16).map(|_| {
        let store = store.clone();
        let calls = calls.clone();
        tokio::spawn(async move {
            store
                .update_request("req_counter", at("2026-03-01T11:00:00Z"), |doc| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let count = doc.config["count"].as_u64().unwrap();
                    // Every writer produces the same bytes for the same count: only the revision
                    // tells their writes apart, so no increment may be mistaken for another's.
                    doc.config.insert("count".into(), json!(count + 1));
                    Ok(())
                })
                .await
        })
    });
    for result in futures::future::join_all(tasks).await {
        result.unwrap().unwrap();
    }
    let stored = store.get_request("req_counter").await.unwrap().value;
    assert_eq!(stored.config["count"], json!(16));
    assert_eq!(stored.updated_at, at("2026-03-01T11:00:00Z"));
    assert!(calls.load(Ordering::SeqCst) >= 16);
}

async fn stale_etag_is_refused_and_update_reapplies(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend.clone());
    store
        .create_request(&sample_request("req_stale"))
        .await
        .unwrap();
    let first = store.get_request("req_stale").await.unwrap();

    // Someone else writes after our read: our ETag is stale and the backend refuses it.
    store
        .update_request("req_stale", at("2026-03-01T10:01:00Z"), |doc| {
            doc.branch = Some("tfpilot/req_stale".into());
            Ok(())
        })
        .await
        .unwrap();
    let body = tfpilot::domain::render_request(&first.value);
    let err = backend
        .put(
            "requests/req_stale.json",
            body,
            PutCondition::IfMatch(first.etag.clone()),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // An update that races another writer re-reads and re-applies its mutation.
    let calls = AtomicUsize::new(0);
    let interferer = store.clone();
    let updated = store
        .update_request("req_stale", at("2026-03-01T10:02:00Z"), |doc| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                // Between our read and our conditional put, another operator writes.
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        interferer
                            .update_request("req_stale", at("2026-03-01T10:01:30Z"), |d| {
                                d.commit_sha = Some("c0ffee".into());
                                Ok(())
                            })
                            .await
                            .unwrap();
                    })
                });
            }
            doc.merged_sha = Some("beef".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the mutation was re-applied once"
    );
    assert_eq!(
        updated.value.commit_sha.as_deref(),
        Some("c0ffee"),
        "the other write was kept"
    );
    assert_eq!(updated.value.merged_sha.as_deref(), Some("beef"));
    let stored = store.get_request("req_stale").await.unwrap();
    assert_eq!(stored, updated);

    // Starting from a version read earlier (to save a GET) loses nothing when it went stale:
    // the refused write re-reads, and the mutation lands on the fresh document.
    let stale = store.get_request("req_stale").await.unwrap();
    store
        .update_request("req_stale", at("2026-03-01T10:03:00Z"), |doc| {
            doc.commit_sha = Some("newer".into());
            Ok(())
        })
        .await
        .unwrap();
    let from_stale = store
        .update_request_from(
            "req_stale",
            Some(stale),
            at("2026-03-01T10:04:00Z"),
            |doc| {
                doc.branch = Some("renamed".into());
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(from_stale.value.commit_sha.as_deref(), Some("newer"));
    assert_eq!(from_stale.value.branch.as_deref(), Some("renamed"));
    assert_eq!(store.get_request("req_stale").await.unwrap(), from_stale);
}

async fn update_refusals_and_no_ops_write_nothing(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let created = store
        .create_request(&sample_request("req_quiet"))
        .await
        .unwrap();
    let err = store
        .update_request("req_quiet", at("2026-03-02T00:00:00Z"), |doc| {
            doc.branch = Some("x".into());
            Err("the request is locked by bob".into())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Rejected { reason, .. } if reason.contains("locked by bob")),
        "{err}"
    );
    let unchanged = store
        .update_request("req_quiet", at("2026-03-02T00:00:00Z"), |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(unchanged.etag, created.etag);
    assert_eq!(unchanged.value.updated_at, created.value.updated_at);
}

async fn missing_and_invalid_ids(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let err = store.get_request("req_nope").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("tfpilot list"), "{err}");
    let err = store
        .update_request("req_nope", at("2026-03-02T00:00:00Z"), |_| Ok(()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = store.get_request("../etc/passwd").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidId { .. }), "{err}");
}

async fn archive_moves_to_history(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    let created = store
        .create_request(&sample_request("req_old"))
        .await
        .unwrap();
    store.archive_request("req_old").await.unwrap();
    assert!(matches!(
        store.get_request("req_old").await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    let archived = store
        .get_blob("history/req_old.json")
        .await
        .unwrap()
        .expect("archived copy");
    assert_eq!(
        tfpilot::domain::parse_request(&archived).unwrap(),
        created.value
    );
    assert!(matches!(
        store.archive_request("req_old").await.unwrap_err(),
        StoreError::NotFound { .. }
    ));

    // The live document is deleted only at the version that was copied to history.
    let first = store
        .create_request(&sample_request("req_moving"))
        .await
        .unwrap();
    store
        .update_request("req_moving", at("2026-03-02T00:00:00Z"), |doc| {
            doc.branch = Some("moved-on".into());
            Ok(())
        })
        .await
        .unwrap();
    let err = store
        .backend()
        .delete("requests/req_moving.json", Some(&first.etag))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(store.get_request("req_moving").await.is_ok());
}

async fn events_are_append_only_and_ordered(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend.clone());
    let appends = (0..20).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let when = at("2026-03-01T10:00:00Z").plus_seconds(20 - n);
            let event = LifecycleEvent::new("req_events", when, format!("step_{n}"), "alice")
                .with_correlation_id("c1");
            store.append_event(&event).await.unwrap()
        })
    });
    let keys: Vec<String> = futures::future::join_all(appends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let events = store.list_events("req_events").await.unwrap();
    assert_eq!(events.len(), 20);
    let times: Vec<_> = events.iter().map(|e| e.as_ref().unwrap().at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(events[0].as_ref().unwrap().kind, "step_19");
    // An event, once written, cannot be replaced.
    let err = backend
        .put(&keys[0], b"{}".to_vec(), PutCondition::IfAbsent)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert!(store.list_events("req_no_events").await.unwrap().is_empty());
}

async fn blobs_and_idempotency_records_are_create_only(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend);
    assert_eq!(
        store
            .put_once("plans/req_1/77.txt", b"Plan: 1 to add".to_vec())
            .await
            .unwrap(),
        PutOnce::Created
    );
    assert_eq!(
        store
            .put_once("plans/req_1/77.txt", b"other".to_vec())
            .await
            .unwrap(),
        PutOnce::AlreadyPresent
    );
    assert_eq!(
        store.get_blob("plans/req_1/77.txt").await.unwrap().unwrap(),
        b"Plan: 1 to add"
    );

    let claims = (0..16).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let record = IdempotencyRecord {
                key: "create-abc".into(),
                operation: "create".into(),
                request_id: format!("req_{n}"),
                created_at: at("2026-03-01T10:00:00Z"),
                outcome: serde_json::Value::Null,
                extra: Default::default(),
            };
            store.claim_create_key(&record).await.unwrap()
        })
    });
    let results: Vec<IdempotencyClaim> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results
            .iter()
            .filter(|c| **c == IdempotencyClaim::Claimed)
            .count(),
        1
    );
    let winner = store.get_create_key("create-abc").await.unwrap().unwrap();
    for claim in results {
        if let IdempotencyClaim::Existing(record) = claim {
            assert_eq!(*record, winner, "every loser sees the winner's request");
        }
    }
    let err = store.get_create_key("bad/key").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidKey { .. }), "{err}");
}

async fn list_2500_documents_with_paging_and_cache(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend.clone());
    futures::stream::iter(0..2500)
        .map(|n| {
            let store = store.clone();
            async move {
                store
                    .create_request(&sample_request(&format!("req_{n:05}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;

    // Raw paging: three pages of at most 1000 keys, in order, nothing repeated or lost.
    let mut keys = Vec::new();
    let mut pages = 0;
    let mut continuation: Option<String> = None;
    loop {
        let page = store
            .list_request_page(continuation.as_deref(), 1000)
            .await
            .unwrap();
        pages += 1;
        assert!(page.objects.len() <= 1000);
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 2500);
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );

    // The cached listing: cold fetches everything, warm fetches nothing, a change fetches one.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache_file = cache_dir.path().join("list.json");
    let mut lister = RequestLister::new(store.clone(), Some(cache_file.clone()));
    let (entries, stats) = lister.refresh().await.unwrap();
    assert_eq!(entries.len(), 2500);
    assert_eq!((stats.fetched, stats.list_calls), (2500, 3));
    assert!(entries.iter().all(|e| e.outcome.is_ok()));

    let (_, stats) = lister.refresh().await.unwrap();
    assert_eq!((stats.fetched, stats.reused), (0, 2500));

    store
        .update_request("req_00042", at("2026-03-05T00:00:00Z"), |doc| {
            doc.branch = Some("changed".into());
            Ok(())
        })
        .await
        .unwrap();
    store.archive_request("req_00043").await.unwrap();
    let (entries, stats) = lister.refresh().await.unwrap();
    assert_eq!((stats.fetched, stats.removed, entries.len()), (1, 1, 2499));
    let changed = entries.iter().find(|e| e.id == "req_00042").unwrap();
    assert_eq!(
        changed.outcome.as_ref().unwrap().branch.as_deref(),
        Some("changed")
    );

    // A new process with the cache file on disk starts warm.
    let mut fresh = RequestLister::new(store.clone(), Some(cache_file));
    let (entries, stats) = fresh.refresh().await.unwrap();
    assert_eq!((stats.fetched, entries.len()), (0, 2499));

    // With a save interval (a polling dashboard), the first listing is written at once and a
    // change within the interval waits: a process started meanwhile fetches that one document.
    let paced_file = cache_dir.path().join("paced.json");
    let mut paced = RequestLister::new(store.clone(), Some(paced_file.clone()))
        .with_save_interval(std::time::Duration::from_secs(3600));
    paced.refresh().await.unwrap();
    let written = std::fs::metadata(&paced_file).unwrap().modified().unwrap();
    store
        .update_request("req_00044", at("2026-03-06T00:00:00Z"), |doc| {
            doc.branch = Some("paced".into());
            Ok(())
        })
        .await
        .unwrap();
    let (_, stats) = paced.refresh().await.unwrap();
    assert_eq!(stats.fetched, 1);
    assert_eq!(
        std::fs::metadata(&paced_file).unwrap().modified().unwrap(),
        written,
        "not rewritten within the interval"
    );
    let (_, stats) = RequestLister::new(store.clone(), Some(paced_file))
        .refresh()
        .await
        .unwrap();
    assert_eq!(stats.fetched, 1, "the change the file does not have yet");
}

/// A listing by a process with no cache of its own.
async fn cold_listing(
    store: &Store,
) -> (
    Vec<tfpilot::store::ListedRequest>,
    tfpilot::store::RefreshStats,
) {
    RequestLister::new(store.clone(), None)
        .refresh()
        .await
        .unwrap()
}

/// Replaces the shared index with `body` (a damaged or foreign one).
async fn overwrite_index(backend: &Arc<dyn ObjectStore>, body: &[u8]) {
    let key = tfpilot::store::shared_index::INDEX_KEY;
    let index = backend.get(key).await.unwrap().unwrap();
    backend
        .put(key, body.to_vec(), PutCondition::IfMatch(index.etag))
        .await
        .unwrap();
}

/// A process with no cache reads the bucket's shared index beside the LIST pages, uses only the
/// entries the LIST still shows at the same ETag, and rewrites the index when it was stale.
async fn cold_starts_share_one_listing_index(backend: Arc<dyn ObjectStore>) {
    use tfpilot::store::shared_index::REWRITE_WHEN_STALE;
    let counting = Arc::new(instrumented::Instrumented::new(
        backend.clone(),
        std::time::Duration::ZERO,
    ));
    let store = Store::new(counting.clone());
    let count = REWRITE_WHEN_STALE + 50;
    futures::stream::iter(0..count)
        .for_each_concurrent(16, |n| {
            let store = store.clone();
            async move {
                store
                    .create_request(&sample_request(&format!("req_{n:05}")))
                    .await
                    .unwrap();
            }
        })
        .await;
    counting.take();
    let gets = |counting: &instrumented::Instrumented| counting.take().get("get").copied();

    // The first cold start finds no index, GETs everything and leaves an index behind.
    let (entries, stats) = cold_listing(&store).await;
    assert_eq!(entries.len(), count);
    assert_eq!((stats.fetched, stats.from_index), (count, 0));
    assert!(stats.index_written);
    assert_eq!(gets(&counting), Some(count as u64 + 1), "documents + index");

    // The next cold start reads one object instead of every document.
    let (entries, stats) = cold_listing(&store).await;
    assert_eq!((stats.fetched, stats.from_index), (0, count));
    assert!(!stats.index_written);
    assert_eq!(gets(&counting), Some(1));
    assert!(entries.iter().all(|e| e.outcome.is_ok()));

    // A changed, an archived and a new document: the index is not trusted for any of them.
    store
        .update_request("req_00007", at("2026-03-05T00:00:00Z"), |doc| {
            doc.branch = Some("after-the-index".into());
            Ok(())
        })
        .await
        .unwrap();
    store.archive_request("req_00008").await.unwrap();
    store
        .create_request(&sample_request("req_99999"))
        .await
        .unwrap();
    counting.take();
    let (entries, stats) = cold_listing(&store).await;
    assert_eq!(entries.len(), count);
    assert_eq!((stats.fetched, stats.from_index), (2, count - 2));
    assert!(
        !stats.index_written,
        "2 stale documents are not worth a rewrite"
    );
    let changed = entries.iter().find(|e| e.id == "req_00007").unwrap();
    assert_eq!(
        changed.outcome.as_ref().unwrap().branch.as_deref(),
        Some("after-the-index")
    );
    assert!(entries.iter().all(|e| e.id != "req_00008"));

    // A damaged index costs GETs, never the listing, and is replaced.
    overwrite_index(&backend, b"not gzip").await;
    counting.take();
    let (entries, stats) = cold_listing(&store).await;
    assert_eq!(entries.len(), count);
    assert_eq!((stats.fetched, stats.from_index), (count, 0));
    assert!(stats.index_written);
    let (_, stats) = cold_listing(&store).await;
    assert_eq!((stats.fetched, stats.from_index), (0, count));

    // Two cold starts racing to replace one stale index: one write wins, neither fails.
    overwrite_index(&backend, b"stale").await;
    let (a, b) = futures::join!(cold_listing(&store), cold_listing(&store));
    let (a, b) = (a.1, b.1);
    assert_eq!((a.fetched, b.fetched), (count, count));
    assert!(a.index_written ^ b.index_written, "{a:?} {b:?}");

    // A lister told not to use the index neither reads nor writes it.
    counting.take();
    let (_, stats) = RequestLister::new(store.clone(), None)
        .with_shared_index(false)
        .refresh()
        .await
        .unwrap();
    assert_eq!((stats.fetched, stats.from_index), (count, 0));
    assert_eq!(counting.take().get("put-update"), None);
}

async fn malformed_and_future_documents_are_reported_not_fatal(backend: Arc<dyn ObjectStore>) {
    let store = Store::new(backend.clone());
    store
        .create_request(&sample_request("req_good"))
        .await
        .unwrap();
    backend
        .put(
            "requests/req_broken.json",
            b"{\"id\": ".to_vec(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    let future =
        json!({"schema_version": 9, "id": "req_future", "created_at": "2026-01-01T00:00:00Z"});
    backend
        .put(
            "requests/req_future.json",
            serde_json::to_vec(&future).unwrap(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    // A document copied to another key is refused, not read under the wrong id.
    let copied = tfpilot::domain::render_request(&sample_request("req_good"));
    backend
        .put("requests/req_copy.json", copied, PutCondition::IfAbsent)
        .await
        .unwrap();
    // Objects that are not request documents under the prefix are not listed as requests.
    backend
        .put(
            "requests/README.txt",
            b"hello".to_vec(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    backend
        .put(
            "requests/nested/req_x.json",
            b"{}".to_vec(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();

    let mut lister = RequestLister::new(store.clone(), None);
    let (entries, _) = lister.refresh().await.unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["req_broken", "req_copy", "req_future", "req_good"]);
    assert!(matches!(entries[0].outcome, Err(DocumentError::NotJson(_))));
    assert!(
        matches!(&entries[1].outcome, Err(DocumentError::IdMismatch { id, .. }) if id == "req_good")
    );
    assert_eq!(
        entries[2].outcome,
        Err(DocumentError::FutureSchema {
            found: 9,
            supported: 1
        })
    );
    assert!(entries[3].outcome.is_ok());
    let err = store.get_request("req_copy").await.unwrap_err();
    assert!(
        err.to_string().contains("stored as requests/req_copy.json"),
        "{err}"
    );

    let err = store.get_request("req_future").await.unwrap_err();
    assert!(err.to_string().contains("upgrade tfpilot"), "{err}");
    let err = store
        .update_request("req_future", at("2026-03-01T00:00:00Z"), |_| Ok(()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Unreadable { .. }),
        "an unreadable document is never overwritten: {err}"
    );
}

async fn lost_answers_are_recognised_not_reapplied(backend: Arc<dyn ObjectStore>) {
    let flaky = Arc::new(Hooked::new(
        backend,
        LosesNextAnswer {
            armed: true.into(),
            ..LosesNextAnswer::default()
        },
    ));
    let store = Store::new(flaky.clone());
    let mut request = sample_request("req_flaky");
    request.config.insert("count".into(), json!(0));
    // The create landed; its answer said "already exists": the store sees its own revision.
    let created = store.create_request(&request).await.unwrap();
    assert_eq!(store.get_request("req_flaky").await.unwrap(), created);

    let increment = || async {
        flaky.hook.armed.store(true, Ordering::SeqCst);
        let calls = AtomicUsize::new(0);
        let updated = store
            .update_request("req_flaky", at("2026-03-01T10:05:00Z"), |doc| {
                calls.fetch_add(1, Ordering::SeqCst);
                let count = doc.config["count"].as_u64().unwrap();
                doc.config.insert("count".into(), json!(count + 1));
                Ok(())
            })
            .await
            .unwrap();
        assert!(
            !flaky.hook.armed.load(Ordering::SeqCst),
            "the answer was lost"
        );
        assert_eq!(store.get_request("req_flaky").await.unwrap(), updated);
        (calls.into_inner(), updated.value.config["count"].clone())
    };
    // The write landed; its answer was "changed since it was read".
    assert_eq!(increment().await, (1, json!(1)), "run once, applied once");
    // The write landed; the connection broke before its answer (after the SDK's own retries).
    flaky.hook.as_failure.store(true, Ordering::SeqCst);
    assert_eq!(increment().await, (1, json!(2)), "recognised as landed");
    // The connection broke before the write reached the store: written by the next attempt.
    flaky.hook.before_landing.store(true, Ordering::SeqCst);
    assert_eq!(
        increment().await,
        (2, json!(3)),
        "tried again, applied once"
    );
}
