//! The plan / log view: which document, which blocks are folded, where the search is, whether
//! the view follows a running log.

use crate::domain::attribution::{PlanAttribution, attribute_headers, belongs_to};
use std::sync::Arc;

use super::Loadable;
use super::viewport::Viewport;
use crate::tui::effect::PlanSource;
use crate::tui::plan::document::PlanDocument;

/// A row on screen: a line of the document, or a folded block standing for several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayRow {
    pub line: usize,
    /// Lines hidden under this header (0 when unfolded or not a header).
    pub hidden: usize,
}

#[derive(Debug, Clone)]
pub struct PlanView {
    pub id: String,
    /// Whose block the plan's changes are this request's by: its own id, or for a change
    /// request the original's (`Request::block_id`).
    pub block_id: String,
    /// What is shown: "plan (run 12)", "apply log (run 14)".
    pub title: String,
    /// Where the text comes from: the stored plan or a run's log.
    pub source: PlanSource,
    pub document: Loadable<Arc<PlanDocument>>,
    /// One flag per resource block of the document.
    pub folded: Vec<bool>,
    pub rows: Vec<DisplayRow>,
    /// The first row drawn (`offset`) and the cursor row (`selected`), which `j`/`k` move and
    /// folding acts on.
    pub viewport: Viewport,
    /// Columns scrolled off to the left (long lines).
    pub hscroll: u16,
    pub search: String,
    /// Document lines matching the search.
    pub matches: Vec<usize>,
    pub current_match: Option<usize>,
    /// Tail the log while its run is in progress.
    pub follow: bool,
    pub running: bool,
    /// The document's changes split into this request's and the rest, worked out once when
    /// the document arrives (the summary bar shows it every frame).
    pub attribution: Option<PlanAttribution>,
}

impl PlanView {
    pub fn loading(id: &str, title: String, source: PlanSource, follow: bool) -> PlanView {
        PlanView {
            id: id.to_string(),
            block_id: id.to_string(),
            title,
            source,
            document: Loadable::Loading,
            folded: Vec::new(),
            rows: Vec::new(),
            viewport: Viewport::default(),
            hscroll: 0,
            search: String::new(),
            matches: Vec::new(),
            current_match: None,
            follow,
            running: follow,
            attribution: None,
        }
    }

    pub fn document(&self) -> Option<&PlanDocument> {
        match &self.document {
            Loadable::Loaded(document) => Some(document),
            _ => None,
        }
    }

    /// Shows a freshly loaded document: risky blocks unfolded, the rest folded (a log that is
    /// being followed shows everything).
    pub fn set_document(&mut self, document: Arc<PlanDocument>, running: bool, height: usize) {
        let first = self.document().is_none();
        let ended = self.running && !running;
        let same_shape = self
            .document()
            .is_some_and(|old| old.resources.len() == document.resources.len());
        if !same_shape {
            self.folded = document
                .resources
                .iter()
                .map(|block| !self.follow && !block.action.is_risky())
                .collect();
        }
        self.attribution = document.summary.map(|_| {
            attribute_headers(
                document
                    .resources
                    .iter()
                    .map(|block| (block.address.clone(), block.action)),
                &self.block_id,
            )
        });
        self.document = Loadable::Loaded(document);
        self.running = running;
        self.rebuild_rows();
        self.refresh_matches();
        let error = (!running)
            .then(|| self.document())
            .flatten()
            .and_then(|document| {
                document
                    .lines
                    .iter()
                    .position(|line| line.text.contains("##[error]"))
            });
        if let (Some(line), true) = (error, first || ended) {
            // A failed run opens (or, followed to its end, lands) where it failed.
            self.follow = false;
            self.scroll_to_line(line, height);
        } else if self.follow {
            self.scroll_to_end(height);
        } else if first {
            self.scroll_to_changes(height);
        } else {
            self.clamp(height);
        }
    }

    /// Opens a plan where the reading starts: the actions Terraform will take (the runner's
    /// set-up lines above are one scroll away).
    fn scroll_to_changes(&mut self, height: usize) {
        let start = self.document().and_then(|document| {
            document
                .lines
                .iter()
                .position(|line| {
                    line.text.starts_with("Terraform will perform")
                        || line
                            .text
                            .starts_with("Terraform used the selected providers")
                        || line.text.starts_with("No changes.")
                })
                .or_else(|| document.resources.first().map(|block| block.start))
        });
        if let Some(start) = start {
            self.scroll_to_line(start, height);
        }
    }

    pub fn rebuild_rows(&mut self) {
        let Some(document) = self.document() else {
            self.rows.clear();
            return;
        };
        let mut rows = Vec::with_capacity(document.lines.len());
        let mut blocks = document.resources.iter().zip(&self.folded).peekable();
        let mut line = 0;
        while line < document.lines.len() {
            while blocks.peek().is_some_and(|(block, _)| block.start < line) {
                blocks.next();
            }
            match blocks.peek() {
                Some((block, folded)) if block.start == line && **folded => {
                    rows.push(DisplayRow {
                        line,
                        hidden: block.end - block.start - 1,
                    });
                    line = block.end;
                }
                _ => {
                    rows.push(DisplayRow { line, hidden: 0 });
                    line += 1;
                }
            }
        }
        self.rows = rows;
    }

    /// The first row drawn.
    pub fn top(&self) -> usize {
        self.viewport.offset
    }

    pub fn clamp(&mut self, height: usize) {
        self.viewport.clamp(self.rows.len(), height);
        self.viewport
            .keep_selection_in_view(self.rows.len(), height);
    }

    /// The cursor row.
    pub fn cursor(&self) -> usize {
        self.viewport.selected
    }

    /// The document line under the cursor.
    pub fn cursor_line(&self) -> Option<usize> {
        self.rows.get(self.viewport.selected).map(|row| row.line)
    }

    /// Moves the cursor by `delta` rows; the view scrolls to keep it on screen.
    pub fn scroll_by(&mut self, delta: isize, height: usize) {
        self.viewport.move_selection(delta, self.rows.len(), height);
        if delta < 0 {
            self.follow = false;
        }
    }

    /// Shows the last page (where a followed log grows), the cursor on the last row.
    pub fn scroll_to_end(&mut self, height: usize) {
        self.viewport.select(usize::MAX, self.rows.len(), height);
        self.viewport.scroll_to(usize::MAX, self.rows.len(), height);
    }

    /// The block whose header is at, or which contains, the cursor row.
    fn block_at_cursor(&self) -> Option<usize> {
        let document = self.document()?;
        let line = self.cursor_line()?;
        document
            .resources
            .iter()
            .position(|block| block.start <= line && line < block.end)
    }

    /// Folds or unfolds the block under the cursor, the cursor staying on its header.
    pub fn toggle_fold(&mut self, height: usize) {
        let Some(block) = self.block_at_cursor() else {
            return;
        };
        self.folded[block] = !self.folded[block];
        let start = self.document().map(|d| d.resources[block].start);
        self.rebuild_rows();
        if let Some(start) = start {
            self.move_cursor_to_line(start, height);
        }
    }

    pub fn fold_all(&mut self, folded: bool, height: usize) {
        let at = self.cursor_line();
        self.folded.iter_mut().for_each(|flag| *flag = folded);
        self.rebuild_rows();
        if let Some(at) = at {
            self.move_cursor_to_line(at, height);
        }
    }

    /// Scrolls so `line` (or the folded block holding it) is the top row, the cursor on it.
    pub fn scroll_to_line(&mut self, line: usize, height: usize) {
        let row = self.row_of(line);
        self.viewport.scroll_to(row, self.rows.len(), height);
        self.viewport.selected = row;
        self.viewport
            .keep_selection_in_view(self.rows.len(), height);
    }

    /// Puts the cursor on `line` (or the folded block holding it), scrolling as little as
    /// needed to show it.
    fn move_cursor_to_line(&mut self, line: usize, height: usize) {
        let row = self.row_of(line);
        self.viewport.select(row, self.rows.len(), height);
    }

    fn row_of(&self, line: usize) -> usize {
        self.rows
            .iter()
            .rposition(|row| row.line <= line)
            .unwrap_or(0)
    }

    /// Moves the cursor to the next (or previous) resource header; `false` when there is none
    /// that way.
    pub fn jump_resource(&mut self, forward: bool, height: usize) -> bool {
        let Some(at) = self.cursor_line() else {
            return false;
        };
        let target = self.document().and_then(|document| {
            let starts = document.resources.iter().map(|block| block.start);
            if forward {
                starts.filter(|start| *start > at).min()
            } else {
                let here = document
                    .resources
                    .iter()
                    .find(|block| block.start <= at && at < block.end)
                    .map_or(at, |block| block.start);
                starts.filter(|start| *start < here).max()
            }
        });
        self.land(target, height)
    }

    /// Moves the cursor to the next (or previous) change on the other side of the line
    /// between this request's resources and the rest of the root; `false` when there is none.
    pub fn jump_owner(&mut self, forward: bool, height: usize) -> bool {
        let Some(at) = self.cursor_line() else {
            return false;
        };
        let id = self.block_id.clone();
        let target = self.document().and_then(|document| {
            let blocks = &document.resources;
            let owned = |index: usize| belongs_to(&blocks[index].address, &id);
            let current = blocks
                .iter()
                .position(|block| block.start <= at && at < block.end);
            let order: Vec<usize> = if forward {
                (0..blocks.len())
                    .filter(|index| blocks[*index].start > at)
                    .collect()
            } else {
                (0..blocks.len())
                    .rev()
                    .filter(|index| blocks[*index].start < at)
                    .collect()
            };
            match current {
                Some(current) => order
                    .into_iter()
                    .find(|index| owned(*index) != owned(current)),
                // Outside any block: the nearest change outside the request.
                None => order.into_iter().find(|index| !owned(*index)),
            }
            .map(|index| blocks[index].start)
        });
        self.land(target, height)
    }

    fn land(&mut self, line: Option<usize>, height: usize) -> bool {
        match line {
            Some(line) => {
                self.follow = false;
                self.move_cursor_to_line(line, height);
                true
            }
            None => false,
        }
    }

    /// Scrolls sideways by `delta` columns, no further than the longest line allows.
    pub fn scroll_sideways(&mut self, delta: i32, width: u16) {
        let longest = self
            .document()
            .map(|document| {
                document
                    .lines
                    .iter()
                    .map(|line| line.text.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        let limit = longest
            .saturating_sub(width as usize / 2)
            .min(u16::MAX as usize) as u16;
        let moved = (self.hscroll as i32 + delta).clamp(0, limit as i32);
        self.hscroll = moved as u16;
    }

    pub fn set_search(&mut self, search: String) {
        self.search = search;
        self.refresh_matches();
    }

    fn refresh_matches(&mut self) {
        let needle = self.search.to_lowercase();
        self.matches = match self.document() {
            Some(document) if !needle.is_empty() => document
                .lines
                .iter()
                .enumerate()
                .filter(|(_, line)| line.text.to_lowercase().contains(&needle))
                .map(|(index, _)| index)
                .collect(),
            _ => Vec::new(),
        };
        self.current_match = self
            .current_match
            .filter(|current| *current < self.matches.len());
    }

    /// Jumps to the next (or previous) match, unfolding the block it is in.
    pub fn jump(&mut self, forward: bool, height: usize) -> bool {
        if self.matches.is_empty() {
            return false;
        }
        let count = self.matches.len();
        let next = match self.current_match {
            None => {
                let top = self
                    .rows
                    .get(self.viewport.offset)
                    .map_or(0, |row| row.line);
                let after = self.matches.iter().position(|line| *line >= top);
                if forward {
                    after.unwrap_or(0)
                } else {
                    after.map_or(count - 1, |at| (at + count - 1) % count)
                }
            }
            Some(current) if forward => (current + 1) % count,
            Some(current) => (current + count - 1) % count,
        };
        self.current_match = Some(next);
        let line = self.matches[next];
        let holder = self.document().and_then(|document| {
            document
                .resources
                .iter()
                .position(|block| block.start < line && line < block.end)
        });
        if let Some(block) = holder
            && self.folded[block]
        {
            self.folded[block] = false;
            self.rebuild_rows();
        }
        self.follow = false;
        self.scroll_to_line(line.saturating_sub(height / 3), height);
        self.move_cursor_to_line(line, height);
        true
    }
}
