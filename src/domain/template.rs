//! Request templates (`templates/<id>.json`): a module with preset values people may change,
//! locked values they may not, and the environments it is meant for. Admins curate them so
//! developers do not start from a blank module.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use super::catalog::{FieldError, ModuleDef, find_module};
use super::time::Timestamp;

pub const TEMPLATES_PREFIX: &str = "templates/";

pub fn template_key(id: &str) -> String {
    format!("{TEMPLATES_PREFIX}{id}.json")
}

/// The template id a `templates/<id>.json` key names.
pub fn template_id_from_key(key: &str) -> Option<&str> {
    key.strip_prefix(TEMPLATES_PREFIX)?.strip_suffix(".json")
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum TemplateError {
    #[error("template {origin} is not valid JSON: {reason}")]
    NotJson { origin: String, reason: String },
    #[error("template {origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("no template named {id:?}{hint}")]
    Unknown { id: String, hint: String },
}

/// A key the file holds that this build does not know is refused, naming the nearest known one
/// (a misspelt `locked` would otherwise leave its values changeable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub module: String,
    /// Where it may be used; empty means every environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Starting values the requester may change.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub preset: Map<String, Value>,
    /// Values the requester may not change.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub locked: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

impl Template {
    /// Parses and checks the shape; [`Template::check`] checks it against the catalog.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TemplateError> {
        let template: Template =
            serde_json::from_str(text).map_err(|error| TemplateError::NotJson {
                origin: origin.to_string(),
                reason: super::strict::explain(&error),
            })?;
        let invalid = |reason: String| TemplateError::Invalid {
            origin: origin.to_string(),
            reason,
        };
        validate_template_id(&template.id).map_err(invalid)?;
        if let Some(id) = template_id_from_key(origin)
            && id != template.id
        {
            return Err(invalid(format!(
                "the file says its id is {:?} but it is stored as {origin}; make them match",
                template.id
            )));
        }
        if template.module.trim().is_empty() {
            return Err(invalid(
                "module is empty; name a module of the catalog".into(),
            ));
        }
        if let Some(name) = template
            .preset
            .keys()
            .find(|name| template.locked.contains_key(*name))
        {
            return Err(invalid(format!(
                "{name:?} is both preset and locked; keep it in one of the two"
            )));
        }
        Ok(template)
    }

    /// Whether the module exists and every preset and locked value is one its schema accepts.
    pub fn check(&self, modules: &[ModuleDef]) -> Result<(), TemplateError> {
        let invalid = |reason: String| TemplateError::Invalid {
            origin: template_key(&self.id),
            reason,
        };
        let module = find_module(modules, &self.module).map_err(|e| invalid(e.to_string()))?;
        let mut problems = Vec::new();
        for (name, value) in self.preset.iter().chain(self.locked.iter()) {
            match module.field(name) {
                None => problems.push(format!("{} has no field {name:?}", module.name)),
                Some(field) => {
                    if let Err(message) = field.accept(value) {
                        problems.push(format!("{name}: {message}"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(invalid(problems.join("; ")))
        }
    }

    pub fn allows_environment(&self, environment: &str) -> bool {
        self.environments.is_empty() || self.environments.iter().any(|e| e == environment)
    }

    pub fn is_locked(&self, field: &str) -> bool {
        self.locked.contains_key(field)
    }

    /// The values a request made from this template starts from: preset, then what the
    /// requester gave, then the locked values. A given value that differs from a locked one,
    /// or an environment the template is not for, is refused with the field it concerns.
    pub fn apply(
        &self,
        module: &ModuleDef,
        environment: &str,
        given: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !self.allows_environment(environment) {
            errors.push(FieldError::new(
                "environment",
                format!(
                    "template {} is for {} only",
                    self.id,
                    self.environments.join(", ")
                ),
            ));
        }
        errors.extend(self.locked_conflicts(module, given));
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut values = self.preset.clone();
        for (name, value) in given.iter().filter(|(_, v)| !is_blank(v)) {
            values.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.locked {
            values.insert(name.clone(), value.clone());
        }
        Ok(values)
    }

    /// The given values that differ from a locked one (blank values are not given). Compared
    /// as the module's schema reads them, so `"false"` typed in a form matches `false`.
    pub fn locked_conflicts(
        &self,
        module: &ModuleDef,
        given: &Map<String, Value>,
    ) -> Vec<FieldError> {
        let canonical = |name: &str, value: &Value| {
            module
                .field(name)
                .and_then(|field| field.accept(value).ok())
                .unwrap_or_else(|| value.clone())
        };
        given
            .iter()
            .filter(|(_, value)| !is_blank(value))
            .filter_map(|(name, value)| {
                let locked = self.locked.get(name)?;
                (canonical(name, value) != canonical(name, locked)).then(|| {
                    FieldError::new(
                        name,
                        format!(
                            "is locked to {} by template {}",
                            display_value(locked),
                            self.id
                        ),
                    )
                })
            })
            .collect()
    }

    /// The stored form.
    pub fn render(&self) -> Vec<u8> {
        // A struct of strings and JSON values always serializes.
        #[allow(clippy::expect_used)]
        let mut bytes = serde_json::to_vec_pretty(self).expect("template serializes to JSON");
        bytes.push(b'\n');
        bytes
    }
}

/// Look a template up by id, with the known ids in the error.
pub fn find_template<'a>(
    templates: &'a [Template],
    id: &str,
) -> Result<&'a Template, TemplateError> {
    templates
        .iter()
        .find(|template| template.id == id)
        .ok_or_else(|| TemplateError::Unknown {
            id: id.to_string(),
            hint: if templates.is_empty() {
                "; none are defined (an admin adds them with `tfpilot template put`)".into()
            } else {
                let ids: Vec<&str> = templates.iter().map(|t| t.id.as_str()).collect();
                format!("; known: {}", ids.join(", "))
            },
        })
}

/// Template ids become object keys: lowercase letters, digits and `-`, starting with a letter.
pub fn validate_template_id(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !starts_well
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "id {id:?} must start with a lowercase letter and use only lowercase letters, digits and `-` (at most 64)"
        ));
    }
    Ok(())
}

fn is_blank(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str().is_some_and(|s| s.trim().is_empty())
}

fn display_value(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn module() -> ModuleDef {
        ModuleDef::parse(
            include_str!("../../examples/store/config/modules/s3-bucket.json"),
            "s3-bucket.json",
        )
        .unwrap()
    }

    fn template() -> Template {
        Template::parse(
            &json!({
                "id": "logs-bucket",
                "description": "Logs",
                "module": "s3-bucket",
                "environments": ["dev", "prod"],
                "preset": {"versioning": true, "lifecycle_days": 90},
                "locked": {"force_destroy": false, "region": "us-east-1"}
            })
            .to_string(),
            "templates/logs-bucket.json",
        )
        .unwrap()
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn applying_layers_preset_then_given_then_locked() {
        let values = template()
            .apply(
                &module(),
                "dev",
                &map(json!({"bucket_name": "logs", "lifecycle_days": "30", "tags": ""})),
            )
            .unwrap();
        assert_eq!(values["bucket_name"], json!("logs"));
        assert_eq!(values["lifecycle_days"], json!("30"), "given beats preset");
        assert_eq!(values["versioning"], json!(true), "preset kept");
        assert_eq!(values["force_destroy"], json!(false), "locked added");
        assert!(!values.contains_key("tags"), "blank values are not given");
    }

    #[test]
    fn a_locked_value_may_be_repeated_but_not_changed() {
        let t = template();
        let same = map(json!({"force_destroy": "false", "region": "us-east-1"}));
        assert!(
            t.apply(&module(), "dev", &same).is_ok(),
            "same value as text"
        );
        let errors = t
            .apply(&module(), "dev", &map(json!({"force_destroy": true})))
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "force_destroy");
        assert_eq!(
            errors[0].message,
            "is locked to false by template logs-bucket"
        );
    }

    #[test]
    fn environments_outside_the_template_are_refused() {
        let errors = template()
            .apply(&module(), "staging", &Map::new())
            .unwrap_err();
        assert_eq!(errors[0].field, "environment");
        assert_eq!(
            errors[0].message,
            "template logs-bucket is for dev, prod only"
        );
        let mut open = template();
        open.environments.clear();
        assert!(open.apply(&module(), "staging", &Map::new()).is_ok());
    }

    #[test]
    fn check_finds_unknown_modules_fields_and_bad_values() {
        assert!(template().check(&[module()]).is_ok());
        let mut t = template();
        t.locked.insert("nope".into(), json!(1));
        t.preset.insert("lifecycle_days".into(), json!(0));
        let message = t.check(&[module()]).unwrap_err().to_string();
        assert!(
            message.contains("s3-bucket has no field \"nope\""),
            "{message}"
        );
        assert!(message.contains("lifecycle_days:"), "{message}");
        let mut other = template();
        other.module = "vpc".into();
        let message = other.check(&[module()]).unwrap_err().to_string();
        assert!(message.contains("no module named \"vpc\""), "{message}");
    }

    #[test]
    fn parse_refuses_bad_ids_overlaps_and_renamed_files() {
        let parse = |value: Value, origin: &str| Template::parse(&value.to_string(), origin);
        let bad_id = parse(json!({"id": "Logs", "module": "m"}), "x").unwrap_err();
        assert!(bad_id.to_string().contains("lowercase"), "{bad_id}");
        let overlap = parse(
            json!({"id": "a", "module": "m", "preset": {"x": 1}, "locked": {"x": 2}}),
            "x",
        )
        .unwrap_err();
        assert!(overlap.to_string().contains("both preset and locked"));
        let renamed = parse(json!({"id": "a", "module": "m"}), "templates/b.json").unwrap_err();
        assert!(renamed.to_string().contains("stored as templates/b.json"));
        assert!(matches!(
            Template::parse("{", "x"),
            Err(TemplateError::NotJson { .. })
        ));
    }

    #[test]
    fn unknown_keys_are_refused_with_the_nearest_one() {
        let text = json!({"id": "a", "module": "m", "lockd": {"x": 1}}).to_string();
        let error = Template::parse(&text, "templates/a.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains("templates/a.json"), "{error}");
        assert!(error.contains("unknown field `lockd`"), "{error}");
        assert!(error.contains("did you mean `locked`?"), "{error}");
    }

    #[test]
    fn find_names_the_known_templates() {
        let message = find_template(&[template()], "nope")
            .unwrap_err()
            .to_string();
        assert_eq!(message, "no template named \"nope\"; known: logs-bucket");
        let none = find_template(&[], "x").unwrap_err().to_string();
        assert!(none.contains("none are defined"));
    }
}
