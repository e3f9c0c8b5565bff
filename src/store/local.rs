//! The local directory store: the same keys as S3, one file per object.
//!
//! Safe when several tfpilot processes share the directory. A new version is written to a
//! temporary file, synced, and published atomically: a create with `link(2)`, which fails if
//! the key exists; an update or delete under a per-key file lock after checking the version,
//! with `rename(2)`. Readers see the old or the new version, never a torn one.
//!
//! The ETag is a fingerprint of the file's metadata (modification time in nanoseconds and size),
//! which a listing can read without opening files. Under the lock each new version gets a
//! modification time strictly later than the one it replaces, so a fingerprint never repeats
//! for a key and a stale ETag can never match again.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{
    ETag, Object, ObjectMeta, ObjectPage, ObjectStore, PutCondition, StoreError, validate_key,
};
use crate::domain::DocumentError;
#[cfg(doc)]
use crate::domain::document::MAX_DOCUMENT_BYTES;

/// How a new version's temporary file takes its place.
#[derive(Debug, Clone, Copy)]
enum Publish {
    /// `rename(2)` over whatever is there (under the key's lock).
    Replace,
    /// `link(2)`, which fails if the key exists.
    LinkIfAbsent,
}

/// The largest object any read takes into memory (the shared listing index is the largest
/// kind); documents have their own, smaller limit ([`MAX_DOCUMENT_BYTES`]).
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// Opens without following a symbolic link in the last component and without waiting: a FIFO
/// put where a document belongs must not hang the reader.
fn open_for_reading(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// `O_NOFOLLOW` refuses a symbolic link with `ELOOP`.
fn is_symlink_refusal(err: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        err.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Where the store keeps its own bookkeeping; hidden names are never valid keys.
const PRIVATE_DIR: &str = ".tfpilot";

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// Opens the store at `root`, creating the directory if needed.
    pub fn open_or_create(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|err| StoreError::Backend {
            operation: "open",
            key: String::new(),
            location: format!("file://{}", root.display()),
            message: format!("cannot create the store directory: {err}"),
            transient: false,
        })?;
        Self::open(root)
    }

    /// Opens an existing store directory. A missing one is an error rather than a new empty
    /// store, so a mistyped `--store` path says so instead of listing nothing.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref();
        let problem = match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => None,
            Ok(_) => Some("it is not a directory".to_string()),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                Some("no such directory; check --store or TFPILOT_STORE".to_string())
            }
            Err(err) => Some(err.to_string()),
        };
        if let Some(message) = problem {
            return Err(StoreError::Backend {
                operation: "open",
                key: String::new(),
                location: format!("file://{}", root.display()),
                message,
                transient: false,
            });
        }
        let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        Ok(LocalStore {
            root: Arc::new(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn io_error(&self, operation: &'static str, key: &str, err: std::io::Error) -> StoreError {
        StoreError::Backend {
            operation,
            key: key.to_string(),
            location: self.location(),
            message: err.to_string(),
            transient: false,
        }
    }

    /// Runs blocking filesystem work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        work: impl FnOnce(LocalStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(store))
            .await
            .map_err(|err| StoreError::Backend {
                operation,
                key: key.to_string(),
                location: self.location(),
                message: format!("the filesystem task failed: {err}"),
                transient: false,
            })?
    }

    /// Takes the exclusive lock for one key; released when the returned file is dropped.
    fn lock(&self, key: &str) -> Result<File, StoreError> {
        let dir = self.root.join(PRIVATE_DIR).join("locks");
        fs::create_dir_all(&dir).map_err(|e| self.io_error("lock", key, e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{}.lock", key.replace('/', "%2F"))))
            .map_err(|e| self.io_error("lock", key, e))?;
        file.lock().map_err(|e| self.io_error("lock", key, e))?;
        Ok(file)
    }

    fn put_blocking(
        &self,
        key: &str,
        body: &[u8],
        condition: &PutCondition,
    ) -> Result<ETag, StoreError> {
        let path = self.path_of(key)?;
        let expected = match condition {
            PutCondition::IfAbsent => return self.create_blocking(key, &path, body),
            PutCondition::IfMatch(expected) => expected,
        };
        let _lock = self.lock(key)?;
        let current = self.current_version("put", key, &path, Some(expected))?;
        self.write_version(&path, body, current.modified().ok(), Publish::Replace)
            .map_err(|e| self.io_error("put", key, e))
    }

    /// Create-only. `link(2)` publishes the new file only if nothing is at `path`, atomically
    /// and without a lock (so append-only keys such as events leave no lock files behind).
    /// Filesystems without hard links fall back to the per-key lock.
    fn create_blocking(&self, key: &str, path: &Path, body: &[u8]) -> Result<ETag, StoreError> {
        let already_exists = || StoreError::AlreadyExists {
            key: key.to_string(),
        };
        match self.write_version(path, body, None, Publish::LinkIfAbsent) {
            Ok(etag) => Ok(etag),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => Err(already_exists()),
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::Unsupported | ErrorKind::PermissionDenied
                ) =>
            {
                let _lock = self.lock(key)?;
                if path.exists() {
                    return Err(already_exists());
                }
                self.write_version(path, body, None, Publish::Replace)
                    .map_err(|e| self.io_error("put", key, e))
            }
            Err(err) => Err(self.io_error("put", key, err)),
        }
    }

    /// Writes `body` to a synced temporary file and publishes it at `path`.
    fn write_version(
        &self,
        path: &Path,
        body: &[u8],
        previous_mtime: Option<SystemTime>,
        publish: Publish,
    ) -> std::io::Result<ETag> {
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        let temp = dir.join(format!(".tmp-{}", ulid::Ulid::new()));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(body)?;
            let mut mtime = SystemTime::now();
            if let Some(previous) = previous_mtime
                && mtime <= previous
            {
                mtime = previous + Duration::from_micros(1);
            }
            file.set_modified(mtime)?;
            // A filesystem with coarse timestamps may round the time back down: step until the
            // stored time is strictly later than the previous version's.
            while let Some(previous) = previous_mtime
                && file.metadata()?.modified()? <= previous
            {
                mtime += Duration::from_millis(1);
                file.set_modified(mtime)?;
            }
            file.sync_all()?;
            let meta = file.metadata()?;
            match publish {
                Publish::Replace => fs::rename(&temp, path)?,
                Publish::LinkIfAbsent => {
                    fs::hard_link(&temp, path)?;
                    fs::remove_file(&temp)?;
                }
            }
            sync_dir(dir);
            Ok(fingerprint(&meta))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// The metadata of the key's current version, checked against `expected` if given. Call
    /// with the key's lock held.
    fn current_version(
        &self,
        operation: &'static str,
        key: &str,
        path: &Path,
        expected: Option<&ETag>,
    ) -> Result<fs::Metadata, StoreError> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    key: key.to_string(),
                });
            }
            Err(err) => return Err(self.io_error(operation, key, err)),
        };
        if expected.is_some_and(|expected| &fingerprint(&meta) != expected) {
            return Err(StoreError::PreconditionFailed {
                key: key.to_string(),
            });
        }
        Ok(meta)
    }

    fn delete_blocking(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let _lock = self.lock(key)?;
        self.current_version("delete", key, &path, if_match)?;
        fs::remove_file(&path).map_err(|e| self.io_error("delete", key, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        Ok(())
    }

    fn list_blocking(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        // Walk only the deepest directory the prefix names.
        let dir_part = match prefix.rfind('/') {
            Some(index) => &prefix[..index],
            None => "",
        };
        if !dir_part.is_empty() {
            validate_key(dir_part)?;
        }
        let mut keys = Vec::new();
        collect_keys(&self.root.join(dir_part), dir_part, &mut keys)
            .map_err(|e| self.io_error("list", prefix, e))?;
        keys.retain(|k| {
            k.starts_with(prefix) && continuation.is_none_or(|after| k.as_str() > after)
        });
        keys.sort_unstable();

        let mut objects = Vec::with_capacity(max_keys.min(keys.len()));
        let mut consumed = 0;
        for key in &keys {
            if objects.len() == max_keys {
                break;
            }
            consumed += 1;
            match fs::metadata(self.root.join(key)) {
                Ok(meta) => objects.push(ObjectMeta {
                    key: key.clone(),
                    etag: fingerprint(&meta),
                    size: meta.len(),
                }),
                // Deleted since the directory was read: it is simply not listed.
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => return Err(self.io_error("list", key, err)),
            }
        }
        let next = (consumed > 0 && consumed < keys.len()).then(|| keys[consumed - 1].clone());
        Ok(ObjectPage { objects, next })
    }
}

fn fingerprint(meta: &fs::Metadata) -> ETag {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    ETag(format!("{nanos:x}-{:x}", meta.len()))
}

/// Makes a rename durable. Best effort: some filesystems cannot open directories.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn collect_keys(dir: &Path, key_prefix: &str, keys: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let key = if key_prefix.is_empty() {
            name.to_string()
        } else {
            format!("{key_prefix}/{name}")
        };
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_keys(&entry.path(), &key, keys)?;
        } else if file_type.is_file() {
            keys.push(key);
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.path_of(key)?;
        let owned_key = key.to_string();
        self.blocking("get", key, move |store| {
            let unreadable = |source: DocumentError| StoreError::Unreadable {
                key: owned_key.clone(),
                source,
            };
            let mut file = match open_for_reading(&path) {
                Ok(file) => file,
                Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
                Err(err) if is_symlink_refusal(&err) => {
                    return Err(unreadable(DocumentError::NotAFile {
                        kind: "a symbolic link",
                    }));
                }
                Err(err) => return Err(store.io_error("get", &owned_key, err)),
            };
            // Metadata and bytes come from the same open file: a concurrent rename replaces
            // the directory entry, not this file, so the ETag always matches the body.
            let meta = file
                .metadata()
                .map_err(|e| store.io_error("get", &owned_key, e))?;
            if !meta.is_file() {
                return Err(unreadable(DocumentError::NotAFile {
                    kind: file_kind(&meta),
                }));
            }
            if meta.len() > MAX_OBJECT_BYTES {
                return Err(unreadable(DocumentError::TooLarge {
                    size: meta.len(),
                    limit: MAX_OBJECT_BYTES,
                }));
            }
            let mut body = Vec::with_capacity(meta.len() as usize);
            // Bounded even if the file grows while it is read.
            (&mut file)
                .take(MAX_OBJECT_BYTES + 1)
                .read_to_end(&mut body)
                .map_err(|e| store.io_error("get", &owned_key, e))?;
            if body.len() as u64 > MAX_OBJECT_BYTES {
                return Err(unreadable(DocumentError::TooLarge {
                    size: body.len() as u64,
                    limit: MAX_OBJECT_BYTES,
                }));
            }
            Ok(Some(Object {
                body,
                etag: fingerprint(&meta),
            }))
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        validate_key(key)?;
        let owned_key = key.to_string();
        self.blocking("put", key, move |store| {
            store.put_blocking(&owned_key, &body, &condition)
        })
        .await
    }

    async fn delete(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError> {
        validate_key(key)?;
        let owned_key = key.to_string();
        let if_match = if_match.cloned();
        self.blocking("delete", key, move |store| {
            store.delete_blocking(&owned_key, if_match.as_ref())
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        let prefix_owned = prefix.to_string();
        let continuation = continuation.map(String::from);
        let max_keys = max_keys.max(1);
        self.blocking("list", prefix, move |store| {
            store.list_blocking(&prefix_owned, continuation.as_deref(), max_keys)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_files(store: &LocalStore) -> usize {
        fs::read_dir(store.root().join(PRIVATE_DIR).join("locks")).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn creates_take_no_lock_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open_or_create(dir.path()).unwrap();
        for n in 0..5 {
            store
                .put(
                    &format!("logs/req_1/{n}.json"),
                    b"{}".to_vec(),
                    PutCondition::IfAbsent,
                )
                .await
                .unwrap();
        }
        let err = store
            .put("logs/req_1/0.json", b"{}".to_vec(), PutCondition::IfAbsent)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        assert_eq!(lock_files(&store), 0, "append-only keys need no lock files");
        let names: Vec<String> = fs::read_dir(dir.path().join("logs/req_1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 5, "no temporary files left: {names:?}");

        let etag = store
            .put("requests/r.json", b"1".to_vec(), PutCondition::IfAbsent)
            .await
            .unwrap();
        store
            .put(
                "requests/r.json",
                b"2".to_vec(),
                PutCondition::IfMatch(etag),
            )
            .await
            .unwrap();
        assert_eq!(lock_files(&store), 1, "updates lock their key");
    }

    #[tokio::test]
    async fn every_version_gets_a_new_etag_even_with_the_same_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open_or_create(dir.path()).unwrap();
        let mut etag = store
            .put("requests/r.json", b"aaaa".to_vec(), PutCondition::IfAbsent)
            .await
            .unwrap();
        let first = etag.clone();
        for _ in 0..50 {
            let next = store
                .put(
                    "requests/r.json",
                    b"bbbb".to_vec(),
                    PutCondition::IfMatch(etag.clone()),
                )
                .await
                .unwrap();
            assert_ne!(next, etag);
            etag = next;
        }
        let err = store
            .put(
                "requests/r.json",
                b"cccc".to_vec(),
                PutCondition::IfMatch(first),
            )
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "an old ETag never matches again: {err}");
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open_or_create(dir.path().join("s")).unwrap();
        for key in [
            "../x.json",
            "/etc/passwd",
            "requests//x",
            ".tfpilot/locks/x",
            "a/./b",
        ] {
            let err = store
                .put(key, b"{}".to_vec(), PutCondition::IfAbsent)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::InvalidKey { .. }), "{key}: {err}");
        }
        assert!(!dir.path().join("x.json").exists());
    }
}
