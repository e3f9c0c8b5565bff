//! The shared listing index: one gzip-compressed object in the bucket holding the request
//! documents as some tfpilot last listed them, each with the ETag it had.
//!
//! A process with no cache of its own (a new machine, a CI job, `reconcile` from cron) reads this
//! one object next to its LIST pages instead of GETting thousands of documents one by one. The
//! index is advisory: an entry is used only while the LIST still shows the object at the same
//! ETag, so a stale or damaged index costs GETs, never a wrong listing. Whoever found it stale by
//! [`REWRITE_WHEN_STALE`] documents or more writes a fresh one, conditionally on the version it
//! read, so racing writers do not overwrite each other's work and quiet periods cost no writes.

use std::io::Read;
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::{ETag, ObjectStore, PutCondition, StoreError};
use crate::domain::Request;

pub const INDEX_KEY: &str = "index/requests.json.gz";

/// Rewrite the index when a cold reader had to GET at least this many documents itself.
pub const REWRITE_WHEN_STALE: usize = 100;

const FORMAT: u32 = 2;

/// A decompressed index larger than this is refused rather than read into memory.
const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// One document as it was listed: stored parsed, so a reader deserializes it once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    pub key: String,
    pub etag: ETag,
    pub document: Arc<Request>,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    format: u32,
    entries: Vec<IndexEntry>,
}

/// What reading the index found.
#[derive(Debug)]
pub enum IndexRead {
    /// No index yet: the next write creates it.
    Absent,
    /// Entries to offer the lister, and the version to write over.
    Found {
        etag: ETag,
        entries: Vec<IndexEntry>,
    },
    /// The object exists but cannot be used (foreign format, corrupt): replaced on next write.
    Unusable { etag: ETag, reason: String },
}

impl IndexRead {
    /// The condition a rewrite must carry to replace exactly what was read.
    pub fn rewrite_condition(&self) -> PutCondition {
        match self {
            IndexRead::Absent => PutCondition::IfAbsent,
            IndexRead::Found { etag, .. } | IndexRead::Unusable { etag, .. } => {
                PutCondition::IfMatch(etag.clone())
            }
        }
    }
}

pub async fn read(backend: &Arc<dyn ObjectStore>) -> Result<IndexRead, StoreError> {
    let Some(object) = backend.get(INDEX_KEY).await? else {
        return Ok(IndexRead::Absent);
    };
    let etag = object.etag;
    // Decompressing and parsing megabytes is CPU work: keep it off the async workers.
    let decoded = tokio::task::spawn_blocking(move || decode(&object.body))
        .await
        .unwrap_or_else(|join| Err(format!("decoding task failed: {join}")));
    Ok(match decoded {
        Ok(entries) => IndexRead::Found { etag, entries },
        Err(reason) => IndexRead::Unusable { etag, reason },
    })
}

/// Writes `entries` as the new index. `Ok(false)` when another writer replaced it first.
pub async fn write(
    backend: &Arc<dyn ObjectStore>,
    condition: PutCondition,
    entries: Vec<IndexEntry>,
) -> Result<bool, StoreError> {
    let body = tokio::task::spawn_blocking(move || encode(entries))
        .await
        .map_err(|join| StoreError::Backend {
            operation: "encode",
            key: INDEX_KEY.to_string(),
            location: backend.location(),
            message: join.to_string(),
            transient: false,
        })?;
    match backend.put(INDEX_KEY, body, condition).await {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

// Writing into a Vec cannot fail, and request documents always serialize.
#[allow(clippy::expect_used)]
pub fn encode(entries: Vec<IndexEntry>) -> Vec<u8> {
    let file = IndexFile {
        format: FORMAT,
        entries,
    };
    // The fastest level still shrinks JSON documents about tenfold; the index is rewritten on
    // a user's first listing, so compression time is waiting time.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing into a Vec cannot fail, and request documents always serialize (they are
    // written the same way to the store).
    serde_json::to_writer(&mut encoder, &file).expect("index entries serialize");
    encoder.finish().expect("gzip into memory")
}

pub fn decode(body: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let mut json = Vec::new();
    GzDecoder::new(body)
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|err| format!("not gzip: {err}"))?;
    if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format!(
            "larger than {} MiB decompressed",
            MAX_DECOMPRESSED_BYTES >> 20
        ));
    }
    let file: IndexFile =
        serde_json::from_slice(&json).map_err(|err| format!("not an index: {err}"))?;
    if file.format != FORMAT {
        return Err(format!("index format {} is not {FORMAT}", file.format));
    }
    Ok(file.entries)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn entry(n: usize) -> IndexEntry {
        let created = crate::domain::Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        IndexEntry {
            key: format!("requests/req_{n}.json"),
            etag: ETag(format!("\"e{n}\"")),
            document: Arc::new(Request::new(
                format!("req_{n}"),
                "payments",
                "dev",
                "s3-bucket",
                "alice",
                created,
            )),
        }
    }

    #[test]
    fn round_trips_and_compresses() {
        let entries: Vec<IndexEntry> = (0..200).map(entry).collect();
        let plain = serde_json::to_vec(&entries).unwrap().len();
        let body = encode(entries);
        assert!(body.len() * 3 < plain, "{} vs {plain}", body.len());
        let back = decode(&body).unwrap();
        assert_eq!(back.len(), 200);
        assert_eq!(back[7].key, "requests/req_7.json");
        assert_eq!(back[7].etag, ETag("\"e7\"".into()));
    }

    #[test]
    fn refuses_what_is_not_an_index() {
        assert!(decode(b"{}").unwrap_err().starts_with("not gzip"));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(br#"{"format":9,"entries":[]}"#).unwrap();
        let future = encoder.finish().unwrap();
        assert_eq!(decode(&future).unwrap_err(), "index format 9 is not 2");
    }
}
