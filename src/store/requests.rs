//! Typed operations over any [`ObjectStore`]: the store layout and concurrency contract of
//! docs/architecture.md ("Contracts"),
//! written once for both backends.

use crate::domain::SCHEMA_VERSION;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use super::{ETag, ObjectPage, ObjectStore, PutCondition, StoreError};
use crate::domain::{
    DocumentError, IdempotencyRecord, LifecycleEvent, Request, Timestamp, parse_request,
    render_request, validate_request_id,
};

pub const REQUESTS_PREFIX: &str = "requests/";
pub const HISTORY_PREFIX: &str = "history/";
pub const LOGS_PREFIX: &str = "logs/";
pub const CREATE_IDEMPOTENCY_PREFIX: &str = "idempotency/create/";

/// A document, event or team configuration file larger than `limit` is refused as unreadable,
/// with its size and the limit.
pub fn within_document_limit(key: &str, size: usize, limit: u64) -> Result<(), StoreError> {
    if size as u64 > limit {
        return Err(StoreError::Unreadable {
            key: key.to_string(),
            source: crate::domain::DocumentError::TooLarge {
                size: size as u64,
                limit,
            },
        });
    }
    Ok(())
}

/// How many times an update re-reads and re-applies its mutation before giving up.
pub const DEFAULT_UPDATE_ATTEMPTS: u32 = 32;

/// Fresh random event keys tried before giving up (80 random bits each: a collision is
/// already astronomically unlikely).
const EVENT_KEY_ATTEMPTS: u32 = 4;

/// Parallel GETs when many objects are fetched at once.
pub const FETCH_PARALLELISM: usize = 32;

pub fn request_key(id: &str) -> String {
    format!("{REQUESTS_PREFIX}{id}.json")
}

/// The request id a `requests/<id>.json` key names; `None` for anything else under the prefix.
pub fn id_from_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(REQUESTS_PREFIX)?.strip_suffix(".json")?;
    validate_request_id(id).is_ok().then_some(id)
}

/// Parses the document stored under `key`, which must carry the id its key names: a copied
/// or renamed file would otherwise be read under one id and written under another.
pub fn parse_stored_request(key: &str, body: &[u8]) -> Result<Request, DocumentError> {
    let request = parse_request(body)?;
    match id_from_key(key) {
        Some(id) if id != request.id => Err(DocumentError::IdMismatch {
            id: request.id,
            key: key.to_string(),
        }),
        _ => Ok(request),
    }
}

/// Why a document persisted by tfpilot itself (the list cache, the shared index) cannot be
/// used as it is: written by a newer tfpilot, or not the document its key names.
pub fn cached_document_problem(key: &str, request: &Request) -> Option<DocumentError> {
    if request.schema_version > SCHEMA_VERSION {
        return Some(DocumentError::FutureSchema {
            found: u64::from(request.schema_version),
            supported: SCHEMA_VERSION,
        });
    }
    if let Err(err) = validate_request_id(&request.id) {
        return Some(err);
    }
    match id_from_key(key) {
        Some(id) if id == request.id => None,
        _ => Some(DocumentError::IdMismatch {
            id: request.id.clone(),
            key: key.to_string(),
        }),
    }
}

/// A value with the version it was read or written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: ETag,
}

/// An object under `logs/<id>/` that is not a readable lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvent {
    pub key: String,
    pub reason: String,
}

pub type EventEntry = Result<LifecycleEvent, UnreadableEvent>;

/// Outcome of a create-only write of an immutable blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOnce {
    Created,
    /// Someone wrote this key first; the blob there was left as it was.
    AlreadyPresent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// This caller's record was stored: go ahead.
    Claimed,
    /// The key was used before: here is what it did.
    Existing(Box<IdempotencyRecord>),
}

/// The store every layer talks to.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn ObjectStore>,
    update_attempts: u32,
    /// The largest document, event or team configuration file read
    /// ([`crate::domain::document::MAX_DOCUMENT_BYTES`] unless configured).
    document_limit: u64,
}

impl Store {
    pub fn new(backend: Arc<dyn ObjectStore>) -> Self {
        Store {
            backend,
            update_attempts: DEFAULT_UPDATE_ATTEMPTS,
            document_limit: crate::domain::document::MAX_DOCUMENT_BYTES,
        }
    }

    /// Reads documents, events and team configuration files up to `bytes` each.
    pub fn with_document_limit(mut self, bytes: u64) -> Self {
        self.document_limit = bytes.max(1);
        self
    }

    pub fn document_limit(&self) -> u64 {
        self.document_limit
    }

    pub fn with_update_attempts(mut self, attempts: u32) -> Self {
        self.update_attempts = attempts.max(1);
        self
    }

    pub fn backend(&self) -> &Arc<dyn ObjectStore> {
        &self.backend
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// Writes a new request; fails with [`StoreError::AlreadyExists`] if the id is taken.
    /// Returns the document as stored (with its new `revision`).
    pub async fn create_request(
        &self,
        request: &Request,
    ) -> Result<Versioned<Request>, StoreError> {
        validate_id(&request.id)?;
        let key = request_key(&request.id);
        let mut stored = request.clone();
        stored.revision = Some(new_revision());
        let body = render_request(&stored);
        let etag = match self
            .backend
            .put(&key, body.clone(), PutCondition::IfAbsent)
            .await
        {
            Ok(etag) => etag,
            // A transport retry whose first attempt landed finds its own bytes (the revision
            // makes them unique to this write): that is success, not a lost race.
            Err(StoreError::AlreadyExists { .. }) => match self.backend.get(&key).await? {
                Some(existing) if existing.body == body => existing.etag,
                _ => return Err(StoreError::AlreadyExists { key }),
            },
            Err(err) => return Err(err),
        };
        Ok(Versioned {
            value: stored,
            etag,
        })
    }

    pub async fn get_request(&self, id: &str) -> Result<Versioned<Request>, StoreError> {
        validate_id(id)?;
        let key = request_key(id);
        let object = self.get_existing(&key).await?;
        within_document_limit(&key, object.body.len(), self.document_limit)?;
        let value = parse_stored_request(&key, &object.body)
            .map_err(|source| StoreError::Unreadable { key, source })?;
        Ok(Versioned {
            value,
            etag: object.etag,
        })
    }

    /// Read-modify-write with a conditional put. When another writer got there first, re-reads
    /// and re-applies `mutate` to the fresh document, up to the attempt bound. `mutate` may
    /// refuse with a reason (nothing is written). If it changes nothing, nothing is written.
    /// A changed document gets `updated_at = now`.
    pub async fn update_request<F>(
        &self,
        id: &str,
        now: Timestamp,
        mutate: F,
    ) -> Result<Versioned<Request>, StoreError>
    where
        F: FnMut(&mut Request) -> Result<(), String> + Send,
    {
        self.update_request_from(id, None, now, mutate).await
    }

    /// [`Store::update_request`] starting from a version the caller just read (saving a GET);
    /// a stale `known` costs one refused write and a re-read, never a lost update.
    pub async fn update_request_from<F>(
        &self,
        id: &str,
        known: Option<Versioned<Request>>,
        now: Timestamp,
        mut mutate: F,
    ) -> Result<Versioned<Request>, StoreError>
    where
        F: FnMut(&mut Request) -> Result<(), String> + Send,
    {
        let key = request_key(id);
        let mut known = known;
        let mut failed: Option<StoreError> = None;
        for attempt in 0..self.update_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let current = match known.take() {
                Some(current) => current,
                None => self.get_request(id).await?,
            };
            let mut next = current.value.clone();
            mutate(&mut next).map_err(|reason| StoreError::Rejected {
                key: key.clone(),
                reason,
            })?;
            if next == current.value {
                return Ok(current);
            }
            next.updated_at = now;
            next.revision = Some(new_revision());
            let body = render_request(&next);
            match self
                .backend
                .put(&key, body.clone(), PutCondition::IfMatch(current.etag))
                .await
            {
                Ok(etag) => return Ok(Versioned { value: next, etag }),
                // A refused condition may be our own write whose answer was lost (a transport
                // retry of a PUT that landed), and a failure may have landed before it failed.
                Err(err @ StoreError::PreconditionFailed { .. }) => failed = Some(err),
                Err(err) if err.is_transient() => failed = Some(err),
                Err(err) => return Err(err),
            }
            // If our write did land, the stored bytes are ours, revision included: re-applying
            // the mutation would apply it twice. Another writer's bytes always differ in revision.
            if let Some(stored) = self.backend.get(&key).await?
                && stored.body == body
            {
                return Ok(Versioned {
                    value: next,
                    etag: stored.etag,
                });
            }
        }
        Err(match failed {
            Some(err) if err.is_transient() => err,
            _ => StoreError::Contended {
                key,
                attempts: self.update_attempts,
            },
        })
    }

    /// One page of request keys (ids via [`id_from_key`]).
    pub async fn list_request_page(
        &self,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        self.backend
            .list(REQUESTS_PREFIX, continuation, max_keys)
            .await
    }

    /// The request an id or a unique start of one names: the id itself when that request
    /// exists, else the only request whose id starts with `prefix`. One listing of the keys
    /// under that prefix, never a scan of the store.
    pub async fn resolve_request_id(&self, prefix: &str) -> Result<String, StoreError> {
        validate_id(prefix)?;
        let page = self
            .backend
            .list(&format!("{REQUESTS_PREFIX}{prefix}"), None, 6)
            .await?;
        let ids: Vec<String> = page
            .objects
            .iter()
            .filter_map(|meta| id_from_key(&meta.key).map(str::to_string))
            .collect();
        if ids.iter().any(|id| id == prefix) {
            return Ok(prefix.to_string());
        }
        match ids.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(StoreError::NotFound {
                key: request_key(prefix),
            }),
            _ => Err(StoreError::AmbiguousId {
                prefix: prefix.to_string(),
                candidates: if page.next.is_some() || ids.len() > 5 {
                    let mut shown: Vec<String> = ids.into_iter().take(5).collect();
                    shown.push("…".into());
                    shown
                } else {
                    ids
                },
            }),
        }
    }

    /// Moves a request to `history/<id>.json`. The live document is removed only if it is still
    /// the version that was archived.
    pub async fn archive_request(&self, id: &str) -> Result<(), StoreError> {
        validate_id(id)?;
        let key = request_key(id);
        let object = self.get_existing(&key).await?;
        let history_key = format!("{HISTORY_PREFIX}{id}.json");
        match self
            .backend
            .put(&history_key, object.body.clone(), PutCondition::IfAbsent)
            .await
        {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                // Finishing an archive that stopped half way is fine; archiving over a
                // different earlier copy is not (history is create-only).
                let existing = self.backend.get(&history_key).await?;
                if existing.is_none_or(|e| e.body != object.body) {
                    return Err(StoreError::AlreadyExists { key: history_key });
                }
            }
            Err(err) => return Err(err),
        }
        self.backend.delete(&key, Some(&object.etag)).await
    }

    /// Appends an audit event under a fresh, time-ordered key; never overwrites.
    pub async fn append_event(&self, event: &LifecycleEvent) -> Result<String, StoreError> {
        validate_id(&event.request_id)?;
        // Serializing a struct of strings and JSON values cannot fail.
        #[allow(clippy::expect_used)]
        let body = serde_json::to_vec(event).expect("event serializes to JSON");
        for _ in 0..EVENT_KEY_ATTEMPTS {
            let key = format!(
                "{LOGS_PREFIX}{}/{}-{}.json",
                event.request_id,
                event.at.to_key_fragment(),
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            );
            match self
                .backend
                .put(&key, body.clone(), PutCondition::IfAbsent)
                .await
            {
                Ok(_) => return Ok(key),
                // A random suffix collided: draw another one.
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Contended {
            key: format!("{LOGS_PREFIX}{}/", event.request_id),
            attempts: EVENT_KEY_ATTEMPTS,
        })
    }

    /// Writes an event exactly once. `discriminator` names what the event records (an
    /// idempotency key, a run id) and, with the event's time and kind, makes its key: a retry of
    /// the same step finds its event there instead of adding a second one.
    pub async fn record_event(
        &self,
        event: &LifecycleEvent,
        discriminator: &str,
    ) -> Result<PutOnce, StoreError> {
        validate_id(&event.request_id)?;
        let safe = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .take(100)
                .collect()
        };
        let key = format!(
            "{LOGS_PREFIX}{}/{}-{}-{}.json",
            event.request_id,
            event.at.to_key_fragment(),
            safe(&event.kind),
            safe(discriminator)
        );
        // Serializing a struct of strings and JSON values cannot fail.
        #[allow(clippy::expect_used)]
        let body = serde_json::to_vec(event).expect("event serializes to JSON");
        self.put_once(&key, body).await
    }

    /// Every event of a request, oldest first. An unreadable event is reported, not fatal.
    pub async fn list_events(&self, id: &str) -> Result<Vec<EventEntry>, StoreError> {
        validate_id(id)?;
        let prefix = format!("{LOGS_PREFIX}{id}/");
        let limit = self.document_limit;
        let (keys, oversized): (Vec<_>, Vec<_>) = self
            .list_all(&prefix)
            .await?
            .into_iter()
            .partition(|meta| meta.size <= limit);
        // Larger than any event: listed as unreadable, never read.
        let oversized = oversized.into_iter().map(|meta| {
            let reason = DocumentError::TooLarge {
                size: meta.size,
                limit,
            }
            .to_string();
            let key = meta.key;
            (key.clone(), Err(UnreadableEvent { key, reason }))
        });
        let keys: Vec<String> = keys.into_iter().map(|m| m.key).collect();
        let backend = &self.backend;
        let mut events: Vec<(String, EventEntry)> = futures::stream::iter(keys)
            .map(|key| async move {
                let parsed = match backend.get(&key).await? {
                    None => None,
                    Some(object) => Some(
                        serde_json::from_slice::<LifecycleEvent>(&object.body).map_err(|err| {
                            UnreadableEvent {
                                key: key.clone(),
                                reason: format!("not a lifecycle event: {err}"),
                            }
                        }),
                    ),
                };
                Ok::<_, StoreError>(parsed.map(|p| (key, p)))
            })
            .buffered(FETCH_PARALLELISM)
            .try_filter_map(|item| async move { Ok(item) })
            .try_collect()
            .await?;
        events.extend(oversized);
        // A total order (sort may panic on one that is not): unreadable events first, then by
        // time; events of one operation at the same time in the order it wrote them; then key.
        events.sort_by(|(ka, a), (kb, b)| {
            let order = |e: &EventEntry| {
                e.as_ref()
                    .ok()
                    .map(|e| (e.at, e.correlation_id.clone(), e.sequence.unwrap_or(0)))
            };
            order(a).cmp(&order(b)).then_with(|| ka.cmp(kb))
        });
        Ok(events.into_iter().map(|(_, event)| event).collect())
    }

    /// Writes an immutable blob (plan output, cost or drift result) once.
    pub async fn put_once(&self, key: &str, body: Vec<u8>) -> Result<PutOnce, StoreError> {
        match self.backend.put(key, body, PutCondition::IfAbsent).await {
            Ok(_) => Ok(PutOnce::Created),
            Err(StoreError::AlreadyExists { .. }) => Ok(PutOnce::AlreadyPresent),
            Err(err) => Err(err),
        }
    }

    pub async fn get_blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.backend.get(key).await?.map(|object| object.body))
    }

    /// Claims a create idempotency key. The first writer wins; later callers get its record.
    pub async fn claim_create_key(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<IdempotencyClaim, StoreError> {
        let key = idempotency_key(&record.key)?;
        // Serializing a struct of strings and JSON values cannot fail.
        #[allow(clippy::expect_used)]
        let body = serde_json::to_vec_pretty(record).expect("record serializes to JSON");
        match self.backend.put(&key, body, PutCondition::IfAbsent).await {
            Ok(_) => Ok(IdempotencyClaim::Claimed),
            Err(StoreError::AlreadyExists { .. }) => {
                match self.get_create_key(&record.key).await? {
                    Some(existing) => Ok(IdempotencyClaim::Existing(Box::new(existing))),
                    None => Err(StoreError::Backend {
                        operation: "claim",
                        key,
                        location: self.location(),
                        message: "the record existed and then vanished; retry".into(),
                        transient: true,
                    }),
                }
            }
            Err(err) => Err(err),
        }
    }

    pub async fn get_create_key(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let object_key = idempotency_key(key)?;
        let Some(object) = self.backend.get(&object_key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&object.body)
            .map(Some)
            .map_err(|err| StoreError::Unreadable {
                key: object_key,
                source: DocumentError::Invalid(err.to_string()),
            })
    }

    async fn get_existing(&self, key: &str) -> Result<super::Object, StoreError> {
        self.backend
            .get(key)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })
    }

    /// Every object under a prefix, following pages.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<super::ObjectMeta>, StoreError> {
        let mut all = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .backend
                .list(prefix, continuation.as_deref(), 1000)
                .await?;
            all.extend(page.objects);
            match page.next {
                Some(next) => continuation = Some(next),
                None => return Ok(all),
            }
        }
    }
}

fn validate_id(id: &str) -> Result<(), StoreError> {
    validate_request_id(id).map_err(|err| StoreError::InvalidId {
        id: id.to_string(),
        reason: err.to_string(),
    })
}

fn idempotency_key(key: &str) -> Result<String, StoreError> {
    validate_request_id(key).map_err(|_| StoreError::InvalidKey {
        key: key.to_string(),
        reason: "an idempotency key uses only letters, digits, `_`, `-` and `.` (at most 128)",
    })?;
    Ok(format!("{CREATE_IDEMPOTENCY_PREFIX}{key}.json"))
}

fn new_revision() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}

/// Exponential backoff with full jitter, capped, so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = (5u64 << attempt.min(6)).min(250);
    let random = (ulid::Ulid::new().random() % u128::from(cap_ms + 1)) as u64;
    Duration::from_millis(random)
}
