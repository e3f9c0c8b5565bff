//! Pure domain: types, rules and derivations. No I/O, no async, no clock reads.

pub mod access;
pub mod catalog;
pub mod cost;
pub mod document;
pub mod event;
pub mod hcl;
pub mod idempotency;
pub mod infra_file;
pub mod insights;
pub mod lock;
pub mod notify;
pub mod operation;
pub mod plan_output;
pub mod polling;
pub mod presentation;
pub mod registry;
pub mod request;
pub mod run;
pub mod run_kind;
pub mod status;
pub mod template;
pub mod time;
pub mod timeline;
pub mod untrusted;
pub mod workflows;

pub use document::{DocumentError, parse_request, render_request, validate_request_id};
pub use event::LifecycleEvent;
pub use idempotency::IdempotencyRecord;
pub use insights::{Insights, compute_insights};
pub use polling::{PollContext, PollDecision, PollIntervals, next_poll};
pub use request::{Request, SCHEMA_VERSION};
pub use run::{RunConclusion, RunFact, RunStatus};
pub use run_kind::RunKind;
pub use status::{Derivation, Fact, Rule, Status, derive, derive_status};
pub use time::Timestamp;
pub use timeline::{StepState, TimelineEntry, build_timeline};
