//! The headless CLI: parse, open the store, run one command, print text or JSON.

// Printing belongs here, at the CLI's edge (Cargo.toml denies it elsewhere).
#![allow(clippy::print_stdout)]

/// A line for stderr, with whatever it quotes from the store or GitHub made safe for a terminal
/// (`domain::untrusted`). Every note and warning the CLI gives goes through it.
macro_rules! note {
    ($($arg:tt)*) => {
        eprintln!(
            "{}",
            $crate::domain::untrusted::for_terminal(&format!($($arg)*))
        )
    };
}

mod args;
mod assist;
mod complete;
mod confirm;
mod dashboard;
mod docs;
mod doctor;
mod github;
mod init_repo;
mod input_file;
mod logs;
mod mail;
mod ops;
mod policies;
mod render;
mod sandbox;
mod sim;
mod templates;

pub use docs::complete_if_asked;
pub use ops::{error_json, exit_code};

use render::ListRow;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

pub use args::{
    ApplyArgs, AssistArgs, Cli, Command, CreateArgs, DeploymentArgs, DeploymentCommand,
    ExplainArgs, InitRepoArgs, ListArgs, LoginArgs, LogsArgs, OpArgs, PolicyCommand, ReconcileArgs,
    SandboxArgs, SimArgs, TemplateCommand, UpdateArgs, WithdrawArgs,
};

use crate::config::{Config, Dirs};
use crate::domain::deployment::{Verdict, waiting_json};
use crate::domain::operation::Operation;
use crate::domain::presentation::{document_json, present};
use crate::domain::{
    Derivation, Request, Timestamp, build_timeline, compute_insights, derive, parse_request,
};
use crate::store::listing::cache_file_for;
use crate::store::{RequestLister, Store, open_backend};

/// Everything a command needs, resolved from flags, environment and config.
pub struct Invocation {
    pub config: Config,
    pub dirs: Option<Dirs>,
    pub json: bool,
}

impl Invocation {
    /// Loads config (`--config`, `TFPILOT_CONFIG`, or the default path) and applies overrides.
    pub fn resolve(cli: &Cli) -> Result<Invocation> {
        let dirs = Dirs::discover();
        let env_path = std::env::var_os("TFPILOT_CONFIG").map(PathBuf::from);
        let (path, explicit) = match (&cli.config, env_path, &dirs) {
            (Some(path), _, _) => (Some(path.clone()), true),
            (None, Some(path), _) => (Some(path), true),
            (None, None, Some(dirs)) => (Some(dirs.config_file()), false),
            (None, None, None) => (None, false),
        };
        let mut config = match path {
            Some(path) => Config::load(&path, explicit)?,
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        if let Some(url) = &cli.github_url {
            config.github.api_url = url.trim_end_matches('/').to_string();
        }
        if let Some(store) = &cli.store {
            config.store = Some(store.clone());
        }
        if let Some(file) = &cli.log_file {
            config.log.file = Some(file.clone());
        }
        Ok(Invocation {
            config,
            dirs,
            json: cli.json,
        })
    }

    async fn store(&self) -> Result<Store> {
        let url = self.config.store_url(self.dirs.as_ref())?;
        // The default store is created on first use; a store the user named must exist.
        let backend = open_backend(&url, &self.config.s3, self.config.store.is_none()).await?;
        let limit = self
            .config
            .max_document_bytes
            .unwrap_or(crate::domain::document::MAX_DOCUMENT_BYTES);
        Ok(Store::new(backend).with_document_limit(limit))
    }

    fn lister(&self, store: Store) -> RequestLister {
        let cache = self
            .dirs
            .as_ref()
            .map(|dirs| cache_file_for(&dirs.cache, &store.location()));
        RequestLister::new(store, cache)
    }
}

/// Commands that need nothing but the binary: completions and man pages.
pub fn run_static(cli: &Cli) -> Option<Result<()>> {
    match &cli.command {
        Some(Command::Completions { shell }) => Some(docs::completions(*shell)),
        Some(Command::Man { dir }) => Some(docs::man(dir.as_deref())),
        _ => None,
    }
}

/// The request id a command names, to be completed from a unique prefix.
fn request_id_of(command: &mut Command) -> Option<&mut String> {
    match command {
        Command::Show { id }
        | Command::Diff { id }
        | Command::Events { id }
        | Command::Sync { id }
        | Command::CanDestroy { id }
        | Command::AuditExport { id } => Some(id),
        Command::Explain(args) => args.id.as_mut(),
        Command::Watch { id, .. } => id.as_mut(),
        Command::Update(args) | Command::Change(args) => Some(&mut args.id),
        Command::Logs(args) => Some(&mut args.id),
        Command::Withdraw(args) => Some(&mut args.id),
        Command::Deployment(DeploymentCommand::Approve(args) | DeploymentCommand::Reject(args)) => {
            Some(&mut args.id)
        }
        Command::Apply(args) => Some(&mut args.op.id),
        Command::Plan(args)
        | Command::Approve(args)
        | Command::Merge(args)
        | Command::Destroy(args)
        | Command::Cleanup(args)
        | Command::DriftCheck(args)
        | Command::Cancel(args) => Some(&mut args.id),
        Command::Policy(PolicyCommand::Override { id, .. } | PolicyCommand::Eval { id }) => {
            Some(id)
        }
        Command::Policy(PolicyCommand::Test {
            request: Some(id), ..
        }) => Some(id),
        _ => None,
    }
}

/// Completes a unique start of an id (`tfpilot show req_01KF`) to the whole id; an ambiguous one
/// is refused with the candidates (exit 2). An id that names nothing is left for the command,
/// which says so in its own words.
async fn complete_request_id(context: &Invocation, id: &mut String) -> Result<()> {
    let store = context.store().await?;
    match store.resolve_request_id(id).await {
        Ok(full) => *id = full,
        Err(error @ crate::store::StoreError::AmbiguousId { .. }) => {
            return Err(crate::engine::EngineError::Invalid {
                message: error.to_string(),
            }
            .into());
        }
        Err(_) => {}
    }
    Ok(())
}

pub async fn run(cli: Cli, context: Invocation) -> Result<()> {
    let Some(mut command) = cli.command else {
        return dashboard::run(&context).await;
    };
    if let Some(id) = request_id_of(&mut command) {
        complete_request_id(&context, id).await?;
    }
    match command {
        Command::List(args) => list(&context, args).await,
        Command::Show { id } => show(&context, &id).await,
        Command::Explain(args) => explain(&context, args).await,
        Command::Events { id } => events(&context, &id).await,
        Command::Diff { id } => ops::diff(&context, &id).await,
        Command::Insights => insights(&context).await,
        Command::Login(args) => github::login(&context, args).await,
        Command::Assist(args) => assist::assist(&context, args).await,
        Command::Logout => github::logout(&context),
        Command::Whoami => github::whoami(&context).await,
        Command::Sim(args) => sim::serve(&context, args).await,
        Command::InitRepo(args) => init_repo::run(&context, &args),
        Command::Create(args) => ops::create(&context, args).await,
        Command::Update(args) => ops::update(&context, args).await,
        Command::Change(args) => ops::change(&context, args).await,
        Command::Plan(args) => ops::operation(&context, Operation::Plan, args).await,
        Command::Approve(args) => ops::operation(&context, Operation::Approve, args).await,
        Command::Merge(args) => ops::operation(&context, Operation::Merge, args).await,
        Command::Apply(args) => ops::apply(&context, args).await,
        Command::Destroy(args) => ops::operation(&context, Operation::Destroy, args).await,
        Command::Cleanup(args) => ops::operation(&context, Operation::Cleanup, args).await,
        Command::DriftCheck(args) => ops::operation(&context, Operation::DriftCheck, args).await,
        Command::Logs(args) => logs::logs(&context, args).await,
        Command::Cancel(args) => ops::operation(&context, Operation::Cancel, args).await,
        Command::Withdraw(args) => ops::withdraw(&context, args).await,
        Command::Deployment(DeploymentCommand::Approve(args)) => {
            ops::deployment(&context, Verdict::Approve, args).await
        }
        Command::Deployment(DeploymentCommand::Reject(args)) => {
            ops::deployment(&context, Verdict::Reject, args).await
        }
        Command::Sync { id } => ops::sync(&context, &id).await,
        Command::Reconcile(args) => ops::reconcile(&context, args).await,
        Command::Watch { id, until } => ops::watch(&context, id, &until).await,
        Command::CanDestroy { id } => ops::can_destroy_command(&context, &id).await,
        Command::DriftEligible { repo } => {
            ops::drift_eligible_command(&context, repo.as_deref()).await
        }
        Command::AuditExport { id } => ops::audit_export(&context, &id).await,
        Command::Modules => ops::modules(&context).await,
        Command::Template(command) => templates::run(&context, command).await,
        Command::Policy(command) => policies::run(&context, command).await,
        Command::Doctor => doctor::run(&context).await,
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
        Command::Sandbox(args) => sandbox::run(&context, args).await,
    }
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

/// Writes text output to stdout; text from the store or GitHub in it is made safe for a terminal
/// (`domain::untrusted`), whoever built the text.
fn print(text: &str) -> Result<()> {
    write_stdout(&crate::domain::untrusted::for_terminal(text))
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        // A closed pipe (`tfpilot list | head`) is not an error worth reporting.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

fn print_json(value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_stdout(&crate::domain::untrusted::json_for_terminal(&text))
}

/// One JSON value on a line of its own (`watch --json`), safe for a terminal like `print_json`.
fn print_json_line(value: &Value) -> Result<()> {
    let mut text = value.to_string();
    text.push('\n');
    write_stdout(&crate::domain::untrusted::json_for_terminal(&text))
}

async fn list(context: &Invocation, args: ListArgs) -> Result<()> {
    let store = context.store().await?;
    let mut lister = context.lister(store);
    let (entries, stats) = lister.refresh().await?;
    tracing::info!(
        listed = stats.listed,
        fetched = stats.fetched,
        reused = stats.reused,
        "listed requests"
    );

    let filtering = args.status.is_some() || args.env.is_some();
    let mut rows: Vec<ListRow> = entries
        .iter()
        .map(|entry| match &entry.outcome {
            Ok(request) => ListRow::Readable {
                request,
                status: derive(request).status,
            },
            Err(error) => ListRow::Unreadable { entry, error },
        })
        .filter(|row| match row {
            ListRow::Readable { request, status } => {
                args.status.is_none_or(|wanted| *status == wanted)
                    && args
                        .env
                        .as_ref()
                        .is_none_or(|env| &request.environment == env)
            }
            ListRow::Unreadable { .. } => !filtering,
        })
        .collect();
    // Newest first; unreadable entries last, by key.
    rows.sort_by(|a, b| match (a, b) {
        (ListRow::Readable { request: x, .. }, ListRow::Readable { request: y, .. }) => y
            .created_at
            .cmp(&x.created_at)
            .then_with(|| y.id.cmp(&x.id)),
        (ListRow::Readable { .. }, ListRow::Unreadable { .. }) => std::cmp::Ordering::Less,
        (ListRow::Unreadable { .. }, ListRow::Readable { .. }) => std::cmp::Ordering::Greater,
        (ListRow::Unreadable { entry: x, .. }, ListRow::Unreadable { entry: y, .. }) => {
            x.key.cmp(&y.key)
        }
    });
    if let Some(limit) = args.limit {
        rows.truncate(limit);
    }

    if context.json {
        let items: Vec<Value> = rows.iter().map(list_item_json).collect();
        return print_json(&Value::Array(items));
    }
    let hidden = entries.iter().filter(|e| e.outcome.is_err()).count();
    if filtering && hidden > 0 {
        note!(
            "note: {hidden} unreadable document(s) not shown; `tfpilot list` without filters lists them"
        );
    }
    print(&render::list(&rows))?;
    // The statuses are the store's, as the last sync wrote them: say how old that is.
    let oldest = rows
        .iter()
        .filter_map(|row| match row {
            ListRow::Readable { request, status } if !status.is_final() => Some(request.updated_at),
            _ => None,
        })
        .min();
    if let Some(oldest) = oldest {
        note!(
            "as the store has them: the oldest unfinished request was last written {} ago; `tfpilot reconcile` (or `tfpilot sync ID`) asks GitHub now",
            crate::domain::time::describe_age(now().seconds_since(oldest))
        );
    }
    Ok(())
}

fn list_item_json(row: &ListRow) -> Value {
    match row {
        ListRow::Readable { request, status } => json!({
            "id": request.id,
            "project": request.project,
            "environment": request.environment,
            "module": request.module,
            "status": status,
            "waiting": waiting_json(request),
            "drift": request.drift.as_deref().and_then(|d| d.state.clone()),
            "policy": crate::domain::policy::current(request).and_then(|fact| fact.verdict),
            "policy_overridden": crate::domain::policy::current_override(request).is_some(),
            "requested_by": request.requested_by,
            "created_at": request.created_at,
            "updated_at": request.updated_at,
        }),
        ListRow::Unreadable { entry, error } => {
            json!({ "id": entry.id, "key": entry.key, "error": error.to_string() })
        }
    }
}

async fn show(context: &Invocation, id: &str) -> Result<()> {
    let store = context.store().await?;
    let request = store.get_request(id).await?.value;
    let team = store
        .load_team_config()
        .await
        .context("reading the module catalog (it says which values are sensitive)")?;
    let module = team.module(&request.module);
    let mut view = present(&request, module, now());
    let mut changes = Vec::new();
    for change in &request.change_requests {
        match store.get_request(change).await {
            Ok(found) => changes.push(found.value),
            Err(error) => note!("change {change} cannot be read: {error}"),
        }
    }
    let changes: Vec<&crate::domain::Request> = changes.iter().collect();
    view.changes = crate::domain::change::history(&request, &changes, module);
    view.values_now = crate::domain::change::values_now(&request, &changes, module);
    if context.json {
        let mut value = document_json(&request, module);
        value["status"] = json!(view.derivation.status);
        value["status_rule"] = json!(view.derivation.rule);
        value["waiting"] = waiting_json(&request);
        value["change_history"] = json!(view.changes);
        if let Some(now) = &view.values_now {
            value["values_now"] = json!(now);
        }
        return print_json(&value);
    }
    let events: Vec<_> = store
        .list_events(id)
        .await?
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let timeline = build_timeline(&request, &events);
    print(&render::show(&view, &timeline))?;
    note!(
        "as the store has it, last written {} ago; `tfpilot sync {}` asks GitHub now",
        crate::domain::time::describe_age(now().seconds_since(request.updated_at)),
        request.id
    );
    Ok(())
}

fn explanation_json(request: &Request, derivation: &Derivation) -> Value {
    json!({
        "id": request.id,
        "status": derivation.status,
        "label": derivation.status.label(),
        "terminal": derivation.status.is_terminal(),
        "rule": {
            "number": derivation.rule.number(),
            "name": derivation.rule,
            "description": derivation.rule.description(),
        },
        "facts": derivation.facts,
        "next_step": crate::domain::presentation::next_step(request),
        "stored_status": request.status,
    })
}

async fn explain(context: &Invocation, args: ExplainArgs) -> Result<()> {
    let request = match (&args.id, &args.file) {
        (_, Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            parse_request(&bytes)
                .with_context(|| format!("{} is not a request document", path.display()))?
        }
        (Some(id), None) => context.store().await?.get_request(id).await?.value,
        (None, None) => bail!("give a request id or --file PATH"),
    };
    let derivation = derive(&request);
    if context.json {
        return print_json(&explanation_json(&request, &derivation));
    }
    print(&render::explain(&request, &derivation))
}

async fn events(context: &Invocation, id: &str) -> Result<()> {
    let store = context.store().await?;
    let events = store.list_events(id).await?;
    if events.is_empty() {
        // Tell "no events yet" apart from "no such request" (its document may be archived).
        if let Err(err) = store.get_request(id).await {
            return Err(err.into());
        }
    }
    if context.json {
        let items: Vec<Value> = events
            .iter()
            .map(|event| match event {
                Ok(event) => serde_json::to_value(event).unwrap_or(Value::Null),
                Err(bad) => json!({ "key": bad.key, "error": bad.reason }),
            })
            .collect();
        return print_json(&Value::Array(items));
    }
    print(&render::events(&events))
}

async fn insights(context: &Invocation) -> Result<()> {
    let store = context.store().await?;
    let mut lister = context.lister(store);
    let (entries, _) = lister.refresh().await?;
    let readable: Vec<&Request> = entries
        .iter()
        .filter_map(|e| e.outcome.as_deref().ok())
        .collect();
    let unreadable = entries.len() - readable.len();
    let insights = compute_insights(readable, now());
    if context.json {
        let mut value = serde_json::to_value(&insights)?;
        value["unreadable"] = json!(unreadable);
        return print_json(&value);
    }
    print(&render::insights(&insights, unreadable))
}
