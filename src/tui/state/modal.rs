//! Modals are data: a stack in the state. The top one takes the keys and is drawn last.

use crate::domain::Status;
use crate::domain::operation::Operation;

use super::super::keymap::Context;
use super::editor::EditForm;
use super::form::CreateForm;
use super::line_input::LineInput;
use super::palette::Palette;
use super::viewport::Viewport;

#[derive(Debug, Clone)]
pub enum Modal {
    Create(Box<CreateForm>),
    Edit(Box<EditForm>),
    Help {
        viewport: Viewport,
    },
    Palette(Palette),
    /// A one-line text field that applies as it is typed (the list filter, plan search).
    Prompt {
        purpose: PromptPurpose,
        input: LineInput,
        /// What to restore on cancel.
        previous: String,
    },
    Picker(Picker),
    Confirm(Confirmation),
    /// "Throw away what you typed?" over a form that esc would close.
    Discard(Discard),
}

/// Which form a [`Modal::Discard`] would close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discard {
    Create,
    Edit { id: String },
}

impl Discard {
    pub fn title(&self) -> String {
        match self {
            Discard::Create => " discard the new request? ".into(),
            Discard::Edit { id } => format!(" discard your edits of {id}? "),
        }
    }

    /// What the toast says once the form is closed.
    pub fn closed(&self) -> &'static str {
        match self {
            Discard::Create => "create cancelled: nothing was written",
            Discard::Edit { .. } => "edit cancelled: nothing was saved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptPurpose {
    Filter,
    Search,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerPurpose {
    Status,
    Environment,
    Project,
    /// What to copy from the selected request.
    Copy,
    /// A choice field of the create form (its index): template, project, environment, module
    /// or an enum value.
    FormField(usize),
}

impl PickerPurpose {
    fn title(self) -> &'static str {
        match self {
            PickerPurpose::Copy => "copy to the clipboard",
            PickerPurpose::Status => "filter by status",
            PickerPurpose::Environment => "filter by environment",
            PickerPurpose::Project => "filter by project",
            PickerPurpose::FormField(_) => "choose",
        }
    }
}

/// A list to choose one entry from: `j`/`k` and the arrows move, other characters narrow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub purpose: PickerPurpose,
    /// What the box says it is for ("filter by status", "choose module").
    pub title: String,
    pub options: Vec<PickerOption>,
    pub query: LineInput,
    /// A position among the options the query matches.
    pub selected: usize,
}

impl Picker {
    /// Opens on the option whose value is `current`.
    pub fn new(
        purpose: PickerPurpose,
        options: Vec<PickerOption>,
        current: Option<&str>,
    ) -> Picker {
        let selected = options
            .iter()
            .position(|option| option.value.as_deref() == current)
            .unwrap_or(0);
        Picker {
            purpose,
            title: purpose.title().to_string(),
            options,
            query: LineInput::default(),
            selected,
        }
    }

    /// The picker over a form's choice field `name`, opened by typing `query` on it (narrowed at
    /// once) or with nothing typed (on the current choice).
    pub fn for_form_field(
        field: usize,
        name: &str,
        options: Vec<PickerOption>,
        current: Option<&str>,
        query: &str,
    ) -> Picker {
        let mut picker = Picker::new(PickerPurpose::FormField(field), options, current);
        picker.title = format!("choose {name}");
        if !query.is_empty() {
            picker.query.insert(query);
            picker.narrowed();
        }
        picker
    }

    /// The box's title, with how many options the typed text leaves once something is typed:
    /// " choose module · 2/5 ".
    pub fn heading(&self) -> String {
        match self.query.text().is_empty() {
            true => format!(" {} ", self.title),
            false => format!(
                " {} · {}/{} ",
                self.title,
                self.matches().len(),
                self.options.len()
            ),
        }
    }

    /// The options the typed text matches (every word, anywhere in the label, any case).
    pub fn matches(&self) -> Vec<&PickerOption> {
        let query = self.query.text().to_lowercase();
        let words: Vec<&str> = query.split_whitespace().collect();
        self.options
            .iter()
            .filter(|option| {
                let label = option.label.to_lowercase();
                words.iter().all(|word| label.contains(word))
            })
            .collect()
    }

    pub fn move_by(&mut self, delta: isize) {
        let count = self.matches().len();
        let mut list = super::viewport::Viewport {
            offset: 0,
            selected: self.selected,
        };
        list.move_selection(delta, count, count);
        self.selected = list.selected;
    }

    /// The typed text changed: the selection goes back to the best (first) match.
    pub fn narrowed(&mut self) {
        self.selected = 0;
    }

    pub fn chosen(&self) -> Option<&PickerOption> {
        self.matches().get(self.selected).copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerOption {
    pub label: String,
    /// `None` is "any" (clears that filter).
    pub value: Option<String>,
}

/// "Are you sure?" for merge, apply, destroy and cleanup; a prod destroy also wants the
/// request id typed, so no stray key press can destroy production.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub id: String,
    pub operation: Operation,
    pub title: String,
    pub lines: Vec<String>,
    /// `Some` when the id must be typed: what has been typed so far.
    pub typed: Option<LineInput>,
    /// `Some` when the operation takes a comment (a deployment review): what has been typed.
    pub comment: Option<LineInput>,
    pub status: Option<Status>,
    /// A second question asked once this one is confirmed (applying changes outside the request
    /// in a whole-root repository).
    pub then: Option<Box<Confirmation>>,
    /// Confirming this applies the plan's changes outside the request too.
    pub include_outside: bool,
}

impl Confirmation {
    pub fn satisfied(&self) -> bool {
        self.typed
            .as_ref()
            .is_none_or(|typed| typed.text() == self.id)
    }
}

impl Modal {
    pub fn context(&self) -> Context {
        match self {
            Modal::Help { .. } => Context::Help,
            Modal::Edit(_) => Context::Editor,
            Modal::Discard(_) => Context::Confirm,
            Modal::Picker(_) => Context::Picker,
            Modal::Confirm(confirmation)
                if confirmation.typed.is_none() && confirmation.comment.is_none() =>
            {
                Context::Confirm
            }
            _ => Context::Input,
        }
    }
}
