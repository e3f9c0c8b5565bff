//! The assistant adapter: one call to an OpenAI-compatible chat-completions endpoint (OpenAI,
//! Azure OpenAI, Ollama, llama.cpp's server, vLLM), bounded in time and size.
//!
//! The API key is held in [`ApiKey`], whose `Debug` hides it; errors and logs show only the
//! endpoint's scheme and host.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};
use thiserror::Error;

/// The largest answer read from the endpoint.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum AssistantError {
    #[error(
        "the assistant URL is not valid: {reason}; give the API's base, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama)"
    )]
    InvalidUrl { reason: String },
    #[error("the assistant at {endpoint} could not be reached: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error(
        "the assistant at {endpoint} did not answer within {seconds}s; try again, or raise [assistant] timeout_secs"
    )]
    Timeout { endpoint: String, seconds: u64 },
    #[error("the assistant at {endpoint} answered {status}: {body}{hint}")]
    Refused {
        endpoint: String,
        status: StatusCode,
        body: String,
        hint: &'static str,
    },
    #[error("the assistant at {endpoint} answered something tfpilot cannot read: {reason}")]
    BadAnswer { endpoint: String, reason: String },
}

/// An API key. Never printed: `Debug` shows `ApiKey(***)` and there is no `Display`.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(text: &str) -> Option<Self> {
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| Self(trimmed.to_string()))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// What the model answered.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatReply {
    /// A call of one tool; `message` is the assistant message to send back with its result.
    ToolCall {
        message: Value,
        id: String,
        name: String,
        arguments: String,
    },
    /// Words instead of a tool call.
    Text { message: Value, text: String },
}

/// A chat model that can call tools.
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn complete(
        &self,
        messages: &[Value],
        tools: &[Value],
    ) -> Result<ChatReply, AssistantError>;
    /// The endpoint's scheme and host, for messages and the kept conversation.
    fn endpoint(&self) -> &str;
    fn model(&self) -> &str;
}

pub struct OpenAiChat {
    uri: Uri,
    endpoint: String,
    model: String,
    key: Option<ApiKey>,
    azure: bool,
    timeout: Duration,
    client: crate::webhook::HttpsClient,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiChat {
    /// `url` is the API's base (`…/v1`) or the full `…/chat/completions` address (Azure's,
    /// with its `api-version`).
    pub fn new(
        url: &str,
        model: &str,
        key: Option<ApiKey>,
        timeout: Duration,
    ) -> Result<Self, AssistantError> {
        let invalid = |reason: &str| AssistantError::InvalidUrl {
            reason: reason.to_string(),
        };
        let url = url.trim();
        let (path_part, query) = url.split_once('?').unwrap_or((url, ""));
        let path_part = path_part.trim_end_matches('/');
        let full = if path_part.ends_with("/chat/completions") {
            path_part.to_string()
        } else {
            format!("{path_part}/chat/completions")
        };
        let full = if query.is_empty() {
            full
        } else {
            format!("{full}?{query}")
        };
        let uri: Uri = full
            .parse()
            .map_err(|_| invalid("it does not parse as a URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default().to_string();
        if scheme != "https" && scheme != "http" {
            return Err(invalid(
                "it must start with https:// (or http:// for a local server)",
            ));
        }
        let host = uri
            .authority()
            .map(|a| {
                a.as_str()
                    .rsplit('@')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("it has no host"))?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(invalid(
                "it holds credentials; give the key in TFPILOT_ASSISTANT_API_KEY or keep it with `tfpilot login --assistant`",
            ));
        }
        if model.trim().is_empty() {
            return Err(AssistantError::InvalidUrl {
                reason: "no model is named: set [assistant] model".into(),
            });
        }
        let endpoint = format!("{scheme}://{host}");
        let client =
            crate::webhook::https_client().map_err(|message| AssistantError::Unreachable {
                endpoint: endpoint.clone(),
                message,
            })?;
        let host_name = host.split(':').next().unwrap_or_default();
        Ok(OpenAiChat {
            azure: host_name.ends_with(".openai.azure.com")
                || host_name.ends_with(".cognitiveservices.azure.com"),
            uri,
            endpoint,
            model: model.trim().to_string(),
            key,
            timeout,
            client,
        })
    }

    fn request(&self, body: Vec<u8>) -> Result<Request<Full<Bytes>>, AssistantError> {
        let mut request = Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("tfpilot/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(key) = &self.key {
            request = if self.azure {
                request.header("api-key", &key.0)
            } else {
                request.header(http::header::AUTHORIZATION, format!("Bearer {}", key.0))
            };
        }
        request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| AssistantError::Unreachable {
                endpoint: self.endpoint.clone(),
                message: error.to_string(),
            })
    }

    async fn exchange(&self, body: Vec<u8>) -> Result<Value, AssistantError> {
        let response = self
            .client
            .request(self.request(body)?)
            .await
            .map_err(|error| AssistantError::Unreachable {
                endpoint: self.endpoint.clone(),
                message: describe_transport(&error),
            })?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|error| AssistantError::BadAnswer {
                endpoint: self.endpoint.clone(),
                reason: format!("the answer could not be read ({error})"),
            })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            // OpenAI-style servers put the reason in error.message.
            let reason = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(AssistantError::Refused {
                endpoint: self.endpoint.clone(),
                status,
                body: crate::domain::untrusted::for_terminal(&reason).into_owned(),
                hint: match status {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        " (check the key: TFPILOT_ASSISTANT_API_KEY or `tfpilot login --assistant`)"
                    }
                    StatusCode::NOT_FOUND => " (check [assistant] url and model)",
                    StatusCode::TOO_MANY_REQUESTS => " (rate limited: try again in a moment)",
                    _ => "",
                },
            });
        }
        serde_json::from_slice(&bytes).map_err(|error| AssistantError::BadAnswer {
            endpoint: self.endpoint.clone(),
            reason: format!("not JSON ({error})"),
        })
    }
}

fn describe_transport(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[async_trait]
impl ChatModel for OpenAiChat {
    async fn complete(
        &self,
        messages: &[Value],
        tools: &[Value],
    ) -> Result<ChatReply, AssistantError> {
        let body = json!({
            "model": self.model,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = tokio::time::timeout(self.timeout, self.exchange(body))
            .await
            .map_err(|_| AssistantError::Timeout {
                endpoint: self.endpoint.clone(),
                seconds: self.timeout.as_secs(),
            })??;
        read_reply(&answer).map_err(|reason| AssistantError::BadAnswer {
            endpoint: self.endpoint.clone(),
            reason,
        })
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn model(&self) -> &str {
        &self.model
    }
}

/// The first choice's tool call, or its words.
pub fn read_reply(answer: &Value) -> Result<ChatReply, String> {
    let message = answer["choices"][0]["message"].clone();
    if !message.is_object() {
        return Err("it holds no choices[0].message".into());
    }
    if let Some(call) = message["tool_calls"]
        .as_array()
        .and_then(|calls| calls.first())
    {
        let name = call["function"]["name"]
            .as_str()
            .ok_or("its tool call names no function")?
            .to_string();
        // The protocol says a JSON string; some local servers send the object itself.
        let arguments = match &call["function"]["arguments"] {
            Value::String(text) => text.clone(),
            Value::Null => "{}".to_string(),
            other => other.to_string(),
        };
        let id = call["id"].as_str().unwrap_or("call_0").to_string();
        let mut message = message.clone();
        // Only the call answered is sent back: one tool result per call.
        message["tool_calls"] = json!([call]);
        return Ok(ChatReply::ToolCall {
            message,
            id,
            name,
            arguments,
        });
    }
    let text = message["content"].as_str().unwrap_or_default().to_string();
    Ok(ChatReply::Text { message, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_call_is_read_with_its_arguments_as_text() {
        let answer = json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "propose_s3-bucket", "arguments": "{\"project\":\"p\"}"}}]}}]});
        let ChatReply::ToolCall {
            id,
            name,
            arguments,
            ..
        } = read_reply(&answer).unwrap()
        else {
            panic!("a tool call");
        };
        assert_eq!(
            (id.as_str(), name.as_str()),
            ("call_1", "propose_s3-bucket")
        );
        assert_eq!(arguments, "{\"project\":\"p\"}");
        let object = json!({"choices": [{"message": {"role": "assistant",
            "tool_calls": [{"function": {"name": "x", "arguments": {"a": 1}}}]}}]});
        let ChatReply::ToolCall { arguments, .. } = read_reply(&object).unwrap() else {
            panic!("a tool call");
        };
        assert_eq!(arguments, "{\"a\":1}");
        let words =
            json!({"choices": [{"message": {"role": "assistant", "content": "Which region?"}}]});
        assert_eq!(
            read_reply(&words).unwrap(),
            ChatReply::Text {
                message: words["choices"][0]["message"].clone(),
                text: "Which region?".into()
            }
        );
        assert!(read_reply(&json!({"error": "x"})).is_err());
    }

    #[test]
    fn urls_and_keys_are_checked_and_keys_never_shown() {
        let key = ApiKey::new(" sk-test-123 ").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        let chat = OpenAiChat::new(
            "http://localhost:11434/v1/",
            "llama3.1",
            Some(key),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            chat.uri.to_string(),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(chat.endpoint(), "http://localhost:11434");
        assert!(!format!("{chat:?}").contains("sk-test"));
        let azure = OpenAiChat::new(
            "https://acme.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21",
            "gpt",
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(azure.azure);
        assert!(
            azure
                .uri
                .to_string()
                .ends_with("/chat/completions?api-version=2024-10-21")
        );
        for (url, model, expected) in [
            ("ftp://x", "m", "https://"),
            ("https://user:pw@api.example/v1", "m", "credentials"),
            ("https://api.example/v1", " ", "no model"),
        ] {
            let error = OpenAiChat::new(url, model, None, Duration::from_secs(1)).unwrap_err();
            assert!(error.to_string().contains(expected), "{url}: {error}");
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
    }
}
