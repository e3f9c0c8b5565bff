use proptest::prelude::*;

use super::*;
use crate::domain::request::{Approval, PullRequestFact};
use crate::domain::run::{RunConclusion, RunStatus};
use crate::domain::time::Timestamp;

fn base() -> Request {
    let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    Request::new("req_1", "payments", "dev", "s3-bucket", "alice", now)
}

fn run(status: &str, conclusion: Option<&str>) -> Option<Box<RunFact>> {
    Some(Box::new(RunFact {
        id: Some(1),
        status: Some(RunStatus::parse(status)),
        conclusion: conclusion.map(RunConclusion::parse),
        ..RunFact::default()
    }))
}

fn open_pr() -> Option<Box<PullRequestFact>> {
    Some(Box::new(PullRequestFact {
        number: Some(1),
        state: Some("open".into()),
        ..Default::default()
    }))
}

/// Makes `rule` match on `request` by setting the facts that rule reads.
fn establish(rule: Rule, request: &mut Request) {
    match rule {
        Rule::Withdrawn => {
            request.withdrawal = Some(Box::new(crate::domain::request::Withdrawal {
                by: "alice".into(),
                at: request.created_at,
                reason: Some("not needed".into()),
            }));
            // Withdrawn reads absences too: nothing merged, nothing applied.
            request.merged_sha = None;
            request.apply_run = None;
            request.pr = Some(Box::new(PullRequestFact {
                number: Some(1),
                state: Some("closed".into()),
                ..Default::default()
            }));
        }
        Rule::DestroyInFlight => request.destroy_run = run("in_progress", None),
        Rule::DestroySucceeded => request.destroy_run = run("completed", Some("success")),
        Rule::DestroyFailed => request.destroy_run = run("completed", Some("failure")),
        Rule::ApplyFailed => request.apply_run = run("completed", Some("cancelled")),
        Rule::PlanFailed => request.plan_run = run("completed", Some("timed_out")),
        Rule::ApplyInFlight => request.apply_run = run("queued", None),
        Rule::ApplySucceeded => request.apply_run = run("completed", Some("success")),
        Rule::Merged => request.merged_sha = Some("abc".into()),
        Rule::Approved => {
            request.approval = Some(Box::new(Approval {
                approved: true,
                approvers: vec!["bob".into()],
                ..Default::default()
            }))
        }
        Rule::PlanSucceeded => request.plan_run = run("completed", Some("success")),
        Rule::PlanInFlightOrPrOpen => request.pr = open_pr(),
        Rule::NothingYet => {}
    }
}

#[test]
fn an_apply_or_destroy_cancelled_before_it_started_counts_as_no_run() {
    let unstarted = || {
        let mut run = run("completed", Some("cancelled"));
        if let Some(run) = run.as_deref_mut() {
            run.cancelled_before_start_by = Some("bob".into());
        }
        run
    };
    let mut request = base();
    request.pr = open_pr();
    // A cancelled plan did not succeed, however it was cancelled: plan again.
    request.plan_run = unstarted();
    assert_eq!(derive_status(&request), Status::Failed);
    request.plan_run = run("completed", Some("success"));
    request.merged_sha = Some("abc".into());
    request.apply_run = unstarted();
    assert_eq!(derive(&request).rule, Rule::Merged);
    // Cancelled on GitHub, perhaps half way: failed.
    request.apply_run = run("completed", Some("cancelled"));
    assert_eq!(derive(&request).rule, Rule::ApplyFailed);
    request.apply_run = run("completed", Some("success"));
    request.destroy_run = unstarted();
    assert_eq!(derive(&request).rule, Rule::ApplySucceeded);
    request.destroy_run = run("completed", Some("cancelled"));
    assert_eq!(derive(&request).rule, Rule::DestroyFailed);
}

#[test]
fn each_rule_alone_gives_its_status() {
    let expected = [
        (Rule::Withdrawn, Status::Withdrawn),
        (Rule::DestroyInFlight, Status::Destroying),
        (Rule::DestroySucceeded, Status::Destroyed),
        (Rule::DestroyFailed, Status::Failed),
        (Rule::ApplyFailed, Status::Failed),
        (Rule::PlanFailed, Status::Failed),
        (Rule::ApplyInFlight, Status::Applying),
        (Rule::ApplySucceeded, Status::Applied),
        (Rule::Merged, Status::Merged),
        (Rule::Approved, Status::Approved),
        (Rule::PlanSucceeded, Status::PlanReady),
        (Rule::PlanInFlightOrPrOpen, Status::Planning),
        (Rule::NothingYet, Status::RequestCreated),
    ];
    for (rule, status) in expected {
        let mut request = base();
        establish(rule, &mut request);
        let derivation = derive(&request);
        assert_eq!(derivation.rule, rule, "{rule:?}");
        assert_eq!(derivation.status, status, "{rule:?}");
        assert_eq!(derive_status(&request), status);
    }
}

/// A withdrawal is a claim too: it stands only while GitHub's pull request is closed unmerged.
#[test]
fn a_withdrawal_counts_only_with_the_pull_request_closed_and_nothing_merged() {
    let mut request = base();
    establish(Rule::Withdrawn, &mut request);
    request.plan_run = run("completed", Some("cancelled"));
    assert_eq!(derive_status(&request), Status::Withdrawn, "not failed");
    request.pr = open_pr();
    assert_eq!(
        derive_status(&request),
        Status::Failed,
        "reopened on GitHub"
    );
    request.pr = None;
    assert_eq!(
        derive_status(&request),
        Status::Withdrawn,
        "never reached GitHub"
    );
    request.plan_run = None;
    request.merged_sha = Some("abc".into());
    assert_eq!(derive(&request).rule, Rule::Merged);
}

#[test]
fn rule_numbers_follow_the_design_order() {
    let numbers: Vec<u8> = Rule::ALL.iter().map(|r| r.number()).collect();
    assert_eq!(numbers, (1..=13).collect::<Vec<u8>>());
}

#[test]
fn every_priority_conflict_goes_to_the_higher_rule() {
    let mut checked = 0;
    for (i, higher) in Rule::ALL.iter().enumerate() {
        for lower in &Rule::ALL[i + 1..] {
            let mut request = base();
            establish(*lower, &mut request);
            establish(*higher, &mut request);
            // Rules over the same run cannot both hold (a run has one state); skip those pairs.
            if !(matches(*higher, &request) && matches(*lower, &request)) {
                continue;
            }
            checked += 1;
            let derivation = derive(&request);
            assert_eq!(derivation.rule, *higher, "{higher:?} must beat {lower:?}");
        }
    }
    assert!(checked >= 50, "only {checked} conflicts exercised");
}

#[test]
fn variants_of_each_rule() {
    let mut request = base();
    request.destroy_run = run("waiting", None);
    assert_eq!(derive_status(&request), Status::Destroying);

    let mut request = base();
    request.pr = Some(Box::new(PullRequestFact {
        merged: true,
        ..Default::default()
    }));
    assert_eq!(derive(&request).rule, Rule::Merged);

    let mut request = base();
    request.plan_run = run("in_progress", None);
    assert_eq!(derive_status(&request), Status::Planning);

    // A closed, unmerged PR with nothing else is back to `request_created`.
    let mut request = base();
    request.pr = Some(Box::new(PullRequestFact {
        state: Some("closed".into()),
        ..Default::default()
    }));
    assert_eq!(derive_status(&request), Status::RequestCreated);

    // A completed run without a conclusion is not a success.
    let mut request = base();
    request.apply_run = run("completed", None);
    assert_eq!(derive(&request).rule, Rule::ApplyFailed);

    // Skipped is not success either (completed without success is failed).
    let mut request = base();
    request.plan_run = run("completed", Some("skipped"));
    assert_eq!(derive_status(&request), Status::Failed);

    // An approval that is recorded but not granted does not count.
    let mut request = base();
    request.approval = Some(Box::new(Approval {
        approved: false,
        ..Default::default()
    }));
    assert_eq!(derive_status(&request), Status::RequestCreated);

    // A status string persisted by an older sync is never trusted.
    let mut request = base();
    request.status = Some("applied".into());
    assert_eq!(derive_status(&request), Status::RequestCreated);
}

#[test]
fn explanation_names_the_facts_used() {
    let mut request = base();
    request.apply_run = Some(Box::new(RunFact {
        id: Some(99),
        status: Some(RunStatus::InProgress),
        ..RunFact::default()
    }));
    let derivation = derive(&request);
    assert_eq!(
        derivation.facts,
        vec![Fact {
            name: "apply_run",
            value: "in_progress (run 99)".into()
        }]
    );
}

#[test]
fn status_names_round_trip_and_terminal_set() {
    for status in Status::ALL {
        assert_eq!(Status::parse(status.as_str()), Some(status));
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
    assert_eq!(Status::parse("Plan Ready"), Some(Status::PlanReady));
    let terminal: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(
        terminal,
        vec![
            Status::Applied,
            Status::Destroyed,
            Status::Failed,
            Status::Withdrawn
        ]
    );
}

fn arb_run() -> impl Strategy<Value = Option<Box<RunFact>>> {
    let status = prop_oneof![
        Just(None),
        Just(Some("queued")),
        Just(Some("in_progress")),
        Just(Some("waiting")),
        Just(Some("completed")),
        Just(Some("weird")),
    ];
    let conclusion = prop_oneof![
        Just(None),
        Just(Some("success")),
        Just(Some("failure")),
        Just(Some("cancelled")),
        Just(Some("skipped")),
        Just(Some("other")),
    ];
    prop_oneof![
        Just(None),
        (status, conclusion).prop_map(|(s, c)| Some(Box::new(RunFact {
            status: s.map(RunStatus::parse),
            conclusion: c.map(RunConclusion::parse),
            ..RunFact::default()
        }))),
    ]
}

fn arb_request() -> impl Strategy<Value = Request> {
    let pr = prop_oneof![
        Just(None),
        (
            any::<bool>(),
            prop_oneof![Just(None), Just(Some("open")), Just(Some("closed"))]
        )
            .prop_map(|(merged, state)| Some(Box::new(PullRequestFact {
                merged,
                state: state.map(String::from),
                ..Default::default()
            }))),
    ];
    let approval = prop_oneof![
        Just(None),
        any::<bool>().prop_map(|approved| Some(Box::new(Approval {
            approved,
            ..Default::default()
        }))),
    ];
    (arb_run(), arb_run(), arb_run(), pr, approval, any::<bool>()).prop_map(
        |(plan, apply, destroy, pr, approval, merged_sha)| {
            let mut request = base();
            request.plan_run = plan;
            request.apply_run = apply;
            request.destroy_run = destroy;
            request.pr = pr;
            request.approval = approval;
            request.merged_sha = merged_sha.then(|| "abc".to_string());
            request
        },
    )
}

proptest! {
    #[test]
    fn derivation_is_total_and_the_first_matching_rule_wins(request in arb_request()) {
        let derivation = derive(&request);
        prop_assert!(matches(derivation.rule, &request));
        prop_assert_eq!(derivation.status, derivation.rule.status());
        for earlier in Rule::ALL.iter().take_while(|r| **r != derivation.rule) {
            prop_assert!(!matches(*earlier, &request), "{:?} matched but {:?} won", earlier, derivation.rule);
        }
    }

    #[test]
    fn adding_a_higher_rule_fact_always_overrides(request in arb_request(), index in 0usize..12) {
        let rule = Rule::ALL[index];
        let mut request = request;
        establish(rule, &mut request);
        let winner = derive(&request).rule;
        prop_assert!(winner <= rule, "{:?} established, {:?} won", rule, winner);
    }
}
