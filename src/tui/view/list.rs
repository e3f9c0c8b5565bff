//! The request list: only the rows in the window are built, whatever the total.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row as TableRow, Table};

use crate::domain::presentation::{BadgeLevel, row_badges};

use super::super::state::State;
use super::super::state::list::{ListView, Row};
use super::super::theme::{Role, Theme};
use super::{age, clip_start, pane, styled};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let list = &state.list;
    let title = title(state, theme);
    let block = pane(title, theme, focused);
    let inner_rows = area.height.saturating_sub(3) as usize;
    let wide = area.width >= 100;
    let header_cells = if wide {
        vec![
            " STATUS",
            "ID",
            "PROJECT/ENV",
            "MODULE",
            "AGE",
            "BY",
            "LOCK",
        ]
    } else {
        vec![" STATUS", "ID", "PROJECT/ENV", "MODULE", "AGE", "BY"]
    };
    let header = TableRow::new(header_cells).style(theme.style(Role::Muted));
    let id_width: u16 = if wide { 30 } else { 12 };
    let rows: Vec<TableRow> = list
        .window(list.offset(), inner_rows)
        .enumerate()
        .map(|(index, row)| {
            let selected = list.offset() + index == list.selected();
            table_row(state, theme, row, selected, wide, id_width as usize)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(18),
        Constraint::Length(id_width),
        Constraint::Min(13),
        Constraint::Length(13),
        Constraint::Length(4),
        Constraint::Length(8),
    ];
    if wide {
        widths.push(Constraint::Length(14));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
    if list.loaded && list.visible_len() == 0 {
        let message = if list.total() == 0 {
            "no requests yet: press c to create one"
        } else {
            "no request matches the filters: esc clears them"
        };
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        frame.render_widget(Line::styled(message, theme.style(Role::Muted)), inner);
    } else if !list.loaded {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        frame.render_widget(
            Line::styled("listing the store…", theme.style(Role::Muted)),
            inner,
        );
    }
}

fn title<'a>(state: &State, theme: &Theme) -> Line<'a> {
    let list = &state.list;
    let mut spans = vec![styled(
        format!(" requests {}/{} ", list.visible_len(), list.total()),
        theme.style(Role::Title),
    )];
    // The views as tabs: the number is its key (by default), the chosen one highlighted.
    let counts = list.view_counts();
    for (index, view) in ListView::ALL.into_iter().enumerate() {
        let text = format!("{} {} {} ", index + 1, view.label(), counts[index]);
        let role = if list.filter.view == view {
            Role::Selection
        } else {
            Role::Muted
        };
        spans.push(styled(text, theme.style(role)));
    }
    let filter = &list.filter;
    let mut filters = Vec::new();
    if let Some(status) = filter.status {
        filters.push(format!("status={}", status.as_str()));
    }
    if let Some(environment) = &filter.environment {
        filters.push(format!("env={environment}"));
    }
    if let Some(project) = &filter.project {
        filters.push(format!("project={project}"));
    }
    if !filter.text.is_empty() {
        filters.push(format!("/{}", filter.text));
    }
    if !filters.is_empty() {
        spans.push(styled(
            format!("[{}] ", filters.join(" ")),
            theme.style(Role::Accent),
        ));
    }
    if list.pinned().is_some() {
        spans.push(styled(
            "selection left the filter: it goes when you move ",
            theme.style(Role::Warning),
        ));
    }
    let arrow = if list.descending { "↓" } else { "↑" };
    spans.push(styled(
        format!("sort {}{arrow} ", list.sort.label()),
        theme.style(Role::Muted),
    ));
    Line::from(spans)
}

fn table_row<'a>(
    state: &State,
    theme: &Theme,
    row: &'a Row,
    selected: bool,
    wide: bool,
    id_width: usize,
) -> TableRow<'a> {
    let spinner = state.in_flight.get(&row.id).map(|operation| {
        const FRAMES: [char; 4] = ['◐', '◓', '◑', '◒'];
        format!(
            "{} {}",
            FRAMES[state.spinner % FRAMES.len()],
            operation.verb()
        )
    });
    // On the selected row the selection style wins, so the status stays readable.
    let status_style = |style| if selected { Default::default() } else { style };
    let status_cell = match (row.status, spinner) {
        (_, Some(spinner)) => Span::styled(spinner, status_style(theme.style(Role::Accent))),
        (Some(status), None) => Span::styled(
            format!("{} {}", status.symbol(), status.as_str()),
            status_style(theme.status(status)),
        ),
        (None, None) => Span::styled("! unreadable", theme.style(Role::Danger)),
    };
    // A marker, so the selection reads without colour too; `↷` on a row kept only because it
    // is selected (it left the filters).
    let marker = match (selected, state.list.pinned() == Some(row.id.as_str())) {
        (_, true) => "↷",
        (true, false) => "›",
        (false, false) => " ",
    };
    let mut spans = vec![Span::raw(marker), status_cell];
    if let (Some(request), Some(status)) = (row.request.as_deref(), row.status) {
        // Words, not only colours, so they read on any terminal; the detail pane says more.
        for (word, level) in row_badges(request, status) {
            let role = match level {
                BadgeLevel::Danger => Role::Danger,
                BadgeLevel::Warning => Role::Warning,
            };
            spans.push(Span::styled(
                format!(" {word}"),
                status_style(theme.style(role)),
            ));
        }
    }
    let status_cell = Cell::from(Line::from(spans));
    let id = Cell::from(clip_start(&row.id, id_width));
    let mut cells = vec![status_cell, id];
    match &row.request {
        Some(request) => {
            cells.push(Cell::from(format!(
                "{}/{}",
                request.project, request.environment
            )));
            cells.push(Cell::from(request.module.clone()));
            cells.push(Cell::from(age(state.now, request.created_at)));
            cells.push(Cell::from(request.requested_by.clone()));
            if wide {
                let lock = row
                    .lock_holder
                    .as_deref()
                    .map(|holder| holder.split(' ').next().unwrap_or(holder).to_string())
                    .unwrap_or_default();
                cells.push(Cell::from(Span::styled(lock, theme.style(Role::Warning))));
            }
        }
        None => {
            let problem = row.problem.clone().unwrap_or_default();
            cells.push(Cell::from(Span::styled(problem, theme.style(Role::Danger))));
        }
    }
    let style = if selected {
        theme.style(Role::Selection)
    } else {
        theme.style(Role::Text)
    };
    TableRow::new(cells).style(style)
}
