//! A backend wrapper for benchmarks: counts every call that reaches the real backend, by kind
//! (`get`, `list`, `put-new`, `put-update`, `delete`), and can add a fixed round trip to reads.
//!
//! Why the delay: moto answers on loopback in about 2 ms of Python under one interpreter lock,
//! so parallel GETs cannot overlap there; real S3 has a first-byte latency of tens of
//! milliseconds and serves GETs in parallel. Delayed runs show what the cached, parallel listing
//! buys when the round trip dominates.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tfpilot::store::{ETag, Object, ObjectPage, ObjectStore, PutCondition, StoreError};

#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn ObjectStore>,
    read_delay: Duration,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn ObjectStore>, read_delay: Duration) -> Self {
        Instrumented {
            inner,
            read_delay,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The counts since the last take, and a fresh start.
    pub fn take(&self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn count(&self, kind: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    async fn read(&self, kind: &'static str) {
        self.count(kind);
        if !self.read_delay.is_zero() {
            tokio::time::sleep(self.read_delay).await;
        }
    }
}

#[async_trait]
impl ObjectStore for Instrumented {
    fn location(&self) -> String {
        self.inner.location()
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.read("get").await;
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        self.count(match condition {
            PutCondition::IfAbsent => "put-new",
            PutCondition::IfMatch(_) => "put-update",
        });
        self.inner.put(key, body, condition).await
    }

    async fn delete(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError> {
        self.count("delete");
        self.inner.delete(key, if_match).await
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        // Reading the team's policies (once per finished plan) is not listing requests.
        self.read(if prefix.starts_with("policies/") {
            "list-policies"
        } else {
            "list"
        })
        .await;
        self.inner.list(prefix, continuation, max_keys).await
    }
}
