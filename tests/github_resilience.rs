//! The rate-aware layer against injected faults, exhausted budgets and rate
//! limits, on tokio's paused clock: waits are measured, never slept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/sim.rs"]
mod support;

use std::time::Duration;

use support::{calls, client, repo, simulator};
use tfpilot::github::{DispatchInputs, GitHubError, MergeMethod, RunFoundBy};
use tfpilot::sim::{FaultRule, SimOptions, Simulator};
use tokio::time::Instant;

const PULL: &str = "GET /repos/{owner}/{repo}/pulls/{number}";
const PULL_ROUTE: &str = "/repos/{owner}/{repo}/pulls/{number}";

fn fault(path: &str) -> FaultRule {
    FaultRule::on(path)
}

/// A repo with one open PR; returns its number and head sha.
async fn open_pull(sim: &Simulator) -> (u64, String) {
    let github = client(sim, "alice");
    let repo = repo();
    let main = github.branch_sha(&repo, "main").await.unwrap().unwrap();
    github.create_branch(&repo, "feature", &main).await.unwrap();
    let file = github
        .get_file(&repo, "README.md", "feature")
        .await
        .unwrap()
        .unwrap();
    let commit = github
        .put_file(
            &repo,
            "README.md",
            "feature",
            "changed\n",
            "change",
            Some(&file.sha),
        )
        .await
        .unwrap();
    let (pull, _) = github
        .open_pull(&repo, "feature", "main", "Change", "")
        .await
        .unwrap();
    (pull.number, commit.commit_sha)
}

fn inputs(dispatch_id: &str) -> DispatchInputs {
    DispatchInputs {
        request_id: "req_r".into(),
        environment: "dev".into(),
        dispatch_id: dispatch_id.into(),
        scope: None,
        block_id: None,
    }
}

/// The facts an operation checks before it acts come from GitHub, not from a cached answer that
/// is still within its TTL: a pull request merged by someone else a second ago must be seen.
#[tokio::test(start_paused = true)]
async fn a_check_before_acting_asks_github_even_within_the_ttl() {
    let sim = simulator(SimOptions::default()).await;
    let (number, head) = open_pull(&sim).await;
    let bob = client(&sim, "bob");
    assert!(!bob.get_pull(&repo(), number).await.unwrap().is_merged());
    client(&sim, "alice")
        .merge(&repo(), number, &head, tfpilot::github::MergeMethod::Merge)
        .await
        .unwrap();
    assert!(
        !bob.get_pull(&repo(), number).await.unwrap().is_merged(),
        "within the TTL the cache answers, with the old state"
    );
    let current = bob.get_pull_current(&repo(), number).await.unwrap();
    assert!(current.is_merged(), "the check sees the merge");
    assert!(current.merge_commit_sha.is_some());
    // Asked again with nothing changed: a 304, free of rate limit.
    bob.get_pull_current(&repo(), number).await.unwrap();
    assert_eq!(sim.calls_to("GET", PULL_ROUTE).get(&304), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn etags_make_rereads_free_and_ttl_makes_them_local() {
    let sim = simulator(SimOptions::default()).await;
    let (number, _) = open_pull(&sim).await;
    let github = client(&sim, "bob");
    github.get_pull(&repo(), number).await.unwrap();
    let spent = github.transport().budget().borrow().clone().unwrap();
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(
        calls(&github, PULL, "cached"),
        1,
        "within 30 s the cache answers"
    );

    tokio::time::advance(Duration::from_secs(31)).await;
    let pull = github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(pull.number, number);
    assert_eq!(calls(&github, PULL, "304"), 1);
    assert_eq!(sim.calls_to("GET", PULL_ROUTE).get(&304), Some(&1));
    let after = github.transport().budget().borrow().clone().unwrap();
    assert_eq!(
        after.remaining, spent.remaining,
        "a 304 costs no rate limit"
    );
    assert_eq!(after.limit, 5000);
}

#[tokio::test(start_paused = true)]
async fn gets_back_off_on_5xx_and_network_failures() {
    let sim = simulator(SimOptions::default()).await;
    let (number, _) = open_pull(&sim).await;
    let github = client(&sim, "bob");

    sim.add_fault(FaultRule {
        status: Some(502),
        times: Some(2),
        ..fault("/repos/acme/infra-live/pulls/*")
    });
    let started = Instant::now();
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(started.elapsed().as_secs(), 3, "1 s then 2 s");
    assert_eq!(
        (calls(&github, PULL, "5xx"), calls(&github, PULL, "200")),
        (2, 1)
    );

    tokio::time::advance(Duration::from_secs(60)).await;
    sim.add_fault(FaultRule {
        drop_connection: true,
        times: Some(1),
        ..fault("/repos/acme/infra-live/pulls/*")
    });
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(calls(&github, PULL, "network"), 1);

    tokio::time::advance(Duration::from_secs(60)).await;
    sim.add_fault(FaultRule {
        status: Some(500),
        ..fault("/repos/acme/infra-live/pulls/*")
    });
    let started = Instant::now();
    let error = github.get_pull(&repo(), number).await.unwrap_err();
    assert_eq!(started.elapsed().as_secs(), 7, "1 + 2 + 4 s");
    assert!(
        matches!(
            error,
            GitHubError::Server {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("try again later"));
}

#[tokio::test(start_paused = true)]
async fn a_budget_spent_for_an_hour_is_reported_at_once_with_its_reset() {
    let sim = simulator(SimOptions::default()).await;
    let (number, _) = open_pull(&sim).await;
    let github = client(&sim, "bob");
    sim.set_rate_limit("bob", 0, Duration::from_secs(3600));

    let started = Instant::now();
    let error = github.get_pull(&repo(), number).await.unwrap_err();
    assert_eq!(
        started.elapsed().as_secs(),
        0,
        "waiting a minute would not help"
    );
    let GitHubError::RateLimited {
        reset_at: Some(reset),
        secondary: false,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert!(error.to_string().contains(&reset.to_string()));
    assert_eq!(sim.calls_to("GET", PULL_ROUTE).get(&403), Some(&1));

    // The budget is known to be spent: the next call is not even sent.
    let started = Instant::now();
    assert!(
        github
            .get_pull(&repo(), number)
            .await
            .unwrap_err()
            .is_rate_limited()
    );
    assert_eq!(started.elapsed().as_secs(), 0);
    assert_eq!(sim.calls_to("GET", PULL_ROUTE).get(&403), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_and_secondary_limits_are_waited_out() {
    let sim = simulator(SimOptions::default()).await;
    let (number, _) = open_pull(&sim).await;
    let github = client(&sim, "bob");

    sim.add_fault(FaultRule {
        status: Some(429),
        retry_after: Some(90),
        times: Some(1),
        ..fault("/repos/*/pulls/*")
    });
    let started = Instant::now();
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(started.elapsed().as_secs(), 90, "retry-after is honoured");

    tokio::time::advance(Duration::from_secs(60)).await;
    let secondary = serde_json::json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    });
    sim.add_fault(FaultRule {
        status: Some(403),
        body: Some(secondary),
        times: Some(1),
        ..fault("/repos/*/pulls/*")
    });
    let started = Instant::now();
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(
        started.elapsed().as_secs(),
        60,
        "secondary limits without retry-after back off 60 s"
    );

    // A short retry-after is honoured as given, not stretched to a minute.
    tokio::time::advance(Duration::from_secs(60)).await;
    sim.add_fault(FaultRule {
        status: Some(429),
        retry_after: Some(2),
        times: Some(1),
        ..fault("/repos/*/pulls/*")
    });
    let started = Instant::now();
    github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(started.elapsed().as_secs(), 2, "retry-after 2 is 2 s");
}

#[tokio::test(start_paused = true)]
async fn a_dispatch_whose_answer_is_lost_is_not_sent_again() {
    let sim = simulator(SimOptions::default()).await;
    let github = client(&sim, "alice");
    let dispatches = "/repos/acme/infra-live/actions/workflows/*/dispatches";

    sim.add_fault(FaultRule {
        drop_connection: true,
        after_handler: true,
        times: Some(1),
        ..fault(dispatches)
    });
    let dispatched = github
        .dispatch(&repo(), "tfpilot-apply.yml", "main", &inputs("lost"))
        .await
        .unwrap();
    assert_eq!(dispatched.found_by, Some(RunFoundBy::Lookup));
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-apply.yml", "req_r"),
        1
    );

    sim.add_fault(FaultRule {
        status: Some(502),
        after_handler: true,
        times: Some(1),
        ..fault(dispatches)
    });
    let dispatched = github
        .dispatch(&repo(), "tfpilot-apply.yml", "main", &inputs("bad-gateway"))
        .await
        .unwrap();
    assert_eq!(dispatched.found_by, Some(RunFoundBy::Lookup));
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-apply.yml", "req_r"),
        2
    );

    // A server that ignores return_run_details answers 204: the run is looked up.
    sim.add_fault(FaultRule {
        status: Some(204),
        after_handler: true,
        times: Some(1),
        ..fault(dispatches)
    });
    let dispatched = github
        .dispatch(&repo(), "tfpilot-apply.yml", "main", &inputs("no-details"))
        .await
        .unwrap();
    assert_eq!(dispatched.found_by, Some(RunFoundBy::Lookup));
    let run = github
        .get_run(&repo(), dispatched.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(run.tfpilot_name().unwrap().dispatch_id, "no-details");
    sim.clear_faults();

    // Refused before GitHub acted: sent again, once.
    sim.add_fault(FaultRule {
        status: Some(503),
        times: Some(1),
        ..fault(dispatches)
    });
    let dispatched = github
        .dispatch(&repo(), "tfpilot-apply.yml", "main", &inputs("unavailable"))
        .await
        .unwrap();
    assert_eq!(dispatched.found_by, Some(RunFoundBy::RunDetails));
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-apply.yml", "req_r"),
        4
    );
    let run = github
        .get_run(&repo(), dispatched.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(run.tfpilot_name().unwrap().dispatch_id, "unavailable");
}

#[tokio::test(start_paused = true)]
async fn merges_retry_safely_and_other_writes_do_not_retry() {
    let sim = simulator(SimOptions::default()).await;
    let (number, head) = open_pull(&sim).await;
    let github = client(&sim, "alice");

    sim.add_fault(FaultRule {
        status: Some(502),
        after_handler: true,
        times: Some(1),
        ..fault("/repos/*/pulls/*/merge")
    });
    let sha = github
        .merge(&repo(), number, &head, MergeMethod::Merge)
        .await
        .unwrap();
    let pull = github.get_pull(&repo(), number).await.unwrap();
    assert_eq!(pull.merge_commit_sha.as_deref(), Some(sha.as_str()));
    assert_eq!(
        sim.calls_to("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
            .get(&405),
        Some(&1),
        "the retry found it merged"
    );

    let main = github
        .get_file(&repo(), "README.md", "main")
        .await
        .unwrap()
        .unwrap();
    sim.add_fault(FaultRule {
        status: Some(500),
        method: Some("PUT".into()),
        times: Some(1),
        ..fault("/repos/*/contents/*")
    });
    let error = github
        .put_file(&repo(), "README.md", "main", "x\n", "m", Some(&main.sha))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitHubError::Server { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(
        sim.calls_to("PUT", "/repos/{owner}/{repo}/contents/{*path}")
            .get(&500),
        Some(&1)
    );
}

#[tokio::test(start_paused = true)]
async fn long_logs_keep_their_tail_in_whole_lines() {
    let sim = simulator(SimOptions::default()).await;
    let github = client(&sim, "alice");
    let dispatched = github
        .dispatch(&repo(), "tfpilot-plan.yml", "main", &inputs("log"))
        .await
        .unwrap();
    sim.advance(Duration::from_secs(30));
    tokio::time::advance(Duration::from_secs(30)).await;
    let jobs = github
        .list_jobs(&repo(), dispatched.run_id.unwrap())
        .await
        .unwrap();
    let full = github.job_log(&repo(), jobs[0].id, 1 << 20).await.unwrap();
    let tail = github.job_log(&repo(), jobs[0].id, 300).await.unwrap();
    assert!(tail.truncated && !full.truncated);
    assert!(tail.text.len() <= 300);
    assert!(full.text.ends_with(&tail.text));
    assert!(
        tail.text.starts_with("20"),
        "starts at a timestamped line: {}",
        tail.text
    );
}

#[tokio::test(start_paused = true)]
async fn plain_refusals_are_not_mistaken_for_rate_limits() {
    let sim = simulator(SimOptions::default()).await;
    let (number, _) = open_pull(&sim).await;
    let github = client(&sim, "bob");
    let body = serde_json::json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"});
    sim.add_fault(FaultRule {
        status: Some(403),
        body: Some(body),
        times: Some(1),
        ..fault("/repos/*/pulls/*")
    });
    let started = Instant::now();
    let error = github.get_pull(&repo(), number).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait for a refusal");
    assert!(matches!(error, GitHubError::Forbidden { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("Resource not accessible by integration")
            && error.to_string().contains("scopes")
    );
}

#[tokio::test(start_paused = true)]
async fn a_400_for_run_details_is_answered_by_asking_without_them() {
    let sim = simulator(SimOptions::default()).await;
    let github = client(&sim, "alice");
    let body = serde_json::json!({"message": "Invalid request.\n\n\"return_run_details\" is not a permitted key."});
    sim.add_fault(FaultRule {
        status: Some(400),
        body: Some(body),
        times: Some(1),
        ..fault("/repos/acme/infra-live/actions/workflows/*/dispatches")
    });
    let dispatched = github
        .dispatch(&repo(), "tfpilot-plan.yml", "main", &inputs("old-400"))
        .await
        .unwrap();
    assert_eq!(
        dispatched.found_by,
        Some(RunFoundBy::Lookup),
        "the resend had no run details to return"
    );
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-plan.yml", "req_r"),
        1
    );
}
