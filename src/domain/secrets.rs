//! Sensitive values are write-only. A module field marked `sensitive: true` never reaches git,
//! the request document, events, logs or the screen: its value goes to a secret store (AWS SSM
//! Parameter Store as a `SecureString`, or the sandbox's private directory) and everything
//! else holds a reference to it, the parameter's name and version.
//!
//! The module contract (docs/roles-and-policy.md, "Sensitive values"): a sensitive field `F`
//! reaches the module as `F_parameter = "<name>:<version>"`, which the module reads with
//! `data "aws_ssm_parameter"`. A module written for literal values fails its plan on the
//! unknown argument instead of receiving a parameter name as a password.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Request;
use super::catalog::ModuleDef;

/// Where every parameter tfpilot writes lives.
pub const PARAMETER_PREFIX: &str = "/tfpilot";

/// The parameter a request's sensitive field is kept in:
/// `/tfpilot/<project>/<environment>/<request_id>/<field>`. `None` when a part holds
/// characters a parameter name cannot (SSM allows letters, digits, `_`, `.`, `-` and `/`).
pub fn parameter_name(
    project: &str,
    environment: &str,
    request_id: &str,
    field: &str,
) -> Option<String> {
    let parts = [project, environment, request_id, field];
    let fits = |part: &&str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    parts
        .iter()
        .all(fits)
        .then(|| format!("{PARAMETER_PREFIX}/{}", parts.join("/")))
}

/// The module attribute that receives a sensitive field's parameter.
pub fn attribute_name(field: &str) -> String {
    format!("{field}_parameter")
}

/// What a document keeps for a sensitive value: where it is, never what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub parameter: String,
    pub version: u64,
}

impl SecretRef {
    /// The reference a config value holds, if it is one.
    pub fn from_value(value: &Value) -> Option<SecretRef> {
        let object = value.as_object()?;
        if object.get("sensitive") != Some(&Value::Bool(true)) {
            return None;
        }
        Some(SecretRef {
            parameter: object.get("parameter")?.as_str()?.to_string(),
            version: object.get("version")?.as_u64()?,
        })
    }

    pub fn to_value(&self) -> Value {
        json!({"sensitive": true, "parameter": self.parameter, "version": self.version})
    }

    /// `name:version`, the selector SSM's GetParameter (and Terraform's data source) reads
    /// exactly this version with.
    pub fn selector(&self) -> String {
        format!("{}:{}", self.parameter, self.version)
    }
}

/// The sensitive fields of `request` whose value is written in the document itself (by a
/// version of tfpilot from before secret stores): shown masked, reported by `doctor`.
pub fn literal_sensitive_fields<'a>(request: &'a Request, module: &ModuleDef) -> Vec<&'a str> {
    request
        .config
        .iter()
        .filter(|(name, value)| {
            module.field(name).is_some_and(|field| field.sensitive)
                && !value.is_null()
                && SecretRef::from_value(value).is_none()
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The references `request` holds: what cleanup deletes.
pub fn references(request: &Request) -> Vec<SecretRef> {
    request
        .config
        .values()
        .filter_map(SecretRef::from_value)
        .collect()
}

/// The references whose parameter `request` made itself (named with its id): a change request
/// also refers to its original's parameters for the values it did not change, and those are
/// not its to delete.
pub fn own_references(request: &Request) -> Vec<SecretRef> {
    let segment = format!("/{}/", request.id);
    references(request)
        .into_iter()
        .filter(|reference| reference.parameter.contains(&segment))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_follow_the_pattern_and_refuse_what_ssm_would() {
        assert_eq!(
            parameter_name("payments", "dev", "req_01ABC", "master_password").as_deref(),
            Some("/tfpilot/payments/dev/req_01ABC/master_password")
        );
        assert_eq!(parameter_name("pay ments", "dev", "req_1", "f"), None);
        assert_eq!(parameter_name("payments", "", "req_1", "f"), None);
        assert_eq!(parameter_name("payments", "dev/x", "req_1", "f"), None);
    }

    #[test]
    fn a_reference_round_trips_and_a_literal_is_not_one() {
        let reference = SecretRef {
            parameter: "/tfpilot/p/dev/req_1/pw".into(),
            version: 3,
        };
        assert_eq!(
            SecretRef::from_value(&reference.to_value()),
            Some(reference.clone())
        );
        assert_eq!(reference.selector(), "/tfpilot/p/dev/req_1/pw:3");
        assert_eq!(SecretRef::from_value(&json!("hunter2")), None);
        assert_eq!(
            SecretRef::from_value(&json!({"sensitive": true, "value": "********"})),
            None
        );
    }
}
