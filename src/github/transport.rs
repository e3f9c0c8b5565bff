//! The rate-aware layer every GitHub call goes through (docs/architecture.md, "github/").
//!
//! - GETs are conditional (`If-None-Match`) and briefly cached; a 304 reuses the
//!   stored body and costs no primary rate limit.
//! - `x-ratelimit-*` headers feed a budget the UI watches; an exhausted budget
//!   that resets within the cap is waited out before a call is even sent, one
//!   that resets later is reported at once (waiting would not help).
//! - 403/429 rate limits wait for `retry-after` or the reset (within the cap),
//!   secondary limits for `retry-after` or else 60 s, then retry once or surface
//!   `RateLimited`.
//! - GETs retry 5xx and network failures after 1 s, 2 s and 4 s. Writes are sent
//!   once: only the caller knows whether repeating one is safe.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{
    ACCEPT, AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, USER_AGENT,
};
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use super::app::{AppSigner, AppTokens};
use super::cache::ResponseCache;
use super::client::GitHubSettings;
use super::error::GitHubError;
use super::token::Token;
// Transport errors name the failure, never the request (which carries the token).
pub use super::reply::Reply;
use super::reply::{Limit, classify_limit, error_for, error_message, unexpected};
use crate::domain::Timestamp;
use crate::error_text::cause_chain;

/// How the layer waits and retries. The defaults are the product's; tests keep
/// them and run on tokio's paused clock.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Pauses before the 2nd, 3rd and 4th attempt of a GET after a 5xx or a
    /// network failure.
    pub backoff: Vec<Duration>,
    /// The longest wait for a primary rate limit to reset before giving up.
    pub max_rate_wait: Duration,
    /// The shortest pause after a secondary rate limit.
    pub secondary_wait: Duration,
    /// The longest pause after a secondary rate limit, whatever `retry-after` says.
    pub max_secondary_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            max_rate_wait: Duration::from_secs(60),
            secondary_wait: Duration::from_secs(60),
            max_secondary_wait: Duration::from_secs(300),
        }
    }
}

/// The primary rate-limit budget as GitHub last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateBudget {
    pub limit: u64,
    pub remaining: u64,
    pub used: u64,
    pub reset: Timestamp,
    pub resource: String,
}

/// Outcome classes the call counters use.
/// The largest answer read whole: a page of 100 runs or pull requests is well under 1 MiB; job
/// logs are read as a tail instead.
const MAX_REPLY_BYTES: usize = 16 << 20;

pub const OUTCOMES: [&str; 6] = ["200", "304", "4xx", "5xx", "network", "cached"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallCount {
    pub endpoint: String,
    pub outcome: &'static str,
    pub count: u64,
}

/// Who the calls are made as.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A person's token (or any token GitHub takes as it is).
    Token(Token),
    /// A GitHub App's JSON web token, signed afresh for each call: the app's own endpoints.
    AppJwt(Arc<AppSigner>),
    /// A GitHub App installation's token, refreshed before it expires.
    Installation(Arc<AppTokens>),
}

impl Credentials {
    /// The `Authorization` header for the next attempt, marked sensitive so no debug output
    /// of the request shows it.
    async fn header(&self) -> Result<HeaderValue, GitHubError> {
        let secret = match self {
            Credentials::Token(token) => token.expose().to_string(),
            Credentials::AppJwt(signer) => signer.jwt()?,
            // Boxed: fetching a token makes calls of its own (with the app's JWT).
            Credentials::Installation(tokens) => {
                Box::pin(tokens.token()).await?.expose().to_string()
            }
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|_| {
            GitHubError::Config(
                "the token has characters an HTTP header cannot carry; check GITHUB_TOKEN or run `tfpilot login`".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

pub struct Transport {
    crab: Octocrab,
    credentials: Credentials,
    base_url: String,
    policy: RetryPolicy,
    cache: Mutex<ResponseCache>,
    ttl_cache: bool,
    operation_timeout: Option<std::time::Duration>,
    budget: watch::Sender<Option<RateBudget>>,
    counters: Mutex<BTreeMap<(String, &'static str), u64>>,
}

/// One request as the layer sends it.
struct Call<'a> {
    endpoint: &'a str,
    method: Method,
    path: &'a str,
    body: Option<&'a Value>,
    etag: Option<&'a str>,
    /// Retry 5xx and network failures (GETs only: a write may have landed).
    retry_failures: bool,
    /// Keep only this many trailing bytes of the body.
    keep_tail: Option<usize>,
    /// Hand a 4xx answer back as it is (rate limits excepted) instead of as an error.
    any_status: bool,
}

impl<'a> Call<'a> {
    fn get(endpoint: &'a str, path: &'a str) -> Self {
        Self {
            endpoint,
            method: Method::GET,
            path,
            body: None,
            etag: None,
            retry_failures: true,
            keep_tail: None,
            any_status: false,
        }
    }
}

impl Transport {
    pub fn new(settings: &GitHubSettings, token: &str) -> Result<Arc<Self>, GitHubError> {
        let token =
            Token::new(token).ok_or_else(|| GitHubError::Config("the token is empty".into()))?;
        Self::with_credentials(settings, Credentials::Token(token))
    }

    pub fn with_credentials(
        settings: &GitHubSettings,
        credentials: Credentials,
    ) -> Result<Arc<Self>, GitHubError> {
        let api_url = settings.api_url.trim_end_matches('/').to_string();
        let crab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|error| {
                GitHubError::Config(format!("API URL {api_url:?} is not a URL: {error}"))
            })?
            .add_header(USER_AGENT, format!("tfpilot/{}", env!("CARGO_PKG_VERSION")))
            .add_header(ACCEPT, "application/vnd.github+json".to_string())
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_string(),
            )
            .set_connect_timeout(settings.connect_timeout)
            .set_read_timeout(settings.read_timeout)
            .build()
            .map_err(|error| GitHubError::Config(error.to_string()))?;
        let (budget, _) = watch::channel(None);
        Ok(Arc::new(Self {
            crab,
            credentials,
            base_url: api_url,
            policy: settings.policy.clone(),
            cache: Mutex::new(ResponseCache::new(
                settings.cache_entries,
                settings.cache_bytes,
            )),
            ttl_cache: settings.ttl_cache,
            operation_timeout: settings.operation_timeout,
            budget,
            counters: Mutex::new(BTreeMap::new()),
        }))
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub fn budget(&self) -> watch::Receiver<Option<RateBudget>> {
        self.budget.subscribe()
    }

    pub fn call_counts(&self) -> Vec<CallCount> {
        lock(&self.counters)
            .iter()
            .map(|((endpoint, outcome), count)| CallCount {
                endpoint: endpoint.clone(),
                outcome,
                count: *count,
            })
            .collect()
    }

    fn count(&self, endpoint: &str, outcome: &'static str) {
        *lock(&self.counters)
            .entry((endpoint.to_string(), outcome))
            .or_default() += 1;
    }

    /// A GET through the cache, conditional when an ETag is known, retried on
    /// 5xx and network failures. Non-2xx answers come back as errors.
    pub async fn get(
        &self,
        endpoint: &str,
        path: &str,
        ttl: Duration,
    ) -> Result<Reply, GitHubError> {
        self.get_with(endpoint, path, ttl, true).await
    }

    /// A GET that asks GitHub even when a cached answer is still fresh: for the facts an
    /// operation checks right before it acts. Still conditional, so an unchanged answer (304)
    /// costs no rate limit; the cache is refreshed with what GitHub says.
    pub async fn get_current(
        &self,
        endpoint: &str,
        path: &str,
        ttl: Duration,
    ) -> Result<Reply, GitHubError> {
        self.get_with(endpoint, path, ttl, false).await
    }

    async fn get_with(
        &self,
        endpoint: &str,
        path: &str,
        ttl: Duration,
        cached_answer_will_do: bool,
    ) -> Result<Reply, GitHubError> {
        let ttl = if self.ttl_cache { ttl } else { Duration::ZERO };
        if cached_answer_will_do && let Some(body) = lock(&self.cache).fresh(path, Instant::now()) {
            self.count(endpoint, "cached");
            return Ok(Reply {
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body,
                truncated: false,
            });
        }
        let etag = lock(&self.cache)
            .get(path)
            .and_then(|entry| entry.etag.clone());
        let call = Call {
            etag: etag.as_deref(),
            ..Call::get(endpoint, path)
        };
        let reply = self.send(&call).await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            if let Some(body) = lock(&self.cache).revalidate(path, ttl, Instant::now()) {
                return Ok(Reply {
                    status: StatusCode::OK,
                    headers: reply.headers,
                    body,
                    truncated: false,
                });
            }
            // The entry was evicted between asking and answering: ask plainly.
            return self.send(&Call::get(endpoint, path)).await;
        }
        let etag = reply
            .headers
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(String::from);
        lock(&self.cache).store(path, etag, reply.body.clone(), ttl, Instant::now());
        Ok(reply)
    }

    /// A GET that is never cached (logs, redirects followed).
    pub async fn get_uncached(&self, endpoint: &str, path: &str) -> Result<Reply, GitHubError> {
        self.send(&Call::get(endpoint, path)).await
    }

    /// A write, sent once (rate-limit refusals excepted: GitHub did not act on
    /// those). Reads of the same repository must then ask GitHub again.
    pub async fn write(
        &self,
        endpoint: &str,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Reply, GitHubError> {
        self.write_body(endpoint, method, path, Some(body)).await
    }

    /// A `DELETE`, sent once like [`Transport::write`], with no body.
    pub async fn delete(&self, endpoint: &str, path: &str) -> Result<Reply, GitHubError> {
        self.write_body(endpoint, Method::DELETE, path, None).await
    }

    async fn write_body(
        &self,
        endpoint: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, GitHubError> {
        let call = Call {
            endpoint,
            method,
            path,
            body,
            etag: None,
            retry_failures: false,
            keep_tail: None,
            any_status: false,
        };
        let result = self.send(&call).await;
        if let Some(repo_prefix) = repo_prefix(path) {
            lock(&self.cache).expire_prefix(&repo_prefix, Instant::now());
        }
        result
    }

    /// A call whose 4xx answers come back as they are, for callers that read the refusal
    /// itself (its `Date`, its message); sent once unless it is a GET.
    pub async fn answer(
        &self,
        endpoint: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, GitHubError> {
        let retry_failures = method == Method::GET;
        let call = Call {
            endpoint,
            method,
            path,
            body,
            etag: None,
            retry_failures,
            keep_tail: None,
            any_status: true,
        };
        self.send(&call).await
    }

    async fn send(&self, call: &Call<'_>) -> Result<Reply, GitHubError> {
        let Call {
            endpoint,
            retry_failures,
            ..
        } = *call;
        let mut attempt: u32 = 0;
        let mut rate_waits_left = 1;
        // An installation token GitHub refuses (expired on its clock, revoked) is replaced once.
        let mut token_refreshes_left = 1;
        loop {
            attempt += 1;
            if let Some(wait) = self.exhausted_budget_wait() {
                // A reset beyond the longest wait will not come by waiting: say so at once.
                if rate_waits_left == 0 || wait.1 {
                    return Err(self.rate_limited_from_budget());
                }
                rate_waits_left -= 1;
                tokio::time::sleep(wait.0).await;
            }
            let authorization = self.credentials.header().await?;
            let outcome = match self.operation_timeout {
                Some(limit) => tokio::time::timeout(limit, self.send_once(call, &authorization))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "no complete answer within {} s (the operation timeout; TFPILOT_GITHUB_OPERATION_TIMEOUT_SECS or [github] operation_timeout_secs sets it)",
                            limit.as_secs()
                        ))
                    }),
                None => self.send_once(call, &authorization).await,
            };
            let reply = match outcome {
                Ok(reply) => reply,
                Err(message) => {
                    self.count(endpoint, "network");
                    if retry_failures
                        && let Some(pause) = self.policy.backoff.get(attempt as usize - 1)
                    {
                        tokio::time::sleep(*pause).await;
                        continue;
                    }
                    return Err(GitHubError::Network {
                        endpoint: endpoint.to_string(),
                        base_url: self.base_url.clone(),
                        message,
                        attempts: attempt,
                    });
                }
            };
            self.observe_budget(&reply.headers);
            let status = reply.status;
            if status.is_success() {
                self.count(endpoint, "200");
                return Ok(reply);
            }
            if status == StatusCode::NOT_MODIFIED {
                self.count(endpoint, "304");
                return Ok(reply);
            }
            if status.is_redirection() {
                self.count(endpoint, "4xx");
                return Err(unexpected(endpoint, &reply));
            }
            if status.is_server_error() {
                self.count(endpoint, "5xx");
                if retry_failures && let Some(pause) = self.policy.backoff.get(attempt as usize - 1)
                {
                    tokio::time::sleep(*pause).await;
                    continue;
                }
                return Err(GitHubError::Server {
                    endpoint: endpoint.to_string(),
                    status: status.as_u16(),
                    message: error_message(&reply.body),
                    attempts: attempt,
                });
            }
            self.count(endpoint, "4xx");
            if status == StatusCode::UNAUTHORIZED
                && token_refreshes_left > 0
                && let Credentials::Installation(tokens) = &self.credentials
            {
                token_refreshes_left -= 1;
                tokens.invalidate().await;
                continue;
            }
            let Some(limit) = classify_limit(&reply) else {
                if call.any_status {
                    return Ok(reply);
                }
                return Err(error_for(endpoint, &reply));
            };
            let (wait, give_up, error) = self.limit_wait(&limit);
            if give_up || rate_waits_left == 0 {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            rate_waits_left -= 1;
        }
    }

    /// How long to pause for a rate limit, whether to give up after, and the
    /// error to give up with.
    fn limit_wait(&self, limit: &Limit) -> (Duration, bool, GitHubError) {
        let now = unix_now();
        match limit {
            Limit::Primary { reset } => {
                let until = reset.map_or(self.policy.max_rate_wait, |reset| {
                    Duration::from_secs(u64::try_from(reset - now).unwrap_or(0))
                });
                let give_up = until > self.policy.max_rate_wait;
                (
                    until.min(self.policy.max_rate_wait),
                    give_up,
                    GitHubError::RateLimited {
                        reset_at: reset.and_then(Timestamp::from_unix_seconds),
                        secondary: false,
                    },
                )
            }
            Limit::Secondary { retry_after } => {
                // GitHub: wait `retry-after` seconds when it is given, otherwise at least a
                // minute. Over-waiting a short `retry-after` stalled every sync for a minute.
                let wait = retry_after
                    .map_or(self.policy.secondary_wait, Duration::from_secs)
                    .min(self.policy.max_secondary_wait);
                (
                    wait,
                    false,
                    GitHubError::RateLimited {
                        reset_at: Timestamp::from_unix_seconds(now + wait.as_secs() as i64),
                        secondary: true,
                    },
                )
            }
        }
    }

    /// With the budget known to be spent, a call would only earn another 403:
    /// the pause before sending, and whether to give up after it.
    fn exhausted_budget_wait(&self) -> Option<(Duration, bool)> {
        let budget = self.budget.borrow().clone()?;
        if budget.remaining > 0 {
            return None;
        }
        let reset = budget.reset.to_unix_seconds();
        let now = unix_now();
        if reset <= now {
            return None;
        }
        let until = Duration::from_secs((reset - now) as u64);
        Some((
            until.min(self.policy.max_rate_wait),
            until > self.policy.max_rate_wait,
        ))
    }

    fn rate_limited_from_budget(&self) -> GitHubError {
        GitHubError::RateLimited {
            reset_at: self.budget.borrow().as_ref().map(|budget| budget.reset),
            secondary: false,
        }
    }

    fn observe_budget(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let (Some(limit), Some(remaining), Some(reset)) = (
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset"),
        ) else {
            return;
        };
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core")
            .to_string();
        if resource != "core" {
            return;
        }
        let Some(reset) = Timestamp::from_unix_seconds(reset) else {
            return;
        };
        let budget = RateBudget {
            limit: limit.max(0) as u64,
            remaining: remaining.max(0) as u64,
            used: number("x-ratelimit-used")
                .unwrap_or(limit - remaining)
                .max(0) as u64,
            reset,
            resource,
        };
        self.budget.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&budget);
            *current = Some(budget);
            changed
        });
    }

    async fn send_once(
        &self,
        call: &Call<'_>,
        authorization: &HeaderValue,
    ) -> Result<Reply, String> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(call.path)
            .header(AUTHORIZATION, authorization.clone());
        if let Some(etag) = call.etag {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        let request = self
            .crab
            .build_request(builder, call.body)
            .map_err(|error| error.to_string())?;
        let response = self
            .crab
            .execute(request)
            .await
            .map_err(|error| cause_chain(&error))?;
        let (parts, mut body) = response.into_parts();
        let mut kept: Vec<u8> = Vec::new();
        let mut truncated = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| cause_chain(&error))?;
            if let Ok(data) = frame.into_data() {
                kept.extend_from_slice(&data);
                if call.keep_tail.is_none() && kept.len() > MAX_REPLY_BYTES {
                    return Err(format!(
                        "the answer is larger than {} MiB, more than any GitHub answer tfpilot reads; refusing it",
                        MAX_REPLY_BYTES >> 20
                    ));
                }
                // Trim as it streams, so a huge log never sits whole in memory.
                if let Some(max) = call.keep_tail
                    && kept.len() > max.saturating_mul(2).max(64 * 1024)
                {
                    kept.drain(..kept.len() - max);
                    truncated = true;
                }
            }
        }
        if let Some(max) = call.keep_tail
            && kept.len() > max
        {
            kept.drain(..kept.len() - max);
            truncated = true;
        }
        if truncated && let Some(newline) = kept.iter().position(|b| *b == b'\n') {
            // Start at a whole line so the tail never opens mid-character.
            kept.drain(..=newline);
        }
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: kept.into(),
            truncated,
        })
    }

    /// A GET whose body keeps at most its last `max_bytes`, cut at a whole
    /// line (job logs); never cached. `true` when it was cut.
    pub async fn get_tail(
        &self,
        endpoint: &str,
        path: &str,
        max_bytes: usize,
    ) -> Result<(String, bool), GitHubError> {
        let call = Call {
            keep_tail: Some(max_bytes),
            ..Call::get(endpoint, path)
        };
        let reply = self.send(&call).await?;
        Ok((
            String::from_utf8_lossy(&reply.body).into_owned(),
            reply.truncated,
        ))
    }
}

/// `/repos/{owner}/{repo}/`, the scope a write may have changed.
fn repo_prefix(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/repos/")?;
    let mut parts = rest.splitn(3, '/');
    let (owner, repo) = (parts.next()?, parts.next()?);
    Some(format!("/repos/{owner}/{repo}/"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters and cache entries are replaced whole; a panic elsewhere cannot
    // leave them half-written.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_prefixes() {
        assert_eq!(
            repo_prefix("/repos/acme/infra/pulls/3/merge").as_deref(),
            Some("/repos/acme/infra/")
        );
        assert_eq!(repo_prefix("/user"), None);
    }
}
