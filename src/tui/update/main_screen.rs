//! The list and detail screen: moving, filtering, sorting, and asking for operations.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::Request;
use crate::domain::access::{Decision, Subject};
use crate::domain::operation::{Operation, Readiness, readiness};
use crate::domain::presentation;
use crate::engine::Nudge;

use super::super::command::Command;
use super::super::effect::{Effect, EffectKey, LogSource, PlanSource, log_source};
use super::super::state::line_input::LineInput;
use super::super::state::list::ListView;
use super::super::state::modal::{
    Confirmation, Modal, Picker, PickerOption, PickerPurpose, PromptPurpose,
};
use super::super::state::plan::PlanView;
use super::super::state::{Loadable, Pane, Screen, State, ToastKind};

pub fn on_command(state: &mut State, command: Command) -> Vec<Effect> {
    let rows = state.list_height();
    match command {
        Command::MoveDown => return move_or_scroll(state, 1),
        Command::MoveUp => return move_or_scroll(state, -1),
        Command::PageDown => return move_or_scroll(state, rows as isize),
        Command::PageUp => return move_or_scroll(state, -(rows as isize)),
        Command::Top => {
            state.list.select_index(0);
            return selection_changed(state);
        }
        Command::Bottom => {
            state.list.select_index(usize::MAX);
            return selection_changed(state);
        }
        Command::SwitchPane => {
            state.pane = match state.pane {
                Pane::List => Pane::Detail,
                Pane::Detail => Pane::List,
            };
        }
        Command::Open | Command::PlanLog => return open_log(state),
        Command::Events => {
            state.screen = Screen::Events;
            state.view_scroll = Default::default();
            return load_events_now(state);
        }
        Command::Activity => return open_activity(state),
        Command::Diff => return open_diff(state),
        Command::Filter => {
            let text = state.list.filter.text.clone();
            state.modals.push(Modal::Prompt {
                purpose: PromptPurpose::Filter,
                input: LineInput::new(&text),
                previous: text,
            });
        }
        Command::FilterStatus => {
            let mut options = vec![PickerOption {
                label: "any status".into(),
                value: None,
            }];
            options.extend(
                state
                    .list
                    .status_counts()
                    .into_iter()
                    .map(|(status, count)| PickerOption {
                        label: format!("{} {} ({count})", status.symbol(), status.as_str()),
                        value: Some(status.as_str().to_string()),
                    }),
            );
            let current = state.list.filter.status.map(|s| s.as_str().to_string());
            push_picker(state, PickerPurpose::Status, options, current);
        }
        Command::FilterEnvironment => {
            let options = counted_options("environment", state.list.environment_counts());
            let current = state.list.filter.environment.clone();
            push_picker(state, PickerPurpose::Environment, options, current);
        }
        Command::FilterProject => {
            let options = counted_options("project", state.list.project_counts());
            let current = state.list.filter.project.clone();
            push_picker(state, PickerPurpose::Project, options, current);
        }
        Command::ViewAll | Command::ViewMine | Command::ViewWaitingOnMe | Command::ViewActive => {
            let view = match command {
                Command::ViewMine => ListView::Mine,
                Command::ViewWaitingOnMe => ListView::WaitingOnMe,
                Command::ViewActive => ListView::Active,
                _ => ListView::All,
            };
            let mut filter = state.list.filter.clone();
            filter.view = view;
            state.list.set_filter(filter);
            return selection_changed(state);
        }
        Command::ClearFilters => {
            state.list.set_filter(Default::default());
            return selection_changed(state);
        }
        Command::Sort => {
            let key = state.list.sort.next();
            state.list.set_sort(key, state.list.descending);
        }
        Command::ReverseSort => {
            state.list.set_sort(state.list.sort, !state.list.descending);
        }
        Command::Back => {
            if !state.list.filter.is_empty() {
                state.list.set_filter(Default::default());
                return selection_changed(state);
            }
            state.pane = Pane::List;
        }
        Command::CopyId => {
            if let Some(id) = state.list.selected_id().map(str::to_string) {
                return copy(state, "request id", id);
            }
        }
        Command::CopyMenu => return open_copy_menu(state),
        Command::OpenLink => return open_link(state),
        Command::Create => return super::forms::open_create(state),
        Command::Edit => return super::forms::open_edit(state),
        other => {
            if let Some(operation) = other.operation()
                && let Some(id) = state.list.selected_id().map(str::to_string)
            {
                if show_if_changed(state, &id, operation) {
                    return Vec::new();
                }
                return request_operation(state, &id, operation);
            }
        }
    }
    Vec::new()
}

/// Opens the selected request's pull request diff, read from GitHub.
pub fn open_diff(state: &mut State) -> Vec<Effect> {
    let Some(request) = selected_request(
        state,
        "no diff: select a request whose document can be read",
    ) else {
        return Vec::new();
    };
    if request.pr.as_deref().and_then(|pr| pr.number).is_none() {
        state.toast(
            ToastKind::Info,
            format!("{} has no pull request yet: nothing to diff", request.id),
        );
        return Vec::new();
    }
    state.screen = Screen::Diff;
    state.view_scroll = Default::default();
    load_diff(state, request.id.clone())
}

/// Reads `id`'s diff (again).
pub fn load_diff(state: &mut State, id: String) -> Vec<Effect> {
    state.diff = Loadable::Loading;
    state.diff_of = Some(id.clone());
    let ticket = state.tickets.issue(EffectKey::Diff);
    vec![Effect::LoadDiff { ticket, id }]
}

/// How many of the most recently changed requests the activity feed reads.
const ACTIVITY_REQUESTS: usize = 30;

/// Opens the team activity feed and reads it afresh.
pub fn open_activity(state: &mut State) -> Vec<Effect> {
    state.screen = Screen::Activity;
    state.view_scroll = Default::default();
    state.activity = Loadable::Loading;
    let mut recent: Vec<(crate::domain::Timestamp, String)> = state
        .list
        .rows()
        .filter_map(|row| row.request.as_ref().map(|r| (r.updated_at, row.id.clone())))
        .collect();
    recent.sort_by(|a, b| b.cmp(a));
    let ids = recent
        .into_iter()
        .take(ACTIVITY_REQUESTS)
        .map(|(_, id)| id)
        .collect();
    let ticket = state.tickets.issue(EffectKey::Activity);
    vec![Effect::LoadActivity { ticket, ids }]
}

fn push_picker(
    state: &mut State,
    purpose: PickerPurpose,
    options: Vec<PickerOption>,
    current: Option<String>,
) {
    state.modals.push(Modal::Picker(Picker::new(
        purpose,
        options,
        current.as_deref(),
    )));
}

/// "any <what>" and one option per value with how many requests have it.
fn counted_options(what: &str, counts: Vec<(String, usize)>) -> Vec<PickerOption> {
    let mut options = vec![PickerOption {
        label: format!("any {what}"),
        value: None,
    }];
    options.extend(counts.into_iter().map(|(value, count)| PickerOption {
        label: format!("{value} ({count})"),
        value: Some(value),
    }));
    options
}

fn move_or_scroll(state: &mut State, delta: isize) -> Vec<Effect> {
    match state.pane {
        Pane::List => {
            state.list.move_by(delta);
            selection_changed(state)
        }
        Pane::Detail => {
            state.detail.scroll = state.detail.scroll.saturating_add_signed(delta as i16);
            Vec::new()
        }
    }
}

/// Copies `text` through the terminal and says so; the text is in the toast too, to select by
/// hand where the terminal does not allow OSC 52 (tmux needs `set-clipboard on`).
pub fn copy(state: &mut State, what: &str, text: String) -> Vec<Effect> {
    state.toast(
        ToastKind::Success,
        format!("copied the {what}: {text} (if the clipboard stays empty, your terminal refuses OSC 52: select it here)"),
    );
    vec![Effect::Copy { text }]
}

fn open_copy_menu(state: &mut State) -> Vec<Effect> {
    let Some(request) = selected_request(
        state,
        "nothing to copy: select a request whose document can be read",
    ) else {
        return Vec::new();
    };
    let options = presentation::links(&request)
        .into_iter()
        .map(|link| PickerOption {
            label: format!("{}  {}", link.label, link.text),
            value: Some(link.text),
        })
        .collect();
    state.modals.push(Modal::Picker(Picker::new(
        PickerPurpose::Copy,
        options,
        None,
    )));
    Vec::new()
}

/// Opens the request's most useful page in a browser (a failure comes back as `OpenFailed`).
fn open_link(state: &mut State) -> Vec<Effect> {
    let Some(request) = selected_request(
        state,
        "nothing to open: select a request whose document can be read",
    ) else {
        return Vec::new();
    };
    match presentation::primary_link(&request) {
        Some(link) => {
            state.toast(
                ToastKind::Info,
                format!("opening the {}: {}", link.label, link.text),
            );
            vec![Effect::OpenUrl { url: link.text }]
        }
        None => {
            state.toast(
                ToastKind::Info,
                format!("{} has no pull request or run to open yet", request.id),
            );
            Vec::new()
        }
    }
}

/// An operation key on a request that changed since the user last had it in front of them (or
/// that the selection reached without the user choosing it) shows it instead of acting: the
/// detail pane scrolls to its top and the next press acts. `true` when it did that.
pub fn show_if_changed(state: &mut State, id: &str, operation: Operation) -> bool {
    if !state.changed_since_seen(id) {
        return false;
    }
    let status = now_status(state, id);
    state.detail.scroll = 0;
    state.pane = Pane::List;
    state.mark_seen(id);
    state.toast(
        ToastKind::Info,
        format!(
            "{id} changed since you last looked{status}: read the detail, then press the key again to {}",
            operation.verb()
        ),
    );
    true
}

/// " (now approved)": the status `id` has now, for messages about a change.
pub fn now_status(state: &State, id: &str) -> String {
    state
        .list
        .row(id)
        .and_then(|row| row.status)
        .map(|status| format!(" (now {})", status.as_str()))
        .unwrap_or_default()
}

/// A new selection resets the detail scroll and asks for its events once the selection has
/// rested (holding `j` over a thousand rows reads nothing). The detail pane shows the new
/// selection, so that is the version the user has seen.
pub fn selection_changed(state: &mut State) -> Vec<Effect> {
    if let Some(id) = state.list.selected_id().map(str::to_string) {
        state.mark_seen(&id);
    }
    state.detail.scroll = 0;
    state.detail.pending = state
        .list
        .selected_id()
        .filter(|id| !state.detail.events.contains_key(*id))
        .map(|id| (id.to_string(), state.now));
    Vec::new()
}

pub fn load_events_now(state: &mut State) -> Vec<Effect> {
    let Some(id) = state.list.selected_id().map(str::to_string) else {
        return Vec::new();
    };
    if matches!(
        state.detail.events.get(&id),
        Some(Loadable::Loaded(_) | Loadable::Loading)
    ) {
        return Vec::new();
    }
    state.detail.events.insert(id.clone(), Loadable::Loading);
    state.detail.pending = None;
    let ticket = state.tickets.issue(EffectKey::Events(id.clone()));
    vec![Effect::LoadEvents { ticket, id }]
}

pub fn refresh(state: &mut State) -> Vec<Effect> {
    if state.screen == Screen::Activity {
        return open_activity(state);
    }
    let mut effects = vec![Effect::Poller(Nudge::ListNow)];
    if let Some(id) = state.list.selected_id().map(str::to_string) {
        state.detail.events.remove(&id);
        effects.push(Effect::Sync { id });
        effects.extend(load_events_now(state));
    }
    state.toast(ToastKind::Info, "refreshing");
    effects
}

/// The selected request's document; when there is none (an empty list, an unreadable
/// document), says so with `why` and gives nothing.
pub fn selected_request(state: &mut State, why: &str) -> Option<Arc<Request>> {
    let request = state
        .list
        .selected_row()
        .and_then(|row| row.request.clone());
    if request.is_none() {
        state.toast(ToastKind::Error, why);
    }
    request
}

fn open_log(state: &mut State) -> Vec<Effect> {
    let Some(request) = selected_request(
        state,
        "nothing to show: select a request whose document can be read",
    ) else {
        return Vec::new();
    };
    let Some(source) = log_source(&request) else {
        // Offer the plan key only to someone the policy lets plan it.
        let next = match state.team.access.authorize(
            &state.workspace.user,
            Operation::Plan,
            Subject::of(&request),
        ) {
            Decision::Allowed => "press p to plan it".to_string(),
            Decision::Denied { .. } => format!(
                "its requester ({}) or an approver can plan it",
                request.requested_by
            ),
        };
        state.toast(
            ToastKind::Info,
            format!("{} has no plan or run yet: {next}", request.id),
        );
        return Vec::new();
    };
    let LogSource {
        source,
        title,
        running,
    } = source;
    state.mark_seen(&request.id);
    let mut view = PlanView::loading(&request.id, title, source.clone(), running);
    view.block_id = request.block_id().to_string();
    state.plan = Some(view);
    state.screen = Screen::Plan;
    vec![load_source(state, &request, &source, Duration::ZERO)]
}

/// Reads the plan view's text (after `delay`), replacing whatever read the view had going.
pub fn load_source(
    state: &mut State,
    request: &Request,
    source: &PlanSource,
    delay: Duration,
) -> Effect {
    let ticket = state.tickets.issue(EffectKey::PlanView);
    match source {
        PlanSource::Stored { key } => Effect::LoadStoredPlan {
            ticket,
            key: key.clone(),
        },
        PlanSource::Live { run_id } => Effect::LoadRunLog {
            ticket,
            request: Box::new(request.clone()),
            run_id: *run_id,
            delay,
        },
    }
}

/// Asks for an operation on `id`: refused at once when the policy or the request's facts
/// say no (with their reason), confirmed first when it changes infrastructure.
pub fn request_operation(state: &mut State, id: &str, operation: Operation) -> Vec<Effect> {
    let Some(request) = state.list.row(id).and_then(|row| row.request.clone()) else {
        state.toast(
            ToastKind::Error,
            format!("{id} cannot be read, so it cannot {}", operation.verb()),
        );
        return Vec::new();
    };
    if let Some(running) = state.in_flight.get(id) {
        state.toast(
            ToastKind::Info,
            format!("{} {id} is still running; wait for it", running.verb()),
        );
        return Vec::new();
    }
    if let Some((kind, text)) = refusal(state, &request, operation) {
        state.toast(kind, text);
        return Vec::new();
    }
    if operation.needs_confirmation() {
        state
            .modals
            .push(Modal::Confirm(confirmation(state, &request, operation)));
        return Vec::new();
    }
    start_operation(state, id, operation)
}

/// Why this user cannot do `operation` on `request` now, in the policy's and the facts' own
/// words; `None` when they can. Asked before anything is sent (the engine asks again).
pub fn refusal(
    state: &State,
    request: &Request,
    operation: Operation,
) -> Option<(ToastKind, String)> {
    let verb = operation.verb();
    let subject = Subject::of(request);
    if let Decision::Denied { reason } =
        state
            .team
            .access
            .authorize(&state.workspace.user, operation, subject)
    {
        return Some((ToastKind::Error, format!("{verb} denied: {reason}")));
    }
    match readiness(operation, request) {
        Readiness::Ready => None,
        Readiness::AlreadyDone(reason) => {
            Some((ToastKind::Info, format!("nothing to {verb}: {reason}")))
        }
        Readiness::NotReady(reason) => {
            Some((ToastKind::Error, format!("cannot {verb} yet: {reason}")))
        }
    }
}

pub fn start_operation(state: &mut State, id: &str, operation: Operation) -> Vec<Effect> {
    state.in_flight.insert(id.to_string(), operation);
    state.quit_armed = false;
    vec![Effect::Operation {
        id: id.to_string(),
        operation,
    }]
}

/// Starts the operation a confirmation asked about, with what it gathered (a deployment
/// review's comment, an apply that includes changes outside the request).
pub fn start_confirmed(state: &mut State, confirmation: Confirmation) -> Vec<Effect> {
    let Confirmation {
        id,
        operation,
        comment,
        include_outside,
        ..
    } = confirmation;
    let comment = comment
        .map(|comment| comment.text().trim().to_string())
        .filter(|comment| !comment.is_empty());
    if let Some(verdict) = operation.verdict() {
        state.in_flight.insert(id.clone(), operation);
        state.quit_armed = false;
        return vec![Effect::ReviewDeployment {
            id,
            verdict,
            comment,
        }];
    }
    if operation == Operation::OverridePolicy {
        // The engine asks for a reason; an empty one is refused there, with the words.
        state.in_flight.insert(id.clone(), operation);
        state.quit_armed = false;
        return vec![Effect::OverridePolicy {
            id,
            reason: comment.unwrap_or_default(),
        }];
    }
    if operation == Operation::Withdraw {
        state.in_flight.insert(id.clone(), operation);
        state.quit_armed = false;
        return vec![Effect::Withdraw {
            id,
            reason: comment,
        }];
    }
    if include_outside {
        state.in_flight.insert(id.clone(), operation);
        state.quit_armed = false;
        return vec![Effect::ApplyIncludingOutside { id }];
    }
    start_operation(state, &id, operation)
}

fn confirmation(state: &State, request: &Request, operation: Operation) -> Confirmation {
    let text = presentation::confirmation(request, operation, &state.team.access);
    let then = (operation == Operation::Apply)
        .then(|| presentation::outside_confirmation(request, state.team.infra_repos.as_ref()))
        .flatten()
        .map(|text| {
            Box::new(Confirmation {
                id: request.id.clone(),
                operation,
                title: text.title,
                lines: text.lines,
                typed: None,
                comment: None,
                status: Some(crate::domain::derive_status(request)),
                then: None,
                include_outside: true,
            })
        });
    Confirmation {
        id: request.id.clone(),
        operation,
        title: text.title,
        lines: text.lines,
        typed: text.type_the_id.then(LineInput::default),
        comment: operation.takes_comment().then(LineInput::default),
        status: Some(crate::domain::derive_status(request)),
        then,
        include_outside: false,
    }
}
