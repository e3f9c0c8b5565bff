//! The real binary in a pseudo-terminal: the sandbox starts, the list appears, the user moves,
//! opens a plan, approves it as bob and quits, and the terminal is as it was before (no
//! alternate screen, cursor shown, canonical mode and echo back). SIGTERM restores it too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/pty.rs"]
mod pty;

use std::time::Duration;

use pty::Session;

/// A sandbox directory of its own, removed after the test.
struct SandboxDir {
    _dir: tempfile::TempDir,
    path: String,
}

impl SandboxDir {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("sandbox dir");
        let path = dir.path().join("sandbox");
        let path = path.to_str().expect("utf-8 path").to_string();
        SandboxDir { _dir: dir, path }
    }

    /// `tfpilot sandbox --dir DIR EXTRA...` in a pseudo-terminal.
    fn start(&self, extra: &[&str]) -> Session {
        let mut args = vec!["sandbox", "--dir", self.path.as_str()];
        args.extend_from_slice(extra);
        Session::start(&args)
    }
}

#[test]
fn approve_a_plan_as_bob_then_quit_restores_the_terminal() {
    let sandbox = SandboxDir::new();
    let mut session = sandbox.start(&["--as", "bob"]);
    session.wait_for("requests 33/33", Duration::from_secs(120));
    assert!(session.screen.screen().alternate_screen());
    assert!(session.text().contains("bob (approver)"));

    // Move about, then narrow to plans carol asked for and open the first.
    session.keys("jjjk");
    session.keys("/plan_ready carol");
    session.keys("\r");
    session.wait_for("[/plan_ready carol]", Duration::from_secs(5));
    session.keys("g");
    session.keys("\r");
    session.wait_for("plan, run", Duration::from_secs(10));
    session.wait_for("add", Duration::from_secs(10));

    session.keys("a");
    session.wait_for("approve: approved the plan of", Duration::from_secs(30));
    // Back on the list, the approval shows under the filter's new status. Waiting for the
    // list between keys: ESC and `x` sent together would read as Alt-x.
    session.keys("\x1b");
    session.wait_for("PROJECT/ENV", Duration::from_secs(5));
    session.keys("x");
    session.keys("/carol approved");
    session.keys("\r");
    session.wait_for("approved by bob", Duration::from_secs(10));

    session.keys("q");
    let status = session.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    session.assert_restored();
}

/// What a keyboard user does first: filter, approve, copy, open and leave a view, start and
/// abandon a form. The selection stays on the approved request, `q` in the plan view goes
/// back, esc on a filled form asks, `y` sends the id to the clipboard (OSC 52).
#[test]
fn a_keyboard_journey_keeps_the_selection_and_asks_before_losing_work() {
    use base64::Engine as _;
    let sandbox = SandboxDir::new();
    let mut session = sandbox.start(&["--as", "bob"]);
    session.wait_for("requests 33/33", Duration::from_secs(120));

    // Filter to plans ready for review with the status picker, narrowed by typing.
    session.keys("s");
    session.wait_for("filter by status", Duration::from_secs(5));
    session.keys("plan_r");
    session.keys("\r");
    session.wait_for("[status=plan_ready]", Duration::from_secs(5));
    let id = selected_id(&session);

    act(
        &mut session,
        "a",
        "approve: approved the plan of",
        Duration::from_secs(30),
    );
    // The approved request left the filter, and the selection is still on it, marked.
    session.wait_for("left the filter", Duration::from_secs(10));
    assert_eq!(selected_id(&session), id, "{}", session.text());
    assert!(
        first_selected_row(&session).contains("approved"),
        "{}",
        session.text()
    );

    // y: the id goes to the clipboard through the terminal.
    session.keys("y");
    session.wait_for("copied the request id", Duration::from_secs(5));
    let encoded = base64::engine::general_purpose::STANDARD.encode(id.as_bytes());
    let osc52 = format!("\x1b]52;c;{encoded}\x07");
    assert!(
        session
            .raw
            .windows(osc52.len())
            .any(|w| w == osc52.as_bytes()),
        "no OSC 52 sequence for {id}"
    );

    // The plan view: q goes back to the list, not out of the program.
    session.keys("\r");
    session.wait_for("plan, run", Duration::from_secs(10));
    session.keys("q");
    session.wait_for("PROJECT/ENV", Duration::from_secs(5));

    // A filled create form is not thrown away by one esc.
    session.keys("c");
    session.wait_for("create a request", Duration::from_secs(5));
    // Past the template, project, environment and module choices to the bucket name.
    session.keys("\x1b[B\x1b[B\x1b[B\x1b[B");
    session.keys("payments-dev-typed");
    session.keys("\x1b");
    session.wait_for("discard the new request?", Duration::from_secs(5));
    session.keys("n");
    session.wait_until("the form back", Duration::from_secs(5), |s| {
        !s.text().contains("discard the new request?") && s.text().contains("payments-dev-typed")
    });
    session.keys("\x1b");
    session.wait_for("discard the new request?", Duration::from_secs(5));
    session.keys("y");
    session.wait_for("create cancelled", Duration::from_secs(5));

    session.keys("q");
    assert!(session.wait_exit(Duration::from_secs(20)).success());
    session.assert_restored();
}

/// The row the selection marker is on.
fn first_selected_row(session: &Session) -> String {
    session
        .text()
        .lines()
        .find(|line| line.starts_with("│›") || line.starts_with("│↷"))
        .map(str::to_string)
        .unwrap_or_default()
}

/// The id on the selected row.
fn selected_id(session: &Session) -> String {
    first_selected_row(session)
        .split_whitespace()
        .find(|word| word.starts_with("req_"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no selected row:\n{}", session.text()))
}

#[test]
fn sigterm_restores_the_terminal() {
    let sandbox = SandboxDir::new();
    let mut session = sandbox.start(&["--no-requests"]);
    session.wait_for("requests 0/0", Duration::from_secs(60));
    let pid = session.child.process_id().expect("a pid") as libc::pid_t;
    // SAFETY: sending a signal to the child we spawned.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = session.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    session.assert_restored();
}

/// The first request row of the list (the newest, with the default sort).
fn first_row(session: &Session) -> String {
    session
        .text()
        .lines()
        .nth(3)
        .map(str::to_string)
        .unwrap_or_default()
}

/// Presses an operation key and waits for `expect`. A request that changed moments before the
/// key (a sync landed) is shown first, not acted on: then the key is pressed again, as a
/// person would once they have read it.
fn act(session: &mut Session, key: &str, expect: &str, timeout: Duration) {
    // The start of the toast, which wraps.
    const CHANGED: &str = "changed since";
    session.keys(key);
    session.wait_until(&format!("saw {expect:?}"), timeout, |session| {
        let text = session.text();
        text.contains(expect) || text.contains(CHANGED)
    });
    if !session.text().contains(expect) {
        std::thread::sleep(Duration::from_millis(1600));
        session.keys(key);
        session.wait_for(expect, timeout);
    }
}

fn wait_first_row(session: &mut Session, needle: &str, timeout: Duration) {
    let what = format!("the first row showed {needle:?}");
    session.wait_until(&what, timeout, |session| {
        first_row(session).contains(needle)
    });
}

/// A whole lifecycle from the keyboard alone: alice creates a request in one terminal,
/// bob joins the same sandbox from another and approves, merges, applies (watching the log),
/// then destroys it; both quit with their terminals restored.
#[test]
fn a_request_from_create_to_destroy_with_two_terminals() {
    let sandbox = SandboxDir::new();
    let mut alice = sandbox.start(&[]);
    alice.wait_for("requests 33/33", Duration::from_secs(120));
    assert!(alice.text().contains("alice (developer)"));

    // The create form from the logs-bucket template (dev-postgres, logs-bucket, work-queue):
    // it picks s3-bucket and locks force_destroy; then payments/dev and a name.
    alice.keys("c");
    alice.wait_for("create a request", Duration::from_secs(5));
    // Typing on the template field opens its picker narrowed to the logs bucket.
    alice.keys("log");
    alice.wait_for("choose template · 1/4", Duration::from_secs(5));
    alice.keys("\r");
    alice.wait_for("‹ logs-bucket ›", Duration::from_secs(5));
    assert!(
        alice.text().contains("s3-bucket › 3/4 (locked)"),
        "{}",
        alice.text()
    );
    alice.keys("\x1b[B\x1b[B\x1b[B\x1b[B");
    alice.keys("payments-dev-pty-demo");
    alice.wait_for("tfpilot:end/req_new", Duration::from_secs(5));
    alice.keys("\r");
    alice.wait_for("created req_", Duration::from_secs(30));
    wait_first_row(&mut alice, "plan_ready", Duration::from_secs(60));

    let mut bob = sandbox.start(&["--as", "bob"]);
    bob.wait_for("bob (approver)", Duration::from_secs(30));
    bob.wait_for("joined the running sandbox", Duration::from_secs(10));
    wait_first_row(&mut bob, "plan_ready", Duration::from_secs(30));
    assert!(first_row(&bob).contains("alice"), "{}", first_row(&bob));

    act(
        &mut bob,
        "a",
        "approve: approved the plan of",
        Duration::from_secs(30),
    );
    wait_first_row(&mut bob, "approved", Duration::from_secs(10));
    act(
        &mut bob,
        "m",
        "Merges the pull request",
        Duration::from_secs(5),
    );
    bob.keys("y");
    bob.wait_for("merge: merged pull request", Duration::from_secs(30));
    act(
        &mut bob,
        "A",
        "Runs terraform apply",
        Duration::from_secs(5),
    );
    bob.keys("y");
    bob.wait_for("apply: ", Duration::from_secs(30));
    // Watch the apply: the log view follows the running run to its end.
    bob.keys("L");
    bob.wait_for("apply log", Duration::from_secs(10));
    bob.wait_for("Apply complete!", Duration::from_secs(60));
    bob.keys("\x1b");
    wait_first_row(&mut bob, "applied", Duration::from_secs(30));
    // Alice's dashboard sees it too, on its own.
    wait_first_row(&mut alice, "applied", Duration::from_secs(30));

    act(
        &mut bob,
        "D",
        "Runs terraform destroy",
        Duration::from_secs(5),
    );
    bob.keys("y");
    bob.wait_for("destroy: ", Duration::from_secs(30));
    wait_first_row(&mut bob, "destroyed", Duration::from_secs(60));

    bob.keys("q");
    assert!(bob.wait_exit(Duration::from_secs(20)).success());
    bob.assert_restored();
    alice.keys("q");
    assert!(alice.wait_exit(Duration::from_secs(20)).success());
    alice.assert_restored();
}

/// Without a terminal (a pipe, cron, CI) the dashboard refuses before it starts anything.
#[test]
fn no_terminal_no_dashboard() {
    let home = tempfile::tempdir().expect("temp home");
    for args in [&[][..], &["sandbox"][..]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tfpilot"))
            .args(args)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("TFPILOT_KEYRING", "off")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tfpilot");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("the dashboard needs a terminal"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    assert!(
        !home
            .path()
            .join("data")
            .join("tfpilot")
            .join("sandbox")
            .exists(),
        "nothing was seeded"
    );
}
