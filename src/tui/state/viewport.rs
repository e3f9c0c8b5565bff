//! The scrolling arithmetic every view shares: a window of `page` rows over `len` rows, and for
//! lists a selection kept inside it. The request list, the plan and log view, the help, the
//! full-screen pages and the modals' lists all move with it, so none can scroll past its end.

/// The first row drawn and, for lists, the selected row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewport {
    pub offset: usize,
    pub selected: usize,
}

/// How far a view of `len` rows, `page` at a time, can scroll: its last page is full.
pub fn max_offset(len: usize, page: usize) -> usize {
    len.saturating_sub(page.max(1))
}

/// The first row of a `page`-row window over `len` rows that shows row `selected`, scrolled as
/// little as needed from the top: for lists drawn afresh each frame (the palette, the pickers).
pub fn window_showing(selected: usize, len: usize, page: usize) -> usize {
    let mut view = Viewport {
        offset: 0,
        selected,
    };
    view.keep_selection_in_view(len, page);
    view.offset
}

impl Viewport {
    /// Scrolls by `delta` rows, stopping at either end.
    pub fn scroll_by(&mut self, delta: isize, len: usize, page: usize) {
        self.offset = self
            .offset
            .saturating_add_signed(delta)
            .min(max_offset(len, page));
    }

    /// Scrolls so `row` is the first drawn (or as close as the end allows).
    pub fn scroll_to(&mut self, row: usize, len: usize, page: usize) {
        self.offset = row.min(max_offset(len, page));
    }

    /// Keeps the offset inside the rows there are now (after they shrank or the page grew).
    pub fn clamp(&mut self, len: usize, page: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        self.offset = self.offset.min(max_offset(len, page));
    }

    /// Moves the selection by `delta` rows, stopping at either end, and scrolls it into view.
    pub fn move_selection(&mut self, delta: isize, len: usize, page: usize) {
        self.select(self.selected.saturating_add_signed(delta), len, page);
    }

    /// Selects row `index` (the last one when past the end) and scrolls it into view.
    pub fn select(&mut self, index: usize, len: usize, page: usize) {
        self.selected = index.min(len.saturating_sub(1));
        self.keep_selection_in_view(len, page);
    }

    /// Scrolls as little as needed for the selection to be drawn.
    pub fn keep_selection_in_view(&mut self, len: usize, page: usize) {
        let page = page.max(1);
        self.selected = self.selected.min(len.saturating_sub(1));
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(max_offset(len, page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stops_at_both_ends() {
        let mut view = Viewport::default();
        view.scroll_by(-5, 100, 10);
        assert_eq!(view.offset, 0);
        view.scroll_by(isize::MAX / 2, 100, 10);
        assert_eq!(view.offset, 90, "the last page is full");
        view.scroll_by(-1, 100, 10);
        assert_eq!(view.offset, 89, "one step back from the end is one row");
        view.scroll_by(3, 5, 10);
        assert_eq!(view.offset, 0, "shorter than a page: nothing to scroll");
    }

    #[test]
    fn the_selection_stays_on_screen() {
        let mut view = Viewport::default();
        view.move_selection(12, 100, 10);
        assert_eq!((view.selected, view.offset), (12, 3));
        view.move_selection(-10, 100, 10);
        assert_eq!((view.selected, view.offset), (2, 2));
        view.select(usize::MAX, 100, 10);
        assert_eq!((view.selected, view.offset), (99, 90));
        // The rows shrink under the selection.
        view.keep_selection_in_view(20, 10);
        assert_eq!((view.selected, view.offset), (19, 10));
        view.select(0, 0, 10);
        assert_eq!((view.selected, view.offset), (0, 0));
    }
}
