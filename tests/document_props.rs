//! Properties of reading and writing request documents, over generated input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tfpilot::domain::{Request, Timestamp, parse_request, render_request};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Floats of every magnitude: each must be written back exactly as it was read.
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9_ .:-]{0,12}".prop_map(Value::from),
        Just(json!("2026-01-01T00:00:00Z")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Names that hit the fields the migration and the typed document care about, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "schema_version",
            "created_at",
            "updated_at",
            "planRun",
            "plan_run",
            "applyRun",
            "pr",
            "pullRequest",
            "prNumber",
            "prUrl",
            "status",
            "conclusion",
            "runId",
            "headSha",
            "approval",
            "approved",
            "approvers",
            "merged",
            "open",
            "config",
            "receivedAt",
            "mergedSha",
        ])
        .prop_map(String::from),
        "[a-z]{1,8}",
    ]
}

/// A minimal readable document, canonical or in the original TfPilot's form, with generated
/// fields added on top: most of these parse, so round-trip properties are not vacuous.
fn doc_like() -> impl Strategy<Value = Value> {
    let base = prop_oneof![
        Just(
            json!({"schema_version": 1, "id": "req_a", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"})
        ),
        Just(json!({"id": "req_b", "receivedAt": "2025-06-01T10:00:00Z"})),
        Just(
            json!({"id": "req_c", "createdAt": 1767225600000_i64, "prNumber": 4, "planRun": {"runId": 9, "conclusion": "success"}})
        ),
    ];
    (
        base,
        prop::collection::btree_map(field_name(), arb_json(), 0..4),
    )
        .prop_map(|(mut base, extra)| {
            let object = base.as_object_mut().unwrap();
            for (key, value) in extra {
                if ![
                    "id",
                    "schema_version",
                    "created_at",
                    "updated_at",
                    "receivedAt",
                    "createdAt",
                ]
                .contains(&key.as_str())
                {
                    object.insert(key, value);
                }
            }
            base
        })
}

fn arb_request() -> impl Strategy<Value = Request> {
    (
        "[a-z0-9_]{1,20}",
        "[ -~]{0,16}",
        prop::collection::btree_map("[a-z_]{1,10}", arb_json(), 0..5),
        prop::collection::btree_map("[a-z]{1,6}_x", arb_json(), 0..3),
        0i64..4_000_000_000,
    )
        .prop_map(|(id, project, config, extra, seconds)| {
            let at = Timestamp::from_unix_seconds(seconds).unwrap();
            let mut request = Request::new(format!("req_{id}"), project, "dev", "m", "alice", at);
            request.config = config.into_iter().collect::<Map<String, Value>>();
            request.extra = extra.into_iter().collect();
            request
        })
}

/// Found by fuzzing: a long number in a field tfpilot does not know was read as one float and
/// written back as a neighbouring one, so every rewrite of the document could change it.
#[test]
fn long_numbers_in_unknown_fields_survive_a_rewrite() {
    let text = br#"{"schema_version": 1, "id": "req_01M7WGNP40Z7NGSCF2KHJRSPGM", "project": "p",
        "environment": "dev", "module": "m", "config": {}, "requested_by": "erin",
        "created_at": "2026-11-20T13:00:00Z", "updated_at": "2026-11-20T13:04:00Z",
        "runId": 71002058109999999999999999999999999999999999999999999999999999999999}"#;
    let once = parse_request(text).unwrap();
    let again = parse_request(&render_request(&once)).unwrap();
    assert_eq!(again, once);
    assert_eq!(render_request(&again), render_request(&once));
}

#[test]
fn most_generated_documents_parse() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let parsed = (0..200)
        .filter(|_| {
            let value = doc_like().new_tree(&mut runner).unwrap().current();
            parse_request(&serde_json::to_vec(&value).unwrap()).is_ok()
        })
        .count();
    assert!(
        parsed >= 60,
        "only {parsed} of 200 generated documents parse: the round trip is not exercised"
    );
}

proptest! {
    /// Reading never panics, whatever is stored: a bad document is an error value.
    #[test]
    fn parsing_any_json_is_total(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let _ = parse_request(&bytes);
    }

    #[test]
    fn parsing_any_bytes_is_total(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_request(&bytes);
    }

    /// Whatever parses is written back in a form that parses to the same document.
    #[test]
    fn what_parses_round_trips(value in prop_oneof![arb_json(), doc_like()]) {
        let bytes = serde_json::to_vec(&value).unwrap();
        if let Ok(request) = parse_request(&bytes) {
            let again = parse_request(&render_request(&request)).unwrap();
            prop_assert_eq!(again, request);
        }
    }

    #[test]
    fn documents_round_trip(request in arb_request()) {
        prop_assert_eq!(parse_request(&render_request(&request)).unwrap(), request);
    }
}
