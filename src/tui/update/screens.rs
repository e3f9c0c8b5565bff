//! The full-screen views: plan / log, insights, event log.

use std::time::Duration;

use crate::domain::operation::Operation;

use super::super::command::Command;
use super::super::effect::{Effect, EffectKey, PlanSource};
use super::super::state::modal::{Modal, PromptPurpose};
use super::super::state::viewport::Viewport;
use super::super::state::{Screen, State, ToastKind};
use super::main_screen::{load_source, now_status, request_operation};

pub fn on_plan_command(state: &mut State, command: Command) -> Vec<Effect> {
    let page = state.page_height();
    let width = state.width;
    let Some(plan) = state.plan.as_mut() else {
        state.screen = Screen::Main;
        return Vec::new();
    };
    match command {
        Command::MoveDown => plan.scroll_by(1, page),
        Command::MoveUp => plan.scroll_by(-1, page),
        Command::PageDown => plan.scroll_by(page as isize, page),
        Command::PageUp => plan.scroll_by(-(page as isize), page),
        Command::Top => plan.scroll_by(isize::MIN / 2, page),
        Command::Bottom => plan.scroll_by(isize::MAX / 2, page),
        Command::ToggleFold | Command::Open => plan.toggle_fold(page),
        Command::NextResource | Command::PreviousResource
            if !plan.jump_resource(command == Command::NextResource, page) =>
        {
            state.toast(ToastKind::Info, "no more resources that way");
        }
        Command::NextOwnerChange | Command::PreviousOwnerChange => {
            let outside = plan
                .attribution
                .as_ref()
                .is_some_and(|attribution| attribution.changes_outside());
            if !plan.jump_owner(command == Command::NextOwnerChange, page) {
                let text = if outside {
                    "no change of the other side that way"
                } else {
                    "every change in this plan is this request's"
                };
                state.toast(ToastKind::Info, text);
            }
        }
        Command::ScrollLeft => plan.scroll_sideways(-8, width),
        Command::ScrollRight => plan.scroll_sideways(8, width),
        Command::UnfoldAll => plan.fold_all(false, page),
        Command::FoldAll => plan.fold_all(true, page),
        Command::Search => {
            let previous = plan.search.clone();
            state.modals.push(Modal::Prompt {
                purpose: PromptPurpose::Search,
                input: Default::default(),
                previous,
            });
        }
        Command::NextMatch | Command::PreviousMatch => {
            let forward = matches!(command, Command::NextMatch);
            if !plan.jump(forward, page) {
                let text = if plan.search.is_empty() {
                    "nothing to find: press / to search".to_string()
                } else {
                    format!("no match for `{}`", plan.search)
                };
                state.toast(ToastKind::Info, text);
            }
        }
        Command::Follow => {
            plan.follow = !plan.follow;
            if plan.follow {
                plan.scroll_to_end(page);
                if plan.running {
                    return reload(state, Duration::ZERO);
                }
                state.toast(
                    ToastKind::Info,
                    "the run has finished: nothing more to follow",
                );
            }
        }
        Command::Back | Command::PlanLog | Command::Cancel => {
            state.screen = Screen::Main;
            return close_plan_view(state);
        }
        Command::Approve => {
            let id = plan.id.clone();
            if state.changed_since_seen(&id) {
                let status = now_status(state, &id);
                state.toast(
                    ToastKind::Info,
                    format!("{id} changed since this view opened{status}: go back and open it again before you approve"),
                );
                return Vec::new();
            }
            return request_operation(state, &id, Operation::Approve);
        }
        _ => {}
    }
    Vec::new()
}

/// Closes the plan view: a read still pending (or a follow waiting for its next read) is not
/// wanted any more.
pub fn close_plan_view(state: &mut State) -> Vec<Effect> {
    if state.plan.take().is_none() {
        return Vec::new();
    }
    vec![state.tickets.cancel(EffectKey::PlanView)]
}

/// Reads the followed log again after `delay`.
pub fn reload(state: &mut State, delay: Duration) -> Vec<Effect> {
    let Some(plan) = state.plan.as_ref() else {
        return Vec::new();
    };
    let Some(request) = state.list.row(&plan.id).and_then(|row| row.request.clone()) else {
        return Vec::new();
    };
    let source @ PlanSource::Live { .. } = plan.source.clone() else {
        return Vec::new();
    };
    vec![load_source(state, &request, &source, delay)]
}

/// Scrolls a text of `len` lines shown `page` at a time, if `command` is a scrolling one;
/// `false` when it is not.
pub fn scroll_text(view: &mut Viewport, command: Command, len: usize, page: usize) -> bool {
    match command {
        Command::MoveDown => view.scroll_by(1, len, page),
        Command::MoveUp => view.scroll_by(-1, len, page),
        Command::PageDown => view.scroll_by(page as isize, len, page),
        Command::PageUp => view.scroll_by(-(page as isize), len, page),
        Command::Top => view.scroll_to(0, len, page),
        Command::Bottom => view.scroll_to(usize::MAX, len, page),
        _ => return false,
    }
    true
}

pub fn on_page_command(state: &mut State, command: Command) -> Vec<Effect> {
    let page = state.page_height();
    let len = crate::tui::view::pages::page_len(state);
    if scroll_text(&mut state.view_scroll, command, len, page) {
        return Vec::new();
    }
    match command {
        Command::Back | Command::Cancel | Command::Insights | Command::Events => {
            state.screen = Screen::Main;
            return vec![
                state.tickets.cancel(EffectKey::Activity),
                state.tickets.cancel(EffectKey::Diff),
            ];
        }
        Command::Diff if state.screen == Screen::Diff => {
            state.screen = Screen::Main;
            return vec![state.tickets.cancel(EffectKey::Diff)];
        }
        Command::Activity if state.screen == Screen::Activity => {
            state.screen = Screen::Main;
            return vec![state.tickets.cancel(EffectKey::Activity)];
        }
        _ => {}
    }
    Vec::new()
}
