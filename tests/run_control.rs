//! Runs as GitHub runs them: a job that targets an environment with required reviewers waits
//! until one of them reviews its deployment (tfpilot shows who must, lets them approve or reject
//! it, and records the decision); runs that have not started can be cancelled; a run is followed
//! step by step while GitHub has no log for it yet.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
#[macro_use]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod sim;

use std::sync::Arc;
use std::time::Duration;

use bed::Bed;
use serde_json::{Value, json};
use tfpilot::domain::deployment::{Verdict, waiting};
use tfpilot::domain::{RunStatus, Status, derive, derive_status};
use tfpilot::engine::EngineError;
use tfpilot::store::ObjectStore;

/// Alice's prod request, approved by carol, merged and applied by bob: the apply run waits for
/// prod's reviewers (bob and carol), and bob's sync has seen it wait.
async fn waiting_apply(bed: &Bed, name: &str) -> String {
    bed.sim
        .set_environment("acme", "infra-live", "prod", &["bob", "carol"])
        .unwrap();
    let id = bed.planned("prod", name).await;
    bed.engine("carol").await.approve(&id, None).await.unwrap();
    let bob = bed.engine("bob").await;
    bob.merge(&id, None).await.unwrap();
    bob.apply(&id, None).await.unwrap();
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    id
}

fn denied(error: EngineError) -> String {
    assert_eq!(error.exit_code(), 3, "{error}");
    error.to_string()
}

async fn a_prod_apply_waits_for_a_reviewer_who_did_not_start_it(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = waiting_apply(&bed, "held-bucket").await;
    // An hour later it still waits: nothing but a review moves it.
    bed.sim.advance(Duration::from_secs(3600));
    let request = bed.engine("bob").await.sync(&id).await.unwrap().request;
    assert_eq!(derive_status(&request), Status::Applying);
    let apply = request.apply_run.as_deref().unwrap();
    assert_eq!(apply.status, Some(RunStatus::Waiting));
    assert_eq!(
        waiting(&request).as_deref(),
        Some("waiting for prod deployment review: bob, carol")
    );
    let explained = derive(&request);
    assert!(
        explained.facts[0]
            .value
            .contains("waiting for prod deployment review"),
        "{explained:?}"
    );
    assert_eq!(bed.runs_for("apply", &id), 1);

    // bob started the run and prod prevents self-review; alice is not a reviewer; the viewer may
    // not act at all. GitHub is asked, and nothing is sent.
    let text = denied(
        bed.engine("bob")
            .await
            .review_deployment(&id, Verdict::Approve, None, None)
            .await
            .unwrap_err(),
    );
    assert!(text.contains("bob started the run"), "{text}");
    assert!(text.contains("reviewers: bob, carol"), "{text}");
    let text = denied(
        bed.engine("alice")
            .await
            .review_deployment(&id, Verdict::Approve, None, None)
            .await
            .unwrap_err(),
    );
    assert!(
        text.contains("alice is not one of its required reviewers"),
        "{text}"
    );
    let text = denied(
        bed.engine("viewer")
            .await
            .review_deployment(&id, Verdict::Approve, None, None)
            .await
            .unwrap_err(),
    );
    assert!(text.contains("viewer"), "{text}");
    assert_eq!(
        bed.sim.calls_to(
            "POST",
            "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments"
        ),
        Default::default()
    );

    // carol approves with a comment: the run goes on and the apply succeeds.
    let outcome = bed
        .engine("carol")
        .await
        .review_deployment(&id, Verdict::Approve, Some("change window open"), None)
        .await
        .unwrap();
    assert!(
        outcome.message.contains("approved the prod deployment"),
        "{}",
        outcome.message
    );
    let apply = outcome.request.apply_run.as_deref().unwrap();
    assert_ne!(apply.status, Some(RunStatus::Waiting));
    assert!(apply.deployment_review.is_none());
    bed.finish_runs();
    let request = bed.engine("carol").await.sync(&id).await.unwrap().request;
    assert_eq!(derive_status(&request), Status::Applied);
    let events = bed.store.list_events(&id).await.unwrap();
    let approved: Vec<_> = events
        .iter()
        .map(|e| e.as_ref().unwrap())
        .filter(|e| e.kind == "deployment_approved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].actor, "carol");
    let message = approved[0].message.clone().unwrap_or_default();
    assert!(message.contains("change window open"), "{message}");
    let succeeded: Vec<_> = events
        .iter()
        .map(|e| e.as_ref().unwrap())
        .filter(|e| e.kind == "apply_succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1);
    assert_eq!(
        succeeded[0].actor, "bob",
        "the apply is bob's, whoever synced it"
    );
}

async fn a_rejected_deployment_fails_the_apply_once(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = waiting_apply(&bed, "rejected-bucket").await;
    let outcome = bed
        .engine("carol")
        .await
        .review_deployment(&id, Verdict::Reject, Some("not during the freeze"), None)
        .await
        .unwrap();
    assert!(
        outcome.message.contains("rejected the prod deployment"),
        "{}",
        outcome.message
    );
    assert_eq!(derive_status(&outcome.request), Status::Failed);
    // Another sync sees the same conclusion and records nothing more.
    bed.engine("bob").await.sync(&id).await.unwrap();
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "deployment_rejected").count(),
        1
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "apply_failed").count(),
        1,
        "{kinds:?}"
    );
    // Nothing was applied; the run's log says why it failed.
    let request = bed.store.get_request(&id).await.unwrap().value;
    let run_id = request.apply_run.as_deref().unwrap().id.unwrap();
    let log = bed
        .engine("bob")
        .await
        .read_run_log(&request, run_id)
        .await
        .unwrap();
    assert!(log.text.contains("rejected by carol"), "{}", log.text);
    // Reviewing again finds nothing waiting.
    let error = bed
        .engine("carol")
        .await
        .review_deployment(&id, Verdict::Approve, None, None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("waits for a deployment review"),
        "{error}"
    );
}

/// A plan is its requester's to cancel; it can be planned again afterwards.
async fn a_running_plan_is_cancelled_by_its_requester(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.create("alice", "cancelled-plan", "dev").await;
    let text = denied(
        bed.engine("dave")
            .await
            .cancel(&id, None)
            .await
            .unwrap_err(),
    );
    assert!(text.contains("only the requester (alice)"), "{text}");
    let outcome = bed.engine("alice").await.cancel(&id, None).await.unwrap();
    assert!(
        outcome.message.starts_with("cancelled plan run"),
        "{}",
        outcome.message
    );
    assert_eq!(derive_status(&outcome.request), Status::Failed);
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "run_cancelled").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "plan_cancelled").count(),
        1,
        "{kinds:?}"
    );
    // Nothing left to cancel; a new plan runs.
    let error = bed
        .engine("alice")
        .await
        .cancel(&id, None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nothing to cancel"), "{error}");
    bed.engine("alice").await.plan(&id, None).await.unwrap();
    bed.finish_runs();
    let request = bed.engine("alice").await.sync(&id).await.unwrap().request;
    assert_eq!(derive_status(&request), Status::PlanReady);
}

/// An apply that waits for its deployment review is an approver's to cancel: the request is
/// merged again, and can be applied again.
async fn a_waiting_apply_is_cancelled_by_an_approver(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = waiting_apply(&bed, "cancelled-apply").await;
    let text = denied(
        bed.engine("alice")
            .await
            .cancel(&id, None)
            .await
            .unwrap_err(),
    );
    assert!(
        text.contains("only approvers and admins can cancel an apply"),
        "{text}"
    );
    let outcome = bed.engine("carol").await.cancel(&id, None).await.unwrap();
    assert!(
        outcome.message.starts_with("cancelled apply run"),
        "{}",
        outcome.message
    );
    assert_eq!(derive_status(&outcome.request), Status::Merged);
    bed.engine("bob").await.apply(&id, None).await.unwrap();
    assert_eq!(bed.runs_for("apply", &id), 2);
}

/// An apply that runs is never cancelled: GitHub is asked, not the document, which may still
/// say `queued`.
async fn a_running_apply_is_not_cancelled(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.merged("running-apply").await;
    let bob = bed.engine("bob").await;
    bob.apply(&id, None).await.unwrap();
    let recorded = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        recorded.apply_run.as_deref().unwrap().status,
        Some(RunStatus::Queued)
    );
    bed.sim.advance(Duration::from_secs(3));
    let error = bob.cancel(&id, None).await.unwrap_err();
    assert_eq!(error.exit_code(), 4, "{error}");
    assert!(error.to_string().contains("started meanwhile"), "{error}");
    let recorded = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        recorded.apply_run.as_deref().unwrap().status,
        Some(RunStatus::InProgress),
        "the document says what GitHub does"
    );
    // Now the document knows: refused before GitHub is asked.
    let error = bob.cancel(&id, None).await.unwrap_err();
    assert!(
        error.to_string().contains("the apply is running"),
        "{error}"
    );
    assert_eq!(
        bed.sim
            .calls_to("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
        Default::default()
    );
}

with_both_stores!(
    a_prod_apply_waits_for_a_reviewer_who_did_not_start_it,
    a_rejected_deployment_fails_the_apply_once,
    a_running_plan_is_cancelled_by_its_requester,
    a_waiting_apply_is_cancelled_by_an_approver,
    a_running_apply_is_not_cancelled,
);

/// The CLI shows who must review a waiting run (`show`, `list`), asks before reviewing (a script
/// says `--yes`), and reviews with a comment.
async fn the_cli_shows_the_wait_and_reviews_the_deployment(s3: bool) {
    let Some((bed, cli)) = cli::setup(s3).await else {
        return;
    };
    let id = waiting_apply(&bed, "cli-held-bucket").await;
    let (code, shown, err) = cli.run("carol", &["show", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown["status"], "applying");
    assert_eq!(shown["waiting"]["run"], "apply");
    assert_eq!(shown["waiting"]["environment"], "prod");
    assert_eq!(shown["waiting"]["reviewers"], json!(["bob", "carol"]));
    // The plan, split: this request's changes, and nothing outside it (request targeting).
    assert!(
        shown["plan"]["request"]["add"].as_u64().unwrap() > 0,
        "{shown}"
    );
    assert_eq!(shown["plan"]["outside"]["add"], 0);
    assert_eq!(shown["plan"]["outside"]["addresses"], json!([]));
    let (code, again, err) = cli
        .run("bob", &["apply", &id, "--include-outside", "--yes"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(again["result"], "already_done", "{again}");
    let (_, listed, _) = cli.run("carol", &["list"]).await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        row["waiting"]["summary"],
        "waiting for prod deployment review: bob, carol"
    );
    let text = cli.command("carol", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("waiting      waiting for prod deployment review: bob, carol"),
        "{text}"
    );

    let (code, _, err) = cli.run("alice", &["cancel", &id, "--yes"]).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("only approvers and admins can cancel an apply"),
        "{err}"
    );

    let approve = ["deployment", "approve", &id, "--comment", "window open"];
    let (code, _, err) = cli.run("carol", &approve).await;
    assert_eq!(code, 2, "no terminal to ask on: {err}");
    assert!(err.contains("pass --yes"), "{err}");
    let mut confirmed = approve.to_vec();
    confirmed.push("--yes");
    let (code, outcome, err) = cli.run("carol", &confirmed).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome["operation"], "approve_deployment");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("approved the prod deployment of apply run"),
        "{outcome}"
    );
    let (code, _, err) = cli
        .run("bob", &["deployment", "reject", &id, "--yes"])
        .await;
    assert_eq!(code, 3, "nothing waits any more: {err}");
    assert!(err.contains("waits for a deployment review"), "{err}");
}

on_both_stores!(the_cli_shows_the_wait_and_reviews_the_deployment);

/// `tfpilot logs`: the steps while the run goes (never a "not found" for a log GitHub does not
/// serve yet), the log once it ended, and the exit code of its conclusion.
async fn logs_show_steps_then_the_log_and_exit_with_the_conclusion(s3: bool) {
    let Some((bed, mut cli)) = cli::setup(s3).await else {
        return;
    };
    let id = bed.create("alice", "logged-bucket", "dev").await;
    let (code, _, err) = cli.run("alice", &["logs", &id]).await;
    assert_eq!(code, 0, "{err}");
    let text = |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let queued = cli.command("alice", &["logs", &id]).output().await.unwrap();
    let queued = text(&queued);
    assert!(queued.contains("is still running"), "{queued}");
    assert!(
        queued.contains("the job has not started (queued)"),
        "{queued}"
    );
    bed.sim.advance(Duration::from_secs(5));
    let running = cli.command("alice", &["logs", &id]).output().await.unwrap();
    let running = text(&running);
    assert!(running.contains("✔ Set up job"), "{running}");
    assert!(
        running.contains("the log appears when the job finishes;"),
        "{running}"
    );
    assert!(!running.contains("not found"), "{running}");
    bed.sim.advance(Duration::from_secs(10));
    let done = cli
        .command("alice", &["logs", &id, "--run", "plan"])
        .output()
        .await
        .unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert!(text(&done).contains("Plan: "), "{}", text(&done));

    // A failed apply exits 1 and names its first error.
    let merged = bed.merged("failing-apply").await;
    bed.sim
        .script_outcome(tfpilot::sim::model::ScriptedOutcome {
            request_id: merged.clone(),
            operation: "apply".into(),
            conclusion: "failure".into(),
            error: Some("creating S3 Bucket: BucketAlreadyExists".into()),
            drift: false,
            times: Some(1),
        });
    bed.engine("bob").await.apply(&merged, None).await.unwrap();
    // Followed to its end while the clock moves.
    cli.env
        .push(("TFPILOT_SYNC_INTERVAL_ACTIVE_MS", "500".into()));
    let follow = cli
        .command("alice", &["logs", &merged, "--follow"])
        .output();
    tokio::pin!(follow);
    let output = loop {
        tokio::select! {
            output = &mut follow => break output.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                bed.sim.advance(Duration::from_secs(1));
            }
        }
    };
    let out = text(&output);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("apply run"), "{out}");
    assert!(
        out.contains("✔ Set up job"),
        "steps are printed as they end: {out}"
    );
    assert!(out.contains("BucketAlreadyExists"), "{out}");
    assert!(err.contains("first error, line"), "{err}");
}

on_both_stores!(logs_show_steps_then_the_log_and_exit_with_the_conclusion);

/// The simulator's pending-deployment and cancel endpoints answer with GitHub's status codes.
#[tokio::test(flavor = "multi_thread")]
async fn pending_deployments_and_cancel_answer_as_on_github() {
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    sim.set_environment("acme", "infra-live", "prod", &["bob"])
        .unwrap();
    let admin = sim::octocrab(&sim, "admin");
    let bob = sim::octocrab(&sim, "bob");
    let send = |crab: octocrab::Octocrab, method: &'static str, path: String, body: Value| async move {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap();
        let response = crab.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let text = crab.body_to_string(response).await.unwrap();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let base = sim.base_url().to_string();
    let dispatch = |workflow: &str, environment: &str| {
        json!({"ref": "main", "inputs": {"request_id": format!("req-{workflow}-{environment}"),
            "environment": environment, "dispatch_id": "d1"}, "return_run_details": true})
    };
    let path = |rest: &str| format!("{base}/repos/acme/infra-live{rest}");
    let (status, body) = send(
        admin.clone(),
        "POST",
        path("/actions/workflows/tfpilot-apply.yml/dispatches"),
        dispatch("apply", "prod"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let run = body["workflow_run_id"].as_u64().unwrap();
    sim.advance(Duration::from_secs(3));
    let (_, body) = send(
        admin.clone(),
        "GET",
        path(&format!("/actions/runs/{run}")),
        Value::Null,
    )
    .await;
    assert_eq!(body["status"], "waiting");
    // The dispatcher may not approve; bob may.
    let (_, pending) = send(
        admin.clone(),
        "GET",
        path(&format!("/actions/runs/{run}/pending_deployments")),
        Value::Null,
    )
    .await;
    assert_eq!(pending[0]["current_user_can_approve"], false);
    assert_eq!(pending[0]["environment"]["name"], "prod");
    assert_eq!(pending[0]["reviewers"][0]["reviewer"]["login"], "bob");
    let (_, pending) = send(
        bob.clone(),
        "GET",
        path(&format!("/actions/runs/{run}/pending_deployments")),
        Value::Null,
    )
    .await;
    assert_eq!(pending[0]["current_user_can_approve"], true);
    let environment = pending[0]["environment"]["id"].as_u64().unwrap();
    let review =
        |state: &str| json!({"environment_ids": [environment], "state": state, "comment": "ok"});
    let pending_path = path(&format!("/actions/runs/{run}/pending_deployments"));
    let (status, _) = send(
        admin.clone(),
        "POST",
        pending_path.clone(),
        review("approved"),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = send(bob.clone(), "POST", pending_path.clone(), review("maybe")).await;
    assert_eq!(status, 422);
    let (status, _) = send(
        bob.clone(),
        "POST",
        pending_path.clone(),
        json!({"state": "approved"}),
    )
    .await;
    assert_eq!(status, 422, "environment_ids and comment are required");
    let (status, body) = send(
        bob.clone(),
        "POST",
        pending_path.clone(),
        review("approved"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["environment"], "prod");
    let (status, _) = send(
        bob.clone(),
        "POST",
        pending_path.clone(),
        review("approved"),
    )
    .await;
    assert_eq!(status, 422, "nothing waits any more");
    let (_, body) = send(
        admin.clone(),
        "GET",
        path(&format!("/actions/runs/{run}")),
        Value::Null,
    )
    .await;
    assert_eq!(body["status"], "in_progress");

    // Cancel: 202 while it runs, then it completes as cancelled; 409 once completed.
    let cancel_path = path(&format!("/actions/runs/{run}/cancel"));
    let (status, _) = send(admin.clone(), "POST", cancel_path.clone(), Value::Null).await;
    assert_eq!(status, 202);
    let (_, body) = send(
        admin.clone(),
        "GET",
        path(&format!("/actions/runs/{run}")),
        Value::Null,
    )
    .await;
    assert_eq!(
        (body["status"].as_str(), body["conclusion"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    let (status, body) = send(admin.clone(), "POST", cancel_path, Value::Null).await;
    assert_eq!(status, 409, "{body}");
    // A plan targets no environment: it never waits.
    let (_, body) = send(
        admin.clone(),
        "POST",
        path("/actions/workflows/tfpilot-plan.yml/dispatches"),
        dispatch("plan", "prod"),
    )
    .await;
    let plan = body["workflow_run_id"].as_u64().unwrap();
    sim.advance(Duration::from_secs(3));
    let (_, body) = send(
        admin,
        "GET",
        path(&format!("/actions/runs/{plan}")),
        Value::Null,
    )
    .await;
    assert_eq!(body["status"], "in_progress");
}
