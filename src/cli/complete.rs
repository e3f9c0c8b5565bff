//! Shell completion of the values only the store knows: request ids, environments, projects,
//! modules and templates.
//!
//! The completion scripts (`tfpilot completions SHELL`, or `TFPILOT_COMPLETE=bash tfpilot`) call
//! back on every tab (clap_complete's dynamic engine); these completers answer from the store
//! named on the line being completed (`--store`, `--config`), else from the environment and the
//! config file, as the command itself would. Request ids come from the local listing cache that
//! `list` and the dashboard keep, so a tab costs no network call when the cache is warm; the
//! team config is read from the store. Everything runs within [`BUDGET`]: a slow or unreachable
//! store completes nothing rather than holding the shell. Values are offered only when they are
//! plain names (a document is a claim; the shell prints what it is given), and their
//! descriptions are made safe for a terminal.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::time::Duration;

use clap::Parser;
use clap_complete::engine::CompletionCandidate;

use super::Invocation;
use super::args::Cli;
use crate::domain::derive_status;
use crate::store::{ListedRequest, TeamConfig};

/// How long one tab may take before it gives up and offers nothing.
const BUDGET: Duration = Duration::from_secs(2);

/// Longest value worth offering; longer ones are not names tfpilot writes.
const LONGEST_NAME: usize = 128;

/// Request ids starting with what was typed, newest first, each with its status and place.
pub fn request_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let listing = within_budget(|context| async move {
        let store = context.store().await.ok()?;
        let mut lister = context.lister(store);
        match lister.cached().await {
            Some(listing) => Some(listing),
            None => lister.refresh().await.ok().map(|(listing, _)| listing),
        }
    });
    id_candidates(&listing.unwrap_or_default(), current)
}

/// Environments of the infra repository registry and of the requests listed.
pub fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    complete_names(current, |known| known.environments)
}

/// Projects of the infra repository registry and of the requests listed.
pub fn projects(current: &OsStr) -> Vec<CompletionCandidate> {
    complete_names(current, |known| known.projects)
}

/// Modules of the catalog.
pub fn modules(current: &OsStr) -> Vec<CompletionCandidate> {
    complete_names(current, |known| known.modules)
}

/// Template ids.
pub fn templates(current: &OsStr) -> Vec<CompletionCandidate> {
    complete_names(current, |known| known.templates)
}

/// Names the store knows, each with what it is.
#[derive(Debug, Default)]
struct Known {
    environments: Vec<(String, String)>,
    projects: Vec<(String, String)>,
    modules: Vec<(String, String)>,
    templates: Vec<(String, String)>,
}

fn complete_names(
    current: &OsStr,
    pick: impl FnOnce(Known) -> Vec<(String, String)>,
) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let known = within_budget(|context| async move {
        let store = context.store().await.ok()?;
        let team = store.load_team_config().await.ok();
        let mut lister = context.lister(store);
        let listing = lister.cached().await.unwrap_or_default();
        Some(known_names(team.as_ref(), &listing))
    });
    name_candidates(pick(known.unwrap_or_default()), current)
}

/// What the registry, the catalog, the templates and the listed requests name.
fn known_names(team: Option<&TeamConfig>, listing: &[ListedRequest]) -> Known {
    let mut environments = BTreeSet::new();
    let mut projects = BTreeSet::new();
    if let Some(registry) = team.and_then(|team| team.infra_repos.as_ref()) {
        for (project, places) in &registry.projects {
            projects.insert(project.clone());
            environments.extend(places.keys().cloned());
        }
    }
    for request in listing
        .iter()
        .filter_map(|listed| listed.outcome.as_ref().ok())
    {
        projects.insert(request.project.clone());
        environments.insert(request.environment.clone());
    }
    let described = |names: BTreeSet<String>, what: &str| {
        names
            .into_iter()
            .map(|name| (name, what.to_string()))
            .collect()
    };
    Known {
        environments: described(environments, "environment"),
        projects: described(projects, "project"),
        modules: team
            .map(|team| {
                team.modules
                    .iter()
                    .map(|module| (module.name.clone(), module.description.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        templates: team
            .map(|team| {
                team.templates
                    .iter()
                    .map(|template| (template.id.clone(), template.description.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The ids that start with `current`, newest first (ids are ULIDs), with status and place.
fn id_candidates(listing: &[ListedRequest], current: &str) -> Vec<CompletionCandidate> {
    let mut matching: Vec<&ListedRequest> = listing
        .iter()
        .filter(|listed| listed.id.starts_with(current) && is_plain_name(&listed.id))
        .collect();
    matching.sort_by(|a, b| b.id.cmp(&a.id));
    matching
        .into_iter()
        .map(|listed| {
            let about = match &listed.outcome {
                Ok(request) => format!(
                    "{} · {}/{} · {}",
                    derive_status(request).as_str(),
                    request.project,
                    request.environment,
                    request.module
                ),
                Err(_) => "unreadable document".to_string(),
            };
            CompletionCandidate::new(listed.id.clone()).help(Some(safe_help(&about).into()))
        })
        .collect()
}

fn name_candidates(names: Vec<(String, String)>, current: &str) -> Vec<CompletionCandidate> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|(name, _)| name.starts_with(current) && is_plain_name(name))
        .filter(|(name, _)| seen.insert(name.clone()))
        .map(|(name, about)| {
            let candidate = CompletionCandidate::new(name);
            match about.trim().is_empty() {
                true => candidate,
                false => candidate.help(Some(safe_help(&about).into())),
            }
        })
        .collect()
}

/// A value the shell may insert as it is: letters, digits, `-`, `_`, `.`, `/`, and not too long.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= LONGEST_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// A description on one line, with nothing a terminal would act on.
fn safe_help(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .take(120)
        .collect();
    crate::domain::untrusted::for_terminal(&one_line).into_owned()
}

/// Runs `work` on a small runtime of its own (completion runs before tfpilot's runtime starts)
/// with the invocation the completed line names, and gives up after [`BUDGET`].
fn within_budget<T, F, Fut>(work: F) -> Option<T>
where
    F: FnOnce(Invocation) -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let cli = line_being_completed(std::env::args_os())?;
    let context = Invocation::resolve(&cli).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async { tokio::time::timeout(BUDGET, work(context)).await.ok()? })
}

/// The global options of the command line being completed (`tfpilot -- tfpilot --store URL show
/// req_`): the store and config it names. The rest of the line is not parsed: it is unfinished.
fn line_being_completed(args: impl IntoIterator<Item = OsString>) -> Option<Cli> {
    let words: Vec<String> = args
        .into_iter()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .filter_map(|arg| arg.into_string().ok())
        .collect();
    let mut cli = Cli::try_parse_from(["tfpilot"]).ok()?;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (word.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| words.next().cloned());
        match flag {
            "--store" => cli.store = value(),
            "--config" => cli.config = value().map(Into::into),
            _ => {}
        }
    }
    Some(cli)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ETag;
    use std::sync::Arc;

    fn listed(id: &str, project: &str, environment: &str) -> ListedRequest {
        let request = crate::domain::Request::new(
            id,
            project,
            environment,
            "s3-bucket",
            "alice",
            crate::domain::Timestamp(chrono::Utc::now()),
        );
        ListedRequest {
            key: format!("requests/{id}.json"),
            id: id.into(),
            etag: ETag("\"1\"".into()),
            outcome: Ok(Arc::new(request)),
        }
    }

    fn values(candidates: &[CompletionCandidate]) -> Vec<String> {
        candidates
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ids_complete_from_what_was_typed_newest_first_with_status_and_place() {
        let listing = vec![
            listed("req_01A", "payments", "dev"),
            listed("req_01C", "search", "prod"),
            listed("req_02B", "payments", "prod"),
            listed("req_01B\u{1b}]0;x", "payments", "dev"),
        ];
        let candidates = id_candidates(&listing, "req_01");
        assert_eq!(values(&candidates), ["req_01C", "req_01A"]);
        let help = candidates[0].get_help().map(|h| h.to_string()).unwrap();
        assert!(help.contains("search/prod"), "{help}");
        assert!(help.starts_with("request_created · "), "{help}");
    }

    #[test]
    fn names_come_from_the_registry_and_the_requests_and_hostile_ones_are_left_out() {
        let listing = vec![
            listed("req_01A", "payments", "dev"),
            listed("req_01B", "payments", "qa\u{1b}[2J"),
            listed("req_01C", "ledger", "prod"),
        ];
        let registry = r#"{"projects": {"payments": {"staging": {"owner": "acme",
            "repo": "infra-live", "base": "main", "env_path": "envs/staging",
            "file": "tfpilot.tf"}}}}"#;
        let team = TeamConfig {
            infra_repos: Some(
                crate::domain::registry::InfraRepos::parse(registry, "test").unwrap(),
            ),
            ..TeamConfig::default()
        };
        let known = known_names(Some(&team), &listing);
        assert_eq!(
            values(&name_candidates(known.environments, "")),
            ["dev", "prod", "staging"]
        );
        let known = known_names(Some(&team), &listing);
        assert_eq!(values(&name_candidates(known.projects, "pa")), ["payments"]);
    }

    #[test]
    fn descriptions_stay_on_one_line_and_cannot_drive_the_terminal() {
        let help = safe_help("a\nbucket\t\u{1b}]52;c;ZXZpbA==\u{7}");
        assert!(!help.contains('\n') && !help.contains('\u{1b}'), "{help}");
        assert!(help.contains("\\x1b"), "{help}");
    }

    #[test]
    fn the_store_and_config_named_on_the_line_are_the_ones_asked() {
        let args = [
            "tfpilot", "--", "tfpilot", "--store", "s3://b/p", "show", "req_",
        ]
        .map(OsString::from);
        let cli = line_being_completed(args).unwrap();
        assert_eq!(cli.store.as_deref(), Some("s3://b/p"));
        let args = [
            "tfpilot",
            "--",
            "tfpilot",
            "--config=/tmp/c.toml",
            "list",
            "--env",
            "",
        ]
        .map(OsString::from);
        let cli = line_being_completed(args).unwrap();
        assert_eq!(cli.config, Some("/tmp/c.toml".into()));
        assert_eq!(cli.store, None);
    }
}
