//! Team configuration read from the store: the module catalog
//! (`config/modules/*.json`), the infra repo registry (`config/infra-repos.json`)
//! and the validation guardrails, roles and allowlists of `config/policy.json`.
//!
//! One broken module file must not hide the others: each file that fails to
//! parse is reported next to the modules that loaded.

use crate::domain::access::AccessPolicy;
use crate::domain::catalog::{CatalogError, ModuleDef};
use crate::domain::registry::{InfraRepos, ValidationPolicy};

use super::{Store, StoreError};

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
}

impl Store {
    pub async fn load_team_config(&self) -> Result<TeamConfig, StoreError> {
        let mut config = TeamConfig::default();
        for meta in self.list_all(MODULES_PREFIX).await? {
            if !meta.key.ends_with(".json") {
                continue;
            }
            let Some(body) = self.get_blob(&meta.key).await? else {
                continue; // Deleted between LIST and GET.
            };
            match ModuleDef::parse(&String::from_utf8_lossy(&body), &meta.key) {
                Ok(module) if config.modules.iter().any(|m| m.name == module.name) => {
                    config.problems.push(CatalogError::InvalidModule {
                        origin: meta.key.clone(),
                        reason: format!("another file already defines module {:?}", module.name),
                    });
                }
                Ok(module) => config.modules.push(module),
                Err(error) => config.problems.push(error),
            }
        }
        config.modules.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(body) = self.get_blob(INFRA_REPOS_KEY).await? {
            match InfraRepos::parse(&String::from_utf8_lossy(&body), INFRA_REPOS_KEY) {
                Ok(registry) => config.infra_repos = Some(registry),
                Err(error) => config.problems.push(error),
            }
        }
        if let Some(body) = self.get_blob(POLICY_KEY).await? {
            let text = String::from_utf8_lossy(&body);
            match ValidationPolicy::parse(&text, POLICY_KEY) {
                Ok(policy) => config.policy = policy,
                Err(error) => config.problems.push(error),
            }
            match AccessPolicy::parse(&text, POLICY_KEY) {
                Ok(access) => config.access = access,
                Err(error) => config.problems.push(error),
            }
        }
        Ok(config)
    }
}
