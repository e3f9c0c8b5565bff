//! The background poller the TUI and `tfpilot watch` use: one scheduler for every unfinished
//! request. Each request's next sync comes from the pure interval policy; one conditional run
//! listing per repository per cycle serves every request in it; syncs run with bounded
//! concurrency; results go out over a channel; a rate limit backs everything off, and says so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::reconcile::needs_attention;
use super::{Engine, EngineError, SyncReport};
use crate::domain::{PollContext, PollDecision, PollIntervals, Request, Timestamp, next_poll};
use crate::github::GitHubError;
use crate::store::{ListedRequest, RequestLister};

#[derive(Debug, Clone)]
pub enum PollEvent {
    /// A request was synced (whether or not anything changed).
    Synced(Box<SyncReport>),
    Failed {
        id: String,
        error: String,
    },
    /// GitHub's rate limit was hit: polling pauses until about `until`.
    RateLimited {
        until: Option<Timestamp>,
    },
    /// Nothing left to follow: every watched request is finished.
    Idle,
    /// The listing as this machine's cache last saw it, sent once before the first `Listed` so
    /// a screen can draw at once (the store's LIST takes seconds on a big bucket). Not sent
    /// when `only` names the requests to follow.
    Cached(Arc<Vec<ListedRequest>>),
    /// The store was listed (once per idle interval, or when asked): every request, for
    /// screens that show them all. Not sent when `only` names the requests to follow.
    Listed(Arc<Vec<ListedRequest>>),
}

/// What a screen can ask of a running poller.
#[derive(Debug, Clone)]
pub enum Nudge {
    /// Sync this request at once (an operation just moved it) and keep it on the active interval.
    SyncSoon(Box<Request>),
    /// List the store now (the user asked for a refresh).
    ListNow,
}

/// How often a polling dashboard rewrites its list cache at most (`RequestLister`).
const CACHE_SAVE_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct PollerConfig {
    pub intervals: PollIntervals,
    /// Syncs in flight at once.
    pub concurrency: usize,
    /// Follow only these requests, and stop once they are all finished.
    pub only: Option<Vec<String>>,
    /// The terminal has focus (the TUI clears it when it loses focus: polling slows down).
    pub focused: Arc<AtomicBool>,
    /// Where the listing cache lives between processes (`None`: memory only).
    pub list_cache: Option<PathBuf>,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            intervals: PollIntervals::default(),
            concurrency: 4,
            only: None,
            focused: Arc::new(AtomicBool::new(true)),
            list_cache: None,
        }
    }
}

pub struct Poller {
    engine: Engine,
    config: PollerConfig,
    nudges: Option<mpsc::UnboundedReceiver<Nudge>>,
}

impl Poller {
    pub fn new(engine: Engine, config: PollerConfig) -> Self {
        Poller {
            engine,
            config,
            nudges: None,
        }
    }

    /// Takes nudges from a screen: follow a request now, or list the store now.
    pub fn with_nudges(mut self, nudges: mpsc::UnboundedReceiver<Nudge>) -> Self {
        self.nudges = Some(nudges);
        self
    }

    /// Polls until the receiver is dropped, or (with `only`) until everything is finished.
    pub async fn run(mut self, events: mpsc::Sender<PollEvent>) {
        let mut nudges = self.nudges.take();
        let mut lister =
            RequestLister::new(self.engine.store().clone(), self.config.list_cache.clone())
                .with_save_interval(CACHE_SAVE_INTERVAL);
        if !self.engine.may_write_store() {
            // A viewer's dashboard reads and derives; it writes nothing to the store.
            lister = lister.without_index_writes();
        }
        let mut watched: HashMap<String, Request> = HashMap::new();
        let mut due: HashMap<String, Instant> = HashMap::new();
        let mut listed_at: Option<Instant> = None;
        let idle = Duration::from_millis(self.config.intervals.idle_ms);
        if self.config.only.is_none()
            && let Some(cached) = lister.cached().await
            && events
                .send(PollEvent::Cached(Arc::new(cached)))
                .await
                .is_err()
        {
            return;
        }
        loop {
            if events.is_closed() {
                return;
            }
            // The store is listed once per idle interval, to find new requests; between
            // listings each sync brings back its own request's document.
            if listed_at.is_none_or(|at| at.elapsed() >= idle) {
                match lister.refresh().await {
                    Ok((entries, _)) => {
                        watched = entries
                            .iter()
                            .filter_map(|entry| entry.outcome.as_ref().ok())
                            .filter(|request| self.follows(request))
                            .map(|request| (request.id.clone(), (**request).clone()))
                            .collect();
                        listed_at = Some(Instant::now());
                        if self.config.only.is_none()
                            && events
                                .send(PollEvent::Listed(Arc::new(entries)))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                    Err(error) => {
                        let failed = PollEvent::Failed {
                            id: "*".into(),
                            error: error.to_string(),
                        };
                        if events.send(failed).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(idle).await;
                        continue;
                    }
                }
            }
            if watched.is_empty() {
                if self.config.only.is_some() {
                    let _ = events.send(PollEvent::Idle).await;
                    return;
                }
                wait_or_nudge(
                    Instant::now() + idle,
                    &mut nudges,
                    &mut watched,
                    &mut due,
                    &mut listed_at,
                    &|request: &Request| self.follows(request),
                )
                .await;
                continue;
            }
            due.retain(|id, _| watched.contains_key(id));
            let now = Instant::now();
            let ready: Vec<Request> = watched
                .values()
                .filter(|r| due.get(&r.id).is_none_or(|at| *at <= now))
                .cloned()
                .collect();
            if !ready.is_empty() && !self.cycle(ready, &mut watched, &mut due, &events).await {
                return;
            }
            let next = due.values().min().copied().unwrap_or(now + idle);
            // New requests show up within the idle interval even when nothing is due sooner.
            let listing = listed_at.map_or(now, |at| at + idle);
            wait_or_nudge(
                next.min(listing),
                &mut nudges,
                &mut watched,
                &mut due,
                &mut listed_at,
                &|request: &Request| self.follows(request),
            )
            .await;
        }
    }

    fn follows(&self, request: &Request) -> bool {
        match &self.config.only {
            Some(ids) => ids.contains(&request.id) && needs_attention(request),
            None => needs_attention(request),
        }
    }

    /// Syncs the due requests; `false` when the receiver is gone.
    async fn cycle(
        &self,
        ready: Vec<Request>,
        watched: &mut HashMap<String, Request>,
        due: &mut HashMap<String, Instant>,
        events: &mpsc::Sender<PollEvent>,
    ) -> bool {
        let index = match self.engine.index_runs(&ready).await {
            Ok(index) => index,
            Err(error) => return self.backoff(&ready, due, events, error).await,
        };
        let index = &index;
        let engine = &self.engine;
        let ids: Vec<String> = ready.iter().map(|r| r.id.clone()).collect();
        let results: Vec<(String, Result<SyncReport, EngineError>)> = futures::stream::iter(ids)
            .map(|id| async move {
                let result = engine.sync_with(&id, index).await;
                (id, result)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let focused = self.config.focused.load(Ordering::Relaxed);
        let mut limited = None;
        for (id, result) in results {
            let event = match result {
                Ok(report) => {
                    let context = PollContext {
                        watched: &[report.status],
                        focused,
                        rate_limited: false,
                    };
                    match next_poll(&self.config.intervals, context) {
                        PollDecision::After(wait) => {
                            due.insert(id.clone(), Instant::now() + wait);
                        }
                        PollDecision::Stop => {
                            due.remove(&id);
                        }
                    }
                    if self.follows(&report.request) {
                        watched.insert(id.clone(), report.request.clone());
                    } else {
                        watched.remove(&id);
                        due.remove(&id);
                    }
                    PollEvent::Synced(Box::new(report))
                }
                Err(EngineError::GitHub(error)) if error.is_rate_limited() => {
                    limited = Some(error);
                    continue;
                }
                Err(error) => {
                    let wait = Duration::from_millis(self.config.intervals.idle_ms);
                    due.insert(id.clone(), Instant::now() + wait);
                    PollEvent::Failed {
                        id,
                        error: error.to_string(),
                    }
                }
            };
            if events.send(event).await.is_err() {
                return false;
            }
        }
        match limited {
            Some(error) => {
                self.backoff(&ready, due, events, EngineError::GitHub(error))
                    .await
            }
            None => true,
        }
    }

    /// Pushes every due time back by the rate-limited interval (or reports a failure).
    async fn backoff(
        &self,
        ready: &[Request],
        due: &mut HashMap<String, Instant>,
        events: &mpsc::Sender<PollEvent>,
        error: EngineError,
    ) -> bool {
        let (wait, event) = match &error {
            EngineError::GitHub(GitHubError::RateLimited { reset_at, .. }) => (
                self.config.intervals.rate_limited_ms,
                PollEvent::RateLimited { until: *reset_at },
            ),
            other => (
                self.config.intervals.idle_ms,
                PollEvent::Failed {
                    id: "*".into(),
                    error: other.to_string(),
                },
            ),
        };
        let until = Instant::now() + Duration::from_millis(wait);
        for request in ready {
            due.insert(request.id.clone(), until);
        }
        events.send(event).await.is_ok()
    }
}

/// Sleeps until `deadline`, or until a nudge arrives (which it applies and returns).
async fn wait_or_nudge(
    deadline: Instant,
    nudges: &mut Option<mpsc::UnboundedReceiver<Nudge>>,
    watched: &mut HashMap<String, Request>,
    due: &mut HashMap<String, Instant>,
    listed_at: &mut Option<Instant>,
    follows: &(dyn Fn(&Request) -> bool + Sync),
) {
    let Some(receiver) = nudges.as_mut() else {
        tokio::time::sleep_until(deadline).await;
        return;
    };
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        nudge = receiver.recv() => match nudge {
            Some(Nudge::SyncSoon(request)) => {
                if follows(&request) {
                    due.insert(request.id.clone(), Instant::now());
                    watched.insert(request.id.clone(), *request);
                }
            }
            Some(Nudge::ListNow) => *listed_at = None,
            // The screen is gone: sleep out the deadline without it.
            None => *nudges = None,
        },
    }
}
