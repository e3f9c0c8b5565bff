//! Notifications: two reconcilers racing over the same store announce each transition once;
//! a post the chat refused is retried by the next run; the webhook URL, a secret, appears
//! nowhere.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use tfpilot::sim::ScriptedOutcome;

use super::cli::setup;

/// A chat webhook on loopback: keeps what it accepts, refuses the next `fail` posts.
#[derive(Clone, Default)]
struct Chat {
    accepted: Arc<Mutex<Vec<Value>>>,
    fail: Arc<Mutex<u32>>,
}

impl Chat {
    async fn serve(&self) -> String {
        async fn receive(State(chat): State<Chat>, body: axum::Json<Value>) -> StatusCode {
            let mut fail = chat.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            chat.accepted.lock().unwrap().push(body.0);
            StatusCode::OK
        }
        let app = Router::new()
            .route("/services/T1/B2/SECRETHOOKTOKEN", post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/services/T1/B2/SECRETHOOKTOKEN")
    }

    fn texts(&self) -> Vec<String> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .map(|message| message["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

async fn each_transition_is_announced_once(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let chat = Chat::default();
    let url = chat.serve().await;
    let applied = bed.applied("payments-dev-notify").await;

    // Two reconcilers at once, as two cron hosts would.
    let reconcile = ["reconcile", "--notify", url.as_str()];
    let (first, second) = tokio::join!(cli.run("admin", &reconcile), cli.run("bob", &reconcile));
    for (code, _, err) in [&first, &second] {
        assert_eq!(*code, 0, "{err}");
    }
    let sent = |out: &Value| out["notifications"]["sent"].as_array().map_or(0, Vec::len);
    assert_eq!(
        sent(&first.1) + sent(&second.1),
        2,
        "{}\n{}",
        first.1,
        second.1
    );
    let texts = chat.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("plan succeeded")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&applied) && t.contains("apply succeeded")),
        "{texts:?}"
    );
    // Announced transitions are recorded in the document: later runs write nothing.
    let before = bed.store.get_request(&applied).await.unwrap().value;
    assert_eq!(before.notifications.len(), 2, "{:?}", before.notifications);
    assert!(
        before
            .notifications
            .values()
            .all(|claim| claim.state == "sent")
    );
    let (_, again, _) = cli.run("admin", &reconcile).await;
    assert_eq!(sent(&again), 0);
    assert_eq!(again["notifications"]["already"], 2);
    let after = bed.store.get_request(&applied).await.unwrap().value;
    assert_eq!(
        before.revision, after.revision,
        "a quiet run writes nothing"
    );

    // Drift found by a check: one message however often reconcile runs.
    bed.sim.script_outcome(ScriptedOutcome {
        request_id: applied.clone(),
        operation: "drift".into(),
        conclusion: "success".into(),
        error: None,
        drift: true,
        times: None,
    });
    for _ in 0..2 {
        cli.run("admin", &["drift-check", &applied]).await;
        bed.finish_runs();
        cli.run("admin", &reconcile).await;
    }
    let drift: Vec<String> = chat
        .texts()
        .into_iter()
        .filter(|t| t.contains("changed outside Terraform"))
        .collect();
    assert_eq!(drift.len(), 1, "{:?}", chat.texts());
    assert!(drift[0].starts_with(":warning:"), "{drift:?}");

    // The chat refuses a post: reported, kept as failed, and sent by the next run.
    let failing = bed
        .create("alice", "payments-dev-notify-retry", "dev")
        .await;
    bed.finish_runs();
    *chat.fail.lock().unwrap() = 1;
    let (code, out, err) = cli.run("admin", &reconcile).await;
    assert_eq!(code, 0, "{err}");
    let failed = out["notifications"]["failed"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("500"),
        "{failed:?}"
    );
    let (_, out, _) = cli.run("admin", &reconcile).await;
    assert_eq!(sent(&out), 1, "{out}");
    let retried: Vec<String> = chat
        .texts()
        .into_iter()
        .filter(|t| t.contains(&failing))
        .collect();
    assert_eq!(retried.len(), 1, "{retried:?}");

    // A bad URL is refused before anything runs; the secret is in no output and no log.
    let (code, _, err) = cli
        .run("admin", &["reconcile", "--notify", "hooks.example/x"])
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://"), "{err}");
    let (code, _, err) = cli
        .run("admin", &["reconcile", "--notify-since", "2h"])
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs somewhere to announce"), "{err}");
    // The URL from the environment instead of the flag: everything announced already.
    let mut configured = cli.command("admin", &["--json", "reconcile", "--notify-since", "5d"]);
    configured.env("TFPILOT_NOTIFY_URL", &url);
    let output = configured.output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sent(&out), 0, "{out}");
    assert!(
        out["notifications"]["already"].as_u64().unwrap() >= 4,
        "{out}"
    );
    let text = cli.command("admin", &reconcile).output().await.unwrap();
    let shown = format!(
        "{}{}{}",
        String::from_utf8_lossy(&text.stdout),
        String::from_utf8_lossy(&text.stderr),
        cli.home.log_text()
    );
    assert!(
        shown.contains("notifications to http://127.0.0.1"),
        "{shown}"
    );
    assert!(!shown.contains("SECRETHOOKTOKEN"), "the webhook URL leaked");
}

#[test]
fn notifications_on_the_local_store() {
    super::common::block_on_big_stack(each_transition_is_announced_once(false));
}

#[test]
fn notifications_on_s3() {
    super::common::block_on_big_stack(each_transition_is_announced_once(true));
}

/// An apply held for its deployment review is announced once, naming the reviewers, so they
/// hear of it outside the dashboard.
async fn a_waiting_apply_is_announced_to_its_reviewers(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let chat = Chat::default();
    let url = chat.serve().await;
    bed.sim
        .set_environment("acme", "infra-live", "prod", &["bob", "carol"])
        .unwrap();
    let id = bed.planned("prod", "payments-prod-held").await;
    bed.engine("carol").await.approve(&id, None).await.unwrap();
    let bob = bed.engine("bob").await;
    bob.merge(&id, None).await.unwrap();
    bob.apply(&id, None).await.unwrap();
    bed.finish_runs();
    let reconcile = ["reconcile", "--notify", url.as_str()];
    for _ in 0..2 {
        let (code, _, err) = cli.run("admin", &reconcile).await;
        assert_eq!(code, 0, "{err}");
    }
    let held: Vec<String> = chat
        .texts()
        .into_iter()
        .filter(|text| text.contains("deployment review"))
        .collect();
    assert_eq!(held.len(), 1, "{:?}", chat.texts());
    assert!(
        held[0].contains(&id)
            && held[0].contains("apply waiting for prod deployment review: bob, carol"),
        "{held:?}"
    );
}

#[test]
fn waiting_applies_are_announced_on_the_local_store() {
    super::common::block_on_big_stack(a_waiting_apply_is_announced_to_its_reviewers(false));
}

#[test]
fn waiting_applies_are_announced_on_s3() {
    super::common::block_on_big_stack(a_waiting_apply_is_announced_to_its_reviewers(true));
}
