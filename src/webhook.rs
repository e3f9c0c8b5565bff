//! The chat adapter: posts a notification's JSON to an incoming webhook (Slack, or anything
//! that accepts Slack's payload: Mattermost, Rocket.Chat, Discord's `/slack` endpoint).
//!
//! A webhook URL is a secret (whoever has it can post to the channel), so it never appears in
//! logs or errors: only its scheme and host do.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use thiserror::Error;

/// How long one post may take before it counts as failed (and is retried later).
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum WebhookError {
    #[error(
        "the notification URL is not valid: {reason}; give an http(s) URL such as https://hooks.slack.com/services/…"
    )]
    InvalidUrl { reason: String },
    #[error("{endpoint} answered {status}: {body}")]
    Refused {
        endpoint: String,
        status: StatusCode,
        body: String,
    },
    #[error("posting to {endpoint} failed: {message}")]
    Transport { endpoint: String, message: String },
    #[error("{endpoint} did not answer within {}s", POST_TIMEOUT.as_secs())]
    Timeout { endpoint: String },
}

/// Where notifications go.
#[async_trait]
pub trait NoticeSink: Send + Sync {
    /// Posts one message; any answer but 2xx is an error.
    async fn post(&self, message: &Value) -> Result<(), WebhookError>;
    /// The destination without its secret part, for messages and logs.
    fn endpoint(&self) -> &str;
}

/// The HTTPS client of webhooks and the assistant: hyper over rustls, the stack octocrab
/// already brings.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting the system's root certificates, speaking HTTP/1 over TLS or plain HTTP.
pub fn https_client() -> Result<HttpsClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|error| format!("no TLS root certificates: {error}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

pub struct Webhook {
    uri: Uri,
    endpoint: String,
    client: HttpsClient,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(url: &str) -> Result<Self, WebhookError> {
        let uri: Uri = url.trim().parse().map_err(|_| WebhookError::InvalidUrl {
            reason: "it does not parse as a URL".into(),
        })?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "https" && scheme != "http" {
            return Err(WebhookError::InvalidUrl {
                reason: "it must start with https:// (or http:// on a private network)".into(),
            });
        }
        let Some(host) = uri.authority().map(|a| a.as_str().to_string()) else {
            return Err(WebhookError::InvalidUrl {
                reason: "it has no host".into(),
            });
        };
        // userinfo would be a secret too: show the host alone.
        let host = host.rsplit('@').next().unwrap_or(&host).to_string();
        let client = https_client().map_err(|message| WebhookError::Transport {
            endpoint: format!("{scheme}://{host}"),
            message,
        })?;
        Ok(Webhook {
            endpoint: format!("{scheme}://{host}/…"),
            uri,
            client,
        })
    }
}

#[async_trait]
impl NoticeSink for Webhook {
    async fn post(&self, message: &Value) -> Result<(), WebhookError> {
        let body = serde_json::to_vec(message).unwrap_or_default();
        let request = Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("tfpilot/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| WebhookError::Transport {
                endpoint: self.endpoint.clone(),
                message: error.to_string(),
            })?;
        let exchange =
            async {
                let response = self.client.request(request).await.map_err(|error| {
                    WebhookError::Transport {
                        endpoint: self.endpoint.clone(),
                        message: error.to_string(),
                    }
                })?;
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map(|collected| collected.to_bytes())
                    .unwrap_or_default();
                let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
                Err(WebhookError::Refused {
                    endpoint: self.endpoint.clone(),
                    status,
                    body: text,
                })
            };
        tokio::time::timeout(POST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(WebhookError::Timeout {
                    endpoint: self.endpoint.clone(),
                })
            })
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_path_never_shows() {
        let hook = Webhook::new("https://hooks.slack.com/services/T000/B000/SECRETTOKEN").unwrap();
        assert_eq!(hook.endpoint(), "https://hooks.slack.com/…");
        assert!(!format!("{hook:?}").contains("SECRET"));
        let with_user = Webhook::new("https://user:pass@chat.example.com/hook").unwrap();
        assert_eq!(with_user.endpoint(), "https://chat.example.com/…");
    }

    #[test]
    fn bad_urls_say_what_to_give() {
        let error = Webhook::new("hooks.slack.com/x").unwrap_err().to_string();
        assert!(error.contains("https://"), "{error}");
        let error = Webhook::new("ftp://x/y").unwrap_err().to_string();
        assert!(error.contains("must start with https://"), "{error}");
    }
}
