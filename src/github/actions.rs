//! GitHub Actions operations: dispatch exactly once, find runs again, read
//! runs, jobs and logs.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::client::{GitHub, NO_TTL, RepoId, encode};
use super::error::GitHubError;
use super::models::{
    Artifact, ArtifactsPage, Job, JobsPage, PendingDeployment, RunsPage, WorkflowRun,
};

// Run lists are what the poller asks every cycle: always conditional (a 304 is free), never
// served from the cache unasked, or a 3 s poll would see runs up to a TTL late.
const TTL_RUNS: Duration = Duration::ZERO;
const TTL_RUN: Duration = Duration::from_secs(2);

/// Inputs every tfpilot workflow takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchInputs {
    pub request_id: String,
    pub environment: String,
    pub dispatch_id: String,
    /// The plan and apply workflows' `scope` (`request` or `root`); the others take none.
    pub scope: Option<&'static str>,
    /// A change request's original, whose block and module the plan or apply works on; sent
    /// only for change requests, so repositories with older workflows keep working for the rest.
    pub block_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFoundBy {
    /// GitHub returned the run id with the dispatch.
    RunDetails,
    /// Found by the dispatch id in the run's name.
    Lookup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// `None` when GitHub accepted the dispatch but the run is not listed yet;
    /// it can be found later by its dispatch id.
    pub run_id: Option<u64>,
    pub found_by: Option<RunFoundBy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLog {
    pub text: String,
    /// The log was longer than the cap; `text` is its tail.
    pub truncated: bool,
}

impl GitHub {
    /// Dispatch `workflow` on `reference` and find its run. Exactly once: the
    /// run is looked up by `dispatch_id` before any retry, so a dispatch that
    /// GitHub accepted but whose answer was lost is never sent again.
    pub async fn dispatch(
        &self,
        repo: &RepoId,
        workflow: &str,
        reference: &str,
        inputs: &DispatchInputs,
    ) -> Result<Dispatched, GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches";
        let url = format!(
            "{}/actions/workflows/{}/dispatches",
            repo.path(),
            encode(workflow)
        );
        let mut request = json!({
            "ref": reference,
            "inputs": {
                "request_id": inputs.request_id,
                "environment": inputs.environment,
                "dispatch_id": inputs.dispatch_id,
            },
            "return_run_details": true,
        });
        if let (Some(scope), Some(map)) = (
            inputs.scope,
            request.get_mut("inputs").and_then(Value::as_object_mut),
        ) {
            map.insert("scope".into(), json!(scope));
        }
        if let (Some(block_id), Some(map)) = (
            inputs.block_id.as_deref(),
            request.get_mut("inputs").and_then(Value::as_object_mut),
        ) {
            map.insert("block_id".into(), json!(block_id));
        }
        let mut attempt = 0;
        loop {
            match self
                .transport
                .write(endpoint, Method::POST, &url, &request)
                .await
            {
                Ok(reply) => {
                    let run_id = (reply.status == http::StatusCode::OK)
                        .then(|| reply.json::<Value>(endpoint).ok())
                        .flatten()
                        .and_then(|body| body.get("workflow_run_id").and_then(Value::as_u64));
                    if let Some(run_id) = run_id {
                        return Ok(Dispatched {
                            run_id: Some(run_id),
                            found_by: Some(RunFoundBy::RunDetails),
                        });
                    }
                    return self
                        .await_dispatched_run(repo, workflow, &inputs.dispatch_id)
                        .await;
                }
                // Servers from before run details reject the field: ask again without it.
                Err(
                    GitHubError::Validation { message, .. }
                    | GitHubError::Unexpected {
                        status: 400,
                        message,
                        ..
                    },
                ) if message.contains("return_run_details")
                    && request.get("return_run_details").is_some() =>
                {
                    if let Some(map) = request.as_object_mut() {
                        map.remove("return_run_details");
                    }
                }
                Err(error @ (GitHubError::Server { .. } | GitHubError::Network { .. })) => {
                    // GitHub may have acted before failing: give the run a moment to
                    // appear, and look for it before sending again (or giving up).
                    let pause = self.transport_policy().backoff.get(attempt).copied();
                    tokio::time::sleep(pause.unwrap_or_default()).await;
                    if let Some(run) = self
                        .find_dispatched_run(repo, workflow, &inputs.dispatch_id)
                        .await?
                    {
                        return Ok(Dispatched {
                            run_id: Some(run.id),
                            found_by: Some(RunFoundBy::Lookup),
                        });
                    }
                    if pause.is_none() {
                        return Err(error);
                    }
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// After a dispatch without run details the run appears within seconds:
    /// look for it a few times, then leave it to later syncs.
    async fn await_dispatched_run(
        &self,
        repo: &RepoId,
        workflow: &str,
        dispatch_id: &str,
    ) -> Result<Dispatched, GitHubError> {
        let pauses = self.transport_policy().backoff.clone();
        for pause in std::iter::once(Duration::ZERO).chain(pauses) {
            tokio::time::sleep(pause).await;
            if let Some(run) = self
                .find_dispatched_run(repo, workflow, dispatch_id)
                .await?
            {
                return Ok(Dispatched {
                    run_id: Some(run.id),
                    found_by: Some(RunFoundBy::Lookup),
                });
            }
        }
        Ok(Dispatched {
            run_id: None,
            found_by: None,
        })
    }

    /// The run of `workflow` whose name carries `dispatch_id`, among its most
    /// recent dispatched runs.
    pub async fn find_dispatched_run(
        &self,
        repo: &RepoId,
        workflow: &str,
        dispatch_id: &str,
    ) -> Result<Option<WorkflowRun>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs";
        for page in 1..=2 {
            let url = format!(
                "{}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=50&page={page}",
                repo.path(),
                encode(workflow)
            );
            let runs: RunsPage = self
                .transport
                .get(endpoint, &url, NO_TTL)
                .await?
                .json(endpoint)?;
            let count = runs.workflow_runs.len();
            if let Some(run) = runs.workflow_runs.into_iter().find(|run| {
                run.tfpilot_name()
                    .is_some_and(|name| name.dispatch_id == dispatch_id)
            }) {
                return Ok(Some(run));
            }
            if count < 50 {
                break;
            }
        }
        Ok(None)
    }

    /// One page of the repo's dispatched runs, newest first: sync reads these
    /// once per repo per cycle rather than asking run by run.
    pub async fn list_dispatch_runs(
        &self,
        repo: &RepoId,
        page: u32,
        per_page: u32,
    ) -> Result<RunsPage, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs";
        let url = format!(
            "{}/actions/runs?event=workflow_dispatch&per_page={}&page={}",
            repo.path(),
            per_page.clamp(1, 100),
            page.max(1)
        );
        self.transport
            .get(endpoint, &url, TTL_RUNS)
            .await?
            .json(endpoint)
    }

    pub async fn get_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}";
        self.transport
            .get(
                endpoint,
                &format!("{}/actions/runs/{run_id}", repo.path()),
                TTL_RUN,
            )
            .await?
            .json(endpoint)
    }

    /// The run as GitHub has it now (see [`GitHub::get_pull_current`]).
    pub async fn get_run_current(
        &self,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<WorkflowRun, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}";
        self.transport
            .get_current(
                endpoint,
                &format!("{}/actions/runs/{run_id}", repo.path()),
                TTL_RUN,
            )
            .await?
            .json(endpoint)
    }

    pub async fn list_jobs(&self, repo: &RepoId, run_id: u64) -> Result<Vec<Job>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs";
        let url = format!("{}/actions/runs/{run_id}/jobs?per_page=100", repo.path());
        let page: JobsPage = self
            .transport
            .get(endpoint, &url, TTL_RUN)
            .await?
            .json(endpoint)?;
        Ok(page.jobs)
    }

    /// The run's artifacts named `name` (GitHub filters by exact name).
    pub async fn run_artifacts(
        &self,
        repo: &RepoId,
        run_id: u64,
        name: &str,
    ) -> Result<Vec<Artifact>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts";
        let url = format!(
            "{}/actions/runs/{run_id}/artifacts?name={}",
            repo.path(),
            encode(name)
        );
        let page: ArtifactsPage = self
            .transport
            .get_uncached(endpoint, &url)
            .await?
            .json(endpoint)?;
        Ok(page.artifacts)
    }

    /// An artifact's zip (GitHub redirects to a signed blob; the redirect is followed). Bounded
    /// by the transport's largest answer (16 MiB).
    pub async fn artifact_zip(
        &self,
        repo: &RepoId,
        artifact_id: u64,
    ) -> Result<Vec<u8>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}";
        let url = format!("{}/actions/artifacts/{artifact_id}/zip", repo.path());
        Ok(self
            .transport
            .get_uncached(endpoint, &url)
            .await?
            .body
            .to_vec())
    }

    /// The environments whose required reviewers hold the run, each saying whether this
    /// token's user may review it. Always asked fresh: a review elsewhere changes it.
    pub async fn pending_deployments(
        &self,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Vec<PendingDeployment>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments";
        let url = format!("{}/actions/runs/{run_id}/pending_deployments", repo.path());
        self.transport
            .get_current(endpoint, &url, NO_TTL)
            .await?
            .json(endpoint)
    }

    /// Approves or rejects the run's deployment to `environment_ids`. Sent once: a lost answer
    /// is found out by asking for the pending deployments again, never by sending it again.
    pub async fn review_deployments(
        &self,
        repo: &RepoId,
        run_id: u64,
        environment_ids: &[u64],
        approve: bool,
        comment: &str,
    ) -> Result<(), GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments";
        let url = format!("{}/actions/runs/{run_id}/pending_deployments", repo.path());
        let body = json!({
            "environment_ids": environment_ids,
            "state": if approve { "approved" } else { "rejected" },
            "comment": comment,
        });
        self.transport
            .write(endpoint, Method::POST, &url, &body)
            .await?;
        Ok(())
    }

    /// Asks GitHub to cancel a run that has not completed (202); GitHub answers 409 for a run
    /// that has.
    pub async fn cancel_run(&self, repo: &RepoId, run_id: u64) -> Result<(), GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel";
        let url = format!("{}/actions/runs/{run_id}/cancel", repo.path());
        self.transport
            .write(endpoint, Method::POST, &url, &json!({}))
            .await?;
        Ok(())
    }

    /// The run's jobs as GitHub has them now (conditional: an unchanged list costs no rate
    /// limit), for following a run step by step.
    pub async fn list_jobs_current(
        &self,
        repo: &RepoId,
        run_id: u64,
    ) -> Result<Vec<Job>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs";
        let url = format!("{}/actions/runs/{run_id}/jobs?per_page=100", repo.path());
        let page: JobsPage = self
            .transport
            .get_current(endpoint, &url, TTL_RUN)
            .await?
            .json(endpoint)?;
        Ok(page.jobs)
    }

    /// A job's log as plain text, at most `max_bytes` (the tail, whole lines).
    pub async fn job_log(
        &self,
        repo: &RepoId,
        job_id: u64,
        max_bytes: usize,
    ) -> Result<JobLog, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs";
        let url = format!("{}/actions/jobs/{job_id}/logs", repo.path());
        let (text, truncated) = self.transport.get_tail(endpoint, &url, max_bytes).await?;
        Ok(JobLog { text, truncated })
    }
}
