//! Where things go, as pure functions of the terminal size: the views draw into these areas
//! and `update` uses the same numbers for paging, so they always agree.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Below this the dashboard shows a "terminal too small" notice instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;
/// From this width the detail pane sits beside the list instead of under it.
pub const SIDE_BY_SIDE_WIDTH: u16 = 150;

pub fn too_small(width: u16, height: u16) -> bool {
    width < MIN_WIDTH || height < MIN_HEIGHT
}

/// At most this many lines of toasts show at once (the newest).
pub const MAX_TOAST_ROWS: u16 = 3;

pub struct Frame {
    pub header: Rect,
    pub body: Rect,
    /// Toasts, between the body and the footer: they take rows from the body rather than
    /// cover what it shows (a run link, the selected row).
    pub toasts: Rect,
    pub footer: Rect,
}

pub fn frame(area: Rect, toast_rows: u16) -> Frame {
    let [header, body, toasts, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(toast_rows.min(MAX_TOAST_ROWS)),
        Constraint::Length(1),
    ])
    .areas(area);
    Frame {
        header,
        body,
        toasts,
        footer,
    }
}

/// Rows the toasts take at `width`: each toast's wrapped lines, newest first, up to the limit.
pub fn toast_rows<'a>(texts: impl DoubleEndedIterator<Item = &'a str>, width: u16) -> u16 {
    let mut rows = 0u16;
    for text in texts.rev() {
        let lines = toast_lines(text, width);
        rows = rows.saturating_add(lines);
        if rows >= MAX_TOAST_ROWS {
            return MAX_TOAST_ROWS;
        }
    }
    rows
}

/// Lines one toast wraps to at `width` (two columns go to its marker).
pub fn toast_lines(text: &str, width: u16) -> u16 {
    let room = (width as usize).saturating_sub(2).max(1);
    text.chars()
        .count()
        .div_ceil(room)
        .clamp(1, MAX_TOAST_ROWS as usize) as u16
}

/// The list and detail panes of the main screen.
pub fn main_panes(body: Rect) -> (Rect, Rect) {
    let direction = if body.width >= SIDE_BY_SIDE_WIDTH {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let [list, detail] = Layout::default()
        .direction(direction)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .areas(body);
    (list, detail)
}

/// Request rows the list shows (inside its border, under its column header).
pub fn list_rows(width: u16, height: u16, toast_rows: u16) -> usize {
    let areas = frame(Rect::new(0, 0, width, height), toast_rows);
    let (list, _) = main_panes(areas.body);
    list.height.saturating_sub(3) as usize
}

/// Text lines a full-screen view shows (inside its border, under its summary bar).
pub fn page_rows(height: u16, toast_rows: u16) -> usize {
    height.saturating_sub(2 + 2 + 1 + toast_rows.min(MAX_TOAST_ROWS)) as usize
}

/// A centred box of at most `width` x `height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}
