//! The dashboard's executor against the simulator: `update` and the executor wired as the
//! event loop wires them, with real reads of a running run's log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tfpilot::engine::PollEvent;
use tfpilot::sim::SimOptions;
use tfpilot::store::{ETag, ListedRequest, LocalStore, Store};
use tfpilot::tui::executor::Executor;
use tfpilot::tui::keymap::Keymap;
use tfpilot::tui::msg::Msg;
use tfpilot::tui::state::{Screen, State, Workspace};
use tfpilot::tui::update::update;
use tokio::sync::mpsc;

const RUN_ROUTE: &str = "/repos/{owner}/{repo}/actions/runs/{run_id}";

/// The dashboard's loop without a terminal: messages in, effects out to the executor.
struct Loop {
    state: State,
    executor: Executor,
    inbox: mpsc::UnboundedReceiver<Msg>,
}

impl Loop {
    fn send(&mut self, msg: Msg) {
        for effect in update(&mut self.state, msg) {
            self.executor.run(effect);
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    /// Applies what arrives for `window`; returns how many plan answers came.
    async fn pump(&mut self, window: Duration) -> usize {
        let until = tokio::time::Instant::now() + window;
        let mut answers = 0;
        while let Ok(Some(msg)) = tokio::time::timeout_at(until, self.inbox.recv()).await {
            answers += usize::from(matches!(msg, Msg::PlanLoaded { .. }));
            self.send(msg);
        }
        answers
    }

    /// Applies messages until a plan answer has been applied (the follow loop's next read is
    /// then pending).
    async fn until_plan_answer(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .expect("a plan answer within 20 s")
                .expect("the executor is alive");
            let plan = matches!(msg, Msg::PlanLoaded { .. });
            self.send(msg);
            if plan {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_and_entering_the_follow_view_leaves_one_reader() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::new(Arc::new(
        LocalStore::open_or_create(dir.path()).expect("local store"),
    ));
    bed::seed_team(&store).await;
    // Runs that stay queued for the whole test: the log is followed throughout.
    let sim = sim::simulator(SimOptions {
        queue_seconds: 3600,
        run_seconds: 3600,
        ..SimOptions::default()
    })
    .await;
    let bed = bed::Bed { sim, store };
    let id = bed.create("alice", "payments-dev-follow", "dev").await;
    let request = bed.store.get_request(&id).await.expect("request").value;
    let engine = bed.engine("alice").await;

    let (messages, inbox) = mpsc::unbounded_channel();
    let (nudges, _nudge_inbox) = mpsc::unbounded_channel();
    let executor = Executor::new(
        engine.clone(),
        messages,
        nudges,
        Arc::new(AtomicBool::new(true)),
    );
    let workspace = Workspace {
        store: "test".into(),
        github: bed.sim.base_url().to_string(),
        user: "alice".into(),
        role: engine.team().access.role_of("alice"),
        sandbox: true,
    };
    let mut state = State::new(
        workspace,
        Arc::new(engine.team().clone()),
        Arc::new(Keymap::embedded()),
        engine.now(),
    );
    let follow_every = Duration::from_millis(200);
    state.follow_every = follow_every;
    let mut dashboard = Loop {
        state,
        executor,
        inbox,
    };
    dashboard.send(Msg::Resize {
        width: 120,
        height: 40,
    });
    dashboard.send(Msg::Poll(PollEvent::Listed(Arc::new(vec![
        ListedRequest {
            key: format!("requests/{id}.json"),
            id: id.clone(),
            etag: ETag("\"1\"".into()),
            outcome: Ok(Arc::new(request)),
        },
    ]))));

    // Enter the log view, let its first answer schedule the next read, leave; five times.
    const CYCLES: usize = 5;
    for _ in 0..CYCLES {
        dashboard.key(KeyCode::Char('l'));
        assert_eq!(dashboard.state.screen, Screen::Plan);
        dashboard.until_plan_answer().await;
        assert!(
            dashboard.state.plan.as_ref().is_some_and(|p| p.follow),
            "the running log is followed"
        );
        dashboard.key(KeyCode::Esc);
        assert_eq!(dashboard.state.screen, Screen::Main);
    }
    dashboard.key(KeyCode::Char('l'));
    dashboard.until_plan_answer().await;
    // GitHub has no log for a queued job: the view says what happens next, not "not found".
    let shown: Vec<String> = dashboard
        .state
        .plan
        .as_ref()
        .and_then(|plan| plan.document())
        .map(|document| {
            document
                .lines
                .iter()
                .map(|line| line.text.clone())
                .collect()
        })
        .unwrap_or_default();
    let shown = shown.join("\n");
    assert!(
        shown.contains("the job has not started (queued); its log appears when it finishes"),
        "{shown}"
    );
    assert!(!shown.contains("not found"), "{shown}");

    // One reader at most, at every moment of a window of several follow intervals.
    let before: u64 = bed.sim.calls_to("GET", RUN_ROUTE).values().sum();

    let window = follow_every * 10;
    let mut answers = 0;
    for _ in 0..10 {
        answers += dashboard.pump(follow_every).await;
        assert!(
            dashboard.executor.keyed_tasks() <= 1,
            "{} readers",
            dashboard.executor.keyed_tasks()
        );
    }
    let reads = bed.sim.calls_to("GET", RUN_ROUTE).values().sum::<u64>() - before;
    // One loop reads at most once per interval (plus the one under way when the window
    // opened); every loop left behind would add as many again.
    let most = (window.as_millis() / follow_every.as_millis()) as u64 + 1;
    assert!(
        (1..=most).contains(&reads),
        "{reads} run reads in {window:?} (one loop makes at most {most})"
    );
    assert!(answers >= 1, "the view still follows");

    // Leaving cancels the pending read: nothing more is read.
    dashboard.key(KeyCode::Esc);
    tokio::time::sleep(follow_every / 2).await;
    let left: u64 = bed.sim.calls_to("GET", RUN_ROUTE).values().sum();
    dashboard.pump(follow_every * 3).await;
    assert_eq!(
        bed.sim.calls_to("GET", RUN_ROUTE).values().sum::<u64>(),
        left
    );
    assert_eq!(dashboard.executor.keyed_tasks(), 0);
}
