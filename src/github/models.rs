//! The parts of GitHub's payloads tfpilot reads. Deliberately lenient: only the
//! fields used are declared, optional wherever GitHub (or an older GitHub
//! Enterprise Server) may leave them out, so a new or missing field elsewhere
//! never breaks a sync.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::progress::{JobProgress, StepProgress};
use crate::domain::request::PullRequestFact;
use crate::domain::{RunConclusion, RunFact, RunStatus, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub mergeable: Option<bool>,
    #[serde(default)]
    pub mergeable_state: Option<String>,
    pub head: BranchRef,
    pub base: BranchRef,
}

impl PullRequest {
    pub fn is_merged(&self) -> bool {
        self.merged.unwrap_or(false) || self.merged_at.is_some()
    }

    pub fn to_fact(&self) -> PullRequestFact {
        PullRequestFact {
            number: Some(self.number),
            url: self.html_url.clone(),
            state: self.state.clone(),
            merged: self.is_merged(),
            merged_at: self.merged_at.as_deref().and_then(Timestamp::parse),
            head_sha: Some(self.head.sha.clone()),
            extra: Default::default(),
        }
    }
}

/// One file of a pull request (`GET .../pulls/{n}/files`, GitHub's `diff-entry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullFile {
    pub filename: String,
    pub status: String,
    #[serde(default)]
    pub additions: u64,
    #[serde(default)]
    pub deletions: u64,
    /// Left out by GitHub for a binary file or a very large change.
    #[serde(default)]
    pub patch: Option<String>,
}

impl PullFile {
    pub fn to_changed(&self) -> crate::domain::pull_diff::ChangedFile {
        crate::domain::pull_diff::ChangedFile {
            filename: self.filename.clone(),
            status: self.status.clone(),
            additions: self.additions,
            deletions: self.deletions,
            patch: self.patch.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    #[serde(default)]
    pub user: Option<User>,
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub commit_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_title: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub workflow_id: Option<u64>,
    #[serde(default)]
    pub run_number: Option<u64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Who started the run; `triggering_actor` differs from it for a re-run.
    #[serde(default)]
    pub actor: Option<User>,
    #[serde(default)]
    pub triggering_actor: Option<User>,
}

/// The parts of a run name the infra workflows set with
/// `run-name: tfpilot <operation> <request_id> <dispatch_id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunName {
    pub operation: String,
    pub request_id: String,
    pub dispatch_id: String,
}

impl RunName {
    pub fn parse(name: &str) -> Option<Self> {
        let mut words = name.split_whitespace();
        if words.next()? != "tfpilot" {
            return None;
        }
        let (operation, request_id, dispatch_id) = (words.next()?, words.next()?, words.next()?);
        words.next().is_none().then(|| Self {
            operation: operation.to_string(),
            request_id: request_id.to_string(),
            dispatch_id: dispatch_id.to_string(),
        })
    }
}

impl WorkflowRun {
    /// The tfpilot identity in the run's name (or display title, which GitHub
    /// also fills from `run-name`).
    pub fn tfpilot_name(&self) -> Option<RunName> {
        self.name
            .as_deref()
            .and_then(RunName::parse)
            .or_else(|| self.display_title.as_deref().and_then(RunName::parse))
    }

    pub fn to_fact(&self) -> RunFact {
        RunFact {
            id: Some(self.id),
            status: self.status.as_deref().map(RunStatus::parse),
            conclusion: self.conclusion.as_deref().map(RunConclusion::parse),
            head_sha: Some(self.head_sha.clone()),
            html_url: self.html_url.clone(),
            dispatch_id: self.tfpilot_name().map(|name| name.dispatch_id),
            created_at: self.created_at.as_deref().and_then(Timestamp::parse),
            updated_at: self.updated_at.as_deref().and_then(Timestamp::parse),
            dispatched_by: self
                .triggering_actor
                .as_ref()
                .or(self.actor.as_ref())
                .map(|user| user.login.clone()),
            dispatch_accepted: true,
            deployment_review: None,
            cancelled_before_start_by: None,
            extra: Default::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsPage {
    pub total_count: u64,
    pub workflow_runs: Vec<WorkflowRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub number: u64,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Job {
    /// The job and its steps as `domain::progress` shows them.
    pub fn progress(&self) -> JobProgress {
        let time = |text: &Option<String>| text.as_deref().and_then(Timestamp::parse);
        JobProgress {
            id: self.id,
            name: self.name.clone(),
            status: self.status.clone(),
            conclusion: self.conclusion.clone(),
            started_at: time(&self.started_at),
            completed_at: time(&self.completed_at),
            steps: self
                .steps
                .iter()
                .map(|step| StepProgress {
                    number: step.number,
                    name: step.name.clone(),
                    status: step.status.clone(),
                    conclusion: step.conclusion.clone(),
                    started_at: time(&step.started_at),
                    completed_at: time(&step.completed_at),
                })
                .collect(),
        }
    }
}

/// A workflow run's artifact (`GET .../actions/runs/{run_id}/artifacts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub size_in_bytes: u64,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactsPage {
    pub total_count: u64,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobsPage {
    pub total_count: u64,
    pub jobs: Vec<Job>,
}

/// An environment as GitHub nests it in a pending deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentRef {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Who may review a deployment: a user (`login`) or a team (`slug`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentReviewer {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub reviewer: Option<Value>,
}

impl DeploymentReviewer {
    /// `bob` for a user, `team:platform` for a team.
    pub fn name(&self) -> Option<String> {
        let reviewer = self.reviewer.as_ref()?;
        if let Some(login) = reviewer.get("login").and_then(Value::as_str) {
            return Some(login.to_string());
        }
        reviewer
            .get("slug")
            .or_else(|| reviewer.get("name"))
            .and_then(Value::as_str)
            .map(|slug| format!("team:{slug}"))
    }
}

/// A job of a run waiting for an environment's reviewers (`GET .../pending_deployments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingDeployment {
    pub environment: EnvironmentRef,
    #[serde(default)]
    pub current_user_can_approve: bool,
    #[serde(default)]
    pub reviewers: Vec<DeploymentReviewer>,
    #[serde(default)]
    pub wait_timer: Option<u64>,
}

/// A file's text and blob sha, as the contents API returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub path: String,
    pub sha: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContentPayload {
    pub path: String,
    pub sha: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommitPayload {
    pub sha: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileUpdatePayload {
    pub content: ContentPayload,
    pub commit: CommitPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GitRefPayload {
    #[serde(rename = "ref")]
    pub name: String,
    pub object: CommitPayload,
}

/// A commit tfpilot made through the contents API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCommit {
    pub commit_sha: String,
    pub blob_sha: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub limit: u64,
    pub remaining: u64,
    pub reset: i64,
    #[serde(default)]
    pub used: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RateLimitPayload {
    pub rate: Rate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_parse_only_the_tfpilot_shape() {
        let name = RunName::parse("tfpilot apply req_01ABC d-123").unwrap();
        assert_eq!(
            (
                name.operation.as_str(),
                name.request_id.as_str(),
                name.dispatch_id.as_str()
            ),
            ("apply", "req_01ABC", "d-123")
        );
        assert_eq!(RunName::parse("CI"), None);
        assert_eq!(RunName::parse("tfpilot plan req_1"), None);
        assert_eq!(RunName::parse("tfpilot plan req_1 d extra"), None);
    }
}
