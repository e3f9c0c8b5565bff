//! Operations that edit the infra repository: create (resumable, step by step), update (a
//! config edit that withdraws the approval and plans again) and cleanup (a PR removing the
//! block once its resources are destroyed).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::guard::{Begun, Finish, Held, PendingEvent, locked};
use super::runs::{Dispatched, describe_run, plan_dispatched};
use super::secrets::SecretOwner;
use super::{Engine, EngineError, OpOutcome, OpResult, new_id, repo_of, target_file};
use crate::domain::RunKind;
use crate::domain::access::Subject;
use crate::domain::catalog::{ModuleDef, ValidatedConfig, ValidationErrors, find_module};
use crate::domain::change::describe_change;
use crate::domain::infra_file::{remove_block, upsert_block};
use crate::domain::lock;
use crate::domain::operation::Operation;
use crate::domain::template::{Template, TemplateError, find_template, template_id_from_key};
use crate::domain::{IdempotencyRecord, Request};
use crate::github::{GitHubError, RepoId};
use crate::store::{IdempotencyClaim, StoreError};

/// What someone asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateInput {
    pub project: String,
    pub environment: String,
    pub module: String,
    /// Field values as given: JSON values, or text as typed in a form or on the command line.
    pub values: Map<String, Value>,
    /// Repeating a create with the same key continues or returns the same request.
    pub idempotency_key: Option<String>,
    /// Start from this template: its preset values, its locked values, its module.
    pub template: Option<String>,
    /// The assistant conversation the request came from, kept beside it.
    pub assistant: Option<crate::domain::assistant::Conversation>,
}

/// What a create's checks found: the template and module it uses, its values, and where its
/// block goes.
struct Prepared<'t> {
    template: Option<&'t Template>,
    module: &'t ModuleDef,
    config: ValidatedConfig,
    target: crate::domain::request::Target,
}

/// The branch head after an edit of one file on one branch (a new commit, or the head as it
/// was when there was nothing to change).
struct Edited {
    commit_sha: String,
}

impl Engine {
    /// Validates, claims the idempotency key, writes the document, then branch, commit, PR and
    /// plan dispatch; each step is skipped when an earlier attempt with the key completed it.
    pub async fn create(&self, input: CreateInput) -> Result<OpOutcome, EngineError> {
        let Prepared {
            template,
            module,
            config,
            target,
        } = self.prepare(&input, false)?;

        let key = input.idempotency_key.clone().unwrap_or_else(new_id);
        let fingerprint = fingerprint(&input, module, &config);
        let now = self.now();
        let record = IdempotencyRecord {
            key: key.clone(),
            operation: Operation::Create.as_str().into(),
            request_id: format!("req_{}", ulid::Ulid::new()),
            created_at: now,
            outcome: json!({"fingerprint": fingerprint}),
            extra: Map::new(),
        };
        let id = match self.store.claim_create_key(&record).await {
            Ok(IdempotencyClaim::Claimed) => record.request_id.clone(),
            Ok(IdempotencyClaim::Existing(existing)) => {
                if existing.outcome.get("fingerprint") != Some(&json!(fingerprint)) {
                    return Err(EngineError::conflict(format!(
                        "idempotency key {key} was already used for a different request ({}); use a new key",
                        existing.request_id
                    )));
                }
                existing.request_id
            }
            Err(StoreError::InvalidKey { reason, .. }) => {
                return Err(EngineError::Invalid {
                    message: format!("idempotency key {key:?}: {reason}"),
                });
            }
            Err(error) => return Err(error.into()),
        };

        // Sensitive values go to the secret store before the document or git sees them.
        let owner = SecretOwner {
            project: &input.project,
            environment: &input.environment,
            request_id: &id,
        };
        let mut config = self.seal(owner, module, config).await?;
        let mut request = Request::new(
            &id,
            &input.project,
            &input.environment,
            &module.name,
            &self.actor,
            now,
        );
        request.config = config.values.clone();
        request.template_id = template.map(|t| t.id.clone());
        request.target = Some(Box::new(target));
        request.branch = Some(format!("tfpilot/{id}"));
        if let Some(conversation) = &input.assistant {
            request.assistant = Some(Box::new(self.keep_conversation(&id, conversation).await?));
        }
        let token = new_id();
        // A fresh document cannot be locked by anyone else.
        let _ = lock::acquire(
            &mut request,
            &self.holder,
            &token,
            Operation::Create.as_str(),
            now,
            self.settings.lock_ttl_seconds,
        );
        let (held, request) = match self.store.create_request(&request).await {
            Ok(stored) => {
                let request = stored.value.clone();
                (
                    Box::new(self.hold(stored, Operation::Create, key.clone(), token)),
                    request,
                )
            }
            Err(StoreError::AlreadyExists { .. }) => {
                // An earlier attempt with this key made the document: finished, or resume it.
                let existing = self.store.get_request(&id).await?.value;
                if existing
                    .idempotency
                    .get(Operation::Create.as_str())
                    .is_some_and(|entry| entry.key == key)
                {
                    return Ok(OpOutcome {
                        operation: Operation::Create,
                        result: OpResult::Replayed,
                        message: format!("created {id} earlier with this key"),
                        request: existing,
                    });
                }
                // Resumed: the values (and references) the document was made with are the ones.
                config = ValidatedConfig {
                    values: existing.config.clone(),
                };
                match self.begin(&id, Operation::Create, Some(&key)).await? {
                    Begun::Held(held, request) => (held, request),
                    Begun::Early(outcome) => return Ok(outcome),
                }
            }
            Err(error) => return Err(error.into()),
        };
        let result = self.create_locked(&held, request, module, &config).await;
        self.end(held, result).await
    }

    pub(super) async fn create_locked(
        &self,
        held: &Held,
        request: Request,
        module: &ModuleDef,
        config: &ValidatedConfig,
    ) -> Result<Finish, EngineError> {
        let (repo, target) = repo_of(&request)?;
        let (base, file) = (target.base.clone(), target_file(target));
        let branch = request.branch.clone().unwrap_or_default();
        let mut request = request;
        if request.commit_sha.is_none() {
            self.ensure_branch(&repo, &branch, &base).await?;
            let block = module.block(request.block_id(), config);
            let message = match request.changes.as_deref() {
                Some(original) => format!("tfpilot: change {original} ({})", request.id),
                None => format!(
                    "tfpilot: {} {} in {}",
                    request.module, request.id, request.environment
                ),
            };
            let edited = self
                .edit_file(&repo, &file, &branch, &message, |text| {
                    upsert_block(text, &file, &block).map(Some)
                })
                .await?;
            request = self
                .persist(held, |r| r.commit_sha = Some(edited.commit_sha.clone()))
                .await?;
        }
        if request.pr.is_none() {
            let (title, body) = match request.changes.as_deref() {
                Some(original) => (
                    format!(
                        "tfpilot: change {original} ({} in {}/{})",
                        request.module, request.project, request.environment
                    ),
                    format!(
                        "Change {} of {original}, requested by @{} through tfpilot.\n\nIt edits the block between `# tfpilot:begin/{original}` and `# tfpilot:end/{original}` in `{file}` in place, so Terraform updates the resources it made; change these values with `tfpilot update {}`.",
                        request.id, request.requested_by, request.id
                    ),
                ),
                None => (
                    format!(
                        "tfpilot: {} for {} in {}",
                        request.module, request.project, request.environment
                    ),
                    format!(
                        "Requested by @{} through tfpilot ({}).\n\nThe block between `# tfpilot:begin/{id}` and `# tfpilot:end/{id}` in `{file}` is managed by tfpilot; change it with `tfpilot update {id}`.",
                        request.requested_by,
                        request.id,
                        id = request.id
                    ),
                ),
            };
            let (pull, _) = self
                .github
                .open_pull(&repo, &branch, &base, &title, &body)
                .await?;
            let fact = pull.to_fact();
            request = self
                .persist(held, |r| r.pr = Some(Box::new(fact.clone())))
                .await?;
        }
        let plan_done = request
            .plan_run
            .as_ref()
            .is_some_and(|run| !crate::domain::operation::dispatch_pending(run));
        let dispatched = match request.plan_run.clone() {
            Some(run) if plan_done => Dispatched {
                run: *run,
                recovered: false,
            },
            _ => {
                self.dispatch_run(held, &request, RunKind::Plan, &branch)
                    .await?
            }
        };
        let run = &dispatched.run;
        let number = request
            .pr
            .as_ref()
            .and_then(|pr| pr.number)
            .unwrap_or_default();
        Ok(Finish {
            message: format!(
                "created {}{}: pull request #{number}, plan dispatched{}",
                request.id,
                request
                    .changes
                    .as_deref()
                    .map(|original| format!(", a change of {original}"))
                    .unwrap_or_default(),
                describe_run(run)
            ),
            events: [
                Some(
                    PendingEvent::new(
                        "request_created",
                        match request.changes.as_deref() {
                            Some(original) => format!(
                                "change of {original}: {} in {}/{}",
                                request.module, request.project, request.environment
                            ),
                            None => format!(
                                "{} in {}/{}",
                                request.module, request.project, request.environment
                            ),
                        },
                    )
                    .with_data(
                        json!({"pr": number, "branch": branch, "commit_sha": request.commit_sha}),
                    ),
                ),
                dispatched.event(plan_dispatched(run)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        })
    }

    /// Changes config values on the request's branch, withdraws the approval and plans again.
    pub async fn update(
        &self,
        id: &str,
        values: Map<String, Value>,
        key: Option<&str>,
    ) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Update, key, update_locked, values)
    }

    async fn update_locked(
        &self,
        held: &Held,
        request: Request,
        values: Map<String, Value>,
    ) -> Result<Finish, EngineError> {
        let module = find_module(&self.team.modules, &request.module).map_err(invalid)?;
        let mut merged = request.config.clone();
        for (name, value) in &values {
            merged.insert(name.clone(), value.clone());
        }
        self.check_template_locks(&request, module, &values)?;
        let config = self.validate(module, &request.environment, &merged)?;
        if config.values == request.config {
            return Ok(Finish {
                message: "nothing changed: the values are the ones the request has".into(),
                events: Vec::new(),
            });
        }
        let changed = describe_change(module, &request.config, &config.values).fields;
        let owner = SecretOwner {
            project: &request.project,
            environment: &request.environment,
            request_id: &request.id,
        };
        let config = self.seal(owner, module, config).await?;
        let (repo, target) = repo_of(&request)?;
        let file = target_file(target);
        let branch = request.branch.clone().unwrap_or_default();
        let block = module.block(request.block_id(), &config);
        let message = format!("tfpilot: update {} ({})", request.id, changed.join(", "));
        let edited = self
            .edit_file(&repo, &file, &branch, &message, |text| {
                upsert_block(text, &file, &block).map(Some)
            })
            .await?;
        let had_approval = request.approval.as_deref().is_some_and(|a| a.approved);
        let request = self
            .persist(held, |r| {
                r.config = config.values.clone();
                r.commit_sha = Some(edited.commit_sha.clone());
                if let Some(pr) = r.pr.as_deref_mut() {
                    pr.head_sha = Some(edited.commit_sha.clone());
                }
                r.approval = None;
                r.plan = None;
            })
            .await?;
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Plan, &branch)
            .await?;
        let run = &dispatched.run;
        let withdrawn = if had_approval {
            "; the approval was withdrawn"
        } else {
            ""
        };
        Ok(Finish {
            message: format!(
                "updated {}{withdrawn}; plan dispatched{}",
                changed.join(", "),
                describe_run(run)
            ),
            events: [
                Some(PendingEvent::new(
                    "configuration_updated",
                    format!("changed {}{withdrawn}", changed.join(", ")),
                )
                .with_data(json!({"fields": changed, "commit_sha": edited.commit_sha, "approval_withdrawn": had_approval}))),
                dispatched.event(plan_dispatched(run)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        })
    }

    /// Opens a PR removing the destroyed request's block and dispatches the check that the
    /// state holds nothing of it.
    pub async fn cleanup(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Cleanup, key, cleanup_locked)
    }

    async fn cleanup_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, target) = repo_of(&request)?;
        let (base, file) = (target.base.clone(), target_file(target));
        let branch = format!("tfpilot/{}-cleanup", request.id);
        let mut request = request;
        if request.cleanup_pr.is_none() {
            let on_base = self.github.get_file(&repo, &file, &base).await?;
            let present = on_base
                .as_ref()
                .map(|f| remove_block(&f.text, &file, &request.id))
                .transpose()
                .map_err(|e| EngineError::conflict(e.to_string()))?
                .flatten()
                .is_some();
            if !present {
                return Ok(Finish {
                    message: format!(
                        "the block of {} is not in {file} on {base}: nothing to clean up",
                        request.id
                    ),
                    events: Vec::new(),
                });
            }
            self.ensure_branch(&repo, &branch, &base).await?;
            let message = format!("tfpilot: remove {} (destroyed)", request.id);
            let id = request.id.clone();
            self.edit_file(&repo, &file, &branch, &message, |text| {
                remove_block(text, &file, &id)
            })
            .await?;
            let title = format!("tfpilot: remove {} (destroyed)", request.id);
            let body = format!(
                "{} was destroyed; this removes its block from `{file}`. The tfpilot cleanup check confirms the state holds none of its resources.",
                request.id
            );
            let (pull, _) = self
                .github
                .open_pull(&repo, &branch, &base, &title, &body)
                .await?;
            let fact = pull.to_fact();
            request = self
                .persist(held, |r| r.cleanup_pr = Some(Box::new(fact.clone())))
                .await?;
        }
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Cleanup, &branch)
            .await?;
        let run = &dispatched.run;
        // The resources are destroyed: nothing reads their sensitive values any more, the
        // original's nor those its change requests stored.
        let mut deleted = self.delete_secrets(&request).await?;
        for change in self.changes_of(&request).await {
            deleted.extend(self.delete_own_secrets(&change).await?);
        }
        deleted.sort();
        deleted.dedup();
        let number = request
            .cleanup_pr
            .as_ref()
            .and_then(|pr| pr.number)
            .unwrap_or_default();
        let deleted_text = if deleted.is_empty() {
            String::new()
        } else {
            format!("; deleted {}", deleted.join(", "))
        };
        Ok(Finish {
            message: format!(
                "cleanup pull request #{number} opened; state check dispatched{}{deleted_text}",
                describe_run(run)
            ),
            events: vec![
                PendingEvent::new(
                    "cleanup_opened",
                    format!("pull request #{number}{deleted_text}"),
                )
                .with_data(json!({"pr": number, "run_id": run.id, "secrets_deleted": deleted})),
            ],
        })
    }

    /// The template a create names, checked against the module it names (if any).
    /// Every check a create makes before it writes anything: the policy, the template, the
    /// module, the values and the team's rules, and where the block goes. With
    /// `secrets_to_come`, sensitive fields may still be missing or wrong: an assistant's
    /// proposal leaves them to the person.
    fn prepare(
        &self,
        input: &CreateInput,
        secrets_to_come: bool,
    ) -> Result<Prepared<'_>, EngineError> {
        self.require(
            Operation::Create,
            Subject {
                environment: &input.environment,
                requested_by: &self.actor,
                cancels: None,
            },
        )?;
        let template = self.template_for(input)?;
        let module_name = match template {
            Some(template) => template.module.as_str(),
            None => input.module.as_str(),
        };
        let module = find_module(&self.team.modules, module_name).map_err(invalid)?;
        let values = match template {
            Some(template) => template
                .apply(module, &input.environment, &input.values)
                .map_err(|errors| EngineError::Invalid {
                    message: format!("template {}: {}", template.id, ValidationErrors(errors)),
                })?,
            None => input.values.clone(),
        };
        let config = if secrets_to_come {
            let mut values = values;
            values.retain(|name, _| !module.field(name).is_some_and(|field| field.sensitive));
            let checked = match module.validate(&values) {
                Ok(config) => config,
                Err(errors) => {
                    let left: Vec<_> = errors
                        .0
                        .into_iter()
                        .filter(|error| {
                            !module
                                .field(&error.field)
                                .is_some_and(|field| field.sensitive)
                        })
                        .collect();
                    if !left.is_empty() {
                        return Err(EngineError::Invalid {
                            message: format!(
                                "invalid values for {}: {}",
                                module.name,
                                ValidationErrors(left)
                            ),
                        });
                    }
                    ValidatedConfig { values }
                }
            };
            self.check_policy(&input.environment, &checked)?;
            checked
        } else {
            self.validate(module, &input.environment, &values)?
        };
        let registry = self.team.infra_repos.as_ref().ok_or_else(|| EngineError::Config {
            message: "the store has no config/infra-repos.json, so there is nowhere to write the block; an admin must add it".into(),
        })?;
        let target = registry
            .target(&input.project, &input.environment)
            .map_err(invalid)?;
        Ok(Prepared {
            template,
            module,
            config,
            target,
        })
    }

    /// Writes the conversation a request came from beside it, before the document that
    /// points at it (a retry with the same key finds it written).
    async fn keep_conversation(
        &self,
        id: &str,
        conversation: &crate::domain::assistant::Conversation,
    ) -> Result<crate::domain::assistant::AssistantNote, EngineError> {
        let mut kept = conversation.clone();
        kept.request_id = Some(id.to_string());
        let key = crate::domain::assistant::conversation_key(id);
        let body = serde_json::to_vec_pretty(&kept).map_err(|error| EngineError::Invalid {
            message: format!("the assistant conversation cannot be written: {error}"),
        })?;
        self.store.put_once(&key, body).await?;
        Ok(crate::domain::assistant::AssistantNote::of(&kept, &key))
    }

    /// Whether `input` would pass a create's checks, sensitive values aside (they are typed
    /// by the person after an assistant's proposal).
    pub(super) fn check_create(&self, input: &CreateInput) -> Result<(), EngineError> {
        self.prepare(input, true).map(|_| ())
    }

    fn template_for(&self, input: &CreateInput) -> Result<Option<&Template>, EngineError> {
        let Some(id) = input.template.as_deref() else {
            return Ok(None);
        };
        let template = find_template(&self.team.templates, id).map_err(|error| {
            // A template that exists but does not fit the catalog says why.
            let problem = self.team.template_problems.iter().find(|p| {
                matches!(p, TemplateError::Invalid { origin, .. } | TemplateError::NotJson { origin, .. }
                    if template_id_from_key(origin) == Some(id))
            });
            match problem {
                Some(problem) => EngineError::Config {
                    message: format!("{problem}; an admin must fix it before it can be used"),
                },
                None => invalid(error),
            }
        })?;
        if !input.module.is_empty() && input.module != template.module {
            return Err(EngineError::Invalid {
                message: format!(
                    "template {} makes a {} request, not {}; leave the module out or pick another template",
                    template.id, template.module, input.module
                ),
            });
        }
        Ok(Some(template))
    }

    /// Refuses `values` that change what the template `request` was made from locks.
    pub(super) fn check_template_locks(
        &self,
        request: &Request,
        module: &ModuleDef,
        values: &Map<String, Value>,
    ) -> Result<(), EngineError> {
        let Some(template) = request
            .template_id
            .as_deref()
            .and_then(|id| find_template(&self.team.templates, id).ok())
        else {
            return Ok(());
        };
        let conflicts = template.locked_conflicts(module, values);
        if conflicts.is_empty() {
            return Ok(());
        }
        Err(EngineError::Invalid {
            message: format!(
                "{} was made from template {}: {}",
                request.id,
                template.id,
                ValidationErrors(conflicts)
            ),
        })
    }

    pub(super) fn validate(
        &self,
        module: &ModuleDef,
        environment: &str,
        values: &Map<String, Value>,
    ) -> Result<ValidatedConfig, EngineError> {
        let config = module
            .validate(values)
            .map_err(|errors| EngineError::Invalid {
                message: format!("invalid values for {}: {errors}", module.name),
            })?;
        self.check_policy(environment, &config)?;
        Ok(config)
    }

    fn check_policy(&self, environment: &str, config: &ValidatedConfig) -> Result<(), EngineError> {
        let problems = self.team.policy.check(environment, config);
        if problems.is_empty() {
            return Ok(());
        }
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        Err(EngineError::Invalid {
            message: format!("the values break team policy: {}", text.join("; ")),
        })
    }

    async fn ensure_branch(
        &self,
        repo: &RepoId,
        branch: &str,
        base: &str,
    ) -> Result<(), EngineError> {
        if self.github.branch_sha(repo, branch).await?.is_some() {
            return Ok(());
        }
        let base_sha =
            self.github
                .branch_sha(repo, base)
                .await?
                .ok_or_else(|| EngineError::Config {
                    message: format!(
                        "{}/{} has no branch {base}; fix `base` in config/infra-repos.json",
                        repo.owner, repo.name
                    ),
                })?;
        self.github.create_branch(repo, branch, &base_sha).await?;
        Ok(())
    }

    /// Reads `path` on `branch`, applies `edit`, and commits the result against the blob it
    /// read. `edit` returning `None`, or the same text, commits nothing (a resumed step whose
    /// commit landed). A concurrent change of the file is re-read and re-applied, a few times.
    async fn edit_file<F>(
        &self,
        repo: &RepoId,
        path: &str,
        branch: &str,
        message: &str,
        edit: F,
    ) -> Result<Edited, EngineError>
    where
        F: Fn(&str) -> Result<Option<String>, crate::domain::infra_file::InfraFileError>,
    {
        for _ in 0..3 {
            let current = self.github.get_file(repo, path, branch).await?;
            let text = current.as_ref().map_or("", |f| f.text.as_str());
            let next = edit(text).map_err(|error| {
                EngineError::conflict(format!(
                    "{path} on {branch} cannot be edited safely: {error}"
                ))
            })?;
            let unchanged = match &next {
                None => true,
                Some(next) => current.is_some() && next == text,
            };
            if unchanged {
                let head = self
                    .github
                    .branch_sha(repo, branch)
                    .await?
                    .unwrap_or_default();
                return Ok(Edited { commit_sha: head });
            }
            let next = next.unwrap_or_default();
            match self
                .github
                .put_file(
                    repo,
                    path,
                    branch,
                    &next,
                    message,
                    current.as_ref().map(|f| f.sha.as_str()),
                )
                .await
            {
                Ok(commit) => {
                    return Ok(Edited {
                        commit_sha: commit.commit_sha,
                    });
                }
                Err(GitHubError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::conflict(format!(
            "{path} on {branch} kept changing while tfpilot wrote it; try again"
        )))
    }
}

pub(super) fn invalid(error: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid {
        message: error.to_string(),
    }
}

/// Identifies what a create asked for, so a key reused for something else is refused.
/// What tells a retry of a create from another create under the same key. Sensitive values
/// stay out: the record is in the bucket, and a hash of a short password is a password.
fn fingerprint(input: &CreateInput, module: &ModuleDef, config: &ValidatedConfig) -> String {
    let values: Map<String, Value> = config
        .values
        .iter()
        .map(|(name, value)| {
            let sensitive = module.field(name).is_some_and(|field| field.sensitive);
            let value = if sensitive {
                json!("sensitive")
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect();
    let canonical = json!({
        "project": input.project,
        "environment": input.environment,
        "module": input.module,
        "template": input.template,
        "config": values,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
