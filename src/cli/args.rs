//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use super::complete;

use crate::domain::Status;

/// `tfpilot --version`: the release, the commit it was built from and the day (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TFPILOT_COMMIT"),
    ", built ",
    env!("TFPILOT_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "tfpilot",
    version = VERSION,
    about = "A Terraform self-service control plane for the terminal",
    long_about = "A Terraform self-service control plane for the terminal.\n\nWithout a command, tfpilot opens the dashboard on the configured store and GitHub. `tfpilot sandbox` opens it on a local sandbox with a simulated GitHub: no credentials needed."
)]
pub struct Cli {
    /// Where requests live: s3://bucket/prefix, file:///path or a directory [env: TFPILOT_STORE]
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// The config file [env: TFPILOT_CONFIG] [default: ~/.config/tfpilot/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The GitHub API: https://api.github.com, https://HOST/api/v3 or a simulator [env: TFPILOT_GITHUB_API_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub github_url: Option<String>,
    /// Machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Write logs to this file instead of the daily files in the state directory
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Without a command: the dashboard
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List requests with their derived status, newest first
    List(ListArgs),
    /// Show one request: facts, status and timeline
    Show {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// Explain a request's status: the rule that matched, the facts it used, what comes next
    Explain(ExplainArgs),
    /// The request's pull request as a diff: its block, and anything else it changes flagged
    /// with `!` (which should be nothing); exit 1 when it changes more than the block
    Diff {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// A request's lifecycle audit events, oldest first
    Events {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// Counts, failure and success rates, apply durations
    Insights,
    /// Log in to GitHub with the device flow and keep the token in the OS keyring
    Login(LoginArgs),
    /// Forget the stored GitHub token
    Logout,
    /// Who the GitHub token belongs to, and where it came from
    Whoami,
    /// Serve the GitHub simulator on this machine until interrupted
    Sim(SimArgs),
    /// Write tfpilot's workflows into an infra repository checkout
    InitRepo(InitRepoArgs),
    /// Describe what you need in words: the assistant proposes module, project, environment
    /// and values, checked as a create would be; nothing is created without --create
    Assist(AssistArgs),
    /// Ask for infrastructure: writes the block, opens the pull request, dispatches the plan
    Create(CreateArgs),
    /// Change a request's values on its branch; withdraws the approval and plans again
    Update(UpdateArgs),
    /// Change an applied request's values: opens a change request that edits its block in
    /// place and goes through plan, approve, merge and apply like any request
    Change(UpdateArgs),
    /// Plan the request's branch again
    Plan(OpArgs),
    /// Approve the current plan (approvers and admins; not the requester)
    Approve(OpArgs),
    /// Merge the approved pull request at the planned head
    Merge(OpArgs),
    /// Apply the merged commit
    Apply(ApplyArgs),
    /// Destroy the request's resources
    Destroy(OpArgs),
    /// Open the pull request removing a destroyed request's block
    Cleanup(OpArgs),
    /// Check an applied request for changes made outside Terraform
    DriftCheck(OpArgs),
    /// Cancel the request's running plan (requester, approvers, admins), or an apply or destroy
    /// that has not started yet: queued, or waiting for a deployment review (approvers, admins)
    Cancel(OpArgs),
    /// Take back a request that was never applied: close its pull request unmerged, cancel a
    /// running plan, delete its branch (requester, approvers, admins)
    Withdraw(WithdrawArgs),
    /// Review the deployment a waiting apply or destroy run is held for (the environment's
    /// required reviewers; not the one who started the run when it prevents self-review)
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Read one request's facts from GitHub and record what changed
    Sync {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// Sync every unfinished request once, take over expired locks, find interrupted dispatches;
    /// with a webhook or an SMTP server, announce plan, apply and destroy conclusions and drift
    Reconcile(ReconcileArgs),
    /// A run's steps while it goes and its log once GitHub serves it; exits 0 when the run
    /// succeeded, 1 when it did not (and 0 while it runs, without --follow)
    Logs(LogsArgs),
    /// Follow requests and print each status change until they finish
    Watch {
        /// Only this request (default: every unfinished request)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: Option<String>,
        /// Stop once the request reaches one of these statuses (exit 0), or ends in another
        /// final one such as failed (exit 1): `--until applied`, `--until plan_ready,failed`
        #[arg(
            long,
            value_name = "STATUS[,STATUS]",
            value_delimiter = ',',
            requires = "id"
        )]
        until: Vec<String>,
    },
    /// Whether a request can be destroyed now, and why
    CanDestroy {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// Requests a drift check can run on (applied and standing); the scheduled drift workflow's work list
    DriftEligible {
        /// Only requests whose block lives in this repository (OWNER/NAME)
        #[arg(long, value_name = "OWNER/NAME")]
        repo: Option<String>,
    },
    /// A request's document and every lifecycle event, as one JSON document
    AuditExport {
        /// The request id (see `tfpilot list`)
        #[arg(add = ArgValueCompleter::new(complete::request_ids))]
        id: String,
    },
    /// The module catalog with each module's fields
    Modules,
    /// Print the completion script for a shell: bash, zsh, fish, elvish or powershell
    #[command(
        after_help = "Install, for example:\n  tfpilot completions bash > ~/.local/share/bash-completion/completions/tfpilot\n  tfpilot completions zsh > ~/.zfunc/_tfpilot\n  tfpilot completions fish > ~/.config/fish/completions/tfpilot.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the man page, or with --dir write one page per command there
    Man {
        /// Write tfpilot.1 and tfpilot-<command>.1 into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check the setup: store and bucket, team config, token, repositories, workflows, branch
    /// protection, prod environments; exits 1 when a check fails
    Doctor,
    /// Request templates: list and show for everyone; put, delete and seed for admins
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Policies on plans (Rego): list, show and test for everyone; put, delete and seed for
    /// admins
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The whole product on this machine: a local store and a simulated GitHub, seeded
    Sandbox(SandboxArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Every policy with its package, or why it cannot be used
    List,
    /// One policy's Rego source
    Show {
        /// The policy's name (its file name without .rego)
        name: String,
    },
    /// Create or replace a policy from a .rego file (`-` reads stdin); it must compile.
    /// Admins only
    Put {
        /// The policy: `package tfpilot.<name>` with `deny` and `warn` rules
        file: PathBuf,
        /// Store it under this name instead of the file's name
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a policy. Admins only
    Delete {
        /// The policy's name
        name: String,
    },
    /// Add the example policies (public buckets, prod databases, monthly cost), keeping
    /// existing ones. Admins only
    Seed,
    /// Let the latest plan of a request through the policies' deny, with a reason (audited;
    /// a new plan is judged afresh). Admins only
    Override {
        /// The request id (or a unique start of one)
        id: String,
        /// Why: kept in the audit trail and shown with the request
        #[arg(long)]
        reason: String,
        /// Do not ask first
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Evaluate a policy file against a plan (`terraform show -json` output) or a request's
    /// latest plan and print each rule's result, `test_` rules included; exits 1 when it
    /// denies or a test fails
    #[command(group(clap::ArgGroup::new("against").required(true).multiple(true).args(["plan", "request"])))]
    Test {
        /// The policy file (`-` reads stdin)
        file: PathBuf,
        /// The plan: `terraform show -json PLANFILE` output (judged whole without --request)
        #[arg(long, value_name = "PLAN.json")]
        plan: Option<PathBuf>,
        /// A request: its latest plan as kept by sync (or --plan scoped to it), its values and
        /// cost estimate as the policies see them at the gate
        #[arg(long, value_name = "ID")]
        request: Option<String>,
    },
    /// Judge a request's latest plan again by the policies as they are now (after a policy
    /// changed) and record the verdict
    Eval {
        /// The request id (or a unique start of one)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Every template with its module, environments and description
    List,
    /// One template: preset and locked values, who changed it last
    Show {
        /// The template id (see `tfpilot template list`)
        #[arg(add = ArgValueCompleter::new(complete::templates))]
        id: String,
    },
    /// Create or replace a template from a JSON file (`-` reads stdin); admins only
    Put {
        /// The template: {"id", "module", "description", "environments", "preset", "locked"}
        file: PathBuf,
    },
    /// Delete a template; requests made from it keep its id as a record. Admins only
    Delete {
        /// The template id
        #[arg(add = ArgValueCompleter::new(complete::templates))]
        id: String,
    },
    /// Add the example templates whose module is in the catalog, keeping existing ones. Admins only
    Seed,
}

#[derive(Debug, Args)]
pub struct AssistArgs {
    /// What you need, e.g. "a private bucket for payments logs in dev, 90 days"
    pub text: String,
    /// Create the proposed request, after asking (sensitive fields must be set afterwards
    /// with `tfpilot update`)
    #[arg(long)]
    pub create: bool,
    /// Do not ask before creating
    #[arg(long, requires = "create")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Post each transition to this Slack-compatible incoming webhook, once across every
    /// reconciler [env: TFPILOT_NOTIFY_URL] [config: notify.url]
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// Announce transitions this recent, e.g. 30m, 24h, 2d [config: notify.since_hours, 24h]
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub notify_since: Option<chrono::Duration>,
    /// Send no email this run, though an SMTP server is set [config: notify.smtp_url]
    #[arg(long)]
    pub no_email: bool,
}

fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let count: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age such as 30m, 24h or 2d"))?;
    match unit {
        "m" => Ok(chrono::Duration::minutes(count)),
        "h" | "" => Ok(chrono::Duration::hours(count)),
        "d" => Ok(chrono::Duration::days(count)),
        _ => Err(format!("`{text}`: use m, h or d, as in 30m, 24h or 2d")),
    }
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Serve the store and the simulator without the dashboard, until killed
    #[arg(long)]
    pub headless: bool,
    /// Who the dashboard acts as: alice (developer), bob (approver), admin or viewer; any login works
    #[arg(long = "as", value_name = "LOGIN", default_value = "alice")]
    pub login: String,
    /// Keep everything here (created if missing; an existing sandbox is reused)
    /// [default: ~/.local/share/tfpilot/sandbox]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Start the sandbox over: delete its directory first (only if it is a sandbox)
    #[arg(long)]
    pub reset: bool,
    /// The simulator's port on 127.0.0.1 (a free one by default)
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
    /// Seed only the team configuration, no requests
    #[arg(long)]
    pub no_requests: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The module from the catalog (see `tfpilot modules`); a template names its own
    #[arg(long, value_name = "MODULE", required_unless_present = "template", add = ArgValueCompleter::new(complete::modules))]
    pub module: Option<String>,
    /// Start from a template: its module, preset values and locked values (see `tfpilot template list`)
    #[arg(long, value_name = "TEMPLATE", add = ArgValueCompleter::new(complete::templates))]
    pub template: Option<String>,
    /// The project (see config/infra-repos.json)
    #[arg(long, value_name = "PROJECT", add = ArgValueCompleter::new(complete::projects))]
    pub project: String,
    /// The environment
    #[arg(long = "env", value_name = "ENV", add = ArgValueCompleter::new(complete::environments))]
    pub environment: String,
    /// A field value, repeatable: --set bucket_name=logs --set versioning=true
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_assignment)]
    pub values: Vec<(String, String)>,
    /// Repeat a create with the same key to continue it or get the same request back
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: String,
    /// A field value, repeatable: --set versioning=false
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_assignment, required = true)]
    pub values: Vec<(String, String)>,
    /// The same key within 10 minutes replays the first outcome
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: String,
    /// Which run (default: the one in flight, else the latest)
    #[arg(long, value_enum)]
    pub run: Option<RunChoice>,
    /// Print each step as it starts and ends, then the log, until the run completes
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunChoice {
    Plan,
    Apply,
    Destroy,
    Cleanup,
    Drift,
}

impl RunChoice {
    pub fn kind(self) -> crate::domain::RunKind {
        use crate::domain::RunKind;
        match self {
            RunChoice::Plan => RunKind::Plan,
            RunChoice::Apply => RunKind::Apply,
            RunChoice::Destroy => RunKind::Destroy,
            RunChoice::Cleanup => RunKind::Cleanup,
            RunChoice::Drift => RunKind::Drift,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub op: OpArgs,
    /// Where runs cover the whole root (`targeting = "root"`), apply even though the plan also
    /// changes resources outside this request
    #[arg(long)]
    pub include_outside: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Approve it: the run goes on and Terraform runs
    Approve(DeploymentArgs),
    /// Reject it: GitHub fails the run, nothing is applied
    Reject(DeploymentArgs),
}

#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: String,
    /// Recorded with the review on GitHub and in the audit trail
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// The same key within 10 minutes replays the first outcome instead of acting again
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Go ahead without asking (without a terminal this is needed)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: String,
    /// Why, recorded with the withdrawal and in the audit trail (up to 500 characters)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The same key within 10 minutes replays the first outcome instead of acting again
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Go ahead without asking (without a terminal this is needed)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct OpArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: String,
    /// The same key within 10 minutes replays the first outcome instead of acting again
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Go ahead without asking (merge, apply, destroy and cleanup ask first; without a
    /// terminal they need this)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

fn parse_collaborator(text: &str) -> Result<(String, crate::sim::access::Permission), String> {
    let (login, role) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not LOGIN=ROLE"))?;
    let role = crate::sim::access::Permission::parse(role.trim()).ok_or_else(|| {
        format!("{role:?} is not a role; use read, triage, write, maintain or admin")
    })?;
    Ok((login.trim().to_string(), role))
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => {
            Ok((field.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not FIELD=VALUE")),
    }
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth app's client id [env: TFPILOT_GITHUB_CLIENT_ID] [config: github.client_id]
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Instead of GitHub: keep the password of [notify] smtp_url's user in the keyring, read
    /// from standard input (pipe it; it is never echoed, logged or printed)
    #[arg(long, conflicts_with_all = ["client_id", "assistant"])]
    pub smtp: bool,
    /// Instead of GitHub: keep the API key of [assistant] url in the keyring, read from
    /// standard input (pipe it; it is never echoed, logged or printed)
    #[arg(long, conflicts_with = "client_id")]
    pub assistant: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:4010", value_name = "HOST:PORT")]
    pub addr: std::net::SocketAddr,
    /// Create this repository with envs/{dev,staging,prod}/tfpilot.tf (repeatable)
    #[arg(
        long = "repo",
        value_name = "OWNER/NAME",
        default_value = "acme/infra-live"
    )]
    pub repos: Vec<String>,
    /// Give LOGIN a role (read, triage, write, maintain, admin) in every repository, beside the
    /// sandbox's people (admin admin, bob maintain, alice/carol/dave write, viewer read)
    #[arg(long = "collaborator", value_name = "LOGIN=ROLE", value_parser = parse_collaborator)]
    pub collaborators: Vec<(String, crate::sim::access::Permission)>,
    /// Seconds a dispatched run stays queued
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub queue_seconds: u64,
    /// Seconds a run takes once started
    #[arg(long, default_value_t = 6, value_name = "SECONDS")]
    pub run_seconds: u64,
    /// Primary rate limit per token and hour
    #[arg(long, default_value_t = 5000, value_name = "REQUESTS")]
    pub rate_limit: u32,
    /// Behave like a GitHub without `return_run_details` on workflow dispatch
    #[arg(long)]
    pub without_run_details: bool,
    /// Plan runs print no Infracost estimate, like a plan workflow without Infracost configured
    #[arg(long)]
    pub without_infracost: bool,
    /// Seconds after a push during which a pull request's `mergeable` is null
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub mergeability_seconds: u64,
}

#[derive(Debug, Args)]
pub struct InitRepoArgs {
    /// The infra repository checkout
    pub dir: PathBuf,
    /// Overwrite workflows that differ from tfpilot's
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only requests in this derived status (request_created, planning, plan_ready, approved,
    /// merged, applying, applied, destroying, destroyed, failed)
    #[arg(long, value_parser = StatusParser)]
    pub status: Option<Status>,
    /// Only requests for this environment
    #[arg(long, value_name = "ENV", add = ArgValueCompleter::new(complete::environments))]
    pub env: Option<String>,
    /// At most this many requests
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ExplainArgs {
    /// The request id (see `tfpilot list`)
    #[arg(add = ArgValueCompleter::new(complete::request_ids))]
    pub id: Option<String>,
    /// Explain a request document file instead of one in the store
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// Reads a status as `Status::parse` does (`plan-ready` too), and names every status so shell
/// completions offer them.
#[derive(Debug, Clone, Copy)]
struct StatusParser;

impl clap::builder::TypedValueParser for StatusParser {
    type Value = Status;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Status, clap::Error> {
        let invalid = |message: String| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{message}\n"))
                .with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| invalid("a status is plain text".into()))?;
        parse_status(text).map_err(invalid)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(Status::ALL.into_iter().map(|status| {
            clap::builder::PossibleValue::new(status.as_str())
        })))
    }
}

fn parse_status(text: &str) -> Result<Status, String> {
    Status::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status `{text}`; use one of: {}", names.join(", "))
    })
}
