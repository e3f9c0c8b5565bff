//! Team configuration that decides where a request goes and what it may ask
//! for: the infra repo registry (`config/infra-repos.json`) and the validation
//! guardrails (naming pattern, allowed regions per environment) of
//! `config/policy.json`.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::{CatalogError, FieldError, ValidatedConfig, known};
use super::request::Target;

/// `config/infra-repos.json`: project -> environment -> repo location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraRepos {
    pub projects: BTreeMap<String, BTreeMap<String, InfraRepo>>,
    /// Settings per repository, keyed `owner/name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repositories: BTreeMap<String, RepoSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSettings {
    #[serde(default)]
    pub targeting: Targeting,
}

/// What a request's plan and apply runs cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targeting {
    /// Only the request's module (`-target=module.tfpilot_<id>`): one request's apply never
    /// creates or destroys another's resources.
    #[default]
    Request,
    /// The environment's whole root module; an apply whose plan changes anything outside the
    /// request then needs to say so (`--include-outside`).
    Root,
}

impl Targeting {
    /// The `scope` input of the plan and apply workflows.
    pub fn as_str(self) -> &'static str {
        match self {
            Targeting::Request => "request",
            Targeting::Root => "root",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraRepo {
    pub owner: String,
    pub repo: String,
    #[serde(default = "default_base")]
    pub base: String,
    /// Directory of the environment's Terraform root, relative to the repo root.
    pub env_path: String,
    /// The file tfpilot writes its blocks into, inside `env_path`.
    #[serde(default = "default_file")]
    pub file: String,
}

fn default_base() -> String {
    "main".to_string()
}

fn default_file() -> String {
    "tfpilot.tf".to_string()
}

impl InfraRepos {
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidRegistry {
            origin: origin.to_string(),
            reason,
        };
        let registry: InfraRepos =
            serde_json::from_str(text).map_err(|error| invalid(super::strict::explain(&error)))?;
        for name in registry.repositories.keys() {
            let parts: Vec<&str> = name.split('/').collect();
            if parts.len() != 2 || parts.iter().any(|part| part.is_empty()) {
                return Err(invalid(format!(
                    "repositories: {name:?} must be OWNER/NAME, as GitHub names a repository"
                )));
            }
        }
        for (project, environments) in &registry.projects {
            for (environment, repo) in environments {
                repo.check()
                    .map_err(|reason| invalid(format!("{project}/{environment}: {reason}")))?;
            }
        }
        Ok(registry)
    }

    /// The targeting of runs in `owner/repo` (GitHub names compare case-insensitively).
    pub fn targeting(&self, owner: &str, repo: &str) -> Targeting {
        let name = format!("{owner}/{repo}");
        self.repositories
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(&name))
            .map(|(_, settings)| settings.targeting)
            .unwrap_or_default()
    }

    /// Where a request for `project`/`environment` is written.
    pub fn target(&self, project: &str, environment: &str) -> Result<Target, CatalogError> {
        let environments =
            self.projects
                .get(project)
                .ok_or_else(|| CatalogError::UnknownProject {
                    project: project.to_string(),
                    hint: known(self.projects.keys().map(String::as_str)),
                })?;
        let repo =
            environments
                .get(environment)
                .ok_or_else(|| CatalogError::UnknownEnvironment {
                    project: project.to_string(),
                    environment: environment.to_string(),
                    hint: known(environments.keys().map(String::as_str)),
                })?;
        Ok(Target {
            owner: repo.owner.clone(),
            repo: repo.repo.clone(),
            base: repo.base.clone(),
            env_path: repo.env_path.clone(),
            file: repo.file.clone(),
            extra: Map::new(),
        })
    }
}

impl InfraRepo {
    fn check(&self) -> Result<(), String> {
        let name_ok = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !name_ok(&self.owner) || !name_ok(&self.repo) {
            return Err(format!(
                "owner {:?} and repo {:?} must be GitHub names (letters, digits, `-`, `_`, `.`)",
                self.owner, self.repo
            ));
        }
        if self.base.trim().is_empty() {
            return Err("base branch is empty".into());
        }
        if !is_relative_path(&self.env_path) {
            return Err(format!(
                "env_path {:?} must be a relative path inside the repo, without `..`",
                self.env_path
            ));
        }
        if !self.file.ends_with(".tf") || self.file.contains('/') || self.file.contains('\\') {
            return Err(format!(
                "file {:?} must be a `.tf` file name inside env_path",
                self.file
            ));
        }
        Ok(())
    }
}

fn is_relative_path(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
}

/// The validation guardrails of `config/policy.json`. Other keys of that file (roles,
/// allowlists) belong to [`super::access::AccessPolicy`]; a key neither knows is refused
/// ([`super::access::check_policy_keys`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationPolicy {
    #[serde(default)]
    pub naming: Option<NamingRule>,
    /// The field holding a region; `region` when not set.
    #[serde(default = "default_region_field")]
    pub region_field: String,
    /// Environment -> regions allowed there. Environments not listed allow any.
    #[serde(default)]
    pub allowed_regions: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamingRule {
    /// The field whose value is the resource name.
    pub field: String,
    pub pattern: String,
    /// What the pattern means, for the error ("lowercase, 3 to 40 characters").
    #[serde(default)]
    pub description: String,
}

fn default_region_field() -> String {
    "region".to_string()
}

impl ValidationPolicy {
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidPolicy {
            origin: origin.to_string(),
            reason,
        };
        super::access::check_policy_keys(text).map_err(invalid)?;
        let policy: ValidationPolicy =
            serde_json::from_str(text).map_err(|error| invalid(super::strict::explain(&error)))?;
        if let Some(rule) = &policy.naming {
            Regex::new(&rule.pattern)
                .map_err(|error| invalid(format!("naming pattern does not compile: {error}")))?;
        }
        Ok(policy)
    }

    /// The guardrail errors for a validated config in `environment`.
    pub fn check(&self, environment: &str, config: &ValidatedConfig) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(rule) = &self.naming
            && let Some(Value::String(name)) = config.values.get(&rule.field)
        {
            let matches = Regex::new(&rule.pattern).is_ok_and(|regex| regex.is_match(name));
            if !matches {
                let why = if rule.description.is_empty() {
                    format!("must match the naming rule {}", rule.pattern)
                } else {
                    format!(
                        "must be {} (naming rule {})",
                        rule.description, rule.pattern
                    )
                };
                errors.push(FieldError {
                    field: rule.field.clone(),
                    message: why,
                });
            }
        }
        if let Some(allowed) = self.allowed_regions.get(environment)
            && let Some(Value::String(region)) = config.values.get(&self.region_field)
            && !allowed.contains(region)
        {
            errors.push(FieldError {
                field: self.region_field.clone(),
                message: format!(
                    "{region} is not allowed in {environment}; use one of {}",
                    allowed.join(", ")
                ),
            });
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = r#"{"projects": {"payments": {
        "dev": {"owner": "acme", "repo": "infra-payments", "env_path": "envs/dev"},
        "prod": {"owner": "acme", "repo": "infra-payments", "base": "release", "env_path": "envs/prod", "file": "main.tf"}
    }}}"#;

    #[test]
    fn resolves_targets_with_defaults() {
        let registry = InfraRepos::parse(REGISTRY, "config/infra-repos.json").unwrap();
        let dev = registry.target("payments", "dev").unwrap();
        assert_eq!(
            (dev.owner.as_str(), dev.base.as_str(), dev.file.as_str()),
            ("acme", "main", "tfpilot.tf")
        );
        let prod = registry.target("payments", "prod").unwrap();
        assert_eq!(
            (prod.base.as_str(), prod.file.as_str()),
            ("release", "main.tf")
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let registry = InfraRepos::parse(REGISTRY, "r").unwrap();
        let error = registry.target("billing", "dev").unwrap_err().to_string();
        assert!(error.contains("known: payments"), "{error}");
        let error = registry.target("payments", "qa").unwrap_err().to_string();
        assert!(error.contains("known: dev, prod"), "{error}");
    }

    #[test]
    fn refuses_paths_that_leave_the_repo() {
        for (field, bad) in [
            ("env_path", "../other"),
            ("env_path", "/abs"),
            ("file", "x/main.tf"),
            ("file", "main.yml"),
            ("owner", "ac me"),
        ] {
            let mut repo =
                serde_json::json!({"owner": "acme", "repo": "infra", "env_path": "envs/dev"});
            repo[field] = Value::String(bad.to_string());
            let text = serde_json::json!({"projects": {"p": {"dev": repo}}}).to_string();
            let error = InfraRepos::parse(&text, "config/infra-repos.json").unwrap_err();
            assert!(error.to_string().contains("p/dev"), "{error}");
        }
    }

    #[test]
    fn naming_and_region_guardrails() {
        let policy = ValidationPolicy::parse(
            r#"{"admins": ["alice"],
                "naming": {"field": "name", "pattern": "^[a-z][a-z0-9-]{2,20}$", "description": "lowercase"},
                "allowed_regions": {"prod": ["eu-west-1"]}}"#,
            "config/policy.json",
        )
        .unwrap();
        let config = |name: &str, region: &str| ValidatedConfig {
            values: serde_json::json!({"name": name, "region": region})
                .as_object()
                .cloned()
                .unwrap(),
        };
        assert!(
            policy
                .check("prod", &config("logs", "eu-west-1"))
                .is_empty()
        );
        assert!(policy.check("dev", &config("logs", "us-east-1")).is_empty());
        let errors = policy.check("prod", &config("Logs", "us-east-1"));
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("lowercase"));
        assert!(errors[1].message.contains("use one of eu-west-1"));
        assert!(
            ValidationPolicy::parse(r#"{"naming": {"field": "n", "pattern": "("}}"#, "p").is_err()
        );
    }
}
