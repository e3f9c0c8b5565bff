//! The pull request's diff page (`d`): the verdict first (only the block changes, or what
//! else does), then each file's hunks; additions and removals coloured, and every change
//! outside the request's block marked `!` in the warning colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::domain::pull_diff::{LineKind, PullDiff};

use super::super::state::{Loadable, State};
use super::super::theme::{Role, Theme};
use super::{pane, styled};

/// Lines the page has: the verdict (a line, and one per thing outside the block), then per
/// file a blank line, its header, a line when GitHub sent no patch, and its diff lines.
pub fn diff_len(diff: &PullDiff) -> usize {
    1 + verdict_details(diff).len()
        + diff
            .files
            .iter()
            .map(|file| 2 + usize::from(file.without_patch) + file.lines.len())
            .sum::<usize>()
}

fn lines<'a>(diff: &PullDiff, theme: &Theme) -> Vec<Line<'a>> {
    let verdict_role = if diff.changes_outside() {
        Role::Warning
    } else {
        Role::Success
    };
    let headline = match (&diff.block_problem, diff.outside.is_empty()) {
        (None, true) => diff.verdict(),
        (None, false) => format!(
            "! pull request #{} changes more than {}'s block:",
            diff.number, diff.request_id
        ),
        (Some(_), _) => "! the request's block was not found at the pull request's head:".into(),
    };
    let mut out = vec![Line::styled(headline, theme.style(verdict_role))];
    out.extend(
        verdict_details(diff)
            .into_iter()
            .map(|detail| Line::styled(format!("  · {detail}"), theme.style(Role::Warning))),
    );
    for file in &diff.files {
        out.push(Line::default());
        let mut header = vec![styled(
            format!(
                "{} ({}, +{} -{})",
                file.filename, file.status, file.additions, file.deletions
            ),
            theme.style(Role::Title),
        )];
        if !file.is_target {
            header.push(styled(
                "  ! not the request's file",
                theme.style(Role::Warning),
            ));
        }
        out.push(Line::from(header));
        if file.without_patch {
            out.push(Line::styled(
                "  GitHub sends no patch for this file (binary or too large)",
                theme.style(Role::Muted),
            ));
        }
        for line in &file.lines {
            let role = match line.kind {
                LineKind::Hunk => Role::Accent,
                LineKind::Added => Role::PlanAdd,
                LineKind::Removed => Role::PlanDestroy,
                LineKind::Context => Role::Text,
                LineKind::Note => Role::Muted,
            };
            let gutter = if line.outside {
                styled("! ", theme.style(Role::Warning))
            } else {
                styled("  ", theme.style(Role::Muted))
            };
            out.push(Line::from(vec![
                gutter,
                styled(line.shown(), theme.style(role)),
            ]));
        }
    }
    out
}

/// What the verdict lists under its headline: the block's problem, or each thing outside it.
fn verdict_details(diff: &PullDiff) -> Vec<String> {
    match &diff.block_problem {
        Some(problem) => vec![format!(
            "{problem}; every change is shown as outside the request"
        )],
        None => diff.outside.clone(),
    }
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let id = state.diff_of.as_deref().unwrap_or("");
    let title = match &state.diff {
        Loadable::Loaded(diff) => format!(
            " diff of {id} · pull request #{} (r reads again) ",
            diff.number
        ),
        _ => format!(" diff of {id} "),
    };
    let block = pane(title, theme, true);
    let lines: Vec<Line> = match &state.diff {
        Loadable::Loaded(diff) => lines(diff, theme),
        Loadable::Failed(error) => vec![Line::styled(
            format!("cannot read the diff: {error}"),
            theme.style(Role::Danger),
        )],
        Loadable::Loading => vec![Line::styled(
            "reading the pull request from GitHub…",
            theme.style(Role::Muted),
        )],
    };
    let offset = state.view_scroll.offset.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Paragraph::new(lines).block(block).scroll((offset, 0)), area);
}
