//! Policy management: admins write `policies/<name>.rego`, everyone reads them. A policy is
//! compiled before it is stored, so a file that would block every request for a typo is refused
//! at `put` with the parser's message. Writes are conditional on the version read.

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::policy::{MAX_POLICY_BYTES, validate_policy_name};
use crate::rego::PolicySet;
use crate::store::{StoreError, TemplateWrite};

/// The policies `tfpilot policy seed` offers (and the sandbox starts with).
pub const SEED_POLICIES: [(&str, &str); 3] = [
    (
        "buckets",
        include_str!("../../examples/store/policies/buckets.rego"),
    ),
    (
        "monthly-cost",
        include_str!("../../examples/store/policies/monthly-cost.rego"),
    ),
    (
        "prod-databases",
        include_str!("../../examples/store/policies/prod-databases.rego"),
    ),
];

/// What seeding did with one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySeed {
    pub name: String,
    /// `created` or `kept` (one with this name exists and was left alone).
    pub outcome: &'static str,
}

impl Engine {
    /// Checks `source` compiles as a tfpilot policy, then creates or replaces `name` with it.
    pub async fn put_policy(&self, name: &str, source: &str) -> Result<TemplateWrite, EngineError> {
        self.require_admin("change policies")?;
        validate_policy_name(name).map_err(invalid)?;
        check_compiles(name, source)?;
        let current = self.store.get_policy(name).await?;
        if current
            .as_ref()
            .is_some_and(|current| current.value == source.as_bytes())
        {
            return Ok(TemplateWrite::Unchanged);
        }
        let expected = current.as_ref().map(|c| &c.etag);
        match self.store.put_policy(name, source, expected).await {
            Ok(_) => {
                tracing::info!(%name, actor = %self.actor, "policy written");
                Ok(if current.is_some() {
                    TemplateWrite::Replaced
                } else {
                    TemplateWrite::Created
                })
            }
            Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => {
                Err(EngineError::conflict(format!(
                    "policy {name} was changed by someone else while this was written; check it with `tfpilot policy show {name}` and try again"
                )))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete_policy(&self, name: &str) -> Result<(), EngineError> {
        self.require_admin("delete policies")?;
        validate_policy_name(name).map_err(invalid)?;
        let Some(current) = self.store.get_policy(name).await? else {
            return Err(EngineError::Invalid {
                message: format!("no policy named {name:?}; see `tfpilot policy list`"),
            });
        };
        match self.store.delete_policy(name, &current.etag).await {
            Ok(()) => {
                tracing::info!(%name, actor = %self.actor, "policy deleted");
                Ok(())
            }
            Err(StoreError::PreconditionFailed { .. }) => Err(EngineError::conflict(format!(
                "policy {name} changed while it was being deleted; check it and try again"
            ))),
            // Someone deleted it first: what was asked holds.
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes the example policies, leaving any policy that already has the name alone.
    pub async fn seed_policies(&self) -> Result<Vec<PolicySeed>, EngineError> {
        self.require_admin("seed policies")?;
        let mut seeded = Vec::new();
        for (name, source) in SEED_POLICIES {
            let outcome = match self.store.put_policy(name, source, None).await {
                Ok(_) => "created",
                Err(StoreError::AlreadyExists { .. }) => "kept",
                Err(error) => return Err(error.into()),
            };
            seeded.push(PolicySeed {
                name: name.to_string(),
                outcome,
            });
        }
        Ok(seeded)
    }

    /// The team's policies as stored now, compiled; unreadable and broken files included (they
    /// block).
    pub async fn policy_set(&self) -> Result<PolicySet, EngineError> {
        let files = self.store.load_policies().await?;
        Ok(PolicySet::compile_files(
            files.into_iter().map(|file| (file.name, file.source)),
        ))
    }
}

/// Refuses a policy that would only ever report itself broken.
fn check_compiles(name: &str, source: &str) -> Result<(), EngineError> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(EngineError::Invalid {
            message: format!(
                "the policy is {} bytes, more than the {MAX_POLICY_BYTES} a policy may have",
                source.len()
            ),
        });
    }
    let compiled = PolicySet::compile([(name.to_string(), source.to_string())]);
    match compiled.problems_by_name().into_values().next() {
        None => Ok(()),
        Some(problem) => Err(EngineError::Invalid {
            message: format!("policy {name} was not stored: {problem}"),
        }),
    }
}

fn invalid(error: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid {
        message: error.to_string(),
    }
}
