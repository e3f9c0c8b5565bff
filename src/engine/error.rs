//! What an operation can end in besides success, each with the exit code the CLI gives it.

use thiserror::Error;

use crate::domain::lock::HeldBy;
use crate::github::GitHubError;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum EngineError {
    /// The policy or the lifecycle does not allow it; the reason is shown as is.
    #[error("denied: {reason}")]
    Denied { reason: String },
    #[error("{held}; try again when it is released or expires")]
    Locked { held: HeldBy },
    /// Someone or something else changed what this operation relied on.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// The input was wrong: an unknown module, a bad value. Nothing was written.
    #[error("{message}")]
    Invalid { message: String },
    /// Team configuration is missing or broken; nothing was written.
    #[error("{message}")]
    Config { message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

impl EngineError {
    /// 0 ok, 1 failed, 2 usage (bad input), 3 denied by policy, 4 conflict or locked.
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::Denied { .. } => 3,
            EngineError::Locked { .. } | EngineError::Conflict { .. } => 4,
            EngineError::Invalid { .. } => 2,
            EngineError::Store(error) if is_store_conflict(error) => 4,
            EngineError::GitHub(
                GitHubError::HeadChanged { .. }
                | GitHubError::NotMergeable { .. }
                | GitHubError::Conflict { .. },
            ) => 4,
            EngineError::Config { .. }
            | EngineError::Store(_)
            | EngineError::GitHub(_)
            | EngineError::Secret(_) => 1,
        }
    }

    /// What kind of failure this is, for `--json` output and the dashboard.
    pub fn kind(&self) -> ErrorKind {
        match self.exit_code() {
            3 => ErrorKind::Denied,
            4 if matches!(self, EngineError::Locked { .. }) => ErrorKind::Locked,
            4 => ErrorKind::Conflict,
            2 => ErrorKind::Invalid,
            _ => ErrorKind::Failed,
        }
    }

    pub(super) fn conflict(message: impl Into<String>) -> Self {
        EngineError::Conflict {
            message: message.into(),
        }
    }

    pub(super) fn denied(reason: impl Into<String>) -> Self {
        EngineError::Denied {
            reason: reason.into(),
        }
    }
}

/// The kinds of failure a caller tells apart: the policy said no, someone holds the lock,
/// someone changed what the operation relied on, the input was wrong, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Denied,
    Locked,
    Conflict,
    Invalid,
    Failed,
}

impl ErrorKind {
    /// The short machine-readable name `--json` output uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Denied => "denied",
            ErrorKind::Locked => "locked",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Failed => "failed",
        }
    }
}

fn is_store_conflict(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Contended { .. } | StoreError::PreconditionFailed { .. }
    )
}
