//! The dashboard's state, split by view: the list, the detail pane, the plan view, the modal
//! stack, toasts. `update` changes it; views only read it.

pub mod editor;
pub mod form;
pub mod line_input;
pub mod list;
pub mod modal;
pub mod palette;
pub mod plan;
pub mod viewport;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::access::Role;
use crate::domain::operation::Operation;
use crate::domain::{Insights, Status, Timestamp, compute_insights};
use crate::github::RateBudget;
use crate::store::{EventEntry, TeamConfig};

use super::effect::Tickets;
use super::keymap::{Context, Keymap};
use list::ListState;
use modal::Modal;
use plan::PlanView;

/// How often a followed log is read again, unless a test sets it shorter.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// The store, the GitHub and the user this dashboard works with: fixed for the session, shown
/// in the header.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub store: String,
    pub github: String,
    pub user: String,
    pub role: Role,
    pub sandbox: bool,
}

/// How the background sync is doing, for the header.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SyncState {
    #[default]
    Starting,
    Ok {
        at: Timestamp,
    },
    BackingOff {
        until: Option<Timestamp>,
    },
    Failing {
        message: String,
        at: Timestamp,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Main,
    Plan,
    Insights,
    Events,
    Activity,
    /// A request's pull request diff.
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    List,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Info,
    Error,
}

impl Toast {
    /// The text as shown: a toast that stays says how to dismiss it.
    pub fn shown(&self) -> String {
        match self.until {
            Some(_) => self.text.clone(),
            None => format!("{} (esc dismisses)", self.text),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub kind: ToastKind,
    pub text: String,
    /// When it goes by itself; `None` stays until dismissed (errors).
    pub until: Option<Timestamp>,
}

/// A request's audit events, as far as they have been read.
#[derive(Debug, Clone)]
pub enum Loadable<T> {
    Loading,
    Loaded(T),
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct DetailState {
    pub scroll: u16,
    pub events: HashMap<String, Loadable<Arc<Vec<EventEntry>>>>,
    /// The selection whose events are read once it has rested a moment, and since when.
    pub pending: Option<(String, Timestamp)>,
}

/// A request as the user last had it in front of them: its id and the decision fingerprint of
/// what the detail pane showed. Operation keys act only on what the user has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub version: u64,
}

/// How long a version that changed under the selection must have been on screen before it
/// counts as seen: long enough to notice the change, short enough not to stand in the way.
pub const SEEN_AFTER_MS: i64 = 1500;

/// The infra assistant as the dashboard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assistant {
    On {
        model: String,
    },
    /// Why it is off, and how to turn it on.
    Off {
        reason: String,
    },
}

impl Assistant {
    /// Why the assistant cannot be asked ("" when it can).
    pub fn reason(&self) -> String {
        match self {
            Assistant::On { .. } => String::new(),
            Assistant::Off { reason } => reason.clone(),
        }
    }
}

impl Default for Assistant {
    fn default() -> Self {
        Assistant::Off {
            reason: "the assistant is off: set [assistant] url and model (docs/assistant.md)"
                .into(),
        }
    }
}

pub struct State {
    pub workspace: Workspace,
    pub team: Arc<TeamConfig>,
    pub keymap: Arc<Keymap>,
    pub sync: SyncState,
    pub rate: Option<RateBudget>,
    pub list: ListState,
    pub detail: DetailState,
    /// The selected request's version the user has seen (see [`Seen`]).
    pub seen: Option<Seen>,
    /// The selected request's version on screen now, and since when.
    pub shown: Option<(Seen, Timestamp)>,
    pub plan: Option<PlanView>,
    pub screen: Screen,
    pub pane: Pane,
    pub modals: Vec<Modal>,
    pub toasts: Vec<Toast>,
    /// Operations started from this screen and not yet answered, by request id.
    pub in_flight: BTreeMap<String, Operation>,
    /// Requests whose runs the user started here: a bell rings when they conclude.
    pub watched: BTreeMap<String, Status>,
    pub bell: bool,
    /// Whether the create form can ask the assistant, and which model it asks.
    pub assistant: Assistant,
    /// Also a desktop notification (through the terminal) when a watched run concludes.
    pub desktop: bool,
    pub focused: bool,
    pub mouse: bool,
    pub now: Timestamp,
    pub spinner: usize,
    pub width: u16,
    pub height: u16,
    /// Where the full-screen page (insights, events) is scrolled to.
    pub view_scroll: viewport::Viewport,
    /// The generation of each keyed effect, so late answers are dropped.
    pub tickets: Tickets,
    /// How often a followed log is read again.
    pub follow_every: Duration,
    /// Counted when the insights page opens and whenever the list changes under it.
    pub insights: Option<Insights>,
    /// The team activity feed: the latest events across the most recently changed requests,
    /// newest first; read when the page opens.
    pub activity: Loadable<Arc<Vec<crate::domain::LifecycleEvent>>>,
    /// The pull request diff the diff page shows, and whose it is.
    pub diff: Loadable<Arc<crate::domain::pull_diff::PullDiff>>,
    pub diff_of: Option<String>,
    pub quit: bool,
    /// `q` was pressed once while operations ran; the next `q` quits.
    pub quit_armed: bool,
    /// Something visible changed since the last frame.
    pub dirty: bool,
}

impl State {
    pub fn new(
        workspace: Workspace,
        team: Arc<TeamConfig>,
        keymap: Arc<Keymap>,
        now: Timestamp,
    ) -> State {
        let mut state = State {
            workspace,
            team,
            keymap,
            sync: SyncState::Starting,
            rate: None,
            list: ListState::default(),
            detail: DetailState::default(),
            seen: None,
            shown: None,
            plan: None,
            screen: Screen::Main,
            pane: Pane::List,
            modals: Vec::new(),
            toasts: Vec::new(),
            in_flight: BTreeMap::new(),
            watched: BTreeMap::new(),
            bell: false,
            assistant: Assistant::default(),
            desktop: false,
            focused: true,
            mouse: false,
            now,
            spinner: 0,
            width: 80,
            height: 24,
            view_scroll: viewport::Viewport::default(),
            tickets: Tickets::default(),
            follow_every: FOLLOW_EVERY,
            insights: None,
            activity: Loadable::Loading,
            diff: Loadable::Loading,
            diff_of: None,
            quit: false,
            quit_armed: false,
            dirty: true,
        };
        let page = state.list_height();
        state.list.set_page(page);
        state.list.set_viewer(list::Viewer {
            user: state.workspace.user.clone(),
            team: state.team.clone(),
        });
        state
    }

    /// Which key table applies now: the top modal's, else the screen's.
    pub fn context(&self) -> Context {
        match self.modals.last() {
            Some(modal) => modal.context(),
            None => match self.screen {
                Screen::Main => Context::Main,
                Screen::Plan => Context::Plan,
                Screen::Insights => Context::Insights,
                Screen::Events | Screen::Activity | Screen::Diff => Context::Events,
            },
        }
    }

    /// A message at the bottom: errors stay until esc dismisses them, the rest go after a
    /// few seconds.
    pub fn toast(&mut self, kind: ToastKind, text: impl Into<String>) {
        let until = match kind {
            ToastKind::Error => None,
            _ => Some(self.now.plus_seconds(4)),
        };
        self.push_toast(kind, text.into(), until);
    }

    pub fn toast_for(&mut self, kind: ToastKind, text: impl Into<String>, seconds: i64) {
        let until = Some(self.now.plus_seconds(seconds));
        self.push_toast(kind, text.into(), until);
    }

    fn push_toast(&mut self, kind: ToastKind, text: String, until: Option<Timestamp>) {
        // The same message again (a key pressed twice) stays one line, shown for longer.
        self.toasts
            .retain(|toast| toast.kind != kind || toast.text != text);
        self.toasts.push(Toast { kind, text, until });
        // A burst of results keeps the newest few.
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
        self.toasts_changed();
    }

    /// Esc: every toast goes.
    pub fn dismiss_toasts(&mut self) {
        self.toasts.clear();
        self.toasts_changed();
    }

    /// The toasts take rows from the body: the list's page follows.
    pub fn toasts_changed(&mut self) {
        let rows = self.list_height();
        self.list.set_page(rows);
        let page = self.page_height();
        if let Some(plan) = self.plan.as_mut() {
            plan.clamp(page);
        }
    }

    /// Rows the toasts take now.
    pub fn toast_rows(&self) -> u16 {
        let shown: Vec<String> = self.toasts.iter().map(Toast::shown).collect();
        super::view::layout::toast_rows(shown.iter().map(String::as_str), self.width)
    }

    /// The fingerprint of `id` as the list holds it now, if its document can be read.
    fn version_of(&self, id: &str) -> Option<u64> {
        self.list.row(id).and_then(|row| row.fingerprint())
    }

    /// The user has `id` in front of them as it is now.
    pub fn mark_seen(&mut self, id: &str) {
        self.seen = self.version_of(id).map(|version| Seen {
            id: id.to_string(),
            version,
        });
    }

    /// Whether `id` changed (or was never shown) since the user last had it in front of them:
    /// a version the user chose (by moving onto it, or by acting) is seen at once; one that
    /// arrived under the selection once it has been on screen for [`SEEN_AFTER_MS`].
    pub fn changed_since_seen(&self, id: &str) -> bool {
        let Some(current) = self.version_of(id) else {
            return true;
        };
        let is_current = |seen: &Seen| seen.id == id && seen.version == current;
        if self.seen.as_ref().is_some_and(is_current) {
            return false;
        }
        !self.shown.as_ref().is_some_and(|(shown, since)| {
            is_current(shown) && (self.now.0 - since.0).num_milliseconds() >= SEEN_AFTER_MS
        })
    }

    /// Notes which version of the selection is on screen, and since when.
    pub fn note_shown(&mut self) {
        let current = self.list.selected_id().and_then(|id| {
            self.version_of(id).map(|version| Seen {
                id: id.to_string(),
                version,
            })
        });
        let same = match (&self.shown, &current) {
            (Some((shown, _)), Some(current)) => shown == current,
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.shown = current.map(|seen| (seen, self.now));
        }
    }

    /// Why the policy refuses `command` to this user on the selected request (or, for create,
    /// at all); `None` when it allows it or the command is not an operation. Views grey such
    /// commands out with this reason; `update` refuses them with it.
    pub fn denial(&self, command: super::command::Command) -> Option<String> {
        use crate::domain::access::{Decision, Subject};
        let user = &self.workspace.user;
        let decision = match command {
            super::command::Command::Create => {
                self.team
                    .access
                    .authorize(user, Operation::Create, Subject::new_request(user))
            }
            other => {
                let operation = other.operation()?;
                let request = self.list.selected_row()?.request.as_deref()?;
                self.team
                    .access
                    .authorize(user, operation, Subject::of(request))
            }
        };
        match decision {
            Decision::Allowed => None,
            Decision::Denied { reason } => Some(reason),
        }
    }

    /// Counts the insights again from every readable row.
    pub fn count_insights(&mut self) {
        let requests: Vec<&crate::domain::Request> = self
            .list
            .rows()
            .filter_map(|row| row.request.as_deref())
            .collect();
        self.insights = Some(compute_insights(requests, self.now));
    }

    /// Rows the list shows at the current terminal size.
    pub fn list_height(&self) -> usize {
        super::view::layout::list_rows(self.width, self.height, self.toast_rows())
    }

    /// Lines the full-screen views (plan, events, insights) show.
    pub fn page_height(&self) -> usize {
        super::view::layout::page_rows(self.height, self.toast_rows())
    }
}
