//! Workflow runs: their effects on the applied state when they complete, and
//! the job log they leave, in GitHub Actions' log format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use super::git::{self, Tree};
use super::model::{Run, RunPhase, SimState, repo_key};
use super::plan::{self, ResourceChange};
use super::plan_json;

/// The steps of the single job every tfpilot workflow runs.
pub fn step_names(operation: &str) -> Vec<String> {
    let main = match operation {
        "plan" => "Terraform plan",
        "apply" => "Terraform apply",
        "destroy" => "Terraform destroy",
        "cleanup" => "Check state and clean up",
        _ => "Terraform plan (drift check)",
    };
    [
        "Set up job",
        "Check inputs",
        "Checkout",
        "Setup Terraform",
        "Configure AWS credentials",
        "Terraform init",
        main,
        "Complete job",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// Complete every run whose time has come, oldest completion first, so runs
/// see each other's effects in the order GitHub would have run them.
pub fn settle(state: &mut SimState, now: DateTime<Utc>) {
    let mut due: Vec<usize> = (0..state.runs.len())
        .filter(|&index| {
            let run = &state.runs[index];
            run.log.is_none() && run.phase(now) == RunPhase::Completed
        })
        .collect();
    due.sort_by_key(|&index| (state.runs[index].completed_at(), state.runs[index].id));
    for index in due {
        complete(state, index);
    }
}

fn complete(state: &mut SimState, index: usize) {
    let run = state.runs[index].clone();
    let key = repo_key_of(&run.repo);
    let tree: Tree = state
        .repos
        .get(&key)
        .and_then(|repo| repo.commits.get(&run.head_sha))
        .map(|commit| commit.tree.clone())
        .unwrap_or_default();
    let target = run.target_id().to_string();
    let directory = locate(state, &key, &tree, &target);
    let deployed = state
        .deployed
        .get(&(key.clone(), directory.clone()))
        .cloned()
        .unwrap_or_default();
    let mut desired = desired_blocks(&tree, &directory);
    let mut deployed = deployed;
    if run.targets_request() {
        // `-target=module.tfpilot_<id>`: Terraform looks at nothing else.
        desired.retain(|id, _| *id == target);
        deployed.retain(|id, _| *id == target);
    }
    let mut conclusion = run.conclusion.clone();
    let mut error = run.error.clone();
    let changes: Vec<ResourceChange> = match run.operation.as_str() {
        "destroy" => {
            let only: BTreeMap<String, String> = deployed
                .get(&target)
                .map(|block| BTreeMap::from([(target.clone(), block.clone())]))
                .unwrap_or_default();
            plan::diff(&only, &BTreeMap::new())
        }
        "cleanup" => {
            if conclusion == "success" && deployed.contains_key(&run.request_id) {
                conclusion = "failure".to_string();
                error = Some(format!(
                    "module.{} still has resources in state; destroy them before cleanup",
                    crate::domain::infra_file::module_label(&run.request_id)
                ));
            }
            Vec::new()
        }
        "drift" => {
            let mut changes = plan::diff(&deployed, &desired);
            if run.drift
                && let Some(change) = deployed
                    .get(&run.request_id)
                    .and_then(|block| plan::drift_change(&run.request_id, block))
            {
                changes.push(change);
            }
            changes
        }
        _ => plan::diff(&deployed, &desired),
    };
    let estimate = (run.operation == "plan" && conclusion == "success" && state.options.infracost)
        .then(|| {
            let project = format!("{}/{}", run.repo, directory);
            let at = run.completed_at().unwrap_or(run.created_at).to_rfc3339();
            super::cost::estimate(&project, &deployed, &desired, &at).to_string()
        });
    if conclusion == "success" {
        let slot = state.deployed.entry((key, directory)).or_default();
        match run.operation.as_str() {
            "apply" if run.targets_request() => match desired.get(&target) {
                Some(block) => {
                    slot.insert(target.clone(), block.clone());
                }
                None => {
                    slot.remove(&target);
                }
            },
            "apply" => *slot = desired,
            "destroy" => {
                slot.remove(&target);
            }
            _ => {}
        }
    }
    let log = render_log(
        &run,
        &conclusion,
        error.as_deref(),
        &changes,
        estimate.as_deref(),
    );
    // The plan workflow's `Plan as JSON` and upload steps run after a successful plan.
    let plan_json = (run.operation == "plan"
        && conclusion == "success"
        && run
            .uploads
            .iter()
            .any(|name| name == plan_json::PLAN_JSON_ARTIFACT))
    .then(|| plan_json::plan_json(&changes).to_string());
    let stored = &mut state.runs[index];
    stored.conclusion = conclusion;
    stored.error = error;
    stored.log = Some(log);
    stored.plan_json = plan_json;
}

fn repo_key_of(full_name: &str) -> String {
    let (owner, name) = full_name.split_once('/').unwrap_or((full_name, ""));
    repo_key(owner, name)
}

/// The Terraform root directory holding the request's block: where the block
/// is at the run's commit, else where it was applied, else the repo root.
fn locate(state: &SimState, repo: &str, tree: &Tree, request_id: &str) -> String {
    for (path, content) in tree {
        if git::blocks(content).is_some_and(|blocks| blocks.contains_key(request_id)) {
            return parent_dir(path);
        }
    }
    state
        .deployed
        .iter()
        .find(|((key, _), blocks)| key == repo && blocks.contains_key(request_id))
        .map(|((_, directory), _)| directory.clone())
        .unwrap_or_default()
}

fn parent_dir(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(directory, _)| directory.to_string())
        .unwrap_or_default()
}

/// Every tfpilot block in the `.tf` files directly inside `directory`.
fn desired_blocks(tree: &Tree, directory: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (path, content) in tree {
        if path.ends_with(".tf") && parent_dir(path) == directory {
            out.extend(git::blocks(content).unwrap_or_default());
        }
    }
    out
}

/// Steps done at `now`: all once completed (none for a job that never started), a share while
/// in progress. A job stopped mid-run (cancelled) has done those it finished by then.
pub fn steps_done(run: &Run, now: DateTime<Utc>) -> usize {
    let total = step_names(&run.operation).len();
    let Some(start) = run.started_at() else {
        return 0;
    };
    let until = match run.phase(now) {
        RunPhase::Queued | RunPhase::Waiting => return 0,
        RunPhase::Completed if run.stopped_at.is_none() => return total,
        RunPhase::Completed => run.completed_at().unwrap_or(now),
        RunPhase::InProgress => now,
    };
    let elapsed = (until - start).num_milliseconds().max(0);
    let span = (run.run_seconds * 1000).max(1);
    (((elapsed * total as i64) / span) as usize).min(total)
}

/// When step `index` starts, spreading the steps over the run.
pub fn step_start(run: &Run, index: usize) -> DateTime<Utc> {
    let total = step_names(&run.operation).len() as i64;
    let start = run.started_at().unwrap_or_else(|| run.queued_until());
    start + Duration::milliseconds(run.run_seconds * 1000 * index as i64 / total)
}

fn render_log(
    run: &Run,
    conclusion: &str,
    error: Option<&str>,
    changes: &[ResourceChange],
    estimate: Option<&str>,
) -> String {
    let mut log = ActionsLog::default();
    if run.started_at().is_none() {
        // Rejected or cancelled before a runner picked the job up: nothing ran.
        let at = run.completed_at().unwrap_or(run.created_at);
        let message = error.unwrap_or("The operation was canceled.");
        log.line(at, &format!("##[error]{message}"));
        return log.out;
    }
    let steps = step_names(&run.operation);
    let at = |index: usize| step_start(run, index);
    log.group(
        at(0),
        "Runner Image",
        &["Image: ubuntu-24.04", "Version: 20261117.1.0"],
    );
    log.line(
        at(0),
        &format!(
            "Job is about to start running on the runner: GitHub Actions {}",
            run.job_id % 100
        ),
    );
    log.group(at(1), "Run [[ \"$TFPILOT_ENVIRONMENT\" =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo \"::error::environment must be lowercase letters, digits and -\"; exit 1; }", &[]);
    log.group(
        at(2),
        "Run actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        &[&format!("  ref: {}", run.head_branch)],
    );
    log.line(
        at(2),
        &format!(
            "HEAD is now at {} {}",
            &run.head_sha[..7.min(run.head_sha.len())],
            run.name
        ),
    );
    log.group(
        at(3),
        "Run hashicorp/setup-terraform@5e8dbf3c6d9deaf4193ca7a8fb23f2ac83bb6c85",
        &["  terraform_version: 1.9.8"],
    );
    log.group(
        at(4),
        "Run aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838",
        &["  role-session-name: tfpilot"],
    );
    log.group(at(5), "Run terraform init -input=false -no-color", &[]);
    for line in [
        "Initializing the backend...",
        "Initializing modules...",
        "Initializing provider plugins...",
        "- Using previously-installed hashicorp/aws v5.82.2",
        "",
        "Terraform has been successfully initialized!",
    ] {
        log.line(at(5), line);
    }
    let main_at = at(6);
    let target = if run.targets_request() {
        format!(
            " -target=module.{}",
            crate::domain::infra_file::module_label(run.target_id())
        )
    } else {
        String::new()
    };
    let command = match run.operation.as_str() {
        "plan" => {
            format!("terraform plan -input=false -no-color -lock-timeout=5m{target} -out=tfplan")
        }
        "drift" => {
            "terraform plan -input=false -no-color -lock-timeout=5m -detailed-exitcode".to_string()
        }
        "apply" => {
            format!("terraform apply -input=false -no-color -lock-timeout=5m -auto-approve{target}")
        }
        "destroy" => {
            format!(
                "terraform destroy -input=false -no-color -lock-timeout=5m -auto-approve{target}"
            )
        }
        _ => "terraform state list".to_string(),
    };
    log.group(
        main_at,
        &format!("Run {command}"),
        &[
            &format!("  TFPILOT_REQUEST_ID: {}", run.request_id),
            &format!("  TFPILOT_DISPATCH_ID: {}", run.dispatch_id),
        ],
    );
    let failed = conclusion != "success";
    if run.operation == "drift" && run.drift {
        log.text(main_at, "Note: Objects have changed outside of Terraform\n");
    }
    if run.operation != "cleanup" {
        log.text(main_at, &plan::render_plan(changes));
    }
    if !target.is_empty() && run.operation != "destroy" {
        // As Terraform warns after a plan made with -target.
        log.text(
            main_at,
            "\nWarning: Resource targeting is in effect\n\nYou are creating a plan with the -target option, which means that the\nresult of this plan may not represent all of the changes requested by the\ncurrent configuration.\n",
        );
    }
    if failed {
        let message = error.unwrap_or(match conclusion {
            "cancelled" => "The operation was canceled.",
            _ => "creating resource: operation error: StatusCode: 403, api error AccessDenied",
        });
        if conclusion == "cancelled" {
            log.line(main_at, "##[error]The operation was canceled.");
        } else {
            let address = changes.first().map(|change| change.address.as_str());
            log.text(main_at, &plan::render_error(message, address));
            log.line(main_at, "##[error]Process completed with exit code 1.");
        }
    } else if matches!(run.operation.as_str(), "apply" | "destroy") {
        log.text(
            main_at,
            &plan::render_apply(changes, run.operation == "destroy"),
        );
    } else if run.operation == "cleanup" {
        log.line(
            main_at,
            &format!(
                "No resources remain for request {}; cleanup done.",
                run.request_id
            ),
        );
    }
    if let Some(estimate) = estimate {
        // As the plan workflow prints it: tfpilot reads the JSON between the markers.
        log.group(
            main_at,
            "Run infracost breakdown --path tfplan.json --format json --out-file infracost.json",
            &[],
        );
        log.line(main_at, crate::domain::cost::COST_BEGIN);
        log.line(main_at, estimate);
        log.line(main_at, crate::domain::cost::COST_END);
    }
    let end = at(steps.len() - 1);
    log.line(end, "Cleaning up orphan processes");
    log.out
}

/// Lines prefixed with a timestamp, as GitHub serves job logs.
#[derive(Default)]
struct ActionsLog {
    out: String,
}

impl ActionsLog {
    fn line(&mut self, at: DateTime<Utc>, text: &str) {
        // GitHub stamps log lines with 7 fractional digits, which chrono has no
        // specifier for.
        let ticks = at.timestamp_subsec_nanos() / 100;
        let _ = writeln!(
            self.out,
            "{}.{ticks:07}Z {text}",
            at.format("%Y-%m-%dT%H:%M:%S")
        );
    }

    fn text(&mut self, at: DateTime<Utc>, text: &str) {
        for line in text.lines() {
            self.line(at, line);
        }
    }

    fn group(&mut self, at: DateTime<Utc>, title: &str, lines: &[&str]) {
        self.line(at, &format!("##[group]{title}"));
        for line in lines {
            self.line(at, line);
        }
        self.line(at, "##[endgroup]");
    }
}
