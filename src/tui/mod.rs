//! The dashboard (docs/architecture.md, "tui/"): payload-free commands that keymaps bind,
//! messages that effects send back, `update` without I/O, `render` without mutation, effects
//! as tokio tasks (keyed ones cancellable) reporting back over a channel, and one loop
//! selecting over terminal events, that channel and a tick, drawing only when something
//! changed.

pub mod command;
pub mod effect;
pub mod executor;
pub mod keymap;
pub mod msg;
pub mod plan;
pub mod settings;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, Result};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::domain::{PollIntervals, Timestamp};
use crate::engine::{Engine, PollEvent, Poller, PollerConfig};
use executor::Executor;
use keymap::Keymap;
use msg::Msg;
use state::{State, Workspace};
use terminal::TerminalGuard;
use theme::Theme;

/// How often the clock ticks (spinners, toasts, ages, the selection debounce).
const TICK: Duration = Duration::from_millis(250);

pub struct DashboardOptions {
    pub engine: Engine,
    pub workspace: Workspace,
    pub intervals: PollIntervals,
    pub keymap: Keymap,
    pub theme: Theme,
    pub mouse: bool,
    pub bell: bool,
    pub desktop: bool,
    /// Where the request listing is cached between runs (a warm start lists without GETs).
    pub list_cache: Option<PathBuf>,
    /// Shown first, as a toast (the sandbox says who you are and how to be someone else).
    pub greeting: Option<String>,
    /// Where the list's view, filters and sort are kept between runs.
    pub view_settings: Option<PathBuf>,
    /// The chat model the create form's ask line asks, or why there is none.
    pub assistant: Result<Arc<dyn crate::assistant::ChatModel>, String>,
}

/// Runs the dashboard until the user quits (or SIGTERM/SIGHUP arrives).
pub async fn run(options: DashboardOptions) -> Result<()> {
    let DashboardOptions {
        engine,
        workspace,
        intervals,
        keymap,
        theme,
        mouse,
        bell,
        desktop,
        list_cache,
        greeting,
        view_settings,
        assistant,
    } = options;
    let now = engine.now();
    let mut state = State::new(
        workspace,
        Arc::new(engine.team().clone()),
        Arc::new(keymap),
        now,
    );
    if let Some(settings) = view_settings
        .as_deref()
        .and_then(settings::ViewSettings::load)
    {
        settings.apply(&mut state.list);
    }
    state.mouse = mouse;
    state.bell = bell;
    state.desktop = desktop;
    state.assistant = match &assistant {
        Ok(model) => state::Assistant::On {
            model: model.model().to_string(),
        },
        Err(reason) => state::Assistant::Off {
            reason: reason.clone(),
        },
    };
    if let Some(greeting) = greeting {
        state.toast_for(state::ToastKind::Info, greeting, 15);
    }

    let (messages, mut inbox) = mpsc::unbounded_channel::<Msg>();
    let (nudges, nudge_inbox) = mpsc::unbounded_channel();
    let focused = Arc::new(AtomicBool::new(true));
    let (poll_events, mut poll_inbox) = mpsc::channel::<PollEvent>(256);
    let poller = Poller::new(
        engine.clone(),
        PollerConfig {
            intervals,
            focused: focused.clone(),
            list_cache,
            ..PollerConfig::default()
        },
    )
    .with_nudges(nudge_inbox);
    let mut background = vec![tokio::spawn(poller.run(poll_events))];
    let forward = messages.clone();
    background.push(tokio::spawn(async move {
        while let Some(event) = poll_inbox.recv().await {
            if forward.send(Msg::Poll(event)).is_err() {
                return;
            }
        }
    }));
    let mut budget = engine.github().transport().budget();
    let forward = messages.clone();
    background.push(tokio::spawn(async move {
        while budget.changed().await.is_ok() {
            let latest = budget.borrow_and_update().clone();
            if let Some(latest) = latest
                && forward.send(Msg::RateBudget(latest)).is_err()
            {
                return;
            }
        }
    }));
    let mut executor = Executor::new(engine, messages, nudges, focused);
    if let Ok(model) = assistant {
        executor = executor.with_assistant(model);
    }

    let result = event_loop(&mut state, &theme, &executor, &mut inbox, mouse).await;
    for task in background {
        task.abort();
    }
    if let Some(path) = &view_settings
        && let Err(error) = settings::ViewSettings::of(&state.list).save(path)
    {
        tracing::warn!(%error, path = %path.display(), "cannot keep the list's view for next time");
    }
    result
}

async fn event_loop(
    state: &mut State,
    theme: &Theme,
    executor: &Executor,
    inbox: &mut mpsc::UnboundedReceiver<Msg>,
    mouse: bool,
) -> Result<()> {
    let (_guard, mut terminal) = TerminalGuard::enter(mouse).context("setting up the terminal")?;
    let size = terminal.size().context("reading the terminal size")?;
    state.width = size.width;
    state.height = size.height;
    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (_stop_sender, mut stop) = stop_signals();
    loop {
        if state.dirty {
            terminal
                .draw(|frame| view::render(state, theme, frame))
                .context("drawing")?;
            state.dirty = false;
        }
        if state.quit {
            return Ok(());
        }
        let msg = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => translate(event),
                Some(Err(error)) => return Err(error).context("reading the terminal"),
                // The terminal went away: nothing left to draw on.
                None => return Ok(()),
            },
            Some(msg) = inbox.recv() => Some(msg),
            _ = tick.tick() => Some(Msg::Tick(Timestamp(chrono::Utc::now()))),
            _ = stop.recv() => {
                state.quit = true;
                None
            }
        };
        if let Some(msg) = msg {
            dispatch(state, executor, msg);
        }
        // Whatever else has arrived is applied before the next frame.
        while let Ok(msg) = inbox.try_recv() {
            dispatch(state, executor, msg);
        }
    }
}

fn dispatch(state: &mut State, executor: &Executor, msg: Msg) {
    for effect in update::update(state, msg) {
        executor.run(effect);
    }
}

fn translate(event: Event) -> Option<Msg> {
    Some(match event {
        Event::Key(key) => Msg::Key(key),
        Event::Mouse(mouse) => Msg::Mouse(mouse),
        Event::Resize(width, height) => Msg::Resize { width, height },
        Event::FocusGained => Msg::FocusChanged(true),
        Event::FocusLost => Msg::FocusChanged(false),
        Event::Paste(text) => Msg::Paste(text),
    })
}

/// SIGTERM and SIGHUP end the dashboard like `q` does (so the terminal is restored).
/// The sender is returned so the caller keeps `recv` waiting for as long as it needs.
fn stop_signals() -> (mpsc::UnboundedSender<()>, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for kind in [SignalKind::terminate(), SignalKind::hangup()] {
            if let Ok(mut stream) = signal(kind) {
                let sender = sender.clone();
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        if sender.send(()).is_err() {
                            return;
                        }
                    }
                });
            }
        }
    }
    (sender, receiver)
}
