//! The other flows: a config edit withdraws the approval and plans again, a drift check finds
//! (or clears) drift, a failed plan fails the request, reconcile finds interrupted dispatches
//! and takes over expired locks, and the poller shares one run listing per repository.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/instrumented.rs"]
mod instrumented;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;
use std::time::Duration;

use bed::bucket;
use serde_json::{Map, Value, json};
use tfpilot::domain::{RunFact, Status, Timestamp, derive_status};
use tfpilot::engine::{OpResult, PollEvent, Poller, PollerConfig};
use tfpilot::sim::ScriptedOutcome;
use tfpilot::store::ObjectStore;

fn set(field: &str, value: &str) -> Map<String, Value> {
    json!({ field: value }).as_object().cloned().unwrap()
}

async fn an_update_withdraws_the_approval_and_plans_again(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let (alice, bob) = (bed.engine("alice").await, bed.engine("bob").await);
    let id = alice
        .create(bucket("payments-dev-edit", "dev"))
        .await
        .unwrap()
        .request
        .id;
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    bob.approve(&id, None).await.unwrap();
    let first_head = bed.store.get_request(&id).await.unwrap().value.commit_sha;

    let updated = alice
        .update(&id, set("lifecycle_days", "30"), None)
        .await
        .unwrap();
    assert_eq!(updated.result, OpResult::Done, "{}", updated.message);
    assert!(
        updated.message.contains("approval was withdrawn"),
        "{}",
        updated.message
    );
    let request = updated.request;
    assert_eq!(request.config["lifecycle_days"], json!(30));
    assert!(request.approval.is_none());
    assert_ne!(request.commit_sha, first_head);
    assert_eq!(derive_status(&request), Status::Planning);
    assert_eq!(bed.runs_for("plan", &id), 2);
    let file = bed::github(&bed.sim, "alice")
        .get_file(&sim::repo(), sim::FILE, request.branch.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(file.text.contains("lifecycle_days = 30"), "{}", file.text);

    // The same values again change nothing and dispatch nothing.
    let again = alice
        .update(&id, set("lifecycle_days", "30"), None)
        .await
        .unwrap();
    assert!(
        again.message.contains("nothing changed"),
        "{}",
        again.message
    );
    assert_eq!(bed.runs_for("plan", &id), 2);
    // A bad value is refused with the field's reason, and the lock is released.
    let error = alice
        .update(&id, set("lifecycle_days", "0"), None)
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("lifecycle_days"), "{error}");
    assert!(
        bed.store
            .get_request(&id)
            .await
            .unwrap()
            .value
            .lock
            .is_none()
    );

    // Merging needs an approval of the new plan.
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    let error = alice.merge(&id, None).await.unwrap_err();
    assert!(error.to_string().contains("approval"), "{error}");
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"configuration_updated".to_string())
    );
}

async fn drift_checks_record_drift_and_its_clearing(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.applied("payments-dev-drift").await;
    let admin = bed.engine("admin").await;
    bed.sim.script_outcome(ScriptedOutcome {
        request_id: id.clone(),
        operation: "drift".into(),
        conclusion: "success".into(),
        error: None,
        drift: true,
        times: Some(1),
    });
    let started = admin.drift_check(&id, None).await.unwrap();
    assert_eq!(started.result, OpResult::Done, "{}", started.message);
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        request.drift.as_deref().unwrap().state.as_deref(),
        Some("drifted")
    );
    assert_eq!(derive_status(&request), Status::Applied);
    let run_id = request.drift_run.as_deref().unwrap().id.unwrap();
    let record = bed
        .store
        .get_blob(&format!("drift/{id}/{run_id}.json"))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&record).contains("drifted"));
    let resources = &request.drift.as_deref().unwrap().resources;
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert!(
        resources[0].starts_with(&format!("module.tfpilot_{id}.")),
        "{resources:?}"
    );

    admin.drift_check(&id, None).await.unwrap();
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        request.drift.as_deref().unwrap().state.as_deref(),
        Some("clean")
    );
    let kinds = bed.event_kinds(&id).await;
    for kind in ["drift_check_started", "drift_detected", "drift_cleared"] {
        assert!(kinds.contains(&kind.to_string()), "{kind}: {kinds:?}");
    }
    // Clean again is not a transition: audited as a check, not a second clearing.
    admin.drift_check(&id, None).await.unwrap();
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    let kinds = bed.event_kinds(&id).await;
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (
            count("drift_detected"),
            count("drift_cleared"),
            count("drift_checked")
        ),
        (1, 1, 1),
        "{kinds:?}"
    );
}

async fn a_failed_plan_fails_the_request_and_a_new_plan_recovers_it(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let id = alice
        .create(bucket("payments-dev-broken", "dev"))
        .await
        .unwrap()
        .request
        .id;
    // Planning again while the first plan runs is "done already".
    let pressed = alice.plan(&id, None).await.unwrap();
    assert_eq!(pressed.result, OpResult::AlreadyDone, "{}", pressed.message);
    bed.finish_runs();
    alice.sync(&id).await.unwrap();
    bed.sim.script_outcome(ScriptedOutcome {
        request_id: id.clone(),
        operation: "plan".into(),
        conclusion: "failure".into(),
        error: Some("Invalid provider configuration".into()),
        drift: false,
        times: Some(1),
    });
    let replanned = alice.plan(&id, None).await.unwrap();
    assert_eq!(replanned.result, OpResult::Done);
    bed.finish_runs();
    let report = alice.sync(&id).await.unwrap();
    assert_eq!(report.status, Status::Failed, "{:?}", report.changes);
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"plan_failed".to_string())
    );
    alice.plan(&id, None).await.unwrap();
    bed.finish_runs();
    assert_eq!(alice.sync(&id).await.unwrap().status, Status::PlanReady);
}

async fn reconcile_takes_over_expired_locks_and_finds_interrupted_dispatches(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let id = bed.applied("payments-dev-reconcile").await;
    let admin = bed.engine("admin").await;
    // A destroy whose process died after GitHub started the run but before it recorded the id.
    let github = bed::github(&bed.sim, "admin");
    let inputs = tfpilot::github::DispatchInputs {
        request_id: id.clone(),
        environment: "dev".into(),
        dispatch_id: "interrupted".into(),
        scope: None,
        block_id: None,
    };
    github
        .dispatch(&sim::repo(), "tfpilot-destroy.yml", "main", &inputs)
        .await
        .unwrap();
    let long_ago = Timestamp(chrono::Utc::now()).minus_seconds(600);
    bed.store
        .update_request(&id, long_ago, |r| {
            r.destroy_run = Some(Box::new(RunFact {
                dispatch_id: Some("interrupted".into()),
                ..RunFact::default()
            }));
            Ok(())
        })
        .await
        .unwrap();
    bed.plant_lock(&id, "admin@gone", "destroy", long_ago).await;
    let report = admin.reconcile().await.unwrap();
    assert_eq!(report.locks_taken_over, 1, "{report:?}");
    assert_eq!(report.changed, 1);
    let item = &report.items[0];
    assert_eq!(item.status, Status::Destroying, "{item:?}");
    assert!(
        item.changes.iter().any(|c| c.contains("admin@gone")),
        "{item:?}"
    );
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert!(request.lock.is_none());
    assert!(request.destroy_run.as_deref().unwrap().id.is_some());
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"lock_expired".to_string())
    );

    bed.finish_runs();
    let report = admin.reconcile().await.unwrap();
    assert_eq!(report.items[0].status, Status::Destroyed);
    // Nothing unfinished is left: a third run examines nothing and writes nothing.
    let etag = bed.store.get_request(&id).await.unwrap().etag;
    let report = admin.reconcile().await.unwrap();
    assert_eq!((report.examined, report.changed), (0, 0), "{report:?}");
    assert_eq!(bed.store.get_request(&id).await.unwrap().etag, etag);
}

async fn the_poller_follows_every_request_with_one_listing_per_repo_per_cycle(
    backend: Arc<dyn ObjectStore>,
) {
    let counting = Arc::new(instrumented::Instrumented::new(backend, Duration::ZERO));
    let bed = bed::bed(counting.clone()).await;
    let alice = bed.engine("alice").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = alice
            .create(bucket(&format!("payments-dev-poll{n}"), "dev"))
            .await
            .unwrap();
        ids.push(created.request.id);
    }
    let watcher = bed.engine("bob").await;
    let github = watcher.github().clone();
    let mut config = PollerConfig::default();
    config.intervals.active_ms = 20;
    // New requests are looked for once per idle interval; runs in flight are synced sooner.
    config.intervals.idle_ms = 60_000;
    config.only = Some(ids.clone());
    counting.take();
    let (sender, mut events) = tokio::sync::mpsc::channel(64);
    let poller = tokio::spawn(Poller::new(watcher, config).run(sender));

    // First cycle: every request is synced once, from one run listing.
    let mut first = Vec::new();
    while first.len() < 3 {
        match events.recv().await.unwrap() {
            PollEvent::Synced(report) => first.push(report.id),
            other => panic!("{other:?}"),
        }
    }
    first.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(first, expected);
    assert_eq!(
        sim::calls(&github, "GET /repos/{owner}/{repo}/actions/runs", "200"),
        1
    );
    assert_eq!(
        sim::calls(
            &github,
            "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
            "200"
        ),
        0
    );

    bed.finish_runs();
    let mut ready = std::collections::HashSet::new();
    while ready.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("the poller keeps going")
            .unwrap();
        if let PollEvent::Synced(report) = event
            && report.status == Status::PlanReady
        {
            ready.insert(report.id);
        }
    }
    // Requests waiting for someone (plan ready) are still followed; stop it here.
    poller.abort();
    let store_calls = counting.take();
    assert_eq!(store_calls.get("list"), Some(&1), "{store_calls:?}");
    // Each finished plan is judged by the team's policies once: one listing of `policies/`.
    assert_eq!(
        store_calls.get("list-policies"),
        Some(&3),
        "{store_calls:?}"
    );
    let listings = sim::calls(&github, "GET /repos/{owner}/{repo}/actions/runs", "200")
        + sim::calls(&github, "GET /repos/{owner}/{repo}/actions/runs", "304");
    let syncs = 3 * listings;
    assert!(listings >= 2, "{listings}");
    assert_eq!(
        sim::calls(
            &github,
            "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
            "200"
        ),
        0,
        "runs come from the shared listing ({syncs} syncs)"
    );
    // So do the pull requests: one conditional listing per repository per cycle.
    assert_eq!(
        sim::calls(&github, "GET /repos/{owner}/{repo}/pulls/{number}", "200")
            + sim::calls(&github, "GET /repos/{owner}/{repo}/pulls/{number}", "304"),
        0,
        "pull requests come from the shared listing ({syncs} syncs)"
    );
    assert_eq!(
        sim::calls(&github, "GET /repos/{owner}/{repo}/pulls", "200")
            + sim::calls(&github, "GET /repos/{owner}/{repo}/pulls", "304"),
        listings
    );
}

/// A screen can draw at once from the last run's cache; the store's own listing follows.
async fn a_warm_poller_sends_the_cached_listing_before_listing_the_store(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let first = alice
        .create(bucket("payments-dev-cached1", "dev"))
        .await
        .unwrap()
        .request
        .id;
    let cache = tempfile::tempdir().unwrap();
    let config = || PollerConfig {
        list_cache: Some(cache.path().join("list.json")),
        ..PollerConfig::default()
    };
    let listed = |event: Option<PollEvent>| match event {
        Some(PollEvent::Listed(entries)) => {
            entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
        }
        other => panic!("expected a listing, got {other:?}"),
    };

    // No cache yet: the first thing sent is the store's listing.
    let (sender, mut events) = tokio::sync::mpsc::channel(64);
    let poller = tokio::spawn(Poller::new(bed.engine("bob").await, config()).run(sender));
    assert_eq!(listed(events.recv().await), std::slice::from_ref(&first));
    poller.abort();

    let second = alice
        .create(bucket("payments-dev-cached2", "dev"))
        .await
        .unwrap()
        .request
        .id;
    let (sender, mut events) = tokio::sync::mpsc::channel(64);
    let poller = tokio::spawn(Poller::new(bed.engine("bob").await, config()).run(sender));
    match events.recv().await {
        Some(PollEvent::Cached(entries)) => {
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(ids, [first.as_str()], "what the cache file held");
        }
        other => panic!("expected the cached listing first, got {other:?}"),
    }
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(listed(events.recv().await), expected);
    poller.abort();
}

async fn the_poller_backs_off_on_a_rate_limit_and_says_so(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let alice = bed.engine("alice").await;
    let id = alice
        .create(bucket("payments-dev-limited", "dev"))
        .await
        .unwrap()
        .request
        .id;
    let watcher = bed.engine("bob").await;
    bed.sim.set_rate_limit("bob", 0, Duration::from_secs(3600));
    let config = PollerConfig {
        only: Some(vec![id]),
        ..PollerConfig::default()
    };
    let (sender, mut events) = tokio::sync::mpsc::channel(8);
    let poller = tokio::spawn(Poller::new(watcher, config).run(sender));
    let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("the poller reports")
        .unwrap();
    match event {
        PollEvent::RateLimited { until } => {
            let until = until.expect("GitHub said when the limit resets");
            assert!(until.seconds_since(Timestamp(chrono::Utc::now())) > 3000);
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    poller.abort();
}

async fn an_approval_given_on_github_counts_when_the_reviewer_may_approve(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-reviewed").await;
    let alice = bed.engine("alice").await;
    let request = bed.store.get_request(&id).await.unwrap().value;
    let number = request.pr.as_deref().unwrap().number.unwrap();
    let head = request.pr.as_deref().unwrap().head_sha.clone().unwrap();
    // A developer's approval on GitHub is not an approval tfpilot counts.
    bed::github(&bed.sim, "dave")
        .approve(&sim::repo(), number, &head, "looks fine")
        .await
        .unwrap();
    assert_eq!(alice.sync(&id).await.unwrap().status, Status::PlanReady);
    bed::github(&bed.sim, "carol")
        .approve(&sim::repo(), number, &head, "approved on GitHub")
        .await
        .unwrap();
    let report = alice.sync(&id).await.unwrap();
    assert_eq!(report.status, Status::Approved, "{:?}", report.changes);
    let approval = report.request.approval.unwrap();
    assert_eq!(approval.approvers, ["carol"]);
    assert_eq!(approval.head_sha.as_deref(), Some(head.as_str()));
}

/// An observer's engine read the pull request while it was open; a merge by someone else
/// followed within the read's cache time. Its next sync must ask GitHub again before it calls
/// the document's merge a contradiction (the sandbox seeded every applied request `!doc`).
async fn a_merge_read_from_a_stale_cache_is_checked_before_it_is_called_a_contradiction(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-stale-pull").await;
    // With the read cache a real session has (the test beds turn it off).
    let settings = tfpilot::github::GitHubSettings::new(bed.sim.base_url()).without_timeouts();
    let github = tfpilot::github::GitHub::connect(&settings, "sim-admin").expect("client");
    let team = bed.store.load_team_config().await.expect("team");
    let admin = tfpilot::engine::Engine::new(bed.store.clone(), github, team, "admin");
    admin
        .sync(&id)
        .await
        .expect("admin reads the open pull request");
    bed.engine("bob")
        .await
        .approve(&id, None)
        .await
        .expect("approve");
    bed.engine("alice")
        .await
        .merge(&id, None)
        .await
        .expect("merge");
    let report = admin.sync(&id).await.expect("sync");
    assert_eq!(report.status, Status::Merged, "{:?}", report.changes);
    assert!(
        report.request.contradiction.is_none(),
        "{:?}",
        report.request.contradiction
    );
    assert!(
        !bed.event_kinds(&id)
            .await
            .contains(&"document_contradicted".to_string())
    );
}

with_both_stores!(
    a_merge_read_from_a_stale_cache_is_checked_before_it_is_called_a_contradiction,
    an_approval_given_on_github_counts_when_the_reviewer_may_approve,
    an_update_withdraws_the_approval_and_plans_again,
    drift_checks_record_drift_and_its_clearing,
    a_failed_plan_fails_the_request_and_a_new_plan_recovers_it,
    reconcile_takes_over_expired_locks_and_finds_interrupted_dispatches,
    the_poller_follows_every_request_with_one_listing_per_repo_per_cycle,
    the_poller_backs_off_on_a_rate_limit_and_says_so,
    a_warm_poller_sends_the_cached_listing_before_listing_the_store,
);
