//! Workflow run artifacts, as GitHub serves them: `GET .../actions/runs/{run_id}/artifacts`
//! lists a run's artifacts (with `name` to filter), `GET .../actions/artifacts/{id}/zip`
//! redirects to a signed blob holding the zip, and answers 410 once the artifact has expired.
//! The simulator's plan runs upload one artifact when their workflow has the upload step:
//! `tfpilot-plan-json`, the plan as `terraform show -json` (`plan_json.rs`), kept 30 days as
//! the workflow asks.

use std::io::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Shared;
use super::git::{self, Repository};
use super::model::{Run, SimState};
use super::plan_json::{PLAN_JSON_ARTIFACT, PLAN_JSON_FILE};
use super::server::{json as reply, not_found};

/// Artifact ids: the run's id plus this, so they never meet run or job ids.
const ARTIFACT_ID_OFFSET: u64 = 7_000_000_000;
/// The workflow's `retention-days`.
const RETENTION_DAYS: i64 = 30;
const DOCS: &str = "https://docs.github.com/rest/actions/artifacts";

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    name: Option<String>,
}

/// One run's artifact: the run it belongs to and its zip.
struct Artifact<'a> {
    run: &'a Run,
    zip: Vec<u8>,
}

impl Artifact<'_> {
    fn id(&self) -> u64 {
        self.run.id + ARTIFACT_ID_OFFSET
    }

    fn created_at(&self) -> DateTime<Utc> {
        self.run.completed_at().unwrap_or(self.run.created_at)
    }

    fn expires_at(&self) -> DateTime<Utc> {
        self.created_at() + Duration::days(RETENTION_DAYS)
    }

    fn render(&self, base: &str, repo: &Repository, now: DateTime<Utc>) -> Value {
        let id = self.id();
        let api = format!("{base}/repos/{}/actions/artifacts/{id}", repo.full_name());
        let stamp = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        json!({
            "id": id,
            "node_id": format!("MDg6QXJ0aWZhY3Q{id}"),
            "name": PLAN_JSON_ARTIFACT,
            "size_in_bytes": self.zip.len(),
            "url": api,
            "archive_download_url": format!("{api}/zip"),
            "expired": now >= self.expires_at(),
            "created_at": stamp(self.created_at()),
            "updated_at": stamp(self.created_at()),
            "expires_at": stamp(self.expires_at()),
            "digest": format!("sha256:{}", hex(&Sha256::digest(&self.zip))),
            "workflow_run": {
                "id": self.run.id,
                "repository_id": repo.id,
                "head_repository_id": repo.id,
                "head_branch": self.run.head_branch,
                "head_sha": self.run.head_sha,
            },
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The zip `actions/upload-artifact` makes of the one file.
fn zip_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    // Writing to memory: neither step can fail for want of space or access.
    let written = writer
        .start_file(name, options)
        .map_err(std::io::Error::other)
        .and_then(|()| writer.write_all(content))
        .and_then(|()| writer.finish().map_err(std::io::Error::other));
    match written {
        Ok(cursor) => cursor.into_inner(),
        Err(_) => Vec::new(),
    }
}

/// The artifact a run uploaded, if it did.
fn artifact_of(run: &Run) -> Option<Artifact<'_>> {
    if !run.uploads.iter().any(|name| name == PLAN_JSON_ARTIFACT) {
        return None;
    }
    let content = run.plan_json.as_ref()?;
    Some(Artifact {
        run,
        zip: zip_of(PLAN_JSON_FILE, content.as_bytes()),
    })
}

fn find_run<'a>(state: &'a SimState, repo: &Repository, run_id: u64) -> Option<&'a Run> {
    state
        .runs
        .iter()
        .find(|run| run.repo == repo.full_name() && run.id == run_id)
}

pub async fn list_for_run(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, run_id)): Path<(String, String, u64)>,
    Query(query): Query<ListQuery>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    let Some(repo) = state.repo(&owner, &name) else {
        return not_found();
    };
    let Some(run) = find_run(&state, repo, run_id) else {
        return not_found();
    };
    let artifacts: Vec<Value> = artifact_of(run)
        .filter(|_| {
            query
                .name
                .as_deref()
                .is_none_or(|n| n == PLAN_JSON_ARTIFACT)
        })
        .map(|artifact| artifact.render(&shared.base_url, repo, now))
        .into_iter()
        .collect();
    reply(
        StatusCode::OK,
        json!({"total_count": artifacts.len(), "artifacts": artifacts}),
    )
}

pub async fn download(
    State(shared): State<Arc<Shared>>,
    Path((owner, name, artifact_id, format)): Path<(String, String, u64, String)>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    let Some(repo) = state.repo(&owner, &name) else {
        return not_found();
    };
    // GitHub knows one archive format.
    if format != "zip" {
        return not_found();
    }
    let Some(artifact) = artifact_id
        .checked_sub(ARTIFACT_ID_OFFSET)
        .and_then(|run_id| find_run(&state, repo, run_id))
        .and_then(artifact_of)
    else {
        return not_found();
    };
    if now >= artifact.expires_at() {
        return reply(
            StatusCode::GONE,
            json!({"message": "Artifact has expired", "documentation_url": DOCS, "status": "410"}),
        );
    }
    let location = format!(
        "{}/_sim/artifacts/{artifact_id}?sig={}",
        shared.base_url,
        signature(artifact_id)
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn signature(artifact_id: u64) -> String {
    git::content_sha(&[b"artifact", artifact_id.to_string().as_bytes()])
}

#[derive(Deserialize)]
pub struct BlobQuery {
    sig: Option<String>,
}

/// The blob an artifact's redirect points at: the zip, no GitHub token.
pub async fn blob(
    State(shared): State<Arc<Shared>>,
    Path(artifact_id): Path<u64>,
    Query(query): Query<BlobQuery>,
) -> Response {
    if query.sig.as_deref() != Some(signature(artifact_id).as_str()) {
        return (
            StatusCode::FORBIDDEN,
            "AuthenticationFailed: the artifact URL signature is missing or wrong",
        )
            .into_response();
    }
    let state = shared.lock();
    let zip = artifact_id
        .checked_sub(ARTIFACT_ID_OFFSET)
        .and_then(|run_id| state.runs.iter().find(|run| run.id == run_id))
        .and_then(artifact_of)
        .map(|artifact| artifact.zip);
    match zip {
        Some(zip) => ([(header::CONTENT_TYPE, "application/zip")], zip).into_response(),
        None => (StatusCode::NOT_FOUND, "BlobNotFound").into_response(),
    }
}
