//! Sensitive values on their way in and out: sealed into the secret store before anything
//! else sees them, and deleted when the request's resources are gone.

use serde_json::Value;

use super::{Engine, EngineError};
use crate::domain::Request;
use crate::domain::catalog::{ModuleDef, ValidatedConfig};
use crate::domain::secrets::{SecretRef, own_references, parameter_name, references};

/// Where the values of one request go.
pub(super) struct SecretOwner<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub request_id: &'a str,
}

impl Engine {
    /// Writes every sensitive value of `config` that is not a reference yet to the secret
    /// store as a new version, and returns the config with references in their place.
    pub(super) async fn seal(
        &self,
        owner: SecretOwner<'_>,
        module: &ModuleDef,
        config: ValidatedConfig,
    ) -> Result<ValidatedConfig, EngineError> {
        let mut values = config.values;
        for field in module.fields.iter().filter(|field| field.sensitive) {
            let Some(value) = values.get(&field.name) else {
                continue;
            };
            if SecretRef::from_value(value).is_some() {
                continue;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let Some(secrets) = &self.secrets else {
                return Err(EngineError::Config {
                    message: format!(
                        "{} is a sensitive field of {} and no secret store is configured, so its value has nowhere to go but git; configure [secrets] (docs/configuration.md) or leave the field out",
                        field.name, module.name
                    ),
                });
            };
            let name = parameter_name(
                owner.project,
                owner.environment,
                owner.request_id,
                &field.name,
            )
            .ok_or_else(|| EngineError::Invalid {
                message: format!(
                    "project {:?} or environment {:?} holds characters a parameter name cannot (letters, digits, `_`, `.`, `-`)",
                    owner.project, owner.environment
                ),
            })?;
            let version = secrets.put(&name, &text).await?;
            tracing::info!(request = owner.request_id, parameter = %name, version, "sensitive value sealed");
            values.insert(
                field.name.clone(),
                SecretRef {
                    parameter: name,
                    version,
                }
                .to_value(),
            );
        }
        Ok(ValidatedConfig { values })
    }

    /// Deletes the parameters `request` refers to; returns their names.
    pub(super) async fn delete_secrets(
        &self,
        request: &Request,
    ) -> Result<Vec<String>, EngineError> {
        let names: Vec<String> = references(request)
            .into_iter()
            .map(|reference| reference.parameter)
            .collect();
        self.delete_parameters(request, names).await
    }

    /// Deletes the parameters `request` made itself (`own_references`): what a withdrawn
    /// request, or an original's change requests at its cleanup, leave behind.
    pub(super) async fn delete_own_secrets(
        &self,
        request: &Request,
    ) -> Result<Vec<String>, EngineError> {
        let names: Vec<String> = own_references(request)
            .into_iter()
            .map(|reference| reference.parameter)
            .collect();
        self.delete_parameters(request, names).await
    }

    async fn delete_parameters(
        &self,
        request: &Request,
        names: Vec<String>,
    ) -> Result<Vec<String>, EngineError> {
        if names.is_empty() {
            return Ok(names);
        }
        let Some(secrets) = &self.secrets else {
            return Err(EngineError::Config {
                message: format!(
                    "{} keeps {} in a secret store that is not configured here; configure [secrets] (docs/configuration.md) so cleanup can delete them",
                    request.id,
                    names.join(", ")
                ),
            });
        };
        for name in &names {
            secrets.delete(name).await?;
        }
        Ok(names)
    }
}
