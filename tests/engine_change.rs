//! Change requests against the simulator over HTTP: an applied request's values change through
//! a new request that edits the original's block in place (same markers, same module address),
//! so the plan updates the resources instead of replacing them; it goes through plan, approve,
//! merge and apply; one change at a time per original, and the original is not destroyed under
//! a change in flight.

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

use serde_json::{Map, Value, json};
use tfpilot::domain::{Status, derive_status};
use tfpilot::engine::{EngineError, OpResult};
use tfpilot::store::ObjectStore;

fn set(field: &str, value: Value) -> Map<String, Value> {
    json!({ field: value }).as_object().cloned().unwrap()
}

/// The simulator's answered calls: (method, route, status) -> count.
fn calls(bed: &bed::Bed) -> std::collections::BTreeMap<(String, String, u64), u64> {
    bed.sim.snapshot()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| {
            (
                (
                    call["method"].as_str().unwrap().to_string(),
                    call["route"].as_str().unwrap().to_string(),
                    call["status"].as_u64().unwrap(),
                ),
                call["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn refused(result: Result<tfpilot::engine::OpOutcome, EngineError>) -> EngineError {
    match result {
        Err(error) => error,
        Ok(outcome) => panic!("expected a refusal, got {}", outcome.message),
    }
}

async fn a_change_edits_the_block_in_place_and_goes_through_the_lifecycle(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let original = bed.applied("payments-dev-changed").await;
    let (alice, bob) = (bed.engine("alice").await, bed.engine("bob").await);
    // Not yet applied: changed with `update`, not `change`.
    let planned = bed.planned("dev", "payments-dev-not-yet").await;
    let error = refused(
        alice
            .change(&planned, set("lifecycle_days", json!("30")), None)
            .await,
    );
    assert!(
        error.to_string().contains("only an applied request"),
        "{error}"
    );

    let calls_before = calls(&bed);
    let outcome = alice
        .change(&original, set("lifecycle_days", json!("30")), None)
        .await
        .unwrap();
    assert_eq!(outcome.result, OpResult::Done, "{}", outcome.message);
    let change = outcome.request;
    assert_eq!(change.changes.as_deref(), Some(original.as_str()));
    assert_ne!(change.id, original);
    assert_eq!(change.config["lifecycle_days"], json!(30));
    assert_eq!(derive_status(&change), Status::Planning);
    assert!(
        outcome
            .message
            .contains(&format!("opened change {} of {original}", change.id)),
        "{}",
        outcome.message
    );
    let stored = bed.store.get_request(&original).await.unwrap().value;
    assert_eq!(stored.change_requests, vec![change.id.as_str()]);
    // Its branch edits the original's block: the same markers, one block, the new value.
    let github = bed::github(&bed.sim, "alice");
    let file = github
        .get_file(&sim::repo(), sim::FILE, change.branch.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(
        file.matches(&format!("# tfpilot:begin/{original}")).count(),
        1,
        "{file}"
    );
    assert!(
        !file.contains(&format!("tfpilot:begin/{}", change.id)),
        "{file}"
    );
    assert!(file.contains("lifecycle_days = 30"), "{file}");
    // Its plan targets the original's module.
    let runs = bed.sim.snapshot()["runs"].clone();
    let plan = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["request_id"] == change.id.as_str())
        .cloned()
        .expect("the change's plan run");
    assert_eq!(plan["block_id"], original.as_str());

    // One change at a time, and no destroy under it.
    let error = refused(
        bob.change(&original, set("versioning", json!(false)), None)
            .await,
    );
    assert_eq!(error.exit_code(), 4);
    assert!(
        error
            .to_string()
            .contains(&format!("change {} of {original} is in flight", change.id)),
        "{error}"
    );
    let admin = bed.engine("admin").await;
    let error = refused(admin.destroy(&original, None).await);
    assert!(error.to_string().contains("is in flight"), "{error}");
    // A change request's resources are the original's.
    let error = refused(admin.destroy(&change.id, None).await);
    assert!(
        error
            .to_string()
            .contains(&format!("is a change of {original}")),
        "{error}"
    );

    bed.finish_runs();
    let synced = alice.sync(&change.id).await.unwrap();
    assert_eq!(synced.status, Status::PlanReady, "{:?}", synced.changes);
    let plan = synced.request.plan.as_deref().unwrap();
    let own = plan
        .request
        .expect("the plan's changes attributed to the block");
    assert_eq!(
        (own.add, own.change, own.destroy),
        (0, 1, 0),
        "updated in place"
    );
    assert!(!plan.changes_outside());
    bob.approve(&change.id, None).await.unwrap();
    alice.merge(&change.id, None).await.unwrap();
    bob.apply(&change.id, None).await.unwrap();
    bed.finish_runs();
    let applied = bob.sync(&change.id).await.unwrap();
    assert_eq!(applied.status, Status::Applied, "{:?}", applied.changes);
    assert_eq!(bed.runs_for("apply", &change.id), 1);
    let apply = bed.sim.snapshot()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["request_id"] == change.id.as_str() && run["operation"] == "apply")
        .cloned()
        .unwrap();
    assert_eq!(apply["block_id"], original.as_str());
    // What the change's whole lifecycle cost on GitHub (its create, plan sync, approve, merge,
    // apply and sync, and the refusals above), by route: printed for the record.
    let spent = calls(&bed);
    let mut total = 0;
    for ((method, route, status), count) in &spent {
        let before = calls_before
            .get(&(method.clone(), route.clone(), *status))
            .copied()
            .unwrap_or(0);
        if *count > before {
            println!("{method} {route} {status}: {}", count - before);
            total += count - before;
        }
    }
    println!("a change request's lifecycle: {total} GitHub calls");
    assert!(total > 0);

    // The next change starts from the values the resources have now.
    let next = bob
        .change(&original, set("versioning", json!(false)), None)
        .await
        .unwrap();
    assert_eq!(next.request.config["lifecycle_days"], json!(30));
    assert_eq!(next.request.config["versioning"], json!(false));
    let stored = bed.store.get_request(&original).await.unwrap().value;
    assert_eq!(stored.change_requests.len(), 2);
    assert!(
        bed.event_kinds(&original)
            .await
            .iter()
            .filter(|kind| *kind == "change_requested")
            .count()
            == 2
    );
}

async fn a_field_that_replaces_the_resource_is_said_loudly_and_locks_hold(
    backend: Arc<dyn ObjectStore>,
) {
    let bed = bed::bed(backend).await;
    let original = bed.applied("payments-dev-renamed").await;
    let alice = bed.engine("alice").await;
    let error = refused(
        alice
            .change(
                &original,
                set("lifecycle_days", json!("not a number")),
                None,
            )
            .await,
    );
    assert_eq!(error.exit_code(), 2, "{error}");
    let outcome = alice
        .change(
            &original,
            set("bucket_name", json!("payments-dev-renamed-2")),
            None,
        )
        .await
        .unwrap();
    assert!(
        outcome
            .message
            .contains("changing bucket_name REPLACES the resource"),
        "{}",
        outcome.message
    );
    // The change remembers it, and the merge and apply confirmations say it loudly.
    assert_eq!(outcome.request.replaces, ["bucket_name"]);
    let team = bed.store.load_team_config().await.unwrap();
    for operation in [
        tfpilot::domain::operation::Operation::Merge,
        tfpilot::domain::operation::Operation::Apply,
    ] {
        let text =
            tfpilot::domain::presentation::confirmation(&outcome.request, operation, &team.access);
        assert!(
            text.lines
                .iter()
                .any(|line| line.contains("REPLACES the resource (it changes bucket_name)")),
            "{operation}: {:?}",
            text.lines
        );
    }
    // dave asked for nothing here.
    let error = refused(
        bed.engine("dave")
            .await
            .change(&original, set("lifecycle_days", json!("7")), None)
            .await,
    );
    assert_eq!(error.exit_code(), 3, "{error}");
    // A document edited to name dave its requester does not make it his on GitHub.
    bed.store
        .update_request(
            &original,
            tfpilot::domain::Timestamp(chrono::Utc::now()),
            |request| {
                request.requested_by = "dave".into();
                Ok(())
            },
        )
        .await
        .unwrap();
    let error = refused(
        bed.engine("dave")
            .await
            .change(&original, set("lifecycle_days", json!("7")), None)
            .await,
    );
    assert_eq!(error.exit_code(), 3, "{error}");
    assert!(
        error.to_string().contains("only the requester (alice)"),
        "{error}"
    );
}

/// GitHub takes only the inputs a workflow declares: a repository whose plan workflow predates
/// `block_id` refuses a change's plan (and `doctor` warns of it), while requests still plan.
async fn workflows_from_before_block_id_refuse_a_changes_plan(backend: Arc<dyn ObjectStore>) {
    let bed = bed::bed(backend).await;
    let original = bed.applied("payments-dev-old-workflows").await;
    let (_, current) = tfpilot::domain::workflows::WORKFLOWS
        .iter()
        .find(|(name, _)| *name == "tfpilot-plan.yml")
        .unwrap();
    let older = current.replace(
        "      block_id:\n        description: \"A change request's original: whose block and module it works on (default: request_id)\"\n        required: false\n        type: string\n        default: \"\"\n",
        "",
    );
    assert_ne!(&older, current, "the block_id input was taken out");
    let github = bed::github(&bed.sim, "admin");
    let path = ".github/workflows/tfpilot-plan.yml";
    let file = github
        .get_file(&sim::repo(), path, "main")
        .await
        .unwrap()
        .unwrap();
    github
        .put_file(
            &sim::repo(),
            path,
            "main",
            &older,
            "an older workflow",
            Some(&file.sha),
        )
        .await
        .unwrap();
    let error = refused(
        bed.engine("alice")
            .await
            .change(&original, set("lifecycle_days", json!("30")), None)
            .await,
    );
    assert!(
        error.to_string().contains("Unexpected inputs provided"),
        "{error}"
    );
    // A request that is not a change sends no block_id, and plans.
    bed.planned("dev", "payments-dev-still-plans").await;
}

with_both_stores!(
    workflows_from_before_block_id_refuse_a_changes_plan,
    a_change_edits_the_block_in_place_and_goes_through_the_lifecycle,
    a_field_that_replaces_the_resource_is_said_loudly_and_locks_hold,
);

/// `tfpilot change` opens the change request; `update` on an applied request points at it;
/// `show` of the original lists its changes.
async fn the_command_line_changes_an_applied_request(s3: bool) {
    let Some((bed, cli)) = cli::setup(s3).await else {
        return;
    };
    let original = bed.applied("payments-dev-cli-change").await;
    let (code, _, stderr) = cli
        .run(
            "alice",
            &["update", &original, "--set", "lifecycle_days=30"],
        )
        .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!("`tfpilot change {original}`")),
        "{stderr}"
    );
    let (code, json, stderr) = cli
        .run(
            "alice",
            &["change", &original, "--set", "lifecycle_days=30"],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let change = json["id"].as_str().unwrap().to_string();
    assert_ne!(change, original);
    assert_eq!(json["request"]["changes"], original.as_str());
    assert_eq!(json["status"], "planning");
    let shown = cli
        .command("bob", &["show", &original])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains(&format!(
            "changes      {change} planning · in flight · lifecycle_days"
        )),
        "{text}"
    );
    let shown = cli
        .command("bob", &["show", &change])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains(&format!("change of    {original}")), "{text}");
}

on_both_stores!(the_command_line_changes_an_applied_request);
