//! The GitHub simulator (docs/simulator.md): a real HTTP server speaking the part of
//! GitHub's REST API tfpilot uses, with GitHub's paths, status codes, payload
//! shapes, ETags and rate limits. The sandbox runs the product against it, and
//! tests drive the real GitHub client through it over loopback.
//!
//! Control endpoints live under `/_sim/` (see `control.rs`); everything else
//! answers as GitHub would.

// Handlers bail out early with the very response GitHub would send; a boxed
// error would only add an allocation to the same path.
#![allow(clippy::result_large_err)]

pub mod access;
mod actions;
pub mod apps;
mod artifacts;
pub mod clock;
mod control;
mod cost;
mod deployments;
mod device;
pub mod git;
pub mod model;
mod payloads;
mod persist;
pub mod plan;
pub mod plan_json;
mod pulls;
mod repos;
pub mod runs;
mod server;
mod settings;
mod workflow_file;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post, put};
use tokio::net::TcpListener;

pub use clock::SimClock;
pub use model::{FaultRule, ScriptedOutcome, SimOptions};

use model::SimState;

/// State shared by every handler.
pub struct Shared {
    state: Mutex<SimState>,
    pub clock: SimClock,
    /// `http://127.0.0.1:PORT`, used in the URLs of payloads.
    pub base_url: String,
    /// Where the world is saved after every change (`None`: memory only).
    persist: Option<PathBuf>,
    /// One save at a time, in order: two writers of the same file could otherwise rename a
    /// half-written one into place, or an older world over a newer.
    saving: Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // Handlers never leave the state half-updated across an await or a
        // panic point, so a poisoned lock still holds consistent data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Saves the world if this simulator keeps one on disk. A failed save is logged: the
    /// simulator keeps serving from memory.
    fn save(&self) {
        let Some(path) = &self.persist else { return };
        let _one_at_a_time = self
            .saving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let world = persist::SavedWorld::capture(&self.lock());
        if let Err(error) = world.save(path) {
            tracing::error!(path = %path.display(), %error, "could not save the simulator");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}; pick another port or stop what is using it")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    served: Option<server::Served>,
}

impl Simulator {
    /// Listen on `addr` (port 0 picks a free one) and serve until shut down.
    pub async fn start(
        addr: SocketAddr,
        options: SimOptions,
        clock: SimClock,
    ) -> Result<Self, SimError> {
        Self::start_with(addr, options, clock, None).await
    }

    /// Like [`Simulator::start`], keeping the world in `path`: loaded from it when it exists,
    /// saved to it after every request that changes something.
    pub async fn start_persistent(
        addr: SocketAddr,
        options: SimOptions,
        clock: SimClock,
        path: PathBuf,
    ) -> Result<Self, SimError> {
        Self::start_with(addr, options, clock, Some(path)).await
    }

    async fn start_with(
        addr: SocketAddr,
        options: SimOptions,
        clock: SimClock,
        persist: Option<PathBuf>,
    ) -> Result<Self, SimError> {
        let mut state = SimState::new(options);
        if let Some(path) = &persist
            && let Some(world) = persist::SavedWorld::load(path)?
        {
            world.restore(&mut state);
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            clock,
            base_url: format!("http://{local}"),
            persist,
            saving: Mutex::new(()),
        });
        let served = server::serve(listener, router(shared.clone()))
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        Ok(Self {
            shared,
            served: Some(served),
        })
    }

    /// A simulator on a free loopback port with a frozen clock, for tests.
    pub async fn for_tests(options: SimOptions) -> Result<Self, SimError> {
        let clock = SimClock::frozen_at(chrono::Utc::now());
        Self::start(SocketAddr::from(([127, 0, 0, 1], 0)), options, clock).await
    }

    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.served.as_ref().map(|served| served.addr)
    }

    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Create `owner/name` with `files` on its default branch `main`.
    pub fn create_repo(
        &self,
        owner: &str,
        name: &str,
        files: BTreeMap<String, String>,
    ) -> Result<(), SimError> {
        control::create_repo(&self.shared, owner, name, files, 0).map(|_| ())
    }

    /// Whether `owner/name` exists (a restored simulator already has its repositories).
    pub fn has_repo(&self, owner: &str, name: &str) -> bool {
        self.shared.lock().repo(owner, name).is_some()
    }

    /// How long runs dispatched from now on stay queued and in progress.
    pub fn set_run_timing(&self, queue_seconds: u64, run_seconds: u64) {
        let mut state = self.shared.lock();
        state.options.queue_seconds = queue_seconds;
        state.options.run_seconds = run_seconds;
    }

    /// Keeps every API answer from now on, for a test that checks them against GitHub's
    /// published description.
    pub fn record_answers(&self) {
        self.shared.lock().recorded = Some(Vec::new());
    }

    /// The answers kept since [`Simulator::record_answers`].
    pub fn recorded_answers(&self) -> Vec<model::RecordedAnswer> {
        self.shared.lock().recorded.clone().unwrap_or_default()
    }

    /// Gives `login` a role in `owner/name` (the owner is an admin; anyone else without a role
    /// cannot see the repository).
    pub fn grant(
        &self,
        owner: &str,
        name: &str,
        login: &str,
        role: access::Permission,
    ) -> Result<(), SimError> {
        let mut state = self.shared.lock();
        let repo = state
            .repo_mut(owner, name)
            .ok_or_else(|| SimError::Invalid(format!("no repository {owner}/{name}")))?;
        repo.collaborators.insert(login.to_string(), role);
        Ok(())
    }

    /// Creates (or replaces) a deployment environment, protected by `reviewers` when any.
    pub fn set_environment(
        &self,
        owner: &str,
        name: &str,
        environment: &str,
        reviewers: &[&str],
    ) -> Result<(), SimError> {
        let mut state = self.shared.lock();
        let repo = state
            .repo_mut(owner, name)
            .ok_or_else(|| SimError::Invalid(format!("no repository {owner}/{name}")))?;
        repo.environments.insert(
            environment.to_string(),
            reviewers.iter().map(|r| r.to_string()).collect(),
        );
        Ok(())
    }

    /// The scopes GitHub reports for `login`'s token (`X-OAuth-Scopes`); `None` behaves like
    /// a fine-grained token, which reports none. Default: `repo, workflow`.
    pub fn set_token_scopes(&self, login: &str, scopes: Option<&str>) {
        self.shared
            .lock()
            .token_scopes
            .insert(login.to_string(), scopes.map(str::to_string));
    }

    /// Registers a GitHub App as `POST /_sim/apps` does: `public_key_pem` verifies its JWTs,
    /// and each installation covers the named repositories (`owner/name`, which must exist).
    pub fn register_app(
        &self,
        id: u64,
        slug: &str,
        public_key_pem: &str,
        installations: &[(u64, &[&str])],
    ) -> Result<(), SimError> {
        self.apps()
            .register(id, slug, public_key_pem, installations)
    }

    /// A handle that registers apps from another task (the sandbox makes its app's key off the
    /// start-up path).
    pub fn apps(&self) -> AppRegistry {
        AppRegistry(self.shared.clone())
    }
}

/// Registers GitHub Apps in a running simulator; see [`Simulator::register_app`].
#[derive(Clone)]
pub struct AppRegistry(Arc<Shared>);

impl AppRegistry {
    pub fn register(
        &self,
        id: u64,
        slug: &str,
        public_key_pem: &str,
        installations: &[(u64, &[&str])],
    ) -> Result<(), SimError> {
        let request = serde_json::json!({
            "id": id,
            "slug": slug,
            "public_key_pem": public_key_pem,
            "installations": installations.iter().map(|(installation, repositories)| serde_json::json!({
                "id": installation,
                "repositories": repositories,
            })).collect::<Vec<_>>(),
        });
        let request = serde_json::from_value(request)
            .map_err(|error| SimError::Invalid(error.to_string()))?;
        apps::register(&self.0, request)
            .map(|_| ())
            .map_err(SimError::Invalid)
    }
}

impl Simulator {
    /// Whether plan runs completing from now on print an Infracost estimate.
    pub fn set_infracost(&self, enabled: bool) {
        self.shared.lock().options.infracost = enabled;
    }

    /// Saves the world now (it is also saved after every change).
    pub fn save(&self) {
        self.shared.save();
    }

    /// Require `count` approving reviews before a merge (branch protection).
    pub fn require_approvals(&self, owner: &str, name: &str, count: u32) -> Result<(), SimError> {
        let mut state = self.shared.lock();
        let repo = state
            .repo_mut(owner, name)
            .ok_or_else(|| SimError::Invalid(format!("no repository {owner}/{name}")))?;
        repo.required_approvals = count;
        Ok(())
    }

    pub fn script_outcome(&self, outcome: ScriptedOutcome) {
        self.shared.lock().outcomes.push(outcome);
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Fault rules not used up yet (a rule with `times` goes when its last request arrives).
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Set a token's remaining primary budget, and the seconds until it resets.
    pub fn set_rate_limit(&self, login: &str, remaining: u32, reset_in: Duration) {
        control::set_budget(&self.shared, login, None, Some(remaining), Some(reset_in));
    }

    /// Give a token an hourly limit of its own (GitHub grants 15,000 to some apps), full now.
    pub fn set_rate_limit_ceiling(&self, login: &str, limit: u32, reset_in: Duration) {
        control::set_budget(
            &self.shared,
            login,
            Some(limit),
            Some(limit),
            Some(reset_in),
        );
    }

    /// Accept (or deny) a pending device-flow code as `login`, like a person
    /// entering it at `/login/device`.
    pub fn authorize_device(
        &self,
        user_code: &str,
        login: &str,
        deny: bool,
    ) -> Result<(), SimError> {
        device::authorize(&self.shared, user_code, login, deny)
    }

    /// Everything the simulated GitHub holds, as it would be saved: every repository with
    /// every commit's files, pull requests, reviews, runs and the Terraform state of applies.
    pub fn world(&self) -> serde_json::Value {
        let world = persist::SavedWorld::capture(&self.shared.lock());
        serde_json::to_value(&world).unwrap_or_default()
    }

    /// What `GET /_sim/state` returns.
    pub fn snapshot(&self) -> serde_json::Value {
        control::snapshot(&self.shared)
    }

    /// Accepted dispatches of `workflow` for `request_id` in `owner/repo`.
    pub fn dispatch_count(&self, owner: &str, repo: &str, workflow: &str, request_id: &str) -> u32 {
        let key = control::dispatch_key(owner, repo, workflow, request_id);
        self.shared
            .lock()
            .dispatches
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Calls answered for a route template (`/repos/{owner}/{repo}/pulls/{number}`),
    /// by status.
    pub fn calls_to(&self, method: &str, route: &str) -> BTreeMap<u16, u64> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|((m, r, _), _)| m == method && r == route)
            .map(|((_, _, status), count)| (*status, *count))
            .collect()
    }

    pub async fn shutdown(mut self) {
        if let Some(served) = self.served.take() {
            let _ = served.shutdown.send(());
            let _ = served.task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(served) = self.served.take() {
            let _ = served.shutdown.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/user", get(repos::current_user))
        .route("/app", get(apps::get_app))
        .route("/app/installations", get(apps::list_installations))
        .route(
            "/app/installations/{installation_id}/access_tokens",
            post(apps::create_access_token),
        )
        .route(
            "/repos/{owner}/{repo}/installation",
            get(apps::repo_installation),
        )
        .route("/rate_limit", get(repos::rate_limit))
        .route("/login/device/code", post(device::request_code))
        .route("/login/oauth/access_token", post(device::access_token))
        .route("/repos/{owner}/{repo}", get(repos::get_repo))
        .route(
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            get(settings::get_protection),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{environment}",
            get(settings::get_environment),
        )
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(repos::get_contents).put(repos::put_contents),
        )
        .route(
            "/repos/{owner}/{repo}/git/ref/{*reference}",
            get(repos::get_ref),
        )
        .route("/repos/{owner}/{repo}/git/refs", post(repos::create_ref))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*reference}",
            delete(repos::delete_ref),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(pulls::list).post(pulls::create),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(pulls::get).patch(pulls::update),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/files",
            get(pulls::list_files),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(pulls::list_reviews).post(pulls::create_review),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            put(pulls::merge),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/update-branch",
            put(pulls::update_branch),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
            post(actions::dispatch),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
            get(actions::list_workflow_runs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs",
            get(actions::list_runs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}",
            get(actions::get_run),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            get(actions::list_jobs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
            get(artifacts::list_for_run),
        )
        .route(
            "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
            get(artifacts::download),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments",
            get(deployments::list_pending).post(deployments::review_pending),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel",
            post(deployments::cancel),
        )
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{job_id}",
            get(actions::get_job),
        )
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
            get(actions::job_logs),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            server::api_layer,
        ));
    let control = Router::new()
        .route("/_sim/repos", post(control::post_repo))
        .route("/_sim/apps", post(apps::post_app))
        .route("/_sim/state", get(control::get_state))
        .route(
            "/_sim/faults",
            post(control::post_fault).delete(control::delete_faults),
        )
        .route(
            "/_sim/outcomes",
            post(control::post_outcome).delete(control::delete_outcomes),
        )
        .route("/_sim/clock", post(control::post_clock))
        .route("/_sim/rate_limit", post(control::post_rate_limit))
        .route("/_sim/token_scopes", post(control::post_token_scopes))
        .route(
            "/_sim/device/authorize",
            post(control::post_device_authorize),
        )
        .route("/_sim/logs/{job_id}", get(actions::log_blob))
        .route("/_sim/artifacts/{artifact_id}", get(artifacts::blob))
        .route("/_sim/raw/{owner}/{repo}/{sha}", get(repos::raw_blob))
        .route("/login/device", get(device::verification_page));
    api.merge(control)
        .fallback(|| async { server::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            server::persist_layer,
        ))
        .with_state(shared)
}
