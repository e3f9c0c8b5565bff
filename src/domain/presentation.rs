//! How a request is presented: one view model, built here, that `tfpilot show` (text and
//! `--json`), `tfpilot audit-export` and the dashboard's detail pane all render. What is shown,
//! and what is masked, is decided once, so the outputs cannot disagree.

use serde_json::{Map, Value, json};

use super::access::{AccessPolicy, Decision, Subject};
use super::catalog::ModuleDef;
use super::lock::is_expired;
use super::operation::{Operation, Readiness, readiness};
use super::plan_output::address_within;
use super::request::{PlanSummary, Request};
use super::run::RunFact;
use super::run_kind::RunKind;
use super::status::{Derivation, derive};
use super::time::Timestamp;
use super::timeline::short_sha;

/// What stands for a sensitive value wherever a request is shown.
pub const MASK: &str = "********";

/// A config value as it may be shown.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue<'a> {
    Shown(&'a Value),
    /// The module marks the field sensitive: its value is never shown.
    Masked,
}

impl ConfigValue<'_> {
    /// The value as a person reads it: as JSON (strings quoted, control characters escaped),
    /// sensitive ones masked.
    pub fn text(&self) -> String {
        match self {
            ConfigValue::Shown(value) => value.to_string(),
            ConfigValue::Masked => MASK.to_string(),
        }
    }

    /// The value for JSON: as stored, or `{"sensitive": true, "value": "********"}`.
    pub fn json(&self) -> Value {
        match self {
            ConfigValue::Shown(value) => (*value).clone(),
            ConfigValue::Masked => json!({"sensitive": true, "value": MASK}),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry<'a> {
    pub name: &'a str,
    pub value: ConfigValue<'a>,
}

/// The request's config values in document order, sensitive ones masked. Without the module's
/// definition nothing can be known to be sensitive, so every value is shown.
pub fn config_entries<'a>(
    request: &'a Request,
    module: Option<&ModuleDef>,
) -> Vec<ConfigEntry<'a>> {
    request
        .config
        .iter()
        .map(|(name, value)| {
            let sensitive = module
                .and_then(|module| module.field(name))
                .is_some_and(|field| field.sensitive);
            ConfigEntry {
                name,
                value: if sensitive {
                    ConfigValue::Masked
                } else {
                    ConfigValue::Shown(value)
                },
            }
        })
        .collect()
}

/// The request document as JSON for a reader (`show --json`, `audit-export`): every field as
/// stored, but sensitive config values masked.
pub fn document_json(request: &Request, module: Option<&ModuleDef>) -> Value {
    let mut value = serde_json::to_value(request).unwrap_or(Value::Null);
    let config: Map<String, Value> = config_entries(request, module)
        .into_iter()
        .map(|entry| (entry.name.to_string(), entry.value.json()))
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("config".into(), Value::Object(config));
    }
    value
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullRequestView {
    pub number: Option<u64>,
    /// `open`, `closed` or `merged`.
    pub state: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalView {
    pub approvers: Vec<String>,
    /// The head the approval is for, shortened.
    pub head: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LockView {
    Free,
    Held {
        holder: String,
        operation: String,
        expires_at: Timestamp,
        seconds_left: i64,
    },
    /// Past its expiry: the next operation takes it over.
    Expired {
        holder: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DriftView {
    pub state: String,
    pub drifted: bool,
    pub checked_at: Option<Timestamp>,
    /// The resources that changed, named within the request's module.
    pub resources: Vec<String>,
}

/// Everything a reader is shown about one request.
#[derive(Debug, Clone)]
pub struct RequestView<'a> {
    /// Identity and times (id, project, environment, module, requester, created, updated).
    pub request: &'a Request,
    pub derivation: Derivation,
    /// `owner/repo@base env_path/file`.
    pub target: Option<String>,
    pub pull_request: Option<PullRequestView>,
    /// The pull request that takes the block out of the repository after a destroy.
    pub cleanup_pull_request: Option<PullRequestView>,
    pub runs: Vec<(RunKind, &'a RunFact)>,
    pub plan: Option<PlanSummary>,
    /// Only an approval that holds.
    pub approval: Option<ApprovalView>,
    pub merged_sha: Option<&'a str>,
    pub lock: LockView,
    pub drift: Option<DriftView>,
    pub config: Vec<ConfigEntry<'a>>,
    /// The document claimed what GitHub contradicts (and was repaired): a warning, in words.
    pub contradiction: Option<String>,
    /// A run held for a deployment review: who must review it, in words.
    pub waiting: Option<String>,
    /// Who withdrew the request, when and why, in words ("by alice at ...: reason").
    pub withdrawal: Option<String>,
    /// A change request: the original whose block it edits, in words.
    pub change_of: Option<String>,
    /// An original's changes, oldest first (`domain::change::history`); the caller fills it in
    /// from the change documents it has.
    pub changes: Vec<String>,
    /// Made from an assistant's proposal: the model and what the person asked, in words.
    pub assistant: Option<String>,
    /// An original whose applied change set other values: the values its resources have now
    /// (`domain::change::values_now`); the caller fills it in with `changes`.
    pub values_now: Option<super::change::ValuesNow>,
}

/// The view of `request` at `now`; `module` is its catalog definition (for masking).
pub fn present<'a>(
    request: &'a Request,
    module: Option<&ModuleDef>,
    now: Timestamp,
) -> RequestView<'a> {
    RequestView {
        request,
        derivation: derive(request),
        target: request.target.as_ref().map(|target| {
            format!(
                "{}/{}@{} {}/{}",
                target.owner, target.repo, target.base, target.env_path, target.file
            )
        }),
        pull_request: request.pr.as_deref().map(pull_request_view),
        cleanup_pull_request: request.cleanup_pr.as_deref().map(pull_request_view),
        runs: RunKind::recorded(request).collect(),
        plan: request.plan.as_deref().and_then(|plan| plan.summary),
        approval: request
            .approval
            .as_deref()
            .filter(|approval| approval.approved)
            .map(|approval| ApprovalView {
                approvers: approval.approvers.clone(),
                head: approval
                    .head_sha
                    .as_deref()
                    .map(|sha| short_sha(sha).to_string()),
            }),
        merged_sha: request.merged_sha.as_deref(),
        lock: match &request.lock {
            None => LockView::Free,
            Some(lock) if is_expired(lock, now) => LockView::Expired {
                holder: lock.holder.clone(),
            },
            Some(lock) => LockView::Held {
                holder: lock.holder.clone(),
                operation: lock.operation.clone(),
                expires_at: lock.expires_at,
                seconds_left: lock.expires_at.seconds_since(now),
            },
        },
        drift: request.drift.as_deref().map(|drift| DriftView {
            state: drift.state.clone().unwrap_or_else(|| "unknown".to_string()),
            drifted: drift.is_drifted(),
            checked_at: drift.checked_at,
            resources: drift
                .resources
                .iter()
                .map(|address| address_within(address, request.block_id()).to_string())
                .collect(),
        }),
        config: config_entries(request, module),
        contradiction: request.contradiction.as_deref().map(|c| {
            format!(
                "the document contradicted GitHub ({}): {}; it now says what GitHub does",
                c.at.to_rfc3339(),
                c.describe()
            )
        }),
        waiting: super::deployment::waiting(request),
        change_of: request
            .changes
            .as_deref()
            .map(|original| match request.replaces.is_empty() {
                true => format!(
                    "{original} (edits its block in place: Terraform updates the resources)"
                ),
                false => format!(
                    "{original} (edits its block in place; ! changing {} REPLACES the resource)",
                    request.replaces.join(", ")
                ),
            }),
        changes: Vec::new(),
        values_now: None,
        assistant: request.assistant.as_deref().map(|note| {
            format!(
                "proposed by {} from \"{}\" (tfpilot audit-export {} has the conversation)",
                note.model, note.question, request.id
            )
        }),
        withdrawal: request.withdrawal.as_deref().map(|withdrawal| {
            let reason = withdrawal
                .reason
                .as_deref()
                .map(|reason| format!(": {reason}"))
                .unwrap_or_else(|| " (no reason given)".into());
            format!(
                "by {} at {}{reason}",
                withdrawal.by,
                withdrawal.at.to_rfc3339()
            )
        }),
    }
}

fn pull_request_view(pr: &super::request::PullRequestFact) -> PullRequestView {
    PullRequestView {
        number: pr.number,
        state: if pr.merged {
            "merged".to_string()
        } else {
            pr.state.clone().unwrap_or_else(|| "?".to_string())
        },
        url: pr.url.clone(),
    }
}

/// What moves this request forward now, in words: the status's own next step, except where
/// the request knows more (a destroyed request's cleanup pull request waiting to be merged).
pub fn next_step(request: &Request) -> String {
    let status = derive(request).status;
    if status != super::Status::Destroyed {
        return status.next_step().to_string();
    }
    match request.cleanup_pr.as_deref() {
        Some(pr) if pr.merged => {
            "nothing: destroyed, and its block is out of the repository".into()
        }
        Some(pr) => format!(
            "merge the cleanup pull request{}{} to take the block out of the repository (its resources are gone already)",
            pr.number.map(|n| format!(" #{n}")).unwrap_or_default(),
            pr.url.as_deref().map(|url| format!(" ({url})")).unwrap_or_default()
        ),
        None => "clean up: `tfpilot cleanup ID` (C in the dashboard) opens a pull request taking the block out of the repository".into(),
    }
}

/// What a person is asked before an operation that needs confirmation: the same words in the
/// dashboard's dialog and at the CLI's prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationText {
    pub title: String,
    pub lines: Vec<String>,
    /// The request id must be typed out, not just a key pressed (destroying in production).
    pub type_the_id: bool,
}

pub fn confirmation(
    request: &Request,
    operation: Operation,
    access: &AccessPolicy,
) -> ConfirmationText {
    let prod = access.is_prod(&request.environment);
    let mut lines = vec![format!(
        "{} in {}/{} ({})",
        request.id, request.project, request.environment, request.module
    )];
    let summary = request.plan.as_deref().and_then(|plan| plan.summary);
    if matches!(
        operation,
        Operation::Approve | Operation::Merge | Operation::Apply
    ) && !request.replaces.is_empty()
    {
        lines.push(format!(
            "! This change REPLACES the resource (it changes {}): Terraform destroys it and creates it again.",
            request.replaces.join(", ")
        ));
    }
    match operation {
        Operation::Merge => {
            lines.push("Merges the pull request at the approved head.".into());
            if let Some(pr) = request.pr.as_deref().and_then(|pr| pr.number) {
                lines.push(format!("Pull request #{pr}"));
            }
            lines.extend(plan_lines(request));
        }
        Operation::Apply => {
            lines.push("Runs terraform apply on the merged commit.".into());
            lines.extend(plan_lines(request));
        }
        Operation::Destroy => {
            lines.push("Runs terraform destroy for this request's module.".into());
            lines.push("Everything it created is deleted.".into());
        }
        Operation::Cleanup => {
            lines.push("Opens a pull request that removes the request's block.".into());
        }
        Operation::OverridePolicy => {
            let run = super::policy::current(request)
                .and_then(|fact| fact.run_id)
                .map(|run| format!("plan run {run}"))
                .unwrap_or_else(|| "the latest plan".into());
            lines.push(format!(
                "Lets {run} through the team's policies, which deny it:"
            ));
            if let Some(fact) = super::policy::current(request) {
                lines.extend(fact.deny.iter().map(|message| format!("  {message}")));
            }
            lines.push(
                "Your override and its reason are kept for good; a new plan is judged afresh."
                    .into(),
            );
        }
        Operation::Withdraw => {
            let pr = request
                .pr
                .as_deref()
                .filter(|pr| pr.is_open())
                .and_then(|pr| pr.number)
                .map(|n| format!("Closes pull request #{n} without merging it"))
                .unwrap_or_else(|| "Records the request as withdrawn".into());
            lines.push(format!("{pr} and deletes branch tfpilot/{}.", request.id));
            if super::operation::cancellable_run(request)
                .is_some_and(|(kind, _)| kind == RunKind::Plan)
            {
                lines.push("Cancels the plan that is still running.".into());
            }
            lines.push("Nothing was applied, so nothing in the infrastructure changes.".into());
        }
        Operation::Cancel => {
            if let Some((kind, run)) = super::operation::cancellable_run(request) {
                let run_id = run.id.map(|id| format!(" {id}")).unwrap_or_default();
                lines.push(format!(
                    "Cancels the {} run{run_id} ({}).",
                    kind.name(),
                    run.describe()
                ));
                lines.push(if kind == RunKind::Plan {
                    "Plan again when the branch is ready.".to_string()
                } else {
                    format!(
                        "It has not started: nothing changes, and the {} can be run again.",
                        kind.name()
                    )
                });
            }
        }
        Operation::ApproveDeployment | Operation::RejectDeployment => {
            if let Some((kind, run)) = super::deployment::waiting_run(request) {
                let run_id = run.id.map(|id| format!(" {id}")).unwrap_or_default();
                lines.push(format!(
                    "The {} run{run_id} is {}.",
                    kind.name(),
                    super::deployment::describe_wait(run)
                ));
                lines.push(if operation == Operation::ApproveDeployment {
                    format!(
                        "Approving lets it run: terraform {} goes ahead.",
                        kind.name()
                    )
                } else {
                    format!(
                        "Rejecting fails the {} run: nothing is changed.",
                        kind.name()
                    )
                });
                if kind == RunKind::Apply
                    && operation == Operation::ApproveDeployment
                    && let Some(summary) = summary
                {
                    lines.push(format!(
                        "Plan: {} to add, {} to change, {} to destroy.",
                        summary.add, summary.change, summary.destroy
                    ));
                }
            }
        }
        _ => {}
    }
    if prod {
        lines.push(format!(
            "{} is a production environment.",
            request.environment
        ));
    }
    ConfirmationText {
        title: format!("{} {}?", operation.verb(), request.id),
        lines,
        type_the_id: operation.is_destructive() && prod,
    }
}

/// The plan in words, this request's changes apart from anything outside it, which is flagged:
/// for confirmations, `show` and the detail pane alike.
pub fn plan_lines(request: &Request) -> Vec<String> {
    let Some(plan) = request.plan.as_deref() else {
        return Vec::new();
    };
    match plan.attribution() {
        Some(attribution) => {
            let mut lines = vec![format!(
                "Plan: this request {} (add, change, destroy).",
                attribution.request.short()
            )];
            if attribution.changes_outside() {
                let addresses = &attribution.outside.addresses;
                let mut named = addresses
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if addresses.len() > 3 {
                    named.push_str(&format!(" and {} more", addresses.len() - 3));
                }
                lines.push(format!(
                    "! The plan also changes {} OUTSIDE this request: {named}.",
                    attribution.outside.counts.short()
                ));
            }
            lines
        }
        None => plan
            .summary
            .map(|summary| {
                vec![format!(
                    "Plan: {} to add, {} to change, {} to destroy.",
                    summary.add, summary.change, summary.destroy
                )]
            })
            .unwrap_or_default(),
    }
}

/// What the team's policies said of the latest plan, in words: the verdict, each deny and warn
/// message, and an admin's override; nothing when no policy judged it. For `show`, `explain`
/// and the detail pane alike.
pub fn policy_lines(request: &Request) -> Vec<String> {
    let Some(fact) = super::policy::current(request) else {
        return Vec::new();
    };
    let overridden = super::policy::current_override(request);
    let mut lines = vec![match (fact.verdict, overridden) {
        (Some(super::policy::Verdict::Deny), Some(record)) => format!(
            "Policy: deny, overridden by {} at {}: {}",
            record.by,
            record.at.to_rfc3339(),
            record.reason
        ),
        (Some(super::policy::Verdict::Deny), None) => format!(
            "Policy: deny ({}): approve, merge and apply are refused until the request is fixed or an admin overrides",
            fact.deny.len()
        ),
        _ => format!(
            "Policy: {} ({} policies)",
            fact.describe(),
            fact.policies.len()
        ),
    }];
    lines.extend(fact.deny.iter().map(|message| format!("  deny: {message}")));
    lines.extend(fact.warn.iter().map(|message| format!("  warn: {message}")));
    lines
}

/// How loudly a row badge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeLevel {
    Warning,
    Danger,
}

/// The words after a request's status in a list (`tfpilot list` and the dashboard alike), so
/// each reads without colour: `out` (its plan changes resources outside it, while that still
/// matters), `review` (a run waits for a deployment review), `drift`, `!doc` (the document
/// contradicted GitHub). The detail says more about each.
pub fn row_badges(
    request: &Request,
    status: super::status::Status,
) -> Vec<(&'static str, BadgeLevel)> {
    let mut badges = Vec::new();
    if !status.is_terminal()
        && request
            .plan
            .as_deref()
            .is_some_and(|plan| plan.changes_outside())
    {
        badges.push(("out", BadgeLevel::Danger));
    }
    if super::deployment::waiting_run(request).is_some() {
        badges.push(("review", BadgeLevel::Warning));
    }
    if request
        .drift
        .as_deref()
        .is_some_and(|drift| drift.is_drifted())
    {
        badges.push(("drift", BadgeLevel::Warning));
    }
    if request.contradiction.is_some() {
        badges.push(("!doc", BadgeLevel::Warning));
    }
    if !status.is_terminal()
        && let Some(fact) = super::policy::current(request)
    {
        match (fact.verdict, super::policy::current_override(request)) {
            (Some(super::policy::Verdict::Deny), None) => badges.push(("deny", BadgeLevel::Danger)),
            (Some(super::policy::Verdict::Deny), Some(_)) => {
                badges.push(("ovr", BadgeLevel::Warning));
            }
            (Some(super::policy::Verdict::Warn), _) => badges.push(("warn", BadgeLevel::Warning)),
            _ => {}
        }
    }
    badges
}

/// The second question before an apply in a whole-root repository whose plan changes
/// resources outside the request: `None` when there is nothing to ask.
pub fn outside_confirmation(
    request: &Request,
    repos: Option<&super::registry::InfraRepos>,
) -> Option<ConfirmationText> {
    let target = request.target.as_ref()?;
    let targeting = repos
        .map(|repos| repos.targeting(&target.owner, &target.repo))
        .unwrap_or_default();
    let attribution = request.plan.as_deref()?.attribution()?;
    if targeting != super::registry::Targeting::Root || !attribution.changes_outside() {
        return None;
    }
    let addresses = &attribution.outside.addresses;
    let mut lines = vec![format!(
        "{}/{} runs the whole root: this apply also makes {} outside {}:",
        target.owner,
        target.repo,
        attribution.outside.counts.short(),
        request.id
    )];
    lines.extend(
        addresses
            .iter()
            .take(8)
            .map(|address| format!("  {address}")),
    );
    if addresses.len() > 8 {
        lines.push(format!("  and {} more", addresses.len() - 8));
    }
    lines.push("They belong to other requests or to the root module.".into());
    Some(ConfirmationText {
        title: format!("apply changes OUTSIDE {} too?", request.id),
        lines,
        type_the_id: false,
    })
}

/// The lifecycle operations the request is ready for now, each with whether `user` may run it
/// (the policy's own words when not).
pub fn next_operations(
    request: &Request,
    access: &AccessPolicy,
    user: &str,
) -> Vec<(Operation, Decision)> {
    [
        Operation::Plan,
        Operation::Approve,
        Operation::Merge,
        Operation::Apply,
        Operation::Destroy,
        Operation::Cleanup,
        Operation::ApproveDeployment,
        Operation::RejectDeployment,
        Operation::Cancel,
    ]
    .into_iter()
    .filter(|operation| matches!(readiness(*operation, request), Readiness::Ready))
    .map(|operation| {
        (
            operation,
            access.authorize(user, operation, Subject::of(request)),
        )
    })
    .collect()
}

/// What an operator decides on when they act on a request: its status, values, pull request,
/// runs (which, and how they ended), approval and plan. Two versions with the same fingerprint
/// read the same for a decision; a sync that only moved a timestamp or released a lock keeps
/// it, a new plan or a new head commit changes it. The dashboard acts only on a fingerprint
/// the user has seen.
pub fn decision_fingerprint(request: &Request) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    derive(request).status.hash(&mut hasher);
    // Serialized: a map of JSON values has no `Hash`; its text is stable (ordered keys).
    serde_json::to_string(&request.config)
        .unwrap_or_default()
        .hash(&mut hasher);
    request.commit_sha.hash(&mut hasher);
    request.merged_sha.hash(&mut hasher);
    for pr in [&request.pr, &request.cleanup_pr] {
        pr.as_deref()
            .map(|pr| (pr.number, &pr.state, pr.merged, &pr.head_sha))
            .hash(&mut hasher);
    }
    for run in [
        &request.plan_run,
        &request.apply_run,
        &request.destroy_run,
        &request.cleanup_run,
        &request.drift_run,
    ] {
        run.as_deref()
            .map(|run| (run.id, &run.status, &run.conclusion, &run.head_sha))
            .hash(&mut hasher);
        run.as_deref()
            .and_then(|run| run.deployment_review.as_ref())
            .map(|review| (&review.environment, &review.reviewers))
            .hash(&mut hasher);
    }
    request
        .approval
        .as_deref()
        .map(|approval| (approval.approved, &approval.approvers, &approval.head_sha))
        .hash(&mut hasher);
    request
        .plan
        .as_deref()
        .map(|plan| &plan.output_key)
        .hash(&mut hasher);
    super::policy::current(request)
        .map(|fact| (fact.run_id, fact.verdict, &fact.deny, &fact.warn))
        .hash(&mut hasher);
    super::policy::current_override(request)
        .map(|record| (record.run_id, &record.by))
        .hash(&mut hasher);
    hasher.finish()
}

/// Something about a request a person may want on their clipboard or in a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// "pull request", "apply run", "branch", "show command".
    pub label: String,
    pub text: String,
    /// A URL (opens in a browser), not a name or a command.
    pub is_url: bool,
}

/// Everything worth copying from a request, most useful first: its id, its pull request, its
/// runs (in lifecycle order), its cleanup pull request, its branch, and the command that shows
/// it. URLs come from the document, so they are cleaned of control characters.
pub fn links(request: &Request) -> Vec<Link> {
    let clean = |text: &str| -> String { text.chars().filter(|c| !c.is_control()).collect() };
    let url = |label: String, text: &str| Link {
        label,
        text: clean(text),
        is_url: true,
    };
    let mut links = vec![Link {
        label: "request id".into(),
        text: request.id.clone(),
        is_url: false,
    }];
    if let Some(pr) = request.pr.as_deref().and_then(|pr| pr.url.as_deref()) {
        links.push(url("pull request".into(), pr));
    }
    for (kind, run) in RunKind::recorded(request) {
        if let Some(html) = run.html_url.as_deref() {
            links.push(url(format!("{kind} run"), html));
        }
    }
    if let Some(pr) = request
        .cleanup_pr
        .as_deref()
        .and_then(|pr| pr.url.as_deref())
    {
        links.push(url("cleanup pull request".into(), pr));
    }
    if let Some(branch) = request.branch.as_deref() {
        links.push(Link {
            label: "branch".into(),
            text: clean(branch),
            is_url: false,
        });
    }
    links.push(Link {
        label: "show command".into(),
        text: format!("tfpilot show {}", request.id),
        is_url: false,
    });
    links
}

/// The page a person most likely wants open now: a run in progress, else a run that failed,
/// else the cleanup pull request while it is open, else the pull request, else the latest run.
pub fn primary_link(request: &Request) -> Option<Link> {
    let runs: Vec<(RunKind, &RunFact)> = RunKind::recorded(request).collect();
    let run_link = |(kind, run): &(RunKind, &RunFact)| {
        run.html_url.as_deref().map(|html| Link {
            label: format!("{kind} run"),
            text: html.chars().filter(|c| !c.is_control()).collect(),
            is_url: true,
        })
    };
    let by_label = |label: &str| links(request).into_iter().find(|link| link.label == label);
    runs.iter()
        .rev()
        .filter(|(_, run)| run.is_in_flight())
        .find_map(run_link)
        .or_else(|| {
            runs.iter()
                .rev()
                .filter(|(_, run)| run.completed_without_success())
                .find_map(run_link)
        })
        .or_else(|| {
            request
                .cleanup_pr
                .as_deref()
                .filter(|pr| !pr.merged)
                .and_then(|_| by_label("cleanup pull request"))
        })
        .or_else(|| by_label("pull request"))
        .or_else(|| runs.iter().rev().find_map(run_link))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module() -> ModuleDef {
        ModuleDef::parse(
            r#"{"name": "svc", "source": "./modules/svc", "fields": [
                {"name": "service_name", "type": "string"},
                {"name": "api_key", "type": "string", "sensitive": true}
            ]}"#,
            "svc.json",
        )
        .expect("valid module")
    }

    fn request() -> Request {
        let mut request = Request::new(
            "req-1",
            "payments",
            "dev",
            "svc",
            "alice",
            Timestamp::from_unix_seconds(1_700_000_000).expect("valid time"),
        );
        request.config.insert("service_name".into(), json!("api"));
        request.config.insert("api_key".into(), json!("dd-secret"));
        request
    }

    #[test]
    fn sensitive_values_are_masked_in_text_and_json() {
        let request = request();
        let module = module();
        let entries = config_entries(&request, Some(&module));
        assert_eq!(entries[0].value.text(), "\"api\"");
        assert_eq!(entries[1].value, ConfigValue::Masked);
        assert_eq!(entries[1].value.text(), MASK);
        let document = document_json(&request, Some(&module));
        assert_eq!(document["config"]["service_name"], "api");
        assert_eq!(
            document["config"]["api_key"],
            json!({"sensitive": true, "value": MASK})
        );
        assert!(!document.to_string().contains("dd-secret"));
        // Everything else is the document as stored.
        assert_eq!(document["id"], "req-1");
        assert_eq!(document["requested_by"], "alice");
    }

    #[test]
    fn without_the_module_nothing_is_known_to_be_sensitive() {
        let request = request();
        let entries = config_entries(&request, None);
        assert!(
            entries
                .iter()
                .all(|entry| matches!(entry.value, ConfigValue::Shown(_)))
        );
    }

    #[test]
    fn the_view_names_runs_in_lifecycle_order_and_the_lock_state() {
        let mut request = request();
        request.apply_run = Some(Box::new(RunFact {
            id: Some(2),
            ..RunFact::default()
        }));
        request.plan_run = Some(Box::new(RunFact {
            id: Some(1),
            ..RunFact::default()
        }));
        let now = request.created_at;
        let view = present(&request, Some(&module()), now);
        let kinds: Vec<RunKind> = view.runs.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [RunKind::Plan, RunKind::Apply]);
        assert_eq!(view.lock, LockView::Free);
        assert!(view.approval.is_none());
    }

    #[test]
    fn the_decision_fingerprint_ignores_timestamps_and_sees_a_new_plan() {
        let request: Request = serde_json::from_value(json!({
            "schema_version": 1, "id": "req_1", "project": "p", "environment": "dev",
            "module": "s3-bucket", "config": {"bucket_name": "b"}, "requested_by": "alice",
            "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z",
            "plan_run": {"id": 7, "status": "completed", "conclusion": "success"},
            "plan": {"output_key": "plans/req_1/7.txt"}
        }))
        .expect("a request");
        let before = decision_fingerprint(&request);
        let mut touched = request.clone();
        touched.updated_at = Timestamp::parse("2026-11-26T12:05:00Z").expect("a time");
        assert_eq!(decision_fingerprint(&touched), before);
        let mut replanned = request.clone();
        if let Some(run) = replanned.plan_run.as_deref_mut() {
            run.id = Some(8);
        }
        assert_ne!(decision_fingerprint(&replanned), before);
        let mut edited = request;
        edited.config.insert("bucket_name".into(), json!("c"));
        assert_ne!(decision_fingerprint(&edited), before);
    }
}
