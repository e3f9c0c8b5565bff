//! The typed GitHub operations tfpilot needs, over the rate-aware transport.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::Method;
use serde_json::{Value, json};

use super::error::GitHubError;
use super::models::{
    ContentPayload, FileCommit, FileContent, FileUpdatePayload, GitRefPayload, PullFile,
    PullRequest, Rate, RateLimitPayload, Review, User,
};
use super::transport::Transport;

pub use super::transport::RetryPolicy;

/// The most files of one pull request tfpilot reads (ten pages).
pub const MAX_PULL_FILES: usize = 1000;

const TTL_USER: Duration = Duration::from_secs(300);
const TTL_PULL: Duration = Duration::from_secs(5);
pub(super) const NO_TTL: Duration = Duration::ZERO;

/// Seconds to wait for a connection to GitHub, unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Seconds one call to GitHub may take, unless configured otherwise.
pub const DEFAULT_OPERATION_TIMEOUT_SECS: u64 = 60;

/// Where and how to reach GitHub.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// `https://api.github.com`, `https://HOST/api/v3` or the simulator's URL.
    pub api_url: String,
    pub connect_timeout: Option<Duration>,
    /// The longest wait for the next bytes of an answer.
    pub read_timeout: Option<Duration>,
    /// The longest one attempt may take, answer and body together: a server that trickles
    /// bytes slower than the read timeout cannot hold a call forever.
    pub operation_timeout: Option<Duration>,
    pub policy: RetryPolicy,
    /// Bounds of the response cache: entries and bytes of bodies.
    pub cache_entries: usize,
    pub cache_bytes: usize,
    /// Serve a read from the cache without asking GitHub while its TTL lasts. Off, every read
    /// asks, conditionally (a 304 costs no rate limit): for a GitHub whose clock is not ours.
    pub ttl_cache: bool,
}

impl GitHubSettings {
    pub fn new(api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            connect_timeout: Some(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS)),
            read_timeout: Some(Duration::from_secs(30)),
            operation_timeout: Some(Duration::from_secs(DEFAULT_OPERATION_TIMEOUT_SECS)),
            policy: RetryPolicy::default(),
            cache_entries: 1024,
            cache_bytes: 32 * 1024 * 1024,
            ttl_cache: true,
        }
    }

    /// No socket timeouts: for tests on tokio's paused clock, where a timer
    /// could fire while loopback bytes are in flight.
    pub fn without_timeouts(mut self) -> Self {
        self.connect_timeout = None;
        self.read_timeout = None;
        self.operation_timeout = None;
        self
    }

    /// Other connect and operation timeouts, in seconds (`None` keeps the default).
    pub fn with_timeouts(mut self, connect_secs: Option<u64>, operation_secs: Option<u64>) -> Self {
        if let Some(seconds) = connect_secs {
            self.connect_timeout = Some(Duration::from_secs(seconds));
        }
        // The read timeout stays as it is: an operation timeout below it ends the call first
        // (two timers of the same length would race, and name different causes).
        if let Some(seconds) = operation_secs {
            self.operation_timeout = Some(Duration::from_secs(seconds));
        }
        self
    }

    /// Every read asks GitHub (conditionally): for a simulator whose clock a test moves.
    pub fn without_ttl_cache(mut self) -> Self {
        self.ttl_cache = false;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId {
    pub owner: String,
    pub name: String,
}

impl RepoId {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }

    pub(super) fn path(&self) -> String {
        format!("/repos/{}/{}", encode(&self.owner), encode(&self.name))
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchCreated {
    Created,
    /// The branch was there already, at this commit.
    Existed {
        sha: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullOpened {
    Created,
    /// GitHub said one was open for the branch already; this is it.
    Reused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

#[derive(Clone)]
pub struct GitHub {
    pub(super) transport: Arc<Transport>,
}

impl GitHub {
    pub fn connect(settings: &GitHubSettings, token: &str) -> Result<Self, GitHubError> {
        // A pasted token with a stray character would only fail at the first
        // request, looking like a network problem: say what it is instead.
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(GitHubError::Config(
                "the token is empty or contains spaces or characters GitHub tokens never have; check GITHUB_TOKEN or run `tfpilot login`".into(),
            ));
        }
        Ok(Self {
            transport: Transport::new(settings, token)?,
        })
    }

    /// Calls made as `credentials` (a GitHub App installation, say) rather than a plain token.
    pub fn with_credentials(
        settings: &GitHubSettings,
        credentials: super::transport::Credentials,
    ) -> Result<Self, GitHubError> {
        Ok(Self {
            transport: Transport::with_credentials(settings, credentials)?,
        })
    }

    /// Rate budget, call counters and the API URL.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub async fn current_user(&self) -> Result<User, GitHubError> {
        self.transport
            .get("GET /user", "/user", TTL_USER)
            .await?
            .json("GET /user")
    }

    pub async fn rate_limit(&self) -> Result<Rate, GitHubError> {
        let endpoint = "GET /rate_limit";
        let payload: RateLimitPayload = self
            .transport
            .get_uncached(endpoint, "/rate_limit")
            .await?
            .json(endpoint)?;
        Ok(payload.rate)
    }

    /// The commit a branch points at, `None` when there is no such branch.
    pub async fn branch_sha(
        &self,
        repo: &RepoId,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        self.ref_sha(repo, &format!("heads/{branch}")).await
    }

    pub async fn create_branch(
        &self,
        repo: &RepoId,
        branch: &str,
        sha: &str,
    ) -> Result<BranchCreated, GitHubError> {
        self.create_ref(repo, &format!("heads/{branch}"), sha).await
    }

    /// Points a lightweight tag at `sha`; an existing tag is reported with its sha.
    pub async fn create_tag(
        &self,
        repo: &RepoId,
        tag: &str,
        sha: &str,
    ) -> Result<BranchCreated, GitHubError> {
        self.create_ref(repo, &format!("tags/{tag}"), sha).await
    }

    /// The commit `heads/<branch>` or `tags/<tag>` points at, `None` when there is no such ref.
    pub async fn ref_sha(&self, repo: &RepoId, name: &str) -> Result<Option<String>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/git/ref/{ref}";
        let path = format!("{}/git/ref/{}", repo.path(), encode_path(name));
        match self.transport.get(endpoint, &path, NO_TTL).await {
            Ok(reply) => Ok(Some(reply.json::<GitRefPayload>(endpoint)?.object.sha)),
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_ref(
        &self,
        repo: &RepoId,
        name: &str,
        sha: &str,
    ) -> Result<BranchCreated, GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/git/refs";
        let body = json!({"ref": format!("refs/{name}"), "sha": sha});
        match self
            .transport
            .write(
                endpoint,
                Method::POST,
                &format!("{}/git/refs", repo.path()),
                &body,
            )
            .await
        {
            Ok(_) => Ok(BranchCreated::Created),
            Err(GitHubError::Validation { message, .. }) if message.contains("already exists") => {
                let sha = self.ref_sha(repo, name).await?.unwrap_or_default();
                Ok(BranchCreated::Existed { sha })
            }
            Err(error) => Err(error),
        }
    }

    /// A file's text at a branch or commit, `None` when it does not exist.
    pub async fn get_file(
        &self,
        repo: &RepoId,
        path: &str,
        reference: &str,
    ) -> Result<Option<FileContent>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/contents/{path}";
        let url = format!(
            "{}/contents/{}?ref={}",
            repo.path(),
            encode_path(path),
            encode(reference)
        );
        let value: Value = match self.transport.get(endpoint, &url, NO_TTL).await {
            Ok(reply) => reply.json(endpoint)?,
            Err(GitHubError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        let decode_error = |message: String| GitHubError::Decode {
            endpoint: endpoint.to_string(),
            message,
        };
        if value.is_array() {
            return Err(decode_error(format!("{path} is a directory, not a file")));
        }
        let payload: ContentPayload =
            serde_json::from_value(value).map_err(|error| decode_error(error.to_string()))?;
        if payload.kind != "file" {
            return Err(decode_error(format!(
                "{path} is a {}, not a file",
                payload.kind
            )));
        }
        let encoded: String = payload
            .content
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| decode_error(format!("{path}: content is not base64: {error}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| decode_error(format!("{path} is not UTF-8 text")))?;
        Ok(Some(FileContent {
            path: payload.path,
            sha: payload.sha,
            text,
        }))
    }

    /// Commit `text` as `path` on `branch`. `expected_sha` is the blob being
    /// replaced (`None` to create); GitHub refuses with a conflict if the file
    /// changed meanwhile, so nothing is ever overwritten blindly.
    pub async fn put_file(
        &self,
        repo: &RepoId,
        path: &str,
        branch: &str,
        text: &str,
        message: &str,
        expected_sha: Option<&str>,
    ) -> Result<FileCommit, GitHubError> {
        let endpoint = "PUT /repos/{owner}/{repo}/contents/{path}";
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            "branch": branch,
        });
        if let Some(sha) = expected_sha {
            body["sha"] = Value::String(sha.to_string());
        }
        let url = format!("{}/contents/{}", repo.path(), encode_path(path));
        let update: FileUpdatePayload = self
            .transport
            .write(endpoint, Method::PUT, &url, &body)
            .await?
            .json(endpoint)?;
        Ok(FileCommit {
            commit_sha: update.commit.sha,
            blob_sha: update.content.sha,
        })
    }

    pub async fn find_open_pull(
        &self,
        repo: &RepoId,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls";
        let url = format!(
            "{}/pulls?state=open&head={}&base={}&per_page=10",
            repo.path(),
            encode(&format!("{}:{head}", repo.owner)),
            encode(base)
        );
        let pulls: Vec<PullRequest> = self
            .transport
            .get(endpoint, &url, NO_TTL)
            .await?
            .json(endpoint)?;
        Ok(pulls
            .into_iter()
            .find(|pull| pull.head.name == head && pull.base.name == base))
    }

    /// Open a pull request, or reuse the one GitHub says is already open for
    /// the branch (a retried create never opens a second one).
    pub async fn open_pull(
        &self,
        repo: &RepoId,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, PullOpened), GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/pulls";
        let request = json!({"title": title, "head": head, "base": base, "body": body});
        match self
            .transport
            .write(
                endpoint,
                Method::POST,
                &format!("{}/pulls", repo.path()),
                &request,
            )
            .await
        {
            Ok(reply) => Ok((reply.json(endpoint)?, PullOpened::Created)),
            Err(GitHubError::Validation { errors, .. })
                if errors
                    .iter()
                    .any(|error| error.contains("A pull request already exists")) =>
            {
                match self.find_open_pull(repo, head, base).await? {
                    Some(pull) => Ok((pull, PullOpened::Reused)),
                    None => Err(GitHubError::Conflict {
                        endpoint: endpoint.to_string(),
                        message: format!(
                            "GitHub says a pull request exists for {head} but none is open; try again"
                        ),
                    }),
                }
            }
            Err(error) => Err(error),
        }
    }

    pub async fn get_pull(&self, repo: &RepoId, number: u64) -> Result<PullRequest, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls/{number}";
        self.transport
            .get(
                endpoint,
                &format!("{}/pulls/{number}", repo.path()),
                TTL_PULL,
            )
            .await?
            .json(endpoint)
    }

    /// The pull request as GitHub has it now, never a cached answer still within its TTL:
    /// what an operation checks right before it acts (a 304 keeps it free of rate limit).
    pub async fn get_pull_current(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> Result<PullRequest, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls/{number}";
        self.transport
            .get_current(
                endpoint,
                &format!("{}/pulls/{number}", repo.path()),
                TTL_PULL,
            )
            .await?
            .json(endpoint)
    }

    /// The repository's pull requests, most recently updated first (any state). One
    /// conditional call serves every request of the repository in a sync cycle; a pull request
    /// that is not on this page is read on its own.
    pub async fn list_pulls_by_update(
        &self,
        repo: &RepoId,
        per_page: u32,
    ) -> Result<Vec<PullRequest>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls";
        // GitHub sorts `updated` ascending unless told otherwise.
        let url = format!(
            "{}/pulls?state=all&sort=updated&direction=desc&per_page={}",
            repo.path(),
            per_page.clamp(1, 100)
        );
        self.transport
            .get(endpoint, &url, Duration::ZERO)
            .await?
            .json(endpoint)
    }

    /// The files a pull request changes with their patches, up to [`MAX_PULL_FILES`] (GitHub
    /// lists at most 3,000; a tfpilot pull request changes one).
    pub async fn pull_files(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> Result<Vec<PullFile>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls/{number}/files";
        let mut files = Vec::new();
        for page in 1.. {
            let url = format!(
                "{}/pulls/{number}/files?per_page=100&page={page}",
                repo.path()
            );
            let batch: Vec<PullFile> = self
                .transport
                .get_current(endpoint, &url, TTL_PULL)
                .await?
                .json(endpoint)?;
            let last = batch.len() < 100;
            files.extend(batch);
            if last || files.len() >= MAX_PULL_FILES {
                break;
            }
        }
        files.truncate(MAX_PULL_FILES);
        Ok(files)
    }

    /// The reviews as GitHub has them now, never a cached answer still within its TTL (see
    /// [`GitHub::get_pull_current`]): what merge and sync check an approval against.
    pub async fn list_reviews(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> Result<Vec<Review>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/pulls/{number}/reviews";
        let url = format!("{}/pulls/{number}/reviews?per_page=100", repo.path());
        self.transport
            .get_current(endpoint, &url, TTL_PULL)
            .await?
            .json(endpoint)
    }

    /// Submit a COMMENT review of commit `commit_id`: how an approval by the pull request's
    /// author is recorded on GitHub, which refuses an author's APPROVE.
    pub async fn comment_review(
        &self,
        repo: &RepoId,
        number: u64,
        commit_id: &str,
        body: &str,
    ) -> Result<Review, GitHubError> {
        self.submit_review(repo, number, "COMMENT", commit_id, body)
            .await
    }

    /// Submit an APPROVE review of commit `commit_id` (the planned head: GitHub refuses a
    /// review of a commit that is not in the PR). The author of the PR gets `SelfApproval`.
    pub async fn approve(
        &self,
        repo: &RepoId,
        number: u64,
        commit_id: &str,
        body: &str,
    ) -> Result<Review, GitHubError> {
        match self
            .submit_review(repo, number, "APPROVE", commit_id, body)
            .await
        {
            Err(GitHubError::Validation {
                errors, message, ..
            }) if errors
                .iter()
                .chain([&message])
                .any(|e| e.contains("approve your own pull request")) =>
            {
                Err(GitHubError::SelfApproval)
            }
            other => other,
        }
    }

    async fn submit_review(
        &self,
        repo: &RepoId,
        number: u64,
        event: &str,
        commit_id: &str,
        body: &str,
    ) -> Result<Review, GitHubError> {
        let endpoint = "POST /repos/{owner}/{repo}/pulls/{number}/reviews";
        let request = json!({"event": event, "body": body, "commit_id": commit_id});
        self.transport
            .write(
                endpoint,
                Method::POST,
                &format!("{}/pulls/{number}/reviews", repo.path()),
                &request,
            )
            .await?
            .json(endpoint)
    }

    /// Merge at exactly `head_sha`. Safe to retry: GitHub will not merge a
    /// different head, and a retry that finds the PR merged at that head by an
    /// earlier attempt reports that merge.
    pub async fn merge(
        &self,
        repo: &RepoId,
        number: u64,
        head_sha: &str,
        method: MergeMethod,
    ) -> Result<String, GitHubError> {
        let endpoint = "PUT /repos/{owner}/{repo}/pulls/{number}/merge";
        let request = json!({"sha": head_sha, "merge_method": method.as_str()});
        let url = format!("{}/pulls/{number}/merge", repo.path());
        let mut attempt = 0;
        loop {
            let result = self
                .transport
                .write(endpoint, Method::PUT, &url, &request)
                .await;
            match result {
                Ok(reply) => {
                    let body: Value = reply.json(endpoint)?;
                    return Ok(body
                        .get("sha")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string());
                }
                Err(GitHubError::Unexpected {
                    status: 405,
                    message,
                    ..
                }) => {
                    if attempt > 0
                        && let Some(sha) = self.merged_at_head(repo, number, head_sha).await?
                    {
                        return Ok(sha);
                    }
                    return Err(GitHubError::NotMergeable { reason: message });
                }
                Err(GitHubError::Conflict { .. }) => {
                    if attempt > 0
                        && let Some(sha) = self.merged_at_head(repo, number, head_sha).await?
                    {
                        return Ok(sha);
                    }
                    return Err(GitHubError::HeadChanged {
                        expected_sha: head_sha.to_string(),
                    });
                }
                Err(error @ (GitHubError::Server { .. } | GitHubError::Network { .. })) => {
                    let Some(pause) = self.transport_policy().backoff.get(attempt) else {
                        return Err(error);
                    };
                    tokio::time::sleep(*pause).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn merged_at_head(
        &self,
        repo: &RepoId,
        number: u64,
        head_sha: &str,
    ) -> Result<Option<String>, GitHubError> {
        let pull = self.get_pull(repo, number).await?;
        Ok((pull.is_merged() && pull.head.sha == head_sha)
            .then(|| pull.merge_commit_sha.unwrap_or_default()))
    }

    pub(super) fn transport_policy(&self) -> &RetryPolicy {
        self.transport.policy()
    }

    /// Bring the PR branch up to date with its base (GitHub merges the base in).
    /// Closes a pull request without merging it (`PATCH .../pulls/{n}`, `state: closed`) and
    /// returns it as GitHub has it then. Closing a closed one changes nothing.
    pub async fn close_pull(&self, repo: &RepoId, number: u64) -> Result<PullRequest, GitHubError> {
        let endpoint = "PATCH /repos/{owner}/{repo}/pulls/{number}";
        self.transport
            .write(
                endpoint,
                Method::PATCH,
                &format!("{}/pulls/{number}", repo.path()),
                &json!({"state": "closed"}),
            )
            .await?
            .json(endpoint)
    }

    /// Deletes a branch. `false` when there was no such branch (deleted already).
    pub async fn delete_branch(&self, repo: &RepoId, branch: &str) -> Result<bool, GitHubError> {
        let endpoint = "DELETE /repos/{owner}/{repo}/git/refs/{ref}";
        let path = format!(
            "{}/git/refs/{}",
            repo.path(),
            encode_path(&format!("heads/{branch}"))
        );
        match self.transport.delete(endpoint, &path).await {
            Ok(_) => Ok(true),
            // GitHub answers 422 "Reference does not exist" for a branch that is gone.
            Err(GitHubError::Validation { message, .. })
                if message.contains("Reference does not exist") =>
            {
                Ok(false)
            }
            Err(GitHubError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    pub async fn update_branch(
        &self,
        repo: &RepoId,
        number: u64,
        expected_head_sha: &str,
    ) -> Result<(), GitHubError> {
        let endpoint = "PUT /repos/{owner}/{repo}/pulls/{number}/update-branch";
        let request = json!({"expected_head_sha": expected_head_sha});
        self.transport
            .write(
                endpoint,
                Method::PUT,
                &format!("{}/pulls/{number}/update-branch", repo.path()),
                &request,
            )
            .await
            .map(|_| ())
    }
}

/// Percent-encode one path segment or query value.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encode a path, keeping its `/` separators.
pub(super) fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments_and_paths() {
        assert_eq!(encode("acme:tfpilot/req_1"), "acme%3Atfpilot%2Freq_1");
        assert_eq!(encode_path("envs/dev/main tf.tf"), "envs/dev/main%20tf.tf");
    }
}
