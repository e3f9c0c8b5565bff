use thiserror::Error;

use crate::domain::DocumentError;

/// Store failures. Each message says what went wrong and what to do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{key} already exists")]
    AlreadyExists { key: String },
    #[error("{key} changed since it was read")]
    PreconditionFailed { key: String },
    #[error("{key} does not exist in the store; check the id with `tfpilot list`")]
    NotFound { key: String },
    #[error(
        "gave up writing {key} after {attempts} attempts because other writers kept changing it; retry the operation"
    )]
    Contended { key: String, attempts: u32 },
    #[error("{key} cannot be read: {source}")]
    Unreadable {
        key: String,
        #[source]
        source: DocumentError,
    },
    #[error("the change to {key} was refused: {reason}")]
    Rejected { key: String, reason: String },
    #[error("invalid store URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{reason}")]
    InvalidId { id: String, reason: String },
    #[error("{prefix} could be any of {}; give more of the id", candidates.join(", "))]
    AmbiguousId {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("invalid object key `{key}`: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("{operation} {key} on {location} failed: {message}")]
    Backend {
        operation: &'static str,
        key: String,
        location: String,
        message: String,
        /// The server was unreachable, busy or failed (5xx, throttling, a reset connection):
        /// the same call may succeed a moment later. Refusals (403, a missing bucket) are not.
        transient: bool,
    },
}

impl StoreError {
    /// A conditional write lost a race; the caller may re-read and retry.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::PreconditionFailed { .. })
    }

    /// Worth asking again after a pause: the store failed, it did not refuse.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                transient: true,
                ..
            }
        )
    }
}
