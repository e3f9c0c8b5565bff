//! The bottom line: the keys that matter here, read from the keymap, so a rebinding shows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::Action;
use super::super::state::State;
use super::super::theme::{Role, Theme};
use super::styled;

/// The actions hinted in each context, most useful first; the footer shows what fits.
fn hinted(state: &State) -> &'static [Action] {
    use super::super::keymap::Context;
    match state.context() {
        Context::Main => &[
            Action::Help,
            Action::Open,
            Action::Filter,
            Action::FilterStatus,
            Action::FilterEnvironment,
            Action::Plan,
            Action::Approve,
            Action::Merge,
            Action::Apply,
            Action::Destroy,
            Action::Create,
            Action::Edit,
            Action::Palette,
            Action::Refresh,
            Action::Insights,
            Action::Quit,
        ],
        Context::Plan => &[
            Action::Back,
            Action::ToggleFold,
            Action::UnfoldAll,
            Action::FoldAll,
            Action::Search,
            Action::NextMatch,
            Action::Approve,
            Action::Follow,
            Action::Help,
        ],
        Context::Insights | Context::Events => &[Action::Back, Action::MoveDown, Action::Help],
        Context::Help => &[Action::Back, Action::MoveDown],
        Context::Confirm => &[Action::Confirm, Action::Cancel],
        Context::Input => &[
            Action::Submit,
            Action::Cancel,
            Action::NextField,
            Action::PreviousField,
        ],
        Context::Editor => &[Action::Submit, Action::Cancel],
        Context::Global => &[Action::Help, Action::Quit],
    }
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let context = state.context();
    let mut spans: Vec<Span> = Vec::new();
    let mut width = 0usize;
    for action in hinted(state) {
        let (Some(name), Some(description)) = (action.name(), action.description()) else {
            continue;
        };
        let Some(key) = state.keymap.keys_for(context, &name).into_iter().next() else {
            continue;
        };
        let key = key.to_string();
        let short = description.split(':').next().unwrap_or(description);
        let cost = key.chars().count() + short.chars().count() + 3;
        if width + cost > area.width as usize {
            break;
        }
        width += cost;
        let description_role = if action.is_dangerous() {
            Role::Danger
        } else {
            Role::Muted
        };
        spans.push(styled(format!(" {key}"), theme.style(Role::Key)));
        spans.push(styled(format!(" {short} "), theme.style(description_role)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
