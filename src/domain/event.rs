//! Lifecycle audit events (`logs/<id>/<ts>-<rand>.json`): append-only, one object each.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub request_id: String,
    pub at: Timestamp,
    /// What happened, snake_case: `created`, `plan_dispatched`, `approved`, `merged`, ...
    pub kind: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Ties the event to the operation (and its log lines) that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Its place among the events one operation wrote at the same time (`request_created`
    /// before `plan_dispatched`): readers order by time, then this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LifecycleEvent {
    pub fn new(
        request_id: impl Into<String>,
        at: Timestamp,
        kind: impl Into<String>,
        actor: impl Into<String>,
    ) -> Self {
        LifecycleEvent {
            request_id: request_id.into(),
            at,
            kind: kind.into(),
            actor: actor.into(),
            message: None,
            correlation_id: None,
            sequence: None,
            data: Value::Null,
            extra: Map::new(),
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}
