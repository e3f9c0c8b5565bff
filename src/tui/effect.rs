//! What `update` asks the outside world for. Effects are data; the executor runs each as a
//! tokio task that reports back with an [`Action`](super::action::Action).

use std::time::Duration;

use crate::domain::Request;
use crate::domain::operation::Operation;
use crate::engine::{CreateInput, Nudge};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub enum Effect {
    LoadEvents {
        id: String,
    },
    /// A plan output kept in the store (`plans/<id>/<run>.txt`).
    LoadStoredPlan {
        id: String,
        key: String,
    },
    /// A run's log from GitHub, after `delay` (follow mode asks again while it runs).
    LoadRunLog {
        request: Box<Request>,
        run_id: u64,
        source: String,
        delay: Duration,
    },
    Operation {
        id: String,
        operation: Operation,
    },
    Create {
        input: Box<CreateInput>,
    },
    /// Changes config values (the engine re-renders the block and plans again).
    Update {
        id: String,
        values: Map<String, Value>,
    },
    /// Sync one request now (a refresh); the answer comes back as a poll event.
    Sync {
        id: String,
    },
    Poller(Nudge),
    /// Tell the poller whether the terminal has focus.
    SetFocus(bool),
    Bell,
    /// A desktop notification through the terminal.
    DesktopNotice {
        title: String,
        body: String,
    },
}

/// The escape sequences that ask the terminal for a desktop notification: OSC 777 (foot,
/// Ghostty, urxvt, VTE) and OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty). A terminal that
/// knows neither ignores them; over SSH they travel with the output. Control characters and
/// the `;` separator are removed so a request's text cannot end the sequence early.
pub fn desktop_notice_bytes(title: &str, body: &str) -> Vec<u8> {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_control() && *c != ';')
            .take(200)
            .collect()
    };
    let (title, body) = (clean(title), clean(body));
    format!("\x1b]777;notify;{title};{body}\x1b\\\x1b]9;{title}: {body}\x07").into_bytes()
}

/// Where the plan/log view reads from for a request, by what is most useful now: a running
/// run's log (followed), a failed run's log, else the stored plan, else the last apply's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    Stored {
        key: String,
        title: String,
    },
    Run {
        run_id: u64,
        title: String,
        running: bool,
    },
}

impl LogSource {
    pub fn source(&self) -> String {
        match self {
            LogSource::Stored { key, .. } => key.clone(),
            LogSource::Run { run_id, .. } => format!("run:{run_id}"),
        }
    }

    pub fn title(&self) -> &str {
        match self {
            LogSource::Stored { title, .. } | LogSource::Run { title, .. } => title,
        }
    }
}

pub fn log_source(request: &Request) -> Option<LogSource> {
    let runs = [
        ("apply", &request.apply_run),
        ("destroy", &request.destroy_run),
        ("plan", &request.plan_run),
        ("drift", &request.drift_run),
        ("cleanup", &request.cleanup_run),
    ];
    let run_source = |name: &str, run: &crate::domain::RunFact, running: bool| {
        run.id.map(|run_id| LogSource::Run {
            run_id,
            title: format!("{name} log, run {run_id}"),
            running,
        })
    };
    if let Some(source) = runs.iter().find_map(|(name, run)| {
        run.as_ref()
            .filter(|run| run.is_in_flight())
            .and_then(|run| run_source(name, run, true))
    }) {
        return Some(source);
    }
    if let Some(source) = runs.iter().find_map(|(name, run)| {
        run.as_ref()
            .filter(|run| run.completed_without_success())
            .and_then(|run| run_source(name, run, false))
    }) {
        return Some(source);
    }
    if let Some(key) = request.plan.as_deref().and_then(|p| p.output_key.clone()) {
        let run = key
            .rsplit('/')
            .next()
            .and_then(|file| file.strip_suffix(".txt"))
            .unwrap_or("")
            .to_string();
        return Some(LogSource::Stored {
            title: format!("plan, run {run}"),
            key,
        });
    }
    runs.iter()
        .find_map(|(name, run)| run.as_ref().and_then(|run| run_source(name, run, false)))
}
