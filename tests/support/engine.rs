//! A test bed for the engine: the simulator with acme/infra-live, a store seeded with team
//! configuration, and an engine per user.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tfpilot::domain::Timestamp;
use tfpilot::domain::request::Lock;
use tfpilot::engine::{CreateInput, Engine};
use tfpilot::github::{GitHub, GitHubSettings};
use tfpilot::sim::{SimOptions, Simulator};
use tfpilot::store::{ObjectStore, Store};

use super::sim::simulator;

pub const POLICY: &str = r#"{
  "admins": ["admin"],
  "approvers": ["bob", "admin", "carol"],
  "viewers": ["viewer"],
  "prod_environments": ["prod"],
  "prod_allowed_users": ["bob", "admin"],
  "destroy_prod_allowed_users": ["admin"]
}"#;

pub const REPOS: &str = r#"{"projects": {"payments": {
  "dev":  {"owner": "acme", "repo": "infra-live", "base": "main", "env_path": "envs/dev",  "file": "tfpilot.tf"},
  "prod": {"owner": "acme", "repo": "infra-live", "base": "main", "env_path": "envs/prod", "file": "tfpilot.tf"}
}}}"#;

pub struct Bed {
    pub sim: Simulator,
    pub store: Store,
}

/// The events of a whole lifecycle (create to cleanup), each recorded exactly once.
pub const LIFECYCLE_EVENTS: [&str; 11] = [
    "request_created",
    "plan_dispatched",
    "plan_succeeded",
    "request_approved",
    "pr_merged",
    "apply_dispatched",
    "apply_succeeded",
    "destroy_dispatched",
    "destroy_succeeded",
    "cleanup_opened",
    "cleanup_succeeded",
];

/// Seconds for a dispatched run to complete in the simulator's default options.
pub const RUN_SECONDS: u64 = 10;

pub async fn bed(backend: Arc<dyn ObjectStore>) -> Bed {
    let sim = simulator(SimOptions {
        queue_seconds: 2,
        run_seconds: 6,
        ..SimOptions::default()
    })
    .await;
    let store = Store::new(backend);
    seed_team(&store).await;
    Bed { sim, store }
}

pub async fn seed_team(store: &Store) {
    let module = std::fs::read("examples/store/config/modules/s3-bucket.json").expect("module");
    for (key, body) in [
        ("config/modules/s3-bucket.json", module),
        ("config/infra-repos.json", REPOS.as_bytes().to_vec()),
        ("config/policy.json", POLICY.as_bytes().to_vec()),
    ] {
        store.put_once(key, body).await.expect("seed team config");
    }
}

pub fn github(sim: &Simulator, login: &str) -> GitHub {
    let mut settings = GitHubSettings::new(sim.base_url())
        .without_timeouts()
        .without_ttl_cache();
    // The same retries, without the seconds of waiting.
    settings.policy.backoff = vec![Duration::from_millis(5); 3];
    GitHub::connect(&settings, &format!("sim-{login}")).expect("client")
}

impl Bed {
    pub async fn engine(&self, login: &str) -> Engine {
        let team = self.store.load_team_config().await.expect("team config");
        assert!(team.problems.is_empty(), "{:?}", team.problems);
        Engine::new(self.store.clone(), github(&self.sim, login), team, login)
            .with_holder(format!("{login}@test"))
    }

    /// Lets every dispatched run finish.
    pub fn finish_runs(&self) {
        self.sim.advance(Duration::from_secs(RUN_SECONDS));
    }

    /// Branches of acme/infra-live whose name mentions `id`.
    pub fn branches_for(&self, id: &str) -> usize {
        let snapshot = self.sim.snapshot();
        snapshot["repos"][0]["branches"]
            .as_object()
            .map_or(0, |b| b.keys().filter(|name| name.contains(id)).count())
    }

    /// Pull requests whose head branch mentions `id`.
    pub fn pulls_for(&self, id: &str) -> usize {
        let snapshot = self.sim.snapshot();
        snapshot["pulls"].as_array().map_or(0, |pulls| {
            pulls
                .iter()
                .filter(|p| p["head"].as_str().is_some_and(|h| h.contains(id)))
                .count()
        })
    }

    /// Runs of `operation` the simulator started for `id`.
    pub fn runs_for(&self, operation: &str, id: &str) -> usize {
        let snapshot = self.sim.snapshot();
        snapshot["runs"].as_array().map_or(0, |runs| {
            runs.iter()
                .filter(|r| r["request_id"] == id && r["operation"] == operation)
                .count()
        })
    }

    /// `login` asks for a bucket named `name`; returns the request id.
    pub async fn create(&self, login: &str, name: &str, environment: &str) -> String {
        let outcome = self
            .engine(login)
            .await
            .create(bucket(name, environment))
            .await
            .expect("create");
        outcome.request.id
    }

    /// Alice's request whose plan finished and was synced.
    pub async fn planned(&self, environment: &str, name: &str) -> String {
        let id = self.create("alice", name, environment).await;
        self.finish_runs();
        self.engine("alice").await.sync(&id).await.expect("sync");
        id
    }

    /// Planned in dev, approved by bob, merged by alice.
    pub async fn merged(&self, name: &str) -> String {
        let id = self.planned("dev", name).await;
        self.engine("bob")
            .await
            .approve(&id, None)
            .await
            .expect("approve");
        self.engine("alice")
            .await
            .merge(&id, None)
            .await
            .expect("merge");
        id
    }

    /// Merged, applied by bob, and synced after the apply finished.
    pub async fn applied(&self, name: &str) -> String {
        let id = self.merged(name).await;
        let bob = self.engine("bob").await;
        bob.apply(&id, None).await.expect("apply");
        self.finish_runs();
        bob.sync(&id).await.expect("sync");
        id
    }

    /// The kinds of the request's lifecycle events, oldest first.
    pub async fn event_kinds(&self, id: &str) -> Vec<String> {
        self.store
            .list_events(id)
            .await
            .expect("events")
            .into_iter()
            .map(|event| event.expect("readable event").kind)
            .collect()
    }

    /// Leaves a lock as a process that died holding it would: `holder` for `operation`, taken
    /// at `at`, expiring two minutes later.
    pub async fn plant_lock(&self, id: &str, holder: &str, operation: &str, at: Timestamp) {
        self.store
            .update_request(id, at, |request| {
                request.lock = Some(Box::new(Lock {
                    holder: holder.into(),
                    operation: operation.into(),
                    acquired_at: at,
                    expires_at: at.plus_seconds(120),
                    token: Some(format!("{holder}-token")),
                }));
                Ok(())
            })
            .await
            .expect("plant a lock");
    }

    pub fn dispatches(&self, workflow: &str, id: &str) -> u32 {
        self.sim.dispatch_count("acme", "infra-live", workflow, id)
    }
}

pub fn bucket(name: &str, environment: &str) -> CreateInput {
    let values: Map<String, Value> = json!({"bucket_name": name, "versioning": "true"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    CreateInput {
        project: "payments".into(),
        environment: environment.into(),
        module: "s3-bucket".into(),
        values,
        idempotency_key: None,
        template: None,
        assistant: None,
    }
}

/// Runs `async fn $name(backend: Arc<dyn ObjectStore>)` once per store: the local directory and
/// S3 (skipped without `TFPILOT_TEST_S3_ENDPOINT`, required in CI).
#[macro_export]
macro_rules! with_both_stores {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn local_store() {
                $crate::common::block_on_big_stack(async {
                    let (_dir, backend) = $crate::common::local_backend();
                    super::$name(backend).await;
                });
            }

            #[test]
            fn s3_store() {
                $crate::common::block_on_big_stack(async {
                    let Some(backend) = $crate::common::s3_backend().await else {
                        return;
                    };
                    super::$name(backend).await;
                });
            }
        }
    )+};
}
