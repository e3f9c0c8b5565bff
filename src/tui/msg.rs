//! What comes back to `update`: a command a key (or the palette) asked for, terminal events,
//! and the results effects send back. Results carry the [`Ticket`] of the effect that made
//! them, so `update` drops an answer whose effect was replaced or cancelled.

use std::sync::Arc;

use crossterm::event::{KeyEvent, MouseEvent};

use super::command::Command;
use super::effect::Ticket;
use crate::domain::Timestamp;
use crate::domain::operation::Operation;
use crate::engine::{EngineError, ErrorKind, OpOutcome, PollEvent};
use crate::github::RateBudget;
use crate::store::{EventEntry, StoreError};
use crate::tui::plan::document::PlanDocument;

#[derive(Debug)]
pub enum Msg {
    /// A command, from the keymap (through `Key`) or the palette.
    Command(Command),
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    FocusChanged(bool),
    Tick(Timestamp),
    Poll(PollEvent),
    RateBudget(RateBudget),
    /// A request's audit events (the request is in the ticket's key).
    EventsLoaded {
        ticket: Ticket,
        result: Result<Vec<EventEntry>, LoadError>,
    },
    /// The activity feed's events, newest first.
    ActivityLoaded {
        ticket: Ticket,
        result: Result<Vec<crate::domain::LifecycleEvent>, LoadError>,
    },
    /// A request's pull request diff, attributed.
    DiffLoaded {
        ticket: Ticket,
        result: Result<crate::domain::pull_diff::PullDiff, LoadError>,
    },
    /// The plan view's text, parsed and highlighted.
    PlanLoaded {
        ticket: Ticket,
        result: Result<Arc<PlanDocument>, LoadError>,
        /// The run is still going: follow mode asks again.
        running: bool,
    },
    OperationDone {
        id: String,
        operation: Operation,
        result: Result<Box<OpOutcome>, OperationFailure>,
    },
    Created {
        result: Result<Box<OpOutcome>, OperationFailure>,
    },
    /// The assistant's proposal for the create form, or why there is none.
    Assisted {
        result: Result<Box<crate::engine::Assisted>, String>,
    },
    /// No browser could open `url` here (over SSH, or none installed): `reason` says why.
    OpenFailed {
        url: String,
        reason: String,
    },
}

impl From<Command> for Msg {
    fn from(command: Command) -> Msg {
        Msg::Command(command)
    }
}

/// Why a read for a view failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{key} is not in the store")]
    Missing { key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The blocking task that parses and highlights the text did not finish.
    #[error("reading the log failed: {0}")]
    Highlight(String),
}

/// An operation that did not happen, with the reason as the engine (or the policy) gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFailure {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<EngineError> for OperationFailure {
    fn from(error: EngineError) -> Self {
        OperationFailure {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
