//! Scheduled drift: what the drift workflow's `schedule` job does, through the real binary:
//! the work list from `drift-eligible --json --repo`, one keyed drift check per request (a
//! re-run dispatches nothing twice), then reconcile records each result on its request.

use tfpilot::sim::ScriptedOutcome;

use super::cli::setup;

const DRIFT_WORKFLOW: &str = include_str!("../../docs/workflows/tfpilot-drift.yml");

async fn the_schedule_checks_each_applied_request_once(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let drifting = bed.applied("payments-dev-drifting").await;
    let steady = bed.applied("payments-dev-steady").await;
    bed.create("alice", "payments-dev-unapplied", "dev").await;

    let (code, eligible, err) = cli
        .run(
            "drift-bot",
            &["drift-eligible", "--repo", "acme/infra-live"],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let mut ids: Vec<&str> = eligible
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![drifting.as_str(), steady.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "only applied requests: {eligible}");
    assert_eq!(eligible[0]["repo"], "acme/infra-live");
    let (_, other, _) = cli
        .run("drift-bot", &["drift-eligible", "--repo", "acme/elsewhere"])
        .await;
    assert_eq!(other, serde_json::json!([]));

    bed.sim.script_outcome(ScriptedOutcome {
        request_id: drifting.clone(),
        operation: "drift".into(),
        conclusion: "success".into(),
        error: None,
        drift: true,
        times: Some(1),
    });
    // The job, twice (a re-run of the workflow): the keys make the second pass a replay.
    for pass in 0..2 {
        for id in &ids {
            let key = format!("drift-4242-{id}");
            let (code, out, err) = cli
                .run("drift-bot", &["drift-check", id, "--idempotency-key", &key])
                .await;
            assert_eq!(code, 0, "pass {pass}: {err}");
            let expected = if pass == 0 { "done" } else { "replayed" };
            assert_eq!(out["result"], expected, "{out}");
        }
    }
    for id in &ids {
        assert_eq!(bed.dispatches("tfpilot-drift.yml", id), 1, "{id}");
    }

    bed.finish_runs();
    let (code, _, err) = cli.run("admin", &["reconcile"]).await;
    assert_eq!(code, 0, "{err}");
    let (_, listed, _) = cli.run("alice", &["list"]).await;
    let drift_of = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == id)
            .map(|item| item["drift"].clone())
            .unwrap()
    };
    assert_eq!(drift_of(&drifting), "drifted");
    assert_eq!(drift_of(&steady), "clean");
    let text = cli.command("alice", &["list"]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("applied drift"), "{text}");

    let (_, shown, _) = cli.run("alice", &["show", &drifting]).await;
    let resources = shown["drift"]["resources"].as_array().unwrap().clone();
    assert_eq!(resources.len(), 1, "{shown}");
    assert!(
        resources[0].as_str().unwrap().ends_with(".this"),
        "{resources:?}"
    );
    let kinds = bed.event_kinds(&drifting).await;
    assert!(kinds.contains(&"drift_detected".to_string()), "{kinds:?}");
    let kinds = bed.event_kinds(&steady).await;
    assert!(kinds.contains(&"drift_checked".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"drift_detected".to_string()), "{kinds:?}");
}

#[test]
fn scheduled_drift_on_the_local_store() {
    super::common::block_on_big_stack(the_schedule_checks_each_applied_request_once(false));
}

#[test]
fn scheduled_drift_on_s3() {
    super::common::block_on_big_stack(the_schedule_checks_each_applied_request_once(true));
}

/// The template's schedule job does what the test above does.
#[test]
fn the_drift_workflow_runs_on_a_schedule_from_the_eligible_list() {
    for needle in [
        "schedule:",
        "- cron:",
        "if: github.event_name == 'schedule'",
        "tfpilot drift-eligible --json --repo \"$GITHUB_REPOSITORY\"",
        "tfpilot drift-check \"$id\" --idempotency-key \"drift-$GITHUB_RUN_ID-$id\" --json",
        "if: github.event_name == 'workflow_dispatch'",
        "sha256sum --check",
    ] {
        assert!(DRIFT_WORKFLOW.contains(needle), "missing {needle:?}");
    }
}
