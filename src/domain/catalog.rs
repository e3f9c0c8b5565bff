//! The module catalog (`config/modules/*.json`) and validation of request values
//! against it. Pure: definitions come in as text, values as JSON.
//!
//! `min`/`max` bound a number's value, a string's length in characters, and the
//! number of items of a list or map.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use super::hcl::{HclValue, is_identifier};
use super::infra_file::ModuleBlock;

/// Names Terraform gives meaning to inside a `module` block.
const RESERVED_FIELDS: [&str; 6] = [
    "source",
    "version",
    "count",
    "for_each",
    "providers",
    "depends_on",
];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CatalogError {
    #[error("module definition {origin} is not valid JSON: {reason}")]
    NotJson { origin: String, reason: String },
    #[error("module definition {origin}: {reason}")]
    InvalidModule { origin: String, reason: String },
    #[error("infra repo registry {origin}: {reason}")]
    InvalidRegistry { origin: String, reason: String },
    #[error("policy {origin}: {reason}")]
    InvalidPolicy { origin: String, reason: String },
    #[error("notification recipients {origin}: {reason}")]
    InvalidNotify { origin: String, reason: String },
    #[error("no infra repo is registered for project {project:?}{hint}")]
    UnknownProject { project: String, hint: String },
    #[error("project {project:?} has no environment {environment:?}{hint}")]
    UnknownEnvironment {
        project: String,
        environment: String,
        hint: String,
    },
    #[error("no module named {module:?} in the catalog{hint}")]
    UnknownModule { module: String, hint: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What `pattern` asks for in words ("lowercase letters, digits and dashes, 3 to 63"):
    /// what a person is told instead of the regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub sensitive: bool,
    /// Changing it replaces the resource (Terraform destroys and creates it again): a change
    /// request that changes it says so loudly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_new: bool,
    /// The allowed values of an `enum` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldKind {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "list(string)")]
    ListString,
    #[serde(rename = "map(string)")]
    MapString,
    #[serde(rename = "enum")]
    Enum,
}

impl FieldKind {
    /// The name in module definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Number => "number",
            FieldKind::Bool => "bool",
            FieldKind::ListString => "list(string)",
            FieldKind::MapString => "map(string)",
            FieldKind::Enum => "enum",
        }
    }
}

/// One problem with one field, phrased for the person filling the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Every field error of one validation, in the module's field order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", describe_errors(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn describe_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Values that passed validation, in canonical JSON (what the request document
/// stores as `config`) and in the module's field order.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedConfig {
    pub values: Map<String, Value>,
}

impl ModuleDef {
    /// Parse and check one definition; `origin` names it in errors (a key or path).
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let module: ModuleDef =
            serde_json::from_str(text).map_err(|error| CatalogError::NotJson {
                origin: origin.to_string(),
                reason: super::strict::explain(&error),
            })?;
        module
            .check()
            .map_err(|reason| CatalogError::InvalidModule {
                origin: origin.to_string(),
                reason,
            })?;
        Ok(module)
    }

    fn check(&self) -> Result<(), String> {
        if !is_identifier(&self.name) {
            return Err(format!(
                "name {:?} must be a letter or `_` followed by letters, digits, `_` or `-`",
                self.name
            ));
        }
        if self.source.trim().is_empty() {
            return Err("source is empty; give the module's registry address or git URL".into());
        }
        // Refused here, when an admin puts the module, not when a request renders it.
        super::infra_file::pinned_source(&self.source, self.version.as_deref())?;
        let mut seen: Vec<&str> = Vec::new();
        for field in &self.fields {
            let name = field.name.as_str();
            if !is_identifier(name) {
                return Err(format!("field name {name:?} is not an HCL identifier"));
            }
            if RESERVED_FIELDS.contains(&name) {
                return Err(format!(
                    "field name {name:?} is reserved by Terraform in module blocks"
                ));
            }
            if seen.contains(&name) {
                return Err(format!("field {name:?} is defined twice"));
            }
            seen.push(name);
            field.check()?;
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// Check `input` (JSON values, or form text as JSON strings) against the
    /// definition. Unknown fields, missing required fields and every bad value are
    /// reported together.
    pub fn validate(
        &self,
        input: &Map<String, Value>,
    ) -> Result<ValidatedConfig, ValidationErrors> {
        let mut errors = Vec::new();
        for name in input.keys() {
            if self.field(name).is_none() {
                errors.push(FieldError::new(
                    name,
                    format!("{} has no such field", self.name),
                ));
            }
        }
        let mut values = Map::new();
        for field in &self.fields {
            let given = input.get(&field.name).filter(|value| !is_blank(value));
            let Some(value) = given.or(field.default.as_ref()) else {
                if field.required {
                    errors.push(FieldError::new(&field.name, "is required"));
                }
                continue;
            };
            if field.sensitive
                && let Some(reference) = super::secrets::SecretRef::from_value(value)
            {
                // Kept in a secret store already (an update that leaves it as it is).
                values.insert(field.name.clone(), reference.to_value());
                continue;
            }
            match field.accept(value) {
                Ok(canonical) => {
                    values.insert(field.name.clone(), canonical);
                }
                Err(message) => errors.push(FieldError::new(&field.name, message)),
            }
        }
        if errors.is_empty() {
            Ok(ValidatedConfig { values })
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// The block the infra-repo writer renders for a validated config.
    pub fn block(&self, request_id: &str, config: &ValidatedConfig) -> ModuleBlock {
        let values = self
            .fields
            .iter()
            .filter_map(|field| {
                let value = config.values.get(&field.name)?;
                if !field.sensitive {
                    return Some((field.name.clone(), to_hcl(value)));
                }
                // A sensitive value reaches the module only as its parameter, never as text.
                let reference = super::secrets::SecretRef::from_value(value)?;
                Some((
                    super::secrets::attribute_name(&field.name),
                    HclValue::String(reference.selector()),
                ))
            })
            .collect();
        ModuleBlock {
            request_id: request_id.to_string(),
            source: self.source.clone(),
            version: self.version.clone(),
            values,
        }
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

impl FieldDef {
    fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if let Some(pattern) = &self.pattern {
            Regex::new(pattern)
                .map_err(|error| format!("field {name:?} has an invalid pattern: {error}"))?;
        }
        if self.kind == FieldKind::Enum && self.values.is_empty() {
            return Err(format!("enum field {name:?} lists no values"));
        }
        if self.kind != FieldKind::Enum && !self.values.is_empty() {
            return Err(format!("field {name:?} has `values` but is not an enum"));
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(format!("field {name:?} has min {min} above max {max}"));
        }
        if let Some(default) = &self.default {
            self.accept(default)
                .map_err(|message| format!("field {name:?} has a default that {message}"))?;
        }
        Ok(())
    }

    /// Coerce and check one value; the canonical JSON form on success.
    pub(crate) fn accept(&self, value: &Value) -> Result<Value, String> {
        let canonical = coerce(self.kind, value)?;
        self.check_bounds(&canonical)?;
        if let (Some(pattern), Value::String(text)) = (&self.pattern, &canonical) {
            // The definition was checked on load, so the pattern compiles.
            let regex = Regex::new(pattern).map_err(|error| error.to_string())?;
            if !regex.is_match(text) {
                return Err(match &self.pattern_description {
                    Some(description) => format!("must be {description}"),
                    None => format!("must match {pattern}"),
                });
            }
        }
        if self.kind == FieldKind::Enum
            && let Value::String(text) = &canonical
            && !self.values.contains(text)
        {
            return Err(format!("must be one of {}", self.values.join(", ")));
        }
        Ok(canonical)
    }

    fn check_bounds(&self, value: &Value) -> Result<(), String> {
        let (measure, unit) = match value {
            Value::Number(number) => (number.as_f64().unwrap_or(f64::NAN), ""),
            Value::String(text) => (text.chars().count() as f64, " characters"),
            Value::Array(items) => (items.len() as f64, " items"),
            Value::Object(entries) => (entries.len() as f64, " entries"),
            _ => return Ok(()),
        };
        if let Some(min) = self.min
            && (measure.is_nan() || measure < min)
        {
            return Err(format!("must be at least {min}{unit}"));
        }
        if let Some(max) = self.max
            && (measure.is_nan() || measure > max)
        {
            return Err(format!("must be at most {max}{unit}"));
        }
        Ok(())
    }
}

/// Turn a JSON value, or the text a form field holds, into the kind's canonical
/// JSON form.
fn coerce(kind: FieldKind, value: &Value) -> Result<Value, String> {
    match (kind, value) {
        (FieldKind::String | FieldKind::Enum, Value::String(text)) => {
            Ok(Value::String(text.clone()))
        }
        // Enum values are strings; a JSON number or boolean names the same choice.
        (FieldKind::Enum, Value::Number(number)) => Ok(Value::String(number.to_string())),
        (FieldKind::Enum, Value::Bool(flag)) => Ok(Value::String(flag.to_string())),
        (FieldKind::Number, Value::Number(number)) => Ok(Value::Number(number.clone())),
        (FieldKind::Number, Value::String(text)) => parse_number(text.trim()),
        (FieldKind::Bool, Value::Bool(flag)) => Ok(Value::Bool(*flag)),
        (FieldKind::Bool, Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err("must be true or false".into()),
        },
        (FieldKind::ListString, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(Value::String(text.clone())),
                _ => Err("must be a list of strings".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (FieldKind::ListString, Value::String(text)) => Ok(Value::Array(
            split_items(text)
                .map(|item| Value::String(item.to_string()))
                .collect(),
        )),
        (FieldKind::MapString, Value::Object(entries)) => {
            let mut out = Map::new();
            for (key, item) in entries {
                let Value::String(text) = item else {
                    return Err(format!("entry {key:?} must be a string"));
                };
                out.insert(key.clone(), Value::String(text.clone()));
            }
            Ok(Value::Object(out))
        }
        (FieldKind::MapString, Value::String(text)) => {
            let mut out = Map::new();
            for item in split_items(text) {
                let Some((key, entry)) = item.split_once('=') else {
                    return Err(format!("entry {item:?} must look like key=value"));
                };
                let key = key.trim();
                if key.is_empty() {
                    return Err(format!("entry {item:?} has an empty key"));
                }
                out.insert(key.to_string(), Value::String(entry.trim().to_string()));
            }
            Ok(Value::Object(out))
        }
        (kind, value) => Err(format!(
            "must be {}, not {}",
            kind_phrase(kind),
            value_phrase(value)
        )),
    }
}

/// Form lists and maps: one item per line or comma, blanks dropped.
fn split_items(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn parse_number(text: &str) -> Result<Value, String> {
    let invalid = || format!("{text:?} is not a number");
    if let Ok(integer) = text.parse::<i64>() {
        return Ok(Value::Number(integer.into()));
    }
    let float: f64 = text.parse().map_err(|_| invalid())?;
    serde_json::Number::from_f64(float)
        .map(Value::Number)
        .ok_or_else(invalid)
}

fn kind_phrase(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::String => "a string",
        FieldKind::Number => "a number",
        FieldKind::Bool => "true or false",
        FieldKind::ListString => "a list of strings",
        FieldKind::MapString => "a map of strings",
        FieldKind::Enum => "one of the listed values",
    }
}

fn value_phrase(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Validated values only hold the shapes `coerce` produces.
fn to_hcl(value: &Value) -> HclValue {
    match value {
        Value::Bool(flag) => HclValue::Bool(*flag),
        Value::Number(number) => HclValue::Number(number.clone()),
        Value::Array(items) => HclValue::List(
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_string())
                .collect(),
        ),
        Value::Object(entries) => HclValue::Map(
            entries
                .iter()
                .map(|(key, item)| (key.clone(), item.as_str().unwrap_or_default().to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        Value::String(text) => HclValue::String(text.clone()),
        Value::Null => HclValue::String(String::new()),
    }
}

/// Look a module up by name, with the known names in the error.
pub fn find_module<'a>(
    modules: &'a [ModuleDef],
    name: &str,
) -> Result<&'a ModuleDef, CatalogError> {
    modules
        .iter()
        .find(|module| module.name == name)
        .ok_or_else(|| CatalogError::UnknownModule {
            module: name.to_string(),
            hint: known(modules.iter().map(|module| module.name.as_str())),
        })
}

pub(super) fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "; none are configured".to_string()
    } else {
        format!("; known: {}", names.join(", "))
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
