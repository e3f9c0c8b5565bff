//! Telling people: each transition (a plan, apply or destroy that concluded, drift found or
//! gone) is claimed in the store and then posted, so it is announced once however many
//! reconcilers run, and a post that failed is retried by the next one.

use std::sync::Arc;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::notify::{FAILED, SENT, notices, slack_message};
use crate::domain::{Request, Timestamp};
use crate::webhook::NoticeSink;

/// Where to post, and how far back a transition is still news.
#[derive(Clone)]
pub struct NotifyOptions {
    pub sink: Arc<dyn NoticeSink>,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NotifyReport {
    /// The destination without its secret part.
    pub endpoint: String,
    /// Transitions posted by this run, as `<request id>/<transition>`.
    pub sent: Vec<String>,
    /// Posts that failed; the next run retries them.
    pub failed: Vec<NotifyFailure>,
    /// Transitions someone else claimed or already sent.
    pub already: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotifyFailure {
    pub notice: String,
    pub error: String,
}

impl Engine {
    /// Announces the transitions of `requests` that happened since `options.since`.
    pub async fn notify_transitions(
        &self,
        requests: &[Request],
        options: &NotifyOptions,
    ) -> Result<NotifyReport, EngineError> {
        let mut report = NotifyReport {
            endpoint: options.sink.endpoint().to_string(),
            ..NotifyReport::default()
        };
        // A transition updates the document, so older documents hold no news.
        for request in requests.iter().filter(|r| r.updated_at >= options.since) {
            for notice in notices(request, options.since) {
                let name = format!("{}/{}", notice.request_id, notice.key);
                let Some(held) = self
                    .store
                    .claim_notice(&notice, &self.holder, self.now())
                    .await?
                else {
                    report.already += 1;
                    continue;
                };
                match options.sink.post(&slack_message(&notice)).await {
                    Ok(()) => {
                        self.store
                            .settle_notice(&held, SENT, None, self.now())
                            .await?;
                        tracing::info!(notice = %name, endpoint = %report.endpoint, "notification sent");
                        report.sent.push(name);
                    }
                    Err(error) => {
                        let message = error.to_string();
                        tracing::warn!(notice = %name, error = %message, "notification failed");
                        self.store
                            .settle_notice(&held, FAILED, Some(message.clone()), self.now())
                            .await?;
                        report.failed.push(NotifyFailure {
                            notice: name,
                            error: message,
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}
