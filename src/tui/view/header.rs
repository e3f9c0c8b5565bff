//! The top line: who, how sync is doing, GitHub's budget, and where. Most important first,
//! because a narrow terminal cuts from the right.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::state::{State, SyncState};
use super::super::theme::{Role, Theme};
use super::{age, styled};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let base = theme.style(Role::Header);
    let workspace = &state.workspace;
    let mut spans: Vec<Span> = vec![styled(" tfpilot ", base.patch(theme.style(Role::Title)))];
    if workspace.sandbox {
        spans.push(styled("sandbox ", base.patch(theme.style(Role::Warning))));
    }
    spans.push(styled(
        format!("{} ({}) │ ", workspace.user, workspace.role.as_str()),
        base,
    ));
    spans.push(sync_span(state, theme));
    spans.push(styled(" │ ", base));
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
                    "api {}/{} resets {}",
                    rate.remaining,
                    rate.limit,
                    rate.reset.0.format("%H:%M:%S")
                ),
                style,
            ));
        }
        None => spans.push(styled("api —", base)),
    }
    // What reaches the user when a run they started ends, so they know what to expect.
    let on_off = |on: bool| if on { "on" } else { "off" };
    spans.push(styled(
        format!(
            " │ bell {} · notify {}",
            on_off(state.bell),
            on_off(state.desktop)
        ),
        base,
    ));
    spans.push(styled(format!(" │ {}", workspace.store), base));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

fn sync_span<'a>(state: &State, theme: &Theme) -> Span<'a> {
    let base = theme.style(Role::Header);
    let danger = base.patch(theme.style(Role::Danger));
    let unfocused = if state.focused {
        ""
    } else {
        " (unfocused: slower)"
    };
    match &state.sync {
        SyncState::Starting => styled(format!("sync starting{unfocused}"), base),
        SyncState::Ok { at } => styled(
            format!("sync ok {} ago{unfocused}", age(state.now, *at)),
            base.patch(theme.style(Role::Success)),
        ),
        SyncState::BackingOff { until: Some(until) } => styled(
            format!(
                "rate limited: backing off until {}",
                until.0.format("%H:%M:%S")
            ),
            danger,
        ),
        SyncState::BackingOff { until: None } => styled("rate limited: backing off", danger),
        SyncState::Failing { message, at } => styled(
            format!("sync failing ({} ago): {message}", age(state.now, *at)),
            danger,
        ),
    }
}
