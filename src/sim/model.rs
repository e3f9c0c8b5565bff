//! Everything the simulator remembers. Plain data behind one mutex; the HTTP
//! layer locks it per request, so every request sees one consistent instant.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::git::Repository;

/// Operations the infra repo workflows carry out, by workflow file name.
pub const WORKFLOWS: [(&str, &str); 5] = [
    ("tfpilot-plan.yml", "plan"),
    ("tfpilot-apply.yml", "apply"),
    ("tfpilot-destroy.yml", "destroy"),
    ("tfpilot-cleanup.yml", "cleanup"),
    ("tfpilot-drift.yml", "drift"),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimOptions {
    /// Seconds a run stays queued.
    pub queue_seconds: u64,
    /// Seconds a run stays in progress.
    pub run_seconds: u64,
    /// Primary rate limit per token and hour.
    pub rate_limit: u32,
    /// Whether dispatch honours `return_run_details` (GitHub since 2025). When
    /// false the simulator behaves like an older server and refuses the field.
    pub return_run_details: bool,
    /// Seconds a device-flow client must wait between polls.
    pub device_poll_interval: u64,
    /// Seconds after a push during which a pull request's `mergeable` is `null`,
    /// as GitHub computes it in the background. 0 answers at once.
    #[serde(default)]
    pub mergeability_seconds: u64,
    /// Whether plan runs print an Infracost estimate, as a plan workflow with Infracost
    /// configured does.
    #[serde(default = "enabled")]
    pub infracost: bool,
}

fn enabled() -> bool {
    true
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            queue_seconds: 2,
            run_seconds: 6,
            rate_limit: 5000,
            return_run_details: true,
            device_poll_interval: 5,
            mergeability_seconds: 0,
            infracost: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullState {
    Open,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pull {
    pub id: u64,
    pub number: u64,
    pub repo: String,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub author: String,
    pub state: PullState,
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<String>,
    /// The head commit it was merged at, or had when its branch was deleted: GitHub keeps a
    /// pull request's head (`refs/pull/N/head`) whatever happens to the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_head_sha: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    pub repo: String,
    pub pull: u64,
    pub user: String,
    /// `APPROVED`, `COMMENTED` or `CHANGES_REQUESTED`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub submitted_at: DateTime<Utc>,
}

/// How a run ends, scripted per request and operation through `/_sim/outcomes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScriptedOutcome {
    pub request_id: String,
    pub operation: String,
    /// `success`, `failure` or `cancelled`.
    #[serde(default = "default_conclusion")]
    pub conclusion: String,
    /// The error Terraform reports when the run fails.
    #[serde(default)]
    pub error: Option<String>,
    /// For drift checks: report changes made outside Terraform.
    #[serde(default)]
    pub drift: bool,
    /// How many runs it applies to; forever when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

fn default_conclusion() -> String {
    "success".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: u64,
    pub job_id: u64,
    pub repo: String,
    pub workflow: String,
    pub workflow_id: u64,
    pub run_number: u64,
    /// The run's display title: the workflow's `run-name` with its inputs filled in.
    pub name: String,
    /// The workflow's `name`.
    #[serde(default)]
    pub workflow_name: String,
    pub operation: String,
    pub request_id: String,
    /// A change request's original (the `block_id` input): whose block and module the run
    /// works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_id: Option<String>,
    pub dispatch_id: String,
    pub environment: String,
    pub head_branch: String,
    pub head_sha: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub queue_seconds: i64,
    pub run_seconds: i64,
    pub conclusion: String,
    pub error: Option<String>,
    pub drift: bool,
    /// Set once the run completed and its effects (state changes, log) happened.
    pub log: Option<String>,
    /// The deployment environment whose required reviewers hold the run's job.
    #[serde(default)]
    pub gate: Option<Gate>,
    /// When a rejected deployment review or a cancel ended the run before its time.
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
    /// The plan and apply workflows' `scope` input: `request` (their default: `-target` of the
    /// request's module) or `root`. `None` for the workflows without it.
    #[serde(default)]
    pub scope: Option<String>,
    /// The names the workflow's `actions/upload-artifact` steps upload, read at dispatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<String>,
    /// `terraform show -json` of a successful plan whose workflow uploads it (the
    /// `tfpilot-plan-json` artifact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_json: Option<String>,
}

impl Run {
    /// Runs only the request's module (`-target`): destroys always, plans and applies unless
    /// dispatched with `scope: root`.
    /// The id whose block the run plans or applies: the `block_id` input, else the request's.
    pub fn target_id(&self) -> &str {
        self.block_id.as_deref().unwrap_or(&self.request_id)
    }

    pub fn targets_request(&self) -> bool {
        match self.operation.as_str() {
            "destroy" => true,
            "plan" | "apply" => self.scope.as_deref() != Some("root"),
            _ => false,
        }
    }
}

/// A job that targets an environment with required reviewers waits for one of them, as on
/// GitHub ("Reviewing deployments").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub environment: String,
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub decision: Option<GateDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    pub approved: bool,
    pub by: String,
    pub at: DateTime<Utc>,
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    Queued,
    /// Held by a deployment environment's protection rules.
    Waiting,
    InProgress,
    Completed,
}

impl Run {
    pub fn queued_until(&self) -> DateTime<Utc> {
        self.created_at + Duration::seconds(self.queue_seconds)
    }

    /// When the job started running: after the queue and, for a gated job, once a reviewer
    /// approved it. `None` while it has not started, and for a run stopped before it did.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        let queued = self.queued_until();
        let start = match &self.gate {
            None => queued,
            Some(gate) => match &gate.decision {
                Some(decision) if decision.approved => queued.max(decision.at),
                _ => return None,
            },
        };
        match self.stopped_at {
            Some(stop) if stop <= start => None,
            _ => Some(start),
        }
    }

    /// When the run completes (or completed); `None` while that depends on a review.
    pub fn completed_at(&self) -> Option<DateTime<Utc>> {
        let natural = self
            .started_at()
            .map(|start| start + Duration::seconds(self.run_seconds));
        match (natural, self.stopped_at) {
            (Some(natural), Some(stop)) => Some(natural.min(stop)),
            (natural, stop) => natural.or(stop),
        }
    }

    pub fn phase(&self, now: DateTime<Utc>) -> RunPhase {
        if self.completed_at().is_some_and(|end| now >= end) {
            RunPhase::Completed
        } else if now < self.queued_until() {
            RunPhase::Queued
        } else if self.started_at().is_none_or(|start| now < start) {
            RunPhase::Waiting
        } else {
            RunPhase::InProgress
        }
    }

    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        match self.phase(now) {
            RunPhase::Queued => "queued",
            RunPhase::Waiting => "waiting",
            RunPhase::InProgress => "in_progress",
            RunPhase::Completed => "completed",
        }
    }

    pub fn conclusion_at(&self, now: DateTime<Utc>) -> Option<&str> {
        (self.phase(now) == RunPhase::Completed).then_some(self.conclusion.as_str())
    }

    pub fn updated_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.phase(now) {
            RunPhase::Queued => self.created_at,
            RunPhase::Waiting => self.queued_until(),
            RunPhase::InProgress => self.started_at().unwrap_or(self.created_at),
            RunPhase::Completed => self.completed_at().unwrap_or(self.created_at),
        }
    }

    /// The deployment review that holds the run at `now`, if one does.
    pub fn pending_gate(&self, now: DateTime<Utc>) -> Option<&Gate> {
        self.gate
            .as_ref()
            .filter(|gate| gate.decision.is_none() && self.phase(now) == RunPhase::Waiting)
    }
}

/// A token's primary rate-limit window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    pub reset: DateTime<Utc>,
}

impl Budget {
    pub fn fresh(limit: u32, now: DateTime<Utc>) -> Self {
        Self {
            limit,
            remaining: limit,
            reset: now + Duration::hours(1),
        }
    }

    /// Start a new window once the old one has passed.
    pub fn roll(&mut self, now: DateTime<Utc>) {
        if now >= self.reset {
            *self = Self::fresh(self.limit, now);
        }
    }
}

/// An injected fault, matched by method and path pattern (`*` matches any run
/// of characters, including `/`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    pub path: String,
    #[serde(default)]
    pub method: Option<String>,
    /// Answer with this status instead of calling the handler.
    #[serde(default)]
    pub status: Option<u16>,
    /// The JSON body to answer with; GitHub's generic one for the status if absent.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Delay before answering (or before dropping).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop_connection: bool,
    /// Let the request take effect first, then fail its answer: the "GitHub
    /// acted but the reply was lost" case that makes blind write retries unsafe.
    #[serde(default)]
    pub after_handler: bool,
    /// Share of matching requests affected, 0.0 to 1.0.
    #[serde(default = "one")]
    pub rate: f64,
    /// How many requests it affects; forever when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule for requests to `path` (any method) that does nothing yet: set what it does with
    /// struct update syntax, `FaultRule { status: Some(502), ..FaultRule::on("/repos/*") }`.
    pub fn on(path: impl Into<String>) -> Self {
        FaultRule {
            path: path.into(),
            method: None,
            status: None,
            body: None,
            retry_after: None,
            latency_ms: None,
            drop_connection: false,
            after_handler: false,
            rate: 1.0,
            times: None,
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
            && glob_match(&self.path, path)
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(remaining) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=remaining.len())
                .filter(|index| remaining.is_char_boundary(*index))
                .any(|index| glob_match(rest, &remaining[index..]))
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    pub interval: u64,
    pub last_poll: Option<DateTime<Utc>>,
    /// The login that entered the code, once someone did.
    pub authorized_by: Option<String>,
    pub denied: bool,
    pub redeemed: bool,
}

#[derive(Debug, Default)]
pub struct SimState {
    pub options: SimOptions,
    pub next_id: u64,
    pub users: BTreeMap<String, u64>,
    /// Keyed by lowercase `owner/name`, as GitHub's names are case-insensitive.
    pub repos: BTreeMap<String, Repository>,
    pub pulls: Vec<Pull>,
    pub reviews: Vec<Review>,
    pub runs: Vec<Run>,
    pub outcomes: Vec<ScriptedOutcome>,
    /// Applied Terraform state: (repo, directory) -> block id -> block text.
    pub deployed: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// `owner/repo/workflow/request_id` -> dispatches accepted.
    pub dispatches: BTreeMap<String, u32>,
    pub budgets: BTreeMap<String, Budget>,
    pub faults: Vec<FaultRule>,
    /// (method, route, status) -> calls answered.
    pub calls: BTreeMap<(String, String, u16), u64>,
    pub device_grants: Vec<DeviceGrant>,
    /// Counter for fault rates, so a given sequence of requests is reproducible.
    pub fault_draws: u64,
    /// login -> the scopes its token reports (`None`: a fine-grained token); default
    /// `repo, workflow`.
    pub token_scopes: BTreeMap<String, Option<String>>,
    /// Every API answer, while a conformance test asks for them (`Simulator::record_answers`).
    pub recorded: Option<Vec<RecordedAnswer>>,
    /// GitHub Apps by id (`POST /_sim/apps`).
    pub apps: BTreeMap<u64, super::apps::SimApp>,
    /// Installation tokens granted and what they act as, until they expire.
    pub installation_tokens: BTreeMap<String, super::apps::Grant>,
}

/// One API answer as a client received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAnswer {
    pub method: String,
    /// The route template (`/repos/{owner}/{repo}/pulls/{number}`).
    pub route: String,
    pub status: u16,
    pub body: Vec<u8>,
}

impl SimState {
    /// `branch` of `repo` moved to a new commit. As on GitHub, each open pull request with that
    /// head counts as updated, and when its base branch is protected (which here says
    /// `dismiss_stale_reviews: true`) its approving reviews are dismissed.
    pub fn pushed(&mut self, repo: &str, branch: &str, now: DateTime<Utc>) {
        // The simulator protects only the default branch, and only with required approvals.
        let protected_base = self
            .repos
            .values()
            .find(|r| r.full_name().eq_ignore_ascii_case(repo))
            .filter(|r| r.required_approvals > 0)
            .map(|r| r.default_branch.clone());
        let mut stale: Vec<u64> = Vec::new();
        for pull in self.pulls.iter_mut().filter(|p| {
            p.repo.eq_ignore_ascii_case(repo) && p.head == branch && p.state == PullState::Open
        }) {
            pull.updated_at = now;
            if protected_base.as_deref() == Some(pull.base.as_str()) {
                stale.push(pull.number);
            }
        }
        for review in self.reviews.iter_mut().filter(|r| {
            r.repo.eq_ignore_ascii_case(repo) && stale.contains(&r.pull) && r.state == "APPROVED"
        }) {
            review.state = "DISMISSED".to_string();
        }
    }

    pub fn new(options: SimOptions) -> Self {
        Self {
            options,
            next_id: 1000,
            ..Self::default()
        }
    }

    pub fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.allocate_id();
        self.users.insert(login.to_string(), id);
        id
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repository> {
        self.repos.get(&repo_key(owner, name))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repository> {
        self.repos.get_mut(&repo_key(owner, name))
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<&Pull> {
        self.pulls
            .iter()
            .find(|pull| pull.repo.eq_ignore_ascii_case(repo) && pull.number == number)
    }

    /// Pull numbers share a sequence with nothing else in the simulator, per repo.
    pub fn next_pull_number(&self, repo: &str) -> u64 {
        self.pulls
            .iter()
            .filter(|pull| pull.repo.eq_ignore_ascii_case(repo))
            .map(|pull| pull.number)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Take the scripted outcome for the next run of `operation` on `request_id`.
    pub fn take_outcome(&mut self, request_id: &str, operation: &str) -> Option<ScriptedOutcome> {
        let index = self
            .outcomes
            .iter()
            .position(|o| o.request_id == request_id && o.operation == operation)?;
        let outcome = self.outcomes[index].clone();
        match &mut self.outcomes[index].times {
            Some(1) => {
                self.outcomes.remove(index);
            }
            Some(left) => *left -= 1,
            None => {}
        }
        Some(outcome)
    }
}

pub fn repo_key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("/repos/*/pulls/*", "/repos/acme/infra/pulls/3"));
        assert!(glob_match("*", "/anything"));
        assert!(glob_match("/rate_limit", "/rate_limit"));
        assert!(!glob_match("/repos/*/pulls", "/repos/acme/infra/pulls/3"));
        assert!(glob_match(
            "*/dispatches",
            "/repos/a/b/actions/workflows/x.yml/dispatches"
        ));
    }

    #[test]
    fn scripted_outcomes_are_used_up() {
        let mut state = SimState::new(SimOptions::default());
        state.outcomes.push(ScriptedOutcome {
            request_id: "r".into(),
            operation: "plan".into(),
            conclusion: "failure".into(),
            error: None,
            drift: false,
            times: Some(2),
        });
        assert!(state.take_outcome("r", "apply").is_none());
        assert!(state.take_outcome("r", "plan").is_some());
        assert!(state.take_outcome("r", "plan").is_some());
        assert!(state.take_outcome("r", "plan").is_none());
    }
}
