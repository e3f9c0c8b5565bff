//! The detail pane: the selected request's facts, config (sensitive values masked), links,
//! why it has its status and what moves it on, and its timeline.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::domain::access::Decision;
use crate::domain::cost;
use crate::domain::plan_output::address_within;
use crate::domain::presentation::{
    ApprovalView, ConfigEntry, ConfigValue, LockView, next_operations, present,
};
use crate::domain::timeline::StepState;
use crate::domain::{LifecycleEvent, Request, RunFact, RunKind, TimelineEntry, build_timeline};

use super::super::command::Command;
use super::super::state::{Loadable, State};
use super::super::theme::{Role, Theme};
use super::{age, field, pane, styled};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let Some(row) = state.list.selected_row() else {
        let block = pane(" detail ", theme, focused);
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let block = pane(format!(" {} ", row.id), theme, focused);
    let lines = match &row.request {
        Some(request) => lines(state, theme, request),
        None => vec![
            Line::styled("This document cannot be read.", theme.style(Role::Danger)),
            Line::from(row.problem.clone().unwrap_or_default()),
            Line::styled(
                "It is shown so nothing is hidden; fix or archive it in the store.",
                theme.style(Role::Muted),
            ),
        ],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((state.detail.scroll, 0)),
        area,
    );
}

fn lines<'a>(state: &'a State, theme: &Theme, request: &'a Request) -> Vec<Line<'a>> {
    let module = state.team.module(&request.module);
    let mut view = present(request, module, state.now);
    let changes: Vec<&Request> = request
        .change_requests
        .iter()
        .filter_map(|id| state.list.row(id).and_then(|row| row.request.as_deref()))
        .collect();
    view.changes = crate::domain::change::history(request, &changes, module);
    view.values_now = crate::domain::change::values_now(request, &changes, module);
    let derivation = &view.derivation;
    let status = derivation.status;
    let mut out = vec![Line::from(vec![
        styled(
            format!("{} {}", status.symbol(), status.as_str()),
            theme.status(status),
        ),
        styled(format!("  {}", status.label()), theme.style(Role::Muted)),
    ])];
    if let Some(warning) = &view.contradiction {
        out.push(Line::styled(
            format!("! {warning}"),
            theme.style(Role::Warning),
        ));
    }
    if let Some(waiting) = &view.waiting {
        out.push(Line::styled(
            format!("⏸ {waiting}"),
            theme.style(Role::Warning),
        ));
    }
    if let Some(withdrawal) = &view.withdrawal {
        out.push(Line::styled(
            format!("⊘ withdrawn {withdrawal}"),
            theme.style(Role::Muted),
        ));
    }
    if let Some(original) = &view.change_of {
        out.push(field("change of", original.clone(), theme));
    }
    for (index, change) in view.changes.iter().enumerate() {
        let name = if index == 0 { "changes" } else { "" };
        out.push(field(name, change.clone(), theme));
    }
    if let Some(assistant) = &view.assistant {
        out.push(field("assistant", assistant.clone(), theme));
    }
    out.push(field(
        "project/env",
        format!("{}/{}", request.project, request.environment),
        theme,
    ));
    out.push(field("module", request.module.as_str(), theme));
    out.push(field(
        "requested by",
        format!(
            "{} {} ago",
            request.requested_by,
            age(state.now, request.created_at)
        ),
        theme,
    ));
    if let Some(pr) = &view.pull_request {
        let number = pr.number.map(|n| format!("#{n} ")).unwrap_or_default();
        out.push(field(
            "pull request",
            format!("{number}{}", pr.state),
            theme,
        ));
        out.extend(link(pr.url.as_deref(), theme));
    }
    if let Some(pr) = &view.cleanup_pull_request {
        let number = pr.number.map(|n| format!("#{n} ")).unwrap_or_default();
        out.push(field("cleanup PR", format!("{number}{}", pr.state), theme));
        out.extend(link(pr.url.as_deref(), theme));
    }
    for (kind, run) in &view.runs {
        out.push(run_line(*kind, run, theme));
        out.extend(link(run.html_url.as_deref(), theme));
    }
    if let Some(summary) = view.plan {
        out.push(Line::from(vec![
            styled(format!("{:<13}", "plan"), theme.style(Role::Muted)),
            styled(format!("+{} ", summary.add), theme.style(Role::PlanAdd)),
            styled(
                format!("~{} ", summary.change),
                theme.style(Role::PlanChange),
            ),
            styled(
                format!("-{}", summary.destroy),
                theme.style(Role::PlanDestroy),
            ),
            styled(
                if summary.import > 0 {
                    format!("  {} to import", summary.import)
                } else {
                    String::new()
                },
                theme.style(Role::Muted),
            ),
        ]));
    }
    if let Some(attribution) = request.plan.as_deref().and_then(|plan| plan.attribution()) {
        out.push(field(
            "",
            format!("this request {}", attribution.request.short()),
            theme,
        ));
        if attribution.changes_outside() {
            for line in crate::domain::presentation::plan_lines(request)
                .into_iter()
                .skip(1)
            {
                out.push(Line::styled(line, theme.style(Role::Danger)));
            }
        }
    }
    out.push(approval_line(view.approval.as_ref(), theme));
    out.push(lock_line(&view.lock, theme));
    out.extend(cost_lines(request, theme));
    out.extend(policy_lines(request, theme));
    if let Some(drift) = &view.drift {
        let when = drift
            .checked_at
            .map(|at| format!(" ({} ago)", age(state.now, at)))
            .unwrap_or_default();
        let role = if drift.drifted {
            Role::Warning
        } else {
            Role::Text
        };
        out.push(Line::from(vec![
            styled(format!("{:<13}", "drift"), theme.style(Role::Muted)),
            styled(drift.state.clone(), theme.style(role)),
            styled(when, theme.style(Role::Muted)),
        ]));
        for address in &drift.resources {
            out.push(Line::styled(
                format!("{:<13}{address}", ""),
                theme.style(Role::Warning),
            ));
        }
    }

    out.push(Line::default());
    out.push(Line::styled("Config", theme.style(Role::Title)));
    out.extend(config_lines(&view.config, theme));
    if let Some(now) = &view.values_now {
        out.push(Line::styled(
            format!("  values now, since {} was applied:", now.from),
            theme.style(Role::Accent),
        ));
        for field in &now.fields {
            out.push(Line::from(vec![
                styled(format!("  {} = ", field.name), theme.style(Role::Muted)),
                styled(field.now.clone(), theme.style(Role::Text)),
                styled(format!("  (was {})", field.first), theme.style(Role::Muted)),
            ]));
        }
    }

    out.push(Line::default());
    out.push(Line::styled(
        format!("Why {}", status.as_str()),
        theme.style(Role::Title),
    ));
    out.push(Line::from(format!(
        "rule {}: {}",
        derivation.rule.number(),
        derivation.rule.description()
    )));
    for fact in &derivation.facts {
        out.push(Line::styled(
            format!("  {} = {}", fact.name, fact.value),
            theme.style(Role::Muted),
        ));
    }
    out.push(Line::from(format!(
        "next: {}",
        crate::domain::presentation::next_step(request)
    )));
    out.extend(unblock_lines(state, request, theme));

    out.push(Line::default());
    out.push(Line::styled("Timeline", theme.style(Role::Title)));
    out.extend(timeline_lines(state, request, theme));
    out
}

/// What the team's policies said of the latest plan: the verdict (a deny in danger, unless an
/// admin overrode it), then each message.
fn policy_lines<'a>(request: &Request, theme: &Theme) -> Vec<Line<'a>> {
    use crate::domain::policy::{Verdict, current, current_override};
    let Some(fact) = current(request) else {
        return Vec::new();
    };
    let role = match (fact.verdict, current_override(request)) {
        (Some(Verdict::Deny), None) => Role::Danger,
        (Some(Verdict::Deny), Some(_)) | (Some(Verdict::Warn), _) => Role::Warning,
        _ => Role::Text,
    };
    let mut lines = crate::domain::presentation::policy_lines(request).into_iter();
    let mut out = Vec::new();
    if let Some(first) = lines.next() {
        let verdict = first.strip_prefix("Policy: ").unwrap_or(&first).to_string();
        out.push(Line::from(vec![
            styled(format!("{:<13}", "policy"), theme.style(Role::Muted)),
            styled(verdict, theme.style(role)),
        ]));
    }
    for line in lines {
        let message_role = if line.trim_start().starts_with("deny:") {
            role
        } else {
            Role::Warning
        };
        out.push(Line::from(vec![
            styled(format!("{:<13}", ""), theme.style(Role::Muted)),
            styled(line.trim_start().to_string(), theme.style(message_role)),
        ]));
    }
    out
}

/// The plan's monthly cost change and the lines that move it most; no estimate says why.
fn cost_lines<'a>(request: &Request, theme: &Theme) -> Vec<Line<'a>> {
    let destroyed = request
        .destroy_run
        .as_deref()
        .is_some_and(RunFact::succeeded);
    let Some(fact) = request.cost.as_ref().filter(|_| !destroyed) else {
        return vec![Line::from(vec![
            styled(format!("{:<13}", "cost"), theme.style(Role::Muted)),
            styled(cost::describe_request(request), theme.style(Role::Muted)),
        ])];
    };
    let estimated = fact.monthly_delta.is_some() && fact.state.as_deref() != Some(cost::MISSING);
    let role = match fact.monthly_delta {
        Some(delta) if estimated && delta > 0.0 => Role::PlanChange,
        _ if estimated => Role::Text,
        _ => Role::Muted,
    };
    let mut out = vec![Line::from(vec![
        styled(format!("{:<13}", "cost"), theme.style(Role::Muted)),
        styled(cost::describe(Some(fact)), theme.style(role)),
    ])];
    let currency = fact.currency.as_deref().unwrap_or("USD");
    for line in fact.lines.iter().take(3) {
        out.push(Line::styled(
            format!(
                "{:<13}{:>10}  {}",
                "",
                cost::format_money(line.monthly_delta, currency, true),
                address_within(&line.address, request.block_id())
            ),
            theme.style(Role::Muted),
        ));
    }
    out
}

fn run_line<'a>(kind: RunKind, run: &RunFact, theme: &Theme) -> Line<'a> {
    let role = if run.succeeded() {
        Role::Success
    } else if run.completed_without_success() {
        Role::Danger
    } else {
        Role::Accent
    };
    let id = run.id.map(|id| format!("{id} ")).unwrap_or_default();
    Line::from(vec![
        styled(
            format!("{:<13}", format!("{kind} run")),
            theme.style(Role::Muted),
        ),
        styled(format!("{id}{}", run.describe()), theme.style(role)),
    ])
}

/// A link on its own line under its fact, so it wraps (and copies) whole.
fn link<'a>(url: Option<&str>, theme: &Theme) -> Option<Line<'a>> {
    url.map(|url| Line::styled(format!("{:13}{url}", ""), theme.style(Role::Muted)))
}

fn approval_line<'a>(approval: Option<&ApprovalView>, theme: &Theme) -> Line<'a> {
    match approval {
        Some(approval) => {
            let head = approval
                .head
                .as_deref()
                .map(|sha| format!(" at {sha}"))
                .unwrap_or_default();
            field(
                "approval",
                styled(
                    format!("approved by {}{head}", approval.approvers.join(", ")),
                    theme.style(Role::Success),
                ),
                theme,
            )
        }
        None => field(
            "approval",
            styled("not approved", theme.style(Role::Muted)),
            theme,
        ),
    }
}

fn lock_line<'a>(lock: &LockView, theme: &Theme) -> Line<'a> {
    let (text, role) = match lock {
        LockView::Held {
            holder,
            operation,
            seconds_left,
            ..
        } => (
            format!("held by {holder} for {operation} ({seconds_left}s left)"),
            Role::Warning,
        ),
        LockView::Expired { holder } => (
            format!("expired (was {holder}); the next operation takes it over"),
            Role::Muted,
        ),
        LockView::Free => ("free".to_string(), Role::Muted),
    };
    field("lock", styled(text, theme.style(role)), theme)
}

fn config_lines<'a>(config: &[ConfigEntry], theme: &Theme) -> Vec<Line<'a>> {
    if config.is_empty() {
        return vec![Line::styled("  (no values)", theme.style(Role::Muted))];
    }
    config
        .iter()
        .map(|entry| {
            let role = match entry.value {
                ConfigValue::Masked => Role::Muted,
                ConfigValue::Shown(_) => Role::Text,
            };
            Line::from(vec![
                styled(format!("  {} = ", entry.name), theme.style(Role::Muted)),
                styled(entry.value.text(), theme.style(role)),
            ])
        })
        .collect()
}

/// For each operation this user could do next: ready, or why not (the policy's own words).
fn unblock_lines<'a>(state: &State, request: &Request, theme: &Theme) -> Vec<Line<'a>> {
    next_operations(request, &state.team.access, &state.workspace.user)
        .into_iter()
        .map(|(operation, decision)| {
            let key = Command::ALL
                .iter()
                .find(|command| command.operation() == Some(operation))
                .and_then(|command| {
                    state
                        .keymap
                        .keys_for(super::super::keymap::Context::Main, *command)
                        .first()
                        .map(ToString::to_string)
                })
                .unwrap_or_else(|| ":".into());
            match decision {
                Decision::Allowed => Line::from(vec![
                    styled(format!("  [{key}] "), theme.style(Role::Key)),
                    styled(
                        format!("{}: you can, now", operation.verb()),
                        theme.style(Role::Success),
                    ),
                ]),
                Decision::Denied { reason } => Line::from(vec![
                    styled(format!("  [{key}] "), theme.style(Role::Muted)),
                    styled(
                        format!("{}: not you: {reason}", operation.verb()),
                        theme.style(Role::Muted),
                    ),
                ]),
            }
        })
        .collect()
}

fn timeline_lines<'a>(state: &State, request: &Request, theme: &Theme) -> Vec<Line<'a>> {
    let (events, note): (Vec<LifecycleEvent>, Option<&str>) =
        match state.detail.events.get(&request.id) {
            Some(Loadable::Loaded(entries)) => (
                entries
                    .iter()
                    .filter_map(|e| e.as_ref().ok().cloned())
                    .collect(),
                None,
            ),
            Some(Loadable::Failed(error)) => (Vec::new(), Some(error.as_str())),
            _ => (Vec::new(), Some("reading events…")),
        };
    let mut out: Vec<Line> = build_timeline(request, &events)
        .iter()
        .map(|entry| timeline_line(state, entry, theme))
        .collect();
    if let Some(note) = note {
        out.push(Line::styled(format!("  {note}"), theme.style(Role::Muted)));
    }
    out
}

fn timeline_line<'a>(state: &State, entry: &TimelineEntry, theme: &Theme) -> Line<'a> {
    let when = |at: Option<crate::domain::Timestamp>| {
        at.map(|at| format!("{:>4} ", age(state.now, at)))
            .unwrap_or_else(|| "     ".into())
    };
    match entry {
        TimelineEntry::Step {
            step,
            state: step_state,
            at,
            detail,
        } => {
            let (mark, role) = match step_state {
                StepState::Done => ("✔", Role::Success),
                StepState::Active => ("▶", Role::Accent),
                StepState::Failed => ("✖", Role::Danger),
                StepState::Pending => ("·", Role::Muted),
            };
            Line::from(vec![
                styled(when(*at), theme.style(Role::Muted)),
                styled(format!("{mark} {step}"), theme.style(role)),
                styled(
                    detail
                        .as_ref()
                        .map(|d| format!("  {d}"))
                        .unwrap_or_default(),
                    theme.style(Role::Muted),
                ),
            ])
        }
        TimelineEntry::Event {
            at,
            kind,
            actor,
            message,
        } => Line::from(vec![
            styled(when(Some(*at)), theme.style(Role::Muted)),
            styled(format!("• {kind}"), theme.style(Role::Info)),
            styled(format!(" by {actor}"), theme.style(Role::Muted)),
            styled(
                message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default(),
                theme.style(Role::Text),
            ),
        ]),
        TimelineEntry::Note { at, text } => Line::from(vec![
            styled(when(*at), theme.style(Role::Muted)),
            styled(format!("- {text}"), theme.style(Role::Text)),
        ]),
    }
}
