use serde_json::json;

use super::*;

const BUCKET: &str = r#"{
  "name": "s3-bucket",
  "description": "A private S3 bucket",
  "source": "git::https://github.com/acme/modules.git//s3-bucket",
  "version": "v1.4.0",
  "fields": [
    {"name": "name", "type": "string", "required": true, "pattern": "^[a-z0-9-]+$", "min": 3, "max": 63},
    {"name": "region", "type": "enum", "values": ["us-east-1", "eu-west-1"], "default": "us-east-1"},
    {"name": "versioning", "type": "bool", "default": true},
    {"name": "retention_days", "type": "number", "min": 1, "max": 3650},
    {"name": "readers", "type": "list(string)", "max": 3},
    {"name": "tags", "type": "map(string)"},
    {"name": "kms_key", "type": "string", "sensitive": true}
  ]
}"#;

fn module() -> ModuleDef {
    ModuleDef::parse(BUCKET, "config/modules/s3-bucket.json").unwrap()
}

fn input(value: serde_json::Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn applies_defaults_and_keeps_field_order() {
    let config = module().validate(&input(json!({"name": "logs"}))).unwrap();
    assert_eq!(
        Value::Object(config.values),
        json!({"name": "logs", "region": "us-east-1", "versioning": true})
    );
}

#[test]
fn coerces_form_text() {
    let config = module()
        .validate(&input(json!({
            "name": "logs",
            "versioning": "no",
            "retention_days": " 30 ",
            "readers": "alice, bob\ncarol",
            "tags": "team=payments, cost-center = 42",
            "kms_key": ""
        })))
        .unwrap();
    assert_eq!(config.values["versioning"], json!(false));
    assert_eq!(config.values["retention_days"], json!(30));
    assert_eq!(config.values["readers"], json!(["alice", "bob", "carol"]));
    assert_eq!(
        config.values["tags"],
        json!({"team": "payments", "cost-center": "42"})
    );
    assert!(
        !config.values.contains_key("kms_key"),
        "blank means not given"
    );
}

#[test]
fn reports_every_field_error_at_once() {
    let errors = module()
        .validate(&input(json!({
            "region": "mars-1",
            "versioning": "maybe",
            "retention_days": 0,
            "readers": "a,b,c,d",
            "tags": "novalue",
            "colour": "red"
        })))
        .unwrap_err();
    let by_field: Vec<(&str, &str)> = errors
        .0
        .iter()
        .map(|error| (error.field.as_str(), error.message.as_str()))
        .collect();
    assert_eq!(
        by_field,
        vec![
            ("colour", "s3-bucket has no such field"),
            ("name", "is required"),
            ("region", "must be one of us-east-1, eu-west-1"),
            ("versioning", "must be true or false"),
            ("retention_days", "must be at least 1"),
            ("readers", "must be at most 3 items"),
            ("tags", "entry \"novalue\" must look like key=value"),
        ]
    );
    assert!(
        errors
            .to_string()
            .starts_with("colour: s3-bucket has no such field; name: is required")
    );
}

#[test]
fn checks_patterns_lengths_and_types() {
    let module = module();
    let message = |value: Value| {
        module
            .validate(&input(json!({"name": value})))
            .unwrap_err()
            .0[0]
            .message
            .clone()
    };
    assert_eq!(message(json!("Bad_Name")), "must match ^[a-z0-9-]+$");
    assert_eq!(message(json!("ab")), "must be at least 3 characters");
    // A pattern with a description is explained in words, not as a regular expression.
    let mut described = module.clone();
    described.fields[0].pattern_description = Some("lowercase letters, digits and dashes".into());
    let error = described
        .validate(&input(json!({"name": "Bad_Name"})))
        .unwrap_err()
        .0[0]
        .message
        .clone();
    assert_eq!(error, "must be lowercase letters, digits and dashes");
    assert_eq!(message(json!(12)), "must be a string, not a number");
    assert_eq!(message(json!(["x"])), "must be a string, not a list");
}

#[test]
fn renders_the_block_from_validated_values() {
    let module = module();
    let config = module
        .validate(&input(
            json!({"name": "logs", "tags": {"team": "pay\"ments"}}),
        ))
        .unwrap();
    let block = module.block("req_1", &config);
    assert_eq!(block.version.as_deref(), Some("v1.4.0"));
    let names: Vec<&str> = block.values.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, vec!["name", "region", "versioning", "tags"]);
    let rendered = crate::domain::infra_file::render_block(&block).unwrap();
    assert!(rendered.contains(r#""team" = "pay\"ments""#), "{rendered}");
}

#[test]
fn refuses_broken_definitions() {
    let cases = [
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "count", "type": "number"}]}"#,
            "reserved",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a b", "type": "string"}]}"#,
            "not an HCL identifier",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "enum"}]}"#,
            "lists no values",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "string", "pattern": "("}]}"#,
            "invalid pattern",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "number", "default": "many"}]}"#,
            "default that",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "number", "min": 5, "max": 1}]}"#,
            "above max",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "bool"}]}"#,
            "defined twice",
        ),
        (
            r#"{"name": "x", "source": "s", "fields": [{"name": "a", "type": "float"}]}"#,
            "unknown variant",
        ),
        (r#"{"name": "x", "source": " "}"#, "source is empty"),
        (r#"{"name": "x"}"#, "missing field `source`"),
    ];
    for (text, expected) in cases {
        let error = ModuleDef::parse(text, "config/modules/x.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
        assert!(error.contains("config/modules/x.json"), "{error}");
    }
}

#[test]
fn unknown_module_lists_known_ones() {
    let modules = vec![module()];
    let error = find_module(&modules, "rds").unwrap_err().to_string();
    assert!(error.contains("known: s3-bucket"), "{error}");
    assert_eq!(
        find_module(&modules, "s3-bucket").unwrap().name,
        "s3-bucket"
    );
}
