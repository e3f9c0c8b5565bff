//! Terraform's JSON plan (`terraform show -json`, `format_version` 0.x and 1.x; OpenTofu writes
//! the same) as tfpilot keeps it and as policies see it.
//!
//! Terraform writes sensitive values into its JSON plan in the clear and marks them beside
//! (`before_sensitive`, `after_sensitive`). tfpilot never keeps them: [`PlanJson::parse`] masks
//! every marked value and keeps only the parts that describe changes (`resource_changes`,
//! `resource_drift`, `output_changes` and the plan's flags). `variables`, `prior_state`,
//! `planned_values` and `configuration` are dropped, since they carry the same values without
//! the changes' markers.

use serde_json::{Map, Value};

use super::attribution::belongs_to;

/// The artifact the plan workflow uploads (docs/workflows/tfpilot-plan.yml) and its file.
pub const PLAN_JSON_ARTIFACT: &str = "tfpilot-plan-json";
pub const PLAN_JSON_FILE: &str = "plan.json";

/// What a masked value reads as, the words of Terraform's text plan.
pub const SENSITIVE_MASK: &str = "(sensitive value)";

/// The largest plan JSON tfpilot reads (a 5,000-resource plan of changes alone is about 4 MB).
pub const MAX_PLAN_JSON_BYTES: usize = 64 << 20;

/// The top-level keys kept; every other one is dropped (see the module's comment).
const KEPT_KEYS: [&str; 9] = [
    "format_version",
    "terraform_version",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "applyable",
    "complete",
    "errored",
    "timestamp",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanJsonError {
    #[error("the plan JSON is {size} bytes, more than the {limit} bytes tfpilot reads")]
    TooLarge { size: usize, limit: usize },
    #[error("the plan is not JSON ({0}); give the output of `terraform show -json PLANFILE`")]
    NotJson(String),
    #[error("this is not a Terraform JSON plan: {0}")]
    NotAPlan(String),
    #[error(
        "the plan's format_version {0:?} is newer than the 1.x this tfpilot reads; upgrade tfpilot"
    )]
    NewerFormat(String),
    #[error("the plan artifact is not a zip with one JSON plan in it: {0}")]
    NotAnArtifact(String),
}

/// The JSON plan inside the zip of the plan workflow's artifact: the file named `plan.json`, or
/// the artifact's only `.json` file; read up to [`MAX_PLAN_JSON_BYTES`].
pub fn text_from_artifact_zip(zip_bytes: &[u8]) -> Result<String, PlanJsonError> {
    use std::io::Read as _;
    let problem = |text: String| PlanJsonError::NotAnArtifact(text);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|error| problem(error.to_string()))?;
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|name| name.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|error| problem(error.to_string()))?;
    let json_files: Vec<&String> = names.iter().filter(|n| n.ends_with(".json")).collect();
    let name = match names.iter().find(|n| *n == "plan.json") {
        Some(name) => name.clone(),
        None if json_files.len() == 1 => json_files[0].clone(),
        None => {
            return Err(problem(format!(
                "it holds {} JSON files and none is named plan.json",
                json_files.len()
            )));
        }
    };
    let entry = archive
        .by_name(&name)
        .map_err(|error| problem(error.to_string()))?;
    if entry.size() > MAX_PLAN_JSON_BYTES as u64 {
        return Err(PlanJsonError::TooLarge {
            size: usize::try_from(entry.size()).unwrap_or(usize::MAX),
            limit: MAX_PLAN_JSON_BYTES,
        });
    }
    let mut text = String::new();
    // The declared size can lie: the read itself is bounded too.
    entry
        .take(MAX_PLAN_JSON_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|error| problem(error.to_string()))?;
    if text.len() > MAX_PLAN_JSON_BYTES {
        return Err(PlanJsonError::TooLarge {
            size: text.len(),
            limit: MAX_PLAN_JSON_BYTES,
        });
    }
    Ok(text)
}

/// One resource change, as the policies' `resource_changes[]` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub address: String,
    /// Terraform's `change.actions`: `["create"]`, `["delete", "create"]`, `["no-op"]`...
    pub actions: Vec<String>,
}

impl ResourceChange {
    /// Whether applying the plan would do something to the resource (not a no-op or a read).
    pub fn changes(&self) -> bool {
        actions_change(&self.actions)
    }
}

/// A plan as tfpilot keeps it: sensitive values masked, only the change parts.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanJson {
    root: Map<String, Value>,
}

/// The plan scoped to one request: what `input.plan` and `input.outside` are.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedPlan {
    /// The plan with `resource_changes` (and `resource_drift`) limited to the request's
    /// addresses.
    pub plan: Value,
    /// The addresses the plan changes outside the request, in plan order.
    pub outside: Vec<String>,
}

impl PlanJson {
    /// Reads `terraform show -json` output, masks sensitive values and drops the parts that
    /// are not changes.
    pub fn parse(text: &str) -> Result<Self, PlanJsonError> {
        if text.len() > MAX_PLAN_JSON_BYTES {
            return Err(PlanJsonError::TooLarge {
                size: text.len(),
                limit: MAX_PLAN_JSON_BYTES,
            });
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| PlanJsonError::NotJson(error.to_string()))?;
        Self::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Self, PlanJsonError> {
        let Value::Object(mut whole) = value else {
            return Err(PlanJsonError::NotAPlan("it is not a JSON object".into()));
        };
        let version = match whole.get("format_version") {
            Some(Value::String(version)) => version.clone(),
            _ => {
                return Err(PlanJsonError::NotAPlan(
                    "it has no format_version (is it `terraform show -json` of a plan file?)"
                        .into(),
                ));
            }
        };
        let major = version.split('.').next().unwrap_or_default();
        match major.parse::<u32>() {
            Ok(0 | 1) => {}
            Ok(_) => return Err(PlanJsonError::NewerFormat(version)),
            Err(_) => {
                return Err(PlanJsonError::NotAPlan(format!(
                    "format_version {version:?} is not a version"
                )));
            }
        }
        let mut root = Map::new();
        for key in KEPT_KEYS {
            if let Some(value) = whole.remove(key) {
                root.insert(key.to_string(), value);
            }
        }
        for key in ["resource_changes", "resource_drift"] {
            match root.get_mut(key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(changes)) => {
                    for (index, change) in changes.iter_mut().enumerate() {
                        check_resource_change(change).map_err(|problem| {
                            PlanJsonError::NotAPlan(format!("{key}[{index}]: {problem}"))
                        })?;
                        if let Some(change) = change.get_mut("change") {
                            mask_change(change);
                        }
                    }
                }
                Some(_) => {
                    return Err(PlanJsonError::NotAPlan(format!("{key} is not a list")));
                }
            }
        }
        if let Some(Value::Object(outputs)) = root.get_mut("output_changes") {
            for change in outputs.values_mut() {
                mask_change(change);
            }
        }
        Ok(Self { root })
    }

    pub fn format_version(&self) -> &str {
        self.root
            .get("format_version")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Every resource change, in plan order.
    pub fn resource_changes(&self) -> Vec<ResourceChange> {
        changes_of(self.root.get("resource_changes"))
            .map(|change| ResourceChange {
                address: text_of(change, "address").to_string(),
                actions: actions_of(change),
            })
            .collect()
    }

    /// The plan as kept, for the store (`plans/<id>/<run>.json`).
    pub fn to_json(&self) -> String {
        Value::Object(self.root.clone()).to_string()
    }

    pub fn as_value(&self) -> Value {
        Value::Object(self.root.clone())
    }

    /// The plan limited to request `block_id`'s resources, and what it changes outside them.
    pub fn scoped(&self, block_id: &str) -> ScopedPlan {
        let mut plan = self.root.clone();
        let mut outside = Vec::new();
        for key in ["resource_changes", "resource_drift"] {
            let Some(Value::Array(changes)) = plan.get_mut(key) else {
                continue;
            };
            let all = std::mem::take(changes);
            for change in all {
                let address = text_of(&change, "address");
                if belongs_to(address, block_id) {
                    changes.push(change);
                } else if key == "resource_changes"
                    && actions_change(&actions_of(&change))
                    && !outside.iter().any(|known: &String| known == address)
                {
                    outside.push(address.to_string());
                }
            }
        }
        ScopedPlan {
            plan: Value::Object(plan),
            outside,
        }
    }
}

fn actions_change(actions: &[String]) -> bool {
    actions
        .iter()
        .any(|action| !matches!(action.as_str(), "no-op" | "read"))
}

fn changes_of(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn actions_of(change: &Value) -> Vec<String> {
    change
        .get("change")
        .and_then(|c| c.get("actions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn check_resource_change(change: &Value) -> Result<(), String> {
    if !change.is_object() {
        return Err("not an object".into());
    }
    if change.get("address").and_then(Value::as_str).is_none() {
        return Err("no address".into());
    }
    match change.get("change").and_then(|c| c.get("actions")) {
        Some(Value::Array(actions)) if actions.iter().all(Value::is_string) => Ok(()),
        _ => Err("no change.actions list".into()),
    }
}

/// Masks `before` by `before_sensitive` and `after` by `after_sensitive` in one change object.
fn mask_change(change: &mut Value) {
    let Value::Object(change) = change else {
        return;
    };
    for (value_key, marks_key) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
        let marks = change.get(marks_key).cloned().unwrap_or(Value::Null);
        if let Some(value) = change.get_mut(value_key) {
            mask(value, &marks);
        }
    }
}

/// Replaces every part of `value` that `marks` (Terraform's sensitivity structure: `true` for
/// the whole value, else an object or list of marks mirroring it) marks sensitive.
fn mask(value: &mut Value, marks: &Value) {
    match marks {
        // A sensitive attribute without a value has nothing to hide.
        Value::Bool(true) if !value.is_null() => {
            *value = Value::String(SENSITIVE_MASK.into());
        }
        Value::Object(marks) => {
            if let Value::Object(fields) = value {
                for (key, field) in fields.iter_mut() {
                    if let Some(mark) = marks.get(key) {
                        mask(field, mark);
                    }
                }
            }
        }
        Value::Array(marks) => {
            if let Value::Array(items) = value {
                for (item, mark) in items.iter_mut().zip(marks) {
                    mask(item, mark);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "plan_json_tests.rs"]
mod tests;
