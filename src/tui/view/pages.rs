//! Full-screen pages: insights over every request, and one request's audit event log.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::domain::{LifecycleEvent, Status};

use super::super::state::{Loadable, Screen, State};
use super::super::theme::{Role, Theme};
use super::{pane, styled};

/// Lines the current full-screen page has, for scrolling it no further than its end.
pub fn page_len(state: &State) -> usize {
    match state.screen {
        Screen::Insights => insights_len(state),
        Screen::Events => events_len(state),
        Screen::Activity => match &state.activity {
            Loadable::Loaded(events) => events.len().max(1),
            _ => 1,
        },
        Screen::Diff => match &state.diff {
            Loadable::Loaded(diff) => super::diff::diff_len(diff),
            _ => 1,
        },
        Screen::Main | Screen::Plan => 0,
    }
}

fn unreadable_rows(state: &State) -> usize {
    state
        .list
        .rows()
        .filter(|row| row.request.is_none())
        .count()
}

/// The title, a bar per status, the unreadable count (when there are some), a blank line and
/// the figures.
fn insights_len(state: &State) -> usize {
    state.insights.as_ref().map_or(1, |insights| {
        1 + Status::ALL.len()
            + usize::from(unreadable_rows(state) > 0)
            + 1
            + insights.figures().len()
    })
}

/// One line per event, or one saying why there are none.
fn events_len(state: &State) -> usize {
    state
        .list
        .selected_id()
        .and_then(|id| match state.detail.events.get(id) {
            Some(Loadable::Loaded(entries)) => Some(entries.len().max(1)),
            _ => None,
        })
        .unwrap_or(1)
}

/// The team's latest events, newest first: when, which request, who, what.
pub fn activity(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = pane(
        " team activity: latest events, newest first (r reads again) ",
        theme,
        true,
    );
    let lines: Vec<Line> = match &state.activity {
        Loadable::Loaded(events) if events.is_empty() => {
            vec![Line::styled(
                "no events recorded yet",
                theme.style(Role::Muted),
            )]
        }
        Loadable::Loaded(events) => events
            .iter()
            .map(|event| {
                Line::from(vec![
                    styled(
                        format!("{} ", event.at.0.format("%Y-%m-%d %H:%M:%S")),
                        theme.style(Role::Muted),
                    ),
                    styled(format!("{:<10} ", event.actor), theme.style(Role::Text)),
                    styled(format!("{:<22} ", event.kind), theme.style(Role::Info)),
                    styled(format!("{} ", event.request_id), theme.style(Role::Muted)),
                    styled(
                        event.message.clone().unwrap_or_default(),
                        theme.style(Role::Text),
                    ),
                ])
            })
            .collect(),
        Loadable::Failed(error) => vec![Line::styled(
            format!("cannot read the activity: {error}"),
            theme.style(Role::Danger),
        )],
        Loadable::Loading => vec![Line::styled("reading…", theme.style(Role::Muted))],
    };
    let offset = state.view_scroll.offset.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Paragraph::new(lines).block(block).scroll((offset, 0)), area);
}

pub fn insights(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = pane(" insights ", theme, true);
    let Some(insights) = &state.insights else {
        frame.render_widget(
            Paragraph::new(Line::styled("counting…", theme.style(Role::Muted))).block(block),
            area,
        );
        return;
    };
    let mut lines = vec![Line::styled(
        format!("{} requests", insights.total),
        theme.style(Role::Title),
    )];
    let largest = insights
        .by_status
        .values()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_room = (area.width as usize).saturating_sub(40).clamp(4, 60);
    for status in Status::ALL {
        let count = insights.by_status.get(&status).copied().unwrap_or(0);
        let bar = "█".repeat(count * bar_room / largest);
        lines.push(Line::from(vec![
            styled(
                format!("  {} {:<16}", status.symbol(), status.as_str()),
                theme.status(status),
            ),
            styled(format!("{count:>6} "), theme.style(Role::Text)),
            styled(bar, theme.status(status)),
        ]));
    }
    let unreadable = unreadable_rows(state);
    if unreadable > 0 {
        lines.push(Line::styled(
            format!("  ! unreadable        {unreadable:>6}"),
            theme.style(Role::Danger),
        ));
    }
    lines.push(Line::default());
    let row = |label: &str, value: String| {
        Line::from(vec![
            styled(format!("{label:<22}"), theme.style(Role::Muted)),
            styled(value, theme.style(Role::Text)),
        ])
    };
    for (label, value) in insights.figures() {
        lines.push(row(label, value));
    }
    debug_assert_eq!(lines.len(), insights_len(state));
    let offset = state.view_scroll.offset.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Paragraph::new(lines).block(block).scroll((offset, 0)), area);
}

pub fn events(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(id) = state.list.selected_id() else {
        return;
    };
    let block = pane(format!(" events of {id} "), theme, true);
    let lines: Vec<Line> = match state.detail.events.get(id) {
        Some(Loadable::Loaded(entries)) if entries.is_empty() => {
            vec![Line::styled("no events recorded", theme.style(Role::Muted))]
        }
        Some(Loadable::Loaded(entries)) => entries
            .iter()
            .map(|entry| match entry {
                Ok(LifecycleEvent {
                    at,
                    kind,
                    actor,
                    message,
                    ..
                }) => Line::from(vec![
                    styled(
                        format!("{} ", at.0.format("%Y-%m-%d %H:%M:%S")),
                        theme.style(Role::Muted),
                    ),
                    styled(format!("{kind:<22}"), theme.style(Role::Info)),
                    styled(format!("{actor:<10} "), theme.style(Role::Text)),
                    styled(message.clone().unwrap_or_default(), theme.style(Role::Text)),
                ]),
                Err(bad) => Line::styled(
                    format!("unreadable event {}: {}", bad.key, bad.reason),
                    theme.style(Role::Danger),
                ),
            })
            .collect(),
        Some(Loadable::Failed(error)) => vec![Line::styled(
            format!("cannot read the events: {error}"),
            theme.style(Role::Danger),
        )],
        _ => vec![Line::styled("reading…", theme.style(Role::Muted))],
    };
    debug_assert_eq!(lines.len(), events_len(state));
    let offset = state.view_scroll.offset.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Paragraph::new(lines).block(block).scroll((offset, 0)), area);
}
