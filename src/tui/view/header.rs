//! The top line: where, who, GitHub's budget, and how sync is doing.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::state::{State, SyncState};
use super::super::theme::{Role, Theme};
use super::{age, styled};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let base = theme.style(Role::Header);
    let session = &state.session;
    let mut spans: Vec<Span> = vec![
        styled(" tfpilot ", base.patch(theme.style(Role::Title))),
        styled(
            if session.sandbox { "sandbox " } else { "" },
            base.patch(theme.style(Role::Warning)),
        ),
        styled(format!("{} ", session.store), base),
        styled("│ ", base),
        styled(
            format!("{} ({}) ", session.user, session.role.as_str()),
            base,
        ),
        styled("│ ", base),
    ];
    match &state.rate {
        Some(rate) => {
            let low = rate.remaining * 10 < rate.limit;
            let style = if low {
                base.patch(theme.style(Role::Danger))
            } else {
                base
            };
            spans.push(styled(
                format!(
                    "api {}/{} resets {} ",
                    rate.remaining,
                    rate.limit,
                    rate.reset.0.format("%H:%M:%S")
                ),
                style,
            ));
        }
        None => spans.push(styled("api — ", base)),
    }
    spans.push(styled("│ ", base));
    let sync = match &state.sync {
        SyncState::Starting => styled("sync starting", base),
        SyncState::Ok { at } => styled(
            format!("sync ok {} ago", age(state.now, *at)),
            base.patch(theme.style(Role::Success)),
        ),
        SyncState::BackingOff { until } => styled(
            match until {
                Some(until) => format!(
                    "rate limited: backing off until {}",
                    until.0.format("%H:%M:%S")
                ),
                None => "rate limited: backing off".to_string(),
            },
            base.patch(theme.style(Role::Danger)),
        ),
        SyncState::Failing { message, at } => styled(
            format!("sync failing ({} ago): {message}", age(state.now, *at)),
            base.patch(theme.style(Role::Danger)),
        ),
    };
    spans.push(sync);
    if !state.focused {
        spans.push(styled(
            " (unfocused: polling slower)",
            base.patch(theme.style(Role::Muted)),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}
