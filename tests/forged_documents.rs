//! A request document is a claim: everyone who files requests can write the bucket. Each test
//! forges a document the way a hostile teammate would and checks that tfpilot asks GitHub
//! before acting: the operation is refused (exit 3) with both sides, GitHub is not written to,
//! a `document_contradicted` event records it, and the document is repaired and marked.

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

use bed::Bed;
use cli::setup;
use serde_json::Value;
use tfpilot::domain::request::Approval;
use tfpilot::domain::{Timestamp, derive_status};
use tfpilot::engine::{Engine, RunIndex};

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

/// The head of the request's pull request, as the document records it.
async fn head_of(bed: &Bed, id: &str) -> String {
    let request = bed.store.get_request(id).await.unwrap().value;
    request.pr.unwrap().head_sha.unwrap()
}

/// Writes an approval by `approver` of `head` into the document, as a hand edit would.
async fn forge_approval(bed: &Bed, id: &str, approver: &str, head: &str) {
    bed.store
        .update_request(id, now(), |request| {
            request.approval = Some(Box::new(Approval {
                approved: true,
                approvers: vec![approver.to_string()],
                at: Some(now()),
                head_sha: Some(head.to_string()),
                ..Approval::default()
            }));
            Ok(())
        })
        .await
        .unwrap();
}

/// The simulator's reviews of pull requests, and whether any pull request is merged.
fn reviews(bed: &Bed) -> Vec<Value> {
    bed.sim.snapshot()["reviews"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn merged_pulls(bed: &Bed) -> usize {
    bed.sim.snapshot()["pulls"].as_array().map_or(0, |pulls| {
        pulls.iter().filter(|p| !p["merged_at"].is_null()).count()
    })
}

async fn contradicted(bed: &Bed, id: &str) -> bool {
    bed.event_kinds(id)
        .await
        .contains(&"document_contradicted".to_string())
}

/// A document is a claim: one edited to say the open pull request was merged (at its head) does
/// not get that commit tagged and applied. GitHub is asked first; the apply is refused with
/// both sides (exit 3), nothing is written to GitHub, a `document_contradicted` event records
/// it, and the document is repaired from GitHub.
async fn a_forged_merge_is_not_applied(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-forged").await;
    bed.engine("bob").await.approve(&id, None).await.unwrap();
    let head = bed
        .store
        .get_request(&id)
        .await
        .unwrap()
        .value
        .pr
        .unwrap()
        .head_sha
        .unwrap();
    let now = Timestamp(chrono::Utc::now());
    bed.store
        .update_request(&id, now, |request| {
            request.merged_sha = Some(head.clone());
            if let Some(pr) = request.pr.as_deref_mut() {
                pr.merged = true;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        derive_status(&bed.store.get_request(&id).await.unwrap().value).as_str(),
        "merged",
        "the forged document claims a merge"
    );
    let refs_before: u64 = bed
        .sim
        .calls_to("POST", "/repos/{owner}/{repo}/git/refs")
        .values()
        .sum();

    let (code, error, err) = cli.run("bob", &["apply", &id, "--yes"]).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(error["error"]["kind"], "denied");
    assert!(
        err.contains(&format!("the document says it was merged as {head}")),
        "{err}"
    );
    assert!(err.contains("is open and not merged"), "{err}");
    let refs_after: u64 = bed
        .sim
        .calls_to("POST", "/repos/{owner}/{repo}/git/refs")
        .values()
        .sum();
    assert_eq!(refs_after, refs_before, "no tag was created");
    assert_eq!(
        bed.dispatches("tfpilot-apply.yml", &id),
        0,
        "nothing was applied"
    );
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"document_contradicted".to_string())
    );
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(repaired.merged_sha, None);
    assert!(!repaired.pr.as_deref().unwrap().merged);
    assert_eq!(derive_status(&repaired).as_str(), "approved");
}

/// An apply claimed by a hand-edited document (its run is really the plan) does not get the
/// request destroyed: GitHub is asked for the run first.
async fn a_forged_apply_is_not_destroyed(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = bed.merged("payments-dev-forged-apply").await;
    let now = Timestamp(chrono::Utc::now());
    bed.store
        .update_request(&id, now, |request| {
            let mut claim = request.plan_run.as_deref().cloned().unwrap();
            claim.dispatch_id = None;
            request.apply_run = Some(Box::new(claim));
            Ok(())
        })
        .await
        .unwrap();
    let forged = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(derive_status(&forged).as_str(), "applied", "the claim");

    let (code, error, err) = cli.run("admin", &["destroy", &id, "--yes"]).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(error["error"]["kind"], "denied");
    assert!(err.contains("is not an apply of"), "{err}");
    assert_eq!(
        bed.dispatches("tfpilot-destroy.yml", &id),
        0,
        "nothing was destroyed"
    );
    assert!(
        bed.event_kinds(&id)
            .await
            .contains(&"document_contradicted".to_string())
    );
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert!(repaired.apply_run.is_none());
    assert_eq!(derive_status(&repaired).as_str(), "merged");
}

/// An approval written into the document by hand (bob never reviewed) does not get the pull
/// request merged: GitHub holds no approving review by an approver of that head.
async fn a_forged_approval_is_not_merged(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-forged-approval").await;
    let head = head_of(&bed, &id).await;
    forge_approval(&bed, &id, "bob", &head).await;
    let forged = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(derive_status(&forged).as_str(), "approved", "the claim");

    let (code, error, err) = cli.run("alice", &["merge", &id, "--yes"]).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(error["error"]["kind"], "denied");
    assert!(
        err.contains(&format!("the document says bob approved {head}")),
        "{err}"
    );
    assert!(err.contains("no review of"), "{err}");
    assert_eq!(merged_pulls(&bed), 0, "nothing was merged");
    assert!(contradicted(&bed, &id).await);
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert!(repaired.approval.is_none());
    assert!(repaired.contradiction.is_some());
    assert_eq!(derive_status(&repaired).as_str(), "plan_ready");

    // `show` says so, in words, until the request's next operation succeeds.
    let output = cli.command("alice", &["show", &id]).output().await.unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("the document contradicted GitHub"),
        "{shown}"
    );
    assert_eq!(cli.run("bob", &["approve", &id]).await.0, 0);
    let approved = bed.store.get_request(&id).await.unwrap().value;
    assert!(approved.contradiction.is_none(), "cleared by the approval");
    assert_eq!(cli.run("alice", &["merge", &id, "--yes"]).await.0, 0);
    assert_eq!(merged_pulls(&bed), 1);
}

/// A plan run the document claims succeeded (it is still running on GitHub) does not get
/// approved: the head approved comes from GitHub's run, not from the document.
async fn a_forged_plan_is_not_approved(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = bed.create("alice", "payments-dev-forged-plan", "dev").await;
    let head = head_of(&bed, &id).await;
    bed.store
        .update_request(&id, now(), |request| {
            let run = request.plan_run.as_deref_mut().unwrap();
            run.status = Some(tfpilot::domain::RunStatus::Completed);
            run.conclusion = Some(tfpilot::domain::RunConclusion::Success);
            run.head_sha = Some(head.clone());
            Ok(())
        })
        .await
        .unwrap();
    let forged = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(derive_status(&forged).as_str(), "plan_ready", "the claim");

    let (code, error, err) = cli.run("bob", &["approve", &id]).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(error["error"]["kind"], "denied");
    assert!(err.contains("succeeded, but GitHub says run"), "{err}");
    assert!(reviews(&bed).is_empty(), "no review was submitted");
    assert!(contradicted(&bed, &id).await);
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert!(repaired.approval.is_none());
    assert!(!repaired.plan_run.as_deref().unwrap().succeeded());
    assert_eq!(derive_status(&repaired).as_str(), "planning");
}

/// Sync repairs what GitHub contradicts (a forged approval, a forged merge) and marks the
/// document; a viewer's dashboard sees the same in memory and writes nothing.
async fn sync_repairs_forged_claims_and_a_viewer_sees_them(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-forged-sync").await;
    let head = head_of(&bed, &id).await;
    forge_approval(&bed, &id, "bob", &head).await;

    let viewer: Engine = bed.engine("viewer").await;
    let seen = viewer.sync_with(&id, &RunIndex::default()).await.unwrap();
    assert!(seen.request.approval.is_none(), "{:?}", seen.changes);
    assert!(seen.request.contradiction.is_some());
    assert_eq!(seen.status.as_str(), "plan_ready");
    let stored = bed.store.get_request(&id).await.unwrap().value;
    assert!(stored.approval.is_some(), "a viewer writes nothing");

    let (code, report, err) = cli.run("alice", &["sync", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        report.to_string().contains("document contradicted GitHub"),
        "{report}"
    );
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert!(repaired.approval.is_none());
    assert!(repaired.contradiction.is_some());
    assert!(contradicted(&bed, &id).await);

    bed.store
        .update_request(&id, now(), |request| {
            request.merged_sha = Some(head.clone());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(cli.run("alice", &["sync", &id]).await.0, 0);
    let repaired = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(repaired.merged_sha, None, "GitHub says it is not merged");
    assert!(
        repaired
            .contradiction
            .as_deref()
            .is_some_and(|c| c.claim.contains("merged as"))
    );
}

on_both_stores!(
    a_forged_apply_is_not_destroyed,
    a_forged_merge_is_not_applied,
    a_forged_approval_is_not_merged,
    a_forged_plan_is_not_approved,
    sync_repairs_forged_claims_and_a_viewer_sees_them
);

/// The author of a pull request cannot approve it on GitHub. When the policy allows
/// self-approval, tfpilot records it as a marked comment review, and merge counts that only
/// while the policy still allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_approval_is_a_marked_review_and_counts_only_when_allowed() {
    let Some((bed, _cli)) = setup(false).await else {
        return;
    };
    let admin_with = |allow: bool| {
        let bed = &bed;
        async move {
            let mut team = bed.store.load_team_config().await.unwrap();
            team.access.allow_self_approval = allow;
            Engine::new(
                bed.store.clone(),
                bed::github(&bed.sim, "admin"),
                team,
                "admin",
            )
            .with_holder("admin@test")
        }
    };
    let id = bed.create("admin", "payments-dev-self", "dev").await;
    bed.finish_runs();
    bed.engine("admin").await.sync(&id).await.unwrap();
    let approved = admin_with(true).await.approve(&id, None).await.unwrap();
    assert!(
        approved.message.contains("comment review"),
        "{}",
        approved.message
    );
    let review = &reviews(&bed)[0];
    assert_eq!(review["user"], "admin");
    assert_eq!(review["state"], "COMMENTED");
    assert!(
        review["body"]
            .as_str()
            .unwrap()
            .starts_with("Approved in tfpilot:")
    );

    let refused = admin_with(false).await.merge(&id, None).await.unwrap_err();
    assert!(refused.to_string().contains("no review of"), "{refused}");
    assert_eq!(merged_pulls(&bed), 0);
    admin_with(true).await.approve(&id, None).await.unwrap();
    admin_with(true).await.merge(&id, None).await.unwrap();
    assert_eq!(merged_pulls(&bed), 1);
}
