//! Runs effects: each one a tokio task that owns what it needs and reports back with an
//! Action. Nothing here touches the state; nothing here blocks the event loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::action::{Action, OperationFailure};
use super::effect::Effect;
use super::plan::document::PlanDocument;
use crate::domain::operation::Operation;
use crate::engine::{Engine, EngineError, Nudge, OpOutcome, PollEvent};

#[derive(Clone)]
pub struct Executor {
    engine: Engine,
    actions: mpsc::UnboundedSender<Action>,
    nudges: mpsc::UnboundedSender<Nudge>,
    focused: Arc<AtomicBool>,
}

impl Executor {
    pub fn new(
        engine: Engine,
        actions: mpsc::UnboundedSender<Action>,
        nudges: mpsc::UnboundedSender<Nudge>,
        focused: Arc<AtomicBool>,
    ) -> Self {
        Executor {
            engine,
            actions,
            nudges,
            focused,
        }
    }

    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::Poller(nudge) => {
                // The poller gone means the dashboard is closing; nothing to do.
                let _ = self.nudges.send(nudge);
            }
            Effect::SetFocus(focused) => self.focused.store(focused, Ordering::Relaxed),
            Effect::Bell => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(b"\x07");
                let _ = out.flush();
            }
            Effect::DesktopNotice { title, body } => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(&super::effect::desktop_notice_bytes(&title, &body));
                let _ = out.flush();
            }
            effect => {
                let this = self.clone();
                tokio::spawn(async move {
                    if let Some(action) = this.perform(effect).await {
                        let _ = this.actions.send(action);
                    }
                });
            }
        }
    }

    async fn perform(&self, effect: Effect) -> Option<Action> {
        let engine = &self.engine;
        Some(match effect {
            Effect::LoadEvents { id } => {
                let result = engine
                    .store()
                    .list_events(&id)
                    .await
                    .map_err(|e| e.to_string());
                Action::EventsLoaded { id, result }
            }
            Effect::LoadStoredPlan { id, key } => {
                let result = match engine.store().get_blob(&key).await {
                    Ok(Some(bytes)) => build(String::from_utf8_lossy(&bytes).into_owned()).await,
                    Ok(None) => Err(format!("{key} is not in the store")),
                    Err(error) => Err(error.to_string()),
                };
                Action::PlanLoaded {
                    id,
                    source: key,
                    result,
                    running: false,
                }
            }
            Effect::LoadRunLog {
                request,
                run_id,
                source,
                delay,
            } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let (result, running) = match engine.read_run_log(&request, run_id).await {
                    Ok(log) => (build(log.text).await, log.running),
                    Err(error) => (Err(error.to_string()), false),
                };
                Action::PlanLoaded {
                    id: request.id.clone(),
                    source,
                    result,
                    running,
                }
            }
            Effect::Operation { id, operation } => {
                let result = operate(engine, &id, operation).await;
                Action::OperationDone {
                    id,
                    operation,
                    result: result.map(Box::new).map_err(failure),
                }
            }
            Effect::Create { input } => Action::Created {
                result: engine.create(*input).await.map(Box::new).map_err(failure),
            },
            Effect::Update { id, values } => {
                let result = engine.update(&id, values, None).await;
                Action::OperationDone {
                    id,
                    operation: Operation::Update,
                    result: result.map(Box::new).map_err(failure),
                }
            }
            Effect::Sync { id } => match engine.sync(&id).await {
                Ok(report) => Action::Poll(PollEvent::Synced(Box::new(report))),
                Err(error) => Action::Poll(PollEvent::Failed {
                    id,
                    error: error.to_string(),
                }),
            },
            Effect::Poller(_)
            | Effect::SetFocus(_)
            | Effect::Bell
            | Effect::DesktopNotice { .. } => return None,
        })
    }
}

/// Highlighting a long plan takes a while: off the async workers.
async fn build(text: String) -> Result<Arc<PlanDocument>, String> {
    tokio::task::spawn_blocking(move || PlanDocument::build(&text))
        .await
        .map(Arc::new)
        .map_err(|error| format!("reading the log failed: {error}"))
}

async fn operate(
    engine: &Engine,
    id: &str,
    operation: Operation,
) -> Result<OpOutcome, EngineError> {
    match operation {
        Operation::Plan => engine.plan(id, None).await,
        Operation::Approve => engine.approve(id, None).await,
        Operation::Merge => engine.merge(id, None).await,
        Operation::Apply => engine.apply(id, None).await,
        Operation::Destroy => engine.destroy(id, None).await,
        Operation::Cleanup => engine.cleanup(id, None).await,
        Operation::DriftCheck => engine.drift_check(id, None).await,
        Operation::Create | Operation::Update => Err(EngineError::Invalid {
            message: format!("{} needs its form", operation.verb()),
        }),
    }
}

fn failure(error: EngineError) -> OperationFailure {
    OperationFailure {
        kind: error.kind(),
        message: error.to_string(),
    }
}
