//! Telling people: each transition (a plan, apply or destroy that concluded, drift found or
//! gone) is claimed in the request document with a conditional write, then posted. It is
//! announced once however many reconcilers run, a post that failed is retried by the next
//! run, and an announced transition costs no store request on later runs (the claim is in
//! the document the run already read).

use std::sync::Arc;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::notify::{CLAIMED, FAILED, Notice, NoticeClaim, SENT, notices, slack_message};
use crate::domain::{Request, Timestamp};
use crate::store::StoreError;
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
                let seen = request.notifications.get(&notice.key);
                if seen.is_some_and(|claim| !claim.may_take_over(self.now())) {
                    report.already += 1;
                    continue;
                }
                let Some(claim) = self.claim(&notice).await? else {
                    report.already += 1;
                    continue;
                };
                match options.sink.post(&slack_message(&notice)).await {
                    Ok(()) => {
                        self.settle(&notice, &claim, SENT, None).await?;
                        tracing::info!(notice = %name, endpoint = %report.endpoint, "notification sent");
                        report.sent.push(name);
                    }
                    Err(error) => {
                        let message = error.to_string();
                        tracing::warn!(notice = %name, error = %message, "notification failed");
                        self.settle(&notice, &claim, FAILED, Some(message.clone()))
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

    /// Adds this process's claim to the document, unless someone holds or sent it; the
    /// conditional write makes one of two racing reconcilers win.
    async fn claim(&self, notice: &Notice) -> Result<Option<NoticeClaim>, EngineError> {
        let now = self.now();
        let mut claimed = None;
        let result = self
            .store
            .update_request(&notice.request_id, now, |request| {
                claimed = None;
                let existing = request.notifications.get(&notice.key);
                if existing.is_some_and(|claim| !claim.may_take_over(now)) {
                    return Ok(());
                }
                let claim = NoticeClaim {
                    state: CLAIMED.into(),
                    by: self.holder.clone(),
                    at: now,
                    attempts: existing.map_or(1, |claim| claim.attempts + 1),
                    error: None,
                };
                request
                    .notifications
                    .insert(notice.key.clone(), claim.clone());
                claimed = Some(claim);
                Ok(())
            })
            .await;
        match result {
            Ok(_) => Ok(claimed),
            // Archived meanwhile: nobody to tell about it any more.
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Records how the post went, if the claim is still this process's.
    async fn settle(
        &self,
        notice: &Notice,
        claim: &NoticeClaim,
        state: &str,
        error: Option<String>,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let result = self
            .store
            .update_request(&notice.request_id, now, |request| {
                // `by` names this process; nobody else settles its claim.
                if let Some(held) = request.notifications.get_mut(&notice.key)
                    && held.by == claim.by
                    && held.state == CLAIMED
                {
                    held.state = state.to_string();
                    held.at = now;
                    held.error = error.clone();
                }
                Ok(())
            })
            .await;
        match result {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}
