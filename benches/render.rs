//! `cargo bench --bench render`: frame times of the dashboard at 200x60 with 10,000 requests
//! and a 5,000-line plan (goal: p99 <= 2 ms), drawn through ratatui's TestBackend, which does
//! everything a real frame does except write to a terminal.
//!
//! Printed: p50/p99/max for the list + detail screen while the selection moves, the plan view
//! while it scrolls (folded, unfolded, with a search), and, side by side, a list that builds
//! every row instead of the visible window (the baseline windowing is measured against). Also
//! the one-off cost of highlighting the plan, which runs off the UI loop.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "../tests/support/dashboard.rs"]
mod dashboard;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use dashboard::{key, request, send, state};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Constraint;
use ratatui::widgets::{Block, Borders, Row, Table};
use tfpilot::domain::Status;
use tfpilot::tui::msg::Msg;
use tfpilot::tui::plan::document::PlanDocument;
use tfpilot::tui::state::State;
use tfpilot::tui::theme::Theme;
use tfpilot::tui::view::render;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<52} frames {:>5}  p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms",
        times.len(),
        percentile(&times, 50.0).as_secs_f64() * 1e3,
        percentile(&times, 99.0).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// A plan of `resources` blocks, about 20 lines each, every 10th a replacement and every
/// 25th a destroy, with the header and summary Terraform prints.
fn synthetic_plan(lines: usize) -> String {
    let mut text = String::from(
        "Terraform used the selected providers to generate the following execution plan.\n\
         Resource actions are indicated with the following symbols:\n  + create\n  ~ update in-place\n  - destroy\n-/+ destroy and then create replacement\n\n\
         Terraform will perform the following actions:\n\n",
    );
    let mut n = 0;
    let (mut add, mut change, mut destroy) = (0, 0, 0);
    while text.lines().count() < lines - 2 {
        let address = format!("module.req_{n:05}.aws_s3_bucket.this");
        if n % 25 == 24 {
            destroy += 1;
            text.push_str(&format!(
                "  # {address} will be destroyed\n  - resource \"aws_s3_bucket\" \"this\" {{\n"
            ));
            for field in 0..16 {
                text.push_str(&format!(
                    "      - attribute_{field:02} = \"value-{n}-{field}\" -> null\n"
                ));
            }
        } else if n % 10 == 9 {
            destroy += 1;
            add += 1;
            text.push_str(&format!(
                "  # {address} must be replaced\n-/+ resource \"aws_s3_bucket\" \"this\" {{\n"
            ));
            text.push_str(&format!(
                "      ~ bucket = \"old-{n}\" -> \"new-{n}\" # forces replacement\n"
            ));
            for field in 0..15 {
                text.push_str(&format!(
                    "      ~ attribute_{field:02} = \"value-{n}\" -> (known after apply)\n"
                ));
            }
        } else if n % 3 == 0 {
            change += 1;
            text.push_str(&format!("  # {address} will be updated in-place\n  ~ resource \"aws_s3_bucket\" \"this\" {{\n"));
            for field in 0..16 {
                text.push_str(&format!(
                    "      ~ attribute_{field:02} = \"a-{n}\" -> \"b-{n}\"\n"
                ));
            }
        } else {
            add += 1;
            text.push_str(&format!(
                "  # {address} will be created\n  + resource \"aws_s3_bucket\" \"this\" {{\n"
            ));
            for field in 0..16 {
                text.push_str(&format!(
                    "      + attribute_{field:02} = \"value-{n}-{field}\"\n"
                ));
            }
        }
        text.push_str("    }\n\n");
        n += 1;
    }
    text.push_str(&format!(
        "Plan: {add} to add, {change} to change, {destroy} to destroy.\n"
    ));
    text
}

fn draw(terminal: &mut Terminal<TestBackend>, state: &State, theme: &Theme) -> Duration {
    let started = Instant::now();
    terminal
        .draw(|frame| render(state, theme, frame))
        .expect("draw");
    started.elapsed()
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (requests, plan_lines, frames) = if benchmarking {
        (10_000, 5_000, 2_000)
    } else {
        (500, 400, 50)
    };
    let theme = Theme::default_theme();
    let all: Vec<_> = (0..requests)
        .map(|n| request(n, Status::ALL[n % Status::ALL.len()]))
        .collect();
    let started = Instant::now();
    let mut state = state("bob", &all, WIDTH, HEIGHT);
    println!(
        "render bench at {WIDTH}x{HEIGHT}: {} requests loaded into the state in {:.1} ms",
        state.list.total(),
        started.elapsed().as_secs_f64() * 1e3
    );
    // What the poller sends every idle interval: the same listing again, nothing changed.
    let listing = Arc::new(dashboard::listing(&all));
    send(
        &mut state,
        Msg::Poll(tfpilot::engine::PollEvent::Listed(listing.clone())),
    );
    let mut relist = Vec::new();
    for _ in 0..if benchmarking { 20 } else { 2 } {
        let started = Instant::now();
        send(
            &mut state,
            Msg::Poll(tfpilot::engine::PollEvent::Listed(listing.clone())),
        );
        relist.push(started.elapsed());
    }
    report("a re-listing with nothing changed (update only)", relist);
    let mut relist = Vec::new();
    for round in 0..if benchmarking { 20 } else { 2 } {
        // One document changed since the last listing (a new object for it).
        let mut entries = (*listing).clone();
        let changed = round % entries.len();
        if let Ok(request) = &entries[changed].outcome {
            let mut request = (**request).clone();
            request.requested_by = format!("someone-{round}");
            entries[changed].outcome = Ok(Arc::new(request));
        }
        let entries = Arc::new(entries);
        let started = Instant::now();
        send(
            &mut state,
            Msg::Poll(tfpilot::engine::PollEvent::Listed(entries)),
        );
        relist.push(started.elapsed());
    }
    report(
        "a re-listing with one document changed (update only)",
        relist,
    );
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("terminal");
    // Warm up (first frame allocates the buffers).
    draw(&mut terminal, &state, &theme);

    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        key(&mut state, KeyCode::Char('j'));
        times.push(draw(&mut terminal, &state, &theme));
    }
    report("list + detail, selection moving (windowed)", times);

    let mut times = Vec::with_capacity(frames);
    let mut keypress = Vec::with_capacity(frames);
    for n in 0..frames {
        let started = Instant::now();
        key(
            &mut state,
            KeyCode::Char(if n % 2 == 0 { 'o' } else { 'k' }),
        );
        let frame = draw(&mut terminal, &state, &theme);
        keypress.push(started.elapsed());
        times.push(frame);
    }
    report("list + detail, re-sorting on every other frame", times);
    report("  key press to frame (update + draw)", keypress);

    // The baseline: a table of every row, as a list without windowing would build it.
    let rows: Vec<_> = state.list.window(0, usize::MAX).cloned().collect();
    let mut times = Vec::with_capacity(frames / 10);
    for _ in 0..(frames / 10).max(5) {
        let started = Instant::now();
        terminal
            .draw(|frame| {
                let table = Table::new(
                    rows.iter().map(|row| {
                        Row::new(vec![
                            row.status.map(|s| s.as_str()).unwrap_or("?").to_string(),
                            row.id.clone(),
                        ])
                    }),
                    [Constraint::Length(18), Constraint::Min(10)],
                )
                .block(Block::default().borders(Borders::ALL));
                frame.render_widget(table, frame.area());
            })
            .expect("draw");
        times.push(started.elapsed());
    }
    report("  baseline: a table of every row (no windowing)", times);

    let text = synthetic_plan(plan_lines);
    let started = Instant::now();
    let document = Arc::new(PlanDocument::build(&text));
    println!(
        "plan of {} lines, {} resources: parsed and highlighted once in {:.1} ms (off the UI loop)",
        document.lines.len(),
        document.resources.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    // The third newest request has a plan: open it the way enter does, then hand the view
    // the document the executor would have read.
    key(&mut state, KeyCode::Char('o'));
    key(&mut state, KeyCode::Char('O'));
    while state.list.sort.label() != "age" {
        key(&mut state, KeyCode::Char('o'));
    }
    if !state.list.descending {
        key(&mut state, KeyCode::Char('O'));
    }
    key(&mut state, KeyCode::Char('g'));
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('j'));
    dashboard::open_plan_with(&mut state, document.clone());
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        key(&mut state, KeyCode::Char('j'));
        times.push(draw(&mut terminal, &state, &theme));
    }
    report("plan view, risky blocks open, scrolling", times);

    key(&mut state, KeyCode::Char('Z'));
    key(&mut state, KeyCode::Char('g'));
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        key(&mut state, KeyCode::PageDown);
        if state
            .plan
            .as_ref()
            .is_some_and(|p| p.top() + 60 >= p.rows.len())
        {
            key(&mut state, KeyCode::Char('g'));
        }
        times.push(draw(&mut terminal, &state, &theme));
    }
    report("plan view, all unfolded, paging", times);

    key(&mut state, KeyCode::Char('/'));
    for c in "attribute_07".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    key(&mut state, KeyCode::Enter);
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        key(&mut state, KeyCode::Char('n'));
        times.push(draw(&mut terminal, &state, &theme));
    }
    report("plan view, jumping between search matches", times);
    send(&mut state, tfpilot::tui::command::Command::Back.into());
}
