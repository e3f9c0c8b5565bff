//! The config editor of one request: its values as `name = value` lines in a text area,
//! checked on every change by the module schema and team policy, with the diff of the block.

use ratatui_textarea::TextArea;
use serde_json::{Map, Value};

use super::form::{check, field_error, form_text};
use crate::domain::catalog::{FieldError, ModuleDef};
use crate::store::TeamConfig;

/// Stands for "keep the stored value" where a sensitive value would otherwise be shown.
pub const UNCHANGED: &str = crate::domain::presentation::MASK;

/// `name = value` lines for the config editor; sensitive values show as [`UNCHANGED`].
pub fn editor_lines(module: Option<&ModuleDef>, config: &Map<String, Value>) -> Vec<String> {
    let mut lines = vec![
        "# One `name = value` per line. Lists: a, b. Maps: key=value, key2=value2.".to_string(),
        format!("# An empty value unsets a field; {UNCHANGED} keeps a sensitive value."),
    ];
    let mut names: Vec<String> = module
        .map(|m| m.fields.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    for name in config.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    for name in names {
        let sensitive = module
            .and_then(|m| m.field(&name))
            .is_some_and(|f| f.sensitive);
        let value = match config.get(&name) {
            Some(_) if sensitive => UNCHANGED.to_string(),
            Some(value) => form_text(value),
            None => String::new(),
        };
        lines.push(format!("{name} = {value}"));
    }
    lines
}

/// Reads the editor's lines back: the values to send, or the lines that make no sense.
pub fn parse_editor(
    lines: &[String],
    stored: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut values = Map::new();
    let mut errors = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            errors.push(field_error(
                &format!("line {}", number + 1),
                "must look like name = value",
            ));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if value == UNCHANGED {
            if let Some(kept) = stored.get(name) {
                values.insert(name.to_string(), kept.clone());
            }
            continue;
        }
        values.insert(name.to_string(), Value::String(value.to_string()));
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// A line diff of two blocks: `(' ' | '+' | '-', line)`.
pub fn block_diff(before: &str, after: &str) -> Vec<(char, String)> {
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .map(|change| {
            let mark = match change.tag() {
                similar::ChangeTag::Equal => ' ',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Delete => '-',
            };
            (mark, change.value().trim_end_matches('\n').to_string())
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct EditForm {
    pub id: String,
    pub module: String,
    pub environment: String,
    /// The template the request was made from: its locked values cannot change.
    pub template: Option<String>,
    pub editor: TextArea<'static>,
    /// The text the editor opened with: closing it asks first once the text differs.
    pub initial: Vec<String>,
    pub stored: Map<String, Value>,
    /// The block as it is now.
    pub before: Result<String, String>,
    /// What saving would send, or why it cannot.
    pub outcome: Result<Map<String, Value>, Vec<FieldError>>,
    pub diff: Vec<(char, String)>,
    pub sending: bool,
    /// Saving opens a change request of this applied request (`tfpilot change`), instead of
    /// editing the branch of one not merged yet.
    pub change: bool,
    /// Changed fields the module marks `force_new`: saving replaces the resource.
    pub replaces: Vec<String>,
}

impl EditForm {
    pub fn new(team: &TeamConfig, request: &crate::domain::Request) -> EditForm {
        let module = team.module(&request.module);
        let before = match module {
            Some(module) => check(
                module,
                &request.id,
                &request.environment,
                &request.config,
                &team.policy,
            )
            .map_err(|errors| describe(&errors)),
            None => Err(format!("the catalog has no module {}", request.module)),
        };
        let mut lines = editor_lines(module, &request.config);
        let template = request
            .template_id
            .as_deref()
            .and_then(|id| team.templates.iter().find(|t| t.id == id));
        if let Some(template) = template.filter(|t| !t.locked.is_empty()) {
            let names: Vec<&str> = template.locked.keys().map(String::as_str).collect();
            lines.insert(
                2,
                format!(
                    "# Locked by template {}: {} (changing them is refused).",
                    template.id,
                    names.join(", ")
                ),
            );
        }
        let mut form = EditForm {
            id: request.id.clone(),
            module: request.module.clone(),
            environment: request.environment.clone(),
            template: request.template_id.clone(),
            editor: TextArea::new(lines.clone()),
            initial: lines,
            stored: request.config.clone(),
            before,
            outcome: Ok(Map::new()),
            diff: Vec::new(),
            sending: false,
            change: false,
            replaces: Vec::new(),
        };
        form.validate(team);
        form
    }

    /// The editor for a change of applied request `request` whose resources have `current`
    /// values (its newest applied change's, else its own): saving opens a change request.
    pub fn for_change(
        team: &TeamConfig,
        request: &crate::domain::Request,
        current: Map<String, Value>,
    ) -> EditForm {
        let mut now = request.clone();
        now.config = current;
        let mut form = EditForm::new(team, &now);
        form.change = true;
        form.validate(team);
        form
    }

    pub fn validate(&mut self, team: &TeamConfig) {
        let Some(module) = team.module(&self.module) else {
            self.outcome = Err(vec![field_error(
                "module",
                &format!("the catalog has no module {}", self.module),
            )]);
            self.diff.clear();
            return;
        };
        let values = match parse_editor(self.editor.lines(), &self.stored) {
            Ok(values) => values,
            Err(errors) => {
                self.outcome = Err(errors);
                self.diff.clear();
                return;
            }
        };
        // A template's locked values, as the engine checks them on save.
        if let Some(template) = self
            .template
            .as_deref()
            .and_then(|id| team.templates.iter().find(|t| t.id == id))
        {
            let conflicts = template.locked_conflicts(module, &values);
            if !conflicts.is_empty() {
                self.outcome = Err(conflicts);
                self.diff.clear();
                return;
            }
        }
        // The engine merges the edit into the stored values; check what it will check.
        let mut merged = self.stored.clone();
        for (name, value) in &values {
            merged.insert(name.clone(), value.clone());
        }
        match check(module, &self.id, &self.environment, &merged, &team.policy) {
            Ok(after) => {
                let before = self.before.as_deref().unwrap_or("");
                self.diff = block_diff(before, &after);
                self.replaces =
                    crate::domain::change::describe_change(module, &self.stored, &merged).replaces;
                self.outcome = Ok(values);
            }
            Err(errors) => {
                self.outcome = Err(errors);
                self.diff.clear();
            }
        }
    }

    /// Whether the text differs from what the editor opened with.
    pub fn edited(&self) -> bool {
        self.editor.lines() != self.initial.as_slice()
    }

    /// Whether saving would change anything.
    pub fn changes(&self) -> bool {
        self.diff.iter().any(|(mark, _)| *mark != ' ')
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}
