//! `update` without I/O: each action's effect on the state and the effects it asks for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/dashboard.rs"]
mod dashboard;

use std::sync::Arc;

use crossterm::event::KeyCode;
use dashboard::{
    chars, every_status, id, key, now, open_plan, request, screen, select, send, state,
    with_templates,
};
use tfpilot::domain::access::AccessPolicy;
use tfpilot::domain::operation::Operation;
use tfpilot::domain::{Status, Timestamp};
use tfpilot::engine::{ErrorKind, Nudge, OpOutcome, OpResult, PollEvent, SyncReport};
use tfpilot::tui::effect::{Effect, EffectKey};
use tfpilot::tui::msg::{Msg, OperationFailure};
use tfpilot::tui::plan::document::PlanDocument;
use tfpilot::tui::state::list::SortKey;
use tfpilot::tui::state::modal::Modal;
use tfpilot::tui::state::{Loadable, Pane, Screen, State, SyncState, ToastKind};

fn last_toast(state: &State) -> (ToastKind, String) {
    let toast = state.toasts.last().expect("a toast");
    (toast.kind, toast.text.clone())
}

fn tick(state: &mut State, millis: i64) -> Vec<Effect> {
    let later = Timestamp(state.now.0 + chrono::Duration::milliseconds(millis));
    send(state, Msg::Tick(later))
}

#[test]
fn the_listing_fills_the_list_newest_first() {
    let state = state("alice", &every_status(), 120, 40);
    assert!(state.list.loaded);
    assert_eq!(state.list.total(), 20);
    assert_eq!(state.list.selected_id(), Some(id(0).as_str()));
    assert!(matches!(state.sync, SyncState::Ok { .. }));
    assert_eq!(state.rate.as_ref().map(|r| r.remaining), Some(4990));
}

#[test]
fn moving_clamps_and_scrolls() {
    let mut state = state("alice", &every_status(), 80, 24);
    let rows = state.list_height();
    assert!(rows < 20, "the fixture must not fit at 80x24");
    key(&mut state, KeyCode::Char('k'));
    assert_eq!(state.list.selected(), 0);
    key(&mut state, KeyCode::Char('G'));
    assert_eq!(state.list.selected(), 19);
    assert_eq!(state.list.offset(), 20 - rows);
    key(&mut state, KeyCode::Char('g'));
    assert_eq!((state.list.selected(), state.list.offset()), (0, 0));
    key(&mut state, KeyCode::PageDown);
    assert_eq!(state.list.selected(), rows);
    key(&mut state, KeyCode::Down);
    assert_eq!(state.list.selected(), rows + 1);
    key(&mut state, KeyCode::Up);
    assert_eq!(state.list.selected(), rows);
}

#[test]
fn tab_switches_panes_and_the_detail_pane_scrolls() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Tab);
    assert_eq!(state.pane, Pane::Detail);
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('j'));
    assert_eq!(state.detail.scroll, 2);
    assert_eq!(state.list.selected(), 0, "the list stays put");
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.pane, Pane::List);
}

#[test]
fn typing_a_filter_narrows_as_it_goes_and_escape_restores() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('/'));
    assert!(matches!(state.modals.last(), Some(Modal::Prompt { .. })));
    chars(&mut state, "search prod");
    let visible = state.list.visible_len();
    assert!(visible > 0 && visible < 20, "{visible}");
    for row in state.list.window(0, 20) {
        let request = row.request.as_ref().expect("readable");
        assert_eq!(
            (request.project.as_str(), request.environment.as_str()),
            ("search", "prod")
        );
    }
    key(&mut state, KeyCode::Backspace);
    assert_eq!(state.list.filter.text, "search pro");
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty());
    assert_eq!(state.list.filter.text, "");
    assert_eq!(state.list.visible_len(), 20);
    // Enter keeps what was typed; `q` typed into the field is text, not quit.
    key(&mut state, KeyCode::Char('/'));
    chars(&mut state, "q");
    assert!(!state.quit);
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.text, "q");
    key(&mut state, KeyCode::Char('x'));
    assert!(state.list.filter.is_empty());
}

#[test]
fn status_and_environment_pickers_filter() {
    let mut state = state("bob", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('s'));
    let Some(Modal::Picker(tfpilot::tui::state::modal::Picker { options, .. })) =
        state.modals.last()
    else {
        panic!("a picker");
    };
    let plan_ready = options
        .iter()
        .position(|o| o.value.as_deref() == Some("plan_ready"))
        .expect("plan_ready is offered");
    assert!(
        options[plan_ready].label.contains("(2)"),
        "{:?}",
        options[plan_ready]
    );
    for _ in 0..plan_ready {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.status, Some(Status::PlanReady));
    assert_eq!(state.list.visible_len(), 2);
    key(&mut state, KeyCode::Char('E'));
    let Some(Modal::Picker(tfpilot::tui::state::modal::Picker { options, .. })) =
        state.modals.last()
    else {
        panic!("a picker");
    };
    let prod = options
        .iter()
        .position(|o| o.value.as_deref() == Some("prod"))
        .expect("prod is offered");
    for _ in 0..prod {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.environment.as_deref(), Some("prod"));
    assert_eq!(state.list.visible_len(), 1);
    assert_eq!(state.list.selected_id(), Some(id(2).as_str()));
    key(&mut state, KeyCode::Esc);
    assert!(state.list.filter.is_empty(), "esc clears the filters");
}

#[test]
fn pickers_move_with_j_and_k_narrow_as_typed_and_count() {
    let mut state = state("bob", &every_status(), 120, 40);
    let picker = |state: &State| match state.modals.last() {
        Some(Modal::Picker(picker)) => picker.clone(),
        other => panic!("a picker, not {other:?}"),
    };
    // Environments and projects are offered with their counts.
    key(&mut state, KeyCode::Char('E'));
    let labels: Vec<String> = picker(&state)
        .options
        .iter()
        .map(|o| o.label.clone())
        .collect();
    assert_eq!(labels, ["any environment", "dev (10)", "prod (10)"]);
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('k'));
    assert_eq!(
        picker(&state).chosen().map(|o| o.label.as_str()),
        Some("dev (10)")
    );
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Char('P'));
    assert_eq!(
        picker(&state)
            .options
            .iter()
            .map(|o| o.label.as_str())
            .collect::<Vec<_>>(),
        ["any project", "payments (10)", "search (10)"]
    );
    chars(&mut state, "sea");
    assert_eq!(picker(&state).matches().len(), 1, "typing narrows");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.project.as_deref(), Some("search"));
    assert_eq!(state.list.visible_len(), 10);
    assert!(dashboard::screen(&state).contains("project=search"));
    // The status picker narrows too, and says when nothing matches.
    key(&mut state, KeyCode::Char('s'));
    chars(&mut state, "zzz");
    assert!(picker(&state).matches().is_empty());
    key(&mut state, KeyCode::Enter);
    assert!(
        matches!(state.modals.last(), Some(Modal::Picker(_))),
        "nothing to pick"
    );
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Esc);
    assert!(
        state.toasts.is_empty(),
        "the first esc on the list dismisses the message"
    );
    key(&mut state, KeyCode::Esc);
    assert!(state.list.filter.is_empty());
}

#[test]
fn one_key_views_show_mine_waiting_on_me_and_active() {
    let mut state = state("bob", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('3'));
    let statuses: Vec<Status> = state
        .list
        .window(0, 100)
        .filter_map(|row| row.status)
        .collect();
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| matches!(
            s,
            Status::PlanReady | Status::Approved | Status::Merged | Status::Failed
        )),
        "{statuses:?} (a failed apply can be applied again)"
    );
    assert!(statuses.contains(&Status::PlanReady), "bob approves");
    let screen = dashboard::screen(&state);
    assert!(
        screen.contains(&format!("3 waiting {}", statuses.len())),
        "{screen}"
    );
    key(&mut state, KeyCode::Char('4'));
    assert!(
        state
            .list
            .window(0, 100)
            .all(|row| row.status.is_some_and(Status::is_active))
    );
    assert_eq!(state.list.visible_len(), 6);
    key(&mut state, KeyCode::Char('1'));
    assert_eq!(state.list.visible_len(), 20);
    // A developer's "waiting on me" holds nothing they cannot do: no approvals.
    let mut state = state_for("alice");
    key(&mut state, KeyCode::Char('3'));
    assert!(
        state
            .list
            .window(0, 100)
            .all(|row| row.status != Some(Status::PlanReady)),
    );
    key(&mut state, KeyCode::Char('2'));
    assert!(state.list.visible_len() > 0);
    assert!(state.list.window(0, 100).all(|row| {
        row.request
            .as_ref()
            .is_some_and(|r| r.requested_by == "alice")
    }));
}

fn state_for(user: &str) -> State {
    state(user, &every_status(), 120, 40)
}

#[test]
fn sorting_cycles_and_reverses() {
    let mut state = state("alice", &every_status(), 120, 40);
    assert_eq!(
        (state.list.sort, state.list.descending),
        (SortKey::Created, true)
    );
    key(&mut state, KeyCode::Char('S'));
    assert_eq!(state.list.sort, SortKey::Updated);
    key(&mut state, KeyCode::Char('S'));
    assert_eq!(state.list.sort, SortKey::Status);
    key(&mut state, KeyCode::Char('~'));
    assert!(!state.list.descending);
    let first = state.list.selected_row().and_then(|r| r.status);
    key(&mut state, KeyCode::Char('g'));
    assert_eq!(
        state.list.selected_row().and_then(|r| r.status),
        Some(Status::RequestCreated),
        "{first:?}"
    );
}

#[test]
fn selection_reads_events_once_it_rests() {
    let mut state = state("alice", &every_status(), 120, 40);
    tick(&mut state, 10);
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('j'));
    assert!(tick(&mut state, 50).is_empty(), "still moving");
    let effects = tick(&mut state, 200);
    let [Effect::LoadEvents { id: wanted, ticket }] = effects.as_slice() else {
        panic!("one events read: {effects:?}");
    };
    assert_eq!(*wanted, id(2));
    let ticket = ticket.clone();
    assert!(matches!(
        state.detail.events.get(&id(2)),
        Some(Loadable::Loading)
    ));
    assert!(tick(&mut state, 500).is_empty(), "asked once");
    send(
        &mut state,
        Msg::EventsLoaded {
            ticket,
            result: Ok(Vec::new()),
        },
    );
    assert!(matches!(
        state.detail.events.get(&id(2)),
        Some(Loadable::Loaded(_))
    ));
}

#[test]
fn operations_are_refused_with_the_policy_reason() {
    let mut state = state("alice", &every_status(), 120, 40);
    select(&mut state, &id(2));
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(effects.is_empty());
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Error);
    assert!(text.starts_with("approve denied: "), "{text}");
    assert!(text.contains("alice is a developer"), "{text}");
}

#[test]
fn operations_not_ready_say_why() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(1));
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(effects.is_empty());
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Error);
    assert!(text.starts_with("cannot approve yet"), "{text}");
}

#[test]
fn approve_runs_at_once_and_reports_back() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(
        matches!(effects.as_slice(), [Effect::Operation { id: wanted, operation: Operation::Approve }] if *wanted == id(2)),
        "{effects:?}"
    );
    assert_eq!(state.in_flight.get(&id(2)), Some(&Operation::Approve));
    // A second press while it runs is answered, not sent again.
    assert!(key(&mut state, KeyCode::Char('a')).is_empty());
    let spinner = state.spinner;
    tick(&mut state, 250);
    assert_eq!(state.spinner, spinner + 1);
    let approved = request(2, Status::Approved);
    let effects = send(
        &mut state,
        Msg::OperationDone {
            id: id(2),
            operation: Operation::Approve,
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Approve,
                result: OpResult::Done,
                message: "approved".into(),
                request: approved.clone(),
            })),
        },
    );
    assert!(state.in_flight.is_empty());
    assert_eq!(
        state.list.row(&id(2)).and_then(|r| r.status),
        Some(Status::Approved)
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Poller(Nudge::SyncSoon(r)) if r.id == id(2)))
    );
    assert_eq!(
        last_toast(&state),
        (ToastKind::Success, "approve: approved".into())
    );
}

/// Fixture request `n` in `status`, written `minutes` after the fixture's own version.
fn newer(n: usize, status: Status, minutes: i64) -> tfpilot::domain::Request {
    let mut request = request(n, status);
    request.updated_at = Timestamp(request.updated_at.0 + chrono::Duration::minutes(minutes));
    request
}

/// Fixture request `n`, plan_ready with a new plan (another run, another stored output).
fn replanned(n: usize) -> tfpilot::domain::Request {
    let mut request = newer(n, Status::PlanReady, 2);
    let run = request.plan_run.as_deref_mut().expect("a plan run");
    run.id = run.id.map(|id| id + 500);
    let plan = request.plan.as_deref_mut().expect("a plan");
    plan.output_key = Some(format!("plans/{}/replanned.txt", request.id));
    request
}

fn filter_status(state: &mut State, wanted: &str) {
    key(state, KeyCode::Char('s'));
    let Some(Modal::Picker(tfpilot::tui::state::modal::Picker { options, .. })) =
        state.modals.last()
    else {
        panic!("a picker");
    };
    let at = options
        .iter()
        .position(|o| o.value.as_deref() == Some(wanted))
        .expect("the status is offered");
    for _ in 0..at {
        key(state, KeyCode::Down);
    }
    key(state, KeyCode::Enter);
}

#[test]
fn approving_in_a_filtered_view_keeps_the_selection_on_the_approved_request() {
    let mut state = state("bob", &every_status(), 120, 40);
    filter_status(&mut state, "plan_ready");
    assert_eq!(state.list.visible_len(), 2);
    let approved_id = state.list.selected_id().expect("a selection").to_string();
    let other = [id(2), id(12)]
        .into_iter()
        .find(|candidate| *candidate != approved_id)
        .expect("two plan_ready requests");
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(
        matches!(effects.as_slice(), [Effect::Operation { id, operation: Operation::Approve }] if *id == approved_id),
        "{effects:?}"
    );
    let n = if approved_id == id(2) { 2 } else { 12 };
    send(
        &mut state,
        Msg::OperationDone {
            id: approved_id.clone(),
            operation: Operation::Approve,
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Approve,
                result: OpResult::Done,
                message: "approved".into(),
                request: newer(n, Status::Approved, 1),
            })),
        },
    );
    // The approved request no longer matches `status=plan_ready`, and stays selected, marked.
    assert_eq!(state.list.selected_id(), Some(approved_id.as_str()));
    assert_eq!(state.list.pinned(), Some(approved_id.as_str()));
    assert_eq!(state.list.visible_len(), 2);
    let screen = dashboard::screen(&state);
    assert!(screen.contains("left the filter"), "{screen}");
    assert!(screen.contains('↷'), "{screen}");
    // A second `a` answers about the approved request; the other one is not approved.
    assert!(key(&mut state, KeyCode::Char('a')).is_empty());
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Info);
    assert!(text.starts_with("nothing to approve"), "{text}");
    // Moving lets it go; the next request is chosen by the user's key.
    key(&mut state, KeyCode::Char('j'));
    assert_eq!(state.list.selected_id(), Some(other.as_str()));
    assert_eq!(state.list.pinned(), None);
    assert_eq!(state.list.visible_len(), 1);
}

#[test]
fn an_operation_key_on_a_request_that_changed_under_the_selection_shows_it_first() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    // A new plan lands while the approver is on the request.
    send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(SyncReport {
            id: id(2),
            status: Status::PlanReady,
            changed: true,
            changes: vec!["plan run completed".into()],
            request: replanned(2),
        }))),
    );
    state.detail.scroll = 5;
    assert!(
        key(&mut state, KeyCode::Char('a')).is_empty(),
        "not sent yet"
    );
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Info);
    assert!(
        text.contains("changed since you last looked (now plan_ready)"),
        "{text}"
    );
    assert_eq!(state.detail.scroll, 0, "the detail shows it from the top");
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Approve,
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn a_change_that_has_been_on_screen_a_moment_counts_as_seen() {
    let mut state = state_with_change_shown_for(500);
    assert!(
        key(&mut state, KeyCode::Char('a')).is_empty(),
        "too soon to have read it"
    );
    let mut state = state_with_change_shown_for(2_000);
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Approve,
                ..
            }]
        ),
        "{effects:?}"
    );
}

fn state_with_change_shown_for(millis: i64) -> State {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(SyncReport {
            id: id(2),
            status: Status::PlanReady,
            changed: true,
            changes: vec!["plan run completed".into()],
            request: replanned(2),
        }))),
    );
    tick(&mut state, millis);
    state
}

#[test]
fn a_sync_that_changes_nothing_an_approver_decides_on_does_not_stand_in_the_way() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(SyncReport {
            id: id(2),
            status: Status::PlanReady,
            changed: true,
            changes: vec!["synced".into()],
            request: newer(2, Status::PlanReady, 2),
        }))),
    );
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Approve,
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn approving_from_a_plan_view_whose_request_changed_since_it_opened_is_refused() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    open_plan(&mut state);
    send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(SyncReport {
            id: id(2),
            status: Status::PlanReady,
            changed: true,
            changes: vec!["plan run completed".into()],
            request: replanned(2),
        }))),
    );
    assert!(key(&mut state, KeyCode::Char('a')).is_empty());
    assert!(
        last_toast(&state)
            .1
            .contains("changed since this view opened"),
        "{:?}",
        last_toast(&state)
    );
}

#[test]
fn esc_on_a_filled_create_form_asks_before_throwing_it_away() {
    let mut state = state("alice", &every_status(), 120, 40);
    // Nothing typed: esc closes at once.
    key(&mut state, KeyCode::Char('c'));
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty());
    key(&mut state, KeyCode::Char('c'));
    // Down to the first module field, and type into it.
    for _ in 0..3 {
        key(&mut state, KeyCode::Down);
    }
    chars(&mut state, "api");
    key(&mut state, KeyCode::Esc);
    assert!(
        matches!(state.modals.last(), Some(Modal::Discard(_))),
        "asks first"
    );
    assert!(dashboard::screen(&state).contains("discard the new request?"));
    // n keeps editing, with what was typed.
    key(&mut state, KeyCode::Char('n'));
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("still the create form");
    };
    assert!(
        form.values().values().any(|v| v == "api"),
        "{:?}",
        form.values()
    );
    // y discards.
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Char('y'));
    assert!(state.modals.is_empty());
    assert_eq!(
        last_toast(&state),
        (
            ToastKind::Info,
            "create cancelled: nothing was written".into()
        )
    );
}

#[test]
fn esc_on_an_edited_config_asks_before_throwing_the_edit_away() {
    let mut state = state("alice", &every_status(), 120, 40);
    select(&mut state, &id(12));
    key(&mut state, KeyCode::Char('e'));
    assert!(matches!(state.modals.last(), Some(Modal::Edit(_))));
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty(), "unchanged: esc closes at once");
    key(&mut state, KeyCode::Char('e'));
    chars(&mut state, "x");
    key(&mut state, KeyCode::Esc);
    assert!(matches!(state.modals.last(), Some(Modal::Discard(_))));
    key(&mut state, KeyCode::Esc);
    assert!(
        matches!(state.modals.last(), Some(Modal::Edit(_))),
        "esc keeps editing"
    );
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Char('y'));
    assert!(state.modals.is_empty());
    assert_eq!(last_toast(&state).1, "edit cancelled: nothing was saved");
}

#[test]
fn q_closes_the_plan_view_and_pages_and_quits_only_from_the_list() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    open_plan(&mut state);
    key(&mut state, KeyCode::Char('q'));
    assert_eq!(state.screen, Screen::Main);
    assert!(state.plan.is_none());
    assert!(!state.quit);
    key(&mut state, KeyCode::Char('v'));
    assert_eq!(state.screen, Screen::Events);
    key(&mut state, KeyCode::Char('q'));
    assert_eq!(state.screen, Screen::Main);
    assert!(!state.quit);
    key(&mut state, KeyCode::Char('q'));
    assert!(state.quit);
}

fn ctrl(state: &mut State, c: char) -> Vec<Effect> {
    use crossterm::event::{KeyEvent, KeyModifiers};
    send(
        state,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

#[test]
fn text_fields_edit_like_a_shell_line() {
    let mut state = state("alice", &every_status(), 120, 40);
    // The filter: type, go home, insert, kill words, undo.
    key(&mut state, KeyCode::Char('/'));
    chars(&mut state, "prod alice");
    key(&mut state, KeyCode::Home);
    chars(&mut state, "x");
    let text = |state: &State| match state.modals.last() {
        Some(Modal::Prompt { input, .. }) => input.text().to_string(),
        other => panic!("the filter prompt, not {other:?}"),
    };
    assert_eq!(text(&state), "xprod alice");
    assert_eq!(state.list.filter.text, "xprod alice", "applied as typed");
    ctrl(&mut state, 'a');
    key(&mut state, KeyCode::Delete);
    ctrl(&mut state, 'e');
    ctrl(&mut state, 'w');
    assert_eq!(text(&state), "prod ");
    ctrl(&mut state, 'u');
    assert_eq!(text(&state), "");
    ctrl(&mut state, 'z');
    assert_eq!(text(&state), "prod ");
    assert_eq!(state.list.filter.text, "prod ");
    key(&mut state, KeyCode::Enter);
    // The create form's text field: the cursor moves inside it, a paste lands at the cursor.
    key(&mut state, KeyCode::Char('c'));
    for _ in 0..3 {
        key(&mut state, KeyCode::Down);
    }
    chars(&mut state, "api-prod");
    for _ in 0..4 {
        key(&mut state, KeyCode::Left);
    }
    send(&mut state, Msg::Paste("v2-\n".into()));
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    let field = &form.fields[form.focus];
    assert!(
        matches!(&field.input, tfpilot::tui::state::form::Input::Text(line) if line.text() == "api-v2-prod"),
        "{field:?}"
    );
}

#[test]
fn failures_from_the_engine_are_toasts() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    key(&mut state, KeyCode::Char('p'));
    send(
        &mut state,
        Msg::OperationDone {
            id: id(2),
            operation: Operation::Plan,
            result: Err(OperationFailure {
                kind: ErrorKind::Locked,
                message: "locked by carol@bastion pid 7 (apply) until 12:02:00".into(),
            }),
        },
    );
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Error);
    assert!(text.contains("locked by carol@bastion"), "{text}");
    assert!(state.in_flight.is_empty());
}

#[test]
fn merge_asks_first_and_n_cancels() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(3));
    assert!(key(&mut state, KeyCode::Char('m')).is_empty());
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.operation, Operation::Merge);
    assert!(confirmation.typed.is_none());
    key(&mut state, KeyCode::Char('n'));
    assert!(state.modals.is_empty());
    assert!(state.in_flight.is_empty());
    key(&mut state, KeyCode::Char('m'));
    let effects = key(&mut state, KeyCode::Char('y'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Merge,
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn a_deployment_review_asks_for_a_comment_and_sends_it() {
    let mut requests = every_status();
    requests[5] = dashboard::waiting_for_review(5);
    let mut state = state("bob", &requests, 120, 40);
    // An apply that does not wait has nothing to review.
    select(&mut state, &id(15));
    assert!(key(&mut state, KeyCode::Char('V')).is_empty());
    let (kind, text) = last_toast(&state);
    assert_eq!(kind, ToastKind::Error);
    assert!(
        text.contains("no apply or destroy run of this request waits"),
        "{text}"
    );
    select(&mut state, &id(5));
    assert!(key(&mut state, KeyCode::Char('V')).is_empty());
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.operation, Operation::ApproveDeployment);
    assert_eq!(confirmation.comment.as_ref().map(|c| c.text()), Some(""));
    assert!(
        confirmation
            .lines
            .iter()
            .any(|line| line.contains("waiting for prod deployment review: bob, admin")),
        "{:?}",
        confirmation.lines
    );
    // Letters are typed into the comment (`y` and `n` included), esc cancels.
    chars(&mut state, "no rush");
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty());
    assert!(state.in_flight.is_empty());
    key(&mut state, KeyCode::Char('R'));
    chars(&mut state, "not in the freeze");
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::ReviewDeployment {
                verdict: tfpilot::domain::deployment::Verdict::Reject,
                comment: Some(comment),
                ..
            }] if comment == "not in the freeze"
        ),
        "{effects:?}"
    );
    assert_eq!(
        state.in_flight.get(&id(5)),
        Some(&Operation::RejectDeployment)
    );
}

#[test]
fn a_whole_root_apply_that_changes_more_asks_twice() {
    let mut merged = request(4, Status::Merged);
    if let Some(plan) = merged.plan.as_deref_mut() {
        plan.request = Some(tfpilot::domain::attribution::ChangeCounts {
            add: 2,
            change: 0,
            destroy: 0,
        });
        plan.outside = Some(tfpilot::domain::attribution::OutsideChanges {
            counts: tfpilot::domain::attribution::ChangeCounts {
                add: 1,
                change: 0,
                destroy: 0,
            },
            addresses: vec!["module.tfpilot_req_other.aws_s3_bucket.this".into()],
        });
    }
    let mut requests = every_status();
    requests[4] = merged;
    let mut state = state("bob", &requests, 120, 40);
    select(&mut state, &id(4));
    // Request targeting (the default): one question, a plain apply, the outside flagged.
    key(&mut state, KeyCode::Char('A'));
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert!(confirmation.then.is_none());
    assert!(
        confirmation
            .lines
            .iter()
            .any(|line| line.contains("OUTSIDE this request")),
        "{:?}",
        confirmation.lines
    );
    key(&mut state, KeyCode::Esc);
    // Whole-root runs: a second question, then an apply that includes the outside changes.
    let mut team = (*state.team).clone();
    team.infra_repos
        .as_mut()
        .expect("the example registry")
        .repositories
        .insert(
            "acme/payments-infra".into(),
            tfpilot::domain::registry::RepoSettings {
                targeting: tfpilot::domain::registry::Targeting::Root,
            },
        );
    state.team = Arc::new(team);
    key(&mut state, KeyCode::Char('A'));
    assert!(key(&mut state, KeyCode::Char('y')).is_empty());
    let Some(Modal::Confirm(second)) = state.modals.last() else {
        panic!("a second confirmation");
    };
    assert!(second.title.contains("OUTSIDE"), "{}", second.title);
    assert!(
        second
            .lines
            .iter()
            .any(|line| line.contains("module.tfpilot_req_other.aws_s3_bucket.this")),
        "{:?}",
        second.lines
    );
    let effects = key(&mut state, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::ApplyIncludingOutside { id: applied }] if *applied == id(4)),
        "{effects:?}"
    );
}

#[test]
fn a_failed_log_opens_at_its_first_error() {
    let mut state = state("alice", &every_status(), 120, 30);
    select(&mut state, &id(9));
    let mut text = String::new();
    for line in 0..80 {
        text.push_str(&format!(
            "2026-01-01T00:00:00.0000000Z step output {line}\n"
        ));
    }
    text.push_str(
        "2026-01-01T00:00:00.0000000Z ##[error]creating S3 Bucket: BucketAlreadyExists\n",
    );
    for line in 0..40 {
        text.push_str(&format!("2026-01-01T00:00:00.0000000Z cleanup {line}\n"));
    }
    let document = tfpilot::tui::plan::document::PlanDocument::build(&text);
    dashboard::open_plan_with(&mut state, Arc::new(document));
    let plan = state.plan.as_ref().expect("the log view");
    let top = plan.rows[plan.top()].line;
    let document = plan.document().expect("loaded");
    let error = document
        .lines
        .iter()
        .position(|line| line.text.contains("##[error]"))
        .expect("an error line");
    let page = state.page_height();
    assert!(
        top <= error && error < top + page,
        "the error (line {error}) is on screen (from line {top}, {page} rows)"
    );
}

#[test]
fn cancel_asks_first_and_names_the_run() {
    // Fixture 1 has a plan running; bob approves, so he may cancel it and others' applies.
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(1));
    assert!(key(&mut state, KeyCode::Char('X')).is_empty());
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.operation, Operation::Cancel);
    assert!(
        confirmation
            .lines
            .iter()
            .any(|line| line.contains("Cancels the plan run 1001")),
        "{:?}",
        confirmation.lines
    );
    let effects = key(&mut state, KeyCode::Char('y'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Cancel,
                ..
            }]
        ),
        "{effects:?}"
    );
    // An apply that runs is not cancelled: the reason comes at once.
    select(&mut state, &id(5));
    assert!(key(&mut state, KeyCode::Char('X')).is_empty());
    let (_, text) = last_toast(&state);
    assert!(text.contains("the apply is running"), "{text}");
}

#[test]
fn prod_destroy_needs_the_id_typed() {
    let mut state = state("erin", &every_status(), 120, 40);
    select(&mut state, &id(6));
    key(&mut state, KeyCode::Char('D'));
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.typed.as_ref().map(|t| t.text()), Some(""));
    // `y` is just a letter here, and enter does nothing until the id matches.
    key(&mut state, KeyCode::Char('y'));
    assert!(key(&mut state, KeyCode::Enter).is_empty());
    assert!(!state.modals.is_empty());
    key(&mut state, KeyCode::Backspace);
    chars(&mut state, &id(6));
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::Destroy,
                ..
            }]
        ),
        "{effects:?}"
    );
    assert!(state.modals.is_empty());
}

#[test]
fn dev_destroy_is_a_plain_confirmation() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(16));
    key(&mut state, KeyCode::Char('D'));
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert!(confirmation.typed.is_none());
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty());
    assert!(last_toast(&state).1.contains("nothing was changed"));
}

#[test]
fn enter_opens_the_stored_plan_and_esc_closes_it() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    let effects = key(&mut state, KeyCode::Enter);
    let key_name = format!("plans/{}/1002.txt", id(2));
    assert!(
        matches!(effects.as_slice(), [Effect::LoadStoredPlan { key, .. }] if *key == key_name),
        "{effects:?}"
    );
    assert_eq!(state.screen, Screen::Plan);
    let document = Arc::new(PlanDocument::build(dashboard::PLAN));
    send(
        &mut state,
        Msg::PlanLoaded {
            ticket: dashboard::plan_ticket(&effects),
            result: Ok(document.clone()),
            running: false,
        },
    );
    let plan = state.plan.as_ref().expect("plan view");
    assert!(plan.document().is_some());
    // Risky blocks open, the rest folded.
    for (block, folded) in document.resources.iter().zip(&plan.folded) {
        assert_eq!(*folded, !block.action.is_risky(), "{}", block.address);
    }
    assert!(plan.rows.len() < document.lines.len());
    key(&mut state, KeyCode::Char('Z'));
    assert_eq!(
        state.plan.as_ref().map(|p| p.rows.len()),
        Some(document.lines.len())
    );
    key(&mut state, KeyCode::Char('M'));
    let folded_rows = state
        .plan
        .as_ref()
        .map(|p| p.rows.len())
        .unwrap_or_default();
    assert!(folded_rows < document.lines.len());
    let effects = key(&mut state, KeyCode::Esc);
    assert_eq!(state.screen, Screen::Main);
    assert!(state.plan.is_none());
    assert!(
        matches!(effects.as_slice(), [Effect::Cancel(EffectKey::PlanView)]),
        "leaving the view cancels its read: {effects:?}"
    );
}

/// Leaving a followed log for the insights page stops its reads too (before, the follow went on
/// reading every two seconds behind the page).
#[test]
fn leaving_a_followed_log_for_insights_cancels_its_reads() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(5));
    let effects = key(&mut state, KeyCode::Char('l'));
    let ticket = dashboard::plan_ticket(&effects);
    let effects = key(&mut state, KeyCode::Char('i'));
    assert_eq!(state.screen, Screen::Insights);
    assert!(state.plan.is_none());
    assert!(
        matches!(effects.as_slice(), [Effect::Cancel(EffectKey::PlanView)]),
        "{effects:?}"
    );
    let late = send(
        &mut state,
        Msg::PlanLoaded {
            ticket,
            result: Ok(Arc::new(PlanDocument::build("line\n"))),
            running: true,
        },
    );
    assert!(late.is_empty(), "no next read: {late:?}");
}

#[test]
fn a_stale_plan_answer_is_dropped() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(12));
    let first = key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Esc);
    select(&mut state, &id(2));
    let second = key(&mut state, KeyCode::Enter);
    // The answer to the view that was left arrives late: it is not this view's.
    send(
        &mut state,
        Msg::PlanLoaded {
            ticket: dashboard::plan_ticket(&first),
            result: Ok(Arc::new(PlanDocument::build("from the first view\n"))),
            running: false,
        },
    );
    assert!(state.plan.as_ref().is_some_and(|p| p.document().is_none()));
    send(
        &mut state,
        Msg::PlanLoaded {
            ticket: dashboard::plan_ticket(&second),
            result: Ok(Arc::new(PlanDocument::build(dashboard::PLAN))),
            running: false,
        },
    );
    assert!(state.plan.as_ref().is_some_and(|p| p.document().is_some()));
}

#[test]
fn plan_search_jumps_and_unfolds() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    open_plan(&mut state);
    key(&mut state, KeyCode::Char('/'));
    chars(&mut state, "git_clone_url");
    key(&mut state, KeyCode::Enter);
    let plan = state.plan.as_ref().expect("plan view");
    assert_eq!(plan.search, "git_clone_url");
    assert!(!plan.matches.is_empty());
    assert_eq!(plan.current_match, Some(0));
    let line = plan.matches[0];
    assert!(
        plan.rows.iter().any(|row| row.line == line),
        "the match's block was unfolded"
    );
    let count = plan.matches.len();
    key(&mut state, KeyCode::Char('n'));
    assert_eq!(
        state.plan.as_ref().and_then(|p| p.current_match),
        Some(1 % count)
    );
    key(&mut state, KeyCode::Char('N'));
    assert_eq!(state.plan.as_ref().and_then(|p| p.current_match), Some(0));
}

/// A whole-root plan: two of request 2's resources around one outside it.
fn mixed_plan() -> String {
    let label = tfpilot::domain::infra_file::module_label(&id(2));
    let block = |address: &str, verb: &str, mark: &str, kind: &str| {
        format!(
            "  # {address} will be {verb}\n  {mark} resource \"{kind}\" \"this\" {{\n      {mark} name = \"a\"\n    }}\n\n"
        )
    };
    [
        "Terraform will perform the following actions:\n\n".to_string(),
        block(
            &format!("module.{label}.aws_s3_bucket.this"),
            "created",
            "+",
            "aws_s3_bucket",
        ),
        block("aws_iam_role.ci", "updated in-place", "~", "aws_iam_role"),
        block(
            &format!("module.{label}.aws_s3_bucket_policy.this"),
            "created",
            "+",
            "aws_s3_bucket_policy",
        ),
        "Plan: 2 to add, 1 to change, 0 to destroy.\n".to_string(),
    ]
    .concat()
}

#[test]
fn the_plan_cursor_moves_folds_and_jumps_between_resources_and_owners() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    let document = PlanDocument::build(&mixed_plan());
    dashboard::open_plan_with(&mut state, Arc::new(document));
    let line_at_cursor = |state: &State| {
        let plan = state.plan.as_ref().expect("plan view");
        let document = plan.document().expect("loaded");
        document.lines[plan.cursor_line().expect("a cursor")]
            .text
            .clone()
    };
    assert!(line_at_cursor(&state).starts_with("Terraform will perform"));
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('j'));
    assert!(line_at_cursor(&state).contains("aws_s3_bucket.this will be created"));
    // ] and [ move between resource headers.
    key(&mut state, KeyCode::Char(']'));
    assert!(line_at_cursor(&state).contains("aws_iam_role.ci"));
    key(&mut state, KeyCode::Char('['));
    assert!(line_at_cursor(&state).contains("aws_s3_bucket.this"));
    // } crosses to the change outside the request, and back to the request's next one.
    key(&mut state, KeyCode::Char('}'));
    assert!(line_at_cursor(&state).contains("aws_iam_role.ci"));
    key(&mut state, KeyCode::Char('}'));
    assert!(line_at_cursor(&state).contains("aws_s3_bucket_policy.this"));
    key(&mut state, KeyCode::Char('}'));
    assert_eq!(last_toast(&state).1, "no change of the other side that way");
    key(&mut state, KeyCode::Char('{'));
    assert!(line_at_cursor(&state).contains("aws_iam_role.ci"));
    // Space folds the block under the cursor and unfolds it again.
    let rows = state.plan.as_ref().map(|p| p.rows.len()).unwrap_or(0);
    key(&mut state, KeyCode::Char(' '));
    let folded = state.plan.as_ref().map(|p| p.rows.len()).unwrap_or(0);
    assert_ne!(folded, rows, "one block changed its fold");
    assert!(
        line_at_cursor(&state).contains("aws_iam_role.ci"),
        "the cursor stays on its header"
    );
    key(&mut state, KeyCode::Char('z'));
    assert_eq!(state.plan.as_ref().map(|p| p.rows.len()), Some(rows));
    // The cursor line is drawn highlighted.
    let terminal = dashboard::terminal(&state, &tfpilot::tui::theme::Theme::default_theme());
    let buffer = terminal.backend().buffer().clone();
    let selection = tfpilot::tui::theme::Theme::default_theme()
        .style(tfpilot::tui::theme::Role::Selection)
        .bg;
    let highlighted: Vec<u16> = (0..buffer.area.height)
        .filter(|y| buffer[(10, *y)].bg == selection.unwrap_or_default())
        .collect();
    assert_eq!(highlighted.len(), 1, "one cursor row: {highlighted:?}");
}

#[test]
fn a_running_log_is_followed_until_the_run_ends() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(5));
    let effects = key(&mut state, KeyCode::Char('l'));
    assert!(
        matches!(effects.as_slice(), [Effect::LoadRunLog { run_id: 2005, delay, .. }] if delay.is_zero()),
        "{effects:?}"
    );
    let plan = state.plan.as_ref().expect("plan view");
    assert!(plan.follow && plan.running);
    let text = (0..200).map(|i| format!("line {i}\n")).collect::<String>();
    let effects = send(
        &mut state,
        Msg::PlanLoaded {
            ticket: dashboard::plan_ticket(&effects),
            result: Ok(Arc::new(PlanDocument::build(&text))),
            running: true,
        },
    );
    let pending = dashboard::plan_ticket(&effects);
    assert!(
        matches!(effects.as_slice(), [Effect::LoadRunLog { delay, .. }] if !delay.is_zero()),
        "asks again later: {effects:?}"
    );
    let page = state.page_height();
    assert_eq!(
        state.plan.as_ref().map(|p| p.top()),
        Some(200 - page),
        "tailing"
    );
    // Scrolling up stops following; f starts again.
    key(&mut state, KeyCode::Char('k'));
    assert!(!state.plan.as_ref().is_some_and(|p| p.follow));
    let effects = key(&mut state, KeyCode::Char('f'));
    assert!(matches!(effects.as_slice(), [Effect::LoadRunLog { .. }]));
    // The read `f` started replaces the delayed one: an answer from that one is dropped and
    // starts nothing (two answers would mean two loops).
    let dropped = send(
        &mut state,
        Msg::PlanLoaded {
            ticket: pending,
            result: Ok(Arc::new(PlanDocument::build(&text))),
            running: true,
        },
    );
    assert!(dropped.is_empty(), "{dropped:?}");
    let effects = send(
        &mut state,
        Msg::PlanLoaded {
            ticket: dashboard::plan_ticket(&effects),
            result: Ok(Arc::new(PlanDocument::build(&text))),
            running: false,
        },
    );
    assert!(effects.is_empty(), "a finished run is not read again");
}

#[test]
fn poll_events_update_rows_sync_state_and_watched_runs() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(3));
    key(&mut state, KeyCode::Char('b'));
    assert!(state.bell);
    state.desktop = true;
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Char('y'));
    let applying = request(3, Status::Applying);
    send(
        &mut state,
        Msg::OperationDone {
            id: id(3),
            operation: Operation::Merge,
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Merge,
                result: OpResult::Done,
                message: "merged".into(),
                request: applying,
            })),
        },
    );
    assert_eq!(state.watched.get(&id(3)), Some(&Status::Applying));
    let report = |status: Status| SyncReport {
        id: id(3),
        status,
        changed: true,
        changes: vec!["apply run completed".into()],
        request: request(3, status),
    };
    let effects = send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(report(Status::Applied)))),
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Bell)),
        "{effects:?}"
    );
    let notice = effects.iter().find_map(|e| match e {
        Effect::DesktopNotice { title, body } => Some((title.clone(), body.clone())),
        _ => None,
    });
    assert_eq!(
        notice,
        Some(("tfpilot".into(), format!("{} is now applied", id(3))))
    );
    assert!(state.watched.is_empty());
    assert_eq!(last_toast(&state).1, format!("{} is now applied", id(3)));
    assert_eq!(
        state.list.row(&id(3)).and_then(|r| r.status),
        Some(Status::Applied)
    );

    let until = Timestamp(now().0 + chrono::Duration::minutes(5));
    send(
        &mut state,
        Msg::Poll(PollEvent::RateLimited { until: Some(until) }),
    );
    assert_eq!(state.sync, SyncState::BackingOff { until: Some(until) });
    send(
        &mut state,
        Msg::Poll(PollEvent::Failed {
            id: "*".into(),
            error: "store unreachable".into(),
        }),
    );
    assert!(
        matches!(&state.sync, SyncState::Failing { message, .. } if message == "store unreachable")
    );
}

#[test]
fn desktop_notices_cannot_break_out_of_their_escape_sequence() {
    let bytes =
        tfpilot::tui::effect::desktop_notice_bytes("tfpilot", "req_1 \x1b]0;owned\x07; done");
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text,
        "\x1b]777;notify;tfpilot;req_1 ]0owned done\x1b\\\x1b]9;tfpilot: req_1 ]0owned done\x07"
    );
}

#[test]
fn focus_and_resize_reach_the_poller_and_the_layout() {
    let mut state = state("alice", &every_status(), 120, 40);
    let effects = send(&mut state, Msg::FocusChanged(false));
    assert!(matches!(effects.as_slice(), [Effect::SetFocus(false)]));
    assert!(!state.focused);
    key(&mut state, KeyCode::Char('G'));
    send(
        &mut state,
        Msg::Resize {
            width: 80,
            height: 14,
        },
    );
    let rows = state.list_height();
    assert!(state.list.selected() >= state.list.offset());
    assert!(state.list.selected() < state.list.offset() + rows);
}

#[test]
fn refresh_syncs_the_selection_and_lists_now() {
    let mut state = state("alice", &every_status(), 120, 40);
    let effects = key(&mut state, KeyCode::Char('r'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Poller(Nudge::ListNow)))
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Sync { id: wanted } if *wanted == id(0)))
    );
}

#[test]
fn palette_finds_actions_fuzzily_and_runs_them() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, "insght");
    key(&mut state, KeyCode::Enter);
    assert!(state.modals.is_empty());
    assert_eq!(state.screen, Screen::Insights);
    let insights = state.insights.as_ref().expect("counted");
    assert_eq!(insights.total, 20);
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.screen, Screen::Main);
}

#[test]
fn the_palette_jumps_to_a_request_by_id_prefix_and_sets_filters() {
    use tfpilot::tui::state::palette::PaletteEntry;
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(0));
    // A unique id prefix puts its request first; enter selects it.
    let wanted = id(13);
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, &wanted[..18]);
    let Some(Modal::Palette(palette)) = state.modals.last() else {
        panic!("the palette");
    };
    assert!(
        matches!(palette.matches.first(), Some(PaletteEntry::Request { id, .. }) if *id == wanted),
        "{:?}",
        palette.matches.first()
    );
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.selected_id(), Some(wanted.as_str()));
    // A request the filters hide is still reached: the filters go.
    filter_status(&mut state, "planning");
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, &id(6)[..18]);
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.selected_id(), Some(id(6).as_str()));
    assert!(state.list.filter.is_empty());
    // Filters by name, fuzzily.
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, "env prod");
    let Some(Modal::Palette(palette)) = state.modals.last() else {
        panic!("the palette");
    };
    assert_eq!(
        palette.matches.first(),
        Some(&PaletteEntry::Environment("prod".into()))
    );
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.environment.as_deref(), Some("prod"));
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, "status plan_rdy");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.list.filter.status, Some(Status::PlanReady));
    assert_eq!(state.list.visible_len(), 1);
}

#[test]
fn y_copies_the_id_capital_y_offers_links_and_o_opens_the_page_that_matters() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(5));
    let effects = key(&mut state, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Copy { text }] if *text == id(5)),
        "{effects:?}"
    );
    assert!(
        last_toast(&state)
            .1
            .starts_with(&format!("copied the request id: {}", id(5)))
    );
    // The menu lists the pull request, each run, and the show command.
    key(&mut state, KeyCode::Char('Y'));
    let Some(Modal::Picker(picker)) = state.modals.last() else {
        panic!("the copy menu");
    };
    let labels: Vec<&str> = picker
        .options
        .iter()
        .map(|o| o.label.split("  ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        [
            "request id",
            "pull request",
            "plan run",
            "apply run",
            "show command"
        ]
    );
    chars(&mut state, "pull");
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Copy { text }] if text == "https://github.com/acme/payments-infra/pull/105"),
        "{effects:?}"
    );
    // Request 5 is applying: `o` opens the apply run, not the pull request.
    let effects = key(&mut state, KeyCode::Char('o'));
    assert!(
        matches!(effects.as_slice(), [Effect::OpenUrl { url }] if url == "https://github.com/acme/payments-infra/actions/runs/2005"),
        "{effects:?}"
    );
    // No browser here: the URL is copied instead, and the toast says why.
    let effects = send(
        &mut state,
        Msg::OpenFailed {
            url: "https://github.com/acme/payments-infra/actions/runs/2005".into(),
            reason: "this is an SSH session and $BROWSER is not set".into(),
        },
    );
    assert!(matches!(effects.as_slice(), [Effect::Copy { .. }]));
    assert!(
        last_toast(&state)
            .1
            .starts_with("no browser here (this is an SSH session")
    );
}

#[test]
fn only_web_addresses_from_a_document_reach_a_browser() {
    use tfpilot::tui::effect::openable;
    assert!(openable("https://github.com/acme/infra/pull/7").is_ok());
    assert!(openable("http://127.0.0.1:8080/acme/infra/actions/runs/9").is_ok());
    for forged in [
        "file:///etc/passwd",
        "--new-window=evil",
        "javascript:alert(1)",
        "https://",
        "https://github.com/a b",
        "https://github.com/\u{1b}]0;x",
    ] {
        assert!(openable(forged).is_err(), "{forged}");
    }
}

#[test]
fn the_clipboard_sequence_is_osc_52_and_cannot_be_broken_out_of() {
    use base64::Engine as _;
    let bytes = tfpilot::tui::effect::clipboard_bytes("req_1\x07\x1b]0;owned\x07");
    let text = String::from_utf8(bytes).expect("ascii");
    let payload = text
        .strip_prefix("\x1b]52;c;")
        .and_then(|rest| rest.strip_suffix('\x07'))
        .expect("one OSC 52 sequence");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64");
    assert_eq!(decoded, b"req_1]0;owned");
}

#[test]
fn commands_the_policy_refuses_are_greyed_with_the_reason() {
    use ratatui::style::Modifier;
    let mut state = state("alice", &every_status(), 160, 40);
    select(&mut state, &id(2));
    // The footer: approve is crossed out for a developer, plan is not.
    let terminal = dashboard::terminal(&state, &tfpilot::tui::theme::Theme::default_theme());
    let buffer = terminal.backend().buffer().clone();
    let footer = buffer.area.height - 1;
    let text: String = (0..buffer.area.width)
        .map(|x| buffer[(x, footer)].symbol().to_string())
        .collect();
    let at = |needle: &str| text.find(needle).expect(needle) as u16;
    assert!(
        buffer[(at("approve") + 1, footer)]
            .modifier
            .contains(Modifier::CROSSED_OUT),
        "{text}"
    );
    assert!(
        !buffer[(at("plan") + 1, footer)]
            .modifier
            .contains(Modifier::CROSSED_OUT),
        "{text}"
    );
    // The palette says why.
    key(&mut state, KeyCode::Char(':'));
    chars(&mut state, "approve");
    let screen = dashboard::screen(&state);
    assert!(
        screen.contains("denied: only approvers and admins can approve"),
        "{screen}"
    );
}

#[test]
fn h_shows_the_team_activity_newest_first() {
    use tfpilot::domain::LifecycleEvent;
    let mut state = state("bob", &every_status(), 120, 40);
    let effects = key(&mut state, KeyCode::Char('H'));
    assert_eq!(state.screen, Screen::Activity);
    let (ticket, ids) = effects
        .iter()
        .find_map(|effect| match effect {
            Effect::LoadActivity { ticket, ids } => Some((ticket.clone(), ids.clone())),
            _ => None,
        })
        .expect("the feed is read");
    // The most recently changed requests are read first (request n changed n minutes ago).
    assert_eq!(ids[..3], [id(0), id(1), id(2)]);
    assert!(dashboard::screen(&state).contains("reading…"));
    let event = |n: usize, kind: &str, actor: &str, minutes: i64| {
        LifecycleEvent::new(
            id(n),
            Timestamp(now().0 - chrono::Duration::minutes(minutes)),
            kind,
            actor,
        )
        .with_message(format!("{kind} by {actor}"))
    };
    send(
        &mut state,
        Msg::ActivityLoaded {
            ticket,
            result: Ok(vec![
                event(2, "approved", "bob", 1),
                event(0, "request_created", "alice", 5),
            ]),
        },
    );
    let screen = dashboard::screen(&state);
    let approved = screen.find("approved by bob").expect("bob's approval");
    let created = screen
        .find("request_created by alice")
        .expect("alice's create");
    assert!(approved < created, "newest first:\n{screen}");
    assert!(screen.contains(&id(2)), "{screen}");
    // r reads it again; q goes back to the list.
    let effects = key(&mut state, KeyCode::Char('r'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadActivity { .. }))
    );
    key(&mut state, KeyCode::Char('q'));
    assert_eq!(state.screen, Screen::Main);
}

/// Scrolling stops at the end: one key back from the end moves one line (before, the help
/// and the pages counted every key past the end, and as many had to be pressed to come back).
#[test]
fn help_and_pages_scroll_no_further_than_their_end() {
    let mut state = state("alice", &every_status(), 120, 20);
    key(&mut state, KeyCode::Char('?'));
    for _ in 0..500 {
        key(&mut state, KeyCode::Char('j'));
    }
    let Some(Modal::Help { viewport }) = state.modals.last().cloned() else {
        panic!("the help is open");
    };
    assert!(viewport.offset > 0 && viewport.offset < 100, "{viewport:?}");
    key(&mut state, KeyCode::Char('k'));
    assert!(matches!(
        state.modals.last(),
        Some(Modal::Help { viewport: after }) if after.offset == viewport.offset - 1
    ));
    key(&mut state, KeyCode::Esc);

    // The event log of a request with three events, bottom then up.
    select(&mut state, &id(2));
    let effects = tick(&mut state, 200);
    let ticket = effects
        .iter()
        .find_map(|effect| match effect {
            Effect::LoadEvents { ticket, .. } => Some(ticket.clone()),
            _ => None,
        })
        .expect("the selection asks for its events");
    let event = |n: i64| {
        Ok(tfpilot::domain::LifecycleEvent::new(
            id(2),
            Timestamp(now().0 + chrono::Duration::seconds(n)),
            "plan_dispatched",
            "alice",
        ))
    };
    let events: Vec<_> = (0..40).map(event).collect();
    send(
        &mut state,
        Msg::EventsLoaded {
            ticket,
            result: Ok(events),
        },
    );
    key(&mut state, KeyCode::Char('v'));
    assert_eq!(state.screen, Screen::Events);
    key(&mut state, KeyCode::Char('G'));
    let bottom = state.view_scroll.offset;
    assert_eq!(bottom, 40 - state.page_height(), "the last page is full");
    key(&mut state, KeyCode::Char('k'));
    assert_eq!(state.view_scroll.offset, bottom - 1);
}

#[test]
fn help_opens_scrolls_and_closes_without_quitting() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('?'));
    key(&mut state, KeyCode::Char('j'));
    assert!(matches!(
        state.modals.last(),
        Some(Modal::Help { viewport }) if viewport.offset == 1
    ));
    key(&mut state, KeyCode::Char('q'));
    assert!(state.modals.is_empty());
    assert!(!state.quit);
}

#[test]
fn events_view_reads_the_log() {
    let mut state = state("alice", &every_status(), 120, 40);
    let effects = key(&mut state, KeyCode::Char('v'));
    assert_eq!(state.screen, Screen::Events);
    assert!(matches!(effects.as_slice(), [Effect::LoadEvents { .. }]));
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.screen, Screen::Main);
}

#[test]
fn quitting_with_work_in_flight_asks_twice() {
    let mut state = state("bob", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('q'));
    assert!(state.quit, "nothing running: quits at once");
    let mut state = dashboard::state("bob", &every_status(), 120, 40);
    select(&mut state, &id(2));
    key(&mut state, KeyCode::Char('a'));
    key(&mut state, KeyCode::Char('q'));
    assert!(!state.quit);
    assert!(last_toast(&state).1.contains("press q again"));
    key(&mut state, KeyCode::Char('q'));
    assert!(state.quit);
}

#[test]
fn errors_stay_until_esc_and_toasts_take_rows_instead_of_covering_the_panes() {
    let mut state = state("alice", &every_status(), 120, 40);
    let rows = state.list_height();
    select(&mut state, &id(2));
    key(&mut state, KeyCode::Char('a'));
    let (kind, _) = last_toast(&state);
    assert_eq!(kind, ToastKind::Error, "alice may not approve");
    assert!(
        state.list_height() < rows,
        "the list gave rows to the message"
    );
    tick(&mut state, 60_000);
    assert_eq!(state.toasts.len(), 1, "an error stays");
    let screen = dashboard::screen(&state);
    assert!(screen.contains("(esc dismisses)"), "{screen}");
    // The detail pane's links are all still drawn.
    assert!(
        screen.contains("https://github.com/acme/payments-infra/pull/102"),
        "{screen}"
    );
    key(&mut state, KeyCode::Esc);
    assert!(state.toasts.is_empty());
    assert_eq!(state.list_height(), rows);
    // The header says what happens when a run ends.
    assert!(dashboard::screen(&state).contains("bell off · notify off"));
    key(&mut state, KeyCode::Char('b'));
    assert!(dashboard::screen(&state).contains("bell on · notify off"));
}

#[test]
fn toasts_expire_on_ticks() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('b'));
    assert_eq!(state.toasts.len(), 1);
    tick(&mut state, 5_000);
    assert!(state.toasts.is_empty());
}

#[test]
fn ticks_redraw_once_a_second_and_not_in_between() {
    let mut state = state("alice", &every_status(), 120, 40);
    // The fixture clock sits on a whole second: 250 ms ticks stay within it until the 4th.
    // The first one reads the selection's events (it has rested), which is a change.
    tick(&mut state, 250);
    state.dirty = false;
    tick(&mut state, 250);
    tick(&mut state, 250);
    assert!(!state.dirty, "nothing visible changed within the second");
    tick(&mut state, 250);
    assert!(state.dirty, "ages are shown to the second");
}

#[test]
fn unreadable_documents_are_listed_and_refuse_operations() {
    let mut state = state("bob", &every_status(), 120, 40);
    let mut entries = dashboard::listing(&every_status());
    entries.push(tfpilot::store::ListedRequest {
        key: "requests/req_broken.json".into(),
        id: "req_broken".into(),
        etag: tfpilot::store::ETag("\"x\"".into()),
        outcome: Err(tfpilot::domain::DocumentError::NotJson(
            "expected value at line 1 column 1".into(),
        )),
    });
    send(&mut state, Msg::Poll(PollEvent::Listed(Arc::new(entries))));
    assert_eq!(state.list.total(), 21);
    let effects =
        tfpilot::tui::update::request_operation(&mut state, "req_broken", Operation::Apply);
    assert!(effects.is_empty());
    assert!(last_toast(&state).1.contains("cannot be read"));
}

#[test]
fn w_withdraws_with_a_reason_and_a_withdrawn_request_says_who_and_why() {
    // Alice's plan_ready request (12) and her applied one (6).
    let mut requests = every_status();
    requests.push(request(21, Status::Withdrawn));
    let mut state = state("alice", &requests, 160, 50);
    select(&mut state, &id(6));
    assert!(key(&mut state, KeyCode::Char('W')).is_empty());
    assert!(
        state.modals.is_empty(),
        "an applied request is not asked about"
    );
    assert!(
        last_toast(&state).1.contains("destroy it instead"),
        "{:?}",
        last_toast(&state)
    );
    select(&mut state, &id(12));
    assert!(key(&mut state, KeyCode::Char('W')).is_empty());
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.operation, Operation::Withdraw);
    assert!(
        confirmation
            .lines
            .iter()
            .any(|line| line.contains("without merging it") && line.contains("deletes branch")),
        "{:?}",
        confirmation.lines
    );
    assert!(screen(&state).contains("Reason (recorded with the withdrawal"));
    chars(&mut state, "  duplicate of req 7 ");
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Withdraw { id: withdrawn, reason: Some(reason) }]
                if *withdrawn == id(12) && reason == "duplicate of req 7"
        ),
        "{effects:?}"
    );
    assert_eq!(state.in_flight.get(&id(12)), Some(&Operation::Withdraw));
    // A withdrawn row reads as such, and its detail says who and why.
    let withdrawn = request(21, Status::Withdrawn).id;
    select(&mut state, &withdrawn);
    let text = screen(&state);
    assert!(text.contains("⊘ withdrawn"), "{text}");
    assert!(
        text.contains("withdrawn by alice at") && text.contains("the team shares one"),
        "{text}"
    );
}

#[test]
fn d_shows_the_pull_request_diff_with_changes_outside_the_block_flagged() {
    let mut state = state("bob", &every_status(), 120, 40);
    // A request with no pull request yet has nothing to diff.
    select(&mut state, &id(0));
    assert!(key(&mut state, KeyCode::Char('d')).is_empty());
    assert!(last_toast(&state).1.contains("has no pull request yet"));
    assert_eq!(state.screen, Screen::Main);
    select(&mut state, &id(2));
    dashboard::open_diff(&mut state, 2);
    assert_eq!(state.screen, Screen::Diff);
    let text = screen(&state);
    assert!(
        text.contains("! pull request #102 changes more than"),
        "{text}"
    );
    assert!(text.contains("! +# stray"), "{text}");
    assert!(
        text.contains(&format!("  +# tfpilot:begin/{}", id(2))),
        "{text}"
    );
    // Esc goes back to the list, where it was.
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.screen, Screen::Main);
    assert_eq!(state.list.selected_id(), Some(id(2).as_str()));
}

/// Alice's create form, on a team with the example templates.
fn templated_create_form() -> State {
    let mut state = state("alice", &every_status(), 120, 40);
    with_templates(&mut state);
    key(&mut state, KeyCode::Char('c'));
    state
}

/// The create form on top.
fn form(state: &State) -> tfpilot::tui::state::form::CreateForm {
    match state.modals.last() {
        Some(Modal::Create(form)) => (**form).clone(),
        _ => panic!("the create form"),
    }
}

#[test]
fn typing_on_a_choice_field_opens_a_picker_that_narrows_moves_with_j_and_k_and_chooses() {
    use tfpilot::tui::state::modal::{Picker, PickerPurpose};
    let picker = |state: &State| match state.modals.last() {
        Some(Modal::Picker(picker)) => picker.clone(),
        other => panic!("a picker, not {other:?}"),
    };
    let mut state = templated_create_form();
    // `l` on the template field opens its picker narrowed to what matches "l".
    key(&mut state, KeyCode::Char('l'));
    let opened: Picker = picker(&state);
    assert_eq!(opened.purpose, PickerPurpose::FormField(0));
    assert_eq!(opened.query.text(), "l");
    assert!(opened.matches().len() > 1, "ids and descriptions match");
    chars(&mut state, "og");
    let labels: Vec<String> = picker(&state)
        .matches()
        .iter()
        .map(|option| option.label.clone())
        .collect();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert!(labels[0].starts_with("logs-bucket  A bucket for application logs"));
    assert_eq!(picker(&state).heading(), " choose template · 1/4 ");
    key(&mut state, KeyCode::Enter);
    let chosen = form(&state);
    assert_eq!(chosen.template(), Some("logs-bucket"));
    assert_eq!(
        chosen.module_name(),
        "s3-bucket",
        "what the template implies"
    );
    assert!(chosen.touched);
    // The module is locked by the template: typing on it says so instead of opening a list.
    let module_at = chosen
        .fields
        .iter()
        .position(|f| f.name == "module")
        .unwrap();
    while form(&state).focus < module_at {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::Char(' '));
    assert!(matches!(state.modals.last(), Some(Modal::Create(_))));
    assert_eq!(
        last_toast(&state).1,
        "module is locked by template logs-bucket"
    );
    let toasts = state.toasts.len();
    key(&mut state, KeyCode::Char(' '));
    assert_eq!(
        state.toasts.len(),
        toasts,
        "the same message again stays one line"
    );
    // Back on the template field, space opens the whole list on the current choice; j and k
    // move, esc leaves the form as it was.
    while form(&state).focus > 0 {
        key(&mut state, KeyCode::Up);
    }
    key(&mut state, KeyCode::Char(' '));
    let whole = picker(&state);
    assert_eq!(whole.heading(), " choose template ");
    assert_eq!(
        whole.chosen().and_then(|o| o.value.clone()).as_deref(),
        Some("logs-bucket")
    );
    key(&mut state, KeyCode::Char('k'));
    assert_eq!(
        picker(&state)
            .chosen()
            .and_then(|o| o.value.clone())
            .as_deref(),
        Some("dev-postgres")
    );
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('k'));
    key(&mut state, KeyCode::Char('k'));
    key(&mut state, KeyCode::Esc);
    assert_eq!(
        form(&state).template(),
        Some("logs-bucket"),
        "esc chose nothing"
    );
    // No template: "(none)" is an option like the others.
    key(&mut state, KeyCode::Char('('));
    assert_eq!(picker(&state).matches().len(), 1);
    key(&mut state, KeyCode::Enter);
    assert_eq!(form(&state).template(), None);
    assert!(!form(&state).fields[module_at].locked);
    // An enum field of the module: typed text narrows its values.
    let region_at = form(&state).fields.iter().position(|f| f.name == "region");
    if let Some(region_at) = region_at {
        while form(&state).focus < region_at {
            key(&mut state, KeyCode::Down);
        }
        chars(&mut state, "eu");
        key(&mut state, KeyCode::Enter);
        assert_eq!(form(&state).values()["region"], "eu-west-1");
    } else {
        panic!(
            "the module {} has a region enum",
            form(&state).module_name()
        );
    }
}

#[test]
fn the_create_form_starts_from_a_template_and_keeps_its_locks() {
    let mut state = templated_create_form();
    assert_eq!(form(&state).fields[0].name, "template");
    assert_eq!(form(&state).template(), None, "no template at first");
    // The templates by id: dev-postgres, logs-bucket, work-queue.
    key(&mut state, KeyCode::Right);
    key(&mut state, KeyCode::Right);
    let chosen = form(&state);
    assert_eq!(chosen.template(), Some("logs-bucket"));
    assert_eq!(
        chosen.module_name(),
        "s3-bucket",
        "the template picks the module"
    );
    let field = |form: &tfpilot::tui::state::form::CreateForm, name: &str| {
        form.fields
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .expect(name)
    };
    assert!(field(&chosen, "module").locked);
    assert!(field(&chosen, "force_destroy").locked);
    assert!(!field(&chosen, "versioning").locked);
    assert_eq!(chosen.values()["lifecycle_days"], "90", "preset filled in");
    // A locked field does not change; the toast says why.
    let locked_at = chosen
        .fields
        .iter()
        .position(|f| f.name == "force_destroy")
        .unwrap();
    for _ in 0..locked_at {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::Char(' '));
    assert_eq!(form(&state).values()["force_destroy"], false);
    let toast = state.toasts.last().expect("a toast").text.clone();
    assert_eq!(toast, "force_destroy is locked by template logs-bucket");
    // dev-postgres is for dev only: prod is not offered.
    for _ in 0..locked_at {
        key(&mut state, KeyCode::Up);
    }
    key(&mut state, KeyCode::Left);
    let postgres = form(&state);
    assert_eq!(postgres.template(), Some("dev-postgres"));
    let Some(tfpilot::tui::state::form::Input::Choice { options, .. }) = postgres
        .fields
        .iter()
        .find(|f| f.name == "environment")
        .map(|f| &f.input)
    else {
        panic!("an environment choice");
    };
    assert_eq!(options, &["dev"]);
    // Back to logs-bucket, name it, submit: the effect names the template.
    key(&mut state, KeyCode::Right);
    let name_at = form(&state)
        .fields
        .iter()
        .position(|f| f.name == "bucket_name")
        .unwrap();
    for _ in 0..name_at {
        key(&mut state, KeyCode::Down);
    }
    chars(&mut state, "data-platform-dev-logs");
    assert!(form(&state).errors.is_empty(), "{:?}", form(&state).errors);
    let effects = key(&mut state, KeyCode::Enter);
    let [Effect::Create { input }] = effects.as_slice() else {
        panic!("one create: {effects:?}");
    };
    assert_eq!(input.template.as_deref(), Some("logs-bucket"));
    assert_eq!(input.module, "s3-bucket");
    assert_eq!(input.values["force_destroy"], false);
}

#[test]
fn choosing_a_template_keeps_what_was_typed_unless_it_locks_it() {
    let mut state = templated_create_form();
    // No template: pick s3-bucket (4th module by name), type a name, turn force_destroy on.
    for _ in 0..3 {
        key(&mut state, KeyCode::Down);
    }
    for _ in 0..3 {
        key(&mut state, KeyCode::Right);
    }
    assert_eq!(form(&state).module_name(), "s3-bucket");
    key(&mut state, KeyCode::Down);
    chars(&mut state, "data-platform-dev-kept");
    let at = |state: &State, name: &str| {
        form(state)
            .fields
            .iter()
            .position(|f| f.name == name)
            .unwrap()
    };
    while form(&state).focus < at(&state, "force_destroy") {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::Char(' '));
    assert_eq!(form(&state).values()["force_destroy"], true);
    // Back to the template field: logs-bucket keeps the name and locks force_destroy off.
    while form(&state).focus > 0 {
        key(&mut state, KeyCode::Up);
    }
    key(&mut state, KeyCode::Right);
    key(&mut state, KeyCode::Right);
    let chosen = form(&state);
    assert_eq!(chosen.template(), Some("logs-bucket"));
    assert_eq!(chosen.values()["bucket_name"], "data-platform-dev-kept");
    assert_eq!(chosen.values()["force_destroy"], false, "the lock wins");
    assert_eq!(chosen.values()["lifecycle_days"], "90");
    // Through dev-postgres (another module) back to none, then s3-bucket again: the typed
    // name comes back, the template's preset does not, and nothing is locked any more.
    key(&mut state, KeyCode::Left);
    key(&mut state, KeyCode::Left);
    assert_eq!(form(&state).template(), None);
    assert_eq!(form(&state).module_name(), "rds-postgres");
    let module_at = at(&state, "module");
    while form(&state).focus < module_at {
        key(&mut state, KeyCode::Down);
    }
    while form(&state).module_name() != "s3-bucket" {
        key(&mut state, KeyCode::Right);
    }
    let free = form(&state);
    assert_eq!(free.values()["bucket_name"], "data-platform-dev-kept");
    assert!(
        !free.values().contains_key("lifecycle_days"),
        "{:?}",
        free.values()
    );
    assert!(free.fields.iter().all(|f| !f.locked));
}

#[test]
fn the_create_form_validates_as_it_is_typed_and_submits_once() {
    use tfpilot::tui::state::form::Input;
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('c'));
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    assert_eq!(form.fields[0].name, "project");
    assert_eq!(form.module_name(), "ecs-service", "modules sorted by name");
    assert!(
        form.error_of("service_name").is_some(),
        "required and empty"
    );
    // Pick s3-bucket: move to the module field and cycle right until it shows.
    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Down);
    for _ in 0..4 {
        let Some(Modal::Create(form)) = state.modals.last() else {
            panic!("the create form");
        };
        if form.module_name() == "s3-bucket" {
            break;
        }
        key(&mut state, KeyCode::Right);
    }
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    assert_eq!(form.module_name(), "s3-bucket");
    assert!(
        form.fields
            .iter()
            .any(|f| f.name == "bucket_name" && f.required)
    );
    assert!(matches!(
        form.fields
            .iter()
            .find(|f| f.name == "versioning")
            .map(|f| &f.input),
        Some(Input::Toggle(_))
    ));
    // Enter refuses and jumps to the first problem; nothing is sent.
    assert!(key(&mut state, KeyCode::Enter).is_empty());
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the form stays open");
    };
    assert_eq!(form.fields[form.focus].name, "bucket_name");
    // A name that breaks the team's naming rule is refused by the policy check, inline.
    chars(&mut state, "media");
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    let error = form.error_of("bucket_name").expect("the naming rule");
    assert!(error.contains("project"), "{error}");
    for _ in 0.."media".len() {
        key(&mut state, KeyCode::Backspace);
    }
    chars(&mut state, "payments-dev-media");
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    assert!(form.errors.is_empty(), "{:?}", form.errors);
    let preview = form.preview.as_ref().expect("a block");
    assert!(
        preview.contains("bucket_name") && preview.contains("\"payments-dev-media\""),
        "{preview}"
    );
    let effects = key(&mut state, KeyCode::Enter);
    let [Effect::Create { input }] = effects.as_slice() else {
        panic!("one create: {effects:?}");
    };
    assert_eq!(
        (
            input.project.as_str(),
            input.environment.as_str(),
            input.module.as_str()
        ),
        ("data-platform", "dev", "s3-bucket"),
        "the first project and environment, by name"
    );
    assert_eq!(input.values["bucket_name"], "payments-dev-media");
    assert!(key(&mut state, KeyCode::Enter).is_empty(), "not sent twice");

    // A failure keeps the form and what was typed; success closes it and selects the request.
    send(
        &mut state,
        Msg::Created {
            result: Err(OperationFailure {
                kind: ErrorKind::Failed,
                message: "GitHub is down".into(),
            }),
        },
    );
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the form stays open after a failure");
    };
    assert!(!form.sending);
    assert_eq!(form.values()["bucket_name"], "payments-dev-media");
    let created = request(30, Status::Planning);
    let effects = send(
        &mut state,
        Msg::Created {
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Create,
                result: OpResult::Done,
                message: format!("created {}: pull request #130, plan dispatched", created.id),
                request: created.clone(),
            })),
        },
    );
    assert!(state.modals.is_empty());
    assert_eq!(state.list.selected_id(), Some(created.id.as_str()));
    // The engine's message names the request once, as it comes.
    assert_eq!(
        last_toast(&state).1,
        format!("created {}: pull request #130, plan dispatched", created.id)
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Poller(Nudge::SyncSoon(_))))
    );
}

#[test]
fn viewers_cannot_open_the_create_form() {
    let mut state = state("auditor", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('c'));
    assert!(state.modals.is_empty());
    let (_, text) = last_toast(&state);
    assert!(
        text.starts_with("create denied: auditor is listed under `viewers`"),
        "{text}"
    );
    assert!(
        text.contains("an admin can take auditor off that list"),
        "{text}"
    );
    // A viewer opening a request with no plan is not told to press p.
    select(&mut state, &id(0));
    key(&mut state, KeyCode::Enter);
    let (_, text) = last_toast(&state);
    assert!(text.contains("has no plan or run yet"), "{text}");
    assert!(!text.contains("press p"), "{text}");
    assert!(
        text.contains("its requester (alice) or an approver can plan it"),
        "{text}"
    );
}

/// The dashboard asks the same policy the engine applies: while `config/policy.json` cannot be
/// used, it offers nothing (before, it judged by an empty policy and let everyone try).
#[test]
fn a_broken_policy_refuses_in_the_dashboard_as_in_the_engine() {
    let mut state = state("admin", &every_status(), 120, 40);
    let mut team = (*state.team).clone();
    team.access = AccessPolicy::refusing("config/policy.json: unknown field `prod_environment`");
    state.team = Arc::new(team);
    key(&mut state, KeyCode::Char('c'));
    assert!(state.modals.is_empty());
    assert!(
        last_toast(&state).1.contains("prod_environment"),
        "{:?}",
        last_toast(&state)
    );
    select(&mut state, &id(1));
    let effects = key(&mut state, KeyCode::Char('a'));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(last_toast(&state).1.contains("approve denied"));
}

#[test]
fn e_on_an_applied_request_opens_a_change_request_and_warns_when_it_replaces() {
    let mut state = state("alice", &every_status(), 120, 40);
    // Alice's applied request (6).
    select(&mut state, &id(6));
    key(&mut state, KeyCode::Char('e'));
    let Some(Modal::Edit(form)) = state.modals.last_mut() else {
        panic!("the editor, as a change");
    };
    assert!(form.change);
    let row = form
        .editor
        .lines()
        .iter()
        .position(|l| l.starts_with("bucket_name"))
        .expect("a bucket_name line");
    form.editor
        .move_cursor(ratatui_textarea::CursorMove::Jump(row as u16, 0));
    form.editor.move_cursor(ratatui_textarea::CursorMove::End);
    chars(&mut state, "-renamed");
    let text = screen(&state);
    assert!(text.contains("ctrl-s opens a change request"), "{text}");
    assert!(
        text.contains("changing bucket_name REPLACES the resource"),
        "{text}"
    );
    let save = crossterm::event::KeyEvent::new(
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    let effects = send(&mut state, Msg::Key(save));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Change { id: original, values }]
                if *original == id(6)
                    && values["bucket_name"] == "payments-dev-media-6-renamed"
        ),
        "{effects:?}"
    );
    assert_eq!(state.in_flight.get(&id(6)), Some(&Operation::Change));

    // With a change in flight, `e` says which one instead of opening a second.
    let mut requests = every_status();
    let mut change = request(22, Status::Planning);
    change.changes = Some(id(6));
    requests[6].change_requests = vec![change.id.clone()];
    requests.push(change.clone());
    let mut state = dashboard::state("alice", &requests, 120, 40);
    select(&mut state, &id(6));
    key(&mut state, KeyCode::Char('e'));
    assert!(state.modals.is_empty());
    assert!(
        last_toast(&state).1.contains(&format!(
            "change {} of {} is in flight (planning)",
            change.id,
            id(6)
        )),
        "{:?}",
        last_toast(&state)
    );
    // The original lists its change; the change says whose block it edits.
    let text = screen(&state);
    assert!(
        text.contains(&format!("{} planning · in flight", change.id)),
        "{text}"
    );
    select(&mut state, &change.id);
    let text = screen(&state);
    assert!(
        text.contains(&format!("change of    {} (edits its block in place", id(6))),
        "{text}"
    );
}

#[test]
fn the_config_editor_diffs_validates_and_saves() {
    let mut state = state("alice", &every_status(), 120, 40);
    select(&mut state, &id(12));
    key(&mut state, KeyCode::Char('e'));
    let Some(Modal::Edit(form)) = state.modals.last() else {
        panic!("the editor");
    };
    assert!(!form.changes());
    assert!(
        form.editor
            .lines()
            .iter()
            .any(|l| l == "bucket_name = payments-dev-media-12")
    );
    // ctrl-s with nothing changed says so.
    let save = crossterm::event::KeyEvent::new(
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    assert!(send(&mut state, Msg::Key(save)).is_empty());
    assert!(last_toast(&state).1.contains("nothing changed"));
    // Go to the region line's end and make it invalid, then valid.
    let Some(Modal::Edit(form)) = state.modals.last_mut() else {
        panic!("the editor");
    };
    let row = form
        .editor
        .lines()
        .iter()
        .position(|l| l.starts_with("region"))
        .expect("a region line");
    form.editor
        .move_cursor(ratatui_textarea::CursorMove::Jump(row as u16, 0));
    form.editor.move_cursor(ratatui_textarea::CursorMove::End);
    chars(&mut state, "x");
    let Some(Modal::Edit(form)) = state.modals.last() else {
        panic!("the editor");
    };
    assert!(form.outcome.is_err(), "us-east-1x is not an allowed region");
    assert!(
        send(&mut state, Msg::Key(save)).is_empty(),
        "not saved while invalid"
    );
    key(&mut state, KeyCode::Backspace);
    for _ in 0.."us-east-1".len() {
        key(&mut state, KeyCode::Backspace);
    }
    chars(&mut state, "eu-west-1");
    let Some(Modal::Edit(form)) = state.modals.last() else {
        panic!("the editor");
    };
    assert!(form.changes());
    assert!(
        form.diff
            .iter()
            .any(|(mark, line)| *mark == '+' && line.contains("eu-west-1"))
    );
    assert!(
        form.diff
            .iter()
            .any(|(mark, line)| *mark == '-' && line.contains("us-east-1"))
    );
    let effects = send(&mut state, Msg::Key(save));
    let [Effect::Update { id: edited, values }] = effects.as_slice() else {
        panic!("one update: {effects:?}");
    };
    assert_eq!(*edited, id(12));
    assert_eq!(values["region"], "eu-west-1");
    send(
        &mut state,
        Msg::OperationDone {
            id: id(12),
            operation: Operation::Update,
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Update,
                result: OpResult::Done,
                message: "updated region; plan dispatched".into(),
                request: request(12, Status::Planning),
            })),
        },
    );
    assert!(state.modals.is_empty(), "saved: the editor closes");
}

#[test]
fn the_editor_shows_a_templates_locks_and_refuses_changing_them_before_saving() {
    use tfpilot::tui::state::editor::EditForm;
    let mut made_from_template = request(12, Status::PlanReady);
    made_from_template.template_id = Some("logs-bucket".into());
    made_from_template.requested_by = "alice".into();
    let mut state = state("alice", &[made_from_template.clone()], 120, 40);
    with_templates(&mut state);
    key(&mut state, KeyCode::Char('e'));
    let editor = |state: &State| -> EditForm {
        match state.modals.last() {
            Some(Modal::Edit(form)) => (**form).clone(),
            other => panic!("the editor, not {other:?}"),
        }
    };
    let form = editor(&state);
    assert!(
        form.editor
            .lines()
            .iter()
            .any(|l| l.contains("Locked by template logs-bucket: force_destroy, object_lock")),
        "{:?}",
        form.editor.lines()
    );
    // Typing a locked value is refused at once, in the preview, not only when saving.
    for _ in 0..30 {
        key(&mut state, KeyCode::Down);
    }
    key(&mut state, KeyCode::End);
    send(&mut state, Msg::Paste("\nforce_destroy = true".into()));
    let form = editor(&state);
    let errors = form.outcome.clone().expect_err("a locked value changed");
    assert_eq!(errors[0].field, "force_destroy");
    assert!(
        errors[0]
            .message
            .contains("locked to false by template logs-bucket"),
        "{errors:?}"
    );
    assert!(dashboard::screen(&state).contains("locked to false"));
}

#[test]
fn sensitive_values_stay_hidden_in_the_editor_and_are_kept() {
    use tfpilot::tui::state::editor::{UNCHANGED, editor_lines, parse_editor};
    let team = dashboard::team();
    let secret = request(1, Status::PlanReady);
    let module = team.modules.iter().find(|m| m.name == "ecs-service");
    let lines = editor_lines(module, &secret.config);
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("datadog_api_key = {UNCHANGED}"))
    );
    assert!(!lines.iter().any(|l| l.contains("dd-secret-value")));
    let values = parse_editor(&lines, &secret.config).expect("parses");
    assert_eq!(values["datadog_api_key"], "dd-secret-value");
    let bad =
        parse_editor(&["no equals sign here".to_string()], &secret.config).expect_err("bad line");
    assert_eq!(bad[0].field, "line 1");
}

#[test]
fn paging_up_paste_and_the_opt_in_mouse() {
    use crossterm::event::{KeyModifiers, MouseEvent, MouseEventKind};
    let mut state = state("alice", &every_status(), 80, 24);
    let rows = state.list_height();
    key(&mut state, KeyCode::Char('G'));
    key(&mut state, KeyCode::PageUp);
    assert_eq!(state.list.selected(), 19 - rows);

    // A paste lands in the open field as one piece (newlines dropped).
    key(&mut state, KeyCode::Char('/'));
    send(&mut state, Msg::Paste("search\nprod".into()));
    assert_eq!(state.list.filter.text, "searchprod");
    key(&mut state, KeyCode::Esc);

    let wheel = |kind| {
        Msg::Mouse(MouseEvent {
            kind,
            column: 5,
            row: 5,
            modifiers: KeyModifiers::NONE,
        })
    };
    key(&mut state, KeyCode::Char('g'));
    send(&mut state, wheel(MouseEventKind::ScrollDown));
    assert_eq!(
        state.list.selected(),
        0,
        "the mouse is off unless asked for"
    );
    state.mouse = true;
    send(&mut state, wheel(MouseEventKind::ScrollDown));
    send(&mut state, wheel(MouseEventKind::ScrollDown));
    assert_eq!(state.list.selected(), 2);
    send(&mut state, wheel(MouseEventKind::ScrollUp));
    assert_eq!(state.list.selected(), 1);
}

#[test]
fn tab_moves_through_the_create_form_both_ways() {
    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('c'));
    let focus = |state: &State| match state.modals.last() {
        Some(Modal::Create(form)) => form.focus,
        _ => panic!("the create form"),
    };
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Tab);
    assert_eq!(focus(&state), 2);
    key(&mut state, KeyCode::BackTab);
    assert_eq!(focus(&state), 1);
    key(&mut state, KeyCode::BackTab);
    key(&mut state, KeyCode::BackTab);
    let last = match state.modals.last() {
        Some(Modal::Create(form)) => form.fields.len() - 1,
        _ => panic!("the create form"),
    };
    assert_eq!(focus(&state), last, "wraps around");
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty());
    assert!(last_toast(&state).1.contains("nothing was written"));
}

#[test]
fn drift_check_runs_at_once_and_cleanup_asks_first() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(16));
    let effects = key(&mut state, KeyCode::Char('t'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Operation {
                operation: Operation::DriftCheck,
                ..
            }]
        ),
        "{effects:?}"
    );
    select(&mut state, &id(8));
    let effects = key(&mut state, KeyCode::Char('C'));
    assert!(effects.is_empty());
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("cleanup asks first: {:?}", state.toasts.last());
    };
    assert_eq!(confirmation.operation, Operation::Cleanup);
    let effects = key(&mut state, KeyCode::Enter);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Operation {
            operation: Operation::Cleanup,
            ..
        }]
    ));
}

#[test]
fn apply_asks_first_and_names_the_plan() {
    let mut state = state("bob", &every_status(), 120, 40);
    select(&mut state, &id(14));
    key(&mut state, KeyCode::Char('A'));
    let Some(Modal::Confirm(confirmation)) = state.modals.last() else {
        panic!("apply asks first: {:?}", state.toasts.last());
    };
    assert_eq!(confirmation.operation, Operation::Apply);
    assert!(
        confirmation
            .lines
            .iter()
            .any(|l| l == "Plan: 2 to add, 1 to change, 1 to destroy.")
    );
    let effects = key(&mut state, KeyCode::Char('y'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Operation {
            operation: Operation::Apply,
            ..
        }]
    ));
}

#[test]
fn long_plan_lines_scroll_sideways_within_bounds() {
    let mut state = state("bob", &every_status(), 80, 24);
    select(&mut state, &id(2));
    open_plan(&mut state);
    key(&mut state, KeyCode::Left);
    assert_eq!(state.plan.as_ref().map(|p| p.hscroll), Some(0));
    key(&mut state, KeyCode::Char('>'));
    assert_eq!(state.plan.as_ref().map(|p| p.hscroll), Some(8));
    key(&mut state, KeyCode::Char('<'));
    assert_eq!(state.plan.as_ref().map(|p| p.hscroll), Some(0));
    key(&mut state, KeyCode::Char('h'));
    assert_eq!(
        state.screen,
        Screen::Main,
        "h goes back, as l opens from the list"
    );
    open_plan(&mut state);
    for _ in 0..100 {
        key(&mut state, KeyCode::Right);
    }
    let longest = dashboard::PLAN
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let hscroll = state.plan.as_ref().map(|p| p.hscroll as usize).unwrap_or(0);
    assert!(hscroll > 0 && hscroll <= longest, "{hscroll} of {longest}");
    key(&mut state, KeyCode::Char('<'));
    assert_eq!(
        state.plan.as_ref().map(|p| p.hscroll as usize),
        Some(hscroll - 8)
    );
}

#[test]
fn relistings_keep_the_selection_and_take_every_kind_of_change() {
    let requests = every_status();
    let mut state = state("alice", &requests, 120, 40);
    select(&mut state, &id(5));
    let listing = dashboard::listing(&requests);
    send(
        &mut state,
        Msg::Poll(PollEvent::Listed(Arc::new(listing.clone()))),
    );
    assert_eq!(state.list.selected_id(), Some(id(5).as_str()));

    // One document newer, same requests: only its row changes.
    let mut entries = listing.clone();
    entries[5].outcome = Ok(Arc::new(request(5, Status::Applied)));
    send(
        &mut state,
        Msg::Poll(PollEvent::Listed(Arc::new(entries.clone()))),
    );
    assert_eq!(
        state.list.row(&id(5)).and_then(|r| r.status),
        Some(Status::Applied)
    );
    assert_eq!(state.list.selected_id(), Some(id(5).as_str()));

    // One gone (archived), one new: the list follows, the selection stays.
    entries.remove(0);
    entries.extend(dashboard::listing(&[request(20, Status::Planning)]));
    send(&mut state, Msg::Poll(PollEvent::Listed(Arc::new(entries))));
    assert_eq!(state.list.total(), 20);
    assert!(state.list.row(&id(0)).is_none());
    assert_eq!(
        state
            .list
            .row(&request(20, Status::Planning).id)
            .and_then(|r| r.status),
        Some(Status::Planning)
    );
    assert_eq!(state.list.selected_id(), Some(id(5).as_str()));
}

/// A warm start draws the cached listing at once; the store's own listing follows and wins,
/// and until it lands the header still says the sync is starting.
#[test]
fn the_cached_listing_draws_first_and_the_store_listing_replaces_it() {
    let requests = every_status();
    let mut state = State::new(
        dashboard::session("alice"),
        Arc::new(dashboard::team()),
        Arc::new(tfpilot::tui::keymap::Keymap::embedded()),
        dashboard::now(),
    );
    send(
        &mut state,
        Msg::Resize {
            width: 120,
            height: 40,
        },
    );
    let cached = dashboard::listing(&requests);
    send(
        &mut state,
        Msg::Poll(PollEvent::Cached(Arc::new(cached.clone()))),
    );
    assert_eq!(state.list.total(), requests.len());
    assert!(state.list.selected_id().is_some());
    assert!(matches!(state.sync, SyncState::Starting));

    // The store says one request is gone and another moved on since the cache was written.
    let mut listed = cached;
    listed.remove(0);
    listed[4].outcome = Ok(Arc::new(request(5, Status::Applied)));
    send(&mut state, Msg::Poll(PollEvent::Listed(Arc::new(listed))));
    assert_eq!(state.list.total(), requests.len() - 1);
    assert_eq!(
        state.list.row(&id(5)).and_then(|r| r.status),
        Some(Status::Applied)
    );
    assert!(matches!(state.sync, SyncState::Ok { .. }));

    // A cached listing arriving late (it never does, but) does not roll the list back.
    send(
        &mut state,
        Msg::Poll(PollEvent::Cached(Arc::new(dashboard::listing(&requests)))),
    );
    assert_eq!(state.list.total(), requests.len() - 1);
}

#[test]
fn a_late_listing_never_rolls_a_row_back() {
    let requests = every_status();
    let mut state = state("bob", &requests, 120, 40);
    // An operation answered with a newer document...
    let mut applying = request(4, Status::Applying);
    applying.updated_at = Timestamp(now().0 + chrono::Duration::seconds(30));
    send(
        &mut state,
        Msg::OperationDone {
            id: id(4),
            operation: Operation::Apply,
            result: Ok(Box::new(OpOutcome {
                operation: Operation::Apply,
                result: OpResult::Done,
                message: "apply dispatched".into(),
                request: applying.clone(),
            })),
        },
    );
    // ...then a listing taken before it arrives, and a late sync answer too.
    send(
        &mut state,
        Msg::Poll(PollEvent::Listed(Arc::new(dashboard::listing(&requests)))),
    );
    assert_eq!(
        state.list.row(&id(4)).and_then(|r| r.status),
        Some(Status::Applying)
    );
    send(
        &mut state,
        Msg::Poll(PollEvent::Synced(Box::new(SyncReport {
            id: id(4),
            status: Status::Merged,
            changed: false,
            changes: Vec::new(),
            request: request(4, Status::Merged),
        }))),
    );
    assert_eq!(
        state.list.row(&id(4)).and_then(|r| r.status),
        Some(Status::Applying)
    );
    assert!(
        state.watched.contains_key(&id(4)),
        "still watching: the run has not ended"
    );
    assert!(!state.toasts.iter().any(|t| t.text.contains("is now")));
}

/// The create form's ask line: ctrl-o opens it (or says why the assistant is off), enter asks,
/// the proposal fills the form for review and its conversation goes with the create; a
/// failure leaves the form as it was.
#[test]
fn the_ask_line_fills_the_create_form_for_review_and_a_failure_changes_nothing() {
    use tfpilot::domain::assistant::{Conversation, Proposal};
    use tfpilot::engine::Assisted;
    use tfpilot::tui::state::Assistant;

    let mut state = state("alice", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('c'));
    ctrl(&mut state, 'o');
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the create form");
    };
    assert!(form.ask.is_none(), "off: no ask line");
    assert!(
        state
            .toasts
            .last()
            .is_some_and(|t| t.text.contains("[assistant] url")),
        "it says how to turn it on"
    );

    state.assistant = Assistant::On {
        model: "test-model".into(),
    };
    let before = match state.modals.last() {
        Some(Modal::Create(form)) => form.values(),
        _ => panic!("the create form"),
    };
    ctrl(&mut state, 'o');
    chars(&mut state, "a bucket for payments logs");
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Assist { ask }] if ask == "a bucket for payments logs"),
        "{effects:?}"
    );
    assert!(key(&mut state, KeyCode::Enter).is_empty(), "asked once");
    send(
        &mut state,
        Msg::Assisted {
            result: Err("the assistant at http://127.0.0.1 could not be reached".into()),
        },
    );
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the form stays");
    };
    assert_eq!(form.values(), before, "a failure changes nothing");
    assert!(
        form.ask.is_some() && !form.asking,
        "the question stays to ask again"
    );
    assert_eq!(state.toasts.last().map(|t| t.kind), Some(ToastKind::Error));

    key(&mut state, KeyCode::Enter);
    let proposal = Proposal {
        module: "s3-bucket".into(),
        template: None,
        project: "payments".into(),
        environment: "dev".into(),
        values: serde_json::json!({"bucket_name": "payments-dev-logs", "versioning": true})
            .as_object()
            .unwrap()
            .clone(),
        notes: Vec::new(),
    };
    let conversation = Conversation {
        model: "test-model".into(),
        endpoint: "http://127.0.0.1".into(),
        asked_by: "alice".into(),
        at: now(),
        messages: vec![
            serde_json::json!({"role": "user", "content": "a bucket for payments logs"}),
        ],
        proposal: Some(proposal.clone()),
        request_id: None,
    };
    send(
        &mut state,
        Msg::Assisted {
            result: Ok(Box::new(Assisted {
                proposal,
                conversation,
            })),
        },
    );
    let Some(Modal::Create(form)) = state.modals.last() else {
        panic!("the form stays for review");
    };
    assert!(form.ask.is_none(), "the ask line closes");
    assert_eq!(
        (form.project(), form.environment(), form.module_name()),
        ("payments", "dev", "s3-bucket")
    );
    assert_eq!(form.values()["bucket_name"], "payments-dev-logs");
    assert_eq!(form.values()["versioning"], true);
    assert!(form.errors.is_empty(), "{:?}", form.errors);
    // Nothing was created: the person submits.
    let effects = key(&mut state, KeyCode::Enter);
    let [Effect::Create { input }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(input.module, "s3-bucket");
    assert_eq!(
        input.assistant.as_ref().and_then(|c| c.question()),
        Some("a bucket for payments logs"),
        "the conversation goes with the request"
    );
}

/// An answer that arrives after its question was abandoned (esc) or its form closed is
/// dropped.
#[test]
fn a_late_proposal_for_an_abandoned_question_is_dropped() {
    use tfpilot::tui::state::Assistant;
    let mut state = state("alice", &every_status(), 120, 40);
    state.assistant = Assistant::On { model: "m".into() };
    key(&mut state, KeyCode::Char('c'));
    ctrl(&mut state, 'o');
    chars(&mut state, "x");
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Esc);
    let effects = send(
        &mut state,
        Msg::Assisted {
            result: Err("abandoned".into()),
        },
    );
    assert!(effects.is_empty());
    assert!(!state.toasts.iter().any(|t| t.text == "abandoned"));
    key(&mut state, KeyCode::Esc);
    assert!(state.modals.is_empty(), "{:?}", state.modals.len());
    let effects = send(
        &mut state,
        Msg::Assisted {
            result: Err("late".into()),
        },
    );
    assert!(effects.is_empty());
    assert!(!state.toasts.iter().any(|t| t.text == "late"));
}

/// `O` on a plan the policies deny: refused for an approver (admins only, the domain's rule),
/// and for an admin a confirmation naming what is denied that wants a reason, then the
/// override with it. A plan that is not denied is not asked about.
#[test]
fn o_overrides_a_denied_plan_for_an_admin_with_a_reason() {
    use tfpilot::domain::policy::{PolicyFact, Verdict};
    let mut requests = every_status();
    // Request 2 is plan_ready; its plan run is 1002.
    requests[2].policy = Some(Box::new(PolicyFact {
        run_id: Some(1002),
        verdict: Some(Verdict::Deny),
        deny: vec!["monthly-cost: adds 661.57 USD a month".into()],
        ..PolicyFact::default()
    }));
    let mut bob = state("bob", &requests, 160, 50);
    select(&mut bob, &id(2));
    assert!(key(&mut bob, KeyCode::Char('O')).is_empty());
    assert!(bob.modals.is_empty());
    assert!(
        last_toast(&bob).1.contains("only admins"),
        "{:?}",
        last_toast(&bob)
    );

    let mut erin = state("erin", &requests, 160, 50);
    select(&mut erin, &id(3));
    assert!(key(&mut erin, KeyCode::Char('O')).is_empty());
    assert!(
        erin.modals.is_empty(),
        "a plan that is not denied is not asked about"
    );
    assert!(
        last_toast(&erin).1.contains("nothing to override"),
        "{:?}",
        last_toast(&erin)
    );
    select(&mut erin, &id(2));
    assert!(key(&mut erin, KeyCode::Char('O')).is_empty());
    let Some(Modal::Confirm(confirmation)) = erin.modals.last() else {
        panic!("a confirmation");
    };
    assert_eq!(confirmation.operation, Operation::OverridePolicy);
    assert!(
        confirmation
            .lines
            .iter()
            .any(|line| line.contains("monthly-cost: adds 661.57 USD a month")),
        "{:?}",
        confirmation.lines
    );
    assert!(screen(&erin).contains("Reason (required; kept with the override"));
    chars(&mut erin, "quarter close");
    let effects = key(&mut erin, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::OverridePolicy { id: overridden, reason }]
                if *overridden == id(2) && reason == "quarter close"
        ),
        "{effects:?}"
    );
    assert_eq!(erin.in_flight.get(&id(2)), Some(&Operation::OverridePolicy));
}
