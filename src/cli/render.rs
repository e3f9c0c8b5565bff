//! Human-readable output: pure functions from data to text.

use std::fmt::Write;

use crate::domain::plan_output::address_within;
use crate::domain::presentation::{LockView, RequestView, row_badges};
use crate::domain::{
    Derivation, DocumentError, Insights, LifecycleEvent, Request, Status, TimelineEntry,
};
use crate::store::ListedRequest;

/// Left-aligned columns sized to their content, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn status_cell(status: Status) -> String {
    format!("{} {}", status.symbol(), status.as_str())
}

/// One line of `tfpilot list`: a readable request with its derived status, or an unreadable
/// document with its reason.
pub enum ListRow<'a> {
    Readable {
        request: &'a Request,
        status: Status,
    },
    Unreadable {
        entry: &'a ListedRequest,
        error: &'a DocumentError,
    },
}

pub fn list(entries: &[ListRow]) -> String {
    if entries.is_empty() {
        return "No requests.\n".into();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|row| match row {
            ListRow::Readable { request, status } => vec![
                request.id.clone(),
                {
                    let mut cell = status_cell(*status);
                    for (word, _) in row_badges(request, *status) {
                        cell.push(' ');
                        cell.push_str(word);
                    }
                    cell
                },
                request.project.clone(),
                request.environment.clone(),
                request.module.clone(),
                request.requested_by.clone(),
                request.updated_at.to_rfc3339(),
            ],
            ListRow::Unreadable { entry, error } => {
                vec![entry.id.clone(), format!("? unreadable: {error}")]
            }
        })
        .collect();
    table(
        &[
            "ID",
            "STATUS",
            "PROJECT",
            "ENV",
            "MODULE",
            "REQUESTED BY",
            "UPDATED",
        ],
        &rows,
    )
}

pub fn explain(request: &Request, derivation: &Derivation) -> String {
    let mut out = String::new();
    let status = derivation.status;
    let _ = writeln!(
        out,
        "{}: {} {} ({})",
        request.id,
        status.symbol(),
        status.as_str(),
        status.label()
    );
    let _ = writeln!(
        out,
        "  rule {}: {}",
        derivation.rule.number(),
        derivation.rule.description()
    );
    let _ = writeln!(out, "  facts used:");
    for fact in &derivation.facts {
        let _ = writeln!(out, "    {} = {}", fact.name, fact.value);
    }
    if derivation.rule.number() > 1 {
        let _ = writeln!(
            out,
            "  rules 1-{} did not match",
            derivation.rule.number() - 1
        );
    }
    let _ = writeln!(
        out,
        "  next: {}",
        crate::domain::presentation::next_step(request)
    );
    for line in crate::domain::presentation::policy_lines(request) {
        let _ = writeln!(out, "  {}", line.trim_start());
    }
    if status.is_terminal() {
        let _ = writeln!(out, "  terminal: sync stops polling until someone acts");
    }
    if let Some(stored) = &request.status
        && stored != status.as_str()
    {
        let _ = writeln!(
            out,
            "  note: the document's stored status `{stored}` is stale; the derived status wins"
        );
    }
    out
}

pub fn show(view: &RequestView, timeline: &[TimelineEntry]) -> String {
    let request = view.request;
    let derivation = &view.derivation;
    let mut out = String::new();
    let status = derivation.status;
    let _ = writeln!(out, "{}  {}", request.id, status_cell(status));
    let mut field = |name: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(out, "  {name:<13}{value}");
        }
    };
    if let Some(waiting) = &view.waiting {
        field("waiting", waiting.clone());
    }
    if let Some(warning) = &view.contradiction {
        field("warning", warning.clone());
    }
    if let Some(withdrawal) = &view.withdrawal {
        field("withdrawn", withdrawal.clone());
    }
    if let Some(original) = &view.change_of {
        field("change of", original.clone());
    }
    for (index, change) in view.changes.iter().enumerate() {
        field(if index == 0 { "changes" } else { "" }, change.clone());
    }
    if let Some(assistant) = &view.assistant {
        field("assistant", assistant.clone());
    }
    field("project", request.project.clone());
    field("environment", request.environment.clone());
    field("module", request.module.clone());
    field("requested by", request.requested_by.clone());
    field("created", request.created_at.to_rfc3339());
    field("updated", request.updated_at.to_rfc3339());
    if let Some(target) = &view.target {
        field("target", target.clone());
    }
    if let Some(pr) = &view.pull_request {
        let number = pr.number.map(|n| format!("#{n} ")).unwrap_or_default();
        field(
            "pull request",
            format!("{number}{}", pr.url.clone().unwrap_or_default()),
        );
    }
    if let Some(pr) = &view.cleanup_pull_request {
        let number = pr.number.map(|n| format!("#{n} ")).unwrap_or_default();
        field(
            "cleanup PR",
            format!(
                "{number}{} {}",
                pr.state,
                pr.url.clone().unwrap_or_default()
            ),
        );
    }
    for (kind, run) in &view.runs {
        let id = run.id.map(|id| format!("{id} ")).unwrap_or_default();
        field(&format!("{kind} run"), format!("{id}{}", run.describe()));
    }
    if let Some(summary) = view.plan {
        field(
            "plan",
            format!(
                "+{} ~{} -{} import {}",
                summary.add, summary.change, summary.destroy, summary.import
            ),
        );
    }
    if let Some(attribution) = request.plan.as_deref().and_then(|plan| plan.attribution()) {
        field("", attribution.describe());
    }
    if let Some(approval) = &view.approval {
        let head = approval
            .head
            .as_deref()
            .map(|sha| format!(" (plan of {sha})"))
            .unwrap_or_default();
        field(
            "approved by",
            format!("{}{head}", approval.approvers.join(", ")),
        );
    }
    if let Some(sha) = view.merged_sha {
        field("merged as", sha.to_string());
    }
    field("cost", crate::domain::cost::describe_request(request));
    let destroyed = request
        .destroy_run
        .as_deref()
        .is_some_and(crate::domain::RunFact::succeeded);
    if let Some(cost) = request.cost.as_ref().filter(|_| !destroyed) {
        let currency = cost.currency.as_deref().unwrap_or("USD");
        for line in &cost.lines {
            field(
                "",
                format!(
                    "{:>10}  {}",
                    crate::domain::cost::format_money(line.monthly_delta, currency, true),
                    address_within(&line.address, request.block_id())
                ),
            );
        }
    }
    for (index, line) in crate::domain::presentation::policy_lines(request)
        .into_iter()
        .enumerate()
    {
        let line = line.strip_prefix("Policy: ").unwrap_or(&line).to_string();
        field(
            if index == 0 { "policy" } else { "" },
            line.trim().to_string(),
        );
    }
    if let Some(drift) = &view.drift {
        let at = drift.checked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        field("drift", format!("{} {at}", drift.state));
        for address in &drift.resources {
            field("", address.clone());
        }
    }
    match &view.lock {
        LockView::Free => {}
        LockView::Held {
            holder,
            operation,
            expires_at,
            ..
        } => field(
            "locked",
            format!(
                "by {holder} ({operation}) until {}",
                expires_at.to_rfc3339()
            ),
        ),
        LockView::Expired { holder } => field(
            "locked",
            format!("expired (was {holder}); the next operation takes it over"),
        ),
    }
    field(
        "why",
        format!(
            "rule {}: {}",
            derivation.rule.number(),
            derivation.rule.description()
        ),
    );
    if !view.config.is_empty() {
        let heading = if view.values_now.is_some() {
            "config (as first applied):"
        } else {
            "config:"
        };
        let _ = writeln!(out, "  {heading}");
        for entry in &view.config {
            let _ = writeln!(out, "    {} = {}", entry.name, entry.value.text());
        }
    }
    if let Some(now) = &view.values_now {
        let _ = writeln!(out, "  values now (since {} was applied):", now.from);
        for field in &now.fields {
            let _ = writeln!(
                out,
                "    {} = {} (was {})",
                field.name, field.now, field.first
            );
        }
    }
    let _ = writeln!(out, "  timeline:");
    for entry in timeline {
        let _ = writeln!(out, "    {}", timeline_line(entry));
    }
    out
}

fn timeline_line(entry: &TimelineEntry) -> String {
    let when = |at: Option<crate::domain::Timestamp>| {
        at.map_or_else(|| " ".repeat(20), |t| t.to_rfc3339())
    };
    match entry {
        TimelineEntry::Step {
            step,
            state,
            at,
            detail,
        } => {
            let mark = match state {
                crate::domain::StepState::Done => '✔',
                crate::domain::StepState::Active => '▶',
                crate::domain::StepState::Failed => '✖',
                crate::domain::StepState::Pending => '·',
            };
            format!(
                "{}  {mark} {step}{}",
                when(*at),
                detail
                    .as_ref()
                    .map(|d| format!("  {d}"))
                    .unwrap_or_default()
            )
        }
        TimelineEntry::Event {
            at,
            kind,
            actor,
            message,
        } => format!(
            "{}  • {kind} by {actor}{}",
            when(Some(*at)),
            message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        TimelineEntry::Note { at, text } => format!("{}  - {text}", when(*at)),
    }
}

pub fn events(events: &[crate::store::EventEntry]) -> String {
    if events.is_empty() {
        return "No events.\n".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|event| match event {
            Ok(LifecycleEvent {
                at,
                kind,
                actor,
                message,
                ..
            }) => {
                vec![
                    at.to_rfc3339(),
                    kind.clone(),
                    actor.clone(),
                    message.clone().unwrap_or_default(),
                ]
            }
            Err(bad) => vec![
                String::new(),
                "unreadable".into(),
                String::new(),
                format!("{}: {}", bad.key, bad.reason),
            ],
        })
        .collect();
    table(&["AT", "EVENT", "ACTOR", "MESSAGE"], &rows)
}

pub fn insights(insights: &Insights, unreadable: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Requests: {}", insights.total);
    for (status, count) in &insights.by_status {
        let _ = writeln!(out, "  {:<18}{count}", status_cell(*status));
    }
    if unreadable > 0 {
        let _ = writeln!(out, "  unreadable        {unreadable} (see `tfpilot list`)");
    }
    for (label, value) in insights.figures() {
        let _ = writeln!(out, "{:<21}{value}", format!("{label}:"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_trims_trailing_space() {
        let text = table(
            &["A", "BB"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "".into()]],
        );
        assert_eq!(text, "A    BB\nxxx  y\nz\n");
    }
}
