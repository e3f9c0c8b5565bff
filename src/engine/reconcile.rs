//! Reconcile: bring every unfinished request up to date once. Meant for cron: it syncs, takes
//! over locks whose holders died, finds the runs of interrupted dispatches by their dispatch id,
//! and reports what it changed.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use super::guard::PendingEvent;
use super::sync::RunIndex;
use super::{Engine, EngineError, NotifyOptions, NotifyReport, new_id, repo_of};
use crate::domain::RunKind;
use crate::domain::operation::dispatch_pending;
use crate::domain::{Request, Status, derive_status, lock};
use crate::github::RepoId;
use crate::store::RequestLister;

/// How many requests are synced at once.
const PARALLEL_SYNCS: usize = 4;

#[derive(Debug, Clone, Serialize)]
pub struct ReconcileItem {
    pub id: String,
    pub status: Status,
    pub changes: Vec<String>,
    /// What reconcile could not finish and what to do about it.
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Requests in the store.
    pub requests: usize,
    /// Requests that needed a look (unfinished, locked, or with a run under way).
    pub examined: usize,
    pub changed: usize,
    pub locks_taken_over: usize,
    pub failed: usize,
    /// Only the requests with something to say.
    pub items: Vec<ReconcileItem>,
    /// What was posted to the chat webhook, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotifyReport>,
    /// What was emailed, when an SMTP server is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<NotifyReport>,
}

/// Whether reconcile (and the poller) should look at a request: anything not finished, a
/// lock, or a run that has not completed (a drift check or cleanup check after the end).
pub fn needs_attention(request: &Request) -> bool {
    !derive_status(request).is_terminal()
        || request.lock.is_some()
        || RunKind::ALL
            .iter()
            .filter_map(|kind| kind.of(request))
            .any(|run| !run.is_completed())
}

impl Engine {
    pub async fn reconcile(&self) -> Result<ReconcileReport, EngineError> {
        self.reconcile_notifying(None).await
    }

    /// Reconciles, then announces the transitions of every request (not only the ones this
    /// run changed: a dashboard may have synced a conclusion first).
    pub async fn reconcile_notifying(
        &self,
        notify: Option<&NotifyOptions>,
    ) -> Result<ReconcileReport, EngineError> {
        if let crate::domain::access::Decision::Denied { reason } =
            self.team.access.authorize_sync(&self.actor)
        {
            return Err(EngineError::denied(reason));
        }
        let mut lister = RequestLister::new(self.store.clone(), None);
        let (entries, _) = lister.refresh().await?;
        let mut report = ReconcileReport {
            requests: entries.len(),
            ..ReconcileReport::default()
        };
        let candidates: Vec<Request> = entries
            .iter()
            .filter_map(|entry| entry.outcome.as_ref().ok())
            .filter(|request| needs_attention(request))
            .map(|request| (**request).clone())
            .collect();
        report.examined = candidates.len();
        let index = self.index_runs(&candidates).await?;
        let index = &index;
        let items: Vec<(bool, ReconcileItem, Option<Request>)> = futures::stream::iter(candidates)
            .map(|request| async move { self.reconcile_one(request, index).await })
            .buffer_unordered(PARALLEL_SYNCS)
            .collect()
            .await;
        let mut synced: BTreeMap<String, Request> = BTreeMap::new();
        for (took_over, item, request) in items {
            if let Some(request) = request {
                synced.insert(request.id.clone(), request);
            }
            report.locks_taken_over += usize::from(took_over);
            report.changed += usize::from(!item.changes.is_empty());
            report.failed += usize::from(item.error.is_some());
            if !item.changes.is_empty() || !item.notes.is_empty() || item.error.is_some() {
                report.items.push(item);
            }
        }
        report.items.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(options) = notify {
            // The freshest version of each document that changed within the window: only
            // those can hold news, so the rest of a large store is not even copied.
            let mut recent: Vec<Request> = entries
                .iter()
                .filter_map(|entry| entry.outcome.as_deref().ok())
                .filter(|r| r.updated_at >= options.since && !synced.contains_key(&r.id))
                .cloned()
                .collect();
            recent.extend(synced.into_values());
            let announced = self.notify_transitions(&recent, options).await?;
            report.notifications = announced.chat;
            report.emails = announced.email;
        }
        Ok(report)
    }

    /// One listing of recent dispatched runs per repository, shared by every request in it.
    pub(super) async fn index_runs(&self, requests: &[Request]) -> Result<RunIndex, EngineError> {
        // Per repo: whether any of its requests has a pull request to look at.
        let mut repos: BTreeMap<String, (RepoId, bool)> = BTreeMap::new();
        for request in requests {
            if let Ok((repo, _)) = repo_of(request) {
                let has_pull = request.pr.as_deref().is_some_and(|pr| pr.number.is_some())
                    || request.cleanup_pr.as_deref().is_some_and(|pr| pr.is_open());
                let entry = repos
                    .entry(format!("{}/{}", repo.owner, repo.name))
                    .or_insert((repo, false));
                entry.1 |= has_pull;
            }
        }
        let mut index = RunIndex::default();
        for (repo, has_pull) in repos.values() {
            let page = self.github.list_dispatch_runs(repo, 1, 100).await?;
            index.add(repo, page.workflow_runs);
            if *has_pull {
                index.add_pulls(repo, self.github.list_pulls_by_update(repo, 100).await?);
            }
        }
        Ok(index)
    }

    async fn reconcile_one(
        &self,
        request: Request,
        index: &RunIndex,
    ) -> (bool, ReconcileItem, Option<Request>) {
        let id = request.id.clone();
        let mut item = ReconcileItem {
            id: id.clone(),
            status: derive_status(&request),
            changes: Vec::new(),
            notes: Vec::new(),
            error: None,
        };
        let mut took_over = false;
        let now = self.now();
        if request
            .lock
            .as_ref()
            .is_some_and(|l| lock::is_expired(l, now))
        {
            let mut cleared = None;
            let result = self
                .store
                .update_request(&id, now, |r| {
                    cleared = lock::clear_expired(r, now);
                    Ok(())
                })
                .await;
            match (result, cleared) {
                (Ok(_), Some(old)) => {
                    took_over = true;
                    let message = format!(
                        "took over the expired lock of {} ({})",
                        old.holder, old.operation
                    );
                    let event = PendingEvent::new("lock_expired", &message);
                    self.write_event(&id, now, &event, &new_id(), 0).await;
                    item.changes.push(message);
                }
                (Ok(_), None) => {}
                (Err(error), _) => item.error = Some(error.to_string()),
            }
        }
        let report = match self.sync_with(&id, index).await {
            Ok(report) => report,
            Err(error) => {
                item.error = Some(error.to_string());
                return (took_over, item, None);
            }
        };
        for kind in RunKind::ALL {
            if let Some(run) = kind.of(&report.request).filter(|run| dispatch_pending(run)) {
                item.notes.push(format!(
                    "the {} dispatch {} is not on GitHub; run `tfpilot {} {id}` to resume it",
                    kind.name(),
                    run.dispatch_id.as_deref().unwrap_or("?"),
                    kind.command(),
                ));
            }
        }
        item.status = report.status;
        item.changes.extend(report.changes);
        (took_over, item, Some(report.request))
    }
}
