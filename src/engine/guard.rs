//! The frame around every mutation of an existing request: take the lock (or replay, or say
//! it is done already), keep the lock alive while the effect runs, persist each step under the
//! lock, and finish with the outcome, the events and the release, on every path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{Engine, EngineError, OpOutcome, OpResult, new_id, stored_outcome};
use crate::domain::access::Subject;
use crate::domain::lock::{self, Acquired, HeldBy};
use crate::domain::operation::{Operation, Readiness, readiness};
use crate::domain::request::IdempotencyEntry;
use crate::domain::{LifecycleEvent, Request, Timestamp};
use crate::store::{StoreError, Versioned};

/// An event to write when the operation finishes, kept in the idempotency outcome so a
/// replay can write it again if the first writer died in between (the key makes it once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Who caused it, when not the one recording it (a run's conclusion is the dispatcher's,
    /// whoever syncs it); the recorder is kept as `recorded_by` in the event's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl PendingEvent {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        PendingEvent {
            kind: kind.to_string(),
            message: message.into(),
            data: Value::Null,
            actor: None,
        }
    }

    /// Credits the event to `login`.
    pub fn by(mut self, login: &str) -> Self {
        self.actor = Some(login.to_string());
        self
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// What the locked part of an operation reports when it succeeded.
pub struct Finish {
    pub message: String,
    pub events: Vec<PendingEvent>,
}

/// The lock, held. Dropping it stops the heartbeat; [`Engine::end`] releases it.
pub struct Held {
    pub id: String,
    pub operation: Operation,
    pub key: String,
    token: String,
    lost: Arc<AtomicBool>,
    heartbeat: JoinHandle<()>,
    /// The document as this holder last wrote it: the next step starts from it instead of
    /// reading it again (a heartbeat in between costs one refused write and a re-read).
    last: std::sync::Mutex<Option<Versioned<Request>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// The frame of a mutation: `begin` (access, readiness, lock or an early answer), the locked
/// body `$engine.$body(&held, request, ...)`, then `end` (outcome, release, events).
macro_rules! locked {
    ($engine:ident, $id:expr, $operation:expr, $key:expr, $body:ident $(, $arg:expr)*) => {{
        let (held, request) = match $engine.begin($id, $operation, $key).await? {
            $crate::engine::guard::Begun::Held(held, request) => (held, request),
            $crate::engine::guard::Begun::Early(outcome) => return Ok(outcome),
        };
        let result = $engine.$body(&held, request $(, $arg)*).await;
        $engine.end(held, result).await
    }};
}
pub(super) use locked;

pub enum Begun {
    Held(Box<Held>, Request),
    Early(OpOutcome),
}

impl Engine {
    /// Decides, then takes the lock in one conditional write of the document. A replay, a
    /// "done already" and a refusal are decided on the same fresh read and write nothing.
    pub(super) async fn begin(
        &self,
        id: &str,
        operation: Operation,
        key: Option<&str>,
    ) -> Result<Begun, EngineError> {
        let current = self.store.get_request(id).await?;
        self.require(operation, Subject::of(&current.value))?;
        let key = key.map(str::to_string).unwrap_or_else(new_id);
        let token = new_id();
        let now = self.now();
        let window = self.settings.idempotency_window_seconds;
        enum Early {
            Replay(IdempotencyEntry),
            Done(String),
            Refused(String),
            Locked(HeldBy),
            TookOver(crate::domain::request::Lock),
        }
        let mut early: Option<Early> = None;
        let stored = self
            .store
            .update_request_from(id, Some(current), now, |request| {
                early = None;
                if let Some(entry) = request.idempotency.get(operation.as_str())
                    && entry.key == key
                    && now.seconds_since(entry.at) < window
                {
                    early = Some(Early::Replay(entry.clone()));
                    return Ok(());
                }
                match readiness(operation, request) {
                    Readiness::Ready => {}
                    Readiness::AlreadyDone(why) => {
                        early = Some(Early::Done(why));
                        return Ok(());
                    }
                    Readiness::NotReady(why) => {
                        early = Some(Early::Refused(why));
                        return Ok(());
                    }
                }
                match lock::acquire(
                    request,
                    &self.holder,
                    &token,
                    operation.as_str(),
                    now,
                    self.settings.lock_ttl_seconds,
                ) {
                    Ok(Acquired::Fresh) => {}
                    Ok(Acquired::TookOver(old)) => early = Some(Early::TookOver(old)),
                    Err(held) => early = Some(Early::Locked(held)),
                }
                Ok(())
            })
            .await?;
        let request = stored.value.clone();
        match early {
            Some(Early::Replay(entry)) => {
                self.rewrite_events(&request.id, operation, &entry).await;
                let message = entry
                    .outcome
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("done")
                    .to_string();
                return Ok(Begun::Early(OpOutcome {
                    operation,
                    result: OpResult::Replayed,
                    message,
                    request,
                }));
            }
            Some(Early::Done(why)) => {
                return Ok(Begun::Early(OpOutcome {
                    operation,
                    result: OpResult::AlreadyDone,
                    message: why,
                    request,
                }));
            }
            Some(Early::Refused(why)) => return Err(EngineError::denied(why)),
            Some(Early::Locked(held)) => return Err(EngineError::Locked { held }),
            Some(Early::TookOver(old)) => {
                tracing::warn!(request = id, previous = %old.holder, operation = %old.operation,
                    "took over an expired lock");
                let message = format!(
                    "{} took over the expired lock of {} ({})",
                    self.holder, old.holder, old.operation
                );
                let event = PendingEvent::new("lock_expired", message);
                self.write_event(id, now, &event, &token, 0).await;
            }
            None => {}
        }
        let held = self.hold(stored, operation, key, token);
        Ok(Begun::Held(Box::new(held), request))
    }

    /// Starts the heartbeat for a lock just taken (`stored` is the document that took it).
    pub(super) fn hold(
        &self,
        stored: Versioned<Request>,
        operation: Operation,
        key: String,
        token: String,
    ) -> Held {
        let id = stored.value.id.clone();
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (store, clock, lost) = (self.store.clone(), self.clock.clone(), lost.clone());
            let (id, token) = (id.clone(), token.clone());
            let (every, ttl) = (self.settings.heartbeat, self.settings.lock_ttl_seconds);
            tokio::spawn(async move {
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    ticker.tick().await;
                    let now = clock.now();
                    match store
                        .update_request(&id, now, |r| lock::renew(r, &token, now, ttl))
                        .await
                    {
                        Ok(_) => tracing::debug!(request = %id, "lock renewed"),
                        Err(StoreError::Rejected { reason, .. }) => {
                            tracing::error!(request = %id, %reason, "lock lost");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // A failed renewal is retried at the next beat; the TTL leaves room.
                        Err(error) => tracing::warn!(request = %id, %error, "lock renewal failed"),
                    }
                }
            })
        };
        Held {
            id,
            operation,
            key,
            token,
            lost,
            heartbeat,
            last: std::sync::Mutex::new(Some(stored)),
        }
    }

    /// Applies `mutate` to the document, only while this lock is still held.
    pub(super) async fn persist<F>(&self, held: &Held, mutate: F) -> Result<Request, EngineError>
    where
        F: FnMut(&mut Request) + Send,
    {
        self.persist_unless(held, |_| false, mutate).await
    }

    /// [`Engine::persist`], except that a document for which `landed` holds already carries
    /// this write: it is accepted as done even when the lock has moved on. That happens when the
    /// write that released the lock landed, its answer was lost, and another process took the
    /// free lock before the retry could see its own bytes.
    async fn persist_unless<F, L>(
        &self,
        held: &Held,
        landed: L,
        mut mutate: F,
    ) -> Result<Request, EngineError>
    where
        F: FnMut(&mut Request) + Send,
        L: Fn(&Request) -> bool + Send + Sync,
    {
        if held.lost.load(Ordering::SeqCst) {
            return Err(lock_lost(held));
        }
        let token = held.token.clone();
        let known = held.last.lock().unwrap_or_else(|p| p.into_inner()).take();
        let result = self
            .store
            .update_request_from(&held.id, known, self.now(), |request| {
                if request.lock.as_deref().and_then(|l| l.token.as_deref()) != Some(token.as_str())
                {
                    if landed(request) {
                        return Ok(());
                    }
                    return Err("lock lost".to_string());
                }
                mutate(request);
                Ok(())
            })
            .await;
        match result {
            Ok(stored) => {
                let value = stored.value.clone();
                *held.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(stored);
                Ok(value)
            }
            Err(StoreError::Rejected { .. }) => Err(lock_lost(held)),
            Err(error) => Err(error.into()),
        }
    }

    /// Ends a locked operation: on success writes the events, then records the outcome under its
    /// key and releases the lock; on failure releases the lock and returns the error.
    pub(super) async fn end(
        &self,
        held: Box<Held>,
        result: Result<Finish, EngineError>,
    ) -> Result<OpOutcome, EngineError> {
        let finish = match result {
            Ok(finish) => finish,
            Err(error) => {
                self.release(&held).await;
                return Err(error);
            }
        };
        // Whole seconds, as the document keeps it: the events' keys come from this instant, and
        // a replay rebuilds them from the stored outcome.
        let now = self.now().whole_seconds();
        let entry = IdempotencyEntry {
            key: held.key.clone(),
            at: now,
            outcome: stored_outcome(&finish.message, &finish.events),
        };
        let operation = held.operation;
        // Events first, then the outcome: a process that dies in between leaves the effect and
        // its events recorded, and a retry finds the work done (its lock expires on its own).
        // The keys come from the operation, its key and this instant, which the outcome keeps,
        // so a replay that writes them again finds them there.
        self.rewrite_events(&held.id, operation, &entry).await;
        let recorded = |request: &Request| {
            request
                .idempotency
                .get(operation.as_str())
                .is_some_and(|done| done.key == entry.key && done.at == entry.at)
        };
        let request = self
            .persist_unless(&held, recorded, |request| {
                request
                    .idempotency
                    .insert(operation.as_str().to_string(), entry.clone());
                lock::release(request, &held.token);
                // The operation checked the facts it needed with GitHub.
                request.contradiction = None;
                let status = crate::domain::derive_status(request).as_str().to_string();
                if request.status.as_deref() != Some(status.as_str()) {
                    request.status = Some(status);
                    request.status_derived_at = Some(now);
                }
            })
            .await?;
        Ok(OpOutcome {
            operation,
            result: OpResult::Done,
            message: finish.message,
            request,
        })
    }

    /// Best effort: if this fails the lock expires on its own within the TTL.
    pub(super) async fn release(&self, held: &Held) {
        let token = held.token.clone();
        let result = self
            .store
            .update_request(&held.id, self.now(), |request| {
                lock::release(request, &token);
                Ok(())
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(request = %held.id, %error, "could not release the lock; it expires on its own");
        }
    }

    /// Writes the events an outcome lists, once each (their keys come from the outcome).
    async fn rewrite_events(&self, id: &str, operation: Operation, entry: &IdempotencyEntry) {
        let events: Vec<PendingEvent> = entry
            .outcome
            .get("events")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        for (sequence, event) in events.iter().enumerate() {
            let discriminator = format!("{operation}-{}", entry.key);
            self.write_event(id, entry.at, event, &discriminator, sequence)
                .await;
        }
    }

    /// Writes the events a sync learned of, each once, in the order they were found (the
    /// sequence orders those that share a time).
    pub(super) async fn write_timed_events(&self, id: &str, events: &[super::fold::TimedEvent]) {
        for (sequence, timed) in events.iter().enumerate() {
            self.write_event(id, timed.at, &timed.event, &timed.discriminator, sequence)
                .await;
        }
    }

    /// Writes one lifecycle event exactly once for `discriminator`. A store that is failing
    /// (not refusing) is asked again a few times: nothing else would write the event later.
    /// One that still cannot be written is logged, not fatal: the document holds the facts, and
    /// the outcome keeps the event, so a replay with the same key writes it.
    pub(super) async fn write_event(
        &self,
        id: &str,
        at: Timestamp,
        event: &PendingEvent,
        discriminator: &str,
        sequence: usize,
    ) {
        let actor = event.actor.as_deref().unwrap_or(&self.actor);
        let mut record = LifecycleEvent::new(id, at, &event.kind, actor)
            .with_message(&event.message)
            .with_correlation_id(&self.correlation_id);
        record.sequence = u32::try_from(sequence).ok();
        record.data = event.data.clone();
        if !actor.eq_ignore_ascii_case(&self.actor) {
            match &mut record.data {
                Value::Object(fields) => {
                    fields.insert("recorded_by".into(), Value::String(self.actor.clone()));
                }
                Value::Null => record.data = serde_json::json!({"recorded_by": self.actor}),
                _ => {}
            }
        }
        let mut pauses = EVENT_RETRY_PAUSES.iter();
        loop {
            let error = match self.store.record_event(&record, discriminator).await {
                Ok(_) => return,
                Err(error) => error,
            };
            match pauses.next() {
                Some(pause) if error.is_transient() => {
                    tracing::warn!(request = id, kind = %event.kind, %error, "writing a lifecycle event failed; trying again");
                    tokio::time::sleep(*pause).await;
                }
                _ => {
                    tracing::error!(request = id, kind = %event.kind, %error, "could not write a lifecycle event");
                    return;
                }
            }
        }
    }
}

/// Pauses before asking a failing store again to write an event, on top of the S3 SDK's own
/// three attempts (its writes are create-only, so a repeat of one that landed changes nothing).
const EVENT_RETRY_PAUSES: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(1),
];

fn lock_lost(held: &Held) -> EngineError {
    EngineError::conflict(format!(
        "lost the lock on {} while running {} (it expired and was taken over); check the request with `tfpilot show {}` before retrying",
        held.id, held.operation, held.id
    ))
}
