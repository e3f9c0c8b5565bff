//! What comes back: poll events, loaded events and plans, finished operations, ticks.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::operation::Operation;
use crate::domain::{Status, Timestamp};
use crate::engine::{Nudge, OpOutcome, OpResult, PollEvent};
use crate::store::EventEntry;
use crate::tui::plan::document::PlanDocument;

use super::super::effect::{Effect, EffectKey, Ticket};
use super::super::msg::{LoadError, OperationFailure};
use super::super::state::{Loadable, State, SyncState, ToastKind};
use super::main_screen::load_events_now;
use super::screens::reload;

/// How long a selection rests before its events are read.
const SELECTION_REST_MS: i64 = 150;

pub fn on_tick(state: &mut State, now: Timestamp) -> Vec<Effect> {
    // Ages and "sync ok 3s ago" are shown to the second: redraw when the second turns.
    let second_changed = state.now.to_unix_seconds() != now.to_unix_seconds();
    state.now = now;
    let before = state.toasts.len();
    state
        .toasts
        .retain(|toast| toast.until.is_none_or(|until| until > now));
    if state.toasts.len() != before {
        state.toasts_changed();
    }
    if state.toasts.len() != before || second_changed {
        state.dirty = true;
    }
    if !state.in_flight.is_empty() {
        state.spinner = state.spinner.wrapping_add(1);
        state.dirty = true;
    }
    let rested = state
        .detail
        .pending
        .as_ref()
        .is_some_and(|(_, since)| (now.0 - since.0).num_milliseconds() >= SELECTION_REST_MS);
    if rested {
        state.dirty = true;
        return load_events_now(state);
    }
    Vec::new()
}

pub fn on_poll(state: &mut State, event: PollEvent) -> Vec<Effect> {
    let listing_changed = matches!(
        event,
        PollEvent::Listed(_) | PollEvent::Cached(_) | PollEvent::Synced(_)
    );
    let effects = poll_event(state, event);
    if listing_changed && state.screen == super::super::state::Screen::Insights {
        state.count_insights();
    }
    effects
}

fn poll_event(state: &mut State, event: PollEvent) -> Vec<Effect> {
    let mut effects = Vec::new();
    match event {
        // Drawn at once; the sync state stays `starting` until the store's own listing lands.
        PollEvent::Cached(entries) => {
            if !state.list.loaded {
                state.list.replace_all(&entries);
                effects.extend(super::main_screen::selection_changed(state));
            }
        }
        PollEvent::Listed(entries) => {
            let first = !state.list.loaded;
            state.list.replace_all(&entries);
            if first {
                effects.extend(super::main_screen::selection_changed(state));
            }
            if !matches!(state.sync, SyncState::BackingOff { .. }) {
                state.sync = SyncState::Ok { at: state.now };
            }
        }
        PollEvent::Synced(report) => {
            let id = report.id.clone();
            let before = state.list.upsert(Arc::new(report.request));
            // What the row shows now (a late, older answer leaves it as it was).
            let Some(status) = state.list.row(&id).and_then(|row| row.status) else {
                return effects;
            };
            state.sync = SyncState::Ok { at: state.now };
            if report.changed {
                state.detail.events.remove(&id);
                if state.list.selected_id() == Some(id.as_str()) {
                    effects.extend(load_events_now(state));
                }
            }
            if before != Some(status) {
                effects.extend(status_changed(state, &id, status));
            }
        }
        PollEvent::Failed { id, error } => {
            let message = if id == "*" {
                error
            } else {
                format!("{id}: {error}")
            };
            state.sync = SyncState::Failing {
                message,
                at: state.now,
            };
        }
        PollEvent::RateLimited { until } => {
            state.sync = SyncState::BackingOff { until };
        }
        PollEvent::Idle => {}
    }
    effects
}

/// A watched run concluded, or the open plan view's request moved on.
fn status_changed(state: &mut State, id: &str, status: Status) -> Vec<Effect> {
    let mut effects = Vec::new();
    if let Some(started) = state.watched.get(id).copied()
        && !status.is_active()
        && status != started
    {
        state.watched.remove(id);
        let kind = if status == Status::Failed {
            ToastKind::Error
        } else {
            ToastKind::Success
        };
        let text = format!("{id} is now {}", status.as_str());
        state.toast(kind, text.clone());
        if state.bell {
            effects.push(Effect::Bell);
        }
        if state.desktop {
            effects.push(Effect::DesktopNotice {
                title: "tfpilot".into(),
                body: text,
            });
        }
    }
    // A plan view on a run that just finished shows the final log, or the stored plan.
    if let Some(plan) = state.plan.as_ref()
        && plan.id == id
        && plan.running
        && !status.is_active()
    {
        effects.extend(reload(state, Duration::ZERO));
    }
    effects
}

pub fn on_events(
    state: &mut State,
    ticket: Ticket,
    result: Result<Vec<EventEntry>, LoadError>,
) -> Vec<Effect> {
    if !state.tickets.is_current(&ticket) {
        return Vec::new();
    }
    state.tickets.finish(&ticket);
    let EffectKey::Events(id) = ticket.key else {
        return Vec::new();
    };
    let loaded = match result {
        Ok(events) => Loadable::Loaded(Arc::new(events)),
        Err(error) => Loadable::Failed(error.to_string()),
    };
    state.detail.events.insert(id, loaded);
    Vec::new()
}

pub fn on_plan(
    state: &mut State,
    ticket: Ticket,
    result: Result<Arc<PlanDocument>, LoadError>,
    running: bool,
) -> Vec<Effect> {
    // An answer for a view since left, or a read since replaced, is not this view's.
    if !state.tickets.is_current(&ticket) {
        return Vec::new();
    }
    state.tickets.finish(&ticket);
    let page = state.page_height();
    let follow_every = state.follow_every;
    let Some(plan) = state.plan.as_mut() else {
        return Vec::new();
    };
    match result {
        Ok(document) => {
            plan.set_document(document, running, page);
            if running && plan.follow {
                return reload(state, follow_every);
            }
        }
        Err(error) => {
            let error = error.to_string();
            if plan.document().is_none() {
                plan.document = Loadable::Failed(error.clone());
            }
            state.toast(ToastKind::Error, format!("cannot read the log: {error}"));
        }
    }
    Vec::new()
}

pub fn on_operation_done(
    state: &mut State,
    id: String,
    operation: Operation,
    result: Result<Box<OpOutcome>, OperationFailure>,
) -> Vec<Effect> {
    state.in_flight.remove(&id);
    if matches!(operation, Operation::Update | Operation::Change) {
        super::forms::on_update_done(state, &id, result.is_ok());
    }
    if state.in_flight.is_empty() {
        state.quit_armed = false;
    }
    match result {
        Ok(outcome) => {
            let kind = match outcome.result {
                OpResult::Done => ToastKind::Success,
                OpResult::AlreadyDone | OpResult::Replayed => ToastKind::Info,
            };
            state.toast(kind, format!("{}: {}", operation.verb(), outcome.message));
            let request = outcome.request;
            let acted_on = request.id.clone();
            let status = crate::domain::derive_status(&request);
            state.list.upsert(Arc::new(request.clone()));
            state.detail.events.remove(&id);
            let mut effects = vec![Effect::Poller(Nudge::SyncSoon(Box::new(request)))];
            if state.list.selected_id() == Some(id.as_str()) {
                // The user sees this change as it lands: it answers their own key.
                state.mark_seen(&id);
                effects.extend(load_events_now(state));
            }
            if status.is_active() {
                // A change reports its change request, which is the one to watch.
                state.watched.insert(acted_on, status);
            }
            effects
        }
        Err(failure) => {
            state.toast(
                ToastKind::Error,
                format!("{} {id}: {}", operation.verb(), failure.message),
            );
            Vec::new()
        }
    }
}
