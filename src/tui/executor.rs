//! Runs effects: each one a tokio task that owns what it needs and reports back with a
//! [`Msg`]. Nothing here touches the state; nothing here blocks the event loop. A keyed
//! effect replaces the task in its slot: the older one is aborted, so a view that is left and
//! entered again never leaves a second reader behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::effect::{Effect, EffectKey, Ticket};
use super::msg::{LoadError, Msg, OperationFailure};
use super::plan::document::PlanDocument;
use crate::assistant::ChatModel;
use crate::domain::deployment::Verdict;
use crate::domain::operation::Operation;
use crate::engine::{Engine, Nudge, PollEvent};

#[derive(Clone)]
pub struct Executor {
    engine: Engine,
    messages: mpsc::UnboundedSender<Msg>,
    nudges: mpsc::UnboundedSender<Nudge>,
    focused: Arc<AtomicBool>,
    /// The task running in each slot, with the generation it was started as.
    slots: Arc<Mutex<HashMap<EffectKey, (u64, AbortHandle)>>>,
    /// The chat model the create form asks, when the assistant is on.
    assistant: Option<Arc<dyn ChatModel>>,
}

impl Executor {
    pub fn new(
        engine: Engine,
        messages: mpsc::UnboundedSender<Msg>,
        nudges: mpsc::UnboundedSender<Nudge>,
        focused: Arc<AtomicBool>,
    ) -> Self {
        Executor {
            engine,
            messages,
            nudges,
            focused,
            slots: Arc::default(),
            assistant: None,
        }
    }

    /// The create form's ask line asks `model`.
    pub fn with_assistant(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.assistant = Some(model);
        self
    }

    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::Poller(nudge) => {
                // The poller gone means the dashboard is closing; nothing to do.
                let _ = self.nudges.send(nudge);
            }
            Effect::SetFocus(focused) => self.focused.store(focused, Ordering::Relaxed),
            Effect::Bell => write_to_terminal(b"\x07"),
            Effect::Copy { text } => write_to_terminal(&super::effect::clipboard_bytes(&text)),
            Effect::OpenUrl { url } => {
                if let Err(reason) = open_in_browser(&url) {
                    let _ = self.messages.send(Msg::OpenFailed { url, reason });
                }
            }
            Effect::DesktopNotice { title, body } => {
                write_to_terminal(&super::effect::desktop_notice_bytes(&title, &body));
            }
            Effect::Cancel(key) => {
                if let Some((_, task)) = self.slots().remove(&key) {
                    task.abort();
                }
            }
            Effect::LoadEvents { ticket, id } => {
                let engine = self.engine.clone();
                self.keyed(ticket.clone(), async move {
                    let result = engine.store().list_events(&id).await.map_err(Into::into);
                    Msg::EventsLoaded { ticket, result }
                });
            }
            Effect::LoadDiff { ticket, id } => {
                let engine = self.engine.clone();
                self.keyed(ticket.clone(), async move {
                    let result = engine.pull_diff(&id).await.map_err(Into::into);
                    Msg::DiffLoaded { ticket, result }
                });
            }
            Effect::LoadActivity { ticket, ids } => {
                let engine = self.engine.clone();
                self.keyed(ticket.clone(), async move {
                    let result = read_activity(&engine, ids).await;
                    Msg::ActivityLoaded { ticket, result }
                });
            }
            Effect::LoadStoredPlan { ticket, key } => {
                let engine = self.engine.clone();
                self.keyed(ticket.clone(), async move {
                    let result = match engine.store().get_blob(&key).await {
                        Ok(Some(bytes)) => {
                            build(String::from_utf8_lossy(&bytes).into_owned()).await
                        }
                        Ok(None) => Err(LoadError::Missing { key }),
                        Err(error) => Err(error.into()),
                    };
                    Msg::PlanLoaded {
                        ticket,
                        result,
                        running: false,
                    }
                });
            }
            Effect::LoadRunLog {
                ticket,
                request,
                run_id,
                delay,
            } => {
                let engine = self.engine.clone();
                self.keyed(ticket.clone(), async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let (result, running) = match engine.read_run_log(&request, run_id).await {
                        Ok(log) => {
                            let now = crate::domain::Timestamp(chrono::Utc::now());
                            (build(log.display(now)).await, log.running)
                        }
                        Err(error) => (Err(error.into()), false),
                    };
                    Msg::PlanLoaded {
                        ticket,
                        result,
                        running,
                    }
                });
            }
            Effect::Operation { id, operation } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine.run(operation, &id, None).await;
                    Msg::OperationDone {
                        id,
                        operation,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::ApplyIncludingOutside { id } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine.apply_with(&id, None, true).await;
                    Msg::OperationDone {
                        id,
                        operation: Operation::Apply,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::ReviewDeployment {
                id,
                verdict,
                comment,
            } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine
                        .review_deployment(&id, verdict, comment.as_deref(), None)
                        .await;
                    let operation = match verdict {
                        Verdict::Approve => Operation::ApproveDeployment,
                        Verdict::Reject => Operation::RejectDeployment,
                    };
                    Msg::OperationDone {
                        id,
                        operation,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::Withdraw { id, reason } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine.withdraw(&id, reason.as_deref(), None).await;
                    Msg::OperationDone {
                        id,
                        operation: Operation::Withdraw,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::OverridePolicy { id, reason } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = match engine.override_policy(&id, &reason).await {
                        Ok(_) => engine
                            .store()
                            .get_request(&id)
                            .await
                            .map_err(Into::into)
                            .map(|read| crate::engine::OpOutcome {
                                operation: Operation::OverridePolicy,
                                result: crate::engine::OpResult::Done,
                                message: "the policies' deny of the latest plan is overridden"
                                    .into(),
                                request: read.value,
                            }),
                        Err(error) => Err(error),
                    };
                    Msg::OperationDone {
                        id,
                        operation: Operation::OverridePolicy,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::Assist { ask } => {
                let engine = self.engine.clone();
                let model = self.assistant.clone();
                self.detached(async move {
                    let result = match model {
                        Some(model) => engine
                            .assist(model.as_ref(), &ask)
                            .await
                            .map(Box::new)
                            .map_err(|error| error.to_string()),
                        None => Err(super::state::Assistant::default().reason()),
                    };
                    Msg::Assisted { result }
                });
            }
            Effect::Create { input } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    Msg::Created {
                        result: engine
                            .create(*input)
                            .await
                            .map(Box::new)
                            .map_err(OperationFailure::from),
                    }
                });
            }
            Effect::Change { id, values } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine.change(&id, values, None).await;
                    Msg::OperationDone {
                        id,
                        operation: Operation::Change,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::Update { id, values } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    let result = engine.update(&id, values, None).await;
                    Msg::OperationDone {
                        id,
                        operation: Operation::Update,
                        result: result.map(Box::new).map_err(OperationFailure::from),
                    }
                });
            }
            Effect::Sync { id } => {
                let engine = self.engine.clone();
                self.detached(async move {
                    // A viewer's refresh reads GitHub without writing (`sync_with` decides).
                    let index = crate::engine::RunIndex::default();
                    Msg::Poll(match engine.sync_with(&id, &index).await {
                        Ok(report) => PollEvent::Synced(Box::new(report)),
                        Err(error) => PollEvent::Failed {
                            id,
                            error: error.to_string(),
                        },
                    })
                });
            }
        }
    }

    /// Operations, creates and syncs run to the end whatever the screen does: an operation
    /// holds a lock it must release, and its answer is always shown.
    fn detached(&self, task: impl Future<Output = Msg> + Send + 'static) {
        let messages = self.messages.clone();
        tokio::spawn(async move {
            // The dashboard gone means nobody is waiting for the answer.
            let _ = messages.send(task.await);
        });
    }

    /// Starts `task` in its ticket's slot, aborting the task that was there.
    fn keyed(&self, ticket: Ticket, task: impl Future<Output = Msg> + Send + 'static) {
        let messages = self.messages.clone();
        let slots = self.slots.clone();
        let key = ticket.key.clone();
        let generation = ticket.generation;
        let mut slots_now = self.slots();
        let handle = tokio::spawn(async move {
            let msg = task.await;
            // Leave the slot before answering, unless a newer task took it meanwhile.
            if let Ok(mut slots) = slots.lock()
                && slots.get(&key).is_some_and(|(held, _)| *held == generation)
            {
                slots.remove(&key);
            }
            let _ = messages.send(msg);
        });
        if let Some((_, older)) = slots_now.insert(
            ticket.key.clone(),
            (ticket.generation, handle.abort_handle()),
        ) {
            older.abort();
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<EffectKey, (u64, AbortHandle)>> {
        // A poisoned lock means a task panicked while holding it; the map itself is still a
        // valid map of abort handles.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tasks running in slots now (for tests that prove a view never leaves two readers).
    pub fn keyed_tasks(&self) -> usize {
        self.slots()
            .values()
            .filter(|(_, task)| !task.is_finished())
            .count()
    }
}

fn write_to_terminal(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Highlighting a long plan takes a while: off the async workers. A cancelled read stops
/// waiting for it; the blocking work itself finishes and is dropped.
async fn build(text: String) -> Result<Arc<PlanDocument>, LoadError> {
    tokio::task::spawn_blocking(move || PlanDocument::build(&text))
        .await
        .map(Arc::new)
        .map_err(|error| LoadError::Highlight(error.to_string()))
}

/// Starts this machine's browser on `url`, without waiting for it: `$BROWSER`, else
/// `xdg-open` (or `open` on macOS). Over SSH without `$BROWSER` there is no browser here to
/// open, and a GUI opener would start one on the wrong machine (or fail unseen).
fn open_in_browser(url: &str) -> Result<(), String> {
    super::effect::openable(url)?;
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let over_ssh =
        std::env::var_os("SSH_CONNECTION").is_some() || std::env::var_os("SSH_TTY").is_some();
    let program = match browser {
        Some(browser) => browser,
        None if over_ssh => return Err("this is an SSH session and $BROWSER is not set".into()),
        None if cfg!(target_os = "macos") => "open".into(),
        None => "xdg-open".into(),
    };
    std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|error| format!("cannot start {program}: {error}"))
}

/// How many events the activity feed keeps.
const ACTIVITY_EVENTS: usize = 300;

/// The events of `ids`, a few requests at a time, newest first. A request whose events cannot
/// be read is left out rather than failing the feed; only when none can be read is it an error.
async fn read_activity(
    engine: &Engine,
    ids: Vec<String>,
) -> Result<Vec<crate::domain::LifecycleEvent>, LoadError> {
    use futures::StreamExt;
    let store = engine.store();
    let results: Vec<_> = futures::stream::iter(ids)
        .map(|id| async move { store.list_events(&id).await })
        .buffer_unordered(6)
        .collect()
        .await;
    let mut first_error = None;
    let mut events = Vec::new();
    let mut read_any = false;
    for result in results {
        match result {
            Ok(entries) => {
                read_any = true;
                events.extend(entries.into_iter().filter_map(Result::ok));
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let (false, Some(error)) = (read_any, first_error) {
        return Err(error.into());
    }
    events.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| b.sequence.unwrap_or(0).cmp(&a.sequence.unwrap_or(0)))
    });
    events.truncate(ACTIVITY_EVENTS);
    Ok(events)
}
