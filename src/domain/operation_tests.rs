use super::*;
use crate::domain::request::{Approval, PullRequestFact};
use crate::domain::run::{RunConclusion, RunStatus};
use crate::domain::time::Timestamp;

fn run(status: &str, conclusion: Option<&str>, head: &str) -> Option<Box<RunFact>> {
    Some(Box::new(RunFact {
        id: Some(7),
        status: Some(RunStatus::parse(status)),
        conclusion: conclusion.map(RunConclusion::parse),
        head_sha: Some(head.into()),
        ..RunFact::default()
    }))
}

fn opened() -> Request {
    let now = Timestamp::from_unix_seconds(1_800_000_000).unwrap();
    let mut request = Request::new("req_1", "p", "dev", "m", "alice", now);
    request.pr = Some(Box::new(PullRequestFact {
        number: Some(3),
        state: Some("open".into()),
        head_sha: Some("h1".into()),
        ..PullRequestFact::default()
    }));
    request
}

fn planned() -> Request {
    let mut request = opened();
    request.plan_run = run("completed", Some("success"), "h1");
    request
}

fn approved() -> Request {
    let mut request = planned();
    request.approval = Some(Box::new(Approval {
        approved: true,
        approvers: vec!["bob".into()],
        head_sha: Some("h1".into()),
        ..Approval::default()
    }));
    request
}

fn merged() -> Request {
    let mut request = approved();
    if let Some(pr) = request.pr.as_deref_mut() {
        pr.merged = true;
        pr.state = Some("closed".into());
    }
    request.merged_sha = Some("m1".into());
    request
}

fn applied() -> Request {
    let mut request = merged();
    request.apply_run = run("completed", Some("success"), "m1");
    request
}

fn reason(readiness: Readiness) -> String {
    match readiness {
        Readiness::NotReady(reason) | Readiness::AlreadyDone(reason) => reason,
        Readiness::Ready => "ready".into(),
    }
}

#[test]
fn approve_needs_a_successful_plan_of_the_current_head() {
    let mut request = opened();
    assert!(reason(readiness(Operation::Approve, &request)).contains("no plan has run"));
    request.plan_run = run("in_progress", None, "h1");
    assert!(reason(readiness(Operation::Approve, &request)).contains("still running"));
    request.plan_run = run("completed", Some("failure"), "h1");
    assert!(reason(readiness(Operation::Approve, &request)).contains("plan failed"));
    request.plan_run = run("completed", Some("success"), "h0");
    assert!(reason(readiness(Operation::Approve, &request)).contains("earlier head"));
    assert_eq!(readiness(Operation::Approve, &planned()), Readiness::Ready);
    assert!(matches!(
        readiness(Operation::Approve, &approved()),
        Readiness::AlreadyDone(_)
    ));
}

#[test]
fn merge_needs_the_approval_to_be_for_the_current_head() {
    assert!(matches!(
        readiness(Operation::Merge, &planned()),
        Readiness::NotReady(_)
    ));
    assert_eq!(readiness(Operation::Merge, &approved()), Readiness::Ready);
    let mut moved = approved();
    moved.pr.as_deref_mut().unwrap().head_sha = Some("h2".into());
    assert!(reason(readiness(Operation::Merge, &moved)).contains("earlier head"));
    assert!(matches!(
        readiness(Operation::Merge, &merged()),
        Readiness::AlreadyDone(_)
    ));
}

#[test]
fn apply_runs_once_after_merge_and_may_retry_a_failure() {
    assert!(reason(readiness(Operation::Apply, &approved())).contains("not merged"));
    assert_eq!(readiness(Operation::Apply, &merged()), Readiness::Ready);
    let mut running = merged();
    running.apply_run = run("queued", None, "m1");
    assert!(matches!(
        readiness(Operation::Apply, &running),
        Readiness::AlreadyDone(_)
    ));
    let mut pending = merged();
    pending.apply_run = Some(Box::new(RunFact {
        dispatch_id: Some("d1".into()),
        ..RunFact::default()
    }));
    assert!(dispatch_pending(pending.apply_run.as_deref().unwrap()));
    assert_eq!(readiness(Operation::Apply, &pending), Readiness::Ready);
    let mut failed = merged();
    failed.apply_run = run("completed", Some("failure"), "m1");
    assert_eq!(readiness(Operation::Apply, &failed), Readiness::Ready);
    let mut rejected = merged();
    let mut other = run("completed", None, "x9").unwrap();
    other.status = None;
    other.extra.insert(
        "rejected".into(),
        "runs x9, not the merged commit m1".into(),
    );
    rejected.apply_run = Some(other);
    assert_eq!(readiness(Operation::Apply, &rejected), Readiness::Ready);
    assert!(matches!(
        readiness(Operation::Apply, &applied()),
        Readiness::AlreadyDone(_)
    ));
}

#[test]
fn destroy_is_decided_with_a_reason() {
    let refusal = can_destroy(&approved()).unwrap_err();
    assert!(reason(refusal).contains("never applied"));
    assert!(
        can_destroy(&applied())
            .unwrap()
            .contains("can be destroyed")
    );
    let mut partly = merged();
    partly.apply_run = run("completed", Some("failure"), "m1");
    assert!(can_destroy(&partly).unwrap().contains("apply failed"));
    let mut destroyed = applied();
    destroyed.destroy_run = run("completed", Some("success"), "m1");
    assert!(matches!(
        readiness(Operation::Destroy, &destroyed),
        Readiness::AlreadyDone(_)
    ));
    assert_eq!(readiness(Operation::Cleanup, &destroyed), Readiness::Ready);
    assert!(reason(readiness(Operation::Cleanup, &applied())).contains("destroy"));
}

/// Found by the 100-lifecycle soak under faults: a cleanup whose check dispatch never reached
/// GitHub was reported "already opened" on every retry, so the check was never sent.
#[test]
fn cleanup_resumes_until_its_check_reached_github() {
    let mut destroyed = applied();
    destroyed.destroy_run = run("completed", Some("success"), "m1");
    destroyed.cleanup_pr = destroyed.pr.clone();
    assert_eq!(
        readiness(Operation::Cleanup, &destroyed),
        Readiness::Ready,
        "the PR is open but no check was dispatched"
    );
    let mut pending = destroyed.clone();
    pending.cleanup_run = Some(Box::new(RunFact {
        dispatch_id: Some("d1".into()),
        ..RunFact::default()
    }));
    assert_eq!(
        readiness(Operation::Cleanup, &pending),
        Readiness::Ready,
        "a dispatch GitHub never confirmed is resumed"
    );
    let mut running = destroyed.clone();
    running.cleanup_run = run("in_progress", None, "m1");
    assert!(matches!(
        readiness(Operation::Cleanup, &running),
        Readiness::AlreadyDone(why) if why.contains("running")
    ));
    let mut passed = destroyed.clone();
    passed.cleanup_run = run("completed", Some("success"), "m1");
    assert!(matches!(
        readiness(Operation::Cleanup, &passed),
        Readiness::AlreadyDone(why) if why.contains("passed")
    ));
    let mut failed = destroyed;
    failed.cleanup_run = run("completed", Some("failure"), "m1");
    assert_eq!(
        readiness(Operation::Cleanup, &failed),
        Readiness::Ready,
        "a failed state check can be run again"
    );
}

#[test]
fn drift_checks_only_standing_applied_requests() {
    assert!(drift_eligible(&applied()));
    assert!(!drift_eligible(&merged()));
    let mut checking = applied();
    checking.drift_run = run("in_progress", None, "m1");
    assert!(!drift_eligible(&checking));
    assert!(matches!(
        readiness(Operation::DriftCheck, &checking),
        Readiness::AlreadyDone(_)
    ));
}

#[test]
fn plan_and_update_stop_at_the_merge() {
    assert_eq!(readiness(Operation::Update, &approved()), Readiness::Ready);
    assert!(reason(readiness(Operation::Update, &merged())).contains("already merged"));
    assert!(
        reason(readiness(Operation::Update, &merged())).contains("an update of the branch"),
        "{}",
        reason(readiness(Operation::Update, &merged()))
    );
    assert!(reason(readiness(Operation::Plan, &merged())).contains("a plan of the branch"));
    let mut running = opened();
    running.plan_run = run("queued", None, "h1");
    assert!(matches!(
        readiness(Operation::Plan, &running),
        Readiness::AlreadyDone(_)
    ));
    assert_eq!(readiness(Operation::Update, &running), Readiness::Ready);
}
