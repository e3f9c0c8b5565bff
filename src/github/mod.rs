//! The GitHub adapter (DESIGN §7): a typed client on octocrab's transport with
//! a configurable base URL (api.github.com, GitHub Enterprise Server or the
//! simulator), behind the rate-aware layer in `transport.rs`.
//!
//! Payloads are read into tfpilot's own lenient structs (`models.rs`) rather
//! than octocrab's models: those require fields that older GitHub Enterprise
//! Server versions and older recordings lack, and one missing field must not
//! stop a sync.

mod cache;
pub mod client;
pub mod device;
pub mod error;
pub mod models;
pub mod token;
pub mod transport;

pub use client::{
    BranchCreated, DispatchInputs, Dispatched, GitHub, GitHubSettings, JobLog, MergeMethod,
    PullOpened, RepoId, RetryPolicy, RunFoundBy,
};
pub use error::GitHubError;
pub use transport::{CallCount, RateBudget};
