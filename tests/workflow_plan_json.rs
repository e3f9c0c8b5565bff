//! The plan workflow's `Plan as JSON` step (docs/workflows/tfpilot-plan.yml) uploads what
//! tfpilot's own reader keeps: its jq program, run on real Terraform plans
//! (tests/fixtures/plans), masks every value Terraform marks sensitive and keeps the change
//! parts, exactly as `domain::plan_json` does. jq is on GitHub's runners; scripts/test installs
//! it where it is missing, and CI fails without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;
use tfpilot::domain::plan_json::PlanJson;

const WORKFLOW: &str = include_str!("../docs/workflows/tfpilot-plan.yml");

fn jq_program() -> &'static str {
    let start = WORKFLOW.find("jq -c '").expect("the jq step") + "jq -c '".len();
    let end = WORKFLOW[start..]
        .find("' tfplan.json > plan.json")
        .expect("the end of the jq program");
    &WORKFLOW[start..start + end]
}

fn jq(program: &str, input: &str) -> Option<String> {
    let mut child = match Command::new("jq")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) if std::env::var_os("CI").is_none() => return None,
        Err(error) => panic!("jq is needed to test the plan workflow's step: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "jq failed");
    Some(String::from_utf8(output.stdout).unwrap())
}

/// The same plan whichever wrote it: jq writes `null` for a missing side and empty lists where
/// Terraform wrote nothing.
fn normalized(plan: &PlanJson) -> Value {
    let mut value = plan.as_value();
    let object = value.as_object_mut().unwrap();
    object.retain(|_, v| {
        !(v.is_null()
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(serde_json::Map::is_empty))
    });
    let drop_null_sides = |change: &mut Value| {
        if let Some(change) = change.as_object_mut() {
            change.retain(|key, v| !((key == "before" || key == "after") && v.is_null()));
        }
    };
    for key in ["resource_changes", "resource_drift"] {
        if let Some(changes) = object.get_mut(key).and_then(Value::as_array_mut) {
            for change in changes {
                if let Some(inner) = change.get_mut("change") {
                    drop_null_sides(inner);
                }
            }
        }
    }
    if let Some(outputs) = object
        .get_mut("output_changes")
        .and_then(Value::as_object_mut)
    {
        for change in outputs.values_mut() {
            drop_null_sides(change);
        }
    }
    value
}

#[test]
fn the_workflows_jq_keeps_and_masks_what_tfpilot_does() {
    let program = jq_program();
    // (fixture, a sensitive value the real plan holds in the clear)
    for (name, secret) in [
        ("tf-create-sensitive-heredoc", Some("foo-42")),
        ("tf-replace-sensitive-heredoc", None),
        ("tf-replace-sensitive-random-bytes", Some("87193988")),
        ("tfjson-110-sensitive-values", None),
        ("tfjson-120-basic-create", None),
        ("tf-destroy-not-in-config", None),
        ("tf-no-changes", None),
        ("tofu-create-and-data-read", None),
    ] {
        let original =
            std::fs::read_to_string(format!("tests/fixtures/plans/{name}.plan.json")).unwrap();
        if let Some(secret) = secret {
            assert!(original.contains(secret), "{name}: the fixture changed");
        }
        let Some(uploaded) = jq(program, &original) else {
            println!("jq is not installed here: skipped (CI requires it)");
            return;
        };
        if let Some(secret) = secret {
            assert!(
                !uploaded.contains(secret),
                "{name}: the upload leaks {secret}"
            );
        }
        let from_workflow = PlanJson::parse(&uploaded).unwrap_or_else(|e| panic!("{name}: {e}"));
        let from_reader = PlanJson::parse(&original).unwrap();
        assert_eq!(
            normalized(&from_workflow),
            normalized(&from_reader),
            "{name}"
        );
    }
}
