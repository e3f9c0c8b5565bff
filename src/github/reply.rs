//! GitHub's answers: the raw reply, what its error body says, and which
//! answers are rate limits rather than refusals.

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use super::error::GitHubError;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body is the tail of a longer one (see `Transport::get_tail`).
    pub truncated: bool,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self, endpoint: &str) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body).map_err(|error| GitHubError::Decode {
            endpoint: endpoint.to_string(),
            message: error.to_string(),
        })
    }
}

pub(super) enum Limit {
    Primary { reset: Option<i64> },
    Secondary { retry_after: Option<u64> },
}

pub(super) fn classify_limit(reply: &Reply) -> Option<Limit> {
    if reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name| {
        reply
            .headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    let message = error_message(&reply.body).to_ascii_lowercase();
    let retry_after = header(RETRY_AFTER.as_str()).and_then(|v| v.trim().parse::<u64>().ok());
    if message.contains("secondary rate limit") || message.contains("abuse") {
        return Some(Limit::Secondary { retry_after });
    }
    if header("x-ratelimit-remaining") == Some("0") {
        return Some(Limit::Primary {
            reset: header("x-ratelimit-reset").and_then(|v| v.parse().ok()),
        });
    }
    if retry_after.is_some()
        || reply.status == StatusCode::TOO_MANY_REQUESTS
        || message.contains("rate limit")
    {
        return Some(Limit::Secondary { retry_after });
    }
    None
}

/// GitHub's `message`, or the body's first line when it is not GitHub JSON.
pub fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_string(),
        Err(_) => String::from_utf8_lossy(body)
            .lines()
            .next()
            .unwrap_or("empty body")
            .chars()
            .take(200)
            .collect(),
    }
}

/// The entries of GitHub's `errors` array, as text.
pub fn error_details(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    value
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|error| match error {
                    Value::String(text) => text.clone(),
                    Value::Object(map) => map
                        .get("message")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .unwrap_or_else(|| {
                            let field = map.get("field").and_then(Value::as_str).unwrap_or("?");
                            let code = map.get("code").and_then(Value::as_str).unwrap_or("invalid");
                            format!("{field} is {code}")
                        }),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn error_for(endpoint: &str, reply: &Reply) -> GitHubError {
    let endpoint = endpoint.to_string();
    let message = error_message(&reply.body);
    match reply.status {
        StatusCode::UNAUTHORIZED => GitHubError::Unauthorized { message },
        StatusCode::FORBIDDEN => GitHubError::Forbidden { endpoint, message },
        StatusCode::NOT_FOUND => GitHubError::NotFound { endpoint, message },
        StatusCode::CONFLICT => GitHubError::Conflict { endpoint, message },
        StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Validation {
            endpoint,
            message,
            errors: error_details(&reply.body),
        },
        _ => unexpected(&endpoint, reply),
    }
}

pub(super) fn unexpected(endpoint: &str, reply: &Reply) -> GitHubError {
    GitHubError::Unexpected {
        endpoint: endpoint.to_string(),
        status: reply.status.as_u16(),
        message: error_message(&reply.body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_readable_details() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for a:b."},{"resource":"PullRequest","field":"head","code":"invalid"},"Can not approve your own pull request"]}"#;
        assert_eq!(error_message(body), "Validation Failed");
        assert_eq!(
            error_details(body),
            vec![
                "A pull request already exists for a:b.",
                "head is invalid",
                "Can not approve your own pull request"
            ]
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>\nmore"),
            "<html>bad gateway</html>"
        );
    }
}
