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

/// The list's columns, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Status,
    Id,
    ProjectEnv,
    Module,
    Plan,
    Age,
    By,
    Lock,
}

impl Column {
    fn header(self) -> &'static str {
        match self {
            Column::Status => " STATUS",
            Column::Id => "ID",
            Column::ProjectEnv => "PROJECT/ENV",
            Column::Module => "MODULE",
            Column::Plan => "PLAN",
            Column::Age => "AGE",
            Column::By => "BY",
            Column::Lock => "LOCK",
        }
    }
}

/// Widths that fit `room` columns: each column as wide as its content on screen, the extra
/// going to the module (which then shows the config summary); when space is short the lock,
/// the plan, the requester, the module and the project give way first, the id last.
fn fit_columns(natural: &[(Column, usize)], room: usize) -> Vec<(Column, usize)> {
    let mut widths: Vec<(Column, usize)> = natural.to_vec();
    let total = |widths: &[(Column, usize)]| -> usize {
        widths.iter().map(|(_, w)| *w).sum::<usize>() + widths.len().saturating_sub(1)
    };
    // (column, narrowest it goes; 0 drops it)
    let give_way = [
        (Column::Lock, 0),
        (Column::Plan, 0),
        (Column::By, 5),
        (Column::Module, 8),
        (Column::By, 0),
        (Column::ProjectEnv, 10),
        (Column::Id, 12),
    ];
    for (column, narrowest) in give_way {
        let over = total(&widths).saturating_sub(room);
        if over == 0 {
            break;
        }
        if let Some(at) = widths.iter().position(|(c, _)| *c == column) {
            let width = widths[at].1;
            if narrowest == 0 {
                widths.remove(at);
            } else {
                widths[at].1 = width.saturating_sub(over).max(narrowest.min(width));
            }
        }
    }
    let spare = room.saturating_sub(total(&widths));
    if let Some(module) = widths.iter_mut().find(|(c, _)| *c == Column::Module) {
        module.1 += spare;
    }
    widths
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let list = &state.list;
    let title = title(state, theme);
    let block = pane(title, theme, focused);
    let inner_rows = area.height.saturating_sub(3) as usize;
    let window: Vec<&Row> = list.window(list.offset(), inner_rows).collect();
    let widest = |text: &dyn Fn(&Row) -> usize, header: Column| {
        window
            .iter()
            .map(|row| text(row))
            .max()
            .unwrap_or(0)
            .max(header.header().chars().count())
    };
    let request_text = |row: &Row, text: &dyn Fn(&crate::domain::Request) -> usize| {
        row.request.as_deref().map_or(0, text)
    };
    let mut natural = vec![
        (Column::Status, 18),
        (
            Column::Id,
            widest(&|row| row.id.chars().count(), Column::Id),
        ),
        (
            Column::ProjectEnv,
            widest(
                &|row| {
                    request_text(row, &|r| {
                        r.project.chars().count() + r.environment.chars().count() + 1
                    })
                    .max(
                        row.problem
                            .as_deref()
                            .map_or(0, |p| p.chars().count().min(40)),
                    )
                },
                Column::ProjectEnv,
            ),
        ),
        (
            Column::Module,
            widest(
                &|row| request_text(row, &|r| r.module.chars().count()),
                Column::Module,
            ),
        ),
        (
            Column::Plan,
            widest(
                &|row| row.plan_counts().map_or(0, |p| p.chars().count()),
                Column::Plan,
            ),
        ),
        (Column::Age, 4),
        (
            Column::By,
            widest(
                &|row| request_text(row, &|r| r.requested_by.chars().count()),
                Column::By,
            ),
        ),
    ];
    if window.iter().any(|row| row.lock_holder.is_some()) {
        natural.push((
            Column::Lock,
            widest(
                &|row| {
                    row.lock_holder
                        .as_deref()
                        .map_or(0, |h| lock_name(h).chars().count())
                },
                Column::Lock,
            ),
        ));
    }
    let columns = fit_columns(&natural, area.width.saturating_sub(2) as usize);
    let header = TableRow::new(columns.iter().map(|(column, _)| column.header()))
        .style(theme.style(Role::Muted));
    let rows: Vec<TableRow> = window
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let selected = list.offset() + index == list.selected();
            table_row(state, theme, row, selected, &columns)
        })
        .collect();
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|(_, width)| Constraint::Length(*width as u16))
        .collect();
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

/// The lock holder as the list shows it: the login, without the host.
fn lock_name(holder: &str) -> &str {
    holder.split(' ').next().unwrap_or(holder)
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
        let text = format!("{} {} {} ", index + 1, view.tab(), counts[index]);
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
            "↷ left the filter, goes when you move ",
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
    columns: &[(Column, usize)],
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
    let cells = columns.iter().map(|(column, width)| match column {
        Column::Status => {
            let status_cell = match (row.status, &spinner) {
                (_, Some(spinner)) => {
                    Span::styled(spinner.clone(), status_style(theme.style(Role::Accent)))
                }
                (Some(status), None) => Span::styled(
                    format!("{} {}", status.symbol(), status.as_str()),
                    status_style(theme.status(status)),
                ),
                (None, None) => Span::styled("! unreadable", theme.style(Role::Danger)),
            };
            // A marker, so the selection reads without colour too; `↷` on a row kept only
            // because it is selected (it left the filters).
            let marker = match (selected, state.list.pinned() == Some(row.id.as_str())) {
                (_, true) => "↷",
                (true, false) => "›",
                (false, false) => " ",
            };
            let mut spans = vec![Span::raw(marker), status_cell];
            if let (Some(request), Some(status)) = (row.request.as_deref(), row.status) {
                // Words, not only colours, so they read on any terminal; the detail pane
                // says more.
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
            Cell::from(Line::from(spans))
        }
        Column::Id => Cell::from(clip_start(&row.id, *width)),
        Column::ProjectEnv => match (&row.request, &row.problem) {
            (Some(request), _) => {
                Cell::from(format!("{}/{}", request.project, request.environment))
            }
            (None, problem) => Cell::from(Span::styled(
                problem.clone().unwrap_or_default(),
                theme.style(Role::Danger),
            )),
        },
        Column::Module => {
            let Some(request) = &row.request else {
                return Cell::default();
            };
            let mut spans = vec![Span::raw(request.module.clone())];
            let room = width.saturating_sub(request.module.chars().count() + 1);
            let config_summary = if room >= 8 {
                row.config_summary(&state.team)
            } else {
                ""
            };
            if !config_summary.is_empty() {
                let summary: String = config_summary.chars().take(room).collect();
                spans.push(Span::styled(
                    format!(" {summary}"),
                    status_style(theme.style(Role::Muted)),
                ));
            }
            Cell::from(Line::from(spans))
        }
        Column::Plan => Cell::from(row.plan_counts().unwrap_or_default()),
        Column::Age => Cell::from(
            row.request
                .as_ref()
                .map(|request| age(state.now, request.created_at))
                .unwrap_or_default(),
        ),
        Column::By => Cell::from(
            row.request
                .as_ref()
                .map(|request| request.requested_by.clone())
                .unwrap_or_default(),
        ),
        Column::Lock => Cell::from(Span::styled(
            row.lock_holder
                .as_deref()
                .map(lock_name)
                .unwrap_or("")
                .to_string(),
            theme.style(Role::Warning),
        )),
    });
    let style = if selected {
        theme.style(Role::Selection)
    } else {
        theme.style(Role::Text)
    };
    TableRow::new(cells.collect::<Vec<_>>()).style(style)
}
