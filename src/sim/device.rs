//! GitHub's OAuth device flow (`/login/device/code`, `/login/oauth/access_token`).
//! As on GitHub, the token endpoint answers HTTP 200 even for errors, with an
//! `error` field; clients must read the body, not the status.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Duration;
use serde_json::{Value, json};

use super::git::content_sha;
use super::model::DeviceGrant;
use super::server::json as reply;
use super::{Shared, SimError};

const DEVICE_DOCS: &str =
    "https://docs.github.com/developers/apps/authorizing-oauth-apps#device-flow";

/// Form or JSON parameters, as GitHub accepts both.
fn parameters(headers: &HeaderMap, body: &Bytes) -> BTreeMap<String, String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if is_json {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        value
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), String::from),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        form_urlencoded_pairs(body)
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// JSON when asked for, else form encoding: GitHub's default for these endpoints.
fn answer(headers: &HeaderMap, status: StatusCode, body: Value) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if wants_json {
        return reply(status, body);
    }
    let encoded: Vec<String> = body
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map_or_else(|| v.to_string(), String::from)
                            .replace(' ', "+")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        encoded.join("&"),
    )
        .into_response()
}

fn oauth_error(headers: &HeaderMap, error: &str, description: &str) -> Response {
    answer(
        headers,
        StatusCode::OK,
        json!({"error": error, "error_description": description, "error_uri": DEVICE_DOCS}),
    )
}

pub async fn request_code(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = parameters(&headers, &body);
    let Some(client_id) = params.get("client_id").filter(|id| !id.is_empty()) else {
        return answer(
            &headers,
            StatusCode::UNAUTHORIZED,
            json!({"error": "Not Found", "error_description": "client_id is required"}),
        );
    };
    let now = shared.clock.now();
    let mut state = shared.lock();
    let serial = state.allocate_id();
    let digest = content_sha(&[
        b"device",
        serial.to_string().as_bytes(),
        now.to_rfc3339().as_bytes(),
    ]);
    let letters: String = digest
        .bytes()
        .take(8)
        .map(|b| char::from(b"BCDFGHJKLMNPQRSTVWXZ23456789"[(b as usize) % 28]))
        .collect();
    let user_code = format!("{}-{}", &letters[..4], &letters[4..]);
    let interval = state.options.device_poll_interval;
    let grant = DeviceGrant {
        device_code: digest,
        user_code: user_code.clone(),
        client_id: client_id.clone(),
        scope: params.get("scope").cloned().unwrap_or_default(),
        expires_at: now + Duration::seconds(900),
        interval,
        last_poll: None,
        authorized_by: None,
        denied: false,
        redeemed: false,
    };
    let body = json!({
        "device_code": grant.device_code,
        "user_code": user_code,
        "verification_uri": format!("{}/login/device", shared.base_url),
        "expires_in": 900,
        "interval": interval
    });
    state.device_grants.push(grant);
    answer(&headers, StatusCode::OK, body)
}

pub async fn access_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = parameters(&headers, &body);
    if params.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:device_code")
    {
        return oauth_error(
            &headers,
            "unsupported_grant_type",
            "The grant type must be urn:ietf:params:oauth:grant-type:device_code.",
        );
    }
    let now = shared.clock.now();
    let mut state = shared.lock();
    let code = params.get("device_code").cloned().unwrap_or_default();
    let Some(grant) = state
        .device_grants
        .iter_mut()
        .find(|g| g.device_code == code && !g.redeemed)
    else {
        return oauth_error(
            &headers,
            "incorrect_device_code",
            "The device_code provided is not valid.",
        );
    };
    if params.get("client_id") != Some(&grant.client_id) {
        return oauth_error(
            &headers,
            "incorrect_client_credentials",
            "The client_id is not valid.",
        );
    }
    if now >= grant.expires_at {
        return oauth_error(&headers, "expired_token", "The device_code has expired.");
    }
    if grant.denied {
        return oauth_error(
            &headers,
            "access_denied",
            "The authorization request was denied.",
        );
    }
    let too_soon = grant
        .last_poll
        .is_some_and(|last| now < last + Duration::seconds(grant.interval as i64));
    grant.last_poll = Some(now);
    if too_soon {
        grant.interval += 5;
        let interval = grant.interval;
        return answer(
            &headers,
            StatusCode::OK,
            json!({"error": "slow_down", "error_description": "Too many requests have been made in the same timeframe.", "error_uri": DEVICE_DOCS, "interval": interval}),
        );
    }
    let Some(login) = grant.authorized_by.clone() else {
        return oauth_error(
            &headers,
            "authorization_pending",
            "The authorization request is still pending.",
        );
    };
    grant.redeemed = true;
    let scope = grant.scope.clone();
    answer(
        &headers,
        StatusCode::OK,
        json!({"access_token": format!("sim-{login}"), "token_type": "bearer", "scope": scope}),
    )
}

pub fn authorize(
    shared: &Shared,
    user_code: &str,
    login: &str,
    deny: bool,
) -> Result<(), SimError> {
    if !super::server::is_login(login) {
        return Err(SimError::Invalid(format!(
            "{login:?} is not a GitHub login"
        )));
    }
    let mut state = shared.lock();
    let grant = state
        .device_grants
        .iter_mut()
        .find(|g| g.user_code.eq_ignore_ascii_case(user_code) && !g.redeemed)
        .ok_or_else(|| SimError::Invalid(format!("no pending device code {user_code}")))?;
    if deny {
        grant.denied = true;
    } else {
        grant.authorized_by = Some(login.to_string());
    }
    Ok(())
}

pub async fn verification_page(State(shared): State<Arc<Shared>>) -> Html<String> {
    Html(format!(
        "<!doctype html><title>Device activation (tfpilot GitHub simulator)</title>\
         <h1>Device activation</h1><p>This is tfpilot's GitHub simulator. To enter a code as a user, run:</p>\
         <pre>curl -X POST {}/_sim/device/authorize -H 'content-type: application/json' \\\n  -d '{{\"user_code\": \"XXXX-XXXX\", \"login\": \"your-login\"}}'</pre>",
        shared.base_url
    ))
}
