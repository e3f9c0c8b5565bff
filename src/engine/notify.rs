//! Telling people: each transition (a plan, apply or destroy that concluded, drift found or
//! gone) is claimed in the request document with a conditional write, then posted to the chat
//! or emailed. It is announced once per channel however many reconcilers run, a delivery that
//! failed is retried by the next run, and an announced transition costs no store request on
//! later runs (the claim is in the document the run already read).

use std::sync::Arc;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::notify::{CLAIMED, FAILED, Notice, NoticeClaim, SENT, notices, slack_message};
use crate::domain::notify_email::{EMAIL_CLAIM_PREFIX, email_notice};
use crate::domain::{Request, Timestamp};
use crate::email::MailSink;
use crate::store::StoreError;
use crate::webhook::NoticeSink;

/// Where to announce, and how far back a transition is still news. Each channel claims and
/// retries a transition on its own.
#[derive(Clone)]
pub struct NotifyOptions {
    pub chat: Option<Arc<dyn NoticeSink>>,
    pub email: Option<Arc<dyn MailSink>>,
    pub since: Timestamp,
}

/// What one run announced, per channel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotifyReports {
    pub chat: Option<NotifyReport>,
    pub email: Option<NotifyReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NotifyReport {
    /// The destination without its secret part.
    pub endpoint: String,
    /// Transitions announced by this run, as `<request id>/<transition>`.
    pub sent: Vec<String>,
    /// Deliveries that failed; the next run retries them.
    pub failed: Vec<NotifyFailure>,
    /// Transitions someone else claimed or already announced.
    pub already: usize,
    /// Transitions nobody was to hear of on this channel (email: no address for the
    /// requester and no list for the environment in `config/notify.json`).
    pub unaddressed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotifyFailure {
    pub notice: String,
    pub error: String,
}

/// The channel one pass announces on.
enum Delivery<'a> {
    Chat(&'a dyn NoticeSink),
    Email(&'a dyn MailSink),
}

impl Engine {
    /// Announces the transitions of `requests` that happened since `options.since`, on each
    /// channel of `options`.
    pub async fn notify_transitions(
        &self,
        requests: &[Request],
        options: &NotifyOptions,
    ) -> Result<NotifyReports, EngineError> {
        let mut reports = NotifyReports::default();
        if let Some(chat) = &options.chat {
            reports.chat = Some(
                self.announce(requests, options.since, Delivery::Chat(chat.as_ref()))
                    .await?,
            );
        }
        if let Some(email) = &options.email {
            reports.email = Some(
                self.announce(requests, options.since, Delivery::Email(email.as_ref()))
                    .await?,
            );
        }
        Ok(reports)
    }

    async fn announce(
        &self,
        requests: &[Request],
        since: Timestamp,
        delivery: Delivery<'_>,
    ) -> Result<NotifyReport, EngineError> {
        let (endpoint, prefix) = match &delivery {
            Delivery::Chat(sink) => (sink.endpoint(), ""),
            Delivery::Email(sink) => (sink.endpoint(), EMAIL_CLAIM_PREFIX),
        };
        let mut report = NotifyReport {
            endpoint: endpoint.to_string(),
            ..NotifyReport::default()
        };
        // A transition updates the document, so older documents hold no news.
        for request in requests.iter().filter(|r| r.updated_at >= since) {
            for notice in notices(request, since) {
                let key = format!("{prefix}{}", notice.key);
                let name = format!("{}/{}", notice.request_id, notice.key);
                let seen = request.notifications.get(&key);
                if seen.is_some_and(|claim| !claim.may_take_over(self.now())) {
                    report.already += 1;
                    continue;
                }
                let recipients = match &delivery {
                    Delivery::Chat(_) => Vec::new(),
                    Delivery::Email(_) => self.team.email.recipients(&notice, request),
                };
                if matches!(delivery, Delivery::Email(_)) && recipients.is_empty() {
                    report.unaddressed += 1;
                    continue;
                }
                let Some(claim) = self.claim(&notice, &key).await? else {
                    report.already += 1;
                    continue;
                };
                let outcome = match &delivery {
                    Delivery::Chat(sink) => sink
                        .post(&slack_message(&notice))
                        .await
                        .map_err(|error| error.to_string()),
                    Delivery::Email(sink) => sink
                        .send(&email_notice(&notice, request, recipients))
                        .await
                        .map_err(|error| error.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        self.settle(&notice, &key, &claim, SENT, None).await?;
                        tracing::info!(notice = %name, endpoint = %report.endpoint, "notification sent");
                        report.sent.push(name);
                    }
                    Err(message) => {
                        tracing::warn!(notice = %name, endpoint = %report.endpoint, error = %message, "notification failed");
                        self.settle(&notice, &key, &claim, FAILED, Some(message.clone()))
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
    async fn claim(&self, notice: &Notice, key: &str) -> Result<Option<NoticeClaim>, EngineError> {
        let now = self.now();
        let mut claimed = None;
        let result = self
            .store
            .update_request(&notice.request_id, now, |request| {
                claimed = None;
                let existing = request.notifications.get(key);
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
                request.notifications.insert(key.to_string(), claim.clone());
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
        key: &str,
        claim: &NoticeClaim,
        state: &str,
        error: Option<String>,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let result = self
            .store
            .update_request(&notice.request_id, now, |request| {
                // `by` names this process; nobody else settles its claim.
                if let Some(held) = request.notifications.get_mut(key)
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
