//! The full-screen views: plan / log, insights, event log.

use std::time::Duration;

use crate::domain::operation::Operation;

use super::super::action::Action;
use super::super::effect::{Effect, LogSource};
use super::super::state::modal::{Modal, PromptPurpose};
use super::super::state::{Screen, State, ToastKind};
use super::main_screen::{load_source, request_operation};

pub fn on_plan_command(state: &mut State, action: Action) -> Vec<Effect> {
    let page = state.page_height();
    let width = state.width;
    let Some(plan) = state.plan.as_mut() else {
        state.screen = Screen::Main;
        return Vec::new();
    };
    match action {
        Action::MoveDown => plan.scroll_by(1, page),
        Action::MoveUp => plan.scroll_by(-1, page),
        Action::PageDown => plan.scroll_by(page as isize, page),
        Action::PageUp => plan.scroll_by(-(page as isize), page),
        Action::Top => plan.scroll_by(isize::MIN / 2, page),
        Action::Bottom => plan.scroll_by(isize::MAX / 2, page),
        Action::ToggleFold | Action::Open => plan.toggle_fold(page),
        Action::ScrollLeft => plan.scroll_sideways(-8, width),
        Action::ScrollRight => plan.scroll_sideways(8, width),
        Action::UnfoldAll => plan.fold_all(false, page),
        Action::FoldAll => plan.fold_all(true, page),
        Action::Search => {
            let previous = plan.search.clone();
            state.modals.push(Modal::Prompt {
                purpose: PromptPurpose::Search,
                input: String::new(),
                previous,
            });
        }
        Action::NextMatch | Action::PreviousMatch => {
            let forward = matches!(action, Action::NextMatch);
            if !plan.jump(forward, page) {
                let text = if plan.search.is_empty() {
                    "nothing to find: press / to search".to_string()
                } else {
                    format!("no match for `{}`", plan.search)
                };
                state.toast(ToastKind::Info, text);
            }
        }
        Action::Follow => {
            plan.follow = !plan.follow;
            if plan.follow {
                plan.scroll = plan.rows.len().saturating_sub(page);
                if plan.running {
                    return reload(state, Duration::ZERO);
                }
                state.toast(
                    ToastKind::Info,
                    "the run has finished: nothing more to follow",
                );
            }
        }
        Action::Back | Action::PlanLog | Action::Cancel => {
            state.plan = None;
            state.screen = Screen::Main;
        }
        Action::Approve => {
            let id = plan.id.clone();
            return request_operation(state, &id, Operation::Approve);
        }
        _ => {}
    }
    Vec::new()
}

/// Reads the followed log again after `delay`.
pub fn reload(state: &mut State, delay: Duration) -> Vec<Effect> {
    let Some(plan) = state.plan.as_ref() else {
        return Vec::new();
    };
    let Some(request) = state.list.row(&plan.id).and_then(|row| row.request.clone()) else {
        return Vec::new();
    };
    let Some(run_id) = plan
        .source
        .strip_prefix("run:")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return Vec::new();
    };
    let source = LogSource::Run {
        run_id,
        title: plan.title.clone(),
        running: true,
    };
    vec![load_source(&request, &source, delay)]
}

pub fn on_page_command(state: &mut State, action: Action) -> Vec<Effect> {
    let page = state.page_height();
    let scroll = &mut state.view_scroll.offset;
    match action {
        Action::MoveDown => *scroll = scroll.saturating_add(1),
        Action::MoveUp => *scroll = scroll.saturating_sub(1),
        Action::PageDown => *scroll = scroll.saturating_add(page),
        Action::PageUp => *scroll = scroll.saturating_sub(page),
        Action::Top => *scroll = 0,
        Action::Bottom => *scroll = usize::MAX / 2,
        Action::Back | Action::Cancel | Action::Insights | Action::Events => {
            state.screen = Screen::Main;
        }
        _ => {}
    }
    Vec::new()
}
