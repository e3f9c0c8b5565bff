//! `cargo bench --bench policy`: how long the policies take on one plan (goal: 20 policies on a
//! 5,000-resource plan, p99 under 200 ms).
//!
//! The plan is Terraform's JSON shape with 5,000 resource changes, every one in the request's
//! module (the worst case: scoping keeps them all), over six resource types with ten or so
//! attributes each, tags and sensitive marks. The policies are the three the sandbox seeds and
//! 17 more of the kinds teams write (required tags, allowed values, deletions, encryption,
//! sizes), each walking every resource change.
//!
//! Printed: reading the plan (parse, mask, scope), compiling the policies, one evaluation of
//! all of them (the input read into the interpreter, every policy run, on every core) as
//! p50/p99/max over the runs, and the slowest policies each on its own. Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run on 200
//! resources.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tfpilot::domain::plan_json::PlanJson;
use tfpilot::domain::policy::Verdict;
use tfpilot::rego::{Mode, PolicySet};

const SEEDS: [(&str, &str); 3] = [
    (
        "buckets",
        include_str!("../examples/store/policies/buckets.rego"),
    ),
    (
        "monthly-cost",
        include_str!("../examples/store/policies/monthly-cost.rego"),
    ),
    (
        "prod-databases",
        include_str!("../examples/store/policies/prod-databases.rego"),
    ),
];

const TYPES: [&str; 6] = [
    "aws_s3_bucket",
    "aws_s3_bucket_public_access_block",
    "aws_db_instance",
    "aws_sqs_queue",
    "aws_iam_role",
    "aws_ecs_service",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn resource(n: usize) -> Value {
    let kind = TYPES[n % TYPES.len()];
    let actions = match n % 10 {
        0 => json!(["delete", "create"]),
        1 => json!(["update"]),
        2 => json!(["no-op"]),
        _ => json!(["create"]),
    };
    let region = ["us-east-1", "us-west-2", "eu-west-1"][n % 3];
    let after = json!({
        "bucket": format!("bucket-{n}"),
        "block_public_acls": true,
        "block_public_policy": true,
        "ignore_public_acls": true,
        "restrict_public_buckets": true,
        "multi_az": !n.is_multiple_of(7),
        "instance_class": if n.is_multiple_of(3) { "db.r6g.large" } else { "db.t4g.micro" },
        "allocated_storage": 20 + (n % 50) as u64,
        "region": region,
        "password": "hunter2",
        "tags": {"team": "core", "cost-center": format!("cc-{}", n % 40), "env": "prod"},
        "kms_key_id": if n.is_multiple_of(5) { Value::Null } else { json!("arn:aws:kms:key") },
    });
    json!({
        "address": format!("module.tfpilot_req_1.{kind}.r{n}"),
        "module_address": "module.tfpilot_req_1",
        "mode": "managed",
        "type": kind,
        "name": format!("r{n}"),
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": null,
            "after": after,
            "after_unknown": {"id": true, "arn": true},
            "before_sensitive": false,
            "after_sensitive": {"password": true, "tags": {}},
        }
    })
}

fn plan(resources: usize) -> String {
    json!({
        "format_version": "1.2",
        "terraform_version": "1.13.5",
        "resource_changes": (0..resources).map(resource).collect::<Vec<_>>(),
        "planned_values": {"root_module": {}},
        "configuration": {"root_module": {}},
    })
    .to_string()
}

/// The 17 policies beside the seeds: one of five kinds each, on one of the resource types.
fn generated_policies() -> Vec<(String, String)> {
    (0..17)
        .map(|n| {
            let kind = TYPES[n % TYPES.len()];
            let package = format!("tfpilot.generated_{n}");
            let rules = match n % 5 {
                0 => format!(
                    r#"deny contains msg if {{
	some rc in input.plan.resource_changes
	rc.type == "{kind}"
	not rc.change.after.tags["owner-{n}"]
	msg := sprintf("%s: tag owner-{n} is required", [rc.address])
}}"#
                ),
                1 => format!(
                    r#"allowed := {{"us-east-1", "us-west-2"}}

deny contains msg if {{
	some rc in input.plan.resource_changes
	rc.type == "{kind}"
	not allowed[rc.change.after.region]
	msg := sprintf("%s: region %s is not allowed", [rc.address, rc.change.after.region])
}}"#
                ),
                2 => format!(
                    r#"warn contains msg if {{
	some rc in input.plan.resource_changes
	rc.type == "{kind}"
	"delete" in rc.change.actions
	msg := sprintf("%s is replaced or deleted", [rc.address])
}}"#
                ),
                3 => format!(
                    r#"deny contains msg if {{
	some rc in input.plan.resource_changes
	rc.type == "{kind}"
	rc.change.after.kms_key_id == null
	msg := sprintf("%s: encrypt with a customer key", [rc.address])
}}"#
                ),
                _ => format!(
                    r#"large contains rc.address if {{
	some rc in input.plan.resource_changes
	rc.type == "{kind}"
	startswith(rc.change.after.instance_class, "db.r")
}}

warn contains msg if {{
	count(large) > 10
	msg := sprintf("%d large instances of {kind}", [count(large)])
}}"#
                ),
            };
            (
                format!("generated-{n}"),
                format!("package {package}\n\n{rules}\n"),
            )
        })
        .collect()
}

fn sources_again() -> Vec<(String, String)> {
    let mut sources: Vec<(String, String)> = SEEDS
        .iter()
        .map(|(name, source)| (name.to_string(), source.to_string()))
        .collect();
    sources.extend(generated_policies());
    sources
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (resources, runs) = if benchmarking { (5_000, 50) } else { (200, 3) };
    let text = plan(resources);

    let started = Instant::now();
    let parsed = PlanJson::parse(&text).unwrap();
    let scoped = parsed.scoped("req_1");
    let read = started.elapsed();
    assert_eq!(
        scoped.plan["resource_changes"].as_array().unwrap().len(),
        resources
    );
    assert!(!parsed.to_json().contains("hunter2"));

    let sources = sources_again();
    let started = Instant::now();
    let policies = PolicySet::compile(sources);
    let compiled = started.elapsed();
    assert_eq!(policies.len(), 20);

    let input = json!({
        "plan": scoped.plan,
        "outside": scoped.outside,
        "request": {"id": "req_1", "project": "core", "environment": "prod", "module": "rds-postgres",
                    "values": {}, "requester": "alice", "template": null},
        "cost": {"monthly_delta": 812.5, "monthly_total": 2400.0, "currency": "USD"},
    });
    let mut times = Vec::with_capacity(runs);
    let mut report = None;
    for _ in 0..runs {
        let started = Instant::now();
        let judged = policies.evaluate(&input, Mode::Judge);
        times.push(started.elapsed());
        report = Some(judged);
    }
    let report = report.unwrap();
    // Each policy alone, to show where the time goes.
    let started = Instant::now();
    let _ = regorus::Value::from_json_str(&input.to_string()).unwrap();
    let converted = started.elapsed();
    let mut alone: Vec<(Duration, String)> = sources_again()
        .into_iter()
        .map(|(name, source)| {
            let single = PolicySet::compile([(name.clone(), source)]);
            let started = Instant::now();
            let _ = single.evaluate(&input, Mode::Judge);
            (started.elapsed(), name)
        })
        .collect();
    alone.sort();
    alone.reverse();
    for result in &report.results {
        assert!(
            result.error.is_none(),
            "{}: {:?}",
            result.policy,
            result.error
        );
    }
    assert_eq!(report.verdict, Verdict::Deny);
    times.sort();
    println!(
        "policy bench: {} policies, {resources} resource changes ({:.1} MB of plan JSON)",
        policies.len(),
        text.len() as f64 / 1e6
    );
    println!(
        "  read the plan (parse, mask, scope): {:.1} ms; compile the policies: {:.1} ms",
        ms(read),
        ms(compiled)
    );
    println!(
        "  of which reading the input into the interpreter: {:.1} ms; slowest policies alone (input included): {}",
        ms(converted),
        alone
            .iter()
            .take(5)
            .map(|(time, name)| format!("{name} {:.1} ms", ms(*time)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  evaluate all {}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {runs} runs; {} deny and {} warn messages",
        policies.len(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
        ms(*times.last().unwrap()),
        report.blocking().len(),
        report.warnings().len()
    );
}
