//! The bottom line: the keys that matter here, read from the keymap, so a rebinding shows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::command::Command;
use super::super::state::State;
use super::super::theme::{Role, Theme};
use super::styled;

/// The commands hinted in each context, most useful first; the footer shows what fits.
fn hinted(state: &State) -> &'static [Command] {
    use super::super::keymap::Context;
    match state.context() {
        Context::Main => &[
            Command::Help,
            Command::Open,
            Command::Filter,
            Command::FilterStatus,
            Command::FilterEnvironment,
            Command::Plan,
            Command::Approve,
            Command::Merge,
            Command::Apply,
            Command::Destroy,
            Command::Create,
            Command::Edit,
            Command::Palette,
            Command::Refresh,
            Command::Insights,
            Command::Quit,
        ],
        Context::Plan => &[
            Command::Back,
            Command::ToggleFold,
            Command::UnfoldAll,
            Command::FoldAll,
            Command::Search,
            Command::NextMatch,
            Command::Approve,
            Command::Follow,
            Command::Help,
        ],
        Context::Insights | Context::Events => &[Command::Back, Command::MoveDown, Command::Help],
        Context::Help => &[Command::Back, Command::MoveDown],
        Context::Confirm => &[Command::Confirm, Command::Cancel],
        Context::Picker => &[
            Command::Submit,
            Command::Cancel,
            Command::MoveDown,
            Command::MoveUp,
        ],
        Context::Input => &[
            Command::Submit,
            Command::Cancel,
            Command::NextField,
            Command::PreviousField,
        ],
        Context::Editor => &[Command::Submit, Command::Cancel],
        Context::Global => &[Command::Help, Command::Quit],
    }
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let context = state.context();
    let mut spans: Vec<Span> = Vec::new();
    let mut width = 0usize;
    for command in hinted(state) {
        let description = command.description();
        let Some(key) = state.keymap.keys_for(context, *command).into_iter().next() else {
            continue;
        };
        let key = key.to_string();
        let short = description.split(':').next().unwrap_or(description);
        let cost = key.chars().count() + short.chars().count() + 3;
        if width + cost > area.width as usize {
            break;
        }
        width += cost;
        // Refused by the policy: greyed and crossed out (the palette and the key say why).
        if context == super::super::keymap::Context::Main && state.denial(*command).is_some() {
            let greyed = theme
                .style(Role::Muted)
                .add_modifier(ratatui::style::Modifier::CROSSED_OUT);
            spans.push(styled(format!(" {key}"), greyed));
            spans.push(styled(format!(" {short} "), greyed));
            continue;
        }
        let description_role = if command.is_dangerous() {
            Role::Danger
        } else {
            Role::Muted
        };
        spans.push(styled(format!(" {key}"), theme.style(Role::Key)));
        spans.push(styled(format!(" {short} "), theme.style(description_role)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
