//! The create and edit forms: what the user has typed, validated on every change by the same
//! rules the engine applies (the module schema and team policy), with the HCL block the
//! request would write.

use crossterm::event::{KeyCode, KeyEvent};
use serde_json::{Map, Value};

use super::line_input::LineInput;
use super::modal::PickerOption;

use crate::domain::catalog::{FieldDef, FieldError, FieldKind, ModuleDef};
use crate::domain::infra_file::render_block;
use crate::domain::registry::ValidationPolicy;
use crate::domain::template::Template;
use crate::store::TeamConfig;

/// The id the preview renders with: the real one is chosen when the request is created.
const PREVIEW_ID: &str = "req_new";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Text(LineInput),
    Toggle(bool),
    Choice {
        options: Vec<String>,
        selected: usize,
    },
}

impl Input {
    pub fn choice(&self) -> Option<&str> {
        match self {
            Input::Choice { options, selected } => options.get(*selected).map(String::as_str),
            _ => None,
        }
    }

    /// Pasted text goes into text fields (at the cursor).
    pub fn paste(&mut self, text: &str) {
        if let Input::Text(line) = self {
            line.insert(text);
        }
    }

    /// A key on the field: text fields edit as a shell line does; a toggle flips with space or
    /// an arrow; a choice moves with the arrows (typing on a choice opens its picker, which the
    /// update does before the key gets here).
    pub fn key(&mut self, key: &KeyEvent) {
        match self {
            Input::Text(line) => {
                line.key(key);
            }
            Input::Toggle(_) | Input::Choice { .. } => match key.code {
                KeyCode::Left => self.cycle(-1),
                KeyCode::Right | KeyCode::Char(' ') => self.cycle(1),
                _ => {}
            },
        }
    }

    /// Chooses the option `value`; `false` (and no change) when it is not one of them.
    pub fn select(&mut self, value: &str) -> bool {
        let Input::Choice { options, selected } = self else {
            return false;
        };
        match options.iter().position(|option| option == value) {
            Some(index) => {
                *selected = index;
                true
            }
            None => false,
        }
    }

    pub fn cycle(&mut self, step: isize) {
        match self {
            Input::Choice { options, selected } if !options.is_empty() => {
                let count = options.len() as isize;
                *selected = ((*selected as isize + step).rem_euclid(count)) as usize;
            }
            Input::Toggle(on) => *on = !*on,
            _ => {}
        }
    }

    fn value(&self) -> Option<Value> {
        match self {
            Input::Text(line) if line.text().trim().is_empty() => None,
            Input::Text(line) => Some(Value::String(line.text().to_string())),
            Input::Toggle(on) => Some(Value::Bool(*on)),
            Input::Choice { .. } => self
                .choice()
                .filter(|choice| !choice.is_empty())
                .map(|choice| Value::String(choice.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    /// `string`, `number`, `enum`... as the module defines it; "" for project/env/module.
    pub kind: &'static str,
    pub required: bool,
    pub description: String,
    pub input: Input,
    /// Set by the chosen template: shown, not editable.
    pub locked: bool,
}

/// The fields every create form starts with, after the template choice when there are
/// templates: project, environment, module.
const PROJECT: usize = 0;
const ENVIRONMENT: usize = 1;
const MODULE: usize = 2;
const HEAD: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateForm {
    pub fields: Vec<FormField>,
    pub focus: usize,
    /// Per-field problems (schema and policy), recomputed on every change.
    pub errors: Vec<FieldError>,
    /// The HCL block, or why there is none yet.
    pub preview: Result<String, String>,
    /// Submitted and not answered yet.
    pub sending: bool,
    /// Something was typed or chosen: closing the form asks before it loses that.
    pub touched: bool,
    /// The first field picks a template (only when the team has templates).
    has_template: bool,
    /// The module and template the module's fields were built for.
    built_for: (String, Option<String>),
    /// Values typed into module fields, by field name, kept across module and template changes.
    typed: std::collections::BTreeMap<String, Input>,
    /// The ask line, while it is open: a sentence for the assistant.
    pub ask: Option<LineInput>,
    /// Asked and not answered yet.
    pub asking: bool,
    /// The conversation whose proposal filled the form: kept with the request it creates.
    pub conversation: Option<crate::domain::assistant::Conversation>,
}

/// Form text for a stored value (what a person would type to get it).
pub fn form_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| item.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(entries) => entries
            .iter()
            .map(|(key, item)| {
                format!(
                    "{key}={}",
                    item.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| item.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn module_field(field: &FieldDef) -> FormField {
    let default = field.default.as_ref();
    let input = match field.kind {
        FieldKind::Bool => Input::Toggle(default.and_then(Value::as_bool).unwrap_or(false)),
        FieldKind::Enum => {
            let mut options = field.values.clone();
            if !field.required && default.is_none() {
                options.insert(0, String::new());
            }
            let wanted = default.map(form_text);
            let selected = wanted
                .and_then(|wanted| options.iter().position(|o| *o == wanted))
                .unwrap_or(0);
            Input::Choice { options, selected }
        }
        _ => Input::Text(LineInput::new(&default.map(form_text).unwrap_or_default())),
    };
    FormField {
        name: field.name.clone(),
        kind: field.kind.as_str(),
        required: field.required,
        description: field.description.clone(),
        input,
        locked: false,
    }
}

fn choice_field(name: &str, options: Vec<String>, selected: usize) -> FormField {
    FormField {
        name: name.to_string(),
        kind: "",
        required: true,
        description: String::new(),
        input: Input::Choice { options, selected },
        locked: false,
    }
}

/// Whether a typed input fits a field: the same kind, and for a choice one of its options.
fn same_shape(typed: &Input, field: &Input) -> bool {
    match (typed, field) {
        (Input::Text(_), Input::Text(_)) | (Input::Toggle(_), Input::Toggle(_)) => true,
        (Input::Choice { options: a, .. }, Input::Choice { options: b, .. }) => a == b,
        _ => false,
    }
}

/// Shows `value` in `input` the way a person would have entered it.
fn set_input(input: &mut Input, value: &Value) {
    match input {
        Input::Toggle(on) => *on = value.as_bool().unwrap_or(form_text(value) == "true"),
        Input::Choice { options, selected } => {
            let wanted = form_text(value);
            if let Some(index) = options.iter().position(|o| *o == wanted) {
                *selected = index;
            }
        }
        Input::Text(line) => *line = LineInput::new(&form_text(value)),
    }
}

impl CreateForm {
    pub fn new(team: &TeamConfig) -> CreateForm {
        let projects: Vec<String> = team
            .infra_repos
            .as_ref()
            .map(|repos| repos.projects.keys().cloned().collect())
            .unwrap_or_default();
        let modules: Vec<String> = team.modules.iter().map(|m| m.name.clone()).collect();
        let has_template = !team.templates.is_empty();
        let mut fields = Vec::new();
        if has_template {
            let mut options = vec![String::new()];
            options.extend(team.templates.iter().map(|t| t.id.clone()));
            let mut field = choice_field("template", options, 0);
            field.required = false;
            fields.push(field);
        }
        fields.extend([
            choice_field("project", projects, 0),
            choice_field("environment", Vec::new(), 0),
            choice_field("module", modules, 0),
        ]);
        let mut form = CreateForm {
            fields,
            focus: 0,
            errors: Vec::new(),
            preview: Err(String::new()),
            sending: false,
            touched: false,
            has_template,
            built_for: (String::new(), None),
            typed: Default::default(),
            ask: None,
            asking: false,
            conversation: None,
        };
        if has_template {
            form.fields[0].description =
                "a template starts from values an admin chose; none starts from the module's defaults"
                    .into();
        }
        form.refresh_environments(team);
        form.rebuild_module_fields(team);
        form
    }

    /// Where the fixed fields are: one further down when the template choice comes first.
    fn at(&self, field: usize) -> usize {
        field + usize::from(self.has_template)
    }

    pub fn project(&self) -> &str {
        self.fields[self.at(PROJECT)].input.choice().unwrap_or("")
    }

    pub fn environment(&self) -> &str {
        self.fields[self.at(ENVIRONMENT)]
            .input
            .choice()
            .unwrap_or("")
    }

    pub fn module_name(&self) -> &str {
        self.fields[self.at(MODULE)].input.choice().unwrap_or("")
    }

    /// The chosen template's id, if one is chosen.
    pub fn template(&self) -> Option<&str> {
        if !self.has_template {
            return None;
        }
        self.fields[0].input.choice().filter(|id| !id.is_empty())
    }

    fn chosen_template<'a>(&self, team: &'a TeamConfig) -> Option<&'a Template> {
        let id = self.template()?;
        team.templates.iter().find(|t| t.id == id)
    }

    fn refresh_environments(&mut self, team: &TeamConfig) {
        let template = self.chosen_template(team);
        let environments: Vec<String> = team
            .infra_repos
            .as_ref()
            .and_then(|repos| repos.projects.get(self.project()))
            .map(|environments| {
                environments
                    .keys()
                    .filter(|e| template.is_none_or(|t| t.allows_environment(e)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let keep = self.environment().to_string();
        let selected = environments.iter().position(|e| *e == keep).unwrap_or(0);
        let index = self.at(ENVIRONMENT);
        self.fields[index].input = Input::Choice {
            options: environments,
            selected,
        };
    }

    /// A template picks the module and fixes its locked values; no template frees them.
    fn apply_template(&mut self, team: &TeamConfig) {
        let template = self.chosen_template(team).cloned();
        let module_index = self.at(MODULE);
        if self.has_template {
            self.fields[0].description = template
                .as_ref()
                .map(|t| t.description.clone())
                .unwrap_or_else(|| "no template: start from the module's defaults".into());
        }
        let module_field = &mut self.fields[module_index];
        module_field.locked = template.is_some();
        if let Some(template) = &template {
            set_input(
                &mut module_field.input,
                &Value::String(template.module.clone()),
            );
        }
        self.refresh_environments(team);
        self.rebuild_module_fields(team);
    }

    /// The module's fields as `template` starts them: defaults, then preset and locked values.
    fn starting_fields(module: &ModuleDef, template: Option<&Template>) -> Vec<FormField> {
        module
            .fields
            .iter()
            .map(|def| {
                let mut field = module_field(def);
                if let Some(template) = template {
                    if let Some(value) = template.preset.get(&def.name) {
                        set_input(&mut field.input, value);
                    }
                    if let Some(value) = template.locked.get(&def.name) {
                        set_input(&mut field.input, value);
                        field.locked = true;
                    }
                }
                field
            })
            .collect()
    }

    /// Rebuilds the module's fields for the chosen module and template, keeping what the person
    /// typed (a value that differs from how the fields started) unless the template locks it.
    fn rebuild_module_fields(&mut self, team: &TeamConfig) {
        // Remember what was typed (a value unlike the one the field started with), so cycling
        // through modules and templates does not lose it; a value set back is forgotten.
        let old_module = team.module(&self.built_for.0);
        let old_template = self
            .built_for
            .1
            .as_deref()
            .and_then(|id| team.templates.iter().find(|t| t.id == id));
        let started = old_module
            .map(|module| Self::starting_fields(module, old_template))
            .unwrap_or_default();
        for field in self.fields.split_off(self.at(HEAD)) {
            if field.locked {
                continue;
            }
            match started.iter().find(|s| s.name == field.name) {
                Some(start) if start.input == field.input => {
                    self.typed.remove(&field.name);
                }
                _ => {
                    self.typed.insert(field.name, field.input);
                }
            }
        }
        let template = self.chosen_template(team).cloned();
        if let Some(module) = team.module(self.module_name()) {
            let mut fields = Self::starting_fields(module, template.as_ref());
            for field in fields.iter_mut().filter(|f| !f.locked) {
                if let Some(kept) = self.typed.get(&field.name)
                    && same_shape(kept, &field.input)
                {
                    field.input = kept.clone();
                }
            }
            self.fields.extend(fields);
        }
        self.built_for = (
            self.module_name().to_string(),
            self.template().map(str::to_string),
        );
        self.validate(team);
    }

    /// The module field values as the engine takes them.
    pub fn values(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .skip(self.at(HEAD))
            .filter_map(|field| Some((field.name.clone(), field.input.value()?)))
            .collect()
    }

    pub fn validate(&mut self, team: &TeamConfig) {
        let Some(module) = team.module(self.module_name()) else {
            self.errors = Vec::new();
            self.preview =
                Err("the catalog has no modules: an admin adds them to config/modules/".into());
            return;
        };
        let mut errors = Vec::new();
        if self.project().is_empty() {
            errors.push(field_error(
                "project",
                "no projects: an admin sets up config/infra-repos.json",
            ));
        }
        if self.environment().is_empty() {
            errors.push(field_error(
                "environment",
                "this project has no environments",
            ));
        }
        let values = self.values();
        if let Some(template) = self.chosen_template(team) {
            // The form keeps locked fields as set; this catches an environment it is not for.
            if let Err(more) = template.apply(module, self.environment(), &values) {
                errors.extend(more);
            }
        }
        let checked = check(
            module,
            PREVIEW_ID,
            self.environment(),
            &values,
            &team.policy,
        );
        if let Err(more) = &checked {
            errors.extend(more.iter().cloned());
        }
        self.preview = match checked {
            Ok(block) if errors.is_empty() => Ok(block),
            _ => Err("fix the fields marked above".into()),
        };
        self.errors = errors;
    }

    pub fn error_of(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|error| error.field == name)
            .map(|error| error.message.as_str())
    }

    /// Why the focused field cannot be changed, when a template locks it.
    pub fn locked_reason(&self) -> Option<String> {
        let field = self.fields.get(self.focus).filter(|field| field.locked)?;
        Some(format!(
            "{} is locked by template {}",
            field.name,
            self.template().unwrap_or("?")
        ))
    }

    /// The focused field's options for a picker, when it is a choice: each with what it is (a
    /// template's or module's description), and the current one.
    pub fn focused_choices(&self, team: &TeamConfig) -> Option<(Vec<PickerOption>, String)> {
        let field = self.fields.get(self.focus)?;
        let Input::Choice { options, .. } = &field.input else {
            return None;
        };
        let describe = |option: &str| -> String {
            let about = if self.has_template && self.focus == 0 {
                team.templates
                    .iter()
                    .find(|t| t.id == option)
                    .map(|t| t.description.as_str())
            } else if self.focus == self.at(MODULE) {
                team.module(option).map(|m| m.description.as_str())
            } else {
                None
            };
            match (option, about) {
                ("", _) => "(none)".to_string(),
                (option, Some(about)) if !about.is_empty() => format!("{option}  {about}"),
                (option, _) => option.to_string(),
            }
        };
        let choices = options
            .iter()
            .map(|option| PickerOption {
                label: describe(option),
                value: Some(option.clone()),
            })
            .collect();
        Some((choices, field.input.choice().unwrap_or("").to_string()))
    }

    /// Applies an edit to the focused field, then what it implies (a template's module and
    /// values, new environments for a project, new fields for a module) and validates again.
    /// A locked field is left as it is: the answer says which template locked it.
    pub fn edit(&mut self, team: &TeamConfig, edit: impl FnOnce(&mut Input)) -> Result<(), String> {
        let focus = self.focus;
        if let Some(locked) = self.locked_reason() {
            return Err(locked);
        }
        if let Some(field) = self.fields.get_mut(focus) {
            let before = field.input.clone();
            edit(&mut field.input);
            self.touched |= field.input != before;
        }
        if self.has_template && focus == 0 {
            self.apply_template(team);
        } else if focus == self.at(PROJECT) {
            self.refresh_environments(team);
            self.validate(team);
        } else if focus == self.at(MODULE) {
            self.rebuild_module_fields(team);
        } else {
            self.validate(team);
        }
        Ok(())
    }

    /// Fills the form with an assistant's proposal, as if the person had chosen each value:
    /// template, project, environment, module, then the module's fields (locked ones stay as
    /// the template sets them). The person reviews it and submits it, or not.
    pub fn apply_proposal(
        &mut self,
        team: &TeamConfig,
        proposal: &crate::domain::assistant::Proposal,
    ) {
        if self.has_template {
            self.fields[0]
                .input
                .select(proposal.template.as_deref().unwrap_or(""));
            self.apply_template(team);
        }
        let project = self.at(PROJECT);
        self.fields[project].input.select(&proposal.project);
        self.refresh_environments(team);
        let environment = self.at(ENVIRONMENT);
        self.fields[environment].input.select(&proposal.environment);
        let module = self.at(MODULE);
        if !self.fields[module].locked {
            self.fields[module].input.select(&proposal.module);
        }
        self.rebuild_module_fields(team);
        let head = self.at(HEAD);
        for field in self.fields.iter_mut().skip(head) {
            if let Some(value) = proposal.values.get(&field.name)
                && !field.locked
            {
                set_input(&mut field.input, value);
            }
        }
        self.touched = true;
        self.validate(team);
        self.focus = self
            .first_error()
            .unwrap_or(self.at(HEAD).min(self.fields.len() - 1));
    }

    pub fn move_focus(&mut self, step: isize) {
        let count = self.fields.len() as isize;
        self.focus = ((self.focus as isize + step).rem_euclid(count.max(1))) as usize;
    }

    /// The first field with a problem, to jump to when a submit is refused.
    pub fn first_error(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| self.error_of(&field.name).is_some())
    }
}

pub(super) fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Validates like the engine (schema, then team policy) and renders the block on success.
pub fn check(
    module: &ModuleDef,
    id: &str,
    environment: &str,
    values: &Map<String, Value>,
    policy: &ValidationPolicy,
) -> Result<String, Vec<FieldError>> {
    let config = module.validate(values).map_err(|errors| errors.0)?;
    let problems = policy.check(environment, &config);
    if !problems.is_empty() {
        return Err(problems);
    }
    render_block(&module.block(id, &config)).map_err(|error| {
        vec![FieldError {
            field: "module".into(),
            message: error.to_string(),
        }]
    })
}
