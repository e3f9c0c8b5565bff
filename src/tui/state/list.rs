//! The request list: every row the store holds, the filters and the sort, and which rows are
//! visible. Filtering and sorting happen when something changes, never per frame, so drawing
//! 10,000 rows costs what drawing the visible ones costs.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use super::viewport::Viewport;

use crate::domain::operation::waiting_on;
use crate::domain::{Request, Status, Timestamp, derive_status};
use crate::store::{ListedRequest, TeamConfig};

/// One request as the list shows it; everything derived once, when the document arrives.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    /// `None` when the document could not be read; `problem` says why.
    pub request: Option<Arc<Request>>,
    pub problem: Option<String>,
    pub status: Option<Status>,
    pub lock_holder: Option<String>,
    /// Requested by the dashboard's user.
    pub mine: bool,
    /// The dashboard's user could move it forward now (see `operation::waiting_on`).
    pub waiting_on_me: bool,
    /// `name=value ...` of its config, sensitive values left out (only with the module known):
    /// worked out the first time the row is drawn wide enough to show it, not at load.
    config_summary: std::sync::OnceLock<String>,
    /// What the user decides on, hashed (see `presentation::decision_fingerprint`): worked
    /// out when first asked (for the selected row), not for every row at load.
    fingerprint: std::sync::OnceLock<u64>,
    /// Lowercased text the `/` filter matches against.
    haystack: String,
}

/// `bucket_name=media versioning=true`: the values a person recognises a request by, sensitive
/// ones left out, cut short.
fn summarize_config(request: &Request, module: &crate::domain::catalog::ModuleDef) -> String {
    use crate::domain::presentation::{ConfigValue, config_entries};
    let mut summary = String::new();
    for entry in config_entries(request, Some(module)) {
        let ConfigValue::Shown(value) = entry.value else {
            continue;
        };
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(&format!("{}={text}", entry.name));
        if summary.chars().count() > 120 {
            break;
        }
    }
    summary
}

/// Who looks at the list: what "mine" and "waiting on me" mean.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: String,
    pub team: Arc<TeamConfig>,
}

impl Row {
    pub fn readable(request: Arc<Request>, viewer: Option<&Viewer>) -> Row {
        let status = derive_status(&request);
        let lock_holder = request.lock.as_deref().map(|lock| lock.holder.clone());
        let haystack = format!(
            "{} {}/{} {} {} {} {}",
            request.id,
            request.project,
            request.environment,
            request.module,
            request.requested_by,
            status.as_str(),
            lock_holder.as_deref().unwrap_or("")
        )
        .to_lowercase();
        let mine = viewer.is_some_and(|viewer| request.requested_by == viewer.user);
        // `waiting_on` looks at the status first: settled rows cost no policy check.
        let waiting_on_me = viewer.is_some_and(|viewer| {
            !waiting_on(&viewer.team.access, &viewer.user, &request, status).is_empty()
        });
        Row {
            id: request.id.clone(),
            config_summary: Default::default(),
            mine,
            waiting_on_me,
            fingerprint: Default::default(),
            request: Some(request),
            problem: None,
            status: Some(status),
            lock_holder,
            haystack,
        }
    }

    pub fn unreadable(id: String, problem: String) -> Row {
        Row {
            haystack: id.to_lowercase(),
            id,
            request: None,
            problem: Some(problem),
            status: None,
            lock_holder: None,
            mine: false,
            waiting_on_me: false,
            config_summary: Default::default(),
            fingerprint: Default::default(),
        }
    }

    fn from_listing(entry: &ListedRequest, viewer: Option<&Viewer>) -> Row {
        match &entry.outcome {
            Ok(request) => Row::readable(request.clone(), viewer),
            Err(error) => Row::unreadable(entry.id.clone(), error.to_string()),
        }
    }

    /// This request's planned `+/~/-` (its own changes when the plan was attributed); worked
    /// out for the rows drawn.
    pub fn plan_counts(&self) -> Option<String> {
        let plan = self.request.as_deref()?.plan.as_deref()?;
        plan.request.map(|counts| counts.short()).or_else(|| {
            plan.summary
                .map(|s| format!("+{} ~{} -{}", s.add, s.change, s.destroy))
        })
    }

    /// The decision fingerprint of its document; `None` when it cannot be read.
    pub fn fingerprint(&self) -> Option<u64> {
        let request = self.request.as_deref()?;
        Some(
            *self
                .fingerprint
                .get_or_init(|| crate::domain::presentation::decision_fingerprint(request)),
        )
    }

    /// `name=value ...` of its config for the list, sensitive values left out; empty when the
    /// catalog does not know its module (then nothing is known to be sensitive).
    pub fn config_summary(&self, team: &TeamConfig) -> &str {
        self.config_summary.get_or_init(|| {
            self.request
                .as_deref()
                .and_then(|request| {
                    team.module(&request.module)
                        .map(|module| summarize_config(request, module))
                })
                .unwrap_or_default()
        })
    }

    pub fn created_at(&self) -> Option<Timestamp> {
        self.request.as_ref().map(|r| r.created_at)
    }

    fn text(&self, key: SortKey) -> &str {
        let Some(request) = &self.request else {
            return "";
        };
        match key {
            SortKey::Project => &request.project,
            SortKey::Environment => &request.environment,
            SortKey::Module => &request.module,
            SortKey::Requester => &request.requested_by,
            _ => &self.id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Status,
    Id,
    Project,
    Environment,
    Module,
    Requester,
}

impl SortKey {
    const CYCLE: [SortKey; 8] = [
        SortKey::Created,
        SortKey::Updated,
        SortKey::Status,
        SortKey::Id,
        SortKey::Project,
        SortKey::Environment,
        SortKey::Module,
        SortKey::Requester,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Created => "age",
            SortKey::Updated => "updated",
            SortKey::Status => "status",
            SortKey::Id => "id",
            SortKey::Project => "project",
            SortKey::Environment => "env",
            SortKey::Module => "module",
            SortKey::Requester => "requester",
        }
    }

    /// The key a label names (as `label` spells it).
    pub fn parse(label: &str) -> Option<SortKey> {
        SortKey::CYCLE.into_iter().find(|key| key.label() == label)
    }

    pub fn next(self) -> SortKey {
        let at = SortKey::CYCLE.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::CYCLE[(at + 1) % SortKey::CYCLE.len()]
    }
}

/// The list's one-key views (tabs), on top of the filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListView {
    #[default]
    All,
    /// Requested by me.
    Mine,
    /// Something my role can do now: approve, merge, apply, review a deployment.
    WaitingOnMe,
    /// In flight: planning, applying, destroying.
    Active,
}

impl ListView {
    pub const ALL: [ListView; 4] = [
        ListView::All,
        ListView::Mine,
        ListView::WaitingOnMe,
        ListView::Active,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ListView::All => "all",
            ListView::Mine => "mine",
            ListView::WaitingOnMe => "waiting on me",
            ListView::Active => "active",
        }
    }

    /// The label on its tab (short: the title is shared with the filters and the sort).
    pub fn tab(self) -> &'static str {
        match self {
            ListView::WaitingOnMe => "waiting",
            other => other.label(),
        }
    }

    fn shows(self, row: &Row) -> bool {
        match self {
            ListView::All => true,
            ListView::Mine => row.mine,
            ListView::WaitingOnMe => row.waiting_on_me,
            ListView::Active => row.status.is_some_and(Status::is_active),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub view: ListView,
    pub text: String,
    pub status: Option<Status>,
    pub environment: Option<String>,
    pub project: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.view == ListView::All
            && self.text.is_empty()
            && self.status.is_none()
            && self.environment.is_none()
            && self.project.is_none()
    }

    /// `words` is the text filter lowercased and split, once per refilter rather than per row.
    fn matches(&self, words: &[String], row: &Row) -> bool {
        if !self.view.shows(row) {
            return false;
        }
        if let Some(status) = self.status
            && row.status != Some(status)
        {
            return false;
        }
        if let Some(environment) = &self.environment
            && row.request.as_ref().map(|r| &r.environment) != Some(environment)
        {
            return false;
        }
        if let Some(project) = &self.project
            && row.request.as_ref().map(|r| &r.project) != Some(project)
        {
            return false;
        }
        words
            .iter()
            .all(|word| row.haystack.contains(word.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct ListState {
    rows: Vec<Row>,
    by_id: HashMap<String, usize>,
    /// Indexes into `rows`: the filtered rows in sort order.
    visible: Vec<usize>,
    /// The selection (a position in `visible`) and the first visible row drawn.
    viewport: Viewport,
    /// Rows the list shows at the terminal's size; every change keeps the selection inside.
    page: usize,
    pub filter: Filter,
    pub sort: SortKey,
    /// Newest (or largest) first.
    pub descending: bool,
    /// The store was listed at least once.
    pub loaded: bool,
    /// Rows per view, as of the last change.
    view_counts: [usize; 4],
    /// Who looks: rows know whether they are "mine" and "waiting on me".
    viewer: Option<Viewer>,
    /// The selected request, kept visible after a change of its own took it out of the
    /// filters (an approve in `status=plan_ready`), until the user moves: the selection never
    /// slides onto a request the user did not choose.
    pinned: Option<String>,
}

impl Default for ListState {
    fn default() -> Self {
        ListState {
            rows: Vec::new(),
            by_id: HashMap::new(),
            visible: Vec::new(),
            viewport: Viewport::default(),
            page: 1,
            filter: Filter::default(),
            sort: SortKey::Created,
            descending: true,
            loaded: false,
            viewer: None,
            view_counts: [0; 4],
            pinned: None,
        }
    }
}

impl ListState {
    /// Sets who looks at the list (before the first listing).
    pub fn set_viewer(&mut self, viewer: Viewer) {
        self.viewer = Some(viewer);
    }

    /// How many rows each view shows (ignoring the other filters), for the tabs; counted when
    /// the rows change, not per frame.
    pub fn view_counts(&self) -> [usize; 4] {
        self.view_counts
    }

    /// Position of the selection among the visible rows.
    pub fn selected(&self) -> usize {
        self.viewport.selected
    }

    /// The first visible row drawn.
    pub fn offset(&self) -> usize {
        self.viewport.offset
    }

    /// The terminal changed size: `page` rows are shown now.
    pub fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.viewport
            .keep_selection_in_view(self.visible.len(), self.page);
    }

    pub fn total(&self) -> usize {
        self.rows.len()
    }

    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// The visible rows from `start`, at most `count` of them.
    pub fn window(&self, start: usize, count: usize) -> impl Iterator<Item = &Row> {
        self.visible
            .iter()
            .skip(start)
            .take(count)
            .map(|index| &self.rows[*index])
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.visible
            .get(self.viewport.selected)
            .map(|index| &self.rows[*index])
    }

    pub fn selected_id(&self) -> Option<&str> {
        self.selected_row().map(|row| row.id.as_str())
    }

    pub fn row(&self, id: &str) -> Option<&Row> {
        self.by_id.get(id).map(|index| &self.rows[*index])
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }

    /// Replaces every row with a fresh listing, keeping the selection on the same request.
    /// The lister hands out the same `Arc` for a document that did not change, so a row whose
    /// document is pointer-equal is kept as it is; a listing where nothing changed costs one
    /// pointer comparison per row (the poller sends one every idle interval).
    pub fn replace_all(&mut self, entries: &[ListedRequest]) {
        let unchanged = self.loaded
            && entries.len() == self.rows.len()
            && entries
                .iter()
                .zip(&self.rows)
                .all(|(entry, row)| same(entry, row));
        let was_loaded = self.loaded;
        self.loaded = true;
        if unchanged {
            return;
        }
        let keep = self.selected_id().map(str::to_string);
        // The same requests in the same order, some of them newer: replace those in place.
        let same_ids = was_loaded
            && entries.len() == self.rows.len()
            && entries
                .iter()
                .zip(&self.rows)
                .all(|(entry, row)| entry.id == row.id);
        if same_ids {
            for (entry, row) in entries.iter().zip(self.rows.iter_mut()) {
                if !same(entry, row) && !shows_newer(row, entry) {
                    *row = Row::from_listing(entry, self.viewer.as_ref());
                }
            }
            self.refilter(keep.as_deref(), Pin::Keep);
            return;
        }
        let mut old: HashMap<String, Row> = self
            .rows
            .drain(..)
            .map(|row| (row.id.clone(), row))
            .collect();
        self.rows = entries
            .iter()
            .map(|entry| match old.remove(&entry.id) {
                Some(row) if same(entry, &row) || shows_newer(&row, entry) => row,
                _ => Row::from_listing(entry, self.viewer.as_ref()),
            })
            .collect();
        self.by_id = self
            .rows
            .iter()
            .enumerate()
            .map(|(index, row)| (row.id.clone(), index))
            .collect();
        self.refilter(keep.as_deref(), Pin::Keep);
    }

    /// Puts one request's newer document in place (or adds it). Returns the status it had.
    /// An older version than the one shown (a late answer) changes nothing.
    pub fn upsert(&mut self, request: Arc<Request>) -> Option<Status> {
        let keep = self.selected_id().map(str::to_string);
        if let Some(shown) = self.row(&request.id)
            && let Some(current) = &shown.request
            && current.updated_at > request.updated_at
        {
            return shown.status;
        }
        let row = Row::readable(request, self.viewer.as_ref());
        let before = match self.by_id.get(&row.id) {
            Some(index) => {
                let old = std::mem::replace(&mut self.rows[*index], row);
                old.status
            }
            None => {
                self.by_id.insert(row.id.clone(), self.rows.len());
                self.rows.push(row);
                None
            }
        };
        self.refilter(keep.as_deref(), Pin::Keep);
        before
    }

    /// Recomputes the visible rows after a filter, sort or data change; the selection stays
    /// on `keep` while it is visible, and on screen. With [`Pin::Keep`] (the data changed, not
    /// the user's choice) `keep` stays visible even when the filters no longer match it.
    fn refilter(&mut self, keep: Option<&str>, pin: Pin) {
        let filter = &self.filter;
        let words: Vec<String> = filter
            .text
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let pinned = match pin {
            Pin::Keep => keep.map(str::to_string),
            Pin::Release => None,
        }
        .filter(|id| {
            self.by_id
                .get(id)
                .is_some_and(|index| !filter.matches(&words, &self.rows[*index]))
        });
        let mut visible: Vec<usize> = (0..self.rows.len())
            .filter(|index| {
                let row = &self.rows[*index];
                filter.matches(&words, row) || pinned.as_deref() == Some(row.id.as_str())
            })
            .collect();
        let rows = &self.rows;
        let key = self.sort;
        visible.sort_by(|a, b| {
            let ordering =
                compare(&rows[*a], &rows[*b], key).then_with(|| rows[*a].id.cmp(&rows[*b].id));
            if self.descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
        self.visible = visible;
        self.pinned = pinned;
        self.view_counts =
            ListView::ALL.map(|view| self.rows.iter().filter(|row| view.shows(row)).count());
        let kept = keep.and_then(|id| {
            self.visible
                .iter()
                .position(|index| self.rows[*index].id == id)
        });
        if let Some(position) = kept {
            self.viewport.selected = position;
        }
        self.viewport
            .keep_selection_in_view(self.visible.len(), self.page);
    }

    pub fn set_filter(&mut self, filter: Filter) {
        let keep = self.selected_id().map(str::to_string);
        self.filter = filter;
        self.refilter(keep.as_deref(), Pin::Release);
    }

    pub fn set_sort(&mut self, key: SortKey, descending: bool) {
        let keep = self.selected_id().map(str::to_string);
        self.sort = key;
        self.descending = descending;
        // Sorting changes no membership: a pinned row stays until the user moves.
        let pin = if self.pinned.is_some() {
            Pin::Keep
        } else {
            Pin::Release
        };
        self.refilter(keep.as_deref(), pin);
    }

    /// The request kept visible although the filters no longer match it (see `pinned`).
    pub fn pinned(&self) -> Option<&str> {
        self.pinned.as_deref()
    }

    /// Moves the selection by `delta` rows, stopping at either end.
    pub fn move_by(&mut self, delta: isize) {
        self.viewport
            .move_selection(delta, self.visible.len(), self.page);
        self.release_pin();
    }

    /// Selects the visible row at `index` (the last one when past the end).
    pub fn select_index(&mut self, index: usize) {
        self.viewport.select(index, self.visible.len(), self.page);
        self.release_pin();
    }

    /// The user moved: a row kept only because it was selected leaves the list now.
    fn release_pin(&mut self) {
        if self.pinned.is_some() {
            let keep = self.selected_id().map(str::to_string);
            self.refilter(keep.as_deref(), Pin::Release);
        }
    }

    /// Selects the row of `id` when it is visible; `false` when the filters hide it.
    pub fn select_id(&mut self, id: &str) -> bool {
        match self
            .visible
            .iter()
            .position(|index| self.rows[*index].id == id)
        {
            Some(position) => {
                self.select_index(position);
                true
            }
            None => false,
        }
    }

    /// Each environment present with its number of requests, for the environment filter.
    pub fn environment_counts(&self) -> Vec<(String, usize)> {
        self.count_by(|request| &request.environment)
    }

    /// Each project present with its number of requests, for the project filter.
    pub fn project_counts(&self) -> Vec<(String, usize)> {
        self.count_by(|request| &request.project)
    }

    fn count_by(&self, field: impl Fn(&Request) -> &String) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<&String, usize> = Default::default();
        for request in self.rows.iter().filter_map(|row| row.request.as_deref()) {
            *counts.entry(field(request)).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(value, count)| (value.clone(), count))
            .collect()
    }

    /// How many rows are in each status (unfiltered), for the status filter.
    pub fn status_counts(&self) -> Vec<(Status, usize)> {
        Status::ALL
            .into_iter()
            .map(|status| {
                let count = self
                    .rows
                    .iter()
                    .filter(|r| r.status == Some(status))
                    .count();
                (status, count)
            })
            .collect()
    }
}

/// Whether a refilter keeps the selected row visible when the filters no longer match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    Keep,
    Release,
}

/// The row already shows a later version than the listing has: an operation or a sync
/// answered after the listing was taken. Keeping it avoids a status flickering back.
fn shows_newer(row: &Row, entry: &ListedRequest) -> bool {
    match (&row.request, &entry.outcome) {
        (Some(shown), Ok(listed)) => shown.updated_at > listed.updated_at,
        _ => false,
    }
}

/// The row shows exactly this listing entry's document (the very same object).
fn same(entry: &ListedRequest, row: &Row) -> bool {
    entry.id == row.id
        && match (&entry.outcome, &row.request) {
            (Ok(listed), Some(shown)) => Arc::ptr_eq(listed, shown),
            (Err(error), None) => row.problem.as_deref() == Some(error.to_string().as_str()),
            _ => false,
        }
}

fn compare(a: &Row, b: &Row, key: SortKey) -> Ordering {
    match key {
        SortKey::Created => a.created_at().cmp(&b.created_at()),
        SortKey::Updated => {
            let updated = |row: &Row| row.request.as_ref().map(|r| r.updated_at);
            updated(a).cmp(&updated(b))
        }
        SortKey::Status => a.status.cmp(&b.status),
        SortKey::Id => a.id.cmp(&b.id),
        other => a.text(other).cmp(b.text(other)),
    }
}
