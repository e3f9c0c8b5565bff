//! Orchestration: the lifecycle operations, sync and reconcile. Every mutation follows the
//! mutation frame (docs/architecture.md, "Contracts"): an access decision with a reason, the
//! request lock, replay of an idempotency key used in the last 10 minutes, the external effect,
//! then outcome + event + lock release.

mod assist;
mod cancel;
mod change;
mod clock;
mod create;
mod deployment;
mod diff;
mod error;
mod fold;
mod guard;
mod notify;
mod plan_policy;
mod policies;
mod policy_gate;
mod poller;
mod reconcile;
mod review;
mod runs;
mod secrets;
mod sync;
mod templates;
mod verify;
mod withdraw;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use assist::Assisted;
pub use clock::Clock;
pub use create::CreateInput;
pub use error::{EngineError, ErrorKind};
pub use notify::{NotifyFailure, NotifyOptions, NotifyReport, NotifyReports};
pub use policies::{PolicySeed, SEED_POLICIES};
pub use poller::{Nudge, PollEvent, Poller, PollerConfig};
pub use reconcile::{ReconcileItem, ReconcileReport, needs_attention};
pub use runs::apply_tag;
pub use sync::{RunIndex, RunLog, SyncReport};
pub use templates::{SEED_TEMPLATES, SeedResult};
pub use withdraw::MAX_REASON_CHARS;

use crate::domain::access::{Decision, Subject};
use crate::domain::deployment::Verdict;
use crate::domain::lock::{HEARTBEAT_SECONDS, LOCK_TTL_SECONDS};
use crate::domain::operation::Operation;
use crate::domain::request::Target;
use crate::domain::{Request, Timestamp};
use crate::github::{GitHub, MergeMethod, RepoId};
use crate::store::{Store, TeamConfig};

/// Tunables; the defaults are the mutation frame's (docs/architecture.md, "Contracts").
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub lock_ttl_seconds: i64,
    pub heartbeat: Duration,
    /// How long a used idempotency key replays its stored outcome.
    pub idempotency_window_seconds: i64,
    /// The tail of a plan log kept (and copied to `plans/`).
    pub plan_log_max_bytes: usize,
    pub merge_method: MergeMethod,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            lock_ttl_seconds: LOCK_TTL_SECONDS,
            heartbeat: Duration::from_secs(HEARTBEAT_SECONDS as u64),
            idempotency_window_seconds: 600,
            plan_log_max_bytes: 1 << 20,
            merge_method: MergeMethod::Merge,
        }
    }
}

/// The control plane for one person: their GitHub client, the shared store and the team's
/// configuration. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    github: GitHub,
    team: std::sync::Arc<TeamConfig>,
    actor: String,
    holder: String,
    /// Ties this engine's events to its log lines.
    correlation_id: String,
    clock: Clock,
    settings: EngineSettings,
    /// Where sensitive values go; without one, a request with a sensitive value is refused.
    secrets: Option<std::sync::Arc<dyn crate::secrets::SecretStore>>,
}

/// How an operation ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// It did what was asked.
    Done,
    /// What it would do already holds or is under way (someone else did it, or an earlier try).
    AlreadyDone,
    /// The same idempotency key was used within the window: this is that call's outcome.
    Replayed,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpOutcome {
    pub operation: Operation,
    pub result: OpResult,
    pub message: String,
    pub request: Request,
}

impl Engine {
    /// `actor` is the GitHub login the token belongs to: every decision is about them.
    pub fn new(store: Store, github: GitHub, team: TeamConfig, actor: impl Into<String>) -> Self {
        let actor = actor.into();
        let host = hostname();
        let holder = format!("{actor}@{host} pid {}", std::process::id());
        Engine {
            store,
            github,
            team: std::sync::Arc::new(team),
            actor,
            holder,
            correlation_id: crate::logging::correlation_id(),
            clock: Clock::system(),
            settings: EngineSettings::default(),
            secrets: None,
        }
    }

    pub fn with_secrets(
        mut self,
        secrets: std::sync::Arc<dyn crate::secrets::SecretStore>,
    ) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_settings(mut self, settings: EngineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Names this engine in locks ("alice@host pid 42" by default).
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn github(&self) -> &GitHub {
        &self.github
    }

    pub fn team(&self) -> &TeamConfig {
        &self.team
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs a lifecycle operation on request `id`: the one entry the CLI and the dashboard
    /// share. Create and update take input of their own ([`Engine::create`],
    /// [`Engine::update`]) and are refused here.
    pub async fn run(
        &self,
        operation: Operation,
        id: &str,
        key: Option<&str>,
    ) -> Result<OpOutcome, EngineError> {
        match operation {
            Operation::Plan => self.plan(id, key).await,
            Operation::Approve => self.approve(id, key).await,
            Operation::Merge => self.merge(id, key).await,
            Operation::Apply => self.apply(id, key).await,
            Operation::Destroy => self.destroy(id, key).await,
            Operation::Cleanup => self.cleanup(id, key).await,
            Operation::DriftCheck => self.drift_check(id, key).await,
            Operation::ApproveDeployment => {
                self.review_deployment(id, Verdict::Approve, None, key)
                    .await
            }
            Operation::Cancel => self.cancel(id, key).await,
            Operation::Withdraw => self.withdraw(id, None, key).await,
            Operation::RejectDeployment => {
                self.review_deployment(id, Verdict::Reject, None, key).await
            }
            Operation::Create
            | Operation::Update
            | Operation::Change
            | Operation::OverridePolicy => Err(EngineError::Invalid {
                message: format!("{} takes its values: use its own command", operation.verb()),
            }),
        }
    }

    /// Whether this engine's user may write what GitHub says into the store (everyone but
    /// viewers, and `automation` identities); a viewer's engine syncs in memory only.
    pub fn may_write_store(&self) -> bool {
        self.team.access.authorize_sync(&self.actor).is_allowed()
    }

    /// The access decision for `operation` on `request`.
    pub fn authorize(&self, operation: Operation, request: &Request) -> Decision {
        self.decide(operation, Subject::of(request))
    }

    /// The policy decides, refusing everything while it is broken (see
    /// [`AccessPolicy::refusing`](crate::domain::access::AccessPolicy::refusing)).
    fn decide(&self, operation: Operation, subject: Subject<'_>) -> Decision {
        self.team.access.authorize(&self.actor, operation, subject)
    }

    fn require(&self, operation: Operation, subject: Subject<'_>) -> Result<(), EngineError> {
        match self.decide(operation, subject) {
            Decision::Allowed => Ok(()),
            Decision::Denied { reason } => Err(EngineError::denied(reason)),
        }
    }
}

/// The repository a request's block lives in.
fn repo_of(request: &Request) -> Result<(RepoId, &Target), EngineError> {
    match &request.target {
        Some(target) if !target.owner.is_empty() && !target.repo.is_empty() => {
            Ok((RepoId::new(&target.owner, &target.repo), target))
        }
        _ => Err(EngineError::Invalid {
            message: format!(
                "request {} has no target repository; it was not created by tfpilot's engine",
                request.id
            ),
        }),
    }
}

fn target_file(target: &Target) -> String {
    if target.env_path.is_empty() {
        target.file.clone()
    } else {
        format!("{}/{}", target.env_path.trim_end_matches('/'), target.file)
    }
}

/// This machine's name, for lock holders ("alice@bastion-1 pid 42"); shells often keep
/// `$HOSTNAME` unexported, so the kernel's answer comes first.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn new_id() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}

/// The outcome JSON kept with an idempotency key, replayed on a repeat.
fn stored_outcome(message: &str, events: &[guard::PendingEvent]) -> Value {
    serde_json::json!({
        "message": message,
        "events": events,
    })
}
