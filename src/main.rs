use std::process::ExitCode;

use clap::Parser;
use tfpilot::cli::{Cli, Invocation};
use tfpilot::logging::{self, LogTarget};
use tracing::Instrument;

/// Stack for the main and worker threads: the AWS SDK's futures are deep, and an unoptimised
/// build can pass tokio's 2 MiB default on an S3 store.
const THREAD_STACK_BYTES: usize = 8 << 20;

fn main() -> ExitCode {
    // A shell asking for completions (`TFPILOT_COMPLETE=bash tfpilot -- ...`) is answered and exits
    // here, before the runtime: the completers run their own bounded one.
    tfpilot::cli::complete_if_asked();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    // Usage errors exit with 2 (clap's own convention); `--help` and `--version` with 0.
    let cli = Cli::parse();
    let json = cli.json;
    // Generated from the command definitions: no config, store or log needed (a broken
    // config file must not stop a package build from making completions).
    if let Some(result) = tfpilot::cli::run_static(&cli) {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err, json),
        };
    }
    let context = match Invocation::resolve(&cli) {
        Ok(context) => context,
        Err(err) => return fail(&err, json),
    };

    let target = match (&context.config.log.file, &context.dirs) {
        (Some(file), _) => Some(LogTarget::File(file.clone())),
        (None, Some(dirs)) => Some(LogTarget::Daily(dirs.state.clone())),
        (None, None) => None,
    };
    let _log_guard = target.and_then(|target| match logging::init(&target, context.config.log.level.as_deref()) {
        Ok(guard) => Some(guard),
        Err(err) => {
            eprintln!("warning: logging is off: {err} (set --log-file or TFPILOT_LOG_FILE to a writable path)");
            None
        }
    });

    let span = tracing::info_span!("operation", correlation_id = %logging::correlation_id(), command = command_name(&cli));
    let result = tfpilot::cli::run(cli, context)
        .instrument(span.clone())
        .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            span.in_scope(|| tracing::error!(error = format!("{err:#}"), "command failed"));
            fail(&err, json)
        }
    }
}

/// Says what went wrong on stderr (and as JSON on stdout for `--json` callers) and exits with
/// the code scripts branch on: 1 failed, 2 bad input, 3 denied, 4 conflict or locked.
// The binary's edge: a `--json` caller reads the failure on stdout.
#[allow(clippy::print_stdout)]
fn fail(err: &anyhow::Error, json: bool) -> ExitCode {
    // An error can quote the store or GitHub: made safe for a terminal like all output.
    eprintln!(
        "error: {}",
        tfpilot::domain::untrusted::for_terminal(&format!("{err:#}"))
    );
    if json && let Some(answer) = tfpilot::cli::error_json(err) {
        println!(
            "{}",
            tfpilot::domain::untrusted::json_for_terminal(&answer.to_string())
        );
    }
    ExitCode::from(tfpilot::cli::exit_code(err))
}

fn command_name(cli: &Cli) -> &'static str {
    use tfpilot::cli::Command;
    let Some(command) = &cli.command else {
        return "dashboard";
    };
    match command {
        Command::List(_) => "list",
        Command::Show { .. } => "show",
        Command::Explain(_) => "explain",
        Command::Events { .. } => "events",
        Command::Diff { .. } => "diff",
        Command::Insights => "insights",
        Command::Login(_) => "login",
        Command::Logout => "logout",
        Command::Whoami => "whoami",
        Command::Sim(_) => "sim",
        Command::InitRepo(_) => "init-repo",
        Command::Assist(_) => "assist",
        Command::Create(_) => "create",
        Command::Update(_) => "update",
        Command::Change(_) => "change",
        Command::Plan(_) => "plan",
        Command::Approve(_) => "approve",
        Command::Merge(_) => "merge",
        Command::Apply(_) => "apply",
        Command::Destroy(_) => "destroy",
        Command::Cleanup(_) => "cleanup",
        Command::DriftCheck(_) => "drift-check",
        Command::Deployment(_) => "deployment",
        Command::Cancel(_) => "cancel",
        Command::Withdraw(_) => "withdraw",
        Command::Logs(_) => "logs",
        Command::Sync { .. } => "sync",
        Command::Reconcile(_) => "reconcile",
        Command::Watch { .. } => "watch",
        Command::CanDestroy { .. } => "can-destroy",
        Command::DriftEligible { .. } => "drift-eligible",
        Command::AuditExport { .. } => "audit-export",
        Command::Modules => "modules",
        Command::Template(_) => "template",
        Command::Policy(_) => "policy",
        Command::Doctor => "doctor",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
        Command::Sandbox(_) => "sandbox",
    }
}
