//! A backend wrapper whose writes (and, when a test asks, reads) go through a test's hook: for
//! the failures a real server shows only by chance, such as a write that lands but whose answer
//! is lost. Deletes and listings pass straight through.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use tfpilot::store::{ETag, Object, ObjectPage, ObjectStore, PutCondition, StoreError};

/// What a test does with a write, or a read; `inner` is the real backend behind the wrapper.
#[async_trait]
pub trait Hook: Send + Sync + std::fmt::Debug {
    async fn put(
        &self,
        inner: &dyn ObjectStore,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError>;

    async fn get(&self, inner: &dyn ObjectStore, key: &str) -> Result<Option<Object>, StoreError> {
        inner.get(key).await
    }
}

/// What a backend answers when it fails (`transient`: a reset connection) or refuses (access
/// denied), for hooks to return.
pub fn backend_error(
    operation: &'static str,
    inner: &dyn ObjectStore,
    key: &str,
    transient: bool,
) -> StoreError {
    let message = match transient {
        true => "connection reset by peer",
        false => "AccessDenied (HTTP 403): Access Denied",
    };
    StoreError::Backend {
        operation,
        key: key.into(),
        location: inner.location(),
        message: message.into(),
        transient,
    }
}

#[derive(Debug)]
pub struct Hooked<H> {
    inner: Arc<dyn ObjectStore>,
    pub hook: H,
}

impl<H> Hooked<H> {
    pub fn new(inner: Arc<dyn ObjectStore>, hook: H) -> Self {
        Hooked { inner, hook }
    }
}

#[async_trait]
impl<H: Hook> ObjectStore for Hooked<H> {
    fn location(&self) -> String {
        self.inner.location()
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.hook.get(self.inner.as_ref(), key).await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        self.hook
            .put(self.inner.as_ref(), key, body, condition)
            .await
    }

    async fn delete(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError> {
        self.inner.delete(key, if_match).await
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        self.inner.list(prefix, continuation, max_keys).await
    }
}
