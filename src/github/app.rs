//! A GitHub App identity for automation (docs/operations.md#a-github-app-for-automation), so
//! `reconcile` in cron and the scheduled drift job never borrow a person's token.
//!
//! The app's private key signs a short JSON web token (RS256) per call to the app's own
//! endpoints; that token is exchanged for an installation token
//! (`POST /app/installations/{id}/access_tokens`), which is cached and refreshed five minutes
//! before GitHub says it expires, or at once when GitHub refuses it. A host whose clock is off
//! is corrected from GitHub's `Date` header, as GitHub's own libraries do: a JWT from a skewed
//! clock is refused as expired or not yet valid.
//!
//! The key is held in [`AppKey`], whose `Debug` hides it; it is read from a file and written
//! nowhere.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{GitHubSettings, RepoId};
use super::error::GitHubError;
use super::reply::{Reply, error_message};
use super::token::Token;
use super::transport::{Credentials, Transport};

/// The largest key file read: a 4096-bit RSA key in PEM is about 3.3 KiB.
const MAX_KEY_BYTES: u64 = 64 * 1024;
/// A JWT's life: GitHub accepts at most ten minutes; `iat` is back-dated a minute for clocks
/// slightly ahead of GitHub's.
const JWT_BACKDATE_SECS: i64 = 60;
const JWT_LIFE_SECS: i64 = 540;
/// An installation token this close to its expiry is replaced before use.
const REFRESH_MARGIN_SECS: i64 = 300;
/// A `Date` this far from the local clock is taken as the host's clock being off.
const SKEW_TOLERANCE_SECS: i64 = 30;

/// What went wrong with the app's key or identity, before GitHub was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    #[error(
        "cannot read the GitHub App private key {path}: {message}; set [github] app_private_key_file or TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE to the .pem file GitHub gave you"
    )]
    Read { path: String, message: String },
    #[error(
        "the GitHub App private key {path} is not a PEM RSA private key ({message}); use the .pem file from the app's settings (Private keys, Generate a private key)"
    )]
    Invalid { path: String, message: String },
}

/// An app's RSA private key. Never printed: `Debug` shows `AppKey(***)`.
pub struct AppKey {
    pair: aws_lc_rs::rsa::KeyPair,
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(***)")
    }
}

impl AppKey {
    /// The key in a PEM file: `RSA PRIVATE KEY` (PKCS#1, what GitHub hands out) or
    /// `PRIVATE KEY` (PKCS#8). A regular file of at most 64 KiB.
    pub fn read(path: &Path) -> Result<Self, AppKeyError> {
        let shown = path.display().to_string();
        let text = read_bounded(path).map_err(|message| AppKeyError::Read {
            path: shown.clone(),
            message,
        })?;
        Self::from_pem(&text).map_err(|message| AppKeyError::Invalid {
            path: shown,
            message,
        })
    }

    /// The key in PEM text; the error says what the text is instead.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) = pem_block(text)?;
        let pair = match label.as_str() {
            "RSA PRIVATE KEY" => aws_lc_rs::rsa::KeyPair::from_der(&der),
            "PRIVATE KEY" => aws_lc_rs::rsa::KeyPair::from_pkcs8(&der),
            other => return Err(format!("a PEM block of {other:?}")),
        }
        .map_err(|error| format!("the key was rejected: {error}"))?;
        Ok(Self { pair })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| "signing failed".to_string())?;
        Ok(signature)
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|error| error.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    if metadata.len() > MAX_KEY_BYTES {
        return Err(format!(
            "{} bytes, more than any key file ({} KiB at most)",
            metadata.len(),
            MAX_KEY_BYTES / 1024
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the GitHub App private key is readable by every user; chmod 600 it"
            );
        }
    }
    std::fs::read_to_string(path).map_err(|error| error.to_string())
}

/// The label and bytes of the first PEM block in `text`.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|line| {
            line.strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
        })
        .ok_or("no -----BEGIN line")?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    for line in lines {
        if line == end {
            let der = STANDARD
                .decode(body.as_bytes())
                .map_err(|error| format!("its base64 does not decode: {error}"))?;
            return Ok((label, der));
        }
        body.push_str(line);
    }
    Err(format!("no {end} line"))
}

/// Signs the app's JSON web tokens; knows how far the local clock is from GitHub's.
pub struct AppSigner {
    app_id: u64,
    key: AppKey,
    /// GitHub's time minus the local time, in seconds, as last seen in a `Date` header.
    skew: AtomicI64,
    clock: fn() -> i64,
}

impl std::fmt::Debug for AppSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSigner")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl AppSigner {
    pub fn new(app_id: u64, key: AppKey) -> Self {
        Self::with_clock(app_id, key, unix_now)
    }

    /// With another clock (seconds since the epoch): for tests.
    pub fn with_clock(app_id: u64, key: AppKey, clock: fn() -> i64) -> Self {
        Self {
            app_id,
            key,
            skew: AtomicI64::new(0),
            clock,
        }
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// Now, on GitHub's clock as far as it is known.
    pub fn github_now(&self) -> i64 {
        (self.clock)() + self.skew.load(Ordering::Relaxed)
    }

    /// A JWT for the app's own endpoints: `iss` the app id, valid from a minute ago for nine
    /// minutes, on GitHub's clock.
    pub fn jwt(&self) -> Result<String, GitHubError> {
        let now = self.github_now();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "iat": now - JWT_BACKDATE_SECS,
                "exp": now + JWT_LIFE_SECS,
                "iss": self.app_id.to_string(),
            })
            .to_string(),
        );
        let signed = format!("{header}.{claims}");
        let signature = self
            .key
            .sign(signed.as_bytes())
            .map_err(|message| GitHubError::App {
                message: format!("cannot sign a JWT with the app's key: {message}"),
            })?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Learns GitHub's time from an answer's `Date`; `true` when it moved the skew enough
    /// that a refused JWT is worth signing again.
    fn observe_date(&self, reply: &Reply) -> bool {
        let Some(date) = reply
            .headers
            .get(http::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| chrono::DateTime::parse_from_rfc2822(text).ok())
        else {
            return false;
        };
        let skew = date.timestamp() - (self.clock)();
        let before = self.skew.swap(skew, Ordering::Relaxed);
        (skew - before).abs() > SKEW_TOLERANCE_SECS
    }
}

/// The app as `GET /app` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct AppInfo {
    pub id: u64,
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl AppInfo {
    /// The login GitHub shows for what the app does: `<slug>[bot]`.
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

#[derive(Debug, Clone)]
struct InstallationToken {
    token: Token,
    /// Seconds since the epoch, on GitHub's clock.
    expires_at: i64,
}

/// Installation tokens of one app installation, fetched when needed and kept until five
/// minutes before they expire.
pub struct AppTokens {
    signer: Arc<AppSigner>,
    /// Calls signed with a JWT: the app's own endpoints.
    jwt_transport: Arc<Transport>,
    installation: tokio::sync::OnceCell<u64>,
    /// Where to look the installation up when none is configured.
    repository: Option<RepoId>,
    current: tokio::sync::Mutex<Option<InstallationToken>>,
}

impl std::fmt::Debug for AppTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokens")
            .field("app_id", &self.signer.app_id)
            .field("installation", &self.installation.get())
            .finish_non_exhaustive()
    }
}

impl AppTokens {
    /// `installation` as configured; without one it is looked up from `repository`
    /// (`GET /repos/{o}/{r}/installation`), else it is the app's only installation.
    pub fn new(
        settings: &GitHubSettings,
        signer: AppSigner,
        installation: Option<u64>,
        repository: Option<RepoId>,
    ) -> Result<Arc<Self>, GitHubError> {
        let signer = Arc::new(signer);
        let jwt_transport =
            Transport::with_credentials(settings, Credentials::AppJwt(signer.clone()))?;
        let once = tokio::sync::OnceCell::new();
        if let Some(id) = installation {
            let _ = once.set(id);
        }
        Ok(Arc::new(Self {
            signer,
            jwt_transport,
            installation: once,
            repository,
            current: tokio::sync::Mutex::new(None),
        }))
    }

    pub fn app_id(&self) -> u64 {
        self.signer.app_id
    }

    /// The installation the tokens are for.
    pub async fn installation(&self) -> Result<u64, GitHubError> {
        self.installation
            .get_or_try_init(|| self.find_installation())
            .await
            .copied()
    }

    /// `GET /app`: the app's id and slug (its bot's login).
    pub async fn app(&self) -> Result<AppInfo, GitHubError> {
        let endpoint = "GET /app";
        let reply = self.jwt_call(endpoint, Method::GET, "/app", None).await?;
        reply.json(endpoint)
    }

    /// A token that GitHub will accept for at least five more minutes.
    pub async fn token(&self) -> Result<Token, GitHubError> {
        let mut current = self.current.lock().await;
        if let Some(held) = current.as_ref()
            && held.expires_at - self.signer.github_now() > REFRESH_MARGIN_SECS
        {
            return Ok(held.token.clone());
        }
        let fresh = self.exchange().await?;
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// Forgets the held token (GitHub refused it: revoked, or expired on GitHub's clock).
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn exchange(&self) -> Result<InstallationToken, GitHubError> {
        let installation = self.installation().await?;
        let endpoint = "POST /app/installations/{installation_id}/access_tokens";
        let path = format!("/app/installations/{installation}/access_tokens");
        let reply = self
            .jwt_call(endpoint, Method::POST, &path, Some(&json!({})))
            .await?;
        #[derive(Deserialize)]
        struct Granted {
            token: String,
            expires_at: String,
        }
        let granted: Granted = reply.json(endpoint)?;
        let token = Token::new(&granted.token).ok_or_else(|| GitHubError::App {
            message: "GitHub granted an empty installation token".into(),
        })?;
        let expires_at = chrono::DateTime::parse_from_rfc3339(&granted.expires_at)
            .map_err(|error| GitHubError::Decode {
                endpoint: endpoint.to_string(),
                message: format!("expires_at {:?}: {error}", granted.expires_at),
            })?
            .timestamp();
        tracing::info!(
            app_id = self.signer.app_id,
            installation,
            expires_at,
            "installation token granted"
        );
        Ok(InstallationToken { token, expires_at })
    }

    async fn find_installation(&self) -> Result<u64, GitHubError> {
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
        }
        if let Some(repo) = &self.repository {
            let endpoint = "GET /repos/{owner}/{repo}/installation";
            let path = format!("/repos/{}/{}/installation", repo.owner, repo.name);
            let reply = self.jwt_call(endpoint, Method::GET, &path, None).await?;
            let found: Installation = reply.json(endpoint)?;
            return Ok(found.id);
        }
        let endpoint = "GET /app/installations";
        let reply = self
            .jwt_call(
                endpoint,
                Method::GET,
                "/app/installations?per_page=100",
                None,
            )
            .await?;
        let found: Vec<Installation> = reply.json(endpoint)?;
        match found.as_slice() {
            [one] => Ok(one.id),
            [] => Err(GitHubError::App {
                message: format!(
                    "GitHub App {} is installed nowhere; install it on the infra repositories",
                    self.signer.app_id
                ),
            }),
            many => Err(GitHubError::App {
                message: format!(
                    "GitHub App {} has {} installations ({}); set [github] installation_id or TFPILOT_GITHUB_APP_INSTALLATION_ID to the one tfpilot uses",
                    self.signer.app_id,
                    many.len(),
                    many.iter()
                        .map(|installation| installation.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// A call signed with a fresh JWT; one that GitHub refuses as expired or not yet valid is
    /// signed again on GitHub's clock from the refusal's `Date`.
    async fn jwt_call(
        &self,
        endpoint: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, GitHubError> {
        let mut retried = false;
        loop {
            let reply = self
                .jwt_transport
                .answer(endpoint, method.clone(), path, body)
                .await?;
            if reply.status.is_success() {
                return Ok(reply);
            }
            if reply.status == StatusCode::UNAUTHORIZED
                && !retried
                && self.signer.observe_date(&reply)
            {
                retried = true;
                tracing::warn!(
                    skew_secs = self.signer.skew.load(Ordering::Relaxed),
                    "this host's clock is off GitHub's; the app's JWT is signed on GitHub's time"
                );
                continue;
            }
            return Err(app_refusal(endpoint, self.signer.app_id, &reply));
        }
    }
}

/// GitHub's refusal of an app call, with what to check.
fn app_refusal(endpoint: &str, app_id: u64, reply: &Reply) -> GitHubError {
    let message = error_message(&reply.body);
    let hint = match reply.status {
        StatusCode::UNAUTHORIZED => {
            "check that app_id is the app's id and the private key file is one of its current keys"
        }
        StatusCode::NOT_FOUND => {
            "check that the app is installed on the repository and installation_id is one of its installations"
        }
        StatusCode::FORBIDDEN => "check the app's permissions and the installation's repositories",
        _ => "try again; GitHub may be degraded",
    };
    GitHubError::App {
        message: format!(
            "GitHub refused {endpoint} for GitHub App {app_id} ({} {message}); {hint}",
            reply.status.as_u16()
        ),
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
