//! Policies on plans (docs/roles-and-policy.md, "Policies on plans") as data: their names and
//! keys, the input every policy reads, and the verdict their results make. Evaluating Rego is
//! `crate::rego`'s.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::ModuleDef;
use super::plan_json::ScopedPlan;
use super::presentation::config_entries;
use super::request::{CostFact, Request};

/// Where policies live in the store: `policies/<name>.rego`.
pub const POLICIES_PREFIX: &str = "policies/";
/// Every policy's package sits under this one (`package tfpilot.buckets`).
pub const PACKAGE_ROOT: &str = "tfpilot";
/// The largest policy file tfpilot reads or stores.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

pub fn policy_key(name: &str) -> String {
    format!("{POLICIES_PREFIX}{name}.rego")
}

/// The name a key under `policies/` stores, if it is a policy's key.
pub fn policy_name_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(POLICIES_PREFIX)?
        .strip_suffix(".rego")
        .filter(|name| validate_policy_name(name).is_ok())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not a policy name: use 1 to 64 lower-case letters, digits, `-` and `_`, starting with a letter"
)]
pub struct PolicyNameError {
    pub name: String,
}

pub fn validate_policy_name(name: &str) -> Result<(), PolicyNameError> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(PolicyNameError {
            name: name.to_string(),
        })
    }
}

/// The name a policy file is stored under: its file name without `.rego`.
pub fn policy_name_of_file(file_name: &str) -> Result<String, PolicyNameError> {
    let name = file_name.strip_suffix(".rego").unwrap_or(file_name);
    validate_policy_name(name)?;
    Ok(name.to_string())
}

/// What the policies made of a plan, worst last: `deny` blocks approve, merge and apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Deny => "deny",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `test_` rule's outcome (`tfpilot policy test`, as `conftest verify` reports them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub rule: String,
    pub passed: bool,
}

/// What one policy file said about one input.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyResult {
    /// The policy's name (`policies/<name>.rego`).
    pub policy: String,
    /// Its package without `data.` (`tfpilot.buckets`), once it parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestOutcome>,
    /// Why the policy could not be used (it does not parse, its package is wrong, its rules
    /// fail or run out of time). A broken policy blocks like a deny: it never passes silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PolicyResult {
    pub fn broken(policy: &str, error: impl Into<String>) -> Self {
        Self {
            policy: policy.to_string(),
            error: Some(error.into()),
            ..Self::default()
        }
    }

    pub fn verdict(&self) -> Verdict {
        if self.error.is_some() || !self.deny.is_empty() {
            Verdict::Deny
        } else if !self.warn.is_empty() {
            Verdict::Warn
        } else {
            Verdict::Pass
        }
    }
}

/// The results of every policy for one plan, and what they add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub verdict: Verdict,
    pub results: Vec<PolicyResult>,
}

impl PolicyReport {
    /// Results in policy-name order; the verdict is the worst of them (no policies: pass).
    pub fn judge(mut results: Vec<PolicyResult>) -> Self {
        results.sort_by(|a, b| a.policy.cmp(&b.policy));
        let verdict = results
            .iter()
            .map(PolicyResult::verdict)
            .max()
            .unwrap_or(Verdict::Pass);
        Self { verdict, results }
    }

    /// What blocks: `policy: message` for each deny, `policy: cannot be evaluated: why` for each
    /// broken policy.
    pub fn blocking(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for result in &self.results {
            if let Some(error) = &result.error {
                lines.push(format!("{}: cannot be evaluated: {error}", result.policy));
            }
            for message in &result.deny {
                lines.push(format!("{}: {message}", result.policy));
            }
        }
        lines
    }

    /// What advises: `policy: message` for each warn.
    pub fn warnings(&self) -> Vec<String> {
        self.results
            .iter()
            .flat_map(|result| {
                result
                    .warn
                    .iter()
                    .map(move |message| format!("{}: {message}", result.policy))
            })
            .collect()
    }
}

/// What the policies said about the request's latest plan, in the request document (`policy`).
/// A claim like the rest of the document: the gate judges again before it lets anything pass.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PolicyFact {
    /// The plan run judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    pub verdict: Option<Verdict>,
    /// `policy: message` for each deny, and each policy that could not be evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// `policy: message` for each warn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn: Vec<String>,
    /// The policies evaluated, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Where the whole report is kept (`policy/<id>/<run>.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<super::time::Timestamp>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PolicyFact {
    pub fn from_report(
        report: &PolicyReport,
        run_id: u64,
        source: String,
        at: super::time::Timestamp,
    ) -> Self {
        Self {
            run_id: Some(run_id),
            verdict: Some(report.verdict),
            deny: report.blocking(),
            warn: report.warnings(),
            policies: report.results.iter().map(|r| r.policy.clone()).collect(),
            source: Some(source),
            evaluated_at: Some(at),
            extra: Map::new(),
        }
    }

    pub fn denies(&self) -> bool {
        self.verdict == Some(Verdict::Deny)
    }

    /// `deny (2)`, `warn (1)`, `pass`.
    pub fn describe(&self) -> String {
        match self.verdict {
            Some(Verdict::Deny) => format!("deny ({})", self.deny.len()),
            Some(Verdict::Warn) => format!("warn ({})", self.warn.len()),
            Some(Verdict::Pass) => "pass".to_string(),
            None => "not evaluated".to_string(),
        }
    }
}

/// The request's policy fact when it judges the latest plan run; an older plan's is no
/// verdict on the plan there is now.
pub fn current(request: &Request) -> Option<&PolicyFact> {
    let fact = request.policy.as_deref()?;
    let latest = request.plan_run.as_deref().and_then(|run| run.id);
    (fact.run_id.is_some() && fact.run_id == latest).then_some(fact)
}

/// An admin's decision to let one plan through its policies' deny, with the reason. Kept
/// create-only at `overrides/<id>/<run>.json` (a prefix the bucket's IAM keeps admin-only, as
/// `config/` and `policies/`) and copied into the document for display. It is for that plan
/// run only: a new plan is judged afresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyOverride {
    pub run_id: u64,
    pub by: String,
    pub reason: String,
    pub at: super::time::Timestamp,
    /// What was denied when the override was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn override_key(request_id: &str, run_id: u64) -> String {
    format!("overrides/{request_id}/{run_id}.json")
}

/// The document's override when it is for the latest plan run.
pub fn current_override(request: &Request) -> Option<&PolicyOverride> {
    let record = request.policy_override.as_deref()?;
    let latest = request.plan_run.as_deref().and_then(|run| run.id);
    (Some(record.run_id) == latest).then_some(record)
}

/// Where a plan run's policy report is kept.
pub fn report_key(request_id: &str, run_id: u64) -> String {
    format!("policy/{request_id}/{run_id}.json")
}

/// Where a plan run's JSON plan (masked) is kept.
pub fn plan_json_key(request_id: &str, run_id: u64) -> String {
    format!("plans/{request_id}/{run_id}.json")
}

/// The input every policy reads (docs/roles-and-policy.md, "The input"):
/// `plan` (Terraform's JSON plan limited to the request's resources), `outside` (what it changes
/// elsewhere), `request` (sensitive values masked) and `cost` (null without an estimate).
pub fn policy_input(
    scoped: ScopedPlan,
    request: &Request,
    module: Option<&ModuleDef>,
    cost: Option<&CostFact>,
) -> Value {
    let values: Map<String, Value> = config_entries(request, module)
        .into_iter()
        .map(|entry| (entry.name.to_string(), entry.value.json()))
        .collect();
    json!({
        "plan": scoped.plan,
        "outside": scoped.outside,
        "request": {
            "id": request.id,
            "project": request.project,
            "environment": request.environment,
            "module": request.module,
            "values": values,
            "requester": request.requested_by,
            "template": request.template_id,
        },
        "cost": cost_input(cost),
    })
}

fn cost_input(cost: Option<&CostFact>) -> Value {
    match cost {
        Some(cost) if cost.monthly_delta.is_some() || cost.monthly_total.is_some() => json!({
            "monthly_delta": cost.monthly_delta,
            "monthly_total": cost.monthly_total,
            "currency": cost.currency.as_deref().unwrap_or("USD"),
        }),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        assert!(validate_policy_name("buckets").is_ok());
        assert!(validate_policy_name("prod-rds_multi_az2").is_ok());
        for bad in [
            "",
            "Buckets",
            "2fast",
            "../x",
            "a.b",
            "a/b",
            &"a".repeat(65),
        ] {
            assert!(validate_policy_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            policy_name_of_file("buckets.rego").as_deref(),
            Ok("buckets")
        );
        assert_eq!(policy_key("buckets"), "policies/buckets.rego");
        assert_eq!(policy_name_of_key("policies/buckets.rego"), Some("buckets"));
        assert_eq!(policy_name_of_key("policies/Buckets.rego"), None);
        assert_eq!(policy_name_of_key("policies/buckets.json"), None);
    }

    #[test]
    fn the_worst_result_is_the_verdict_and_a_broken_policy_denies() {
        let warn = PolicyResult {
            policy: "cost".into(),
            warn: vec!["costs more".into()],
            ..PolicyResult::default()
        };
        let pass = PolicyResult {
            policy: "buckets".into(),
            ..PolicyResult::default()
        };
        assert_eq!(PolicyReport::judge(vec![]).verdict, Verdict::Pass);
        assert_eq!(
            PolicyReport::judge(vec![pass.clone(), warn.clone()]).verdict,
            Verdict::Warn
        );
        let broken = PolicyResult::broken("rds", "parse error at 3:1");
        let report = PolicyReport::judge(vec![warn, broken, pass]);
        assert_eq!(report.verdict, Verdict::Deny);
        assert_eq!(
            report
                .results
                .iter()
                .map(|r| r.policy.as_str())
                .collect::<Vec<_>>(),
            ["buckets", "cost", "rds"]
        );
        assert_eq!(
            report.blocking(),
            ["rds: cannot be evaluated: parse error at 3:1"]
        );
        assert_eq!(report.warnings(), ["cost: costs more"]);
    }
}
