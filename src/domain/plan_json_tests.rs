use serde_json::json;

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/plans/{name}.plan.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("fixture")
}

fn actions(plan: &PlanJson) -> Vec<(String, Vec<String>)> {
    plan.resource_changes()
        .into_iter()
        .map(|c| (c.address, c.actions))
        .collect()
}

#[test]
fn every_real_plan_reads_with_its_changes() {
    // (fixture, format_version, number of resource changes, how many change something)
    let expected = [
        ("tf-create-sensitive-heredoc", "1.2", 3, 3),
        ("tf-replace-sensitive-heredoc", "1.2", 3, 2),
        ("tf-replace-sensitive-random-bytes", "1.2", 1, 1),
        ("tf-destroy-not-in-config", "1.2", 3, 2),
        ("tfjson-110-sensitive-values", "0.2", 7, 7),
        ("tfjson-120-basic-create", "1.1", 7, 7),
        ("tfjson-013-module-data-read", "0.1", 3, 2),
        ("tf-no-changes", "1.2", 0, 0),
        ("tf-no-resources", "1.2", 0, 0),
        ("tofu-create-and-data-read", "1.2", 4, 3),
        ("tf-forget-removed-block", "1.2", 1, 1),
        ("tf-update-terraform-data", "1.2", 1, 1),
    ];
    for (name, version, total, changing) in expected {
        let plan = PlanJson::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.format_version(), version, "{name}");
        let changes = plan.resource_changes();
        assert_eq!(changes.len(), total, "{name}");
        assert_eq!(
            changes.iter().filter(|c| c.changes()).count(),
            changing,
            "{name}"
        );
    }
}

#[test]
fn a_replacement_keeps_terraforms_action_pair() {
    let plan = PlanJson::parse(&fixture("tf-replace-sensitive-heredoc")).expect("plan");
    assert_eq!(
        actions(&plan),
        [
            (
                "local_file.test".to_string(),
                vec!["delete".to_string(), "create".to_string()]
            ),
            ("local_file.test2".to_string(), vec!["no-op".to_string()]),
            (
                "local_file.test3".to_string(),
                vec!["delete".to_string(), "create".to_string()]
            ),
        ]
    );
}

#[test]
fn sensitive_values_are_masked_and_never_kept() {
    let text = fixture("tf-create-sensitive-heredoc");
    // The real plan carries the sensitive content in the clear...
    assert!(text.contains("\"content\": \"foo-42\""));
    let plan = PlanJson::parse(&text).expect("plan");
    let kept = plan.to_json();
    // ...and what tfpilot keeps does not, nor the variables that hold it.
    assert!(!kept.contains("foo-42"), "{kept}");
    assert!(!kept.contains("\"variables\""));
    assert!(!kept.contains("\"configuration\""));
    assert!(!kept.contains("\"planned_values\""));
    let first = &plan.as_value()["resource_changes"][0]["change"];
    assert_eq!(first["after"]["content"], json!(SENSITIVE_MASK));
    // A sensitive attribute without a value stays null: nothing to hide.
    assert_eq!(first["after"]["sensitive_content"], json!(null));
    // What is not marked is kept as is.
    assert_eq!(first["after"]["filename"], json!("../test.txt"));

    let bytes = PlanJson::parse(&fixture("tf-replace-sensitive-random-bytes")).expect("plan");
    let before = &bytes.as_value()["resource_changes"][0]["change"]["before"];
    assert_eq!(before["hex"], json!(SENSITIVE_MASK));
    assert_eq!(before["base64"], json!(SENSITIVE_MASK));
    assert_eq!(before["length"], json!(4));
    assert!(!bytes.to_json().contains("87193988"));

    let outputs = PlanJson::parse(&fixture("tfjson-110-sensitive-values")).expect("plan");
    assert_eq!(
        outputs.as_value()["output_changes"]["foo"]["after"],
        json!(SENSITIVE_MASK)
    );
}

#[test]
fn nested_marks_mask_list_items_and_map_values() {
    let plan = PlanJson::from_value(json!({
        "format_version": "1.2",
        "resource_changes": [{
            "address": "x.y",
            "change": {
                "actions": ["update"],
                "before": {"tags": {"a": "1", "b": "2"}, "list": ["p", "q"]},
                "after": {"tags": {"a": "1", "b": "3"}, "list": ["p", "r"]},
                "before_sensitive": {"tags": {"b": true}, "list": [false, true]},
                "after_sensitive": {"tags": {"b": true}, "list": [false, true]}
            }
        }]
    }))
    .expect("plan");
    let change = &plan.as_value()["resource_changes"][0]["change"];
    assert_eq!(
        change["after"],
        json!({"tags": {"a": "1", "b": SENSITIVE_MASK}, "list": ["p", SENSITIVE_MASK]})
    );
    assert_eq!(
        change["before"],
        json!({"tags": {"a": "1", "b": SENSITIVE_MASK}, "list": ["p", SENSITIVE_MASK]})
    );
}

#[test]
fn what_is_not_a_plan_is_refused_with_the_reason() {
    let malformed = PlanJson::parse(&fixture("tfjson-INVALID-malformed")).unwrap_err();
    assert!(
        matches!(malformed, PlanJsonError::NotJson(_)),
        "{malformed}"
    );
    assert!(malformed.to_string().contains("terraform show -json"));
    // Terragrunt's run-all writes several plans one after another: not one plan.
    assert!(matches!(
        PlanJson::parse(&fixture("tf-terragrunt-run-all-3-plans")),
        Err(PlanJsonError::NotJson(_))
    ));
    assert!(matches!(
        PlanJson::parse("[1, 2]"),
        Err(PlanJsonError::NotAPlan(_))
    ));
    let state = PlanJson::parse(r#"{"version": 4, "resources": []}"#).unwrap_err();
    assert!(state.to_string().contains("format_version"), "{state}");
    assert_eq!(
        PlanJson::parse(r#"{"format_version": "2.0"}"#),
        Err(PlanJsonError::NewerFormat("2.0".into()))
    );
    let no_actions = PlanJson::parse(
        r#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "change": {}}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        no_actions.to_string(),
        "this is not a Terraform JSON plan: resource_changes[0]: no change.actions list"
    );
    let huge = " ".repeat(MAX_PLAN_JSON_BYTES + 1);
    assert!(matches!(
        PlanJson::parse(&huge),
        Err(PlanJsonError::TooLarge { .. })
    ));
}

#[test]
fn scoping_keeps_the_requests_changes_and_names_the_rest() {
    let plan = PlanJson::from_value(json!({
        "format_version": "1.2",
        "resource_changes": [
            {"address": "module.tfpilot_req_1.aws_s3_bucket.this", "change": {"actions": ["create"]}},
            {"address": "module.tfpilot_req_1.aws_s3_bucket_versioning.this[0]", "change": {"actions": ["create"]}},
            {"address": "module.tfpilot_req_10.aws_s3_bucket.this", "change": {"actions": ["create"]}},
            {"address": "module.tfpilot_req_2.aws_sqs_queue.this", "change": {"actions": ["delete", "create"]}},
            {"address": "aws_vpc.main", "change": {"actions": ["no-op"]}},
            {"address": "data.aws_caller_identity.me", "change": {"actions": ["read"]}}
        ],
        "resource_drift": [
            {"address": "module.tfpilot_req_3.aws_db_instance.this", "change": {"actions": ["update"]}}
        ]
    }))
    .expect("plan");
    let scoped = plan.scoped("req_1");
    let addresses: Vec<&str> = scoped.plan["resource_changes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["address"].as_str().expect("address"))
        .collect();
    assert_eq!(
        addresses,
        [
            "module.tfpilot_req_1.aws_s3_bucket.this",
            "module.tfpilot_req_1.aws_s3_bucket_versioning.this[0]"
        ]
    );
    assert_eq!(
        scoped.outside,
        [
            "module.tfpilot_req_10.aws_s3_bucket.this",
            "module.tfpilot_req_2.aws_sqs_queue.this"
        ]
    );
    // Drift of other requests is not the request's, and not a change of the plan either.
    assert_eq!(scoped.plan["resource_drift"], json!([]));
    // A real plan without the request's module lies outside whole.
    let foreign = PlanJson::parse(&fixture("tfjson-120-basic-create")).expect("plan");
    let scoped = foreign.scoped("req_1");
    assert_eq!(scoped.outside.len(), 7);
    assert_eq!(scoped.plan["resource_changes"], json!([]));
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("file");
        writer.write_all(content).expect("write");
    }
    writer.finish().expect("zip").into_inner()
}

#[test]
fn the_artifacts_plan_is_read_from_its_zip() {
    let plan = fixture("tf-update-terraform-data");
    let text = text_from_artifact_zip(&zip_of(&[("plan.json", plan.as_bytes())])).expect("plan");
    assert_eq!(text, plan);
    // Any one JSON file will do, beside other files.
    let text = text_from_artifact_zip(&zip_of(&[
        ("README.txt", b"hello"),
        ("tfplan.json", plan.as_bytes()),
    ]))
    .expect("plan");
    assert_eq!(text, plan);
    let two = text_from_artifact_zip(&zip_of(&[("a.json", b"{}"), ("b.json", b"{}")]));
    assert!(
        matches!(two, Err(PlanJsonError::NotAnArtifact(_))),
        "{two:?}"
    );
    let garbage = text_from_artifact_zip(b"not a zip").unwrap_err();
    assert!(
        garbage
            .to_string()
            .starts_with("the plan artifact is not a zip"),
        "{garbage}"
    );
}
