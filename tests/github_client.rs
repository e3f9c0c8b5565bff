//! The GitHub client against the simulator over HTTP: every operation tfpilot
//! uses, and how each GitHub error comes back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/sim.rs"]
mod support;

use std::time::Duration;

use support::{FILE, PREAMBLE, client, repo, simulator};
use tfpilot::domain::catalog::ModuleDef;
use tfpilot::domain::infra_file::upsert_block;
use tfpilot::github::{
    BranchCreated, DispatchInputs, GitHubError, MergeMethod, PullOpened, RunFoundBy,
};
use tfpilot::sim::{ScriptedOutcome, SimOptions};

const BUCKET: &str = r#"{"name": "s3-bucket", "source": "git::https://github.com/acme/terraform-modules.git//s3-bucket",
  "version": "v2.3.0", "fields": [{"name": "bucket_name", "type": "string", "required": true},
  {"name": "versioning", "type": "bool", "default": false}]}"#;

fn block_file(base: &str, id: &str, name: &str) -> String {
    let module = ModuleDef::parse(BUCKET, "test").unwrap();
    let config = module
        .validate(
            &serde_json::json!({"bucket_name": name})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .unwrap();
    upsert_block(base, FILE, &module.block(id, &config)).unwrap()
}

/// Time passes for GitHub and for the client's caches alike.
async fn elapse(sim: &tfpilot::sim::Simulator, by: Duration) {
    sim.advance(by);
    tokio::time::advance(by).await;
}

fn inputs(request_id: &str, dispatch_id: &str) -> DispatchInputs {
    DispatchInputs {
        request_id: request_id.into(),
        environment: "dev".into(),
        dispatch_id: dispatch_id.into(),
        scope: None,
        block_id: None,
    }
}

/// Branch, commit, PR: what opening a request does. Returns (PR number, head sha).
async fn open_request(github: &tfpilot::github::GitHub, id: &str, bucket: &str) -> (u64, String) {
    let repo = repo();
    let main = github.branch_sha(&repo, "main").await.unwrap().unwrap();
    let branch = format!("tfpilot/{id}");
    assert_eq!(
        github.create_branch(&repo, &branch, &main).await.unwrap(),
        BranchCreated::Created
    );
    let file = github
        .get_file(&repo, FILE, &branch)
        .await
        .unwrap()
        .unwrap();
    let text = block_file(&file.text, id, bucket);
    let commit = github
        .put_file(
            &repo,
            FILE,
            &branch,
            &text,
            &format!("tfpilot: {id}"),
            Some(&file.sha),
        )
        .await
        .unwrap();
    let (pull, opened) = github
        .open_pull(
            &repo,
            &branch,
            "main",
            &format!("tfpilot: {id}"),
            "Requested with tfpilot",
        )
        .await
        .unwrap();
    assert_eq!(opened, PullOpened::Created);
    assert_eq!(pull.head.sha, commit.commit_sha);
    (pull.number, commit.commit_sha)
}

#[tokio::test(start_paused = true)]
async fn a_request_goes_from_branch_to_applied() {
    let sim = simulator(SimOptions::default()).await;
    let alice = client(&sim, "alice");
    let bob = client(&sim, "bob");
    let repo = repo();

    assert_eq!(alice.current_user().await.unwrap().login, "alice");
    let (number, head) = open_request(&alice, "req_1", "payments-dev-logs").await;

    // Opening it again (a retried create) reuses the open PR.
    let (again, opened) = alice
        .open_pull(&repo, "tfpilot/req_1", "main", "tfpilot: req_1", "")
        .await
        .unwrap();
    assert_eq!((again.number, opened), (number, PullOpened::Reused));
    // So does creating the branch again.
    assert_eq!(
        alice
            .create_branch(&repo, "tfpilot/req_1", "0000")
            .await
            .unwrap(),
        BranchCreated::Existed { sha: head.clone() }
    );

    // Plan on the branch.
    let plan = alice
        .dispatch(
            &repo,
            "tfpilot-plan.yml",
            "tfpilot/req_1",
            &inputs("req_1", "d-plan"),
        )
        .await
        .unwrap();
    assert_eq!(plan.found_by, Some(RunFoundBy::RunDetails));
    let plan_id = plan.run_id.unwrap();
    let run = alice.get_run(&repo, plan_id).await.unwrap();
    assert_eq!(run.status.as_deref(), Some("queued"));
    // As on GitHub: the workflow's name, and the run-name as the display title.
    assert_eq!(run.name.as_deref(), Some("tfpilot plan"));
    assert_eq!(
        run.display_title.as_deref(),
        Some("tfpilot plan req_1 d-plan")
    );
    assert_eq!(run.tfpilot_name().unwrap().dispatch_id, "d-plan");
    assert_eq!(run.head_sha, head);
    elapse(&sim, Duration::from_secs(4)).await;
    let jobs = alice.list_jobs(&repo, plan_id).await.unwrap();
    assert_eq!(jobs[0].status, "in_progress");
    assert!(jobs[0].steps.iter().any(|step| step.status == "completed"));
    elapse(&sim, Duration::from_secs(10)).await;
    let jobs = alice.list_jobs(&repo, plan_id).await.unwrap();
    assert_eq!(
        (jobs[0].status.as_str(), jobs[0].conclusion.as_deref()),
        ("completed", Some("success"))
    );
    let log = alice.job_log(&repo, jobs[0].id, 1 << 20).await.unwrap();
    assert!(!log.truncated);
    assert!(
        log.text.contains("##[group]Run terraform plan"),
        "{}",
        log.text
    );
    assert!(
        log.text
            .contains("# module.tfpilot_req_1.aws_s3_bucket.this will be created"),
        "{}",
        log.text
    );
    assert!(
        log.text
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        log.text
    );
    assert!(
        log.text
            .lines()
            .all(|line| line.len() > 28 && &line[27..29] == "Z "),
        "timestamped lines"
    );

    // Approval: the author cannot, another approver can.
    let head = alice.get_pull(&repo, number).await.unwrap().head.sha;
    assert_eq!(
        alice
            .approve(&repo, number, &head, "lgtm")
            .await
            .unwrap_err(),
        GitHubError::SelfApproval
    );
    let review = bob.approve(&repo, number, &head, "lgtm").await.unwrap();
    assert_eq!(review.state, "APPROVED");
    let reviews = alice.list_reviews(&repo, number).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].user.as_ref().unwrap().login, "bob");

    // Merge at the planned head only.
    let wrong = alice
        .merge(
            &repo,
            number,
            "0123456789012345678901234567890123456789",
            MergeMethod::Squash,
        )
        .await;
    assert!(
        matches!(wrong, Err(GitHubError::HeadChanged { .. })),
        "{wrong:?}"
    );
    let merge_sha = alice
        .merge(&repo, number, &head, MergeMethod::Squash)
        .await
        .unwrap();
    let pull = alice.get_pull(&repo, number).await.unwrap();
    assert!(pull.is_merged(), "a write expires the cached PR");
    assert_eq!(pull.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
    assert!(pull.to_fact().merged);

    // Apply on main.
    let apply = alice
        .dispatch(
            &repo,
            "tfpilot-apply.yml",
            "main",
            &inputs("req_1", "d-apply"),
        )
        .await
        .unwrap();
    elapse(&sim, Duration::from_secs(10)).await;
    let run = alice.get_run(&repo, apply.run_id.unwrap()).await.unwrap();
    assert_eq!(run.head_sha, merge_sha);
    assert_eq!(run.to_fact().dispatch_id.as_deref(), Some("d-apply"));
    assert!(run.to_fact().succeeded());
    let jobs = alice.list_jobs(&repo, run.id).await.unwrap();
    let log = alice.job_log(&repo, jobs[0].id, 1 << 20).await.unwrap();
    assert!(
        log.text
            .contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."),
        "{}",
        log.text
    );

    // A second plan of the same file now sees no changes.
    let replan = alice
        .dispatch(
            &repo,
            "tfpilot-plan.yml",
            "main",
            &inputs("req_1", "d-replan"),
        )
        .await
        .unwrap();
    elapse(&sim, Duration::from_secs(10)).await;
    let jobs = alice
        .list_jobs(&repo, replan.run_id.unwrap())
        .await
        .unwrap();
    let log = alice.job_log(&repo, jobs[0].id, 1 << 20).await.unwrap();
    assert!(
        log.text
            .contains("No changes. Your infrastructure matches the configuration."),
        "{}",
        log.text
    );

    // Destroy removes what apply created.
    let destroy = alice
        .dispatch(
            &repo,
            "tfpilot-destroy.yml",
            "main",
            &inputs("req_1", "d-destroy"),
        )
        .await
        .unwrap();
    elapse(&sim, Duration::from_secs(10)).await;
    let jobs = alice
        .list_jobs(&repo, destroy.run_id.unwrap())
        .await
        .unwrap();
    let log = alice.job_log(&repo, jobs[0].id, 1 << 20).await.unwrap();
    assert!(
        log.text
            .contains("Destroy complete! Resources: 3 destroyed."),
        "{}",
        log.text
    );

    // Sync reads dispatched runs per repo, newest first.
    let page = alice.list_dispatch_runs(&repo, 1, 2).await.unwrap();
    assert_eq!(page.total_count, 4);
    assert_eq!(page.workflow_runs.len(), 2);
    assert_eq!(
        page.workflow_runs[0].tfpilot_name().unwrap().operation,
        "destroy"
    );
    let page2 = alice.list_dispatch_runs(&repo, 2, 2).await.unwrap();
    assert_eq!(
        page2.workflow_runs[1].tfpilot_name().unwrap().operation,
        "plan"
    );
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-apply.yml", "req_1"),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn scripted_failures_fail_the_run_with_terraform_errors() {
    let sim = simulator(SimOptions::default()).await;
    let alice = client(&sim, "alice");
    let (_, _) = open_request(&alice, "req_f", "payments-dev-fail").await;
    sim.script_outcome(ScriptedOutcome {
        request_id: "req_f".into(),
        operation: "plan".into(),
        conclusion: "failure".into(),
        error: Some("creating S3 Bucket (payments-dev-fail): BucketAlreadyExists".into()),
        drift: false,
        times: Some(1),
    });
    let repo = repo();
    let failed = alice
        .dispatch(
            &repo,
            "tfpilot-plan.yml",
            "tfpilot/req_f",
            &inputs("req_f", "p1"),
        )
        .await
        .unwrap();
    let retried = alice
        .dispatch(
            &repo,
            "tfpilot-plan.yml",
            "tfpilot/req_f",
            &inputs("req_f", "p2"),
        )
        .await
        .unwrap();
    elapse(&sim, Duration::from_secs(10)).await;
    let run = alice.get_run(&repo, failed.run_id.unwrap()).await.unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let jobs = alice.list_jobs(&repo, run.id).await.unwrap();
    let failed_step = jobs[0]
        .steps
        .iter()
        .find(|step| step.conclusion.as_deref() == Some("failure"))
        .unwrap();
    assert_eq!(failed_step.name, "Terraform plan");
    let log = alice.job_log(&repo, jobs[0].id, 1 << 20).await.unwrap();
    assert!(
        log.text
            .contains("│ Error: creating S3 Bucket (payments-dev-fail): BucketAlreadyExists"),
        "{}",
        log.text
    );
    assert!(
        log.text
            .contains("##[error]Process completed with exit code 1.")
    );
    let run = alice.get_run(&repo, retried.run_id.unwrap()).await.unwrap();
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "the script applied once"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_in_one_file_need_a_branch_update() {
    let sim = simulator(SimOptions::default()).await;
    let alice = client(&sim, "alice");
    let repo = repo();
    let (first, first_head) = open_request(&alice, "req_a", "payments-dev-a").await;
    let (second, second_head) = open_request(&alice, "req_b", "payments-dev-b").await;
    alice
        .merge(&repo, first, &first_head, MergeMethod::Merge)
        .await
        .unwrap();

    let pull = alice.get_pull(&repo, second).await.unwrap();
    assert_eq!(
        (pull.mergeable, pull.mergeable_state.as_deref()),
        (Some(false), Some("dirty"))
    );
    let refused = alice
        .merge(&repo, second, &second_head, MergeMethod::Merge)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        GitHubError::NotMergeable {
            reason: "Pull Request is not mergeable".into()
        }
    );

    let stale = alice
        .update_branch(&repo, second, "0000000000000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(stale, GitHubError::Validation { ref message, .. } if message.contains("expected head sha")),
        "{stale:?}"
    );
    alice
        .update_branch(&repo, second, &second_head)
        .await
        .unwrap();
    let pull = alice.get_pull(&repo, second).await.unwrap();
    assert_eq!(pull.mergeable, Some(true));
    alice
        .merge(&repo, second, &pull.head.sha, MergeMethod::Merge)
        .await
        .unwrap();
    let merged = alice
        .get_file(&repo, FILE, "main")
        .await
        .unwrap()
        .unwrap()
        .text;
    assert!(merged.starts_with(PREAMBLE));
    assert!(
        merged.contains("# tfpilot:begin/req_a") && merged.contains("# tfpilot:begin/req_b"),
        "{merged}"
    );
}

#[tokio::test(start_paused = true)]
async fn branch_protection_and_error_mappings() {
    let sim = simulator(SimOptions::default()).await;
    sim.require_approvals("acme", "infra-live", 1).unwrap();
    let alice = client(&sim, "alice");
    let repo = repo();
    let (number, head) = open_request(&alice, "req_p", "payments-dev-p").await;
    let refused = alice
        .merge(&repo, number, &head, MergeMethod::Merge)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        GitHubError::NotMergeable {
            reason: "At least 1 approving review is required by reviewers with write access."
                .into()
        }
    );

    // Stale blob sha: the file changed since it was read.
    let stale = alice
        .put_file(&repo, FILE, "main", "x", "m", Some("0000"))
        .await
        .unwrap_err();
    assert!(matches!(stale, GitHubError::Conflict { .. }), "{stale:?}");
    // Missing things.
    assert_eq!(
        alice.get_file(&repo, "nope.tf", "main").await.unwrap(),
        None
    );
    assert_eq!(alice.branch_sha(&repo, "nope").await.unwrap(), None);
    let missing = alice.get_pull(&repo, 999).await.unwrap_err();
    assert!(
        matches!(missing, GitHubError::NotFound { .. }),
        "{missing:?}"
    );
    let unknown = alice
        .dispatch(&repo, "deploy.yml", "main", &inputs("r", "d"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, GitHubError::NotFound { .. }),
        "{unknown:?}"
    );
    let bad_ref = alice
        .dispatch(&repo, "tfpilot-plan.yml", "no-branch", &inputs("r", "d"))
        .await
        .unwrap_err();
    assert!(
        bad_ref.to_string().contains("No ref found for: no-branch"),
        "{bad_ref}"
    );
    let directory = alice.get_file(&repo, "envs", "main").await.unwrap_err();
    assert!(
        directory.to_string().contains("envs is a directory"),
        "{directory}"
    );

    // A token the simulator does not know.
    let stranger = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts(),
        "ghp_notASimToken123",
    )
    .unwrap();
    let error = stranger.current_user().await.unwrap_err();
    assert!(matches!(error, GitHubError::Unauthorized { .. }));
    assert!(error.to_string().contains("tfpilot login"));
    assert!(!format!("{error} {error:?}").contains("ghp_notASimToken123"));

    let pasted = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts(),
        "ghp_pasted\twith a tab",
    )
    .err()
    .unwrap();
    assert!(
        pasted.to_string().contains("check GITHUB_TOKEN"),
        "{pasted}"
    );
    assert!(!pasted.to_string().contains("pasted"));

    let rate = alice.rate_limit().await.unwrap();
    assert_eq!(rate.limit, 5000);
    assert!(rate.remaining < 5000);
}

/// Protection says `dismiss_stale_reviews`: a push to the pull request's head dismisses the
/// approvals it had, as on GitHub, and the merge needs a new one.
#[tokio::test(start_paused = true)]
async fn a_push_dismisses_stale_approvals_on_a_protected_base() {
    let sim = simulator(SimOptions::default()).await;
    sim.require_approvals("acme", "infra-live", 1).unwrap();
    let (alice, bob) = (client(&sim, "alice"), client(&sim, "bob"));
    let repo = repo();
    let (number, head) = open_request(&alice, "req_s", "payments-dev-s").await;
    bob.approve(&repo, number, &head, "ok").await.unwrap();
    let branch = "tfpilot/req_s";
    let file = alice.get_file(&repo, FILE, branch).await.unwrap().unwrap();
    let pushed = alice
        .put_file(
            &repo,
            FILE,
            branch,
            &format!("{}\n# more\n", file.text),
            "more",
            Some(&file.sha),
        )
        .await
        .unwrap();
    let reviews = bob.list_reviews(&repo, number).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].state, "DISMISSED");
    let refused = alice
        .merge(&repo, number, &pushed.commit_sha, MergeMethod::Merge)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GitHubError::NotMergeable { .. }),
        "{refused:?}"
    );
    bob.approve(&repo, number, &pushed.commit_sha, "ok again")
        .await
        .unwrap();
    elapse(&sim, Duration::from_secs(10)).await;
    alice
        .merge(&repo, number, &pushed.commit_sha, MergeMethod::Merge)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn mergeability_is_unknown_while_github_computes_it() {
    let sim = simulator(SimOptions {
        mergeability_seconds: 3,
        ..SimOptions::default()
    })
    .await;
    let alice = client(&sim, "alice");
    let (number, _) = open_request(&alice, "req_m", "payments-dev-m").await;
    let pull = alice.get_pull(&repo(), number).await.unwrap();
    assert_eq!(
        (pull.mergeable, pull.mergeable_state.as_deref()),
        (None, Some("unknown"))
    );
    elapse(&sim, Duration::from_secs(31)).await;
    let pull = alice.get_pull(&repo(), number).await.unwrap();
    assert_eq!(
        (pull.mergeable, pull.mergeable_state.as_deref()),
        (Some(true), Some("clean"))
    );
}

#[tokio::test(start_paused = true)]
async fn older_servers_without_run_details_are_found_by_dispatch_id() {
    let sim = simulator(SimOptions {
        return_run_details: false,
        ..SimOptions::default()
    })
    .await;
    let alice = client(&sim, "alice");
    let repo = repo();
    let dispatched = alice
        .dispatch(
            &repo,
            "tfpilot-plan.yml",
            "main",
            &inputs("req_old", "d-old"),
        )
        .await
        .unwrap();
    assert_eq!(dispatched.found_by, Some(RunFoundBy::Lookup));
    let run = alice
        .get_run(&repo, dispatched.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(run.tfpilot_name().unwrap().dispatch_id, "d-old");
    assert_eq!(
        sim.dispatch_count("acme", "infra-live", "tfpilot-plan.yml", "req_old"),
        1
    );
    let found = alice
        .find_dispatched_run(&repo, "tfpilot-plan.yml", "d-old")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, run.id);
    assert_eq!(
        alice
            .find_dispatched_run(&repo, "tfpilot-plan.yml", "d-none")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn pull_requests_list_most_recently_updated_first() {
    let sim = simulator(SimOptions::default()).await;
    let alice = client(&sim, "alice");
    let (first, first_head) = open_request(&alice, "req_p1", "payments-dev-p1").await;
    elapse(&sim, Duration::from_secs(10)).await;
    let (second, _) = open_request(&alice, "req_p2", "payments-dev-p2").await;
    let numbers = |pulls: Vec<tfpilot::github::models::PullRequest>| {
        pulls.into_iter().map(|p| p.number).collect::<Vec<_>>()
    };
    let listed = alice.list_pulls_by_update(&repo(), 100).await.unwrap();
    assert_eq!(numbers(listed), [second, first]);

    // A review moves the first one up, as on GitHub.
    elapse(&sim, Duration::from_secs(10)).await;
    client(&sim, "bob")
        .approve(&repo(), first, &first_head, "fine")
        .await
        .unwrap();
    let listed = alice.list_pulls_by_update(&repo(), 100).await.unwrap();
    assert_eq!(numbers(listed), [first, second]);

    // GitHub's own default for `updated` is ascending; an unknown sort is refused.
    let crab = support::octocrab(&sim, "alice");
    let path = "/repos/acme/infra-live/pulls";
    let ascending: Vec<serde_json::Value> = crab
        .get(format!("{path}?state=all&sort=updated"), None::<&()>)
        .await
        .unwrap();
    let ascending: Vec<u64> = ascending
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(ascending, [second, first]);
    let refused = crab
        .get::<serde_json::Value, _, ()>(format!("{path}?sort=popularity"), None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("422") || format!("{refused:?}").contains("422"),
        "{refused:?}"
    );
}
