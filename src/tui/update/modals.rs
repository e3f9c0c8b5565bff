//! Keys and commands while a modal is on top: it takes them all.

use crossterm::event::KeyEvent;

use crate::domain::Status;

use super::super::command::Command;
use super::super::effect::Effect;
use super::super::state::line_input::LineInput;
use super::super::state::modal::{Modal, PickerPurpose, PromptPurpose};
use super::super::state::palette::PaletteEntry;
use super::super::state::viewport::Viewport;
use super::super::state::{State, ToastKind};
use super::main_screen::{selection_changed, start_confirmed};

pub fn on_command(state: &mut State, command: Command) -> Vec<Effect> {
    match state.modals.last() {
        Some(Modal::Create(_)) => return super::forms::create_command(state, command),
        Some(Modal::Edit(_)) => return super::forms::edit_command(state, command),
        _ => {}
    }
    let page = state.page_height();
    let help_len = match state.modals.last() {
        Some(Modal::Help { .. }) => crate::tui::view::modals::help_len(state),
        _ => 0,
    };
    let Some(modal) = state.modals.last_mut() else {
        return Vec::new();
    };
    match modal {
        Modal::Help { viewport } => {
            if !super::screens::scroll_text(viewport, command, help_len, page)
                && matches!(
                    command,
                    Command::Back | Command::Cancel | Command::Help | Command::Quit
                )
            {
                state.modals.pop();
            }
        }
        Modal::Palette(palette) => match command {
            Command::MoveDown | Command::MoveUp => {
                let count = palette.matches.len();
                let delta = if command == Command::MoveDown { 1 } else { -1 };
                let mut list = Viewport {
                    offset: 0,
                    selected: palette.selected,
                };
                list.move_selection(delta, count, count);
                palette.selected = list.selected;
            }
            Command::Submit => {
                let chosen = palette.chosen().cloned();
                state.modals.pop();
                if let Some(entry) = chosen {
                    return run_palette_entry(state, entry);
                }
            }
            Command::Cancel | Command::Back => {
                state.modals.pop();
            }
            _ => {}
        },
        Modal::Prompt {
            purpose, previous, ..
        } => match command {
            Command::Submit => {
                state.modals.pop();
            }
            Command::Cancel | Command::Back => {
                let (purpose, previous) = (*purpose, previous.clone());
                state.modals.pop();
                return apply_prompt(state, purpose, previous);
            }
            _ => {}
        },
        Modal::Picker(picker) => match command {
            Command::MoveDown => picker.move_by(1),
            Command::MoveUp => picker.move_by(-1),
            Command::Submit => {
                let Some(option) = picker.chosen().cloned() else {
                    state.toast(ToastKind::Info, "nothing matches: type less, or esc");
                    return Vec::new();
                };
                let purpose = picker.purpose;
                state.modals.pop();
                if let PickerPurpose::FormField(field) = purpose {
                    if let Some(value) = option.value {
                        super::forms::choose_form_value(state, field, &value);
                    }
                    return Vec::new();
                }
                if purpose == PickerPurpose::Copy {
                    let label = option.label.split("  ").next().unwrap_or("").to_string();
                    return option
                        .value
                        .map(|text| super::main_screen::copy(state, &label, text))
                        .unwrap_or_default();
                }
                return apply_pick(state, purpose, option.value);
            }
            Command::Cancel | Command::Back => {
                state.modals.pop();
            }
            _ => {}
        },
        Modal::Confirm(confirmation) => match command {
            Command::Confirm | Command::Submit => {
                if !confirmation.satisfied() {
                    let message = format!(
                        "type the request id {} to {} it",
                        confirmation.id,
                        confirmation.operation.verb()
                    );
                    state.toast(ToastKind::Error, message);
                    return Vec::new();
                }
                let confirmed = confirmation.clone();
                state.modals.pop();
                if let Some(next) = confirmed.then {
                    state.modals.push(Modal::Confirm(*next));
                    return Vec::new();
                }
                return start_confirmed(state, confirmed);
            }
            Command::Cancel | Command::Back => {
                state.modals.pop();
                state.toast(ToastKind::Info, "cancelled: nothing was changed");
            }
            _ => {}
        },
        Modal::Discard(form) => match command {
            Command::Confirm | Command::Submit => {
                let closed = form.closed();
                state.modals.pop();
                state.modals.pop();
                state.toast(ToastKind::Info, closed);
            }
            Command::Cancel | Command::Back => {
                state.modals.pop();
            }
            _ => {}
        },
        // Handled above, before the borrow.
        Modal::Create(_) | Modal::Edit(_) => {}
    }
    Vec::new()
}

/// A key no binding claimed: typed into the top modal's field, if it has one.
pub fn type_key(state: &mut State, key: &KeyEvent) {
    if super::forms::type_key(state, key) {
        return;
    }
    edit_field(state, |field| field.key(key));
}

pub fn type_text(state: &mut State, text: &str) {
    if super::forms::paste(state, text) {
        return;
    }
    edit_field(state, |field| field.insert(text));
}

/// Edits the top modal's line; a filter or search applies at once when its text changed.
fn edit_field(state: &mut State, edit: impl FnOnce(&mut LineInput) -> bool) {
    let Some(modal) = state.modals.last_mut() else {
        return;
    };
    match modal {
        Modal::Palette(palette) => {
            if edit(&mut palette.query) {
                palette.refresh(&state.list);
            }
        }
        Modal::Prompt { purpose, input, .. } => {
            if edit(input) {
                let (purpose, text) = (*purpose, input.text().to_string());
                apply_prompt(state, purpose, text);
            }
        }
        Modal::Confirm(confirmation) => {
            if let Some(typed) = confirmation.typed.as_mut() {
                edit(typed);
            } else if let Some(comment) = confirmation.comment.as_mut() {
                edit(comment);
            }
        }
        Modal::Picker(picker) => {
            if edit(&mut picker.query) {
                picker.narrowed();
            }
        }
        Modal::Help { .. } | Modal::Create(_) | Modal::Edit(_) | Modal::Discard(_) => {}
    }
}

/// What a palette entry does: runs the command, selects the request, or sets the filter.
fn run_palette_entry(state: &mut State, entry: PaletteEntry) -> Vec<Effect> {
    match entry {
        PaletteEntry::Command(command) => super::update(state, command.into()),
        PaletteEntry::Request { id, .. } => {
            let effects = super::screens::close_plan_view(state);
            state.screen = super::super::state::Screen::Main;
            if !state.list.select_id(&id) {
                state.list.set_filter(Default::default());
                state.list.select_id(&id);
            }
            let mut effects = effects;
            effects.extend(selection_changed(state));
            effects
        }
        PaletteEntry::Status(status) => apply_pick(
            state,
            PickerPurpose::Status,
            Some(status.as_str().to_string()),
        ),
        PaletteEntry::Environment(environment) => {
            apply_pick(state, PickerPurpose::Environment, Some(environment))
        }
        PaletteEntry::Project(project) => apply_pick(state, PickerPurpose::Project, Some(project)),
    }
}

/// A filter picked: the list narrows to it.
fn apply_pick(state: &mut State, purpose: PickerPurpose, value: Option<String>) -> Vec<Effect> {
    let mut filter = state.list.filter.clone();
    match purpose {
        PickerPurpose::Status => filter.status = value.as_deref().and_then(Status::parse),
        PickerPurpose::Environment => filter.environment = value,
        PickerPurpose::Project => filter.project = value,
        PickerPurpose::Copy | PickerPurpose::FormField(_) => return Vec::new(),
    }
    state.list.set_filter(filter);
    selection_changed(state)
}

/// Prompts apply as they are typed: the list narrows, the plan search jumps.
fn apply_prompt(state: &mut State, purpose: PromptPurpose, text: String) -> Vec<Effect> {
    match purpose {
        PromptPurpose::Filter => {
            let mut filter = state.list.filter.clone();
            filter.text = text;
            state.list.set_filter(filter);
            selection_changed(state)
        }
        PromptPurpose::Search => {
            let page = state.page_height();
            if let Some(plan) = state.plan.as_mut() {
                plan.set_search(text);
                plan.current_match = None;
                plan.jump(true, page);
            }
            Vec::new()
        }
    }
}
