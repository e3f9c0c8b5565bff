//! What `update` asks the outside world for. Effects are data; the executor runs each as a
//! tokio task that reports back with a [`Msg`](super::msg::Msg). Reads that a view waits for
//! run in a slot ([`EffectKey`]): starting one aborts the task already in that slot, and its
//! [`Ticket`] lets `update` drop an answer that arrives after it was replaced.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::deployment::Verdict;
use crate::domain::operation::Operation;
use crate::domain::{Request, RunFact, RunKind};
use crate::engine::{CreateInput, Nudge};
use serde_json::{Map, Value};

/// A slot for a long-lived effect: at most one task runs in each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EffectKey {
    /// The plan/log view's read, parse and highlight (and, while following, the next read
    /// after a pause): one for the whole view, whichever request it shows.
    PlanView,
    /// One request's audit events.
    Events(String),
    /// The team activity feed.
    Activity,
    /// A request's pull request diff.
    Diff,
}

/// Which effect an answer belongs to: its slot and the generation it was started as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ticket {
    pub key: EffectKey,
    pub generation: u64,
}

/// The generation each slot is at. `update` issues a ticket when it starts an effect, and
/// accepts an answer only while that ticket is still the slot's.
#[derive(Debug, Clone, Default)]
pub struct Tickets {
    issued: u64,
    current: HashMap<EffectKey, u64>,
}

impl Tickets {
    /// A ticket for a new effect in `key`; any earlier one in that slot stops being current.
    pub fn issue(&mut self, key: EffectKey) -> Ticket {
        self.issued += 1;
        self.current.insert(key.clone(), self.issued);
        Ticket {
            key,
            generation: self.issued,
        }
    }

    pub fn is_current(&self, ticket: &Ticket) -> bool {
        self.current.get(&ticket.key) == Some(&ticket.generation)
    }

    /// Nothing in `key` is wanted any more; the effect that cancels its task.
    pub fn cancel(&mut self, key: EffectKey) -> Effect {
        self.current.remove(&key);
        Effect::Cancel(key)
    }

    /// An answer was accepted: the slot is free (a late duplicate is dropped).
    pub fn finish(&mut self, ticket: &Ticket) {
        if self.is_current(ticket) {
            self.current.remove(&ticket.key);
        }
    }
}

#[derive(Debug, Clone)]
pub enum Effect {
    LoadEvents {
        ticket: Ticket,
        id: String,
    },
    /// A plan output kept in the store (`plans/<id>/<run>.txt`).
    LoadStoredPlan {
        ticket: Ticket,
        key: String,
    },
    /// A run's log from GitHub, after `delay` (follow mode asks again while it runs).
    LoadRunLog {
        ticket: Ticket,
        request: Box<Request>,
        run_id: u64,
        delay: Duration,
    },
    /// Stops whatever runs in the slot; its answer, if one is already on its way, is dropped.
    Cancel(EffectKey),
    Operation {
        id: String,
        operation: Operation,
    },
    /// Applies although the plan changes resources outside the request (whole-root runs), after
    /// the second confirmation.
    ApplyIncludingOutside {
        id: String,
    },
    /// Approves or rejects the deployment review a request's waiting run is held for.
    ReviewDeployment {
        id: String,
        verdict: Verdict,
        comment: Option<String>,
    },
    /// Withdraws a request that was never applied, with the reason typed in the confirmation.
    Withdraw {
        id: String,
        reason: Option<String>,
    },
    /// An admin lets the latest plan through the policies' deny, with the reason typed in the
    /// confirmation.
    OverridePolicy {
        id: String,
        reason: String,
    },
    Create {
        input: Box<CreateInput>,
    },
    /// Asks the assistant for a request matching `ask` (the create form's ask line).
    Assist {
        ask: String,
    },
    /// Changes config values (the engine re-renders the block and plans again).
    Update {
        id: String,
        values: Map<String, Value>,
    },
    /// Opens a change request of applied request `id` with `values` over its current ones.
    Change {
        id: String,
        values: Map<String, Value>,
    },
    /// Reads request `id`'s pull request diff from GitHub.
    LoadDiff {
        ticket: Ticket,
        id: String,
    },
    /// Reads the events of `ids` (the most recently changed requests) for the activity feed.
    LoadActivity {
        ticket: Ticket,
        ids: Vec<String>,
    },
    /// Sync one request now (a refresh); the answer comes back as a poll event.
    Sync {
        id: String,
    },
    Poller(Nudge),
    /// Tell the poller whether the terminal has focus.
    SetFocus(bool),
    Bell,
    /// Puts `text` on the clipboard through the terminal (OSC 52), which works over SSH.
    Copy {
        text: String,
    },
    /// Opens `url` in this machine's browser; `Msg::OpenFailed` when there is none.
    OpenUrl {
        url: String,
    },
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

/// OSC 52: asks the terminal to put `text` on the system clipboard. Control characters are
/// dropped first; the payload is base64, so nothing in it can end the sequence.
pub fn clipboard_bytes(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let payload = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
    format!("\x1b]52;c;{payload}\x07").into_bytes()
}

/// Whether a URL from a request document may be handed to a browser: a document is a claim,
/// so only an `http(s)` address with a host, no spaces, and nothing a launcher could read as an
/// option (`-…`) or a local file (`file:`).
pub fn openable(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url} is not a web address (http or https)"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url} is not a web address tfpilot opens"));
    }
    Ok(())
}

/// Where the plan/log view's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanSource {
    /// A plan output kept in the store, by its key.
    Stored { key: String },
    /// A run's log, read from GitHub.
    Live { run_id: u64 },
}

/// Where the plan/log view reads from for a request, by what is most useful now: a running
/// run's log (followed), a failed run's log, else the stored plan, else the last apply's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub source: PlanSource,
    pub title: String,
    /// The run has not finished: the view follows it.
    pub running: bool,
}

pub fn log_source(request: &Request) -> Option<LogSource> {
    // The runs whose log matters most first: what changes infrastructure, then the plan.
    let runs: Vec<(RunKind, &RunFact)> = [
        RunKind::Apply,
        RunKind::Destroy,
        RunKind::Plan,
        RunKind::Drift,
        RunKind::Cleanup,
    ]
    .into_iter()
    .filter_map(|kind| kind.of(request).map(|run| (kind, run)))
    .collect();
    let run_source = |kind: RunKind, run: &RunFact, running: bool| {
        run.id.map(|run_id| LogSource {
            source: PlanSource::Live { run_id },
            title: format!("{kind} log, run {run_id}"),
            running,
        })
    };
    if let Some(source) = runs
        .iter()
        .filter(|(_, run)| run.is_in_flight())
        .find_map(|(kind, run)| run_source(*kind, run, true))
    {
        return Some(source);
    }
    if let Some(source) = runs
        .iter()
        .filter(|(_, run)| run.completed_without_success())
        .find_map(|(kind, run)| run_source(*kind, run, false))
    {
        return Some(source);
    }
    if let Some(key) = request.plan.as_deref().and_then(|p| p.output_key.clone()) {
        let run = key
            .rsplit('/')
            .next()
            .and_then(|file| file.strip_suffix(".txt"))
            .unwrap_or("")
            .to_string();
        return Some(LogSource {
            source: PlanSource::Stored { key },
            title: format!("plan, run {run}"),
            running: false,
        });
    }
    runs.iter()
        .find_map(|(kind, run)| run_source(*kind, run, false))
}
