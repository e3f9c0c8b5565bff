//! The GitHub adapter (docs/architecture.md, "github/"): a typed client on octocrab's transport with
//! a configurable base URL (api.github.com, GitHub Enterprise Server or the
//! simulator), behind the rate-aware layer in `transport.rs`.
//!
//! Payloads are read into tfpilot's own lenient structs (`models.rs`) rather
//! than octocrab's models: those require fields that older GitHub Enterprise
//! Server versions and older recordings lack, and one missing field must not
//! stop a sync.

pub mod actions;
pub mod app;
mod cache;
pub mod client;
pub mod device;
pub mod error;
pub mod models;
mod reply;
pub mod settings;
pub mod token;
pub mod transport;

pub use actions::{DispatchInputs, Dispatched, JobLog, RunFoundBy};
pub use client::{
    BranchCreated, GitHub, GitHubSettings, MergeMethod, PullOpened, RepoId, RetryPolicy,
};
pub use error::GitHubError;
pub use transport::{CallCount, RateBudget};
