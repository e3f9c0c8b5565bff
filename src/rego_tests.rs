use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::domain::plan_json::PlanJson;
use crate::domain::policy::Verdict;

fn seeds() -> Vec<(String, String)> {
    let dir = format!("{}/examples/store/policies", env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("seed policies")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("name")
                .to_string();
            (name, std::fs::read_to_string(&path).expect("policy"))
        })
        .collect();
    seeds.sort();
    seeds
}

fn corpus_plan(name: &str) -> PlanJson {
    let path = format!(
        "{}/tests/fixtures/plans/{name}.plan.json",
        env!("CARGO_MANIFEST_DIR")
    );
    PlanJson::parse(&std::fs::read_to_string(path).expect("fixture")).expect("plan")
}

fn input(plan: Value, environment: &str, cost: Value) -> Value {
    json!({
        "plan": plan,
        "outside": [],
        "request": {"id": "req_1", "project": "core", "environment": environment,
                    "module": "x", "values": {}, "requester": "alice", "template": null},
        "cost": cost,
    })
}

fn change(address: &str, kind: &str, actions: &[&str], after: Value) -> Value {
    json!({"address": address, "type": kind, "change": {"actions": actions, "after": after}})
}

fn plan_of(changes: Vec<Value>) -> Value {
    json!({"format_version": "1.2", "resource_changes": changes})
}

fn one(source: &str) -> PolicySet {
    PolicySet::compile([("p".to_string(), source.to_string())])
}

#[test]
fn the_seed_policies_deny_warn_and_pass_as_they_say() {
    let policies = PolicySet::compile(seeds());
    assert_eq!(
        policies.names(),
        ["buckets", "monthly-cost", "prod-databases"]
    );
    let open_block = change(
        "module.tfpilot_req_1.aws_s3_bucket_public_access_block.this",
        "aws_s3_bucket_public_access_block",
        &["create"],
        json!({"block_public_acls": true, "block_public_policy": false,
               "ignore_public_acls": true, "restrict_public_buckets": true}),
    );
    let bucket = change(
        "module.tfpilot_req_1.aws_s3_bucket.this",
        "aws_s3_bucket",
        &["create"],
        json!({"bucket": "logs"}),
    );
    let report = policies.evaluate(
        &input(
            plan_of(vec![bucket.clone(), open_block]),
            "dev",
            Value::Null,
        ),
        Mode::Judge,
    );
    assert_eq!(report.verdict, Verdict::Deny);
    assert_eq!(
        report.blocking(),
        [
            "buckets: module.tfpilot_req_1.aws_s3_bucket_public_access_block.this: block_public_policy must be true (buckets block public access)"
        ]
    );
    let lonely = policies.evaluate(
        &input(plan_of(vec![bucket]), "dev", Value::Null),
        Mode::Judge,
    );
    assert_eq!(
        lonely.blocking(),
        [
            "buckets: module.tfpilot_req_1.aws_s3_bucket.this: a new bucket needs an aws_s3_bucket_public_access_block"
        ]
    );

    let database = change(
        "module.tfpilot_req_1.aws_db_instance.this",
        "aws_db_instance",
        &["create"],
        json!({"multi_az": false, "instance_class": "db.t4g.micro"}),
    );
    let prod = policies.evaluate(
        &input(plan_of(vec![database.clone()]), "prod", Value::Null),
        Mode::Judge,
    );
    assert_eq!(
        prod.blocking(),
        [
            "prod-databases: module.tfpilot_req_1.aws_db_instance.this: a production database must be multi_az (set multi_az = true)"
        ]
    );
    let dev = policies.evaluate(
        &input(
            plan_of(vec![database]),
            "dev",
            json!({"monthly_delta": 152.57, "monthly_total": 200.0, "currency": "USD"}),
        ),
        Mode::Judge,
    );
    assert_eq!(dev.verdict, Verdict::Warn);
    assert_eq!(
        dev.warnings(),
        [
            "monthly-cost: adds 152.57 USD a month",
            "prod-databases: module.tfpilot_req_1.aws_db_instance.this is single-AZ: fine for dev, not for prod"
        ]
    );
    let dear = policies.evaluate(
        &input(
            plan_of(vec![]),
            "dev",
            json!({"monthly_delta": 1303.28, "monthly_total": 1303.28, "currency": "USD"}),
        ),
        Mode::Judge,
    );
    assert_eq!(
        dear.blocking(),
        [
            "monthly-cost: adds 1303.28 USD a month, more than 500: an admin must override (tfpilot policy override)"
        ]
    );
    // An attribute the plan does not set is not "true": a database without multi_az is
    // single-AZ, a block without a switch is open.
    let unset = change(
        "module.tfpilot_req_1.aws_db_instance.this",
        "aws_db_instance",
        &["create"],
        json!({"instance_class": "db.t4g.micro"}),
    );
    let half_block = change(
        "module.tfpilot_req_1.aws_s3_bucket_public_access_block.this",
        "aws_s3_bucket_public_access_block",
        &["update"],
        json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true}),
    );
    let report = policies.evaluate(
        &input(plan_of(vec![unset, half_block]), "prod", Value::Null),
        Mode::Judge,
    );
    assert_eq!(
        report.blocking(),
        [
            "buckets: module.tfpilot_req_1.aws_s3_bucket_public_access_block.this: restrict_public_buckets must be true (buckets block public access)",
            "prod-databases: module.tfpilot_req_1.aws_db_instance.this: a production database must be multi_az (set multi_az = true)"
        ]
    );
    let nothing = policies.evaluate(&input(plan_of(vec![]), "prod", Value::Null), Mode::Judge);
    assert_eq!(nothing.verdict, Verdict::Pass);
}

/// The real plans of the corpus, whole (as `tfpilot policy test --plan` reads a file): the
/// seeds find nothing of theirs in them, and a rule on deletions finds exactly the plans that
/// delete.
#[test]
fn real_plans_are_judged() {
    let no_deletes = r#"
package tfpilot.no_deletes

deny contains msg if {
	some rc in input.plan.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s would be deleted", [rc.address])
}

warn contains msg if {
	some rc in input.plan.resource_changes
	rc.change.after_unknown.id == true
	msg := sprintf("%s gets its id at apply", [rc.address])
}
"#;
    let mut sources = seeds();
    sources.push(("no-deletes".to_string(), no_deletes.to_string()));
    let policies = PolicySet::compile(sources);
    let mut seen = Vec::new();
    for name in [
        "tf-create-sensitive-heredoc",
        "tf-replace-sensitive-heredoc",
        "tf-replace-sensitive-random-bytes",
        "tf-destroy-not-in-config",
        "tfjson-110-sensitive-values",
        "tfjson-120-basic-create",
        "tfjson-013-module-data-read",
        "tf-no-changes",
        "tf-no-resources",
        "tofu-create-and-data-read",
        "tf-forget-removed-block",
        "tf-update-terraform-data",
    ] {
        let plan = corpus_plan(name).as_value();
        let report = policies.evaluate(&input(plan, "prod", Value::Null), Mode::Judge);
        seen.push((
            name,
            report.verdict,
            report.blocking().len(),
            report.warnings().len(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("tf-create-sensitive-heredoc", Verdict::Warn, 0, 3),
            ("tf-replace-sensitive-heredoc", Verdict::Deny, 2, 2),
            ("tf-replace-sensitive-random-bytes", Verdict::Deny, 1, 0),
            ("tf-destroy-not-in-config", Verdict::Deny, 2, 0),
            ("tfjson-110-sensitive-values", Verdict::Warn, 0, 7),
            ("tfjson-120-basic-create", Verdict::Warn, 0, 7),
            ("tfjson-013-module-data-read", Verdict::Warn, 0, 3),
            ("tf-no-changes", Verdict::Pass, 0, 0),
            ("tf-no-resources", Verdict::Pass, 0, 0),
            ("tofu-create-and-data-read", Verdict::Warn, 0, 4),
            ("tf-forget-removed-block", Verdict::Pass, 0, 0),
            ("tf-update-terraform-data", Verdict::Pass, 0, 0),
        ]
    );
}

#[test]
fn a_policy_that_does_not_parse_blocks_and_says_where() {
    let report = one("package tfpilot.x\n\ndeny contains msg if {\n  msg := \n}\n")
        .evaluate(&json!({}), Mode::Judge);
    assert_eq!(report.verdict, Verdict::Deny);
    let error = report.results[0].error.as_deref().expect("an error");
    assert!(error.contains("p.rego:"), "{error}");
    assert!(error.starts_with("--> p.rego:4:7"), "{error}");
    // OPA 0.x syntax (no `if`, `deny[msg]`) is not OPA 1.0's.
    let old =
        one("package tfpilot.x\n\ndeny[msg] { msg := \"no\" }\n").evaluate(&json!({}), Mode::Judge);
    assert_eq!(old.verdict, Verdict::Deny);
    assert!(old.results[0].error.is_some());
    let error = old.results[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("`if` keyword is required"), "{error}");
}

#[test]
fn a_policy_outside_the_tfpilot_package_is_refused() {
    let report = one("package buckets\n\ndeny contains \"x\" if { true }\n")
        .evaluate(&json!({}), Mode::Judge);
    assert_eq!(
        report.blocking(),
        [
            "p: cannot be evaluated: its package is buckets; a tfpilot policy declares `package tfpilot.<name>`"
        ]
    );
    let bare = one("package tfpilot\n\ndeny contains \"x\" if { true }\n")
        .evaluate(&json!({}), Mode::Judge);
    assert_eq!(bare.verdict, Verdict::Deny);
    assert!(bare.results[0].error.is_some());
}

#[test]
fn a_deny_that_is_not_a_set_of_messages_blocks() {
    let report = one("package tfpilot.x\n\ndeny := true\n").evaluate(&json!({}), Mode::Judge);
    assert_eq!(report.verdict, Verdict::Deny);
    assert!(
        report.results[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("deny must be a set of messages")),
        "{report:?}"
    );
}

#[test]
fn a_failing_builtin_blocks_instead_of_passing() {
    // Strict builtin errors: a type error in a rule is the policy's failure, not "undefined".
    let report = one(
        "package tfpilot.x\n\ndeny contains msg if {\n  msg := sprintf(\"%d\", [to_number(input.word)])\n}\n",
    )
    .evaluate(&json!({"word": "ten"}), Mode::Judge);
    assert_eq!(report.verdict, Verdict::Deny, "{report:?}");
    assert!(report.results[0].error.is_some(), "{report:?}");
}

#[test]
fn a_policy_that_runs_too_long_is_stopped_and_blocks() {
    let slow = "package tfpilot.slow\n\ndeny contains \"never\" if {\n  count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) < 0\n}\n";
    let policies = PolicySet::compile_with_limit(
        [("slow".to_string(), slow.to_string())],
        Duration::from_millis(50),
    );
    let started = std::time::Instant::now();
    let report = policies.evaluate(&json!({}), Mode::Judge);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(report.verdict, Verdict::Deny);
    assert_eq!(
        report.results[0].error.as_deref(),
        Some("it ran longer than 0.05 s and was stopped")
    );
}

#[test]
fn conftest_style_messages_and_test_rules_are_read() {
    let source = r#"
package tfpilot.style

deny contains {"msg": "object form", "details": 1} if { true }

warn contains "plain form" if { true }

test_denies_something if { count(deny) == 1 }

test_fails if { false }
"#;
    let set = one(source);
    let judged = set.evaluate(&json!({}), Mode::Judge);
    assert_eq!(judged.results[0].deny, ["object form"]);
    assert_eq!(judged.results[0].warn, ["plain form"]);
    assert!(judged.results[0].tests.is_empty());
    let tested = set.evaluate(&json!({}), Mode::WithTests);
    let outcomes: Vec<(&str, bool)> = tested.results[0]
        .tests
        .iter()
        .map(|t| (t.rule.as_str(), t.passed))
        .collect();
    assert_eq!(
        outcomes,
        [("test_denies_something", true), ("test_fails", false)]
    );
}

#[test]
fn a_package_with_no_rule_holding_passes() {
    let report = one("package tfpilot.quiet\n\ndeny contains \"x\" if { input.never }\n")
        .evaluate(&json!({}), Mode::Judge);
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.results[0].package.as_deref(), Some("tfpilot.quiet"));
}
