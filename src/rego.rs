//! Rego evaluation for policies on plans, with regorus (Microsoft's Rego interpreter, OPA 1.0
//! syntax). Each policy file is compiled into its own engine, so one broken file is reported
//! alone and the others still judge; every evaluation has a time limit, and a policy that runs
//! past it is reported as broken (which blocks), never as passing.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;

use crate::domain::policy::{
    MAX_POLICY_BYTES, PACKAGE_ROOT, PolicyReport, PolicyResult, TestOutcome,
};

/// How long one policy may take on one plan.
pub const EVALUATION_LIMIT: Duration = Duration::from_secs(2);

/// How many interpreter steps pass between two looks at the clock.
const CLOCK_CHECK_INTERVAL: u32 = 256;

/// One policy file, parsed and checked.
#[derive(Clone)]
struct CompiledPolicy {
    name: String,
    /// `tfpilot.buckets`.
    package: String,
    /// The `test_` rules the file declares, in file order.
    tests: Vec<String>,
    engine: regorus::Engine,
}

/// The team's policies, compiled once and evaluated against many inputs.
#[derive(Clone)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    broken: Vec<PolicyResult>,
    limit: Duration,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.names())
            .field("broken", &self.broken)
            .finish()
    }
}

/// What `evaluate` reports besides `deny` and `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `deny` and `warn` only: what gates a request.
    Judge,
    /// Also every `test_` rule, as `conftest verify` does (`tfpilot policy test`).
    WithTests,
}

impl PolicySet {
    /// Compiles `(name, source)` pairs. A file that does not compile is kept as a broken
    /// result, reported by every evaluation.
    pub fn compile(sources: impl IntoIterator<Item = (String, String)>) -> Self {
        Self::compile_with_limit(sources, EVALUATION_LIMIT)
    }

    pub fn compile_with_limit(
        sources: impl IntoIterator<Item = (String, String)>,
        limit: Duration,
    ) -> Self {
        let mut set = Self {
            policies: Vec::new(),
            broken: Vec::new(),
            limit,
        };
        for (name, source) in sources {
            match compile_one(&name, source, limit) {
                Ok(policy) => set.policies.push(policy),
                Err(error) => set.broken.push(PolicyResult::broken(&name, error)),
            }
        }
        set
    }

    /// Compiles policies read from the store: a file that could not be read is a broken
    /// result with the reason.
    pub fn compile_files(
        files: impl IntoIterator<Item = (String, Result<String, String>)>,
    ) -> Self {
        let mut unreadable = Vec::new();
        let readable: Vec<(String, String)> = files
            .into_iter()
            .filter_map(|(name, source)| match source {
                Ok(source) => Some((name, source)),
                Err(reason) => {
                    unreadable.push(PolicyResult::broken(&name, reason));
                    None
                }
            })
            .collect();
        let mut set = Self::compile(readable);
        set.broken.extend(unreadable);
        set
    }

    /// Why each broken policy cannot be used, by name.
    pub fn problems_by_name(&self) -> BTreeMap<String, String> {
        self.broken
            .iter()
            .map(|b| {
                (
                    b.policy.clone(),
                    b.error.clone().unwrap_or_else(|| "broken".to_string()),
                )
            })
            .collect()
    }

    /// Each compiled policy's package (`tfpilot.buckets`), by name.
    pub fn packages(&self) -> BTreeMap<String, String> {
        self.policies
            .iter()
            .map(|p| (p.name.clone(), p.package.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.broken.is_empty()
    }

    pub fn len(&self) -> usize {
        self.policies.len() + self.broken.len()
    }

    /// Every policy's name, compiled or broken, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .policies
            .iter()
            .map(|p| p.name.clone())
            .chain(self.broken.iter().map(|b| b.policy.clone()))
            .collect();
        names.sort();
        names
    }

    /// Every policy against `input` (the JSON of `domain::policy::policy_input`). CPU-bound
    /// (a 5,000-resource plan takes a fair part of a second on one core): policies run on every
    /// core, and async callers run this in `spawn_blocking`.
    pub fn evaluate(&self, input: &serde_json::Value, mode: Mode) -> PolicyReport {
        let mut results = self.broken.clone();
        if self.policies.is_empty() {
            return PolicyReport::judge(results);
        }
        // Read from text: measured faster than converting serde_json's tree (benches/policy.rs).
        let input = match regorus::Value::from_json_str(&input.to_string()) {
            Ok(input) => input,
            Err(error) => {
                for policy in &self.policies {
                    results.push(PolicyResult::broken(
                        &policy.name,
                        format!("the input could not be read: {error}"),
                    ));
                }
                return PolicyReport::judge(results);
            }
        };
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .min(self.policies.len());
        let share = self.policies.len().div_ceil(threads);
        let input = &input;
        let evaluated: Vec<PolicyResult> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .policies
                .chunks(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|policy| evaluate_one(policy, input, mode, self.limit))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .zip(self.policies.chunks(share))
                .flat_map(|(worker, chunk)| {
                    worker.join().unwrap_or_else(|_| {
                        // A panic inside the interpreter is that policy set's failure, not
                        // a pass.
                        chunk
                            .iter()
                            .map(|policy| {
                                PolicyResult::broken(&policy.name, "the evaluator failed")
                            })
                            .collect()
                    })
                })
                .collect()
        });
        results.extend(evaluated);
        PolicyReport::judge(results)
    }
}

/// Parses one policy and checks its package is under `tfpilot.`.
fn compile_one(name: &str, source: String, limit: Duration) -> Result<CompiledPolicy, String> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "the file is {} bytes, more than the {MAX_POLICY_BYTES} a policy may have",
            source.len()
        ));
    }
    let source_for_tests = source.clone();
    let mut engine = regorus::Engine::new();
    engine.set_strict_builtin_errors(true);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit,
        check_interval: NonZeroU32::new(CLOCK_CHECK_INTERVAL).unwrap_or(NonZeroU32::MIN),
    });
    let package = engine
        .add_policy(format!("{name}.rego"), source)
        .map_err(|error| error.to_string().trim().to_string())?;
    let package = package
        .strip_prefix("data.")
        .unwrap_or(&package)
        .to_string();
    let under_root = package
        .strip_prefix(PACKAGE_ROOT)
        .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1);
    if !under_root {
        return Err(format!(
            "its package is {package}; a tfpilot policy declares `package {PACKAGE_ROOT}.<name>`"
        ));
    }
    let mut tests: Vec<String> = Vec::new();
    for line in source_for_tests.lines() {
        // A rule's head starts its line; a test rule's name is all it takes to find it.
        let head: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if head.starts_with("test_") && !tests.contains(&head) {
            tests.push(head);
        }
    }
    Ok(CompiledPolicy {
        name: name.to_string(),
        package,
        tests,
        engine,
    })
}

fn evaluate_one(
    policy: &CompiledPolicy,
    input: &regorus::Value,
    mode: Mode,
    limit: Duration,
) -> PolicyResult {
    let mut result = PolicyResult {
        policy: policy.name.clone(),
        package: Some(policy.package.clone()),
        ..PolicyResult::default()
    };
    let mut engine = policy.engine.clone();
    engine.set_input(input.clone());
    let rules = match engine.eval_query(format!("data.{}", policy.package), false) {
        Ok(answer) => answer
            .result
            .into_iter()
            .next()
            .and_then(|r| r.expressions.into_iter().next())
            .map(|e| e.value)
            .unwrap_or(regorus::Value::Undefined),
        Err(error) => {
            let text = error.to_string();
            result.error = Some(if text.contains("execution exceeded time limit") {
                format!(
                    "it ran longer than {} s and was stopped",
                    limit.as_secs_f32()
                )
            } else {
                text.trim().to_string()
            });
            return result;
        }
    };
    let Ok(rules) = rules.as_object() else {
        // No rule of the package holds: nothing denied, nothing warned.
        return result;
    };
    for (rule, value) in rules.iter() {
        let Ok(rule) = rule.as_string() else { continue };
        match rule.as_ref() {
            "deny" => match messages(value) {
                Ok(found) => result.deny = found,
                Err(problem) => result.error = Some(format!("deny {problem}")),
            },
            "warn" => match messages(value) {
                Ok(found) => result.warn = found,
                Err(problem) => result.error = Some(format!("warn {problem}")),
            },
            _ => {}
        }
    }
    if mode == Mode::WithTests {
        // A test rule that does not hold is undefined, so absent from the package's value.
        result.tests = policy
            .tests
            .iter()
            .map(|rule| TestOutcome {
                rule: rule.clone(),
                passed: rules.get(&regorus::Value::from(rule.as_str()))
                    == Some(&regorus::Value::Bool(true)),
            })
            .collect();
    }
    result
}

/// The messages of a `deny` or `warn` set: strings, or objects with a `msg` (conftest's form).
fn messages(value: &regorus::Value) -> Result<Vec<String>, String> {
    let items: Vec<&regorus::Value> = match value {
        regorus::Value::Set(set) => set.iter().collect(),
        regorus::Value::Array(items) => items.iter().collect(),
        regorus::Value::Undefined => Vec::new(),
        other => {
            return Err(format!(
                "must be a set of messages (`deny contains msg if {{ ... }}`), not {}",
                other.to_json_str().unwrap_or_default()
            ));
        }
    };
    let mut found = Vec::new();
    for item in items {
        let text = match item {
            regorus::Value::String(text) => text.to_string(),
            regorus::Value::Object(fields) => match fields.get(&regorus::Value::from("msg")) {
                Some(regorus::Value::String(text)) => text.to_string(),
                _ => item.to_json_str().unwrap_or_default(),
            },
            other => other.to_json_str().unwrap_or_default(),
        };
        found.push(text);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
#[path = "rego_tests.rs"]
mod tests;
