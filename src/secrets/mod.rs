//! Where sensitive values go (domain/secrets.rs says why): AWS SSM Parameter Store, or for the
//! sandbox a private directory. Write-only from tfpilot's side: it puts versions and deletes
//! parameters, and never reads a value back.

mod local;
mod ssm;

use async_trait::async_trait;
use thiserror::Error;

pub use local::LocalSecrets;
pub use ssm::{SsmOptions, SsmSecrets};

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("cannot write secret parameter {name} to {store}: {message}")]
    Write {
        name: String,
        store: String,
        message: String,
    },
    #[error("cannot delete secret parameter {name} from {store}: {message}")]
    Delete {
        name: String,
        store: String,
        message: String,
    },
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Writes `value` as a new version of parameter `name` (creating it); returns the version.
    async fn put(&self, name: &str, value: &str) -> Result<u64, SecretError>;

    /// Deletes parameter `name` with every version; one that does not exist is not an error.
    async fn delete(&self, name: &str) -> Result<(), SecretError>;

    /// Where values go, for messages (`SSM Parameter Store (eu-west-1)`).
    fn describe(&self) -> String;
}
