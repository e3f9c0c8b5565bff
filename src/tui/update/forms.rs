//! The create form and the config editor: opening them (when the policy allows), editing,
//! submitting, and what comes back. A refused or failed submit keeps every typed value.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::access::{Decision, Subject};
use crate::domain::operation::Operation;
use crate::engine::{Assisted, CreateInput, Nudge, OpOutcome};

use super::super::command::Command;
use super::super::effect::Effect;
use super::super::msg::OperationFailure;
use super::super::state::editor::EditForm;
use super::super::state::form::CreateForm;
use super::super::state::line_input::LineInput;
use super::super::state::modal::{Discard, Modal, Picker};
use super::super::state::{Assistant, State, ToastKind};
use super::main_screen::{load_events_now, refusal, selected_request};

pub fn open_create(state: &mut State) -> Vec<Effect> {
    let user = &state.workspace.user;
    if let Decision::Denied { reason } =
        state
            .team
            .access
            .authorize(user, Operation::Create, Subject::new_request(user))
    {
        state.toast(ToastKind::Error, format!("create denied: {reason}"));
        return Vec::new();
    }
    if state.team.modules.is_empty() {
        state.toast(
            ToastKind::Error,
            "the module catalog is empty: an admin adds modules to config/modules/",
        );
        return Vec::new();
    }
    let form = CreateForm::new(&state.team);
    state.modals.push(Modal::Create(Box::new(form)));
    Vec::new()
}

pub fn open_edit(state: &mut State) -> Vec<Effect> {
    let Some(request) = selected_request(
        state,
        "nothing to edit: select a request whose document can be read",
    ) else {
        return Vec::new();
    };
    // An applied request changes through a change request; one not merged yet is edited on
    // its branch.
    let change = refusal(state, &request, Operation::Change).is_none();
    if !change && let Some((kind, text)) = refusal(state, &request, Operation::Update) {
        state.toast(kind, text);
        return Vec::new();
    }
    let form = if change {
        let changes: Vec<crate::domain::Request> = request
            .change_requests
            .iter()
            .filter_map(|id| {
                state
                    .list
                    .row(id)
                    .and_then(|row| row.request.as_deref().cloned())
            })
            .collect();
        if let Some(in_flight) = changes
            .iter()
            .find(|change| !crate::domain::derive_status(change).is_final())
        {
            state.toast(
                ToastKind::Info,
                format!(
                    "change {} of {} is in flight ({}): finish or withdraw it first",
                    in_flight.id,
                    request.id,
                    crate::domain::derive_status(in_flight).as_str()
                ),
            );
            return Vec::new();
        }
        let current = crate::domain::change::current_values(&request, &changes);
        EditForm::for_change(&state.team, &request, current)
    } else {
        EditForm::new(&state.team, &request)
    };
    state.modals.push(Modal::Edit(Box::new(form)));
    Vec::new()
}

/// Commands while the create form is on top.
pub fn create_command(state: &mut State, command: Command) -> Vec<Effect> {
    let team = state.team.clone();
    let assistant = state.assistant.clone();
    let Some(Modal::Create(form)) = state.modals.last_mut() else {
        return Vec::new();
    };
    if form.ask.is_some() {
        return ask_command(state, command);
    }
    match command {
        Command::Ask => {
            if let Assistant::Off { reason } = assistant {
                state.toast(ToastKind::Info, reason);
                return Vec::new();
            }
            if !form.sending {
                form.ask = Some(LineInput::new(""));
            }
        }
        Command::MoveDown | Command::NextField => form.move_focus(1),
        Command::MoveUp | Command::PreviousField => form.move_focus(-1),
        Command::Submit => {
            if form.sending {
                return Vec::new();
            }
            form.validate(&team);
            if let Some(first) = form.first_error() {
                form.focus = first;
                let count = form.errors.len();
                state.toast(
                    ToastKind::Error,
                    format!("{count} field(s) need fixing before the request can be created"),
                );
                return Vec::new();
            }
            form.sending = true;
            let input = CreateInput {
                project: form.project().to_string(),
                environment: form.environment().to_string(),
                module: form.module_name().to_string(),
                values: form.values(),
                idempotency_key: None,
                template: form.template().map(str::to_string),
                assistant: form.conversation.clone(),
            };
            return vec![Effect::Create {
                input: Box::new(input),
            }];
        }
        Command::Cancel | Command::Back => {
            let touched = form.touched;
            close_or_ask(state, touched, Discard::Create);
        }
        _ => {}
    }
    Vec::new()
}

/// Commands while the create form's ask line is open: enter asks, esc closes the line (the
/// form stays as it is).
fn ask_command(state: &mut State, command: Command) -> Vec<Effect> {
    let Some(Modal::Create(form)) = state.modals.last_mut() else {
        return Vec::new();
    };
    match command {
        Command::Submit if !form.asking => {
            let ask = form
                .ask
                .as_ref()
                .map(|line| line.text().trim().to_string())
                .unwrap_or_default();
            if ask.is_empty() {
                state.toast(
                    ToastKind::Info,
                    "say what you need first, e.g. a private bucket for payments logs in dev, 90 days",
                );
                return Vec::new();
            }
            form.asking = true;
            return vec![Effect::Assist { ask }];
        }
        // Closing the line while it asks abandons the question: its answer is dropped.
        Command::Cancel | Command::Back => {
            form.ask = None;
            form.asking = false;
        }
        _ => {}
    }
    Vec::new()
}

/// The assistant answered the create form: its proposal fills the form for review, or the
/// form stays as it was and the toast says why. An answer for a form that is gone is dropped.
pub fn on_assisted(state: &mut State, result: Result<Box<Assisted>, String>) -> Vec<Effect> {
    let team = state.team.clone();
    let Some(Modal::Create(form)) = state.modals.last_mut() else {
        return Vec::new();
    };
    if !form.asking {
        return Vec::new();
    }
    form.asking = false;
    match result {
        Ok(assisted) => {
            form.apply_proposal(&team, &assisted.proposal);
            form.ask = None;
            let mut text = format!(
                "{} proposed a {} request: review the values, then enter creates it",
                assisted.conversation.model, assisted.proposal.module
            );
            for note in &assisted.proposal.notes {
                text.push_str(&format!("; {note}"));
            }
            form.conversation = Some(assisted.conversation);
            state.toast(ToastKind::Success, text);
        }
        Err(reason) => state.toast(ToastKind::Error, reason),
    }
    Vec::new()
}

/// Commands while the config editor is on top.
pub fn edit_command(state: &mut State, command: Command) -> Vec<Effect> {
    let Some(Modal::Edit(form)) = state.modals.last_mut() else {
        return Vec::new();
    };
    match command {
        Command::Submit => {
            if form.sending {
                return Vec::new();
            }
            let values = match &form.outcome {
                Ok(values) => values.clone(),
                Err(errors) => {
                    let text = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ");
                    state.toast(ToastKind::Error, format!("not saved: {text}"));
                    return Vec::new();
                }
            };
            if !form.changes() {
                state.toast(
                    ToastKind::Info,
                    "nothing changed: the block would be the same",
                );
                return Vec::new();
            }
            form.sending = true;
            let id = form.id.clone();
            if form.change {
                state.in_flight.insert(id.clone(), Operation::Change);
                return vec![Effect::Change { id, values }];
            }
            state.in_flight.insert(id.clone(), Operation::Update);
            return vec![Effect::Update { id, values }];
        }
        Command::Cancel | Command::Back => {
            let (edited, id) = (form.edited(), form.id.clone());
            close_or_ask(state, edited, Discard::Edit { id });
        }
        _ => {}
    }
    Vec::new()
}

/// The character a key types, when it is one (shift allowed, no control or alt).
fn plain_character(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if key.modifiers.difference(KeyModifiers::SHIFT).is_empty() => Some(c),
        _ => None,
    }
}

/// A picker over a create-form field chose `value`: the field takes it, with what it implies
/// (a template's module, a project's environments, a module's fields).
pub fn choose_form_value(state: &mut State, field: usize, value: &str) {
    let team = state.team.clone();
    let Some(Modal::Create(form)) = state.modals.last_mut() else {
        return;
    };
    form.focus = field;
    if let Err(locked) = form.edit(&team, |input| {
        input.select(value);
    }) {
        state.toast(ToastKind::Info, locked);
    }
}

/// Esc on a form: closes it when nothing was typed, else asks first (vim users press esc by
/// reflex; a filled form is not thrown away by one key).
fn close_or_ask(state: &mut State, typed: bool, form: Discard) {
    if typed {
        state.modals.push(Modal::Discard(form));
    } else {
        state.modals.pop();
        state.toast(ToastKind::Info, form.closed());
    }
}

/// A key no binding took: typed into the form. A character typed on a choice field opens its
/// picker narrowed by that character (space opens it as it is).
pub fn type_key(state: &mut State, key: &KeyEvent) -> bool {
    let team = state.team.clone();
    match state.modals.last_mut() {
        Some(Modal::Create(form)) if form.ask.is_some() => {
            if let Some(line) = form.ask.as_mut().filter(|_| !form.asking) {
                line.key(key);
            }
            true
        }
        Some(Modal::Create(form)) if !form.sending => {
            if let Some(typed) = plain_character(key)
                && let Some((options, current)) = form.focused_choices(&team)
            {
                if let Some(locked) = form.locked_reason() {
                    state.toast(ToastKind::Info, locked);
                    return true;
                }
                let query = if typed == ' ' {
                    String::new()
                } else {
                    typed.to_string()
                };
                let field = form.focus;
                let name = form.fields[field].name.clone();
                state.modals.push(Modal::Picker(Picker::for_form_field(
                    field,
                    &name,
                    options,
                    Some(&current),
                    &query,
                )));
                return true;
            }
            let edited = form.edit(&team, |input| input.key(key));
            if let Err(locked) = edited {
                state.toast(ToastKind::Info, locked);
            }
            true
        }
        Some(Modal::Edit(form)) if !form.sending => {
            form.editor.input(*key);
            form.validate(&team);
            true
        }
        Some(Modal::Create(_) | Modal::Edit(_)) => true,
        _ => false,
    }
}

pub fn paste(state: &mut State, text: &str) -> bool {
    let team = state.team.clone();
    match state.modals.last_mut() {
        Some(Modal::Create(form)) if form.ask.is_some() => {
            if let Some(line) = form.ask.as_mut().filter(|_| !form.asking) {
                line.insert(text);
            }
            true
        }
        Some(Modal::Create(form)) if !form.sending => {
            if let Err(locked) = form.edit(&team, |input| input.paste(text)) {
                state.toast(ToastKind::Info, locked);
            }
            true
        }
        Some(Modal::Edit(form)) if !form.sending => {
            form.editor.insert_str(text);
            form.validate(&team);
            true
        }
        Some(Modal::Create(_) | Modal::Edit(_)) => true,
        _ => false,
    }
}

pub fn on_created(
    state: &mut State,
    result: Result<Box<OpOutcome>, OperationFailure>,
) -> Vec<Effect> {
    match result {
        Ok(outcome) => {
            if let Some(Modal::Create(_)) = state.modals.last() {
                state.modals.pop();
            }
            let request = outcome.request;
            let id = request.id.clone();
            // The engine's message names the request already ("created req_…: pull request …").
            state.toast(ToastKind::Success, outcome.message.clone());
            state.list.upsert(Arc::new(request.clone()));
            if !state.list.select_id(&id) {
                state.list.set_filter(Default::default());
                state.list.select_id(&id);
            }
            state.mark_seen(&id);
            let status = crate::domain::derive_status(&request);
            if status.is_active() {
                state.watched.insert(id, status);
            }
            let mut effects = vec![Effect::Poller(Nudge::SyncSoon(Box::new(request)))];
            effects.extend(load_events_now(state));
            effects
        }
        Err(failure) => {
            if let Some(Modal::Create(form)) = state.modals.last_mut() {
                form.sending = false;
            }
            state.toast(
                ToastKind::Error,
                format!("create failed: {}", failure.message),
            );
            Vec::new()
        }
    }
}

/// An edit that was saved closes its editor; one that failed leaves it open, text intact.
pub fn on_update_done(state: &mut State, id: &str, saved: bool) {
    if let Some(Modal::Edit(form)) = state.modals.last_mut()
        && form.id == id
    {
        if saved {
            state.modals.pop();
        } else {
            form.sending = false;
        }
    }
}
