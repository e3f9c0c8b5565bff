//! Everything that can happen to the dashboard: the commands a key (or the palette) names,
//! and the internal messages that terminal events and finished effects send back.

use crossterm::event::{KeyEvent, MouseEvent};
use serde::Deserialize;

use crate::domain::Timestamp;
use crate::domain::operation::Operation;
use crate::engine::PollEvent;
use crate::github::RateBudget;
use crate::store::EventEntry;
use crate::tui::plan::document::PlanDocument;

/// One enum for all of it. The keymap deserializes the bindable variants by their snake_case
/// names; the internal ones are skipped, so no key can forge a finished operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Back,
    Help,
    Palette,
    MoveDown,
    MoveUp,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Open,
    SwitchPane,
    Filter,
    FilterStatus,
    FilterEnvironment,
    ClearFilters,
    Sort,
    ReverseSort,
    Create,
    Edit,
    Plan,
    Approve,
    Merge,
    Apply,
    Destroy,
    Cleanup,
    DriftCheck,
    Refresh,
    PlanLog,
    Insights,
    Events,
    ToggleBell,
    Search,
    NextMatch,
    PreviousMatch,
    ToggleFold,
    UnfoldAll,
    FoldAll,
    Follow,
    ScrollLeft,
    ScrollRight,
    Confirm,
    Cancel,
    Submit,
    NextField,
    PreviousField,

    #[serde(skip)]
    Key(KeyEvent),
    #[serde(skip)]
    Mouse(MouseEvent),
    #[serde(skip)]
    Paste(String),
    #[serde(skip)]
    Resize {
        width: u16,
        height: u16,
    },
    #[serde(skip)]
    FocusChanged(bool),
    #[serde(skip)]
    Tick(Timestamp),
    #[serde(skip)]
    Poll(PollEvent),
    #[serde(skip)]
    RateBudget(RateBudget),
    #[serde(skip)]
    EventsLoaded {
        id: String,
        result: Result<Vec<EventEntry>, String>,
    },
    #[serde(skip)]
    PlanLoaded {
        id: String,
        /// The store key or run the text came from, so a stale answer is recognised.
        source: String,
        result: Result<std::sync::Arc<PlanDocument>, String>,
        /// The run is still going: follow mode asks again.
        running: bool,
    },
    #[serde(skip)]
    OperationDone {
        id: String,
        operation: Operation,
        result: Result<Box<crate::engine::OpOutcome>, OperationFailure>,
    },
    #[serde(skip)]
    Created {
        result: Result<Box<crate::engine::OpOutcome>, OperationFailure>,
    },
}

/// An operation that did not happen, with the reason as the engine (or the policy) gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFailure {
    /// `denied`, `locked`, `conflict`, `invalid`, ... (the engine's error kinds).
    pub kind: &'static str,
    pub message: String,
}

impl Action {
    /// What the action does, for help, the palette and the footer; `None` for internal ones.
    pub fn description(&self) -> Option<&'static str> {
        Some(match self {
            Action::Quit => "quit",
            Action::Back => "back / close",
            Action::Help => "help: every key",
            Action::Palette => "command palette",
            Action::MoveDown => "down",
            Action::MoveUp => "up",
            Action::PageDown => "page down",
            Action::PageUp => "page up",
            Action::Top => "first",
            Action::Bottom => "last",
            Action::Open => "open the plan or log",
            Action::SwitchPane => "switch pane",
            Action::Filter => "filter by text",
            Action::FilterStatus => "filter by status",
            Action::FilterEnvironment => "filter by environment",
            Action::ClearFilters => "clear filters",
            Action::Sort => "sort by next column",
            Action::ReverseSort => "reverse sort",
            Action::Create => "create a request",
            Action::Edit => "edit config",
            Action::Plan => "plan",
            Action::Approve => "approve",
            Action::Merge => "merge",
            Action::Apply => "apply",
            Action::Destroy => "destroy",
            Action::Cleanup => "clean up",
            Action::DriftCheck => "drift check",
            Action::Refresh => "refresh now",
            Action::PlanLog => "plan / log",
            Action::Insights => "insights",
            Action::Events => "event log",
            Action::ToggleBell => "bell when a run ends",
            Action::Search => "search",
            Action::NextMatch => "next match",
            Action::PreviousMatch => "previous match",
            Action::ToggleFold => "fold / unfold",
            Action::UnfoldAll => "unfold all",
            Action::FoldAll => "fold all",
            Action::Follow => "follow the log",
            Action::ScrollLeft => "scroll left",
            Action::ScrollRight => "scroll right",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::Submit => "submit",
            Action::NextField => "next field",
            Action::PreviousField => "previous field",
            _ => return None,
        })
    }

    /// The snake_case name the keymap and the palette use.
    pub fn name(&self) -> Option<String> {
        self.description()?;
        let debug = format!("{self:?}");
        let mut name = String::new();
        for (index, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if index > 0 {
                    name.push('_');
                }
                name.push(c.to_ascii_lowercase());
            } else {
                name.push(c);
            }
        }
        Some(name)
    }

    /// Actions that change infrastructure or GitHub: shown in the danger colour.
    pub fn is_dangerous(&self) -> bool {
        matches!(
            self,
            Action::Merge | Action::Apply | Action::Destroy | Action::Cleanup
        )
    }

    /// The lifecycle operation this action asks for, if it is one.
    pub fn operation(&self) -> Option<Operation> {
        Some(match self {
            Action::Plan => Operation::Plan,
            Action::Approve => Operation::Approve,
            Action::Merge => Operation::Merge,
            Action::Apply => Operation::Apply,
            Action::Destroy => Operation::Destroy,
            Action::Cleanup => Operation::Cleanup,
            Action::DriftCheck => Operation::DriftCheck,
            _ => return None,
        })
    }

    /// The actions the palette offers, in the order it lists them before any typing.
    pub const PALETTE: [Action; 24] = [
        Action::Plan,
        Action::Approve,
        Action::Merge,
        Action::Apply,
        Action::Destroy,
        Action::Cleanup,
        Action::DriftCheck,
        Action::Create,
        Action::Edit,
        Action::PlanLog,
        Action::Events,
        Action::Refresh,
        Action::Filter,
        Action::FilterStatus,
        Action::FilterEnvironment,
        Action::ClearFilters,
        Action::Sort,
        Action::ReverseSort,
        Action::Insights,
        Action::ToggleBell,
        Action::Follow,
        Action::Help,
        Action::Back,
        Action::Quit,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_keymap_spelling() {
        assert_eq!(Action::DriftCheck.name().as_deref(), Some("drift_check"));
        assert_eq!(Action::Quit.name().as_deref(), Some("quit"));
        assert_eq!(Action::Tick(Timestamp(chrono::Utc::now())).name(), None);
        for action in Action::PALETTE {
            let name = action.name().expect("palette actions are bindable");
            let parsed: Action = serde_json::from_value(serde_json::Value::String(name.clone()))
                .expect("every bindable name deserializes");
            assert_eq!(parsed.name(), Some(name));
        }
    }

    #[test]
    fn internal_actions_cannot_be_bound() {
        let forged = serde_json::from_str::<Action>("\"key\"");
        assert!(forged.is_err());
        let forged = serde_json::from_str::<Action>("\"operation_done\"");
        assert!(forged.is_err());
    }
}
