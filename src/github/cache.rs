//! Response cache for GETs: bodies kept with their ETag (so an unchanged
//! resource costs a free 304) and a short freshness window (so a burst of reads
//! costs nothing at all). Bounded; the least recently stored entry goes first.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Entry {
    pub etag: Option<String>,
    pub body: Bytes,
    pub stored_at: Instant,
    pub fresh_until: Instant,
}

#[derive(Debug)]
pub struct ResponseCache {
    entries: HashMap<String, Entry>,
    capacity: usize,
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The body, if it may be used without asking GitHub.
    pub fn fresh(&self, key: &str, now: Instant) -> Option<Bytes> {
        self.entries
            .get(key)
            .filter(|entry| now < entry.fresh_until)
            .map(|entry| entry.body.clone())
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn store(
        &mut self,
        key: &str,
        etag: Option<String>,
        body: Bytes,
        ttl: Duration,
        now: Instant,
    ) {
        if etag.is_none() && ttl.is_zero() {
            self.entries.remove(key);
            return;
        }
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.stored_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            key.to_string(),
            Entry {
                etag,
                body,
                stored_at: now,
                fresh_until: now + ttl,
            },
        );
    }

    /// A 304 proved the body current: it is fresh again for `ttl`.
    pub fn revalidate(&mut self, key: &str, ttl: Duration, now: Instant) -> Option<Bytes> {
        let entry = self.entries.get_mut(key)?;
        entry.fresh_until = now + ttl;
        entry.stored_at = now;
        Some(entry.body.clone())
    }

    /// After a write, reads under `prefix` must ask GitHub again (the ETag is
    /// kept, so asking stays cheap).
    pub fn expire_prefix(&mut self, prefix: &str, now: Instant) {
        for (key, entry) in &mut self.entries {
            if key.starts_with(prefix) {
                entry.fresh_until = now;
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn freshness_revalidation_and_bounds() {
        let mut cache = ResponseCache::new(2);
        let now = Instant::now();
        cache.store(
            "/a",
            Some("e1".into()),
            Bytes::from("A"),
            Duration::from_secs(10),
            now,
        );
        assert_eq!(
            cache.fresh("/a", now + Duration::from_secs(9)),
            Some(Bytes::from("A"))
        );
        assert_eq!(cache.fresh("/a", now + Duration::from_secs(10)), None);
        assert_eq!(cache.get("/a").unwrap().etag.as_deref(), Some("e1"));
        let later = now + Duration::from_secs(20);
        assert_eq!(
            cache.revalidate("/a", Duration::from_secs(10), later),
            Some(Bytes::from("A"))
        );
        assert!(cache.fresh("/a", later).is_some());

        cache.store(
            "/b",
            None,
            Bytes::from("B"),
            Duration::from_secs(10),
            now + Duration::from_secs(21),
        );
        cache.store(
            "/c",
            None,
            Bytes::from("C"),
            Duration::from_secs(10),
            now + Duration::from_secs(22),
        );
        assert_eq!(cache.len(), 2);
        assert!(cache.get("/a").is_none(), "the oldest entry was evicted");

        cache.expire_prefix("/b", now + Duration::from_secs(23));
        assert!(cache.fresh("/b", now + Duration::from_secs(23)).is_none());
        assert!(cache.get("/b").is_some(), "kept for its ETag");

        cache.store("/d", None, Bytes::from("D"), Duration::ZERO, now);
        assert!(cache.get("/d").is_none(), "nothing to reuse: not stored");
    }
}
