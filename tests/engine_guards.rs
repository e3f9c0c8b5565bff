//! Guardrails: policy denials with their reasons, the apply run's head sha, and the lock's
//! expiry and heartbeat on tokio's paused clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/hooked.rs"]
mod hooked;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;
use std::time::Duration;

use bed::bucket;
use hooked::{Hook, Hooked, backend_error};
use tfpilot::domain::{RunFact, Status, Timestamp, derive_status};
use tfpilot::engine::{Clock, EngineError, OpResult};
use tfpilot::github::DispatchInputs;
use tfpilot::sim::FaultRule;
use tfpilot::store::{ETag, Object, ObjectStore, PutCondition, StoreError};

fn denied(result: Result<tfpilot::engine::OpOutcome, EngineError>) -> String {
    match result {
        Err(error @ EngineError::Denied { .. }) => {
            assert_eq!(error.exit_code(), 3);
            error.to_string()
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

async fn denials_say_why(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;

    let viewer = bed.engine("viewer").await;
    let reason = denied(viewer.create(bucket("payments-dev-v", "dev")).await);
    assert!(reason.contains("viewer"), "{reason}");

    let id = bed.planned("dev", "payments-dev-denials").await;
    let alice = bed.engine("alice").await;
    let reason = denied(alice.approve(&id, None).await);
    assert!(reason.contains("only approvers and admins"), "{reason}");

    // The requester cannot approve their own request, even as an approver.
    let bob = bed.engine("bob").await;
    let own = bob
        .create(bucket("payments-dev-bobs", "dev"))
        .await
        .unwrap()
        .request
        .id;
    bed.finish_runs();
    bob.sync(&own).await.unwrap();
    let reason = denied(bob.approve(&own, None).await);
    assert!(reason.contains("bob requested this"), "{reason}");

    // Destroy before apply is refused, and the refusal is on the record.
    let admin = bed.engine("admin").await;
    let reason = denied(admin.destroy(&id, None).await);
    assert!(reason.contains("never applied"), "{reason}");
    let kinds = bed.event_kinds(&id).await;
    assert!(kinds.contains(&"destroy_blocked".to_string()), "{kinds:?}");

    bob.approve(&id, None).await.unwrap();
    alice.merge(&id, None).await.unwrap();
    let reason = denied(alice.apply(&id, None).await);
    assert!(
        reason.contains("only approvers and admins can apply"),
        "{reason}"
    );
    assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 0);
}

async fn prod_needs_the_allowlists(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("prod", "payments-prod-ledger").await;
    let carol = bed.engine("carol").await;
    carol.approve(&id, None).await.unwrap();
    let reason = denied(carol.merge(&id, None).await);
    assert!(reason.contains("prod_allowed_users"), "{reason}");
    let bob = bed.engine("bob").await;
    bob.merge(&id, None).await.unwrap();
    let reason = denied(carol.apply(&id, None).await);
    assert!(reason.contains("prod environment"), "{reason}");
    let applied = bob.apply(&id, None).await.unwrap();
    assert_eq!(applied.result, OpResult::Done);
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    let reason = denied(bob.destroy(&id, None).await);
    assert!(reason.contains("destroy_prod_allowed_users"), "{reason}");
}

async fn an_apply_run_of_another_commit_is_not_accepted(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-sha").await;
    let (alice, bob) = (bed.engine("alice").await, bed.engine("bob").await);
    bob.approve(&id, None).await.unwrap();
    alice.merge(&id, None).await.unwrap();

    // Someone pushes to main and dispatches an apply for this request by hand.
    let github = bed::github(&bed.sim, "alice");
    let repo = sim::repo();
    let readme = github
        .get_file(&repo, "README.md", "main")
        .await
        .unwrap()
        .unwrap();
    github
        .put_file(
            &repo,
            "README.md",
            "main",
            "# moved on\n",
            "docs",
            Some(&readme.sha),
        )
        .await
        .unwrap();
    let inputs = DispatchInputs {
        request_id: id.clone(),
        environment: "dev".into(),
        dispatch_id: "by-hand".into(),
        scope: None,
        block_id: None,
    };
    github
        .dispatch(&repo, "tfpilot-apply.yml", "main", &inputs)
        .await
        .unwrap();
    bed.store
        .update_request(&id, bed_now(), |r| {
            r.apply_run = Some(Box::new(RunFact {
                dispatch_id: Some("by-hand".into()),
                ..RunFact::default()
            }));
            Ok(())
        })
        .await
        .unwrap();
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    let request = bed.store.get_request(&id).await.unwrap().value;
    let run = request.apply_run.clone().unwrap();
    assert!(run.id.is_some());
    assert!(run.extra.contains_key("rejected"), "{run:?}");
    assert_eq!(derive_status(&request), Status::Merged, "not applied");
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"apply_run_rejected".to_string())
    );
    // The rejected run counts for nothing: apply dispatches a run of the merged commit.
    let applied = bob.apply(&id, None).await.unwrap();
    assert_eq!(applied.result, OpResult::Done, "{}", applied.message);
    assert_eq!(
        applied.request.apply_run.as_deref().unwrap().head_sha,
        applied.request.merged_sha
    );
}

fn bed_now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

#[tokio::test(start_paused = true)]
async fn an_expired_lock_is_taken_over_and_a_live_one_is_kept_alive() {
    let (_dir, backend) = common::local_backend();
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-locks").await;
    let start = Timestamp(chrono::Utc::now());
    let clock = Clock::tokio_from(start);
    let bob = bed.engine("bob").await.with_clock(clock.clone());

    // A holder that crashed: its lock stays until it expires.
    bed.plant_lock(&id, "carol@crashed", "approve", start).await;
    match bob.approve(&id, None).await {
        Err(EngineError::Locked { held }) => assert_eq!(held.holder, "carol@crashed"),
        other => panic!("expected locked, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(121)).await;
    let approved = bob.approve(&id, None).await.unwrap();
    assert_eq!(approved.result, OpResult::Done, "{}", approved.message);
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"lock_expired".to_string())
    );

    // A live holder whose step takes minutes keeps its lock with heartbeats.
    let alice = bed.engine("alice").await.with_clock(clock.clone());
    bed.sim.add_fault(FaultRule {
        method: Some("PUT".into()),
        latency_ms: Some(1_000_000),
        times: Some(1),
        ..FaultRule::on("/repos/*/pulls/*/merge")
    });
    let merging = tokio::spawn({
        let alice = alice.clone();
        let id = id.clone();
        async move { alice.merge(&id, None).await }
    });
    tokio::time::sleep(Duration::from_secs(300)).await;
    let lock = bed
        .store
        .get_request(&id)
        .await
        .unwrap()
        .value
        .lock
        .unwrap();
    assert_eq!(lock.operation, "merge");
    assert!(
        lock.expires_at > clock.now(),
        "renewed: expires {} at {}",
        lock.expires_at,
        clock.now()
    );
    let admin = bed.engine("admin").await.with_clock(clock.clone());
    match admin.merge(&id, None).await {
        Err(error @ EngineError::Locked { .. }) => {
            assert_eq!(error.exit_code(), 4);
            assert!(error.to_string().contains("alice@test (merge)"), "{error}");
        }
        other => panic!("expected locked, got {other:?}"),
    }
    let merged = merging.await.unwrap().unwrap();
    assert_eq!(merged.result, OpResult::Done);
    assert!(merged.request.lock.is_none());
}

/// The write that ends an operation lands, but its answer is lost; before the store's retry
/// can look, another process takes the lock that write freed. (Found by the 200-round race on
/// S3: the operation reported "lost the lock" although its outcome was recorded.)
#[derive(Debug)]
struct ReleaseAnswerLost {
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Hook for ReleaseAnswerLost {
    async fn put(
        &self,
        inner: &dyn ObjectStore,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        let releases = key.starts_with("requests/")
            && serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|doc| doc.get("lock").is_none() && doc.get("idempotency").is_some());
        if !(releases && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst)) {
            return inner.put(key, body, condition).await;
        }
        let landed = inner.put(key, body.clone(), condition).await?;
        let mut doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
        doc["lock"] = serde_json::json!({
            "holder": "carol@other-host", "operation": "sync",
            "acquired_at": "2099-01-01T00:00:00Z", "expires_at": "2099-01-01T00:02:00Z",
            "token": "someone-else"
        });
        doc["revision"] = serde_json::json!("another-writer");
        inner
            .put(
                key,
                serde_json::to_vec(&doc).expect("json"),
                PutCondition::IfMatch(landed),
            )
            .await?;
        Err(StoreError::PreconditionFailed { key: key.into() })
    }
}

async fn an_outcome_whose_answer_was_lost_is_not_reported_as_a_lost_lock(
    backend: Arc<dyn ObjectStore>,
) {
    let wrapper = Arc::new(Hooked::new(
        backend,
        ReleaseAnswerLost {
            armed: std::sync::atomic::AtomicBool::new(false),
        },
    ));
    let bed = bed::bed(wrapper.clone()).await;
    let id = bed.planned("dev", "payments-dev-lost-answer").await;
    let bob = bed.engine("bob").await;
    wrapper
        .hook
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let approved = bob.approve(&id, Some("approve-once")).await;
    assert!(
        !wrapper.hook.armed.load(std::sync::atomic::Ordering::SeqCst),
        "the release write was caught"
    );
    let approved = approved.expect("the approval landed: done, not a lost lock");
    assert_eq!(approved.result, OpResult::Done);
    let stored = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(derive_status(&stored), Status::Approved);
    assert_eq!(
        stored.lock.as_deref().map(|l| l.holder.as_str()),
        Some("carol@other-host"),
        "the other process's lock is left alone"
    );
    assert_eq!(stored.idempotency["approve"].key, "approve-once");
}

/// The next `left` event writes fail, the way a busy S3 fails (`transient`) or the way it
/// refuses.
#[derive(Debug)]
struct FailingEventWrites {
    left: std::sync::atomic::AtomicUsize,
    transient: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Hook for FailingEventWrites {
    async fn put(
        &self,
        inner: &dyn ObjectStore,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if key.starts_with("logs/")
            && self
                .left
                .fetch_update(SeqCst, SeqCst, |left| left.checked_sub(1))
                .is_ok()
        {
            return Err(backend_error(
                "put",
                inner,
                key,
                self.transient.load(SeqCst),
            ));
        }
        inner.put(key, body, condition).await
    }
}

/// Found by reading the R2 soak's odds: with S3 failing 12% of calls, an event write whose three
/// SDK attempts all failed was dropped, about one lifecycle in fifty.
async fn an_event_write_the_store_fails_is_tried_again(backend: Arc<dyn ObjectStore>) {
    use std::sync::atomic::Ordering::SeqCst;
    let wrapper = Arc::new(Hooked::new(
        backend,
        FailingEventWrites {
            left: 0.into(),
            transient: true.into(),
        },
    ));
    let bed = bed::bed(wrapper.clone()).await;
    let id = bed.planned("dev", "payments-dev-event-retry").await;
    let count = |kinds: &[String], kind: &str| kinds.iter().filter(|k| *k == kind).count();

    wrapper.hook.left.store(3, SeqCst);
    let approved = bed
        .engine("bob")
        .await
        .approve(&id, Some("approve-1"))
        .await;
    assert_eq!(approved.unwrap().result, OpResult::Done);
    assert_eq!(wrapper.hook.left.load(SeqCst), 0, "three writes failed");
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(count(&kinds, "request_approved"), 1, "{kinds:?}");

    // A refusal is not asked again. The operation is done; its outcome keeps the event, and a
    // replay with the same key writes it.
    wrapper.hook.transient.store(false, SeqCst);
    wrapper.hook.left.store(2, SeqCst);
    let alice = bed.engine("alice").await;
    let merged = alice.merge(&id, Some("merge-1")).await.unwrap();
    assert_eq!(merged.result, OpResult::Done);
    assert_eq!(wrapper.hook.left.load(SeqCst), 1, "one write, not retried");
    wrapper.hook.left.store(0, SeqCst);
    assert_eq!(count(&bed.event_kinds(&id).await, "pr_merged"), 0);
    let replayed = alice.merge(&id, Some("merge-1")).await.unwrap();
    assert_eq!(replayed.result, OpResult::Replayed);
    assert_eq!(count(&bed.event_kinds(&id).await, "pr_merged"), 1);
}

/// The write that records a merge's outcome lands, its answer is lost, and the read that would
/// recognise it fails too.
#[derive(Debug)]
struct OutcomeAnswerLost {
    armed: std::sync::atomic::AtomicBool,
    fail_next_read: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Hook for OutcomeAnswerLost {
    async fn put(
        &self,
        inner: &dyn ObjectStore,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        let records_merge = key.starts_with("requests/")
            && serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|doc| doc["idempotency"].get("merge").is_some());
        let landed = inner.put(key, body, condition).await?;
        if records_merge && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.fail_next_read
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(backend_error("put", inner, key, true));
        }
        Ok(landed)
    }

    async fn get(&self, inner: &dyn ObjectStore, key: &str) -> Result<Option<Object>, StoreError> {
        if self
            .fail_next_read
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(backend_error("get", inner, key, true));
        }
        inner.get(key).await
    }
}

/// Found by the R2 soak: events are keyed by the outcome's instant, which the document keeps in
/// whole seconds, so a replay after a lost answer wrote each event a second time under a key
/// without the first write's milliseconds.
async fn a_replay_after_a_lost_outcome_writes_no_event_twice(backend: Arc<dyn ObjectStore>) {
    let wrapper = Arc::new(Hooked::new(
        backend,
        OutcomeAnswerLost {
            armed: false.into(),
            fail_next_read: false.into(),
        },
    ));
    let bed = bed::bed(wrapper.clone()).await;
    let id = bed.planned("dev", "payments-dev-replayed").await;
    bed.engine("bob")
        .await
        .approve(&id, None)
        .await
        .expect("approved");
    let alice = bed.engine("alice").await;
    wrapper
        .hook
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = alice.merge(&id, Some("merge-once")).await;
    assert!(failed.is_err(), "the answer was lost: {failed:?}");
    let replayed = alice.merge(&id, Some("merge-once")).await.unwrap();
    assert_eq!(replayed.result, OpResult::Replayed);
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "pr_merged").count(),
        1,
        "{kinds:?}"
    );
}

with_both_stores!(
    denials_say_why,
    prod_needs_the_allowlists,
    an_apply_run_of_another_commit_is_not_accepted,
    an_outcome_whose_answer_was_lost_is_not_reported_as_a_lost_lock,
    an_event_write_the_store_fails_is_tried_again,
    a_replay_after_a_lost_outcome_writes_no_event_twice,
);
