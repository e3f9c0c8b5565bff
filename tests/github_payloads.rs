//! Run facts read straight from real GitHub workflow-run payloads (tests/fixtures/SOURCES.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use serde_json::Value;
use tfpilot::domain::{
    Request, RunConclusion, RunFact, RunStatus, Status, Timestamp, derive, parse_request,
    render_request,
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request() -> Request {
    Request::new(
        "req_fixture",
        "p",
        "dev",
        "m",
        "alice",
        Timestamp::parse("2021-03-25T09:00:00Z").unwrap(),
    )
}

#[test]
fn a_cancelled_run_payload_is_a_failed_apply() {
    let run: RunFact = serde_json::from_value(fixture("actions-run-get-cancelled.json")).unwrap();
    assert_eq!(run.id, Some(686036126));
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!(run.conclusion, Some(RunConclusion::Cancelled));
    assert_eq!(
        run.head_sha.as_deref(),
        Some("f6a5c19a67797d64426203b8a7a05a0fd74e5037")
    );
    assert_eq!(run.duration_seconds(), Some(34));

    let mut request = request();
    request.apply_run = Some(Box::new(run));
    let derivation = derive(&request);
    assert_eq!(derivation.status, Status::Failed);
    assert_eq!(
        derivation.facts[0].value,
        "completed/cancelled (run 686036126)"
    );
}

#[test]
fn every_field_of_a_real_payload_survives_a_rewrite() {
    let payload = fixture("actions-run-get-cancelled.json");
    let mut request = request();
    request.plan_run = Some(Box::new(serde_json::from_value(payload.clone()).unwrap()));
    let reread = parse_request(&render_request(&request)).unwrap();
    let back = serde_json::to_value(reread.plan_run.unwrap()).unwrap();
    assert_eq!(back, payload);
}

#[test]
fn successful_runs_from_a_list_payload_make_a_plan_ready_request() {
    let list = fixture("actions-runs-list-success.json");
    let runs: Vec<RunFact> = serde_json::from_value(list["workflow_runs"].clone()).unwrap();
    assert_eq!(runs.len(), 2);
    let mut request = request();
    request.plan_run = Some(Box::new(runs[0].clone()));
    assert_eq!(derive(&request).status, Status::PlanReady);
}

#[test]
fn the_client_models_read_real_payloads() {
    use tfpilot::github::models::{JobsPage, PullRequest, Review, RunsPage};
    let open: PullRequest =
        serde_json::from_value(fixture("pulls-get-open-with-labels.json")).unwrap();
    assert_eq!(
        (open.number, open.state.as_deref(), open.is_merged()),
        (427, Some("open"), false)
    );
    let fact = open.to_fact();
    assert_eq!(fact.head_sha.as_deref(), Some(open.head.sha.as_str()));
    let closed: PullRequest = serde_json::from_value(fixture("pulls-get-closed.json")).unwrap();
    assert_eq!(
        (closed.state.as_deref(), closed.is_merged()),
        (Some("closed"), false)
    );
    let reviews: Vec<Review> =
        serde_json::from_value(fixture("pulls-reviews-list-approved.json")).unwrap();
    assert_eq!(reviews[0].state, "APPROVED");
    let runs: RunsPage = serde_json::from_value(fixture("actions-runs-list-success.json")).unwrap();
    assert_eq!(runs.workflow_runs.len(), 2);
    assert!(
        runs.workflow_runs
            .iter()
            .all(|run| run.to_fact().succeeded())
    );
    let jobs: JobsPage = serde_json::from_value(fixture("actions-run-jobs-list.json")).unwrap();
    assert_eq!(jobs.jobs.len(), 2);
    assert!(jobs.jobs.iter().all(|job| !job.steps.is_empty()));
}
