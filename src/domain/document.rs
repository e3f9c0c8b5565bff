//! Reading request documents: schema checks and the migration of documents written by the
//! original TfPilot (camelCase fields, no `schema_version`) to the canonical form.

use serde_json::{Map, Value};
use thiserror::Error;

use super::request::{Request, SCHEMA_VERSION};
use super::run_kind::RunKind;

/// Why a stored document cannot be read. Messages say what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    #[error("not valid JSON ({0}); fix or restore the object from its history")]
    NotJson(String),
    #[error("expected a JSON object at the top level, found {0}")]
    NotAnObject(&'static str),
    #[error(
        "written by a newer tfpilot (schema_version {found}; this build reads up to {supported}): upgrade tfpilot to read it"
    )]
    FutureSchema { found: u64, supported: u32 },
    #[error("not a valid request document: {0}")]
    Invalid(String),
    #[error(
        "the document says its id is `{id}` but it is stored as {key}; restore the original or fix the id"
    )]
    IdMismatch { id: String, key: String },
    #[error("invalid request id `{id}`: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// Larger than a document can be: not read, so it costs no memory.
    #[error("too large: {size} bytes, limit {limit} bytes; archive or fix it")]
    TooLarge { size: u64, limit: u64 },
    /// A FIFO, a device, a directory or a symbolic link where a file should be: never opened
    /// for reading, so it cannot hang a reader or point outside the store.
    #[error("not a regular file ({kind}); replace it with the document")]
    NotAFile { kind: &'static str },
}

/// The largest request document, event or team configuration file tfpilot reads (1 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 20;

/// Parses a stored request document, migrating older forms to the current schema.
pub fn parse_request(bytes: &[u8]) -> Result<Request, DocumentError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|err| DocumentError::NotJson(err.to_string()))?;
    request_from_value(value)
}

pub fn request_from_value(value: Value) -> Result<Request, DocumentError> {
    let Value::Object(mut object) = value else {
        return Err(DocumentError::NotAnObject(json_kind(&value)));
    };
    match object.get("schema_version") {
        None => migrate_legacy(&mut object),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(found) if found > u64::from(SCHEMA_VERSION) => {
                return Err(DocumentError::FutureSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(0) => migrate_legacy(&mut object),
            Some(_) => {}
            None => {
                return Err(DocumentError::Invalid(format!(
                    "schema_version {n} is not a whole number"
                )));
            }
        },
        Some(other) => {
            return Err(DocumentError::Invalid(format!(
                "schema_version must be a number, found {}",
                json_kind(other)
            )));
        }
    }
    let request: Request = serde_json::from_value(Value::Object(object))
        .map_err(|err| DocumentError::Invalid(err.to_string()))?;
    validate_request_id(&request.id)?;
    Ok(request)
}

/// Serializes a request the way tfpilot stores it.
pub fn render_request(request: &Request) -> Vec<u8> {
    // Serializing a struct of strings, numbers and JSON values cannot fail.
    #[allow(clippy::expect_used)]
    let mut bytes = serde_json::to_vec_pretty(request).expect("request serializes to JSON");
    bytes.push(b'\n');
    bytes
}

/// Ids end up in object keys and file names, so they are restricted to a safe alphabet.
pub fn validate_request_id(id: &str) -> Result<(), DocumentError> {
    let invalid = |reason| DocumentError::InvalidId {
        id: id.to_string(),
        reason,
    };
    if id.is_empty() {
        return Err(invalid("it is empty"));
    }
    if id.len() > 128 {
        return Err(invalid("it is longer than 128 characters"));
    }
    if id.starts_with('.') {
        return Err(invalid("it starts with a dot"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(invalid("use only letters, digits, `_`, `-` and `.`"));
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Moves `from` to `to` unless the canonical field is already there (then the legacy one is
/// dropped: the canonical field was written later and wins).
fn rename(object: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(value) = object.remove(from)
        && !object.contains_key(to)
    {
        object.insert(to.to_string(), value);
    }
}

fn with_object(
    object: &mut Map<String, Value>,
    key: &str,
    f: impl FnOnce(&mut Map<String, Value>),
) {
    if let Some(Value::Object(inner)) = object.get_mut(key) {
        f(inner);
    }
}

/// The original TfPilot wrote camelCase documents without a schema version.
fn migrate_legacy(doc: &mut Map<String, Value>) {
    for (from, to) in [
        ("planRun", "plan_run"),
        ("applyRun", "apply_run"),
        ("destroyRun", "destroy_run"),
        ("driftRun", "drift_run"),
        ("mergedSha", "merged_sha"),
        ("commitSha", "commit_sha"),
        ("statusDerivedAt", "status_derived_at"),
        ("createdAt", "created_at"),
        ("receivedAt", "created_at"),
        ("updatedAt", "updated_at"),
        ("requestedBy", "requested_by"),
        ("templateId", "template_id"),
        ("cleanupPr", "cleanup_pr"),
        ("cleanupPR", "cleanup_pr"),
        ("branchName", "branch"),
        ("pullRequest", "pr"),
    ] {
        rename(doc, from, to);
    }

    // `prNumber`/`prUrl` were flat fields next to (or instead of) the `pr` object.
    let pr_number = doc.remove("prNumber");
    let pr_url = doc.remove("prUrl");
    if pr_number.is_some() || pr_url.is_some() {
        let pr = doc.entry("pr").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(pr) = pr {
            if let Some(number) = pr_number {
                pr.entry("number").or_insert(number);
            }
            if let Some(url) = pr_url {
                pr.entry("url").or_insert(url);
            }
        }
    }

    for key in ["pr", "cleanup_pr"] {
        with_object(doc, key, migrate_pull_request);
    }
    for kind in RunKind::ALL {
        with_object(doc, kind.document_key(), migrate_run);
    }
    with_object(doc, "approval", |approval| {
        rename(approval, "approvedAt", "at");
        rename(approval, "approvedBy", "approvers");
        if let Some(Value::String(single)) = approval.get("approvers").cloned() {
            approval.insert(
                "approvers".into(),
                Value::Array(vec![Value::String(single)]),
            );
        }
    });
    with_object(doc, "plan", |plan| rename(plan, "outputKey", "output_key"));
    with_object(doc, "target", |target| {
        rename(target, "envPath", "env_path")
    });
    with_object(doc, "lock", |lock| {
        rename(lock, "acquiredAt", "acquired_at");
        rename(lock, "expiresAt", "expires_at");
    });
    with_object(doc, "drift", |drift| {
        rename(drift, "checkedAt", "checked_at")
    });
    with_object(doc, "cost", |cost| {
        rename(cost, "monthlyDelta", "monthly_delta")
    });

    // The original sometimes never stamped `updatedAt`; creation time is the honest lower bound.
    if !doc.contains_key("updated_at")
        && let Some(created) = doc.get("created_at").cloned()
    {
        doc.insert("updated_at".into(), created);
    }
    doc.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
}

fn migrate_pull_request(pr: &mut Map<String, Value>) {
    rename(pr, "htmlUrl", "url");
    rename(pr, "html_url", "url");
    rename(pr, "headSha", "head_sha");
    rename(pr, "mergedAt", "merged_at");
    // The original stored `open: bool` instead of GitHub's `state`.
    if let Some(open) = pr.remove("open")
        && !pr.contains_key("state")
        && let Some(open) = open.as_bool()
    {
        pr.insert(
            "state".into(),
            Value::from(if open { "open" } else { "closed" }),
        );
    }
}

fn migrate_run(run: &mut Map<String, Value>) {
    rename(run, "runId", "id");
    rename(run, "url", "html_url");
    rename(run, "htmlUrl", "html_url");
    rename(run, "headSha", "head_sha");
    rename(run, "dispatchId", "dispatch_id");
    rename(run, "createdAt", "created_at");
    rename(run, "updatedAt", "updated_at");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::{RunConclusion, RunStatus};

    const LEGACY: &str = r#"{
        "id": "req_legacy_1",
        "project": "payments",
        "environment": "dev",
        "module": "s3-bucket",
        "config": {"bucketName": "keep-my-case"},
        "receivedAt": "2025-06-01T10:00:00Z",
        "prNumber": 42,
        "prUrl": "https://github.com/acme/infra/pull/42",
        "planRun": {"runId": 7, "status": "completed", "conclusion": "success", "headSha": "abc", "url": "https://example/run/7"},
        "applyRun": {"runId": 8, "conclusion": "failure"},
        "mergedSha": "def",
        "commitSha": "abc",
        "statusDerivedAt": "2025-06-01T11:00:00Z",
        "status": "complete",
        "someFutureThing": {"a": 1}
    }"#;

    #[test]
    fn migrates_legacy_camel_case() {
        let request = parse_request(LEGACY.as_bytes()).unwrap();
        assert_eq!(request.schema_version, SCHEMA_VERSION);
        assert_eq!(request.created_at.to_rfc3339(), "2025-06-01T10:00:00Z");
        assert_eq!(request.updated_at, request.created_at);
        let pr = request.pr.as_deref().unwrap();
        assert_eq!(pr.number, Some(42));
        assert_eq!(
            pr.url.as_deref(),
            Some("https://github.com/acme/infra/pull/42")
        );
        let plan = request.plan_run.as_deref().unwrap();
        assert_eq!(plan.id, Some(7));
        assert_eq!(plan.head_sha.as_deref(), Some("abc"));
        assert_eq!(plan.html_url.as_deref(), Some("https://example/run/7"));
        assert_eq!(plan.status, Some(RunStatus::Completed));
        let apply = request.apply_run.as_deref().unwrap();
        assert_eq!(apply.conclusion, Some(RunConclusion::Failure));
        assert_eq!(request.merged_sha.as_deref(), Some("def"));
        assert_eq!(request.commit_sha.as_deref(), Some("abc"));
        assert!(request.status_derived_at.is_some());
        // User config keys are data, never renamed; unknown fields are kept.
        assert!(request.config.contains_key("bucketName"));
        assert_eq!(request.extra["someFutureThing"]["a"], 1);
    }

    #[test]
    fn migrated_document_is_written_canonically_and_rereads_identically() {
        let request = parse_request(LEGACY.as_bytes()).unwrap();
        let bytes = render_request(&request);
        let text = String::from_utf8(bytes.clone()).unwrap();
        for legacy in [
            "planRun",
            "prNumber",
            "mergedSha",
            "receivedAt",
            "headSha",
            "runId",
        ] {
            assert!(!text.contains(legacy), "{legacy} left in {text}");
        }
        assert!(text.contains("\"schema_version\": 1"));
        assert_eq!(parse_request(&bytes).unwrap(), request);
    }

    #[test]
    fn legacy_pull_request_object_and_open_flag() {
        let doc = r#"{"id":"r1","createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-02T00:00:00Z",
            "pullRequest":{"number":3,"htmlUrl":"u","open":true,"headSha":"h"}}"#;
        let request = parse_request(doc.as_bytes()).unwrap();
        let pr = request.pr.unwrap();
        assert!(pr.is_open());
        assert_eq!(pr.url.as_deref(), Some("u"));
        assert_eq!(pr.head_sha.as_deref(), Some("h"));
    }

    #[test]
    fn canonical_field_wins_over_legacy_duplicate() {
        let doc = r#"{"id":"r1","created_at":"2025-01-01T00:00:00Z","mergedSha":"old","merged_sha":"new"}"#;
        assert_eq!(
            parse_request(doc.as_bytes()).unwrap().merged_sha.as_deref(),
            Some("new")
        );
    }

    #[test]
    fn unknown_fields_survive_a_rewrite() {
        let doc = r#"{"schema_version":1,"id":"r1","created_at":"2025-01-01T00:00:00Z",
            "updated_at":"2025-01-01T00:00:00Z","added_later":[1,2],
            "pr":{"number":1,"state":"open","labels":["x"]}}"#;
        let request = parse_request(doc.as_bytes()).unwrap();
        let back: Value = serde_json::from_slice(&render_request(&request)).unwrap();
        assert_eq!(back["added_later"], serde_json::json!([1, 2]));
        assert_eq!(back["pr"]["labels"], serde_json::json!(["x"]));
    }

    #[test]
    fn newer_schema_is_refused_with_advice() {
        let doc = r#"{"schema_version":7,"id":"r1"}"#;
        let err = parse_request(doc.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            DocumentError::FutureSchema {
                found: 7,
                supported: 1
            }
        );
        assert!(err.to_string().contains("upgrade tfpilot"));
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        assert!(matches!(
            parse_request(b"{not json"),
            Err(DocumentError::NotJson(_))
        ));
        assert!(matches!(
            parse_request(b"[1]"),
            Err(DocumentError::NotAnObject("an array"))
        ));
        let missing = parse_request(br#"{"schema_version":1,"id":"r1"}"#).unwrap_err();
        assert!(missing.to_string().contains("created_at"), "{missing}");
        let bad_id = parse_request(br#"{"schema_version":1,"id":"../x","created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}"#);
        assert!(matches!(bad_id, Err(DocumentError::InvalidId { .. })));
    }
}
