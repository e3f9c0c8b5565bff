//! Drawing: pure functions of the state and the theme. Nothing here changes state or does I/O.

mod detail;
mod diff;
mod footer;
mod forms;
mod header;
pub mod layout;
mod list;
pub mod modals;
pub mod pages;
mod plan;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::state::line_input::LineInput;
use super::state::{Pane, Screen, State, ToastKind};
use super::theme::{Role, Theme};
use crate::domain::Timestamp;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    if layout::too_small(area.width, area.height) {
        too_small(theme, frame, area);
        return;
    }
    let areas = layout::frame(area, state.toast_rows());
    header::render(state, theme, frame, areas.header);
    match state.screen {
        Screen::Main => {
            let (list_area, detail_area) = layout::main_panes(areas.body);
            list::render(state, theme, frame, list_area, state.pane == Pane::List);
            detail::render(state, theme, frame, detail_area, state.pane == Pane::Detail);
        }
        Screen::Plan => plan::render(state, theme, frame, areas.body),
        Screen::Insights => pages::insights(state, theme, frame, areas.body),
        Screen::Events => pages::events(state, theme, frame, areas.body),
        Screen::Activity => pages::activity(state, theme, frame, areas.body),
        Screen::Diff => diff::render(state, theme, frame, areas.body),
    }
    footer::render(state, theme, frame, areas.footer);
    for modal in &state.modals {
        modals::render(state, modal, theme, frame, areas.body);
    }
    toasts(state, theme, frame, areas.toasts);
    neutralise(frame.buffer_mut());
}

/// The last pass of every frame: ratatui leaves control characters out of cells, but not the
/// bidirectional overrides and isolates text from the store or GitHub can carry (they join the
/// grapheme before them). Dropped here, whatever view drew them.
fn neutralise(buffer: &mut ratatui::buffer::Buffer) {
    use crate::domain::untrusted::is_hazard;
    for cell in buffer.content.iter_mut() {
        if cell.symbol().chars().any(is_hazard) {
            let kept: String = cell.symbol().chars().filter(|c| !is_hazard(*c)).collect();
            cell.set_symbol(if kept.is_empty() { " " } else { &kept });
        }
    }
}

fn too_small(theme: &Theme, frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::styled("terminal too small", theme.style(Role::Danger)),
        Line::styled(
            format!(
                "{}x{}: tfpilot needs {}x{}",
                area.width,
                area.height,
                layout::MIN_WIDTH,
                layout::MIN_HEIGHT
            ),
            theme.style(Role::Muted),
        ),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

/// Toasts fill the rows the layout gave them, newest at the bottom: a coloured marker, the
/// text wrapped; an error says esc dismisses it.
fn toasts(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let mut bottom = area.y + area.height;
    for toast in state.toasts.iter().rev() {
        let (role, mark) = match toast.kind {
            ToastKind::Success => (Role::Success, "✔ "),
            ToastKind::Info => (Role::Info, "• "),
            ToastKind::Error => (Role::Danger, "✖ "),
        };
        let text = toast.shown();
        let lines = layout::toast_lines(&text, area.width);
        let height = lines.min(bottom - area.y);
        if height == 0 {
            break;
        }
        bottom -= height;
        let rect = Rect::new(area.x, bottom, area.width, height);
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(mark, theme.style(role)),
                Span::styled(text, theme.style(Role::Text)),
            ]))
            .wrap(Wrap { trim: true }),
            rect,
        );
    }
}

/// "12s", "5m", "3h", "2d": how long ago.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.seconds_since(then).max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// A bordered block with a title; the border is brighter when it has the keys.
pub fn pane<'a>(title: impl Into<Line<'a>>, theme: &Theme, focused: bool) -> Block<'a> {
    let border = if focused {
        Role::BorderFocused
    } else {
        Role::Border
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(border))
        .title(title.into().style(theme.style(Role::Title)))
}

/// `label  value` with the label muted.
pub fn field<'a>(label: &'a str, value: impl Into<Span<'a>>, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<13}"), theme.style(Role::Muted)),
        value.into(),
    ])
}

pub fn styled<'a>(text: impl Into<String>, style: Style) -> Span<'a> {
    Span::styled(text.into(), style)
}

/// Keeps the tail of a long value ("…abcdef") so it fits `width` characters.
/// A line being edited, scrolled to fit `width` columns, the cursor drawn as a reversed cell.
pub fn line_input<'a>(input: &LineInput, width: usize, style: Style) -> Vec<Span<'a>> {
    let (before, under, after) = input.window(width.saturating_sub(1));
    let cursor = style.add_modifier(ratatui::style::Modifier::REVERSED);
    vec![
        styled(before, style),
        styled(under.map_or(" ".to_string(), String::from), cursor),
        styled(after, style),
    ]
}

pub fn clip_start(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count + 1 - width.max(1)).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_k9s() {
        let now = Timestamp(chrono::DateTime::from_timestamp(100_000, 0).expect("valid"));
        let ago = |seconds: i64| Timestamp(now.0 - chrono::Duration::seconds(seconds));
        assert_eq!(age(now, ago(5)), "5s");
        assert_eq!(age(now, ago(300)), "5m");
        assert_eq!(age(now, ago(7200)), "2h");
        assert_eq!(age(now, ago(90_000)), "1d");
        assert_eq!(
            age(now, Timestamp(now.0 + chrono::Duration::seconds(9))),
            "0s"
        );
    }

    #[test]
    fn clipping_keeps_the_tail() {
        assert_eq!(clip_start("abcdef", 10), "abcdef");
        assert_eq!(clip_start("abcdef", 4), "…def");
    }
}
