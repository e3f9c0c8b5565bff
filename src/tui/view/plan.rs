//! The plan / log view: a summary bar, the risky resources, and the highlighted text with
//! folded blocks. Only the rows on screen are turned into spans.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::plan::document::{PlanDocument, PlanLine, TokenKind};
use super::super::state::plan::PlanView;
use super::super::state::{Loadable, State};
use super::super::theme::{Role, Theme};
use super::{pane, styled};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(plan) = &state.plan else {
        return;
    };
    let mut title = format!(" {} — {} ", plan.id, plan.title);
    if plan.running {
        title.push_str(if plan.follow {
            "(running, following) "
        } else {
            "(running) "
        });
    }
    let block = pane(title, theme, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [bar, text] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    match &plan.document {
        Loadable::Loading => {
            frame.render_widget(Line::styled("reading…", theme.style(Role::Muted)), bar);
        }
        Loadable::Failed(error) => {
            frame.render_widget(
                Paragraph::new(vec![
                    Line::styled("cannot read this log", theme.style(Role::Danger)),
                    Line::from(error.as_str()),
                ]),
                text,
            );
        }
        Loadable::Loaded(document) => {
            let request = state
                .list
                .row(&plan.id)
                .and_then(|row| row.request.as_deref());
            frame.render_widget(summary_bar(plan, document, request, theme), bar);
            render_rows(plan, document, theme, frame, text);
        }
    }
}

/// The policies' verdict, when the plan shown is the one they judged (that plan run's stored
/// output or its log), not another run's.
fn policy_badge(plan: &PlanView, request: &crate::domain::Request) -> Option<(String, Role)> {
    use crate::domain::policy::{Verdict, current, current_override};
    let fact = current(request)?;
    let run = fact.run_id?;
    let judged = match &plan.source {
        super::super::effect::PlanSource::Stored { key } => key.ends_with(&format!("/{run}.txt")),
        super::super::effect::PlanSource::Live { run_id } => *run_id == run,
    };
    if !judged {
        return None;
    }
    Some(match (fact.verdict?, current_override(request)) {
        (Verdict::Deny, None) => (
            format!("│ policy: DENY ({}) ", fact.deny.len()),
            Role::Danger,
        ),
        (Verdict::Deny, Some(record)) => (
            format!("│ policy: deny, overridden by {} ", record.by),
            Role::Warning,
        ),
        (Verdict::Warn, _) => (
            format!("│ policy: warn ({}) ", fact.warn.len()),
            Role::Warning,
        ),
        (Verdict::Pass, _) => ("│ policy: pass ".to_string(), Role::Text),
    })
}

fn summary_bar<'a>(
    plan: &PlanView,
    document: &PlanDocument,
    request: Option<&crate::domain::Request>,
    theme: &Theme,
) -> Line<'a> {
    let mut spans: Vec<Span> = Vec::new();
    match document.summary {
        Some(summary) => {
            spans.push(styled(
                format!("+{} add ", summary.add),
                theme.style(Role::PlanAdd),
            ));
            spans.push(styled(
                format!("~{} change ", summary.change),
                theme.style(Role::PlanChange),
            ));
            spans.push(styled(
                format!("-{} destroy ", summary.destroy),
                theme.style(Role::PlanDestroy),
            ));
            if summary.import > 0 {
                spans.push(styled(
                    format!("{} import ", summary.import),
                    theme.style(Role::PlanRead),
                ));
            }
        }
        None => spans.push(styled("no plan summary yet ", theme.style(Role::Muted))),
    }
    if let Some(attribution) = &plan.attribution {
        spans.push(styled(
            format!("│ this request {} ", attribution.request.short()),
            theme.style(Role::Text),
        ));
        if attribution.changes_outside() {
            spans.push(styled(
                format!(
                    "│ ! OUTSIDE it {} ({}) ",
                    attribution.outside.counts.short(),
                    attribution.outside.addresses.len()
                ),
                theme.style(Role::Danger),
            ));
        }
    }
    if let Some((text, role)) = request.and_then(|request| policy_badge(plan, request)) {
        spans.push(styled(text, theme.style(role)));
    }
    let risky: Vec<&str> = document
        .risky_first()
        .into_iter()
        .take_while(|block| block.action.is_risky())
        .map(|block| block.address.as_str())
        .collect();
    if !risky.is_empty() {
        spans.push(styled(
            format!("│ risky: {} ", risky.join(", ")),
            theme.style(Role::Danger),
        ));
    }
    if !plan.search.is_empty() {
        let position = plan
            .current_match
            .map(|at| format!("{}/", at + 1))
            .unwrap_or_default();
        spans.push(styled(
            format!("│ /{} {position}{} ", plan.search, plan.matches.len()),
            theme.style(Role::Accent),
        ));
    }
    Line::from(spans)
}

fn kind_style(theme: &Theme, kind: TokenKind) -> Style {
    match kind {
        TokenKind::Plain => theme.style(Role::Text),
        TokenKind::Add => theme.style(Role::PlanAdd),
        TokenKind::Change => theme.style(Role::PlanChange),
        TokenKind::Destroy => theme.style(Role::PlanDestroy),
        TokenKind::Replace => theme.style(Role::PlanReplace),
        TokenKind::Read => theme.style(Role::PlanRead),
        TokenKind::Heading => theme.style(Role::PlanHeading),
        TokenKind::Comment => theme.style(Role::PlanComment),
    }
}

fn render_rows(
    plan: &PlanView,
    document: &PlanDocument,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let current = plan
        .current_match
        .and_then(|at| plan.matches.get(at))
        .copied();
    let cursor = plan.cursor();
    let lines: Vec<Line> = plan
        .rows
        .iter()
        .enumerate()
        .skip(plan.top())
        .take(area.height as usize)
        .map(|(index, row)| {
            let line = &document.lines[row.line];
            let mut spans = spans_of(line, theme, &plan.search, current == Some(row.line));
            if row.hidden > 0 {
                spans.insert(0, styled("▸ ", theme.style(Role::Accent)));
                spans.push(styled(
                    format!("  … {} lines folded", row.hidden),
                    theme.style(Role::Muted),
                ));
            } else if document.resources.iter().any(|b| b.start == row.line) {
                spans.insert(0, styled("▾ ", theme.style(Role::Accent)));
            } else {
                spans.insert(0, Span::raw("  "));
            }
            let line = Line::from(spans);
            if index == cursor {
                line.style(theme.style(Role::Selection))
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).scroll((0, plan.hscroll)), area);
}

/// The line's highlighted spans; search hits are marked (the current one more strongly).
fn spans_of<'a>(line: &'a PlanLine, theme: &Theme, search: &str, current: bool) -> Vec<Span<'a>> {
    let mut spans: Vec<Span> = line
        .spans
        .iter()
        .filter(|span| {
            line.text.is_char_boundary(span.start) && line.text.is_char_boundary(span.end)
        })
        .map(|span| {
            Span::styled(
                &line.text[span.start..span.end],
                kind_style(theme, span.kind),
            )
        })
        .collect();
    if spans.is_empty() {
        spans.push(Span::styled(line.text.as_str(), theme.style(Role::Text)));
    }
    if !search.is_empty() && line.text.to_lowercase().contains(&search.to_lowercase()) {
        let mark = if current {
            theme.style(Role::Match)
        } else {
            theme.style(Role::Accent)
        };
        spans = spans
            .into_iter()
            .map(|span| span.patch_style(mark))
            .collect();
    }
    spans
}
