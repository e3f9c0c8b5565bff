//! The simulator's HTTP shell: the accept loop (which can drop a connection on
//! purpose), and the layer every API call goes through the way it does on
//! GitHub: injected faults, authentication, the primary rate limit, ETags.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tower::ServiceExt as _;

use super::model::{Budget, FaultRule, RecordedAnswer};
use super::{Shared, payloads, runs};

/// Lets a fault drop the connection a request arrived on.
#[derive(Clone)]
pub struct ConnectionKill(Arc<Notify>);

/// The login a request authenticated as.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// Responses are buffered to compute ETags; nothing the simulator sends is big.
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct Served {
    pub addr: SocketAddr,
    pub shutdown: oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<Served> {
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    // Out of descriptors or a reset during accept: keep serving.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
                },
                _ = &mut stop => return,
            };
            let router = router.clone();
            tokio::spawn(async move {
                let kill = Arc::new(Notify::new());
                let service_kill = ConnectionKill(kill.clone());
                let service = hyper::service::service_fn(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(service_kill.clone());
                        router.clone().oneshot(request.map(Body::new))
                    },
                );
                let builder = auto::Builder::new(TokioExecutor::new());
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    // Dropping the connection future closes the socket mid-request.
                    _ = kill.notified() => {}
                }
            });
        }
    });
    Ok(Served {
        addr,
        shutdown,
        task,
    })
}

pub fn json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

/// Saves the world after every request that may have changed it.
pub async fn persist_layer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    if changes {
        // File I/O off the async workers: the simulator may share a runtime with a dashboard.
        let saving = shared.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || saving.save()).await {
            tracing::error!(%error, "the simulator's save task failed");
        }
    }
    response
}

/// Faults first (they stand in for the network and GitHub's front end), then
/// authentication, then the rate limit, then the handler; ETags last.
pub async fn api_layer(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |matched| matched.as_str().to_string());
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    let fault = pick_fault(&shared, &method, &path);
    if let Some(rule) = fault.as_ref().filter(|rule| !rule.after_handler)
        && let Some(response) = apply_fault(rule, kill.as_ref()).await
    {
        return count(&shared, &method, &route, response);
    }
    if path.starts_with("/login/") {
        let response = next.run(request).await;
        return count(&shared, &method, &route, response);
    }
    let version = match api_version(request.headers()) {
        Ok(version) => version,
        Err(refusal) => {
            let refusal = recorded(&shared, &method, &route, refusal).await;
            return count(&shared, &method, &route, refusal);
        }
    };
    let now = shared.clock.now();
    let app_route = super::apps::is_app_route(&route);
    let login = match authenticate_caller(&shared, request.headers(), app_route, now) {
        Ok(Authenticated::User(login)) => login,
        Ok(Authenticated::App(id)) => {
            request.extensions_mut().insert(super::apps::AppCaller(id));
            format!("app-{id}")
        }
        Err(message) => {
            let response = json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "401"}),
            );
            return count(
                &shared,
                &method,
                &route,
                recorded(&shared, &method, &route, response).await,
            );
        }
    };
    let limit_free = path == "/rate_limit";
    let exhausted = {
        let mut state = shared.lock();
        runs::settle(&mut state, now);
        let limit = state.options.rate_limit;
        let user_id = state.user_id(&login);
        let budget = state
            .budgets
            .entry(login.clone())
            .or_insert_with(|| Budget::fresh(limit, now));
        budget.roll(now);
        (budget.remaining == 0 && !limit_free).then(|| (budget.clone(), user_id))
    };
    if let Some((budget, user_id)) = exhausted {
        let mut response = json(
            StatusCode::FORBIDDEN,
            serde_json::json!({
                "message": format!("API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, please include the request ID SIM."),
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403"
            }),
        );
        rate_headers(response.headers_mut(), &budget);
        let response = recorded(&shared, &method, &route, response).await;
        return count(&shared, &method, &route, response);
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    request.extensions_mut().insert(Caller(login.clone()));
    // An app route decides for itself which repositories the app may see.
    let refused = if app_route {
        None
    } else {
        refusal(&shared, &login, &method, &route, &path)
    };
    let response = match refused {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut status = parts.status;
    let mut body = Body::from(bytes.clone());
    if method == Method::GET && status == StatusCode::OK {
        let etag = format!("W/\"{}\"", super::git::content_sha(&[&bytes]));
        if if_none_match.is_some_and(|value| value.as_bytes() == etag.as_bytes()) {
            status = StatusCode::NOT_MODIFIED;
            body = Body::empty();
        }
        if let Ok(value) = HeaderValue::from_str(&etag) {
            parts.headers.insert(header::ETAG, value);
        }
        parts.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60, s-maxage=60"),
        );
    }
    let (budget, scopes) = {
        let mut state = shared.lock();
        let scopes = state
            .token_scopes
            .get(&login)
            .cloned()
            .unwrap_or_else(|| Some("repo, workflow".to_string()));
        let limit = state.options.rate_limit;
        let budget = state
            .budgets
            .entry(login)
            .or_insert_with(|| Budget::fresh(limit, now));
        // A 304 costs nothing, as on GitHub; so does reading the limit itself.
        if status != StatusCode::NOT_MODIFIED && !limit_free {
            budget.remaining = budget.remaining.saturating_sub(1);
        }
        (budget.clone(), scopes)
    };
    parts.status = status;
    rate_headers(&mut parts.headers, &budget);
    parts.headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static(version),
    );
    if let Some(scopes) = scopes
        && let Ok(value) = HeaderValue::from_str(&scopes)
    {
        parts.headers.insert("x-oauth-scopes", value);
    }
    if status == StatusCode::NOT_MODIFIED {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let kept: &[u8] = if status == StatusCode::NOT_MODIFIED {
        &[]
    } else {
        &bytes
    };
    keep_answer(&shared, &method, &route, status, kept);
    if let Some(rule) = fault.as_ref().filter(|rule| rule.after_handler)
        && let Some(response) = apply_fault(rule, kill.as_ref()).await
    {
        return count(&shared, &method, &route, response);
    }
    count(&shared, &method, &route, Response::from_parts(parts, body))
}

/// GitHub's answer when `login` may not do this in the repository the path names: 404, as for a
/// private repository one cannot see (or an action one may not take in it).
fn refusal(
    shared: &Shared,
    login: &str,
    method: &Method,
    route: &str,
    path: &str,
) -> Option<Response> {
    let mut parts = path.strip_prefix("/repos/")?.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    let state = shared.lock();
    let repo = state.repo(owner, name)?;
    (!super::access::allows(repo, login, method, route)).then(not_found)
}

/// Records an answer made before the handler (authentication, version, rate limit) when
/// answers are being recorded; hands it on unchanged.
async fn recorded(shared: &Shared, method: &Method, route: &str, response: Response) -> Response {
    let recording = shared.lock().recorded.is_some();
    if !recording {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    keep_answer(shared, method, route, parts.status, &bytes);
    Response::from_parts(parts, Body::from(bytes))
}

fn keep_answer(shared: &Shared, method: &Method, route: &str, status: StatusCode, body: &[u8]) {
    if let Some(answers) = shared.lock().recorded.as_mut() {
        answers.push(RecordedAnswer {
            method: method.to_string(),
            route: route.to_string(),
            status: status.as_u16(),
            body: body.to_vec(),
        });
    }
}

fn count(shared: &Shared, method: &Method, route: &str, response: Response) -> Response {
    let key = (
        method.to_string(),
        route.to_string(),
        response.status().as_u16(),
    );
    *shared.lock().calls.entry(key).or_default() += 1;
    let mut response = response;
    // GitHub's time, which a client whose clock is off reads to sign its app JWTs.
    if let Ok(date) = HeaderValue::from_str(
        &shared
            .clock
            .now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    ) {
        response.headers_mut().insert(header::DATE, date);
    }
    response
}

/// The REST API versions GitHub serves; a request without `X-GitHub-Api-Version` gets the first.
pub const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];

/// What GitHub checks before anything else: a `User-Agent` (403 without one) and an API version
/// it serves (400 otherwise). Returns the version selected.
#[allow(clippy::result_large_err)] // a refusal is a whole response, built once per request
fn api_version(headers: &HeaderMap) -> Result<&'static str, Response> {
    if headers
        .get(header::USER_AGENT)
        .is_none_or(|agent| agent.as_bytes().trim_ascii().is_empty())
    {
        let mut response = (
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Err(response);
    }
    let Some(asked) = headers.get("x-github-api-version") else {
        return Ok(API_VERSIONS[0]);
    };
    let asked = asked.to_str().unwrap_or_default().trim();
    API_VERSIONS
        .iter()
        .find(|version| **version == asked)
        .copied()
        .ok_or_else(|| {
            json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({
                    "message": format!("API version {asked} is not supported."),
                    "documentation_url": "https://docs.github.com/rest/overview/api-versions",
                    "status": "400"
                }),
            )
        })
}

pub fn rate_headers(headers: &mut HeaderMap, budget: &Budget) {
    let used = budget.limit.saturating_sub(budget.remaining);
    for (name, value) in [
        ("x-ratelimit-limit", budget.limit.to_string()),
        ("x-ratelimit-remaining", budget.remaining.to_string()),
        ("x-ratelimit-reset", budget.reset.timestamp().to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// `sim-<login>` tokens authenticate as `<login>`; GitHub accepts both the
/// `token` and `Bearer` schemes.
/// Who a request is from, as GitHub tells them apart by their token.
enum Authenticated {
    /// A person (`sim-<login>`) or an app installation acting as `<slug>[bot]` (`ghs_...`).
    User(String),
    /// An app, by the JWT it signed; only on the app's own routes.
    App(u64),
}

/// The caller, or GitHub's 401 message.
fn authenticate_caller(
    shared: &super::Shared,
    headers: &HeaderMap,
    app_route: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Authenticated, String> {
    const BAD: &str = "Bad credentials";
    let token = bearer(headers);
    if app_route {
        let token = token
            .filter(|token| super::apps::looks_like_jwt(token))
            .ok_or("A JSON web token could not be decoded")?;
        return super::apps::verify_jwt(&shared.lock(), token, now).map(Authenticated::App);
    }
    if let Some(login) = authenticate(headers) {
        return Ok(Authenticated::User(login));
    }
    token
        .filter(|token| token.starts_with("ghs_"))
        .and_then(|token| super::apps::installation_login(&shared.lock(), token, now))
        .map(Authenticated::User)
        .ok_or_else(|| BAD.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

pub fn authenticate(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return None;
    }
    let login = token.trim().strip_prefix("sim-")?;
    is_login(login).then(|| login.to_string())
}

/// GitHub logins: 1 to 39 letters, digits or inner hyphens.
pub fn is_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 39
        && !login.starts_with('-')
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The fault this request draws, if any (used up when `times` runs out).
/// Matching rules are tried in order, each drawing against its own rate; the first that fires
/// applies, so a mix of faults (some 5xx, some latency, some drops) can be set up together.
fn pick_fault(shared: &Shared, method: &Method, path: &str) -> Option<FaultRule> {
    let mut state = shared.lock();
    let mut index = 0;
    while index < state.faults.len() {
        if !state.faults[index].matches(method.as_str(), path) {
            index += 1;
            continue;
        }
        state.fault_draws += 1;
        let draw = unit_draw(state.fault_draws);
        let rule = state.faults[index].clone();
        if draw >= rule.rate {
            index += 1;
            continue;
        }
        match &mut state.faults[index].times {
            Some(1) => {
                state.faults.remove(index);
            }
            Some(left) => *left -= 1,
            None => {}
        }
        return Some(rule);
    }
    None
}

/// Delay, drop, or the fault's answer; `None` when the fault only adds latency.
async fn apply_fault(rule: &FaultRule, kill: Option<&ConnectionKill>) -> Option<Response> {
    if let Some(latency) = rule.latency_ms {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if rule.drop_connection {
        if let Some(kill) = kill {
            kill.0.notify_one();
        }
        std::future::pending::<()>().await;
    }
    let status = StatusCode::from_u16(rule.status?).ok()?;
    let body = rule.body.clone().unwrap_or_else(|| {
        payloads::error(
            status.canonical_reason().unwrap_or("Error"),
            "https://docs.github.com/rest",
        )
    });
    let mut response = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        status.into_response()
    } else {
        json(status, body)
    };
    if let Some(seconds) = rule.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}

/// A reproducible number in [0, 1) for the n-th fault draw (splitmix64).
fn unit_draw(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_logins() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sim-alice"),
        );
        assert_eq!(authenticate(&headers).as_deref(), Some("alice"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("token sim-bob-2"),
        );
        assert_eq!(authenticate(&headers).as_deref(), Some("bob-2"));
        for bad in [
            "Bearer ghp_real",
            "Bearer sim-",
            "Basic sim-alice",
            "Bearer sim-a/b",
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(authenticate(&headers), None, "{bad}");
        }
    }

    #[test]
    fn draws_are_spread_over_the_unit_interval() {
        let draws: Vec<f64> = (1..=1000).map(unit_draw).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below_half = draws.iter().filter(|d| **d < 0.5).count();
        assert!((400..600).contains(&below_half), "{below_half}");
    }
}
