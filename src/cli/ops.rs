//! The engine's commands: create, update, the lifecycle operations, sync, reconcile, watch,
//! can-destroy, drift-eligible, audit-export and modules. Every one prints text, or JSON with
//! `--json`; failures carry exit codes (see [`exit_code`]).

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use std::sync::Arc;

use super::{
    ApplyArgs, CreateArgs, DeploymentArgs, Invocation, OpArgs, ReconcileArgs, UpdateArgs,
    WithdrawArgs, print, print_json, print_json_line,
};
use crate::domain::Timestamp;
use crate::domain::access::Decision;
use crate::domain::deployment::{Verdict, waiting_json};
use crate::domain::operation::{Operation, Readiness, can_destroy, drift_eligible};
use crate::domain::presentation::document_json;
use crate::domain::{Request, Status, derive, derive_status};
use crate::engine::{
    CreateInput, Engine, EngineError, NotifyOptions, OpOutcome, OpResult, PollEvent, Poller,
    PollerConfig,
};
use crate::secrets::{SecretStore, SsmSecrets};
use crate::store::StoreUrl;
use crate::webhook::Webhook;

/// A command that printed its own answer (JSON included) and only needs its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Answered {
    pub code: u8,
    pub message: String,
}

/// The exit code for a failed command: the engine's own (2 bad input, 3 denied, 4 conflict or
/// locked) when an engine error caused it, 1 for anything else.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(answered) = error.downcast_ref::<Answered>() {
        return answered.code;
    }
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<EngineError>())
        .map_or(1, EngineError::exit_code)
}

/// The failure as JSON for `--json` callers; `None` when the command already answered.
pub fn error_json(error: &anyhow::Error) -> Option<Value> {
    if error.downcast_ref::<Answered>().is_some() {
        return None;
    }
    let kind = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<EngineError>())
        .map_or("failed", |error| error.kind().as_str());
    Some(
        json!({"error": {"kind": kind, "message": format!("{error:#}"), "exit_code": exit_code(error)}}),
    )
}

/// The engine for whoever the GitHub token belongs to.
pub(super) async fn engine(context: &Invocation) -> Result<Engine> {
    let store = context.store().await?;
    let team = store
        .load_team_config()
        .await
        .context("reading the team configuration")?;
    for problem in &team.problems {
        tracing::warn!(%problem, "team configuration problem");
    }
    // A GitHub App without a configured installation finds it on the team's first repository.
    let repository = team.infra_repos.as_ref().and_then(|registry| {
        registry
            .projects
            .values()
            .flat_map(|environments| environments.values())
            .next()
            .map(|repo| crate::github::RepoId::new(&repo.owner, &repo.repo))
    });
    let connected = super::github::connect(context, repository).await?;
    let secrets = secret_store(context).await?;
    Ok(Engine::new(store, connected.github, team, connected.login).with_secrets(secrets))
}

/// Where sensitive values go: a sandbox's directory keeps its own (no AWS account needed to
/// try tfpilot), everything else SSM, in the store's region unless `[secrets]` sets another.
async fn secret_store(context: &Invocation) -> Result<Arc<dyn SecretStore>> {
    if let StoreUrl::Local(dir) = context.config.store_url(context.dirs.as_ref())?
        && let Some(secrets) = crate::sandbox::secrets_of(&dir)
    {
        return Ok(Arc::new(secrets));
    }
    let mut options = context.config.secrets.clone();
    if options.region.is_none() {
        options.region = context.config.s3.region.clone();
    }
    Ok(Arc::new(SsmSecrets::connect(&options).await))
}

fn values(assignments: Vec<(String, String)>) -> Map<String, Value> {
    assignments
        .into_iter()
        .map(|(field, value)| (field, Value::String(value)))
        .collect()
}

pub async fn create(context: &Invocation, args: CreateArgs) -> Result<()> {
    let engine = engine(context).await?;
    let outcome = engine
        .create(CreateInput {
            project: args.project,
            environment: args.environment,
            module: args.module.unwrap_or_default(),
            values: values(args.values),
            idempotency_key: args.idempotency_key,
            template: args.template,
            assistant: None,
        })
        .await?;
    if context.json {
        // The document itself, as `show --json` prints it.
        let mut value = shown_document(&engine, &outcome.request);
        value["status"] = json!(derive_status(&outcome.request));
        return print_json(&value);
    }
    report(context, &engine, &outcome)
}

pub async fn update(context: &Invocation, args: UpdateArgs) -> Result<()> {
    let engine = engine(context).await?;
    let outcome = engine
        .update(
            &args.id,
            values(args.values),
            args.idempotency_key.as_deref(),
        )
        .await?;
    report(context, &engine, &outcome)
}

pub async fn change(context: &Invocation, args: UpdateArgs) -> Result<()> {
    let engine = engine(context).await?;
    let outcome = engine
        .change(
            &args.id,
            values(args.values),
            args.idempotency_key.as_deref(),
        )
        .await?;
    report(context, &engine, &outcome)
}

pub async fn operation(context: &Invocation, operation: Operation, args: OpArgs) -> Result<()> {
    let engine = engine(context).await?;
    let (id, key) = (args.id.as_str(), args.idempotency_key.as_deref());
    if !super::confirm::go_ahead(&engine, operation, id, args.yes).await? {
        anyhow::bail!(
            "{} {id} cancelled at the prompt: nothing was changed",
            operation.verb()
        );
    }
    let outcome = engine.run(operation, id, key).await?;
    report(context, &engine, &outcome)
}

pub async fn apply(context: &Invocation, args: ApplyArgs) -> Result<()> {
    if !args.include_outside {
        return operation(context, Operation::Apply, args.op).await;
    }
    let engine = engine(context).await?;
    let (id, key) = (args.op.id.as_str(), args.op.idempotency_key.as_deref());
    if !super::confirm::go_ahead(&engine, Operation::Apply, id, args.op.yes).await? {
        anyhow::bail!("apply {id} cancelled at the prompt: nothing was changed");
    }
    let outcome = engine.apply_with(id, key, true).await?;
    report(context, &engine, &outcome)
}

pub async fn deployment(
    context: &Invocation,
    verdict: Verdict,
    args: DeploymentArgs,
) -> Result<()> {
    let engine = engine(context).await?;
    let id = args.id.as_str();
    // The confirmation shows what waits: the document learns it from GitHub first.
    engine.catch_up_on_waiting(id).await;
    let operation = match verdict {
        Verdict::Approve => Operation::ApproveDeployment,
        Verdict::Reject => Operation::RejectDeployment,
    };
    if !super::confirm::go_ahead(&engine, operation, id, args.yes).await? {
        anyhow::bail!(
            "{} {id} cancelled at the prompt: nothing was changed",
            operation.verb()
        );
    }
    let outcome = engine
        .review_deployment(
            id,
            verdict,
            args.comment.as_deref(),
            args.idempotency_key.as_deref(),
        )
        .await?;
    report(context, &engine, &outcome)
}

/// `tfpilot diff ID`: the pull request's diff, attributed. A pull request that changes more
/// than the request's block fails (exit 1) after printing it, so a script can stop on it.
pub async fn diff(context: &Invocation, id: &str) -> Result<()> {
    let engine = engine(context).await?;
    let diff = engine.pull_diff(id).await?;
    if context.json {
        print_json(&json!(diff))?;
    } else {
        print(&diff.to_text())?;
    }
    if diff.changes_outside() {
        return Err(Answered {
            code: 1,
            message: diff.verdict().trim_start_matches("! ").to_string(),
        }
        .into());
    }
    Ok(())
}

pub async fn withdraw(context: &Invocation, args: WithdrawArgs) -> Result<()> {
    let engine = engine(context).await?;
    let id = args.id.as_str();
    if !super::confirm::go_ahead(&engine, Operation::Withdraw, id, args.yes).await? {
        anyhow::bail!("withdraw {id} cancelled at the prompt: nothing was changed");
    }
    let outcome = engine
        .withdraw(id, args.reason.as_deref(), args.idempotency_key.as_deref())
        .await?;
    report(context, &engine, &outcome)
}

/// The document as a reader is shown it: sensitive values masked (see `domain::presentation`).
fn shown_document(engine: &Engine, request: &Request) -> Value {
    document_json(request, engine.team().module(&request.module))
}

fn report(context: &Invocation, engine: &Engine, outcome: &OpOutcome) -> Result<()> {
    let status = derive_status(&outcome.request);
    if context.json {
        return print_json(&json!({
            "id": outcome.request.id,
            "operation": outcome.operation,
            "result": outcome.result,
            "message": outcome.message,
            "status": status,
            "request": shown_document(engine, &outcome.request),
        }));
    }
    let prefix = match outcome.result {
        OpResult::Done => "",
        OpResult::AlreadyDone => "done already: ",
        OpResult::Replayed => "replayed (this key was used just now): ",
    };
    print(&format!(
        "{}: {prefix}{}\nstatus: {} ({})\n",
        outcome.request.id,
        outcome.message,
        status.as_str(),
        crate::domain::presentation::next_step(&outcome.request)
    ))
}

pub async fn sync(context: &Invocation, id: &str) -> Result<()> {
    let engine = engine(context).await?;
    let report = engine.sync(id).await?;
    if context.json {
        return print_json(&serde_json::to_value(&report)?);
    }
    let mut text = format!("{}: {}\n", report.id, report.status.as_str());
    if report.changes.is_empty() {
        text.push_str("  nothing new on GitHub; nothing written\n");
    }
    for change in &report.changes {
        text.push_str(&format!("  {change}\n"));
    }
    print(&text)
}

pub async fn reconcile(context: &Invocation, args: ReconcileArgs) -> Result<()> {
    let url = args.notify.or_else(|| context.config.notify.url.clone());
    // Checked before anything syncs: a bad URL is a usage error, not a half-done run.
    let chat = match url {
        Some(url) => Some(
            Arc::new(Webhook::new(&url).map_err(|error| EngineError::Invalid {
                message: error.to_string(),
            })?) as Arc<dyn crate::webhook::NoticeSink>,
        ),
        None => None,
    };
    let email = if args.no_email {
        None
    } else {
        super::mail::mailer(context)?
    };
    let notify = if chat.is_some() || email.is_some() {
        let window = args.notify_since.unwrap_or_else(|| {
            chrono::Duration::hours(i64::from(context.config.notify.since_hours))
        });
        Some(NotifyOptions {
            chat,
            email,
            since: Timestamp(chrono::Utc::now() - window),
        })
    } else if args.notify_since.is_some() {
        return Err(EngineError::Invalid {
            message: "--notify-since needs somewhere to announce: give --notify URL, or set [notify] url or TFPILOT_NOTIFY_URL (chat), or [notify] smtp_url or TFPILOT_SMTP_URL (email)".into(),
        }
        .into());
    } else {
        None
    };
    let engine = engine(context).await?;
    let report = engine.reconcile_notifying(notify.as_ref()).await?;
    if context.json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        let mut text = format!(
            "{} requests, {} examined, {} changed, {} expired locks taken over, {} failed\n",
            report.requests,
            report.examined,
            report.changed,
            report.locks_taken_over,
            report.failed
        );
        for item in &report.items {
            text.push_str(&format!("{}: {}\n", item.id, item.status.as_str()));
            for line in item.changes.iter().chain(&item.notes) {
                text.push_str(&format!("  {line}\n"));
            }
            if let Some(error) = &item.error {
                text.push_str(&format!("  error: {error}\n"));
            }
        }
        for (channel, notified) in [
            ("notifications", &report.notifications),
            ("emails", &report.emails),
        ] {
            let Some(notified) = notified else {
                continue;
            };
            text.push_str(&format!(
                "{channel} to {}: {} sent, {} failed (retried next run), {} already announced",
                notified.endpoint,
                notified.sent.len(),
                notified.failed.len(),
                notified.already
            ));
            if notified.unaddressed > 0 {
                text.push_str(&format!(
                    ", {} with nobody to tell (config/notify.json)",
                    notified.unaddressed
                ));
            }
            text.push('\n');
            for failure in &notified.failed {
                text.push_str(&format!("  {}: {}\n", failure.notice, failure.error));
            }
        }
        print(&text)?;
    }
    if report.failed > 0 {
        return Err(Answered {
            code: 1,
            message: format!("{} request(s) could not be reconciled", report.failed),
        }
        .into());
    }
    Ok(())
}

/// Streams status changes; with an id, until that request is finished.
pub async fn watch(context: &Invocation, id: Option<String>, until: &[String]) -> Result<()> {
    let wanted: Vec<Status> = until
        .iter()
        .map(|name| {
            Status::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "--until {name:?} is not a status; the statuses are {}",
                    Status::ALL.map(Status::as_str).join(", ")
                )
            })
        })
        .collect::<Result<_>>()?;
    let engine = engine(context).await?;
    let mut config = PollerConfig {
        intervals: context.config.sync,
        ..PollerConfig::default()
    };
    config.only = id.clone().map(|id| vec![id]);
    let store = engine.store().clone();
    let (sender, mut receiver) = mpsc::channel(64);
    let poller = tokio::spawn(Poller::new(engine, config).run(sender));
    let mut last: std::collections::HashMap<String, Status> = Default::default();
    while let Some(event) = receiver.recv().await {
        match event {
            PollEvent::Synced(report) => {
                let before = last.insert(report.id.clone(), report.status);
                if before == Some(report.status) && report.changes.is_empty() {
                    continue;
                }
                if context.json {
                    let line = json!({"event": "synced", "id": report.id, "status": report.status, "previous": before, "changes": report.changes, "waiting": waiting_json(&report.request)});
                    print_json_line(&line)?;
                } else {
                    // Only a change of status gets an arrow; other changes list below it.
                    let from = before
                        .filter(|s| *s != report.status)
                        .map(|s| format!("{} -> ", s.as_str()))
                        .unwrap_or_default();
                    print(&format!(
                        "{}: {from}{}\n",
                        report.id,
                        report.status.as_str()
                    ))?;
                    for change in &report.changes {
                        print(&format!("  {change}\n"))?;
                    }
                }
                if wanted.contains(&report.status) {
                    poller.abort();
                    return Ok(());
                }
                if !wanted.is_empty() && report.status.is_final() {
                    poller.abort();
                    return Err(Answered {
                        code: 1,
                        message: format!(
                            "{} ended {}, not {}",
                            report.id,
                            report.status.as_str(),
                            until.join(" or ")
                        ),
                    }
                    .into());
                }
            }
            PollEvent::Failed { id, error } => {
                if context.json {
                    print_json_line(&json!({"event": "failed", "id": id, "error": error}))?;
                } else {
                    note!("{id}: sync failed: {error}");
                }
            }
            PollEvent::RateLimited { until } => {
                let until = until
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "later".into());
                if context.json {
                    print_json_line(&json!({"event": "rate_limited", "until": until}))?;
                } else {
                    note!("GitHub rate limit reached: polling slows down until {until}");
                }
            }
            PollEvent::Idle => break,
            // Full listings are for screens; `watch` prints changes only.
            PollEvent::Listed(_) | PollEvent::Cached(_) => {}
        }
    }
    poller.abort();
    // Nothing left to follow (the request was already final): its status decides.
    if let (Some(id), false) = (&id, wanted.is_empty()) {
        let status = crate::domain::derive_status(&store.get_request(id).await?.value);
        if !wanted.contains(&status) {
            return Err(Answered {
                code: 1,
                message: format!("{id} is {}, not {}", status.as_str(), until.join(" or ")),
            }
            .into());
        }
    }
    Ok(())
}

pub async fn can_destroy_command(context: &Invocation, id: &str) -> Result<()> {
    let engine = engine(context).await?;
    let request = engine.store().get_request(id).await?.value;
    let (allowed, reason) = match engine.authorize(Operation::Destroy, &request) {
        Decision::Denied { reason } => (false, reason),
        Decision::Allowed => match can_destroy(&request) {
            Ok(reason) => (true, reason),
            Err(Readiness::NotReady(reason) | Readiness::AlreadyDone(reason)) => (false, reason),
            Err(Readiness::Ready) => (true, String::new()),
        },
    };
    if context.json {
        print_json(&json!({"id": id, "can_destroy": allowed, "reason": reason}))?;
    } else {
        let verdict = if allowed { "yes" } else { "no" };
        print(&format!("{id}: can destroy: {verdict}: {reason}\n"))?;
    }
    if allowed {
        Ok(())
    } else {
        Err(Answered {
            code: 3,
            message: format!("{id} cannot be destroyed now: {reason}"),
        }
        .into())
    }
}

pub async fn drift_eligible_command(context: &Invocation, repo: Option<&str>) -> Result<()> {
    let store = context.store().await?;
    let mut lister = context.lister(store);
    let (entries, _) = lister.refresh().await?;
    let repo_of = |request: &Request| {
        request
            .target
            .as_ref()
            .map(|t| format!("{}/{}", t.owner, t.repo))
    };
    let eligible: Vec<&Request> = entries
        .iter()
        .filter_map(|entry| entry.outcome.as_deref().ok())
        .filter(|request| drift_eligible(request))
        .filter(|request| {
            repo.is_none_or(|wanted| {
                repo_of(request).is_some_and(|have| have.eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    if context.json {
        let items: Vec<Value> = eligible
            .iter()
            .map(|r| {
                json!({"id": r.id, "project": r.project, "environment": r.environment,
                       "module": r.module, "repo": repo_of(r), "drift": r.drift})
            })
            .collect();
        return print_json(&Value::Array(items));
    }
    let mut text = String::new();
    for request in &eligible {
        let last = request
            .drift
            .as_ref()
            .and_then(|d| {
                d.checked_at
                    .map(|at| format!("last checked {}", at.to_rfc3339()))
            })
            .unwrap_or_else(|| "never checked".into());
        text.push_str(&format!(
            "{}  {}/{}  {}  {last}\n",
            request.id, request.project, request.environment, request.module
        ));
    }
    if eligible.is_empty() {
        text.push_str("No applied requests to check.\n");
    }
    print(&text)
}

pub async fn audit_export(context: &Invocation, id: &str) -> Result<()> {
    let store = context.store().await?;
    let request = store.get_request(id).await?.value;
    let events: Vec<Value> = store
        .list_events(id)
        .await?
        .into_iter()
        .map(|event| match event {
            Ok(event) => serde_json::to_value(event).unwrap_or(Value::Null),
            Err(bad) => json!({"key": bad.key, "error": bad.reason}),
        })
        .collect();
    let team = store
        .load_team_config()
        .await
        .context("reading the module catalog (it says which values are sensitive)")?;
    let derivation = derive(&request);
    // The conversation a request came from, when the assistant proposed it; read from its
    // own key, whatever the document says.
    let assistant = match &request.assistant {
        Some(_) => {
            let key = crate::domain::assistant::conversation_key(&request.id);
            match store.get_blob(&key).await? {
                Some(body) => serde_json::from_slice(&body)
                    .unwrap_or_else(|error| json!({"key": key, "error": error.to_string()})),
                None => json!({"key": key, "error": "not in the store"}),
            }
        }
        None => Value::Null,
    };
    // Always JSON: an export is for machines and archives.
    print_json(&json!({
        "exported_at": super::now(),
        "store": store.location(),
        "status": derivation.status,
        "status_rule": derivation.rule,
        "request": document_json(&request, team.module(&request.module)),
        "events": events,
        "assistant": assistant,
    }))
}

pub async fn modules(context: &Invocation) -> Result<()> {
    let store = context.store().await?;
    let team = store.load_team_config().await?;
    if context.json {
        return print_json(&json!({
            "modules": team.modules,
            "problems": team.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    let mut text = modules_table(&team.modules);
    if team.modules.is_empty() {
        text.push_str("The catalog is empty: an admin adds modules under config/modules/.\n");
    }
    for problem in &team.problems {
        text.push_str(&format!("problem: {problem}\n"));
    }
    print(&text)
}

/// The catalog as aligned columns: per module its name and description, then one line per
/// field (name, type, required or default, description), with an enum's values and what a
/// pattern asks for on the lines under it.
fn modules_table(modules: &[crate::domain::catalog::ModuleDef]) -> String {
    let fields = modules.iter().flat_map(|module| &module.fields);
    let width = |text: &dyn Fn(&crate::domain::catalog::FieldDef) -> usize| {
        fields.clone().map(text).max().unwrap_or(0)
    };
    let name_width = width(&|f| f.name.chars().count());
    let kind_width = width(&|f| f.kind.as_str().chars().count());
    let rule = |field: &crate::domain::catalog::FieldDef| match (&field.default, field.required) {
        (_, true) => "required".to_string(),
        (Some(default), false) => format!("default {default}"),
        (None, false) => "optional".to_string(),
    };
    let rule_width = width(&|f| rule(f).chars().count());
    let indent = 2 + name_width + 2 + kind_width + 2 + rule_width + 2;
    let mut text = String::new();
    for module in modules {
        text.push_str(&format!("{}  {}\n", module.name, module.description));
        for field in &module.fields {
            let line = format!(
                "  {:<name_width$}  {:<kind_width$}  {:<rule_width$}  {}",
                field.name,
                field.kind.as_str(),
                rule(field),
                field.description
            );
            text.push_str(line.trim_end());
            text.push('\n');
            if !field.values.is_empty() {
                text.push_str(&format!(
                    "{:indent$}one of: {}\n",
                    "",
                    field.values.join(", ")
                ));
            }
            if let Some(pattern) = &field.pattern {
                let format = field.pattern_description.as_deref().unwrap_or(pattern);
                text.push_str(&format!("{:indent$}format: {format}\n", ""));
            }
        }
    }
    text
}

#[cfg(test)]
mod modules_tests {
    use super::modules_table;
    use crate::domain::catalog::ModuleDef;

    #[test]
    fn the_catalog_lines_up_and_lists_enum_values() {
        let module = ModuleDef::parse(
            include_str!("../../examples/store/config/modules/s3-bucket.json"),
            "s3-bucket.json",
        )
        .expect("example module");
        let text = modules_table(&[module]);
        let lines: Vec<&str> = text.lines().collect();
        let column = |needle: &str| {
            lines
                .iter()
                .find(|line| line.starts_with(&format!("  {needle} ")))
                .and_then(|line| {
                    line.find("  ")
                        .map(|_| line[2 + needle.len()..].find(|c: char| c != ' '))
                })
                .flatten()
                .map(|at| at + 2 + needle.len())
                .unwrap_or_else(|| panic!("{needle}:\n{text}"))
        };
        assert_eq!(
            column("bucket_name"),
            column("region"),
            "types line up:\n{text}"
        );
        assert!(text.contains("one of: us-east-1"), "{text}");
        assert!(text.contains("format: 3 to 63 lowercase letters"), "{text}");
    }
}
