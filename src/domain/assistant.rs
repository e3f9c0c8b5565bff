//! The infra assistant's pure half: the team's catalog as function tools for an
//! OpenAI-compatible chat model (one tool per module, its fields as JSON Schema), the rules it
//! must follow, the proposal read back from its tool call, and the conversation kept with the
//! request (`assistant/<request id>.json`).
//!
//! Sensitive fields are left out of every tool, and a value a model proposes for one anyway
//! is dropped with a note: the person types those themselves.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::{FieldDef, FieldKind, ModuleDef};
use super::registry::{InfraRepos, ValidationPolicy};
use super::template::Template;
use super::time::Timestamp;

/// Where conversations are kept in the store.
pub const CONVERSATIONS_PREFIX: &str = "assistant/";

/// Tool names carry this before the module's name.
const TOOL_PREFIX: &str = "propose_";

pub fn conversation_key(request_id: &str) -> String {
    format!("{CONVERSATIONS_PREFIX}{request_id}.json")
}

/// What the assistant may offer: the parts of the team configuration it is told about.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    pub modules: &'a [ModuleDef],
    pub templates: &'a [Template],
    pub registry: Option<&'a InfraRepos>,
    pub policy: &'a ValidationPolicy,
}

/// A request the model proposes, for a person to review and submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub module: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub project: String,
    pub environment: String,
    pub values: Map<String, Value>,
    /// What tfpilot changed in what the model said (sensitive values dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The conversation behind a proposal, kept with the request it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub model: String,
    /// The endpoint's scheme and host.
    pub endpoint: String,
    pub asked_by: String,
    pub at: Timestamp,
    /// The messages after the system prompt, in the chat-completions format.
    pub messages: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Conversation {
    /// What the person asked first.
    pub fn question(&self) -> Option<&str> {
        self.messages
            .iter()
            .find(|message| message["role"] == "user")
            .and_then(|message| message["content"].as_str())
    }
}

/// What a request document says of the conversation it came from (the conversation itself is
/// kept at `key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantNote {
    /// What the person asked, at most 300 characters.
    pub question: String,
    pub model: String,
    pub key: String,
}

impl AssistantNote {
    pub fn of(conversation: &Conversation, key: &str) -> Self {
        AssistantNote {
            question: conversation
                .question()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
            model: conversation.model.clone(),
            key: key.to_string(),
        }
    }
}

pub fn tool_name(module: &str) -> String {
    format!("{TOOL_PREFIX}{module}")
}

/// The JSON Schema of one field's value.
fn field_schema(field: &FieldDef) -> Value {
    let mut schema = match field.kind {
        FieldKind::String => json!({"type": "string"}),
        FieldKind::Number => json!({"type": "number"}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::ListString => json!({"type": "array", "items": {"type": "string"}}),
        FieldKind::MapString => {
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        }
        FieldKind::Enum => json!({"type": "string", "enum": field.values}),
    };
    let mut description = field.description.clone();
    if let Some(pattern) = &field.pattern {
        schema["pattern"] = json!(pattern);
        if let Some(words) = &field.pattern_description {
            description.push_str(&format!(" Format: {words}."));
        }
    }
    if let Some(min) = field.min {
        schema["minimum"] = json!(min);
    }
    if let Some(max) = field.max {
        schema["maximum"] = json!(max);
    }
    if let Some(default) = &field.default {
        schema["default"] = default.clone();
    }
    if field.force_new {
        description.push_str(" Changing it later replaces the resource.");
    }
    if !description.trim().is_empty() {
        schema["description"] = json!(description.trim());
    }
    schema
}

/// One function tool per module: project, environment, template and the module's
/// non-sensitive fields, each with its type, enum, pattern, bounds and description.
pub fn tools(catalog: &Catalog<'_>) -> Vec<Value> {
    let projects: Vec<&String> = catalog
        .registry
        .map(|registry| registry.projects.keys().collect())
        .unwrap_or_default();
    let mut environments: Vec<&String> = catalog
        .registry
        .map(|registry| registry.projects.values().flat_map(|e| e.keys()).collect())
        .unwrap_or_default();
    environments.sort();
    environments.dedup();
    catalog
        .modules
        .iter()
        .map(|module| {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for field in module.fields.iter().filter(|field| !field.sensitive) {
                properties.insert(field.name.clone(), field_schema(field));
                if field.required && field.default.is_none() {
                    required.push(field.name.clone());
                }
            }
            let templates: Vec<&Template> = catalog
                .templates
                .iter()
                .filter(|template| template.module == module.name)
                .collect();
            let mut parameters = json!({
                "type": "object",
                "properties": {
                    "project": {"type": "string", "enum": projects},
                    "environment": {"type": "string", "enum": environments},
                    "values": {
                        "type": "object",
                        "properties": properties,
                        "required": required,
                        "additionalProperties": false
                    }
                },
                "required": ["project", "environment", "values"],
                "additionalProperties": false
            });
            if !templates.is_empty() {
                let described: Vec<String> = templates
                    .iter()
                    .map(|template| format!("{}: {}", template.id, template.description))
                    .collect();
                parameters["properties"]["template"] = json!({
                    "type": "string",
                    "enum": templates.iter().map(|t| &t.id).collect::<Vec<_>>(),
                    "description": format!(
                        "Start from a template when one fits; its locked values cannot be changed. {}",
                        described.join("; ")
                    )
                });
            }
            json!({
                "type": "function",
                "function": {
                    "name": tool_name(&module.name),
                    "description": format!(
                        "Propose a request for module {}: {}",
                        module.name,
                        module.description
                    ),
                    "parameters": parameters
                }
            })
        })
        .collect()
}

/// The system prompt: what the assistant is for, and the rules the tools cannot express.
pub fn system_prompt(catalog: &Catalog<'_>) -> String {
    let mut prompt = String::from(
        "You help people ask for infrastructure through tfpilot, a Terraform self-service tool. \
         Read what the person needs and answer by calling exactly one of the propose_ tools, \
         with the module that fits, the project and environment, and the values. Use only the \
         values the schema allows. Leave out what the person did not say and the schema does \
         not require. Never invent secrets: sensitive fields are not in the tools and the \
         person fills them in. If a tool result reports errors, call the tool again with the \
         values corrected.\n",
    );
    if let Some(registry) = catalog.registry {
        prompt.push_str("\nProjects and their environments:\n");
        for (project, environments) in &registry.projects {
            let names: Vec<&String> = environments.keys().collect();
            prompt.push_str(&format!(
                "- {project}: {}\n",
                names
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let policy = catalog.policy;
    if let Some(naming) = &policy.naming {
        prompt.push_str(&format!(
            "\nTeam naming rule: the field {} must match {}{}.\n",
            naming.field,
            naming.pattern,
            if naming.description.is_empty() {
                String::new()
            } else {
                format!(" ({})", naming.description)
            }
        ));
    }
    if !policy.allowed_regions.is_empty() {
        prompt.push_str(&format!(
            "\nAllowed values of the field {} by environment:\n",
            policy.region_field
        ));
        for (environment, regions) in &policy.allowed_regions {
            prompt.push_str(&format!("- {environment}: {}\n", regions.join(", ")));
        }
    }
    for template in catalog.templates {
        let mut line = format!(
            "\nTemplate {} (module {}): {}",
            template.id, template.module, template.description
        );
        if !template.environments.is_empty() {
            line.push_str(&format!("; only in {}", template.environments.join(", ")));
        }
        if !template.locked.is_empty() {
            line.push_str(&format!(
                "; locked values {}",
                Value::Object(template.locked.clone())
            ));
        }
        if !template.preset.is_empty() {
            line.push_str(&format!(
                "; preset values {}",
                Value::Object(template.preset.clone())
            ));
        }
        prompt.push_str(&line);
        prompt.push('\n');
    }
    prompt
}

/// The proposal in a call of tool `name` with `arguments` (the JSON text the model wrote).
pub fn read_proposal(
    catalog: &Catalog<'_>,
    name: &str,
    arguments: &str,
) -> Result<Proposal, String> {
    let module_name = name
        .strip_prefix(TOOL_PREFIX)
        .ok_or_else(|| format!("the model called {name:?}, which is not one of tfpilot's tools"))?;
    let module = catalog
        .modules
        .iter()
        .find(|module| module.name == module_name)
        .ok_or_else(|| {
            format!("the model proposed module {module_name:?}, which the catalog does not have")
        })?;
    let arguments: Value = serde_json::from_str(arguments)
        .map_err(|error| format!("the model's arguments are not valid JSON ({error})"))?;
    let text = |key: &str| -> Result<String, String> {
        arguments[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the model's proposal has no {key}"))
    };
    let mut values = match arguments.get("values") {
        Some(Value::Object(values)) => values.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("the model's values are not an object".into()),
    };
    let mut notes = Vec::new();
    for field in module.fields.iter().filter(|field| field.sensitive) {
        if values.remove(&field.name).is_some() {
            notes.push(format!(
                "{} is sensitive: the proposed value was dropped; type it yourself",
                field.name
            ));
        }
    }
    Ok(Proposal {
        module: module.name.clone(),
        template: arguments["template"].as_str().map(str::to_string),
        project: text("project")?,
        environment: text("environment")?,
        values,
        notes,
    })
}

#[cfg(test)]
#[path = "assistant_tests.rs"]
mod tests;
