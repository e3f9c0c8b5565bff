//! `update(&mut State, Msg) -> Vec<Effect>`: every state change, no I/O. Keys become
//! commands through the keymap; commands go to the top modal, else to the current screen.

mod forms;
mod main_screen;
mod modals;
mod results;
mod screens;

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};

use super::command::Command;
use super::effect::Effect;
use super::msg::Msg;
use super::state::{Screen, State};

pub use main_screen::request_operation;

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    if !matches!(msg, Msg::Tick(_)) {
        state.dirty = true;
    }
    let effects = dispatch(state, msg);
    state.note_shown();
    effects
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Command(command) => on_command(state, command),
        Msg::Key(key) => on_key(state, key),
        Msg::Mouse(mouse) => on_mouse(state, mouse),
        Msg::Paste(text) => {
            modals::type_text(state, &text);
            Vec::new()
        }
        Msg::Resize { width, height } => {
            state.width = width;
            state.height = height;
            let rows = state.list_height();
            state.list.set_page(rows);
            let page = state.page_height();
            if let Some(plan) = state.plan.as_mut() {
                plan.clamp(page);
            }
            Vec::new()
        }
        Msg::FocusChanged(focused) => {
            state.focused = focused;
            vec![Effect::SetFocus(focused)]
        }
        Msg::Tick(now) => results::on_tick(state, now),
        Msg::Poll(event) => results::on_poll(state, event),
        Msg::RateBudget(budget) => {
            state.rate = Some(budget);
            Vec::new()
        }
        Msg::EventsLoaded { ticket, result } => results::on_events(state, ticket, result),
        Msg::ActivityLoaded { ticket, result } => {
            if state.tickets.is_current(&ticket) {
                state.tickets.finish(&ticket);
                state.activity = match result {
                    Ok(events) => super::state::Loadable::Loaded(std::sync::Arc::new(events)),
                    Err(error) => super::state::Loadable::Failed(error.to_string()),
                };
            }
            Vec::new()
        }
        Msg::DiffLoaded { ticket, result } => {
            if state.tickets.is_current(&ticket) {
                state.tickets.finish(&ticket);
                state.diff = match result {
                    Ok(diff) => super::state::Loadable::Loaded(std::sync::Arc::new(diff)),
                    Err(error) => super::state::Loadable::Failed(error.to_string()),
                };
            }
            Vec::new()
        }
        Msg::PlanLoaded {
            ticket,
            result,
            running,
        } => results::on_plan(state, ticket, result, running),
        Msg::OperationDone {
            id,
            operation,
            result,
        } => results::on_operation_done(state, id, operation, result),
        Msg::Created { result } => forms::on_created(state, result),
        Msg::Assisted { result } => forms::on_assisted(state, result),
        Msg::OpenFailed { url, reason } => {
            let effects = main_screen::copy(state, "URL", url);
            if let Some(toast) = state.toasts.last_mut() {
                toast.text = format!("no browser here ({reason}): {}", toast.text);
            }
            effects
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let context = state.context();
    match state.keymap.command_for(context, &key) {
        Some(command) => on_command(state, command),
        None => {
            modals::type_key(state, &key);
            Vec::new()
        }
    }
}

/// Mouse support is opt-in: the wheel scrolls whatever has the keys.
fn on_mouse(state: &mut State, mouse: MouseEvent) -> Vec<Effect> {
    if !state.mouse {
        return Vec::new();
    }
    match mouse.kind {
        MouseEventKind::ScrollDown => on_command(state, Command::MoveDown),
        MouseEventKind::ScrollUp => on_command(state, Command::MoveUp),
        _ => Vec::new(),
    }
}

fn on_command(state: &mut State, command: Command) -> Vec<Effect> {
    if !state.modals.is_empty() {
        return modals::on_command(state, command);
    }
    // Commands every screen shares.
    match command {
        // `q` leaves a view the way esc does; the program quits from the main screen only.
        Command::Quit if state.screen != Screen::Main => {
            return on_command(state, Command::Back);
        }
        Command::Quit => return quit(state),
        // Esc dismisses the messages: an error (which stays until then) takes the key; the
        // others go along with whatever esc does.
        Command::Back if state.toasts.iter().any(|toast| toast.until.is_none()) => {
            state.dismiss_toasts();
            return Vec::new();
        }
        Command::Back if !state.toasts.is_empty() => state.dismiss_toasts(),
        Command::Help => {
            state.modals.push(super::state::modal::Modal::Help {
                viewport: Default::default(),
            });
            return Vec::new();
        }
        Command::Palette => {
            state.modals.push(super::state::modal::Modal::Palette(
                super::state::palette::Palette::open(),
            ));
            return Vec::new();
        }
        Command::Insights => {
            // The plan view, if it was open, is left: its log is not read behind the page.
            let effects = screens::close_plan_view(state);
            state.screen = Screen::Insights;
            state.view_scroll = Default::default();
            state.count_insights();
            return effects;
        }
        Command::Refresh if state.screen == Screen::Diff => {
            if let Some(id) = state.diff_of.clone() {
                return main_screen::load_diff(state, id);
            }
            return Vec::new();
        }
        Command::Refresh => return main_screen::refresh(state),
        Command::ToggleBell => {
            state.bell = !state.bell;
            let text = if state.bell {
                "bell on: it rings when a run you started here ends"
            } else {
                "bell off"
            };
            state.toast(super::state::ToastKind::Info, text);
            return Vec::new();
        }
        _ => {}
    }
    match state.screen {
        Screen::Main => main_screen::on_command(state, command),
        Screen::Plan => screens::on_plan_command(state, command),
        Screen::Insights | Screen::Events | Screen::Activity | Screen::Diff => {
            screens::on_page_command(state, command)
        }
    }
}

/// Quitting while an operation runs would leave its lock held until it expires; the first
/// `q` says so, the second quits.
fn quit(state: &mut State) -> Vec<Effect> {
    if state.in_flight.is_empty() || state.quit_armed {
        state.quit = true;
    } else {
        state.quit_armed = true;
        let running: Vec<String> = state
            .in_flight
            .iter()
            .map(|(id, op)| format!("{} {id}", op.verb()))
            .collect();
        state.toast(
            super::state::ToastKind::Info,
            format!(
                "still running: {}; press q again to quit anyway (it resumes on the next try)",
                running.join(", ")
            ),
        );
    }
    Vec::new()
}
