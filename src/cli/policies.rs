//! `tfpilot policy`: everyone may list, show and test policies; put, delete and seed are for
//! admins (the engine decides, with the reason).

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::args::PolicyCommand;
use super::input_file::read_input;
use super::ops::{Answered, engine};
use super::{Invocation, print, print_json};
use crate::domain::operation::Operation;
use crate::domain::plan_json::{MAX_PLAN_JSON_BYTES, PlanJson};
use crate::domain::policy::{
    MAX_POLICY_BYTES, PolicyReport, TestOutcome, Verdict, plan_json_key, policy_input,
    policy_name_of_file,
};
use crate::engine::EngineError;
use crate::rego::{Mode, PolicySet};
use crate::store::TemplateWrite;

pub async fn run(context: &Invocation, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::List => list(context).await,
        PolicyCommand::Show { name } => show(context, &name).await,
        PolicyCommand::Put { file, name } => put(context, &file, name.as_deref()).await,
        PolicyCommand::Delete { name } => delete(context, &name).await,
        PolicyCommand::Seed => seed(context).await,
        PolicyCommand::Test {
            file,
            plan,
            request,
        } => test(context, &file, plan.as_deref(), request.as_deref()).await,
        PolicyCommand::Eval { id } => eval(context, &id).await,
        PolicyCommand::Override { id, reason, yes } => {
            override_deny(context, &id, &reason, yes).await
        }
    }
}

async fn list(context: &Invocation) -> Result<()> {
    let store = context.store().await?;
    let files = store.load_policies().await?;
    let set = PolicySet::compile_files(
        files
            .iter()
            .map(|file| (file.name.clone(), file.source.clone())),
    );
    let packages = set.packages();
    let problems = set.problems_by_name();
    let rows: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            json!({
                "name": file.name,
                "package": packages.get(&file.name),
                "problem": problems.get(&file.name),
            })
        })
        .collect();
    if context.json {
        return print_json(&json!({ "policies": rows }));
    }
    let mut text = String::new();
    for file in &files {
        match (packages.get(&file.name), problems.get(&file.name)) {
            (Some(package), _) => {
                text.push_str(&format!("{:<24} package {package}\n", file.name));
            }
            (None, Some(problem)) => {
                let first = problem.lines().next().unwrap_or_default();
                text.push_str(&format!(
                    "{:<24} BROKEN (blocks every plan): {first}\n",
                    file.name
                ));
            }
            (None, None) => {}
        }
    }
    if files.is_empty() {
        text.push_str(
            "No policies yet: an admin adds them with `tfpilot policy put FILE` or `tfpilot policy seed`.\n",
        );
    }
    print(&text)
}

async fn show(context: &Invocation, name: &str) -> Result<()> {
    crate::domain::policy::validate_policy_name(name)?;
    let store = context.store().await?;
    let Some(stored) = store.get_policy(name).await? else {
        anyhow::bail!("no policy named {name:?}; see `tfpilot policy list`");
    };
    let source = String::from_utf8_lossy(&stored.value).into_owned();
    if context.json {
        return print_json(&json!({"name": name, "source": source}));
    }
    let mut text = source;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    print(&text)
}

async fn put(context: &Invocation, file: &Path, name: Option<&str>) -> Result<()> {
    let source = read_input(file, MAX_POLICY_BYTES as u64, "the policy")?;
    let name = match name {
        Some(name) => name.to_string(),
        None if file == Path::new("-") => {
            anyhow::bail!("a policy read from standard input needs a name: add --name NAME")
        }
        None => {
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            policy_name_of_file(&file_name).map_err(|error| EngineError::Invalid {
                message: format!("{error}; or give one with --name NAME"),
            })?
        }
    };
    let engine = engine(context).await?;
    let write = engine.put_policy(&name, &source).await?;
    if context.json {
        return print_json(&json!({"result": write, "name": name}));
    }
    let verb = match write {
        TemplateWrite::Created => "created",
        TemplateWrite::Replaced => "replaced",
        TemplateWrite::Unchanged => "unchanged:",
    };
    print(&format!("{verb} policy {name}\n"))
}

async fn delete(context: &Invocation, name: &str) -> Result<()> {
    let engine = engine(context).await?;
    engine.delete_policy(name).await?;
    if context.json {
        return print_json(&json!({"result": "deleted", "name": name}));
    }
    print(&format!("deleted policy {name}\n"))
}

async fn seed(context: &Invocation) -> Result<()> {
    let engine = engine(context).await?;
    let seeded = engine.seed_policies().await?;
    if context.json {
        return print_json(&json!({ "policies": seeded }));
    }
    let mut text = String::new();
    for seed in &seeded {
        text.push_str(&format!("{:<8} {}\n", seed.outcome, seed.name));
    }
    print(&text)
}

async fn override_deny(context: &Invocation, id: &str, reason: &str, yes: bool) -> Result<()> {
    let engine = engine(context).await?;
    if !super::confirm::go_ahead(&engine, Operation::OverridePolicy, id, yes).await? {
        anyhow::bail!("override of {id} cancelled at the prompt: nothing was changed");
    }
    let record = engine.override_policy(id, reason).await?;
    if context.json {
        return print_json(&json!({"result": "overridden", "id": id, "override": record}));
    }
    let mut text = format!(
        "{} overrode the policies' deny of plan run {} of {id}: {}\n",
        record.by, record.run_id, record.reason
    );
    for denied in &record.denied {
        text.push_str(&format!("  was denied: {denied}\n"));
    }
    text.push_str("A new plan of this request is judged afresh.\n");
    print(&text)
}

async fn eval(context: &Invocation, id: &str) -> Result<()> {
    let engine = engine(context).await?;
    let fact = engine.evaluate_policies(id).await?;
    if context.json {
        return print_json(&json!({"id": id, "policy": fact}));
    }
    let mut text = format!(
        "plan run {} of {id}: {}\n",
        fact.run_id.unwrap_or_default(),
        fact.describe()
    );
    for message in &fact.deny {
        text.push_str(&format!("  deny: {message}\n"));
    }
    for message in &fact.warn {
        text.push_str(&format!("  warn: {message}\n"));
    }
    print(&text)
}

/// The input a policy test judges: a plan file whole, or a request's plan (the file, else the
/// one sync kept) scoped to it with its values and estimate, as the gate builds it.
async fn test_input(
    context: &Invocation,
    plan: Option<&Path>,
    request: Option<&str>,
) -> Result<serde_json::Value> {
    let from_file = match plan {
        Some(path) => Some(PlanJson::parse(&read_input(
            path,
            MAX_PLAN_JSON_BYTES as u64,
            "the plan",
        )?)?),
        None => None,
    };
    let Some(id) = request else {
        let Some(plan) = from_file else {
            anyhow::bail!("give --plan PLAN.json or --request ID");
        };
        return Ok(json!({"plan": plan.as_value(), "outside": [], "request": null, "cost": null}));
    };
    let store = context.store().await?;
    let team = store.load_team_config().await?;
    let request = store.get_request(id).await?.value;
    let plan = match from_file {
        Some(plan) => plan,
        None => {
            let Some(run_id) = request.plan_run.as_deref().and_then(|run| run.id) else {
                anyhow::bail!(
                    "request {id} has no plan run yet; plan it, or give --plan PLAN.json"
                );
            };
            let key = plan_json_key(&request.id, run_id);
            let Some(body) = store.get_blob(&key).await? else {
                anyhow::bail!(
                    "no plan JSON is kept for plan run {run_id} of {id} ({key}); `tfpilot sync {id}` fetches it once the run has finished"
                );
            };
            PlanJson::parse(&String::from_utf8_lossy(&body))?
        }
    };
    Ok(policy_input(
        plan.scoped(request.block_id()),
        &request,
        team.module(&request.module),
        request.cost.as_deref(),
    ))
}

/// `conftest verify`-like: one policy file on one plan, each rule's result, exit 1 when it
/// denies, cannot be evaluated or a test fails.
async fn test(
    context: &Invocation,
    file: &Path,
    plan: Option<&Path>,
    request: Option<&str>,
) -> Result<()> {
    let source = read_input(file, MAX_POLICY_BYTES as u64, "the policy")?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .map(|n| n.trim_end_matches(".rego").to_string())
        .filter(|n| !n.is_empty() && n != "-")
        .unwrap_or_else(|| "stdin".to_string());
    let input = test_input(context, plan, request).await?;
    let report = PolicySet::compile([(name, source)]).evaluate(&input, Mode::WithTests);
    if context.json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        print(&test_text(&report))?;
    }
    let failed_tests = report
        .results
        .iter()
        .flat_map(|r| &r.tests)
        .filter(|t| !t.passed)
        .count();
    if report.verdict == Verdict::Deny || failed_tests > 0 {
        return Err(Answered {
            code: 1,
            message: match report.verdict {
                Verdict::Deny => "the policy denies this plan".to_string(),
                _ => format!("{failed_tests} test rule(s) failed"),
            },
        }
        .into());
    }
    Ok(())
}

fn test_text(report: &PolicyReport) -> String {
    let mut text = String::new();
    for result in &report.results {
        let package = result.package.as_deref().unwrap_or("?");
        text.push_str(&format!(
            "{} (package {package}): {}\n",
            result.policy,
            result.verdict()
        ));
        if let Some(error) = &result.error {
            for line in error.lines() {
                text.push_str(&format!("  ERROR {line}\n"));
            }
        }
        for message in &result.deny {
            text.push_str(&format!("  DENY  {message}\n"));
        }
        for message in &result.warn {
            text.push_str(&format!("  WARN  {message}\n"));
        }
        for TestOutcome { rule, passed } in &result.tests {
            let label = if *passed { "PASS " } else { "FAIL " };
            text.push_str(&format!("  {label} {rule}\n"));
        }
        let passed = result.tests.iter().filter(|t| t.passed).count();
        text.push_str(&format!(
            "{} deny, {} warn; tests: {passed} passed, {} failed\n",
            result.deny.len(),
            result.warn.len(),
            result.tests.len() - passed
        ));
    }
    text
}
