//! Listing that scales: LIST the keys with their ETags, then GET only what is new or changed.
//!
//! Bodies are remembered by key and ETag, in memory and in a cache file on disk, so a fresh
//! process refreshes a warm cache with LIST calls alone. A process with no cache at all reads
//! the bucket's shared index ([`super::shared_index`]) beside its LIST pages. An object that cannot be read as a
//! request (malformed, or written by a newer tfpilot) becomes an unreadable entry with its
//! reason; it never fails the listing.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::requests::{
    FETCH_PARALLELISM, cached_document_problem, id_from_key, parse_stored_request,
};
use super::shared_index::{self, IndexEntry, IndexRead, REWRITE_WHEN_STALE};
use super::{ETag, ObjectMeta, PutCondition, Store, StoreError};
use crate::domain::{DocumentError, Request};

/// 2: documents stored parsed (as JSON objects), not as the bodies' text.
const CACHE_FORMAT: u32 = 2;

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRequest {
    pub key: String,
    /// The id from the key; for readable documents the same as `request.id`.
    pub id: String,
    pub etag: ETag,
    pub outcome: Result<Arc<Request>, DocumentError>,
}

/// What a refresh cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RefreshStats {
    /// Objects seen by LIST.
    pub listed: usize,
    /// LIST calls (pages).
    pub list_calls: usize,
    /// GETs made: objects new or changed since the cache last saw them.
    pub fetched: usize,
    /// Objects served from the cache.
    pub reused: usize,
    /// Cached objects that are gone from the store.
    pub removed: usize,
    /// Objects taken from the shared index (cold starts only).
    pub from_index: usize,
    /// Whether this refresh wrote a fresh shared index.
    pub index_written: bool,
}

#[derive(Debug, Clone)]
struct CachedObject {
    etag: ETag,
    /// Readable documents are persisted (re-rendered); unreadable ones are fetched again.
    outcome: Result<Arc<Request>, DocumentError>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    location: String,
    entries: Vec<IndexEntry>,
}

pub struct RequestLister {
    store: Store,
    cache_file: Option<PathBuf>,
    cache: HashMap<String, CachedObject>,
    cache_loaded: bool,
    page_size: usize,
    use_shared_index: bool,
    /// Whether a cold start that fetched many documents rewrites the shared index.
    index_writes: bool,
    /// The least time between two writes of the cache file (zero: after every change).
    save_interval: std::time::Duration,
    /// When the cache file was last written by this lister.
    saved_at: Option<std::time::Instant>,
    /// A change the cache file does not have yet (its write waits for `save_interval`).
    unsaved: bool,
}

impl RequestLister {
    /// `cache_file`: where to persist the cache between processes (`None`: memory only).
    pub fn new(store: Store, cache_file: Option<PathBuf>) -> Self {
        RequestLister {
            store,
            cache_file,
            cache: HashMap::new(),
            cache_loaded: false,
            page_size: 1000,
            use_shared_index: true,
            index_writes: true,
            save_interval: std::time::Duration::ZERO,
            saved_at: None,
            unsaved: false,
        }
    }

    /// Writes the cache file at most once per `interval` (the first change is written at once):
    /// a dashboard listing every few seconds while documents change would otherwise serialize
    /// every document each time, on the cores its screen needs. A process that ends between two
    /// writes leaves a cache a little behind; the next start fetches what changed since.
    pub fn with_save_interval(mut self, interval: std::time::Duration) -> Self {
        self.save_interval = interval;
        self
    }

    /// Reads the shared index but never writes it: for someone who may not write the store.
    pub fn without_index_writes(mut self) -> Self {
        self.index_writes = false;
        self
    }

    /// Whether a cold start may read and rewrite the bucket's shared index (on by default).
    pub fn with_shared_index(mut self, enabled: bool) -> Self {
        self.use_shared_index = enabled;
        self
    }

    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Lists every request, fetching only what changed, and returns them sorted by id.
    pub async fn refresh(&mut self) -> Result<(Vec<ListedRequest>, RefreshStats), StoreError> {
        self.load_cache_file().await;
        let mut stats = RefreshStats::default();
        let backend = self.store.backend().clone();
        let read_index = self.use_shared_index && self.cache.is_empty();
        let (listing, index) = futures::join!(self.list_pages(), async {
            match read_index {
                true => Some(shared_index::read(&backend).await),
                false => None,
            }
        });
        let (listed, list_calls) = listing?;
        stats.list_calls = list_calls;
        stats.listed = listed.len();
        let index = match index {
            Some(Ok(index)) => Some(index),
            Some(Err(err)) => {
                // Without read access to the index a cold start simply GETs everything.
                tracing::warn!(error = %err, "could not read the shared listing index");
                None
            }
            None => None,
        };
        // What a rewrite must replace, decided before the entries are taken.
        let rewrite = index.as_ref().map(IndexRead::rewrite_condition);
        stats.from_index = match index {
            Some(IndexRead::Found { entries, .. }) => self.adopt_index(entries, &listed),
            Some(IndexRead::Unusable { reason, .. }) => {
                tracing::warn!(%reason, "ignoring the shared listing index");
                0
            }
            _ => 0,
        };

        // Owned keys: a stream of futures borrowing the listing would not be `Send` for every
        // lifetime, and the poller runs this on a spawned task.
        let stale: Vec<&ObjectMeta> = listed
            .iter()
            .filter(|meta| {
                self.cache
                    .get(&meta.key)
                    .is_none_or(|cached| !cached.etag.same_version(&meta.etag))
            })
            .collect();
        stats.fetched = stale.len();
        stats.reused = listed.len() - stale.len();
        // A document larger than any document can be is listed as unreadable, unread: a 2 GB
        // file must not cost every listing 2 GB.
        let limit = self.store.document_limit();
        let (oversized, stale): (Vec<&ObjectMeta>, Vec<&ObjectMeta>) =
            stale.into_iter().partition(|meta| meta.size > limit);
        let oversized: Vec<(String, CachedObject)> = oversized
            .into_iter()
            .map(|meta| {
                let cached = CachedObject {
                    etag: meta.etag.clone(),
                    outcome: Err(DocumentError::TooLarge {
                        size: meta.size,
                        limit,
                    }),
                };
                (meta.key.clone(), cached)
            })
            .collect();
        let stale: Vec<(String, ETag)> = stale
            .into_iter()
            .map(|meta| (meta.key.clone(), meta.etag.clone()))
            .collect();

        let backend = &backend;
        let mut fetched: Vec<(String, CachedObject)> = futures::stream::iter(stale)
            .map(|(key, listed_etag)| async move {
                let object = match backend.get(&key).await {
                    Ok(object) => object,
                    // Not a file, or too large to read: an unreadable entry, not a failed list
                    // (kept under the listed version, so it is not read again until it changes).
                    Err(StoreError::Unreadable { source, .. }) => {
                        let cached = CachedObject {
                            etag: listed_etag,
                            outcome: Err(source),
                        };
                        return Ok(Some((key, cached)));
                    }
                    Err(error) => return Err(error),
                };
                // Deleted between LIST and GET: leave it out of this listing.
                Ok::<_, StoreError>(object.map(|object| {
                    let cached = CachedObject {
                        etag: object.etag,
                        outcome: parse_stored_request(&key, &object.body).map(Arc::new),
                    };
                    (key, cached)
                }))
            })
            .buffer_unordered(FETCH_PARALLELISM)
            .try_filter_map(|item| async move { Ok(item) })
            .try_collect()
            .await?;
        fetched.extend(oversized);
        let changed = !fetched.is_empty() || stats.from_index > 0;
        self.cache.extend(fetched);

        let before = self.cache.len();
        {
            let live: std::collections::HashSet<&str> =
                listed.iter().map(|m| m.key.as_str()).collect();
            self.cache.retain(|key, _| live.contains(key.as_str()));
        }
        stats.removed = before - self.cache.len();

        self.unsaved |= changed || stats.removed > 0;
        let due = self
            .saved_at
            .is_none_or(|at| at.elapsed() >= self.save_interval);
        if self.unsaved && due {
            self.save_cache_file().await;
            self.saved_at = Some(std::time::Instant::now());
            self.unsaved = false;
        }
        if let Some(condition) = rewrite
            && self.index_writes
            && stats.fetched >= REWRITE_WHEN_STALE
        {
            stats.index_written = self.rewrite_index(condition).await;
        }

        // The listing's keys move into the entries: a listing every few seconds of 10,000
        // requests should not copy 10,000 keys each time.
        let mut entries: Vec<ListedRequest> = listed
            .into_iter()
            .filter_map(|meta| {
                let cached = self.cache.get(&meta.key)?;
                Some(ListedRequest {
                    id: id_from_key(&meta.key).unwrap_or(&meta.key).to_string(),
                    etag: cached.etag.clone(),
                    outcome: cached.outcome.clone(),
                    key: meta.key,
                })
            })
            .collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((entries, stats))
    }

    /// The listing as the cache file last saw it, without asking the store: what a screen can
    /// draw while the first refresh runs. `None` when there is no cache to show.
    pub async fn cached(&mut self) -> Option<Vec<ListedRequest>> {
        self.load_cache_file().await;
        if self.cache.is_empty() {
            return None;
        }
        let mut entries: Vec<ListedRequest> = self
            .cache
            .iter()
            .map(|(key, cached)| ListedRequest {
                key: key.clone(),
                id: id_from_key(key).unwrap_or(key).to_string(),
                etag: cached.etag.clone(),
                outcome: cached.outcome.clone(),
            })
            .collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Some(entries)
    }

    /// Every page of `requests/`, and how many LIST calls that took.
    async fn list_pages(&self) -> Result<(Vec<ObjectMeta>, usize), StoreError> {
        let mut listed: Vec<ObjectMeta> = Vec::new();
        let mut calls = 0;
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .store
                .list_request_page(continuation.as_deref(), self.page_size)
                .await?;
            calls += 1;
            listed.extend(
                page.objects
                    .into_iter()
                    .filter(|m| id_from_key(&m.key).is_some()),
            );
            match page.next {
                Some(next) => continuation = Some(next),
                None => return Ok((listed, calls)),
            }
        }
    }

    /// Takes the index entries whose ETag the listing still shows; returns how many.
    fn adopt_index(&mut self, entries: Vec<IndexEntry>, listed: &[ObjectMeta]) -> usize {
        let current: HashMap<&str, &ETag> =
            listed.iter().map(|m| (m.key.as_str(), &m.etag)).collect();
        let mut adopted = 0;
        for entry in entries {
            if current
                .get(entry.key.as_str())
                .is_some_and(|etag| etag.same_version(&entry.etag))
                && self.adopt(entry)
            {
                adopted += 1;
            }
        }
        adopted
    }

    /// Takes a persisted document if this version of tfpilot reads it as stored. `false` when
    /// it does not (a newer schema, a copied file): then the object is fetched like any other.
    fn adopt(&mut self, entry: IndexEntry) -> bool {
        if cached_document_problem(&entry.key, &entry.document).is_some() {
            return false;
        }
        self.cache.insert(
            entry.key,
            CachedObject {
                etag: entry.etag,
                outcome: Ok(entry.document),
            },
        );
        true
    }

    /// Replaces the index that was read with what this process now holds. A lost race or a
    /// refused write (a viewer without write access) leaves the index to the next cold reader.
    async fn rewrite_index(&self, condition: PutCondition) -> bool {
        let entries = self.persistable_entries();
        match shared_index::write(self.store.backend(), condition, entries).await {
            Ok(written) => written,
            Err(err) => {
                tracing::warn!(error = %err, "could not write the shared listing index");
                false
            }
        }
    }

    fn persistable_entries(&self) -> Vec<IndexEntry> {
        self.cache
            .iter()
            .filter_map(|(key, cached)| {
                Some(IndexEntry {
                    key: key.clone(),
                    etag: cached.etag.clone(),
                    document: cached.outcome.as_ref().ok()?.clone(),
                })
            })
            .collect()
    }

    /// A missing, unreadable or foreign cache file only means a cold start. Read and parsed
    /// on a blocking thread: 10,000 documents take tens of milliseconds, and the poller that
    /// calls this shares the runtime with the dashboard.
    async fn load_cache_file(&mut self) {
        if self.cache_loaded {
            return;
        }
        self.cache_loaded = true;
        let Some(path) = self.cache_file.clone() else {
            return;
        };
        let file = match tokio::task::spawn_blocking(move || read_cache_file(&path)).await {
            Ok(Some(file)) => file,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "reading the list cache stopped");
                return;
            }
        };
        if file.format != CACHE_FORMAT || file.location != self.store.location() {
            return;
        }
        for entry in file.entries {
            self.adopt(entry);
        }
    }

    /// Written on a blocking thread, to a temporary file then renamed, so concurrent processes
    /// never see a torn cache.
    async fn save_cache_file(&self) {
        let Some(path) = self.cache_file.clone() else {
            return;
        };
        let file = CacheFile {
            format: CACHE_FORMAT,
            location: self.store.location(),
            entries: self.persistable_entries(),
        };
        let result = tokio::task::spawn_blocking(move || {
            write_atomically(&path, &file).map_err(|err| (path, err))
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err((path, err))) => {
                tracing::warn!(path = %path.display(), error = %err, "could not save the list cache");
            }
            Err(err) => tracing::warn!(error = %err, "saving the list cache stopped"),
        }
    }
}

/// `None` for a missing or unreadable file: an older tfpilot's format, or a damaged file,
/// which the next cold start rewrites.
fn read_cache_file(path: &Path) -> Option<CacheFile> {
    let file = fs::File::open(path).ok()?;
    // Straight from the file into documents: no copy of the text, no second parse.
    match serde_json::from_reader::<_, CacheFile>(std::io::BufReader::new(file)) {
        Ok(file) => Some(file),
        Err(err) => {
            tracing::info!(path = %path.display(), error = %err, "not using the list cache");
            None
        }
    }
}

fn write_atomically(path: &Path, file: &CacheFile) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // The cache holds every request document: the user's alone.
    crate::private_files::create_private_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
        ulid::Ulid::new()
    ));
    let result = (|| {
        let mut out = std::io::BufWriter::new(crate::private_files::create_private_file(&temp)?);
        serde_json::to_writer(&mut out, file)?;
        out.flush()?;
        drop(out);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The cache file for a store: one per store location, under the cache directory.
pub fn cache_file_for(cache_dir: &Path, location: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(location.as_bytes());
    let name: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    cache_dir.join("list").join(format!("{name}.json"))
}
