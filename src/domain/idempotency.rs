//! Persisted idempotency records (`idempotency/create/<key>.json`): the first writer wins, so a
//! retried create finds the request it already made instead of opening a second PR.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub key: String,
    pub operation: String,
    pub request_id: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub outcome: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
