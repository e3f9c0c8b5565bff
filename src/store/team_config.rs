//! Team configuration read from the store: the module catalog
//! (`config/modules/*.json`), the infra repo registry (`config/infra-repos.json`),
//! the validation guardrails, roles and allowlists of `config/policy.json`, and who hears of
//! transitions by email (`config/notify.json`).
//!
//! One broken module file must not hide the others: each file that fails to
//! parse is reported next to the modules that loaded.

use crate::domain::access::AccessPolicy;
use crate::domain::catalog::{CatalogError, ModuleDef};
use crate::domain::notify_email::{EmailDirectory, NOTIFY_KEY};
use crate::domain::registry::{InfraRepos, ValidationPolicy};
use crate::domain::template::{TEMPLATES_PREFIX, Template, TemplateError, template_key};

use super::{ETag, PutCondition, Store, StoreError, Versioned};

pub const MODULES_PREFIX: &str = "config/modules/";
pub const INFRA_REPOS_KEY: &str = "config/infra-repos.json";
pub const POLICY_KEY: &str = "config/policy.json";

#[derive(Debug, Clone, Default)]
pub struct TeamConfig {
    /// Sorted by name.
    pub modules: Vec<ModuleDef>,
    /// Files that could not be used, with the reason.
    pub problems: Vec<CatalogError>,
    /// `None` when the store has no registry yet.
    pub infra_repos: Option<InfraRepos>,
    pub policy: ValidationPolicy,
    /// Roles and prod allowlists from the same file; everyone is a developer without it.
    pub access: AccessPolicy,
    /// Whether the store has `config/policy.json` at all (readable or not).
    pub policy_found: bool,
    /// Templates that parse and fit the catalog, sorted by id.
    pub templates: Vec<Template>,
    /// Template files that could not be used, with the reason.
    pub template_problems: Vec<TemplateError>,
    /// Who hears of transitions by email (`config/notify.json`); nobody without it.
    pub email: EmailDirectory,
}

impl TeamConfig {
    /// The catalog's definition of module `name`.
    pub fn module(&self, name: &str) -> Option<&ModuleDef> {
        self.modules.iter().find(|module| module.name == name)
    }
}

/// What writing a template did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateWrite {
    Created,
    Replaced,
    Unchanged,
}

impl Store {
    pub async fn load_team_config(&self) -> Result<TeamConfig, StoreError> {
        let mut config = TeamConfig::default();
        for (key, text) in self
            .text_files(MODULES_PREFIX, ".json", self.document_limit())
            .await?
        {
            let parsed = text
                .map_err(|reason| CatalogError::NotJson {
                    origin: key.clone(),
                    reason,
                })
                .and_then(|text| ModuleDef::parse(&text, &key));
            match parsed {
                Ok(module) if config.modules.iter().any(|m| m.name == module.name) => {
                    config.problems.push(CatalogError::InvalidModule {
                        origin: key.clone(),
                        reason: format!("another file already defines module {:?}", module.name),
                    });
                }
                Ok(module) => config.modules.push(module),
                Err(error) => config.problems.push(error),
            }
        }
        config.modules.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(body) = self.get_blob(INFRA_REPOS_KEY).await? {
            super::requests::within_document_limit(
                INFRA_REPOS_KEY,
                body.len(),
                self.document_limit(),
            )?;
            match InfraRepos::parse(&String::from_utf8_lossy(&body), INFRA_REPOS_KEY) {
                Ok(registry) => config.infra_repos = Some(registry),
                Err(error) => config.problems.push(error),
            }
        }
        if let Some(body) = self.get_blob(POLICY_KEY).await? {
            super::requests::within_document_limit(POLICY_KEY, body.len(), self.document_limit())?;
            config.policy_found = true;
            let text = String::from_utf8_lossy(&body);
            let mut unusable = None;
            match ValidationPolicy::parse(&text, POLICY_KEY) {
                Ok(policy) => config.policy = policy,
                Err(error) => {
                    unusable = Some(error.to_string());
                    config.problems.push(error);
                }
            }
            match AccessPolicy::parse(&text, POLICY_KEY) {
                Ok(access) => config.access = access,
                Err(error) => {
                    unusable.get_or_insert(error.to_string());
                    config.problems.push(error);
                }
            }
            if let Some(problem) = unusable {
                config.access = AccessPolicy::refusing(problem);
            }
        }
        if let Some(body) = self.get_blob(NOTIFY_KEY).await? {
            super::requests::within_document_limit(NOTIFY_KEY, body.len(), self.document_limit())?;
            match EmailDirectory::parse(&String::from_utf8_lossy(&body), NOTIFY_KEY) {
                Ok(directory) => config.email = directory,
                Err(error) => config.problems.push(error),
            }
        }
        let (templates, problems) = self.load_templates(&config.modules).await?;
        config.templates = templates;
        config.template_problems = problems;
        Ok(config)
    }

    /// Every template under `templates/`, checked against `modules`; the ones that do not
    /// parse or fit are reported instead of hiding the others.
    pub async fn load_templates(
        &self,
        modules: &[ModuleDef],
    ) -> Result<(Vec<Template>, Vec<TemplateError>), StoreError> {
        let mut templates = Vec::new();
        let mut problems = Vec::new();
        for (key, text) in self
            .text_files(TEMPLATES_PREFIX, ".json", self.document_limit())
            .await?
        {
            match text
                .map_err(|reason| TemplateError::NotJson {
                    origin: key.clone(),
                    reason,
                })
                .and_then(|text| Template::parse(&text, &key))
                .and_then(|template| template.check(modules).map(|()| template))
            {
                Ok(template) => templates.push(template),
                Err(error) => problems.push(error),
            }
        }
        templates.sort_by(|a: &Template, b: &Template| a.id.cmp(&b.id));
        Ok((templates, problems))
    }

    /// `(key, text)` of every object under `prefix` whose key ends with `suffix`, in key order.
    /// A file that cannot be read (larger than `limit`, not a regular file) comes with the
    /// reason instead of its text, for the caller to report as that file's problem.
    pub(super) async fn text_files(
        &self,
        prefix: &str,
        suffix: &str,
        limit: u64,
    ) -> Result<Vec<(String, Result<String, String>)>, StoreError> {
        let mut files = Vec::new();
        for meta in self.list_all(prefix).await? {
            if !meta.key.ends_with(suffix) {
                continue;
            }
            if meta.size > limit {
                // Reported by the caller as the file's problem; the others still load.
                files.push((
                    meta.key,
                    Err(crate::domain::DocumentError::TooLarge {
                        size: meta.size,
                        limit,
                    }
                    .to_string()),
                ));
                continue;
            }
            let body = match self.get_blob(&meta.key).await {
                Ok(Some(body)) => body,
                Ok(None) => continue, // Deleted between LIST and GET.
                Err(StoreError::Unreadable { source, .. }) => {
                    files.push((meta.key, Err(source.to_string())));
                    continue;
                }
                Err(error) => return Err(error),
            };
            files.push((meta.key, Ok(String::from_utf8_lossy(&body).into_owned())));
        }
        Ok(files)
    }

    /// One template as stored, with its version; `None` when there is none.
    pub async fn get_template(&self, id: &str) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        let key = template_key(id);
        Ok(self.backend().get(&key).await?.map(|object| Versioned {
            value: object.body,
            etag: object.etag,
        }))
    }

    /// Writes a template: create-only when `expected` is `None`, otherwise only over the
    /// version that was read, so two admins editing at once cannot silently overwrite
    /// each other.
    pub async fn put_template(
        &self,
        template: &Template,
        expected: Option<&ETag>,
    ) -> Result<ETag, StoreError> {
        let condition = match expected {
            None => PutCondition::IfAbsent,
            Some(etag) => PutCondition::IfMatch(etag.clone()),
        };
        self.backend()
            .put(&template_key(&template.id), template.render(), condition)
            .await
    }

    /// Deletes a template if it is still the version that was read.
    pub async fn delete_template(&self, id: &str, expected: &ETag) -> Result<(), StoreError> {
        self.backend()
            .delete(&template_key(id), Some(expected))
            .await
    }
}
