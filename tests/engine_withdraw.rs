//! Withdraw against the simulator over HTTP: a request that was never applied is taken back
//! (its pull request closed unmerged, a running plan cancelled, its branch deleted, who and why
//! recorded, `withdrawn` derived), once; a merged one is refused; and the document's claims are
//! checked with GitHub before anything is closed or deleted.

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

use tfpilot::domain::{Status, Timestamp, derive_status};
use tfpilot::engine::{EngineError, OpResult};
use tfpilot::store::ObjectStore;

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

/// The simulator's pull request of `id`'s branch: (number, state, merged).
fn pull_of(bed: &bed::Bed, id: &str) -> (u64, String, bool) {
    let snapshot = bed.sim.snapshot();
    let pull = snapshot["pulls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["head"] == format!("tfpilot/{id}"))
        .cloned()
        .expect("a pull request");
    (
        pull["number"].as_u64().unwrap(),
        pull["state"].as_str().unwrap().to_string(),
        !pull["merged_at"].is_null(),
    )
}

fn denied(result: Result<tfpilot::engine::OpOutcome, EngineError>) -> String {
    match result {
        Err(error @ EngineError::Denied { .. }) => {
            assert_eq!(error.exit_code(), 3);
            error.to_string()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_planned_request_is_withdrawn_once_with_who_and_why(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-withdrawn").await;
    assert_eq!(bed.branches_for(&id), 1);
    let alice = bed.engine("alice").await;
    let outcome = alice
        .withdraw(&id, Some("  the team chose a shared bucket  "), None)
        .await
        .unwrap();
    assert_eq!(outcome.result, OpResult::Done, "{}", outcome.message);
    let (number, state, merged) = pull_of(&bed, &id);
    assert_eq!((state.as_str(), merged), ("closed", false));
    assert!(
        outcome
            .message
            .contains(&format!("closed pull request #{number}")),
        "{}",
        outcome.message
    );
    assert!(outcome.message.contains("deleted branch tfpilot/"));
    assert_eq!(bed.branches_for(&id), 0, "the branch is gone");
    // GitHub keeps a closed pull request's head: its diff still reads.
    let diff = bed.engine("bob").await.pull_diff(&id).await.unwrap();
    assert_eq!(
        diff.files.len(),
        1,
        "{diff:?} {}",
        bed.sim.snapshot()["pulls"]
    );
    let request = outcome.request;
    let withdrawal = request.withdrawal.as_deref().expect("recorded");
    assert_eq!(withdrawal.by, "alice");
    assert_eq!(
        withdrawal.reason.as_deref(),
        Some("the team chose a shared bucket")
    );
    assert_eq!(derive_status(&request), Status::Withdrawn);
    // Sync reads the closed pull request and keeps the status; it is final.
    let report = bed.engine("bob").await.sync(&id).await.unwrap();
    assert_eq!(report.status, Status::Withdrawn);
    assert!(report.status.is_final());
    let kinds = bed.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "request_withdrawn").count(),
        1,
        "{kinds:?}"
    );
    // Again: nothing to do, nothing written to GitHub.
    let again = bed
        .engine("bob")
        .await
        .withdraw(&id, None, None)
        .await
        .unwrap();
    assert_eq!(again.result, OpResult::AlreadyDone);
    assert!(
        again.message.contains("already withdrawn by alice"),
        "{}",
        again.message
    );
    // And nothing moves it on: planning or approving a withdrawn request is refused.
    let plan = bed.engine("alice").await.plan(&id, None).await;
    assert!(plan.is_err(), "{plan:?}");
}

async fn a_running_plan_is_cancelled_and_a_merged_request_cannot_be_withdrawn(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let running = bed.create("alice", "payments-dev-running", "dev").await;
    let outcome = bed
        .engine("alice")
        .await
        .withdraw(&running, None, None)
        .await
        .unwrap();
    assert!(
        outcome.message.contains("cancelled plan run"),
        "{}",
        outcome.message
    );
    bed.finish_runs();
    let report = bed.engine("alice").await.sync(&running).await.unwrap();
    assert_eq!(report.status, Status::Withdrawn, "{:?}", report.changes);

    let merged = bed.merged("payments-dev-merged").await;
    let refusal = bed
        .engine("alice")
        .await
        .withdraw(&merged, None, None)
        .await;
    let message = match refusal {
        Err(error) => error.to_string(),
        Ok(outcome) => panic!("withdrew a merged request: {}", outcome.message),
    };
    assert!(message.contains("already merged"), "{message}");
    assert!(pull_of(&bed, &merged).2, "still merged");
}

async fn only_the_requester_approvers_and_admins_withdraw_and_github_decides_who_asked(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let id = bed.planned("dev", "payments-dev-whose").await;
    // dave is a developer who did not ask for it.
    let message = denied(bed.engine("dave").await.withdraw(&id, None, None).await);
    assert!(message.contains("only the requester (alice)"), "{message}");
    // A document edited to name dave its requester does not make it his on GitHub.
    bed.store
        .update_request(&id, now(), |request| {
            request.requested_by = "dave".into();
            Ok(())
        })
        .await
        .unwrap();
    let message = denied(bed.engine("dave").await.withdraw(&id, None, None).await);
    assert!(message.contains("only the requester (alice)"), "{message}");
    assert_eq!(pull_of(&bed, &id).1, "open", "nothing was closed");
    // An approver may.
    let outcome = bed
        .engine("bob")
        .await
        .withdraw(&id, None, None)
        .await
        .unwrap();
    assert_eq!(outcome.result, OpResult::Done);
    assert_eq!(pull_of(&bed, &id).1, "closed");
}

async fn a_forged_document_never_closes_another_pull_request_or_hides_a_merge(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let victim = bed.planned("dev", "payments-dev-victim").await;
    let (victim_pr, _, _) = pull_of(&bed, &victim);
    let forged = bed.planned("dev", "payments-dev-forger").await;
    // The forger's document points at the victim's pull request.
    bed.store
        .update_request(&forged, now(), |request| {
            if let Some(pr) = request.pr.as_deref_mut() {
                pr.number = Some(victim_pr);
            }
            Ok(())
        })
        .await
        .unwrap();
    let message = denied(
        bed.engine("alice")
            .await
            .withdraw(&forged, None, None)
            .await,
    );
    assert!(message.contains("GitHub says"), "{message}");
    assert_eq!(
        pull_of(&bed, &victim).1,
        "open",
        "the victim's PR stays open"
    );
    assert_eq!(bed.branches_for(&victim), 1, "and its branch stays");
    assert!(
        bed.event_kinds(&forged)
            .await
            .contains(&"document_contradicted".to_string())
    );

    // A document that hides its merge is refused and repaired from GitHub.
    let merged = bed.merged("payments-dev-hidden-merge").await;
    bed.store
        .update_request(&merged, now(), |request| {
            request.merged_sha = None;
            if let Some(pr) = request.pr.as_deref_mut() {
                pr.merged = false;
                pr.state = Some("open".into());
            }
            Ok(())
        })
        .await
        .unwrap();
    let message = denied(
        bed.engine("alice")
            .await
            .withdraw(&merged, None, None)
            .await,
    );
    assert!(message.contains("was merged as"), "{message}");
    let repaired = bed.store.get_request(&merged).await.unwrap().value;
    assert!(repaired.merged_sha.is_some(), "repaired from GitHub");
    assert!(repaired.withdrawal.is_none());
    assert_eq!(derive_status(&repaired), Status::Merged);
}

with_both_stores!(
    a_planned_request_is_withdrawn_once_with_who_and_why,
    a_running_plan_is_cancelled_and_a_merged_request_cannot_be_withdrawn,
    only_the_requester_approvers_and_admins_withdraw_and_github_decides_who_asked,
    a_forged_document_never_closes_another_pull_request_or_hides_a_merge,
);

/// `tfpilot withdraw` asks first (and wants `--yes` without a terminal), records the reason,
/// and `show` and `list --status withdrawn` say so.
async fn the_command_line_withdraws_with_a_reason(s3: bool) {
    let Some((bed, cli)) = cli::setup(s3).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-cli-withdrawn").await;
    let output = cli
        .command("alice", &["withdraw", &id])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert_eq!(pull_of(&bed, &id).1, "open", "nothing was done");

    let (code, json, stderr) = cli
        .run(
            "alice",
            &[
                "withdraw",
                &id[..20],
                "--reason",
                "duplicate of another request",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["status"], "withdrawn", "{json}");
    assert_eq!(json["result"], "done");
    assert_eq!(
        json["request"]["withdrawal"]["reason"],
        "duplicate of another request"
    );
    let shown = cli.command("bob", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("withdrawn    by alice at")
            && text.contains(": duplicate of another request"),
        "{text}"
    );
    let (code, listed, stderr) = cli.run("bob", &["list", "--status", "withdrawn"]).await;
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    // A second withdraw is done already; a reason too long is refused before anything.
    let (code, json, _) = cli.run("bob", &["withdraw", &id, "--yes"]).await;
    assert_eq!((code, json["result"].as_str()), (0, Some("already_done")));
    let long = "x".repeat(501);
    let (code, _, stderr) = cli
        .run("alice", &["withdraw", &id, "--reason", &long, "--yes"])
        .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("keep it to 500"), "{stderr}");
}

on_both_stores!(the_command_line_withdraws_with_a_reason);
