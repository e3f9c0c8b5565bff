//! GitHub Apps in the simulator, as GitHub authenticates them: an app registered with
//! `POST /_sim/apps` (its id, slug, public key and installations) signs RS256 JSON web tokens
//! for `GET /app`, `GET /app/installations`, `GET /repos/{owner}/{repo}/installation` and
//! `POST /app/installations/{id}/access_tokens`; the installation tokens those grant act as
//! `<slug>[bot]` on the installation's repositories with `write` access and expire after an
//! hour on the simulator's clock. A JWT that does not verify against the app's key, has expired,
//! lives longer than ten minutes or was issued in the future is refused with 401, as GitHub
//! refuses it; an expired or unknown installation token is "Bad credentials".

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::access::Permission;
use super::model::SimState;
use super::repos::GitHubJson;
use super::server::{json as reply, not_found};

/// How long an installation token lives, as on GitHub.
pub const TOKEN_LIFE: chrono::Duration = chrono::Duration::hours(1);
/// The longest life GitHub accepts for an app's JWT.
const MAX_JWT_LIFE_SECS: i64 = 600;
/// Clock drift tolerated on `iat`.
const IAT_LEEWAY_SECS: i64 = 60;

#[derive(Debug, Clone)]
pub struct SimApp {
    pub id: u64,
    pub slug: String,
    pub name: String,
    pub owner: String,
    /// DER of the public key (SubjectPublicKeyInfo or PKCS#1), from the registered PEM.
    pub public_key: Vec<u8>,
    pub installations: Vec<SimInstallation>,
}

#[derive(Debug, Clone)]
pub struct SimInstallation {
    pub id: u64,
    /// `owner/name` of each repository the app is installed on.
    pub repositories: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// What an installation token grants, until when.
#[derive(Debug, Clone)]
pub struct Grant {
    pub app_id: u64,
    pub installation: u64,
    pub login: String,
    pub expires_at: DateTime<Utc>,
}

impl SimApp {
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// The caller an app route sees: the app its JWT verified as.
#[derive(Debug, Clone, Copy)]
pub struct AppCaller(pub u64);

/// The routes only an app's JWT may call.
pub fn is_app_route(route: &str) -> bool {
    route.starts_with("/app") || route == "/repos/{owner}/{repo}/installation"
}

/// Whether `token` has a JWT's shape (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

/// The app a JWT is from, or GitHub's 401 message.
pub fn verify_jwt(state: &SimState, token: &str, now: DateTime<Utc>) -> Result<u64, String> {
    const UNDECODABLE: &str = "A JSON web token could not be decoded";
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(UNDECODABLE.into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.as_bytes())
            .map_err(|_| UNDECODABLE.to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| UNDECODABLE.to_string())
    };
    let header_json = decode(header)?;
    if header_json["alg"] != "RS256" {
        return Err(UNDECODABLE.into());
    }
    let claims_json = decode(claims)?;
    let issuer = match &claims_json["iss"] {
        Value::String(text) => text.parse::<u64>().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
    .ok_or_else(|| "'Issuer' claim ('iss') must be an Integer".to_string())?;
    let app = state
        .apps
        .get(&issuer)
        .ok_or_else(|| UNDECODABLE.to_string())?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature.as_bytes())
        .map_err(|_| UNDECODABLE.to_string())?;
    let signed = format!("{header}.{claims}");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.public_key,
    )
    .verify(signed.as_bytes(), &signature)
    .map_err(|_| UNDECODABLE.to_string())?;
    let (Some(issued), Some(expires)) = (claims_json["iat"].as_i64(), claims_json["exp"].as_i64())
    else {
        return Err(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
                .into(),
        );
    };
    let now = now.timestamp();
    if expires <= now {
        return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires".into());
    }
    if expires - issued > MAX_JWT_LIFE_SECS || expires - now > MAX_JWT_LIFE_SECS + IAT_LEEWAY_SECS {
        return Err("'Expiration time' claim ('exp') is too far in the future".into());
    }
    if issued > now + IAT_LEEWAY_SECS {
        return Err(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
                .into(),
        );
    }
    Ok(issuer)
}

/// The login an installation token acts as, while it lasts.
pub fn installation_login(state: &SimState, token: &str, now: DateTime<Utc>) -> Option<String> {
    state
        .installation_tokens
        .get(token)
        .filter(|grant| grant.expires_at > now)
        .map(|grant| grant.login.clone())
}

/// `POST /_sim/apps`.
#[derive(Deserialize)]
pub struct NewApp {
    id: u64,
    slug: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    public_key_pem: String,
    #[serde(default)]
    installations: Vec<NewInstallation>,
}

#[derive(Deserialize)]
pub struct NewInstallation {
    id: u64,
    #[serde(default)]
    repositories: Vec<String>,
}

pub async fn post_app(
    State(shared): State<Arc<Shared>>,
    GitHubJson(request): GitHubJson<NewApp>,
) -> Response {
    match register(&shared, request) {
        Ok(body) => reply(StatusCode::CREATED, body),
        Err(message) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": message, "documentation_url": "docs/simulator.md"}),
        ),
    }
}

pub(super) fn register(shared: &Shared, request: NewApp) -> Result<Value, String> {
    if request.slug.is_empty()
        || !request
            .slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "{:?} is not an app slug; use letters, digits and -",
            request.slug
        ));
    }
    let public_key = public_key_der(&request.public_key_pem)?;
    let now = shared.clock.now();
    let mut state = shared.lock();
    let mut installations = Vec::new();
    for installation in request.installations {
        for full_name in &installation.repositories {
            let (owner, name) = full_name
                .split_once('/')
                .ok_or_else(|| format!("{full_name:?} is not owner/name"))?;
            if state.repo(owner, name).is_none() {
                return Err(format!(
                    "no repository {full_name}; create it with POST /_sim/repos first"
                ));
            }
        }
        installations.push(SimInstallation {
            id: installation.id,
            repositories: installation.repositories,
            created_at: now,
        });
    }
    let app = SimApp {
        id: request.id,
        name: request.name.unwrap_or_else(|| request.slug.clone()),
        owner: request.owner.unwrap_or_else(|| "acme".to_string()),
        slug: request.slug,
        public_key,
        installations,
    };
    let bot = app.bot_login();
    for installation in &app.installations {
        for full_name in &installation.repositories {
            if let Some((owner, name)) = full_name.split_once('/')
                && let Some(repo) = state.repo_mut(owner, name)
            {
                repo.collaborators.insert(bot.clone(), Permission::Write);
            }
        }
    }
    let body = app_json(&shared.base_url, &app, now);
    state.user_id(&bot);
    state.apps.insert(app.id, app);
    Ok(body)
}

/// The DER inside a `PUBLIC KEY` or `RSA PUBLIC KEY` PEM block.
fn public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    if !pem.contains("PUBLIC KEY-----") {
        return Err("public_key_pem must be a PEM `PUBLIC KEY` block".into());
    }
    STANDARD
        .decode(body.as_bytes())
        .map_err(|error| format!("public_key_pem does not decode: {error}"))
}

fn app_json(base_url: &str, app: &SimApp, now: DateTime<Utc>) -> Value {
    json!({
        "id": app.id,
        "slug": app.slug,
        "node_id": format!("A_sim{}", app.id),
        "client_id": format!("Iv1.sim{}", app.id),
        "owner": super::payloads::user(base_url, &app.owner, 1),
        "name": app.name,
        "description": "",
        "external_url": base_url,
        "html_url": format!("{base_url}/apps/{}", app.slug),
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "updated_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "permissions": permissions(),
        "events": [],
        "installations_count": app.installations.len(),
    })
}

fn permissions() -> Value {
    json!({"actions": "write", "contents": "write", "deployments": "write", "metadata": "read", "pull_requests": "write"})
}

fn installation_json(base_url: &str, app: &SimApp, installation: &SimInstallation) -> Value {
    let created = installation
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // GitHub describes an installation's account as a user and an enterprise at once.
    let mut account = super::payloads::user(base_url, &app.owner, 1);
    if let Value::Object(fields) = &mut account {
        fields.insert("name".into(), json!(app.owner));
        fields.insert("slug".into(), json!(app.owner));
        fields.insert("created_at".into(), json!(created));
        fields.insert("updated_at".into(), json!(created));
    }
    json!({
        "id": installation.id,
        "account": account,
        "repository_selection": "selected",
        "access_tokens_url": format!("{base_url}/app/installations/{}/access_tokens", installation.id),
        "repositories_url": format!("{base_url}/installation/repositories"),
        "html_url": format!("{base_url}/settings/installations/{}", installation.id),
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": 1,
        "target_type": "Organization",
        "permissions": permissions(),
        "events": [],
        "created_at": created,
        "updated_at": created,
        "single_file_name": null,
        "suspended_by": null,
        "suspended_at": null,
    })
}

/// `GET /app`.
pub async fn get_app(
    State(shared): State<Arc<Shared>>,
    Extension(AppCaller(id)): Extension<AppCaller>,
) -> Response {
    let now = shared.clock.now();
    let state = shared.lock();
    match state.apps.get(&id) {
        Some(app) => reply(StatusCode::OK, app_json(&shared.base_url, app, now)),
        None => not_found(),
    }
}

/// `GET /app/installations`.
pub async fn list_installations(
    State(shared): State<Arc<Shared>>,
    Extension(AppCaller(id)): Extension<AppCaller>,
) -> Response {
    let state = shared.lock();
    let Some(app) = state.apps.get(&id) else {
        return not_found();
    };
    let list: Vec<Value> = app
        .installations
        .iter()
        .map(|installation| installation_json(&shared.base_url, app, installation))
        .collect();
    reply(StatusCode::OK, Value::Array(list))
}

/// `GET /repos/{owner}/{repo}/installation`: 404 where the app is not installed.
pub async fn repo_installation(
    State(shared): State<Arc<Shared>>,
    Extension(AppCaller(id)): Extension<AppCaller>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(app) = state.apps.get(&id) else {
        return not_found();
    };
    let wanted = format!("{owner}/{repo}");
    app.installations
        .iter()
        .find(|installation| {
            installation
                .repositories
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&wanted))
        })
        .map_or_else(not_found, |installation| {
            reply(
                StatusCode::OK,
                installation_json(&shared.base_url, app, installation),
            )
        })
}

/// `POST /app/installations/{installation_id}/access_tokens`: a `ghs_` token for an hour.
pub async fn create_access_token(
    State(shared): State<Arc<Shared>>,
    Extension(AppCaller(id)): Extension<AppCaller>,
    Path(installation_id): Path<u64>,
) -> Response {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let Some(app) = state.apps.get(&id) else {
        return not_found();
    };
    let Some(installation) = app
        .installations
        .iter()
        .find(|installation| installation.id == installation_id)
    else {
        return not_found();
    };
    let repositories: Vec<Value> = installation
        .repositories
        .iter()
        .filter_map(|full_name| {
            let (owner, name) = full_name.split_once('/')?;
            let repo = state.repo(owner, name)?;
            let owner_id = state.users.get(&repo.owner).copied().unwrap_or(1);
            Some(super::payloads::repository(
                &shared.base_url,
                repo,
                owner_id,
            ))
        })
        .collect();
    let login = app.bot_login();
    let serial = state.allocate_id();
    let token = format!(
        "ghs_{}",
        super::git::content_sha(&[
            id.to_string().as_bytes(),
            installation_id.to_string().as_bytes(),
            serial.to_string().as_bytes(),
            now.timestamp_nanos_opt()
                .unwrap_or_default()
                .to_string()
                .as_bytes(),
        ])
        .chars()
        .take(36)
        .collect::<String>()
    );
    let expires_at = now + TOKEN_LIFE;
    state.installation_tokens.insert(
        token.clone(),
        Grant {
            app_id: id,
            installation: installation_id,
            login,
            expires_at,
        },
    );
    // Tokens past their hour are no use to anyone: forget them.
    state
        .installation_tokens
        .retain(|_, grant| grant.expires_at > now);
    reply(
        StatusCode::CREATED,
        json!({
            "token": token,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "permissions": permissions(),
            "repository_selection": "selected",
            "repositories": repositories,
        }),
    )
}

/// A new RSA key pair for an app, as PEM: the private key (PKCS#8, for tfpilot's
/// `app_private_key_file`) and the public key (for `POST /_sim/apps`). The sandbox makes one;
/// tests do too.
pub fn generate_key_pair() -> Result<(String, String), String> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed".to_string())?;
    let private = pair
        .as_der()
        .map_err(|_| "cannot encode the private key".to_string())?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| "cannot encode the public key".to_string())?;
    Ok((
        pem("PRIVATE KEY", private.as_ref()),
        pem("PUBLIC KEY", public.as_ref()),
    ))
}

/// The public key, as PEM, of a private key [`generate_key_pair`] made (PKCS#8 PEM): a sandbox
/// restarted on its directory keeps its app's key instead of making a new one.
pub fn public_key_of(private_pem: &str) -> Result<String, String> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    let der: String = private_pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(der.as_bytes())
        .map_err(|error| format!("the key does not decode: {error}"))?;
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)
        .map_err(|error| format!("not a PKCS#8 RSA key: {error}"))?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| "cannot encode the public key".to_string())?;
    Ok(pem("PUBLIC KEY", public.as_ref()))
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Every app, for `GET /_sim/state`.
pub fn snapshot(apps: &BTreeMap<u64, SimApp>) -> Value {
    apps.values()
        .map(|app| {
            json!({
                "id": app.id,
                "slug": app.slug,
                "installations": app.installations.iter().map(|installation| json!({
                    "id": installation.id,
                    "repositories": installation.repositories,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}
