//! Sync: read what GitHub knows about one request, fold it into the document, derive the
//! status, and write only when a fact changed. A sync that learns nothing writes nothing.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use super::fold::fold;
use super::{Engine, EngineError, repo_of};
use crate::domain::RunKind;
use crate::domain::attribution::attribute;
use crate::domain::cost;
use crate::domain::deployment::{DeploymentReview, GATED_KINDS};
use crate::domain::plan_output::{request_drifted, request_resources, summarize};
use crate::domain::policy::PolicyFact;
use crate::domain::progress::{self, JobProgress};
use crate::domain::request::{CostFact, DriftFact, PlanFact, PullRequestFact};
use crate::domain::{Request, RunFact, Status, Timestamp, derive_status};
use crate::github::models::{Job, PullRequest, WorkflowRun};
use crate::github::{GitHubError, RepoId};
use crate::store::StoreError;

/// Runs and pull requests of each repo, listed once and shared by every request of a sync
/// cycle. What is not in it (an old run, a pull request off the first page) is read on its own.
#[derive(Debug, Default, Clone)]
pub struct RunIndex {
    by_id: HashMap<(String, u64), WorkflowRun>,
    by_dispatch: HashMap<(String, String), WorkflowRun>,
    pulls: HashMap<(String, u64), PullRequest>,
}

impl RunIndex {
    pub fn add(&mut self, repo: &RepoId, runs: impl IntoIterator<Item = WorkflowRun>) {
        let name = format!("{}/{}", repo.owner, repo.name);
        for run in runs {
            if let Some(dispatch) = run.tfpilot_name().map(|n| n.dispatch_id) {
                self.by_dispatch
                    .insert((name.clone(), dispatch), run.clone());
            }
            self.by_id.insert((name.clone(), run.id), run);
        }
    }

    pub fn add_pulls(&mut self, repo: &RepoId, pulls: impl IntoIterator<Item = PullRequest>) {
        let name = format!("{}/{}", repo.owner, repo.name);
        for pull in pulls {
            self.pulls.insert((name.clone(), pull.number), pull);
        }
    }

    fn pull(&self, repo: &RepoId, number: u64) -> Option<&PullRequest> {
        self.pulls
            .get(&(format!("{}/{}", repo.owner, repo.name), number))
    }

    fn find(&self, repo: &RepoId, run: &RunFact) -> Option<&WorkflowRun> {
        let name = format!("{}/{}", repo.owner, repo.name);
        match (run.id, &run.dispatch_id) {
            (Some(id), _) => self.by_id.get(&(name, id)),
            (None, Some(dispatch)) => self.by_dispatch.get(&(name, dispatch.clone())),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub id: String,
    pub status: Status,
    /// Whether the document was written.
    pub changed: bool,
    /// What changed, in words, for `--json` and the TUI's log.
    pub changes: Vec<String>,
    /// The document as the sync left it, so callers need not read it again.
    #[serde(skip)]
    pub request: Request,
}

/// A run as read now: its jobs and steps, and the logs of the jobs that finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLog {
    /// The finished jobs' logs (GitHub serves a job's log once it finished).
    pub text: String,
    /// The run has not completed: reading again later shows more.
    pub running: bool,
    /// GitHub's `status` and `conclusion` of the run.
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub jobs: Vec<JobProgress>,
}

impl RunLog {
    /// What a reader is shown: while the run goes, its steps (and why the log is not there
    /// yet) above whatever log there is; once it ended, the log, or the steps when GitHub has
    /// no log (a job rejected before it ran, or a log GitHub expired).
    pub fn display(&self, now: Timestamp) -> String {
        if !self.running && !self.text.is_empty() {
            return self.text.clone();
        }
        let state = match (&self.status, &self.conclusion) {
            (_, Some(conclusion)) => conclusion.clone(),
            (Some(status), None) => status.clone(),
            _ => "unknown".into(),
        };
        let mut out = format!("run {state}\n");
        for line in progress::describe(&self.jobs, now) {
            out.push_str(&line);
            out.push('\n');
        }
        if !self.running && self.text.is_empty() {
            out.push_str("GitHub has no log for this run (never written, or expired)\n");
        }
        if !self.text.is_empty() {
            out.push('\n');
            out.push_str(&self.text);
        }
        out
    }

    /// The run finished with `success`.
    pub fn succeeded(&self) -> bool {
        !self.running && self.conclusion.as_deref() == Some("success")
    }
}

/// What one sync learned from GitHub, before it is folded into the document.
#[derive(Debug, Default, Clone)]
pub(super) struct Observed {
    pub pr: Option<PullRequestFact>,
    pub merge_commit_sha: Option<String>,
    pub cleanup_pr: Option<PullRequestFact>,
    /// Who GitHub shows approving the PR's current head, as the policy counts them; `None`
    /// when the reviews were not read (no plan of that head, or the PR is not open).
    pub approvals_at_head: Option<Vec<String>>,
    pub runs: Vec<(RunKind, RunFact)>,
    pub plan: Option<(u64, PlanFact)>,
    pub cost: Option<(u64, CostFact)>,
    pub drift: Option<(u64, DriftFact)>,
    pub policy: Option<(u64, PolicyFact)>,
}

impl Engine {
    /// Reads GitHub for request `id` and writes what it learned into the store: refused for
    /// viewers (see [`crate::domain::access::AccessPolicy::authorize_sync`]).
    pub async fn sync(&self, id: &str) -> Result<SyncReport, EngineError> {
        if let crate::domain::access::Decision::Denied { reason } =
            self.team.access.authorize_sync(&self.actor)
        {
            return Err(EngineError::denied(reason));
        }
        self.sync_with(id, &RunIndex::default()).await
    }

    /// Syncs with runs already listed for this cycle; runs not in `index` are read one by one.
    /// For someone who may not write the store (a viewer's dashboard), the document is brought
    /// up to date in memory only: the report shows what GitHub says, and nothing is written.
    pub async fn sync_with(&self, id: &str, index: &RunIndex) -> Result<SyncReport, EngineError> {
        let read = self.store.get_request(id).await?;
        let current = &read.value;
        if current.target.is_none() {
            // Not made by the engine (an imported document): nothing on GitHub to read.
            return Ok(SyncReport {
                id: id.to_string(),
                status: derive_status(current),
                changed: false,
                changes: Vec::new(),
                request: read.value,
            });
        }
        let observed = self.observe(current, index).await?;
        let now = self.now();
        let mut changes = Vec::new();
        let mut events = Vec::new();
        if !self.may_write_store() {
            let mut request = read.value;
            (changes, _) = fold(&mut request, &observed, now);
            return Ok(SyncReport {
                id: id.to_string(),
                status: derive_status(&request),
                changed: false,
                changes,
                request,
            });
        }
        let stored = self
            .store
            .update_request_from(id, Some(read), now, |request| {
                (changes, events) = fold(request, &observed, now);
                Ok(())
            })
            .await;
        let stored = match stored {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => {
                return Err(EngineError::Invalid {
                    message: format!("request {id} disappeared during the sync (archived?)"),
                });
            }
            Err(error) => return Err(error.into()),
        };
        self.write_timed_events(id, &events).await;
        Ok(SyncReport {
            id: id.to_string(),
            status: derive_status(&stored.value),
            changed: !changes.is_empty(),
            changes,
            request: stored.value,
        })
    }

    async fn observe(&self, request: &Request, index: &RunIndex) -> Result<Observed, EngineError> {
        let (repo, _) = repo_of(request)?;
        let mut observed = Observed::default();
        if let Some(number) = request.pr.as_deref().and_then(|pr| pr.number) {
            let pull = match index.pull(&repo, number) {
                Some(pull) => pull.clone(),
                None => self.github.get_pull(&repo, number).await?,
            };
            // A listed or cached answer can predate a merge the document records (another
            // session merged a moment ago): before saying GitHub disagrees, ask GitHub now.
            let pull = if request.merged_sha.is_some() && !pull.is_merged() {
                self.github.get_pull_current(&repo, number).await?
            } else {
                pull
            };
            // Reviews matter while the PR is open and either a successful plan of this head
            // awaits an approval or the document claims one (GitHub must back the claim).
            let head = Some(pull.head.sha.as_str());
            let planned_here = request
                .plan_run
                .as_ref()
                .is_some_and(|run| run.succeeded() && run.head_sha.as_deref() == head);
            let approved_here = request
                .approval
                .as_ref()
                .is_some_and(|a| a.approved && a.head_sha.as_deref() == head);
            if pull.state.as_deref() == Some("open") && (planned_here || approved_here) {
                observed.approvals_at_head = Some(
                    self.approvers_of(&repo, number, &pull, &request.environment)
                        .await?,
                );
            }
            observed.merge_commit_sha = pull.merge_commit_sha.clone().filter(|_| pull.is_merged());
            observed.pr = Some(pull.to_fact());
        }
        if let Some(number) = request
            .cleanup_pr
            .as_ref()
            .filter(|pr| pr.is_open())
            .and_then(|pr| pr.number)
        {
            let pull = match index.pull(&repo, number) {
                Some(pull) => pull.clone(),
                None => self.github.get_pull(&repo, number).await?,
            };
            observed.cleanup_pr = Some(pull.to_fact());
        }
        for kind in RunKind::ALL {
            let Some(known) = kind.of(request) else {
                continue;
            };
            if known.is_completed() && run_settled(request, kind, known) {
                continue; // A finished run never changes again.
            }
            let run = match index.find(&repo, known) {
                Some(run) => Some(run.clone()),
                None => match (known.id, &known.dispatch_id) {
                    (Some(run_id), _) => Some(self.github.get_run(&repo, run_id).await?),
                    (None, Some(dispatch)) => {
                        self.github
                            .find_dispatched_run(&repo, kind.workflow(), dispatch)
                            .await?
                    }
                    (None, None) => None,
                },
            };
            let Some(run) = run else { continue };
            let mut fact = run.to_fact();
            if fact.is_waiting() && GATED_KINDS.contains(&kind) {
                fact.deployment_review = self.deployment_review(&repo, run.id).await;
            }
            if fact.is_completed() {
                match kind {
                    RunKind::Plan if !plan_recorded(request, run.id) => {
                        // Boxed: reading the log and the estimate makes a large future.
                        let (plan, cost) =
                            Box::pin(self.read_plan(request, &repo, run.id, fact.succeeded()))
                                .await?;
                        if fact.succeeded() {
                            let estimate = cost.as_ref().map(|(_, cost)| cost);
                            observed.policy =
                                Box::pin(self.judge_plan(request, &repo, run.id, estimate))
                                    .await?
                                    .map(|policy| (run.id, policy));
                        }
                        observed.plan = plan;
                        observed.cost = cost;
                    }
                    RunKind::Drift if !drift_recorded(request, run.id) => {
                        observed.drift = self
                            .read_drift(request, &repo, &fact, now_or(&fact))
                            .await?;
                    }
                    _ => {}
                }
            }
            observed.runs.push((kind, fact));
        }
        Ok(observed)
    }

    /// Who must review the deployment a waiting run is held for. A failed read leaves it
    /// unsaid (the run still shows as waiting) rather than failing the whole sync.
    async fn deployment_review(&self, repo: &RepoId, run_id: u64) -> Option<DeploymentReview> {
        match self.github.pending_deployments(repo, run_id).await {
            Ok(pending) => pending
                .into_iter()
                .next()
                .map(|deployment| DeploymentReview {
                    environment: deployment.environment.name.unwrap_or_default(),
                    reviewers: deployment
                        .reviewers
                        .iter()
                        .filter_map(|reviewer| reviewer.name())
                        .collect(),
                }),
            Err(error) => {
                tracing::warn!(run = run_id, %error, "reading the run's pending deployments");
                None
            }
        }
    }

    /// The plan log of a finished plan run: counts, and a copy kept in the store because
    /// GitHub expires logs; with the cost estimate the run printed, if any.
    async fn read_plan(
        &self,
        request: &Request,
        repo: &RepoId,
        run_id: u64,
        succeeded: bool,
    ) -> Result<(Option<(u64, PlanFact)>, Option<(u64, CostFact)>), EngineError> {
        let Some(text) = self.run_log(repo, run_id).await? else {
            return Ok((None, None));
        };
        let key = format!("plans/{}/{run_id}.txt", request.id);
        self.store.put_once(&key, text.clone().into_bytes()).await?;
        let cost = self.read_cost(request, run_id, &text, succeeded).await?;
        let summary = summarize(&text);
        let attribution = summary.map(|_| attribute(&text, request.block_id()));
        let plan = PlanFact {
            summary,
            output_key: Some(key),
            request: attribution.as_ref().map(|a| a.request),
            outside: attribution.map(|a| a.outside),
            ..PlanFact::default()
        };
        Ok((Some((run_id, plan)), Some((run_id, cost))))
    }

    /// The estimate of one plan run: the breakdown already stored under
    /// `cost/<id>/<run_id>.json` (a team's own workflow may write it), else the one the run
    /// printed, which is stored there now. No estimate is recorded as missing, never as zero.
    async fn read_cost(
        &self,
        request: &Request,
        run_id: u64,
        log: &str,
        succeeded: bool,
    ) -> Result<CostFact, EngineError> {
        if !succeeded {
            return Ok(cost::missing_fact(
                run_id,
                cost::MISSING,
                "the plan run failed",
            ));
        }
        let key = format!("cost/{}/{run_id}.json", request.id);
        let text = match self.store.get_blob(&key).await? {
            Some(body) => String::from_utf8_lossy(&body).into_owned(),
            None => match cost::extract_infracost(log) {
                Some(json) => {
                    self.store.put_once(&key, json.clone().into_bytes()).await?;
                    json
                }
                None => {
                    return Ok(cost::missing_fact(
                        run_id,
                        cost::MISSING,
                        "the plan printed no Infracost estimate (see docs/infra-repo-setup.md to turn it on)",
                    ));
                }
            },
        };
        Ok(match cost::parse_infracost(&text) {
            Ok(estimate) => estimate.to_fact(&key, run_id),
            Err(reason) => {
                tracing::warn!(%key, %reason, "unreadable cost estimate");
                let mut fact = cost::missing_fact(
                    run_id,
                    cost::UNREADABLE,
                    format!("{key} cannot be read: {reason}"),
                );
                fact.source = Some(key);
                fact
            }
        })
    }

    async fn read_drift(
        &self,
        request: &Request,
        repo: &RepoId,
        run: &RunFact,
        checked_at: Timestamp,
    ) -> Result<Option<(u64, DriftFact)>, EngineError> {
        let Some(run_id) = run.id else {
            return Ok(None);
        };
        let text = self.run_log(repo, run_id).await?.unwrap_or_default();
        let state = if !run.succeeded() {
            "unknown"
        } else {
            match request_drifted(&text, &request.id) {
                Some(true) => "drifted",
                Some(false) => "clean",
                None => "unknown",
            }
        };
        let record = json!({
            "request_id": request.id,
            "run_id": run_id,
            "checked_at": checked_at,
            "state": state,
            "conclusion": run.conclusion,
            "summary": summarize(&text),
        });
        let key = format!("drift/{}/{run_id}.json", request.id);
        self.store
            .put_once(&key, serde_json::to_vec_pretty(&record).unwrap_or_default())
            .await?;
        Ok(Some((
            run_id,
            DriftFact {
                checked_at: Some(checked_at),
                state: Some(state.to_string()),
                run_id: Some(run_id),
                resources: if state == "drifted" {
                    request_resources(&text, &request.id)
                } else {
                    Vec::new()
                },
                ..DriftFact::default()
            },
        )))
    }

    /// The log of one of a request's runs as it stands now (the tail, up to the plan-log cap),
    /// and whether the run is still going: what a screen follows.
    pub async fn read_run_log(
        &self,
        request: &Request,
        run_id: u64,
    ) -> Result<RunLog, EngineError> {
        let (repo, _) = repo_of(request)?;
        let run = self.github.get_run_current(&repo, run_id).await?;
        let running = run.status.as_deref() != Some("completed");
        let jobs = self.github.list_jobs_current(&repo, run_id).await?;
        let several = jobs.len() > 1;
        let mut text = String::new();
        for job in jobs.iter().filter(|job| job.status == "completed") {
            match self
                .github
                .job_log(&repo, job.id, self.settings.plan_log_max_bytes)
                .await
            {
                Ok(log) => {
                    if several {
                        text.push_str(&format!("==> job {} <==\n", job.name));
                    }
                    text.push_str(&log.text);
                }
                // GitHub serves a finished job's log moments later, and none for a job that
                // never ran: nothing to show yet, not a failure.
                Err(GitHubError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(RunLog {
            text,
            running,
            status: run.status.clone(),
            conclusion: run.conclusion.clone(),
            jobs: jobs.iter().map(Job::progress).collect(),
        })
    }

    pub(super) async fn run_log(
        &self,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Option<String>, EngineError> {
        let jobs = self.github.list_jobs(repo, run_id).await?;
        let Some(job) = jobs.first() else {
            return Ok(None);
        };
        let log = self
            .github
            .job_log(repo, job.id, self.settings.plan_log_max_bytes)
            .await?;
        Ok(Some(log.text))
    }
}

fn now_or(run: &RunFact) -> Timestamp {
    run.updated_at
        .or(run.created_at)
        .unwrap_or_else(|| Timestamp(chrono::Utc::now()))
}

fn plan_recorded(request: &Request, run_id: u64) -> bool {
    request
        .plan
        .as_ref()
        .and_then(|p| p.output_key.as_deref())
        .is_some_and(|key| key.ends_with(&format!("/{run_id}.txt")))
}

fn drift_recorded(request: &Request, run_id: u64) -> bool {
    request.drift.as_deref().and_then(|d| d.run_id) == Some(run_id)
}

/// A completed run needs no more reading once what it produces is recorded.
fn run_settled(request: &Request, kind: RunKind, run: &RunFact) -> bool {
    match (kind, run.id) {
        (RunKind::Plan, Some(id)) => plan_recorded(request, id),
        (RunKind::Drift, Some(id)) => drift_recorded(request, id),
        (_, Some(_)) => true,
        (_, None) => false,
    }
}
