//! GitHub's OAuth device flow, for logging in from a terminal over SSH.
//!
//! GitHub answers the token poll with HTTP 200 whatever happened and puts any
//! problem in an `error` field (the quirk behind oauth2-rs #218), so the body
//! decides: `authorization_pending` and `slow_down` mean keep polling, anything
//! else ends the login with a reason. octocrab's own poll loop treats every
//! unknown answer as a decode failure, so this one reads the body itself.

use std::time::Duration;

use http::header::ACCEPT;
use http_body_util::BodyExt as _;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use super::token::Token;

#[derive(Debug, Error)]
pub enum LoginError {
    #[error("cannot reach {url} to log in: {message}")]
    Network { url: String, message: String },
    #[error("GitHub refused the login ({code}: {description}){hint}")]
    Refused {
        code: String,
        description: String,
        hint: &'static str,
    },
    #[error("the code expired before it was entered; run `tfpilot login` again")]
    Expired,
    #[error("the login was denied in the browser")]
    Denied,
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
}

/// What the person logging in needs: where to go and what to type.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// The web host's device-flow endpoints: github.com for api.github.com,
/// the server root for Enterprise Server (`…/api/v3`), the same server for the
/// simulator.
pub fn web_url(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("https://api.github.com") {
        return format!("https://github.com{rest}");
    }
    trimmed
        .strip_suffix("/api/v3")
        .unwrap_or(trimmed)
        .to_string()
}

pub struct DeviceLogin {
    crab: Octocrab,
    url: String,
    client_id: String,
}

impl DeviceLogin {
    pub fn new(api_url: &str, client_id: &str) -> Result<Self, LoginError> {
        let url = web_url(api_url);
        let crab = Octocrab::builder()
            .base_uri(url.as_str())
            .map_err(|error| LoginError::Network {
                url: url.clone(),
                message: error.to_string(),
            })?
            .add_header(ACCEPT, "application/json".to_string())
            .set_connect_timeout(Some(Duration::from_secs(
                super::client::DEFAULT_CONNECT_TIMEOUT_SECS,
            )))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|error| LoginError::Network {
                url: url.clone(),
                message: error.to_string(),
            })?;
        Ok(Self {
            crab,
            url,
            client_id: client_id.to_string(),
        })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, LoginError> {
        let limit = Duration::from_secs(super::client::DEFAULT_OPERATION_TIMEOUT_SECS);
        tokio::time::timeout(limit, self.post_unbounded(path, body))
            .await
            .unwrap_or_else(|_| {
                Err(LoginError::Network {
                    url: self.url.clone(),
                    message: format!("no complete answer within {} s", limit.as_secs()),
                })
            })
    }

    async fn post_unbounded(&self, path: &str, body: &Value) -> Result<Value, LoginError> {
        let network = |message: String| LoginError::Network {
            url: self.url.clone(),
            message,
        };
        let response = self
            .crab
            ._post(path, Some(body))
            .await
            .map_err(|error| network(error.to_string()))?;
        let status = response.status();
        // A device-flow answer is a few hundred bytes; anything past 1 MiB is not one.
        let bytes = http_body_util::Limited::new(response.into_body(), 1 << 20)
            .collect()
            .await
            .map_err(|error| network(error.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| LoginError::Decode {
            url: format!("{}{path}", self.url),
            message: format!(
                "HTTP {status}, not JSON: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(120)
                    .collect::<String>()
            ),
        })?;
        if !status.is_success() && value.get("error").is_none() {
            return Err(LoginError::Decode {
                url: format!("{}{path}", self.url),
                message: format!("HTTP {status}"),
            });
        }
        Ok(value)
    }

    /// Step 1: ask for a code to show.
    pub async fn start(&self, scopes: &[&str]) -> Result<DeviceCode, LoginError> {
        let value = self
            .post(
                "/login/device/code",
                &json!({"client_id": self.client_id, "scope": scopes.join(" ")}),
            )
            .await?;
        if let Some(code) = value.get("error").and_then(Value::as_str) {
            return Err(refusal(code, &value));
        }
        serde_json::from_value(value).map_err(|error| LoginError::Decode {
            url: format!("{}/login/device/code", self.url),
            message: error.to_string(),
        })
    }

    /// Step 2: poll until the code is entered, refused or expired. Waits the
    /// interval GitHub asks for, and longer when told to slow down.
    pub async fn finish(&self, code: &DeviceCode) -> Result<Token, LoginError> {
        let mut interval = Duration::from_secs(code.interval.max(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in);
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() > deadline {
                return Err(LoginError::Expired);
            }
            let body = json!({
                "client_id": self.client_id,
                "device_code": code.device_code,
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            });
            let value = self.post("/login/oauth/access_token", &body).await?;
            match value.get("error").and_then(Value::as_str) {
                None => {
                    let token = value
                        .get("access_token")
                        .and_then(Value::as_str)
                        .and_then(Token::new);
                    return token.ok_or_else(|| LoginError::Decode {
                        url: format!("{}/login/oauth/access_token", self.url),
                        message: "no access_token in the answer".to_string(),
                    });
                }
                Some("authorization_pending") => {}
                // The answer names the new interval; otherwise add the 5 s GitHub documents.
                Some("slow_down") => {
                    interval = value
                        .get("interval")
                        .and_then(Value::as_u64)
                        .map_or(interval + Duration::from_secs(5), Duration::from_secs);
                }
                Some(code) => return Err(refusal(code, &value)),
            }
        }
    }
}

fn refusal(code: &str, value: &Value) -> LoginError {
    match code {
        "expired_token" => LoginError::Expired,
        "access_denied" => LoginError::Denied,
        _ => LoginError::Refused {
            code: code.to_string(),
            description: value
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no description")
                .to_string(),
            hint: match code {
                "incorrect_client_credentials" | "unauthorized_client" => {
                    "; set [github] client_id (or TFPILOT_GITHUB_CLIENT_ID) to your OAuth app's client id"
                }
                "device_flow_disabled" => "; enable Device Flow in the OAuth app's settings",
                _ => "",
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls() {
        assert_eq!(web_url("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com"
        );
        assert_eq!(web_url("http://127.0.0.1:4010"), "http://127.0.0.1:4010");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let error = refusal(
            "incorrect_client_credentials",
            &json!({"error_description": "The client_id is not valid."}),
        );
        assert!(
            error.to_string().contains("TFPILOT_GITHUB_CLIENT_ID"),
            "{error}"
        );
        assert!(matches!(
            refusal("expired_token", &json!({})),
            LoginError::Expired
        ));
        assert!(matches!(
            refusal("access_denied", &json!({})),
            LoginError::Denied
        ));
    }
}
