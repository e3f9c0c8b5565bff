//! `tfpilot doctor`: is this setup safe to use? One line per check, pass, warn or fail, each
//! with what to do. The judgments are pure functions of what was read; `Doctor` reads it
//! through the store and GitHub adapters and never stops at the first problem.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::domain::Timestamp;
use crate::github::settings::{EnvironmentInfo, Protection, RepoInfo, TokenInfo};
use crate::github::{GitHub, GitHubError, RepoId};
use crate::store::{BucketProtections, PutCondition, Store, StoreError, TeamConfig};

use crate::domain::workflows::WORKFLOWS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Not applicable here (a bucket setting on a local directory).
    Skip,
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Skip => "SKIP",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a warning or failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            verdict,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What the conditional-write probe saw, once its first object was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteProbe {
    /// A second create-only write of the same key was refused.
    pub create_only_refused: bool,
    /// A write conditional on a stale version was refused.
    pub stale_write_refused: bool,
}

pub fn judge_store(location: &str, probe: Result<WriteProbe, String>) -> Check {
    let name = "store";
    match probe {
        Err(error) => Check::new(name, Verdict::Fail, format!("{location}: {error}"))
            .fix("check the store URL, the credentials and that they may read, write and delete under the prefix"),
        Ok(probe) if !probe.create_only_refused || !probe.stale_write_refused => Check::new(
            name,
            Verdict::Fail,
            format!(
                "{location} ignores conditional writes ({}): two operators could overwrite each other's changes",
                if probe.create_only_refused { "If-Match" } else { "If-None-Match" }
            ),
        )
        .fix("use AWS S3 or an S3-compatible server that honours If-None-Match and If-Match on PUT"),
        Ok(_) => Check::new(
            name,
            Verdict::Pass,
            format!("{location}: reachable, writable, conditional writes honoured"),
        ),
    }
}

pub fn judge_bucket(protections: Option<BucketProtections>) -> Vec<Check> {
    let (encryption, versioning) = ("store encryption", "store versioning");
    match protections {
        None => vec![
            Check::new(
                encryption,
                Verdict::Skip,
                "a local directory: protect it with file permissions",
            ),
            Check::new(
                versioning,
                Verdict::Skip,
                "a local directory: back it up to restore old versions",
            ),
        ],
        Some(bucket) => {
            let encryption = match bucket.encryption {
                Err(error) => Check::new(encryption, Verdict::Warn, format!("cannot be read: {error}"))
                    .fix("allow s3:GetEncryptionConfiguration to check it"),
                Ok(Some(algorithm)) => Check::new(encryption, Verdict::Pass, format!("default encryption {algorithm}")),
                Ok(None) => Check::new(
                    encryption,
                    Verdict::Warn,
                    "no default encryption: tfpilot encrypts what it writes (SSE AES256), other writers may not",
                )
                .fix("set default encryption on the bucket (SSE-S3 or SSE-KMS)"),
            };
            let versioning = match bucket.versioning.as_ref().map(Option::as_deref) {
                Err(error) => Check::new(versioning, Verdict::Warn, format!("cannot be read: {error}"))
                    .fix("allow s3:GetBucketVersioning to check it"),
                Ok(Some("Enabled")) => Check::new(versioning, Verdict::Pass, "versioning enabled: overwritten or deleted documents can be restored"),
                Ok(other) => Check::new(
                    versioning,
                    Verdict::Warn,
                    format!(
                        "versioning {}: an overwritten or deleted request document is gone for good",
                        other.map_or("was never enabled".to_string(), |s| s.to_lowercase())
                    ),
                )
                .fix("enable versioning on the bucket (and a lifecycle rule for old versions)"),
            };
            vec![encryption, versioning]
        }
    }
}

/// Documents written before sensitive values went to a secret store hold them in clear: they
/// are masked on every screen, but anyone who reads the bucket (or git history) reads them.
pub fn judge_sensitive(team: &TeamConfig, requests: &[crate::domain::Request]) -> Check {
    let name = "sensitive values";
    let exposed: Vec<String> = requests
        .iter()
        .filter_map(|request| {
            let module = team.module(&request.module)?;
            let fields = crate::domain::secrets::literal_sensitive_fields(request, module);
            (!fields.is_empty()).then(|| format!("{} ({})", request.id, fields.join(", ")))
        })
        .collect();
    if exposed.is_empty() {
        return Check::new(
            name,
            Verdict::Pass,
            format!(
                "none of {} documents holds a sensitive value in clear",
                requests.len()
            ),
        );
    }
    Check::new(
        name,
        Verdict::Warn,
        format!(
            "{} document(s) written by an older tfpilot hold sensitive values in clear (masked on screen, readable in the bucket and in git history): {}",
            exposed.len(),
            exposed.join("; ")
        ),
    )
    .fix("set each value again with `tfpilot update ID --set FIELD=...` (it moves to the secret store), then rotate it, since git history keeps the old one")
}

pub fn judge_team(team: &TeamConfig) -> Check {
    let name = "team config";
    let broken_policy = team.problems.iter().find(|p| {
        matches!(
            p,
            crate::domain::catalog::CatalogError::InvalidPolicy { .. }
        )
    });
    if let Some(problem) = broken_policy {
        return Check::new(
            name,
            Verdict::Fail,
            format!("{problem}: every change is refused until it is fixed"),
        )
        .fix("fix config/policy.json (an admin, with write access to the bucket)");
    }
    let Some(repos) = &team.infra_repos else {
        return Check::new(
            name,
            Verdict::Fail,
            "config/infra-repos.json is missing or invalid: no request can be created",
        )
        .fix("write config/infra-repos.json (see docs/infra-repo-setup.md)");
    };
    if team.modules.is_empty() {
        return Check::new(
            name,
            Verdict::Fail,
            "the module catalog is empty: nothing can be requested",
        )
        .fix("add module definitions under config/modules/");
    }
    let mut problems: Vec<String> = team.problems.iter().map(ToString::to_string).collect();
    problems.extend(team.template_problems.iter().map(ToString::to_string));
    if !team.policy_found {
        problems.push(
            "config/policy.json is missing: everyone is a developer and nobody can approve".into(),
        );
    } else if team.access.admins.is_empty() {
        problems.push("config/policy.json lists no admins: nobody can manage templates".into());
    }
    let mut summary = format!(
        "{} module(s), {} project(s), {} template(s); viewers read only",
        team.modules.len(),
        repos.projects.len(),
        team.templates.len()
    );
    if !team.access.automation.is_empty() {
        summary.push_str(&format!(
            " (automation, which may sync and reconcile: {})",
            team.access
                .automation
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if problems.is_empty() {
        Check::new(name, Verdict::Pass, summary)
    } else {
        Check::new(
            name,
            Verdict::Warn,
            format!("{summary}; {}", problems.join("; ")),
        )
        .fix("fix the files named; `tfpilot modules` and `tfpilot template list` show them")
    }
}

/// Classic scopes tfpilot needs: write to repositories, and dispatch (which needs `workflow`).
const NEEDED_SCOPES: [&str; 2] = ["repo", "workflow"];

pub fn judge_token(source: Option<&str>, info: Result<TokenInfo, String>) -> Check {
    let name = "token";
    let Some(source) = source else {
        return Check::new(name, Verdict::Fail, "no GitHub token")
            .fix("run `tfpilot login`, set GITHUB_TOKEN, or log in with `gh auth login`");
    };
    let info = match info {
        Ok(info) => info,
        Err(error) => {
            return Check::new(
                name,
                Verdict::Fail,
                format!("the token from {source} does not work: {error}"),
            )
            .fix("log in again with `tfpilot login`");
        }
    };
    let who = format!("{} (from {source})", info.user.login);
    match info.scopes {
        None => Check::new(
            name,
            Verdict::Warn,
            format!("{who}: a fine-grained or app token, whose permissions GitHub does not report"),
        )
        .fix("make sure it has contents, pull requests and actions read/write on the infra repositories"),
        Some(scopes) => {
            let missing: Vec<&str> = NEEDED_SCOPES
                .iter()
                .copied()
                .filter(|needed| !scopes.iter().any(|s| s == needed))
                .collect();
            if missing.is_empty() {
                Check::new(name, Verdict::Pass, format!("{who}, scopes {}", scopes.join(", ")))
            } else {
                Check::new(
                    name,
                    Verdict::Fail,
                    format!("{who} lacks the scope(s) {}: {}", missing.join(", "), if missing.contains(&"workflow") { "runs cannot be dispatched" } else { "branches and pull requests cannot be written" }),
                )
                .fix("log in again with `tfpilot login` (it asks for repo and workflow)")
            }
        }
    }
}

pub fn judge_repo(repo: &str, info: Result<Option<RepoInfo>, String>) -> Check {
    let name = format!("repo {repo}");
    match info {
        Err(error) => Check::new(name, Verdict::Fail, error),
        Ok(None) => Check::new(name, Verdict::Fail, "not found, or the token cannot see it")
            .fix("check config/infra-repos.json and the token's access to the repository"),
        Ok(Some(info)) if info.permissions.as_ref().is_some_and(|p| !p.push) => Check::new(
            name,
            Verdict::Warn,
            "reachable, but the token cannot push: requests cannot be created",
        )
        .fix("give the token's user write access"),
        Ok(Some(info)) => Check::new(
            name,
            Verdict::Pass,
            format!("reachable, default branch {}", info.default_branch),
        ),
    }
}

pub fn judge_workflows(repo: &str, base: &str, missing: Result<Vec<&str>, String>) -> Check {
    let name = format!("workflows {repo}");
    match missing {
        Err(error) => Check::new(name, Verdict::Fail, error),
        Ok(missing) if missing.is_empty() => Check::new(
            name,
            Verdict::Pass,
            format!("all {} on {base}", WORKFLOWS.len()),
        ),
        Ok(missing) => Check::new(
            name,
            Verdict::Fail,
            format!("missing on {base}: {}", missing.join(", ")),
        )
        .fix("run `tfpilot init-repo CHECKOUT` and merge the workflows"),
    }
}

/// The workflows tfpilot dispatches with a `scope` input (request or whole-root targeting).
fn takes_scope(workflow: &str) -> bool {
    matches!(workflow, "tfpilot-plan.yml" | "tfpilot-apply.yml")
}

/// Workflows from before the `scope` input refuse every dispatch tfpilot sends them.
pub fn judge_workflow_inputs(repo: &str, base: &str, outdated: &[&str]) -> Option<Check> {
    (!outdated.is_empty()).then(|| {
        Check::new(
            format!("workflow inputs {repo}"),
            Verdict::Fail,
            format!(
                "{} on {base} lack the `scope` input: GitHub refuses tfpilot's dispatches (Unexpected inputs provided)",
                outdated.join(", ")
            ),
        )
        .fix("run `tfpilot init-repo --force CHECKOUT` and merge the updated workflows")
    })
}

/// Workflows from before the `block_id` input run every request but refuse a change request's
/// plan and apply (the only dispatches that carry it).
pub fn judge_change_inputs(repo: &str, base: &str, outdated: &[&str]) -> Option<Check> {
    (!outdated.is_empty()).then(|| {
        Check::new(
            format!("change request inputs {repo}"),
            Verdict::Warn,
            format!(
                "{} on {base} lack the `block_id` input: GitHub refuses the plan and apply of change requests (Unexpected inputs provided); other requests run",
                outdated.join(", ")
            ),
        )
        .fix("run `tfpilot init-repo --force CHECKOUT` and merge the updated workflows")
    })
}

pub fn judge_protection(repo: &str, base: &str, protection: Result<Protection, String>) -> Check {
    let name = format!("branch protection {repo}@{base}");
    match protection {
        Err(error) => Check::new(name, Verdict::Fail, error),
        Ok(Protection::Protected { required_reviews }) if required_reviews >= 1 => Check::new(
            name,
            Verdict::Pass,
            format!("{required_reviews} approving review(s) required"),
        ),
        Ok(Protection::Protected { .. }) => Check::new(name, Verdict::Fail, "protected, but no review is required: anyone with write access can merge unreviewed changes")
            .fix("require at least one approving review on the base branch"),
        Ok(Protection::NotProtected) => Check::new(name, Verdict::Fail, "not protected: changes can reach the base branch without review")
            .fix("protect the base branch and require approving reviews (docs/infra-repo-setup.md, section 3)"),
        Ok(Protection::Unknown { reason }) => Check::new(name, Verdict::Warn, format!("cannot be read: {reason}"))
            .fix("run doctor with a token of a repository admin to check it"),
    }
}

pub fn judge_environment(
    repo: &str,
    environment: &str,
    info: Result<Option<EnvironmentInfo>, String>,
) -> Check {
    let name = format!("environment {environment} in {repo}");
    match info {
        Err(error) => Check::new(name, Verdict::Fail, error),
        Ok(None) => Check::new(
            name,
            Verdict::Fail,
            "missing: prod applies and destroys run without a required reviewer",
        )
        .fix(
            "create the environment with required reviewers (docs/infra-repo-setup.md, section 4)",
        ),
        Ok(Some(info)) if info.required_reviewers == 0 => {
            Check::new(name, Verdict::Warn, "exists, but requires no reviewer")
                .fix("add required reviewers to the environment")
        }
        Ok(Some(info)) => Check::new(
            name,
            Verdict::Pass,
            format!("{} required reviewer(s)", info.required_reviewers),
        ),
    }
}

/// Reads what the checks need. Each failure becomes a check; nothing here returns early.
pub struct Doctor {
    pub store: Store,
    /// `None` when no token was found (then GitHub checks are reported as not run).
    pub github: Option<GitHub>,
    pub token_source: Option<String>,
    /// `<slug>[bot]` when tfpilot acts as a GitHub App installation (no `GET /user` for it).
    pub app_login: Option<String>,
    pub probe_id: String,
    pub now: Timestamp,
}

fn github_error(error: &GitHubError) -> String {
    error.to_string()
}

impl Doctor {
    pub async fn run(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let location = self.store.location();
        checks.push(judge_store(&location, self.probe_writes().await));
        checks.extend(judge_bucket(self.store.backend().protections().await));
        let team = match self.store.load_team_config().await {
            Ok(team) => {
                checks.push(judge_team(&team));
                let mut lister = crate::store::RequestLister::new(self.store.clone(), None);
                match lister.refresh().await {
                    Ok((entries, _)) => {
                        let requests: Vec<crate::domain::Request> = entries
                            .iter()
                            .filter_map(|entry| entry.outcome.as_deref().ok().cloned())
                            .collect();
                        checks.push(judge_sensitive(&team, &requests));
                    }
                    Err(error) => checks.push(Check::new(
                        "sensitive values",
                        Verdict::Warn,
                        format!("the requests cannot be listed to check them: {error}"),
                    )),
                }
                team
            }
            Err(error) => {
                checks.push(
                    Check::new(
                        "team config",
                        Verdict::Fail,
                        format!("cannot be read: {error}"),
                    )
                    .fix("fix the store access first"),
                );
                TeamConfig::default()
            }
        };
        let Some(github) = &self.github else {
            checks.push(judge_token(None, Err(String::new())));
            return checks;
        };
        if let Some(login) = &self.app_login {
            // Connecting already exchanged the app's JWT for an installation token.
            checks.push(
                Check::new(
                    "token",
                    Verdict::Pass,
                    format!(
                        "{login} (from {}): an installation token, refreshed before it expires",
                        self.token_source.as_deref().unwrap_or("a GitHub App")
                    ),
                )
                .fix("the app needs contents, pull requests, actions and deployments read/write on the infra repositories"),
            );
        } else {
            let token = github.token_info().await.map_err(|e| github_error(&e));
            let token_works = token.is_ok();
            checks.push(judge_token(self.token_source.as_deref(), token));
            if !token_works {
                return checks;
            }
        }
        // Each repository once, with its base branches and the prod environments it serves.
        let mut targets: BTreeSet<(String, String, String)> = BTreeSet::new();
        let mut environments: BTreeSet<(String, String, String)> = BTreeSet::new();
        if let Some(repos) = &team.infra_repos {
            for (_, envs) in repos.projects.iter() {
                for (environment, repo) in envs {
                    targets.insert((repo.owner.clone(), repo.repo.clone(), repo.base.clone()));
                    if team.access.is_prod(environment) {
                        environments.insert((
                            repo.owner.clone(),
                            repo.repo.clone(),
                            environment.clone(),
                        ));
                    }
                }
            }
        }
        let mut checked_repos = BTreeSet::new();
        for (owner, name, base) in &targets {
            let repo = RepoId::new(owner, name);
            let full = format!("{owner}/{name}");
            if checked_repos.insert(full.clone()) {
                let info = github.repository(&repo).await.map_err(|e| github_error(&e));
                let reachable = matches!(info, Ok(Some(_)));
                checks.push(judge_repo(&full, info));
                if !reachable {
                    continue;
                }
            }
            let mut missing = Ok(Vec::new());
            let mut outdated = Vec::new();
            let mut without_block_id = Vec::new();
            for (workflow, _) in WORKFLOWS {
                match github
                    .get_file(&repo, &format!(".github/workflows/{workflow}"), base)
                    .await
                {
                    Ok(Some(file)) => {
                        if takes_scope(workflow) && !file.text.contains("inputs.scope") {
                            outdated.push(workflow);
                        } else if takes_scope(workflow) && !file.text.contains("inputs.block_id") {
                            without_block_id.push(workflow);
                        }
                    }
                    Ok(None) => {
                        if let Ok(list) = missing.as_mut() {
                            list.push(workflow);
                        }
                    }
                    Err(error) => {
                        missing = Err(github_error(&error));
                        break;
                    }
                }
            }
            checks.push(judge_workflows(&full, base, missing));
            if let Some(check) = judge_workflow_inputs(&full, base, &outdated) {
                checks.push(check);
            }
            if let Some(check) = judge_change_inputs(&full, base, &without_block_id) {
                checks.push(check);
            }
            let protection = github
                .branch_protection(&repo, base)
                .await
                .map_err(|e| github_error(&e));
            checks.push(judge_protection(&full, base, protection));
        }
        for (owner, name, environment) in &environments {
            let repo = RepoId::new(owner, name);
            let info = github
                .environment(&repo, environment)
                .await
                .map_err(|e| github_error(&e));
            checks.push(judge_environment(
                &format!("{owner}/{name}"),
                environment,
                info,
            ));
        }
        checks
    }

    /// Writes a probe object, then checks that a second create and a stale update are both
    /// refused; deletes the probe afterwards.
    async fn probe_writes(&self) -> Result<WriteProbe, String> {
        let key = format!("doctor/{}.json", self.probe_id);
        let body =
            serde_json::to_vec(&serde_json::json!({"probe": "tfpilot doctor", "at": self.now}))
                .unwrap_or_default();
        let backend = self.store.backend();
        let etag = match backend
            .put(&key, body.clone(), PutCondition::IfAbsent)
            .await
        {
            Ok(etag) => etag,
            Err(error) => return Err(error.to_string()),
        };
        let create_only_refused = matches!(
            backend
                .put(&key, body.clone(), PutCondition::IfAbsent)
                .await,
            Err(StoreError::AlreadyExists { .. })
        );
        let stale = crate::store::ETag("\"0000000000000000\"".into());
        let stale_write_refused = matches!(
            backend
                .put(&key, body.clone(), PutCondition::IfMatch(stale))
                .await,
            Err(StoreError::PreconditionFailed { .. })
        );
        // The probe's version may have changed if a condition was ignored: delete what is there.
        let current = backend
            .get(&key)
            .await
            .ok()
            .flatten()
            .map(|o| o.etag)
            .unwrap_or(etag);
        if let Err(error) = backend.delete(&key, Some(&current)).await {
            tracing::warn!(%key, %error, "could not delete the doctor's probe object");
        }
        Ok(WriteProbe {
            create_only_refused,
            stale_write_refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::User;

    fn user() -> User {
        serde_json::from_value(serde_json::json!({"login": "erin", "id": 1})).unwrap()
    }

    #[test]
    fn token_scopes_are_judged() {
        let info = |scopes: Option<Vec<&str>>| {
            Ok(TokenInfo {
                user: user(),
                scopes: scopes.map(|s| s.into_iter().map(String::from).collect()),
            })
        };
        assert_eq!(
            judge_token(Some("GITHUB_TOKEN"), info(Some(vec!["repo", "workflow"]))).verdict,
            Verdict::Pass
        );
        let missing = judge_token(Some("GITHUB_TOKEN"), info(Some(vec!["repo"])));
        assert_eq!(missing.verdict, Verdict::Fail);
        assert!(
            missing
                .detail
                .contains("workflow: runs cannot be dispatched"),
            "{}",
            missing.detail
        );
        assert_eq!(
            judge_token(Some("keyring"), info(None)).verdict,
            Verdict::Warn
        );
        assert_eq!(judge_token(None, info(None)).verdict, Verdict::Fail);
    }

    #[test]
    fn workflows_without_the_scope_input_fail() {
        assert!(judge_workflow_inputs("acme/infra", "main", &[]).is_none());
        let check = judge_workflow_inputs("acme/infra", "main", &["tfpilot-plan.yml"])
            .expect("a failing check");
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(
            check
                .detail
                .contains("tfpilot-plan.yml on main lack the `scope` input")
        );
        // The embedded workflows have it.
        for (name, text) in WORKFLOWS {
            assert_eq!(takes_scope(name), text.contains("inputs.scope"), "{name}");
        }
    }

    #[test]
    fn workflows_without_the_block_id_input_warn_that_changes_cannot_run() {
        assert!(judge_change_inputs("acme/infra", "main", &[]).is_none());
        let check =
            judge_change_inputs("acme/infra", "main", &["tfpilot-apply.yml"]).expect("a warning");
        assert_eq!(check.verdict, Verdict::Warn);
        assert!(
            check.detail.contains("lack the `block_id` input"),
            "{}",
            check.detail
        );
        // The embedded plan and apply workflows take it.
        for (name, text) in WORKFLOWS {
            assert_eq!(
                takes_scope(name),
                text.contains("inputs.block_id"),
                "{name}"
            );
        }
    }

    #[test]
    fn conditional_writes_must_be_honoured() {
        let probe = |a, b| {
            Ok(WriteProbe {
                create_only_refused: a,
                stale_write_refused: b,
            })
        };
        assert_eq!(
            judge_store("s3://b", probe(true, true)).verdict,
            Verdict::Pass
        );
        let ignored = judge_store("s3://b", probe(false, true));
        assert_eq!(ignored.verdict, Verdict::Fail);
        assert!(
            ignored.detail.contains("If-None-Match"),
            "{}",
            ignored.detail
        );
        assert!(
            judge_store("s3://b", probe(true, false))
                .detail
                .contains("If-Match")
        );
        assert_eq!(
            judge_store("s3://b", Err("403".into())).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn protection_requires_reviews() {
        let judge = |p| judge_protection("acme/infra", "main", Ok(p)).verdict;
        assert_eq!(
            judge(Protection::Protected {
                required_reviews: 1
            }),
            Verdict::Pass
        );
        assert_eq!(
            judge(Protection::Protected {
                required_reviews: 0
            }),
            Verdict::Fail
        );
        assert_eq!(judge(Protection::NotProtected), Verdict::Fail);
        assert_eq!(
            judge(Protection::Unknown {
                reason: "403".into()
            }),
            Verdict::Warn
        );
    }

    #[test]
    fn bucket_settings_warn_and_local_directories_skip() {
        let checks = judge_bucket(Some(BucketProtections {
            encryption: Ok(None),
            versioning: Ok(Some("Suspended".into())),
        }));
        assert!(checks.iter().all(|c| c.verdict == Verdict::Warn));
        assert!(
            checks[1].detail.contains("suspended"),
            "{}",
            checks[1].detail
        );
        let good = judge_bucket(Some(BucketProtections {
            encryption: Ok(Some("AES256".into())),
            versioning: Ok(Some("Enabled".into())),
        }));
        assert!(good.iter().all(|c| c.verdict == Verdict::Pass));
        let refused = judge_bucket(Some(BucketProtections {
            encryption: Err("403".into()),
            versioning: Ok(Some("Enabled".into())),
        }));
        assert_eq!(
            (refused[0].verdict, refused[1].verdict),
            (Verdict::Warn, Verdict::Pass)
        );
        assert!(
            judge_bucket(None)
                .iter()
                .all(|c| c.verdict == Verdict::Skip)
        );
    }
}
