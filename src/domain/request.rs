//! The request document (`requests/<id>.json`): one type shared by every layer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::run::RunFact;
use super::time::Timestamp;

/// The schema version this build writes and the newest it can read.
pub const SCHEMA_VERSION: u32 = 1;

/// A request for infrastructure and every fact gathered about it.
///
/// Fields this build does not know are kept in `extra` and written back unchanged, so an older
/// tfpilot never strips what a newer one (or the original TfPilot) stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub schema_version: u32,
    pub id: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub module: String,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub requested_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// A change request: the applied request whose block this one edits in place (same
    /// markers, same module address), so Terraform updates its resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<String>,
    /// On a change request: the fields it changes that replace the resource (`force_new`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    /// On an original: its change requests, oldest first (each one's status is its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change_requests: Vec<String>,
    /// The assistant conversation the request came from (kept at `assistant/<id>.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<Box<super::assistant::AssistantNote>>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Box<Target>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<Box<PullRequestFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_run: Option<Box<RunFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_run: Option<Box<RunFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_run: Option<Box<RunFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_run: Option<Box<RunFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_pr: Option<Box<PullRequestFact>>,
    /// The check that the state holds nothing of the request before its block is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_run: Option<Box<RunFact>>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Box<Approval>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Box<PlanFact>>,

    /// The status sync last persisted. A cache for readers outside tfpilot; never trusted over
    /// [`crate::domain::derive_status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_derived_at: Option<Timestamp>,

    /// A unique id of this version, set by the store on every write, so a writer whose answer was
    /// lost can tell its own write from another writer's identical-looking one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,

    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub idempotency: BTreeMap<String, IdempotencyEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Box<Lock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Box<DriftFact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Box<CostFact>>,
    /// What the policies on plans said about the latest plan (docs/roles-and-policy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Box<super::policy::PolicyFact>>,
    /// An admin's override of the latest plan's deny (docs/roles-and-policy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_override: Option<Box<super::policy::PolicyOverride>>,
    /// Free-form notes shown on the timeline; kept as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Value>,
    /// Announced transitions (`apply-2006-success` -> claim), claimed here before they are
    /// posted so that concurrent reconcilers announce each once.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notifications: BTreeMap<String, super::notify::NoticeClaim>,
    /// Who withdrew the request (closed its pull request unmerged and deleted its branch) and
    /// why: with the pull request closed and nothing merged, the request is `withdrawn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Box<Withdrawal>>,
    /// The last time tfpilot found this document claiming what GitHub contradicts, and
    /// repaired it: shown as a warning until the request's next operation succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contradiction: Option<Box<Contradiction>>,

    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Request {
    /// The id whose block and module this request's runs work on: its own, or for a change
    /// request the original's.
    pub fn block_id(&self) -> &str {
        self.changes.as_deref().unwrap_or(&self.id)
    }

    /// A fresh request with no GitHub facts yet.
    pub fn new(
        id: impl Into<String>,
        project: impl Into<String>,
        environment: impl Into<String>,
        module: impl Into<String>,
        requested_by: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        Request {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            project: project.into(),
            environment: environment.into(),
            module: module.into(),
            config: Map::new(),
            requested_by: requested_by.into(),
            created_at: now,
            updated_at: now,
            template_id: None,
            changes: None,
            replaces: Vec::new(),
            change_requests: Vec::new(),
            assistant: None,
            target: None,
            branch: None,
            commit_sha: None,
            pr: None,
            merged_sha: None,
            plan_run: None,
            apply_run: None,
            destroy_run: None,
            drift_run: None,
            cleanup_pr: None,
            cleanup_run: None,
            approval: None,
            plan: None,
            status: None,
            status_derived_at: None,
            revision: None,
            idempotency: BTreeMap::new(),
            lock: None,
            drift: None,
            cost: None,
            policy: None,
            policy_override: None,
            timeline: Vec::new(),
            notifications: BTreeMap::new(),
            withdrawal: None,
            contradiction: None,
            extra: Map::new(),
        }
    }
}

/// Where the request's Terraform block lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub base: String,
    #[serde(default)]
    pub env_path: String,
    #[serde(default)]
    pub file: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PullRequestFact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `open` or `closed`, as GitHub reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default)]
    pub merged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PullRequestFact {
    pub fn is_open(&self) -> bool {
        !self.merged && self.state.as_deref() == Some("open")
    }
}

/// A request taken back before it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub by: String,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a document claimed, and what GitHub said instead, when tfpilot checked before acting
/// (or while syncing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contradiction {
    pub at: Timestamp,
    /// What the document said, in words.
    pub claim: String,
    /// What GitHub said, in words.
    pub github: String,
}

impl Contradiction {
    pub fn describe(&self) -> String {
        format!("{}, but GitHub says {}", self.claim, self.github)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    #[serde(default)]
    pub approved: bool,
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// The planned head the approval is for; a new commit needs a new approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanFact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<PlanSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    /// The plan's changes to this request's module (see `domain::attribution`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<super::attribution::ChangeCounts>,
    /// Its changes to anything else in the environment's root module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<super::attribution::OutsideChanges>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PlanFact {
    /// The plan split into this request's changes and the rest, when it was read that way.
    pub fn attribution(&self) -> Option<super::attribution::PlanAttribution> {
        Some(super::attribution::PlanAttribution {
            request: self.request?,
            outside: self.outside.clone().unwrap_or_default(),
        })
    }

    /// Whether the plan changes anything outside the request.
    pub fn changes_outside(&self) -> bool {
        self.outside.as_ref().is_some_and(|o| !o.counts.is_empty())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    #[serde(default)]
    pub add: u32,
    #[serde(default)]
    pub change: u32,
    #[serde(default)]
    pub destroy: u32,
    #[serde(default)]
    pub import: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyEntry {
    pub key: String,
    pub at: Timestamp,
    #[serde(default)]
    pub outcome: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    /// Who holds it, for people: login and where tfpilot runs.
    pub holder: String,
    pub operation: String,
    pub acquired_at: Timestamp,
    pub expires_at: Timestamp,
    /// Unique to one acquisition, so two terminals of one user never share a lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftFact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Timestamp>,
    /// `drifted`, `clean` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The drift check run this result comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    /// The request's resources that changed outside Terraform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The check that found the current state first, and when: a transition is known by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_run: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The state before the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DriftFact {
    pub fn is_drifted(&self) -> bool {
        self.state.as_deref() == Some("drifted")
    }

    /// This result after `before`: the start of the state is carried over while the state
    /// holds, and marked anew when it changes.
    pub fn following(mut self, before: Option<&DriftFact>) -> DriftFact {
        match before {
            Some(before) if before.state == self.state => {
                self.since_run = before.since_run.or(before.run_id);
                self.since = before.since.or(before.checked_at);
                self.previous = before.previous.clone();
            }
            before => {
                self.since_run = self.run_id;
                self.since = self.checked_at;
                self.previous = before.and_then(|b| b.state.clone());
            }
        }
        self
    }
}

/// The cost estimate of the latest plan (see [`super::cost`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostFact {
    /// The change per month; `None` when there is no estimate (never read as zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_delta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Where the full breakdown is stored (`cost/<id>/<run_id>.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `estimated`, `missing` or `unreadable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The plan run the estimate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_total: Option<f64>,
    /// The biggest changes, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<super::cost::CostLine>,
    /// Why there is no estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
