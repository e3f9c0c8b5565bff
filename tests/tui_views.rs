//! Every view at 80x24 and 120x40, as insta snapshots of the text (from fixed fixtures: fixed
//! clock, ids and links, so nothing volatile reaches a snapshot), plus style checks, since the
//! snapshots do not see colour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/dashboard.rs"]
mod dashboard;

use crossterm::event::KeyCode;
use dashboard::{
    chars, every_status, id, key, open_plan, request, screen, select, send, state, terminal,
    with_templates,
};
use ratatui::style::Modifier;
use tfpilot::domain::{LifecycleEvent, Status, Timestamp};
use tfpilot::tui::effect::EffectKey;
use tfpilot::tui::msg::Msg;
use tfpilot::tui::state::State;
use tfpilot::tui::theme::Theme;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn events_for(n: usize) -> Vec<tfpilot::store::EventEntry> {
    let at = |minutes: i64| Timestamp(dashboard::now().0 - chrono::Duration::minutes(minutes));
    let event = |minutes, kind: &str, actor: &str, message: &str| {
        let mut event = LifecycleEvent::new(id(n), at(minutes), kind, actor);
        event.message = Some(message.to_string());
        Ok(event)
    };
    vec![
        event(40, "request_created", "carol", "s3-bucket in payments/dev"),
        event(38, "plan_dispatched", "carol", "run 1006"),
        event(30, "approved", "bob", "approved at 4f2a9c0"),
        event(20, "merged", "bob", "merged as 9d8c7b6"),
        event(
            12,
            "apply_dispatched",
            "bob",
            "run 2006 on tfpilot/apply tag",
        ),
    ]
}

/// The main screen with an applied request selected, its events read.
fn main_screen(width: u16, height: u16) -> State {
    let mut state = state("alice", &every_status(), width, height);
    select(&mut state, &id(6));
    // The read the selection starts once it rests, answered.
    let ticket = state.tickets.issue(EffectKey::Events(id(6)));
    send(
        &mut state,
        Msg::EventsLoaded {
            ticket,
            result: Ok(events_for(6)),
        },
    );
    state
}

fn plan_screen(width: u16, height: u16) -> State {
    let mut state = state("bob", &every_status(), width, height);
    select(&mut state, &id(2));
    open_plan(&mut state);
    state
}

#[test]
fn list_and_detail() {
    for (width, height) in SIZES {
        let state = main_screen(width, height);
        insta::assert_snapshot!(format!("main_{width}x{height}"), screen(&state));
    }
}

/// The list's columns follow their content: a narrow terminal keeps every id whole and drops
/// what matters least; a wide one adds this request's plan counts and a config summary, with
/// sensitive values left out.
#[test]
fn list_columns_fit_their_content() {
    let narrow = screen(&main_screen(80, 24));
    for n in 0..5 {
        assert!(narrow.contains(&id(n)), "{} is cut:\n{narrow}", id(n));
    }
    assert!(narrow.contains("payments/prod"), "{narrow}");
    let wide = main_screen(200, 40);
    let text = screen(&wide);
    assert!(text.contains("PLAN"), "{text}");
    assert!(text.contains("+2 ~1 -1"), "{text}");
    assert!(text.contains("s3-bucket bucket_name="), "{text}");
    assert!(text.contains("service_name="), "{text}");
    assert!(
        !text.contains("dd-secret-value"),
        "a sensitive value reached the list"
    );
    insta::assert_snapshot!("main_200x40", text);
}

/// After a destroy the detail shows the cleanup pull request, says it is what comes next, and
/// no longer counts the plan's cost as a running one.
#[test]
fn a_destroyed_request_points_at_its_cleanup_pull_request() {
    let mut destroyed = request(8, Status::Destroyed);
    destroyed.cleanup_pr = Some(Box::new(
        serde_json::from_value(serde_json::json!({
            "number": 300, "state": "open", "merged": false,
            "url": "https://github.com/acme/payments-infra/pull/300"
        }))
        .expect("a pull request fact"),
    ));
    destroyed.cost = Some(Box::new(
        serde_json::from_value(serde_json::json!({
            "state": "estimated", "monthly_delta": 17.43, "currency": "USD"
        }))
        .expect("a cost fact"),
    ));
    let mut state = state("alice", &[destroyed], 160, 60);
    select(&mut state, &id(8));
    let text = screen(&state);
    assert!(text.contains("cleanup PR   #300 open"), "{text}");
    assert!(
        text.contains("https://github.com/acme/payments-infra/pull/300"),
        "{text}"
    );
    assert!(
        text.contains("next: merge the cleanup pull request #300"),
        "{text}"
    );
    assert!(
        text.contains("cost         nothing now: destroyed"),
        "{text}"
    );
    assert!(!text.contains("+$17.43/month (total"), "{text}");
    assert!(!text.contains("destroyed is terminal"), "{text}");
}

#[test]
fn detail_of_a_locked_request_with_secrets() {
    for (width, height) in SIZES {
        let mut locked = request(4, Status::Merged);
        locked.lock = Some(Box::new(tfpilot::domain::request::Lock {
            holder: "bob@bastion-1 pid 4242".into(),
            operation: "apply".into(),
            acquired_at: dashboard::now(),
            expires_at: Timestamp(dashboard::now().0 + chrono::Duration::seconds(95)),
            token: Some("t".into()),
        }));
        let mut requests = every_status();
        requests[4] = locked;
        let mut state = state("bob", &requests, width, height);
        select(&mut state, &id(4));
        key(&mut state, KeyCode::Tab);
        let text = screen(&state);
        assert!(
            !text.contains("dd-secret-value"),
            "a sensitive value leaked"
        );
        insta::assert_snapshot!(format!("detail_{width}x{height}"), text);
    }
}

#[test]
fn plan_view() {
    for (width, height) in SIZES {
        let state = plan_screen(width, height);
        insta::assert_snapshot!(format!("plan_{width}x{height}"), screen(&state));
    }
}

#[test]
fn plan_view_searching_unfolded() {
    let mut state = plan_screen(120, 40);
    key(&mut state, KeyCode::Char('Z'));
    key(&mut state, KeyCode::Char('/'));
    chars(&mut state, "forces");
    insta::assert_snapshot!("plan_search_120x40", screen(&state));
}

#[test]
fn merge_confirmation() {
    for (width, height) in SIZES {
        let mut state = state("bob", &every_status(), width, height);
        select(&mut state, &id(3));
        key(&mut state, KeyCode::Char('m'));
        insta::assert_snapshot!(format!("confirm_merge_{width}x{height}"), screen(&state));
    }
}

#[test]
fn prod_destroy_confirmation() {
    for (width, height) in SIZES {
        let mut state = state("erin", &every_status(), width, height);
        select(&mut state, &id(6));
        key(&mut state, KeyCode::Char('D'));
        chars(&mut state, "req_01KFIX");
        insta::assert_snapshot!(
            format!("confirm_prod_destroy_{width}x{height}"),
            screen(&state)
        );
    }
}

#[test]
fn help_overlay() {
    for (width, height) in SIZES {
        let mut state = state("alice", &every_status(), width, height);
        key(&mut state, KeyCode::Char('?'));
        insta::assert_snapshot!(format!("help_{width}x{height}"), screen(&state));
    }
}

#[test]
fn command_palette() {
    for (width, height) in SIZES {
        let mut state = state("alice", &every_status(), width, height);
        key(&mut state, KeyCode::Char(':'));
        chars(&mut state, "ap");
        insta::assert_snapshot!(format!("palette_{width}x{height}"), screen(&state));
    }
}

#[test]
fn insights_page() {
    for (width, height) in SIZES {
        let mut state = state("alice", &every_status(), width, height);
        key(&mut state, KeyCode::Char('i'));
        insta::assert_snapshot!(format!("insights_{width}x{height}"), screen(&state));
    }
}

#[test]
fn activity_page() {
    for (width, height) in SIZES {
        let mut state = main_screen(width, height);
        let effects = key(&mut state, KeyCode::Char('H'));
        let ticket = effects
            .iter()
            .find_map(|effect| match effect {
                tfpilot::tui::effect::Effect::LoadActivity { ticket, .. } => Some(ticket.clone()),
                _ => None,
            })
            .expect("the feed is read");
        let mut events: Vec<LifecycleEvent> = events_for(6)
            .into_iter()
            .chain(events_for(2))
            .filter_map(Result::ok)
            .collect();
        events.sort_by_key(|event| std::cmp::Reverse(event.at));
        send(
            &mut state,
            Msg::ActivityLoaded {
                ticket,
                result: Ok(events),
            },
        );
        insta::assert_snapshot!(format!("activity_{width}x{height}"), screen(&state));
    }
}

#[test]
fn events_page() {
    for (width, height) in SIZES {
        let mut state = main_screen(width, height);
        key(&mut state, KeyCode::Char('v'));
        insta::assert_snapshot!(format!("events_{width}x{height}"), screen(&state));
    }
}

#[test]
fn filtered_to_plan_ready_in_prod() {
    let mut state = state("bob", &every_status(), 120, 40);
    key(&mut state, KeyCode::Char('/'));
    chars(&mut state, "prod plan_ready");
    key(&mut state, KeyCode::Enter);
    insta::assert_snapshot!("filtered_120x40", screen(&state));
}

#[test]
fn too_small_and_every_tiny_size_draws() {
    let mut state = state("alice", &every_status(), 50, 10);
    insta::assert_snapshot!("too_small_50x10", screen(&state));
    for width in 1..=130u16 {
        for height in [1u16, 2, 5, 11, 12, 13, 24] {
            send(&mut state, Msg::Resize { width, height });
            let _ = screen(&state);
        }
    }
}

#[test]
fn status_colours_come_from_the_theme() {
    let state = main_screen(120, 40);
    let theme = Theme::default_theme();
    let terminal = terminal(&state, &theme);
    let buffer = terminal.backend().buffer();
    let mut checked = 0;
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        for status in [Status::Failed, Status::PlanReady, Status::Applying] {
            let label = format!("{} {}", status.symbol(), status.as_str());
            if let Some(byte) = line.find(&label) {
                let x = line[..byte].chars().count() as u16;
                let cell = &buffer[(x, y)];
                // The selected row uses the selection style instead.
                if y == 3 + state.list.selected() as u16 {
                    continue;
                }
                let expected = theme.status(status);
                assert_eq!(
                    cell.fg,
                    expected.fg.unwrap_or_default(),
                    "{status:?} at {x},{y}"
                );
                if let Some(bg) = expected.bg {
                    assert_eq!(cell.bg, bg, "{status:?} background");
                }
                assert_eq!(
                    cell.modifier.contains(Modifier::BOLD),
                    expected.add_modifier.contains(Modifier::BOLD)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "checked {checked} status cells");
}

#[test]
fn no_color_draws_no_colour() {
    let state = main_screen(120, 40);
    let theme = Theme::default_theme().without_colors();
    let terminal = terminal(&state, &theme);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
    // Statuses still read: the symbols are there without colour.
    let text = terminal.backend().to_string();
    assert!(
        text.contains("✖ failed") && text.contains("◑ plan_ready"),
        "{text}"
    );
}

/// The create form on s3-bucket (the 4th module by name), `name` typed as the bucket name.
fn create_bucket(state: &mut State, name: &str) {
    key(state, KeyCode::Char('c'));
    key(state, KeyCode::Down);
    key(state, KeyCode::Down);
    for _ in 0..3 {
        key(state, KeyCode::Right);
    }
    key(state, KeyCode::Down);
    chars(state, name);
}

#[test]
fn create_form_with_errors() {
    for (width, height) in SIZES {
        let mut state = state("alice", &every_status(), width, height);
        // s3-bucket, with a bucket name the team's naming rule refuses.
        create_bucket(&mut state, "Media Bucket");
        insta::assert_snapshot!(format!("create_errors_{width}x{height}"), screen(&state));
    }
}

#[test]
fn create_form_with_its_block() {
    let mut state = state("alice", &every_status(), 120, 40);
    create_bucket(&mut state, "data-platform-dev-events");
    insta::assert_snapshot!("create_preview_120x40", screen(&state));
}

/// The ask line open over the create form, while the assistant answers.
#[test]
fn create_form_asking_the_assistant() {
    let mut state = state("alice", &every_status(), 120, 40);
    state.assistant = tfpilot::tui::state::Assistant::On {
        model: "test-model".into(),
    };
    key(&mut state, KeyCode::Char('c'));
    send(
        &mut state,
        Msg::Key(crossterm::event::KeyEvent::new(
            KeyCode::Char('o'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    chars(
        &mut state,
        "a private bucket for payments logs in dev, 90 days",
    );
    insta::assert_snapshot!("create_ask_120x40", screen(&state));
    key(&mut state, KeyCode::Enter);
    insta::assert_snapshot!("create_asking_120x40", screen(&state));
}

/// A document that claimed what GitHub contradicts carries a warning on its row and in its
/// detail, in words, so it reads without colour.
#[test]
fn a_contradicted_document_is_marked_on_its_row_and_in_its_detail() {
    for (width, height) in SIZES {
        let mut contradicted = request(3, Status::PlanReady);
        contradicted.contradiction = Some(Box::new(tfpilot::domain::request::Contradiction {
            at: dashboard::now(),
            claim: "the document says bob approved 4f2a9c0".into(),
            github: "no review of 4f2a9c0 approves it".into(),
        }));
        let mut requests = every_status();
        requests[3] = contradicted;
        let mut state = state("bob", &requests, width, height);
        select(&mut state, &id(3));
        let text = screen(&state);
        assert!(text.contains("plan_ready !doc"), "{text}");
        assert!(text.contains("the document contradicted GitHub"), "{text}");
        insta::assert_snapshot!(format!("contradicted_{width}x{height}"), text);
    }
}

/// An apply held for a deployment review says so on its row and, with who must review it, in
/// its detail, where the keys to approve or reject it are offered.
#[test]
fn a_run_waiting_for_a_deployment_review_is_marked_with_its_reviewers() {
    for (width, height) in SIZES {
        let mut requests = every_status();
        requests[5] = dashboard::waiting_for_review(5);
        let mut state = state("bob", &requests, width, height);
        select(&mut state, &id(5));
        let text = screen(&state);
        assert!(text.contains("applying review"), "{text}");
        assert!(
            text.contains("waiting for prod deployment review: bob, admin"),
            "{text}"
        );
        insta::assert_snapshot!(format!("waiting_for_review_{width}x{height}"), text);
    }
}

#[test]
fn detail_with_cost_lines_and_drifted_resources() {
    let mut state = state("alice", &every_status(), 160, 50);
    select(&mut state, &id(6));
    let text = screen(&state);
    assert!(text.contains("drifted (5m ago)"), "{text}");
    assert!(text.contains("aws_s3_bucket.this"), "{text}");
    insta::assert_snapshot!("detail_cost_drift_160x50", text);
    // An odd fixture's plan has no estimate: said so, never $0.00.
    select(&mut state, &id(3));
    let text = screen(&state);
    assert!(
        text.contains("no estimate: the plan printed no Infracost estimate"),
        "{text}"
    );
    assert!(!text.contains("$0.00"), "{text}");
}

#[test]
fn create_form_from_a_template() {
    let mut state = state("alice", &every_status(), 120, 40);
    with_templates(&mut state);
    key(&mut state, KeyCode::Char('c'));
    // logs-bucket, the second template by id.
    key(&mut state, KeyCode::Right);
    key(&mut state, KeyCode::Right);
    insta::assert_snapshot!("create_from_template_120x40", screen(&state));
    // Typing on the region field (after template, project, environment, module, bucket name)
    // opens its picker, narrowed to what matches.
    for _ in 0..5 {
        key(&mut state, KeyCode::Down);
    }
    chars(&mut state, "us");
    insta::assert_snapshot!("create_enum_picker_120x40", screen(&state));
}

#[test]
fn pull_request_diff_page() {
    for (width, height) in SIZES {
        let mut state = state("bob", &every_status(), width, height);
        select(&mut state, &id(2));
        dashboard::open_diff(&mut state, 2);
        insta::assert_snapshot!(format!("diff_{width}x{height}"), screen(&state));
    }
}

#[test]
fn config_editor_with_a_diff() {
    for (width, height) in SIZES {
        let mut state = state("alice", &every_status(), width, height);
        select(&mut state, &id(12));
        key(&mut state, KeyCode::Char('e'));
        if let Some(tfpilot::tui::state::modal::Modal::Edit(form)) = state.modals.last_mut() {
            let row = form
                .editor
                .lines()
                .iter()
                .position(|l| l.starts_with("versioning"))
                .expect("a versioning line");
            form.editor
                .move_cursor(ratatui_textarea::CursorMove::Jump(row as u16, 0));
            form.editor.move_cursor(ratatui_textarea::CursorMove::End);
        }
        for _ in 0.."true".len() {
            key(&mut state, KeyCode::Backspace);
        }
        chars(&mut state, "false");
        insta::assert_snapshot!(format!("edit_{width}x{height}"), screen(&state));
    }
}

#[test]
fn documents_with_odd_values_still_draw() {
    // The store is shared: a document may hold anything a tool or a person wrote.
    let mut odd = request(3, Status::Approved);
    if let Some(approval) = odd.approval.as_deref_mut() {
        approval.head_sha = Some("ééééé".into());
    }
    odd.project = "проект".into();
    odd.lock = Some(Box::new(tfpilot::domain::request::Lock {
        holder: "".into(),
        operation: "apply".into(),
        acquired_at: dashboard::now(),
        expires_at: dashboard::now(),
        token: None,
    }));
    let mut requests = every_status();
    requests[3] = odd;
    let mut state = state("bob", &requests, 160, 50);
    select(&mut state, &id(3));
    let text = screen(&state);
    assert!(text.contains("approved by bob at ééééé"), "{text}");
    assert!(text.contains("expired"), "{text}");
}

/// The detail pane shows a sensitive config value as the CLI does: `********`.
#[test]
fn the_detail_pane_masks_sensitive_values() {
    let mut state = state("bob", &every_status(), 120, 60);
    // Fixture request 4 is an ecs-service with a Datadog key, a field the module marks
    // sensitive.
    select(&mut state, &id(4));
    key(&mut state, KeyCode::Tab);
    let mut seen = String::new();
    for _ in 0..40 {
        seen.push_str(&screen(&state));
        key(&mut state, KeyCode::Char('j'));
    }
    assert!(seen.contains("datadog_api_key = ********"), "{seen}");
    assert!(seen.contains("service_name = \"api-4\""), "{seen}");
    assert!(
        !seen.contains("dd-secret-value"),
        "a sensitive value leaked"
    );
}

/// The cells of the drawn screen that hold a control or bidirectional character.
fn hazard_cells(state: &State) -> Vec<String> {
    terminal(state, &Theme::default_theme())
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|cell| cell.symbol().to_string())
        .filter(|symbol| symbol.chars().any(tfpilot::domain::untrusted::is_hazard))
        .collect()
}

/// Text from the store and GitHub can hold escape sequences and bidirectional overrides: none
/// reaches a cell of the screen, in the list, the detail pane or the events.
#[test]
fn hostile_text_never_reaches_a_cell() {
    const HOSTILE: &str = "x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt.exe\u{2066}\u{7f}y";
    let mut requests = every_status();
    let victim = &mut requests[6];
    victim.requested_by = format!("mallory{HOSTILE}");
    victim.project = format!("payments{HOSTILE}");
    victim
        .config
        .insert("bucket_name".into(), serde_json::json!(HOSTILE));
    victim.contradiction = Some(Box::new(tfpilot::domain::request::Contradiction {
        at: dashboard::now(),
        claim: HOSTILE.into(),
        github: HOSTILE.into(),
    }));
    // A policy's messages quote the plan, which quotes whatever the request holds.
    let plan_run = victim.plan_run.as_ref().and_then(|run| run.id);
    victim.policy = Some(Box::new(tfpilot::domain::policy::PolicyFact {
        run_id: plan_run,
        verdict: Some(tfpilot::domain::policy::Verdict::Deny),
        deny: vec![format!("names: {HOSTILE}")],
        warn: vec![HOSTILE.into()],
        ..Default::default()
    }));
    let mut state = state("alice", &requests, 120, 40);
    select(&mut state, &id(6));
    let ticket = state.tickets.issue(EffectKey::Events(id(6)));
    let mut event = LifecycleEvent::new(id(6), dashboard::now(), "pr_merged", HOSTILE);
    event.message = Some(HOSTILE.into());
    send(
        &mut state,
        Msg::EventsLoaded {
            ticket,
            result: Ok(vec![Ok(event)]),
        },
    );
    assert!(plan_run.is_some());
    let hazards = hazard_cells(&state);
    assert!(hazards.is_empty(), "{hazards:?}");
    assert!(screen(&state).contains("mallory"));

    // A plan log (GitHub's, as the run printed it) with the same bytes in a resource line.
    let log = format!(
        "Terraform will perform the following actions:\n\n  # module.tfpilot_x.aws_s3_bucket.this will be created\n  + resource \"aws_s3_bucket\" \"this\" {{\n      + bucket = \"{HOSTILE}\"\n    }}\n\nPlan: 1 to add, 0 to change, 0 to destroy.\n"
    );
    let document = tfpilot::tui::plan::document::PlanDocument::build(&log);
    dashboard::open_plan_with(&mut state, std::sync::Arc::new(document));
    key(&mut state, KeyCode::Char('Z')); // unfold all
    let hazards = hazard_cells(&state);
    assert!(hazards.is_empty(), "the plan view: {hazards:?}");
    assert!(screen(&state).contains("txt.exe"), "{}", screen(&state));
}

/// An original whose change was applied shows the values its resources have now next to the
/// ones it was first asked with, and its change history.
#[test]
fn an_original_shows_its_values_now_and_its_changes() {
    let mut original = request(8, Status::Applied);
    let mut change = request(11, Status::Applied);
    change.changes = Some(original.id.clone());
    change.config = original.config.clone();
    change
        .config
        .insert("versioning".into(), serde_json::json!(false));
    original.change_requests = vec![change.id.clone()];
    let mut state = state("bob", &[original, change], 120, 60);
    select(&mut state, &id(8));
    key(&mut state, KeyCode::Tab);
    let mut text = String::new();
    for _ in 0..20 {
        text.push_str(&screen(&state));
        key(&mut state, KeyCode::Char('j'));
    }
    assert!(
        text.contains(&format!("values now, since {} was applied:", id(11))),
        "{text}"
    );
    assert!(text.contains("versioning = false  (was true)"), "{text}");
    assert!(
        text.contains(&format!("{} applied · the values now · versioning", id(11))),
        "{text}"
    );
}

/// A plan the team's policies deny: `deny` after its status in the list, the verdict and each
/// message in the detail pane; an admin's override shown in its place once given.
#[test]
fn a_denied_plan_and_its_override() {
    use tfpilot::domain::policy::{PolicyFact, PolicyOverride, Verdict};
    let fact = |n: u64| {
        PolicyFact {
        run_id: Some(1000 + n),
        verdict: Some(Verdict::Deny),
        deny: vec![
            "prod-databases: module.tfpilot_x.aws_db_instance.this: a production database must be multi_az (set multi_az = true)".into(),
        ],
        warn: vec!["monthly-cost: adds 152.57 USD a month".into()],
        policies: vec!["buckets".into(), "monthly-cost".into(), "prod-databases".into()],
        ..PolicyFact::default()
    }
    };
    let mut denied = request(2, Status::PlanReady);
    denied.policy = Some(Box::new(fact(2)));
    let mut overridden = request(5, Status::PlanReady);
    overridden.policy = Some(Box::new(fact(5)));
    overridden.policy_override = Some(Box::new(PolicyOverride {
        run_id: 1005,
        by: "erin".into(),
        reason: "single-AZ until the migration week".into(),
        at: dashboard::now(),
        denied: fact(5).deny,
        extra: serde_json::Map::new(),
    }));
    let mut state = state("bob", &[denied, overridden], 120, 60);
    select(&mut state, &id(2));
    key(&mut state, KeyCode::Tab);
    let text = screen(&state);
    assert!(text.contains("plan_ready deny"), "{text}");
    assert!(text.contains("plan_ready ovr"), "{text}");
    assert!(
        text.contains("policy       deny (1): approve, merge and apply are refused"),
        "{text}"
    );
    assert!(
        text.contains("deny: prod-databases: module.tfpilot_x.aws_db_instance.this"),
        "{text}"
    );
    insta::assert_snapshot!("policy_denied_120x60", text);
    key(&mut state, KeyCode::Tab);
    select(&mut state, &id(5));
    key(&mut state, KeyCode::Tab);
    let text = screen(&state);
    assert!(text.contains("deny, overridden by erin"), "{text}");
    insta::assert_snapshot!("policy_overridden_120x60", text);

    // The plan view of the judged plan says it in its summary bar.
    key(&mut state, KeyCode::Tab);
    select(&mut state, &id(2));
    open_plan(&mut state);
    let text = screen(&state);
    assert!(text.contains("│ policy: DENY (1)"), "{text}");
    insta::assert_snapshot!("policy_plan_view_120x60", text);
}
