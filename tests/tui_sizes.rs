//! Every view survives every terminal size, with unreadable documents in the store.
//!
//! The normal suite draws each view at every width from 1 to 500 (at two heights), every
//! height from 1 to 200 (at two widths) and 100 pseudo-random sizes in between. With
//! `TFPILOT_SOAK_SIZES=full` (`scripts/soak`) it draws every view at every one of the 100,000
//! sizes from 1x1 to 500x200. A panic anywhere in the layout or a widget fails the test with the
//! view and the size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/dashboard.rs"]
mod dashboard;

use std::sync::Arc;

use crossterm::event::KeyCode;
use dashboard::{chars, every_status, id, key, open_plan, select, send, state, with_templates};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use tfpilot::domain::DocumentError;
use tfpilot::engine::PollEvent;
use tfpilot::store::{ETag, ListedRequest};
use tfpilot::tui::msg::Msg;
use tfpilot::tui::state::State;
use tfpilot::tui::theme::Theme;
use tfpilot::tui::view::render;

/// The store as it may be: readable documents and three that are not, one of them selected.
fn with_unreadable(user: &str) -> State {
    let mut state = state(user, &every_status(), 120, 40);
    let mut entries = dashboard::listing(&every_status());
    let broken = |id: &str, error: DocumentError| ListedRequest {
        key: format!("requests/{id}.json"),
        id: id.to_string(),
        etag: ETag(format!("\"{id}\"")),
        outcome: Err(error),
    };
    entries.push(broken(
        "req_broken",
        DocumentError::NotJson("expected value at line 1 column 1".into()),
    ));
    entries.push(broken(
        "req_future",
        DocumentError::FutureSchema {
            found: 9,
            supported: 1,
        },
    ));
    entries.push(broken(
        "req_copied",
        DocumentError::IdMismatch {
            id: id(1),
            key: "requests/req_copied.json".into(),
        },
    ));
    send(&mut state, Msg::Poll(PollEvent::Listed(Arc::new(entries))));
    select(&mut state, "req_broken");
    state
}

/// Every screen and modal, each built the way a user gets there.
fn views() -> Vec<(&'static str, State)> {
    let mut views = Vec::new();
    let base = || with_unreadable("bob");
    views.push(("list, an unreadable document selected", base()));
    let mut detail = base();
    key(&mut detail, KeyCode::Tab);
    views.push(("detail pane of an unreadable document", detail));
    let mut readable = base();
    select(&mut readable, &id(6));
    views.push(("list, an applied request selected", readable));
    let mut plan = base();
    select(&mut plan, &id(2));
    open_plan(&mut plan);
    views.push(("plan view", plan));
    let mut search = base();
    select(&mut search, &id(2));
    open_plan(&mut search);
    key(&mut search, KeyCode::Char('/'));
    chars(&mut search, "bucket");
    views.push(("plan view, searching", search));
    for (name, code) in [
        ("help", KeyCode::Char('?')),
        ("insights", KeyCode::Char('i')),
        ("events", KeyCode::Char('H')),
        ("command palette", KeyCode::Char(':')),
        ("filter prompt", KeyCode::Char('/')),
        (
            "apply refused on an unreadable document",
            KeyCode::Char('A'),
        ),
    ] {
        let mut state = base();
        key(&mut state, code);
        views.push((name, state));
    }
    let mut create = base();
    key(&mut create, KeyCode::Char('c'));
    views.push(("create form", create));
    let mut templated = with_unreadable("alice");
    with_templates(&mut templated);
    key(&mut templated, KeyCode::Char('c'));
    key(&mut templated, KeyCode::Right);
    views.push(("create form from a template", templated));
    let mut edit = with_unreadable("alice");
    select(&mut edit, &id(12));
    key(&mut edit, KeyCode::Char('e'));
    views.push(("config editor", edit));
    let mut merge = base();
    select(&mut merge, &id(3));
    key(&mut merge, KeyCode::Char('m'));
    views.push(("merge confirmation", merge));
    let mut destroy = with_unreadable("admin");
    select(&mut destroy, &id(6));
    key(&mut destroy, KeyCode::Char('D'));
    views.push(("destroy confirmation", destroy));
    views
}

fn sizes() -> Vec<(u16, u16)> {
    if std::env::var("TFPILOT_SOAK_SIZES").as_deref() == Ok("full") {
        return (1..=500u16)
            .flat_map(|w| (1..=200u16).map(move |h| (w, h)))
            .collect();
    }
    let mut sizes: Vec<(u16, u16)> = Vec::new();
    for width in 1..=500u16 {
        for height in [2u16, 24] {
            sizes.push((width, height));
        }
    }
    for height in 1..=200u16 {
        for width in [1u16, 120] {
            sizes.push((width, height));
        }
    }
    sizes.extend([(1, 1), (500, 200), (1, 200), (500, 1)]);
    let mut seed: u64 = 0x853c_49e6_748f_ea9b;
    for _ in 0..100 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let width = 1 + ((seed >> 33) % 500) as u16;
        let height = 1 + ((seed >> 17) % 200) as u16;
        sizes.push((width, height));
    }
    sizes
}

/// Draws every `part`-th view (of `parts`), so the views are shared out over parallel tests.
fn draw_views(part: usize, parts: usize) {
    let theme = Theme::default_theme();
    let sizes = sizes();
    let mut drawn = 0usize;
    let mut count = 0;
    for (name, mut state) in views().into_iter().skip(part).step_by(parts) {
        count += 1;
        let mut terminal = Terminal::new(TestBackend::new(1, 1)).expect("terminal");
        for &(width, height) in &sizes {
            send(&mut state, Msg::Resize { width, height });
            terminal
                .resize(Rect::new(0, 0, width, height))
                .expect("resize");
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                terminal
                    .draw(|frame| render(&state, &theme, frame))
                    .map(|_| ())
            }));
            match result {
                Ok(Ok(())) => drawn += 1,
                Ok(Err(error)) => panic!("{name} at {width}x{height}: {error}"),
                Err(_) => panic!("{name} panicked at {width}x{height}"),
            }
        }
    }
    assert_eq!(drawn, count * sizes.len());
    println!("{drawn} frames of {count} views at {} sizes", sizes.len());
}

#[test]
fn every_view_draws_at_every_size_part_1() {
    assert_eq!(views().len(), 16, "views added: share them out");
    draw_views(0, 2);
}

#[test]
fn every_view_draws_at_every_size_part_2() {
    draw_views(1, 2);
}
