//! Response cache for GETs: bodies kept with their ETag (so an unchanged
//! resource costs a free 304) and a short freshness window (so a burst of reads
//! costs nothing at all). Bounded in entries and in bytes (a page of 100 runs
//! is about a megabyte on GitHub); the least recently stored entry goes first.

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
    max_bytes: usize,
    bytes: usize,
}

impl ResponseCache {
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
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
        self.remove(key);
        // Nothing to reuse, or too big to keep without pushing out everything else.
        if (etag.is_none() && ttl.is_zero()) || body.len() > self.max_bytes / 4 {
            return;
        }
        while !self.entries.is_empty()
            && (self.entries.len() >= self.capacity || self.bytes + body.len() > self.max_bytes)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.stored_at)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(oldest) => self.remove(&oldest),
                None => break,
            }
        }
        self.bytes += body.len();
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

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.body.len();
        }
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
        let mut cache = ResponseCache::new(2, 1 << 20);
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

    #[tokio::test(start_paused = true)]
    async fn bytes_are_bounded_too() {
        let mut cache = ResponseCache::new(100, 40);
        let now = Instant::now();
        for (index, key) in ["/a", "/b", "/c", "/d", "/e"].into_iter().enumerate() {
            let at = now + Duration::from_secs(index as u64);
            cache.store(
                key,
                Some("e".into()),
                Bytes::from(vec![b'x'; 10]),
                Duration::from_secs(60),
                at,
            );
        }
        assert_eq!((cache.len(), cache.bytes), (4, 40));
        assert!(cache.get("/a").is_none(), "the oldest went first");
        cache.store(
            "/big",
            Some("e".into()),
            Bytes::from(vec![b'x'; 11]),
            Duration::from_secs(60),
            now,
        );
        assert!(
            cache.get("/big").is_none(),
            "over a quarter of the budget: not kept"
        );
        cache.store(
            "/b",
            Some("e2".into()),
            Bytes::from(vec![b'y'; 5]),
            Duration::from_secs(60),
            now,
        );
        assert_eq!(cache.bytes, 35, "replacing an entry releases its bytes");
    }
}
