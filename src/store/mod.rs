//! Storage adapters. One small trait ([`ObjectStore`]) with two backends (S3 and a local
//! directory), and on top of it the typed operations every layer uses ([`Store`]) and the
//! cached listing ([`RequestLister`]). The contract (docs/architecture.md, "Store layout")
//! lives in the typed layer once; backends only have to honour conditional writes.

mod error;
pub mod listing;
pub mod local;
pub mod policies;
pub mod requests;
pub mod s3;
pub mod shared_index;
pub mod team_config;
mod url;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::StoreError;
pub use listing::{ListedRequest, RefreshStats, RequestLister};
pub use local::LocalStore;
pub use policies::PolicyFile;
pub use requests::{EventEntry, IdempotencyClaim, PutOnce, Store, UnreadableEvent, Versioned};
pub use s3::{S3Options, S3Store};
pub use team_config::{TeamConfig, TemplateWrite};
pub use url::StoreUrl;

/// An opaque object version. S3's ETag; for the local store a fingerprint of the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ETag(pub String);

impl ETag {
    /// Whether two ETags name the same version. Servers differ in quoting (and some mark weak
    /// tags) between LIST and GET; the opaque value in between is what identifies the version.
    pub fn same_version(&self, other: &ETag) -> bool {
        fn core(tag: &str) -> &str {
            tag.trim().trim_start_matches("W/").trim_matches('"')
        }
        core(&self.0) == core(&other.0)
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: ETag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub etag: ETag,
    pub size: u64,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    pub objects: Vec<ObjectMeta>,
    /// Pass back to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// The only writes tfpilot makes: create-only and compare-and-swap. There is no blind overwrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// `If-None-Match: *`: fails with [`StoreError::AlreadyExists`] if the key exists.
    IfAbsent,
    /// `If-Match: <etag>`: fails with [`StoreError::PreconditionFailed`] if it changed.
    IfMatch(ETag),
}

/// A key-value object store with conditional writes. Keys are `/`-separated relative paths.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Where this store is, as a store URL (for messages and cache identity).
    fn location(&self) -> String;

    /// `Ok(None)` if the key does not exist.
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError>;

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError>;

    /// Deletes the key, only if its version is still `if_match` when given.
    async fn delete(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError>;

    /// Keys starting with `prefix`, in key order, at most `max_keys` of them.
    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError>;

    /// The bucket's own protections; `None` for backends without buckets.
    async fn protections(&self) -> Option<BucketProtections> {
        None
    }
}

/// What a bucket does for the objects in it, whoever writes them; each read on its own, so
/// one refused read does not hide the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketProtections {
    /// The default encryption (`AES256`, `aws:kms`...), `None` when there is none.
    pub encryption: Result<Option<String>, String>,
    /// `Enabled` or `Suspended`; `None` when versioning was never turned on.
    pub versioning: Result<Option<String>, String>,
}

/// Opens the backend a store URL names. A local directory is created only when `create_local`
/// is set (the default store on first use); otherwise it must exist.
pub async fn open_backend(
    url: &StoreUrl,
    s3: &S3Options,
    create_local: bool,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    Ok(match url {
        StoreUrl::Local(path) if create_local => Arc::new(LocalStore::open_or_create(path)?),
        StoreUrl::Local(path) => Arc::new(LocalStore::open(path)?),
        StoreUrl::S3 { bucket, prefix } => {
            Arc::new(S3Store::connect(bucket.clone(), prefix.clone(), s3).await)
        }
    })
}

/// Checks a key before it touches a backend: relative, no empty, `.` or `..` segments, no
/// hidden names (the local store keeps its own files under `.tfpilot/`).
pub(crate) fn validate_key(key: &str) -> Result<(), StoreError> {
    let invalid = |reason: &'static str| StoreError::InvalidKey {
        key: key.to_string(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if key.contains('\\') || key.contains('\0') {
        return Err(invalid("it contains a backslash or NUL"));
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return Err(invalid("it has an empty segment"));
        }
        if segment.starts_with('.') {
            return Err(invalid("a segment starts with a dot"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ETag;

    #[test]
    fn etags_compare_without_quotes_or_weak_marker() {
        let quoted = ETag("\"abc\"".into());
        assert!(quoted.same_version(&ETag("abc".into())));
        assert!(quoted.same_version(&ETag("W/\"abc\"".into())));
        assert!(!quoted.same_version(&ETag("\"abd\"".into())));
    }
}
