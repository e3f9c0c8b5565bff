//! The simulator speaks GitHub's payloads: what it sends deserializes with
//! octocrab's models, and every field tfpilot reads has the same name and JSON
//! type as in real GitHub responses (tests/fixtures/github, see SOURCES.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/sim.rs"]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{client, repo, simulator};
use tfpilot::github::{DispatchInputs, MergeMethod};
use tfpilot::sim::{SimOptions, Simulator};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Follow a dotted path; `[]` steps into the first array element.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |current, step| match step {
        "[]" => current.as_array()?.first(),
        key => current.get(key),
    })
}

/// Each path exists in both payloads with the same JSON type (a `null` on
/// either side only proves the field exists).
fn same_shape(real: &Value, simulated: &Value, paths: &[&str], what: &str) {
    for path in paths {
        let (Some(a), Some(b)) = (at(real, path), at(simulated, path)) else {
            panic!(
                "{what}: `{path}` missing (real: {}, simulated: {})",
                at(real, path).is_some(),
                at(simulated, path).is_some()
            );
        };
        if !a.is_null() && !b.is_null() {
            assert_eq!(
                json_type(a),
                json_type(b),
                "{what}: `{path}` is {a} in GitHub, {b} in the simulator"
            );
        }
    }
}

async fn raw(sim: &Simulator, path: &str) -> Value {
    let crab = support::octocrab(sim, "carol");
    crab.get::<Value, _, ()>(path, None).await.unwrap()
}

async fn typed<T: serde::de::DeserializeOwned>(sim: &Simulator, path: &str) -> T {
    serde_json::from_value(raw(sim, path).await).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn simulator_payloads_match_github() {
    let sim = simulator(SimOptions::default()).await;
    let alice = client(&sim, "alice");
    let bob = client(&sim, "bob");
    let repo = repo();
    let main = alice.branch_sha(&repo, "main").await.unwrap().unwrap();
    alice.create_branch(&repo, "feature", &main).await.unwrap();
    let readme = alice
        .get_file(&repo, "README.md", "feature")
        .await
        .unwrap()
        .unwrap();
    let commit = alice
        .put_file(
            &repo,
            "README.md",
            "feature",
            "new\n",
            "edit",
            Some(&readme.sha),
        )
        .await
        .unwrap();
    let (pull, _) = alice
        .open_pull(&repo, "feature", "main", "Edit", "body")
        .await
        .unwrap();
    bob.approve(&repo, pull.number, &pull.head.sha, "ok")
        .await
        .unwrap();
    let inputs = DispatchInputs {
        request_id: "req_s".into(),
        environment: "dev".into(),
        dispatch_id: "d1".into(),
        scope: None,
        block_id: None,
    };
    let run = alice
        .dispatch(&repo, "tfpilot-plan.yml", "feature", &inputs)
        .await
        .unwrap()
        .run_id
        .unwrap();
    sim.advance(Duration::from_secs(60));
    let base = "/repos/acme/infra-live";

    // Pull requests, open then merged.
    let open = raw(&sim, &format!("{base}/pulls/{}", pull.number)).await;
    let pull_fields = [
        "number",
        "html_url",
        "state",
        "title",
        "user.login",
        "user.id",
        "merged_at",
        "merge_commit_sha",
        "head.ref",
        "head.sha",
        "base.ref",
        "base.sha",
        "draft",
        "created_at",
        "updated_at",
    ];
    same_shape(
        &fixture("pulls-get-open-with-labels.json"),
        &open,
        &pull_fields,
        "open PR",
    );
    let _: octocrab::models::pulls::PullRequest =
        typed(&sim, &format!("{base}/pulls/{}", pull.number)).await;
    alice
        .merge(&repo, pull.number, &commit.commit_sha, MergeMethod::Merge)
        .await
        .unwrap();
    let merged = raw(&sim, &format!("{base}/pulls/{}", pull.number)).await;
    same_shape(
        &fixture("pulls-get-closed.json"),
        &merged,
        &[
            &pull_fields[..],
            &["merged", "mergeable", "mergeable_state", "closed_at"],
        ]
        .concat(),
        "closed PR",
    );
    assert_eq!(merged["merged"], true);
    let list: Vec<octocrab::models::pulls::PullRequest> =
        typed(&sim, &format!("{base}/pulls?state=all")).await;
    assert_eq!(list.len(), 1);
    // The list answers with the shorter `pull-request-simple` shape, as GitHub does.
    let listed = raw(&sim, &format!("{base}/pulls?state=all")).await;
    for absent in [
        "merged",
        "mergeable",
        "mergeable_state",
        "merged_by",
        "commits",
    ] {
        assert!(listed[0].get(absent).is_none(), "{absent} in {}", listed[0]);
    }
    assert!(listed[0]["merged_at"].is_string(), "{}", listed[0]);
    let typed_list: Vec<tfpilot::github::models::PullRequest> =
        typed(&sim, &format!("{base}/pulls?state=all")).await;
    assert!(
        typed_list[0].is_merged(),
        "tfpilot reads a merge from merged_at"
    );

    // Reviews.
    let reviews = raw(&sim, &format!("{base}/pulls/{}/reviews", pull.number)).await;
    same_shape(
        &fixture("pulls-reviews-list-approved.json"),
        &reviews,
        &[
            "[].id",
            "[].user.login",
            "[].state",
            "[].submitted_at",
            "[].commit_id",
            "[].html_url",
            "[].body",
        ],
        "reviews",
    );
    let _: Vec<octocrab::models::pulls::Review> =
        typed(&sim, &format!("{base}/pulls/{}/reviews", pull.number)).await;

    // Runs and jobs.
    let run_fields = [
        "id",
        "name",
        "head_branch",
        "head_sha",
        "event",
        "status",
        "conclusion",
        "html_url",
        "workflow_id",
        "run_number",
        "created_at",
        "updated_at",
        "jobs_url",
        "logs_url",
        "head_commit.id",
        "repository.full_name",
    ];
    let one = raw(&sim, &format!("{base}/actions/runs/{run}")).await;
    // GitHub's `name` is the workflow's name; the run-name is the display title.
    assert_eq!(one["name"], "tfpilot plan", "{one}");
    assert!(
        one["display_title"]
            .as_str()
            .is_some_and(|title| title.starts_with("tfpilot plan ")),
        "{one}"
    );
    assert_eq!(one["triggering_actor"]["login"], one["actor"]["login"]);
    same_shape(
        &fixture("actions-run-get-cancelled.json"),
        &one,
        &run_fields,
        "run",
    );
    let _: octocrab::models::workflows::Run =
        typed(&sim, &format!("{base}/actions/runs/{run}")).await;
    let runs = raw(
        &sim,
        &format!("{base}/actions/runs?event=workflow_dispatch"),
    )
    .await;
    let listed: Vec<String> = run_fields
        .iter()
        .map(|field| format!("workflow_runs.[].{field}"))
        .collect();
    let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    same_shape(
        &fixture("actions-runs-list-success.json"),
        &runs,
        &[&["total_count"][..], &listed].concat(),
        "runs list",
    );
    let _: Vec<octocrab::models::workflows::Run> =
        serde_json::from_value(runs["workflow_runs"].clone()).unwrap();
    let jobs = raw(&sim, &format!("{base}/actions/runs/{run}/jobs")).await;
    same_shape(
        &fixture("actions-run-jobs-list.json"),
        &jobs,
        &[
            "total_count",
            "jobs.[].id",
            "jobs.[].run_id",
            "jobs.[].name",
            "jobs.[].status",
            "jobs.[].conclusion",
            "jobs.[].started_at",
            "jobs.[].completed_at",
            "jobs.[].html_url",
            "jobs.[].steps.[].name",
            "jobs.[].steps.[].status",
            "jobs.[].steps.[].conclusion",
            "jobs.[].steps.[].number",
            "jobs.[].steps.[].started_at",
            "jobs.[].steps.[].completed_at",
        ],
        "jobs",
    );
    let job: octocrab::models::workflows::Job =
        serde_json::from_value(jobs["jobs"][0].clone()).unwrap();
    assert_eq!(job.run_id.0, run);

    // Contents, refs, rate limit.
    let file = raw(&sim, &format!("{base}/contents/README.md?ref=main")).await;
    same_shape(
        &fixture("contents-file.json"),
        &file,
        &["path", "sha", "type", "content", "encoding", "size", "name"],
        "file",
    );
    let _: octocrab::models::repos::Content =
        typed(&sim, &format!("{base}/contents/README.md?ref=main")).await;
    let reference = raw(&sim, &format!("{base}/git/ref/heads/main")).await;
    same_shape(
        &fixture("git-ref-get.json"),
        &reference,
        &["ref", "object.sha", "object.type", "url"],
        "ref",
    );
    let _: octocrab::models::repos::Ref = typed(&sim, &format!("{base}/git/ref/heads/main")).await;
    let limit = raw(&sim, "/rate_limit").await;
    same_shape(
        &fixture("rate-limit-get.json"),
        &limit,
        &[
            "rate.limit",
            "rate.remaining",
            "rate.reset",
            "resources.core.limit",
        ],
        "rate limit",
    );
    let _: octocrab::models::RateLimit = typed(&sim, "/rate_limit").await;
    let user: octocrab::models::Author = typed(&sim, "/user").await;
    assert_eq!(user.login, "carol");
}

#[tokio::test(flavor = "multi_thread")]
async fn write_answers_and_errors_match_github() {
    let sim = simulator(SimOptions::default()).await;
    let crab = support::octocrab(&sim, "alice");
    let base = "/repos/acme/infra-live";
    let update: Value = crab
        .put(
            format!("{base}/contents/new.tf"),
            Some(&serde_json::json!({"message": "add", "content": "eCA9IDEK", "branch": "main"})),
        )
        .await
        .unwrap();
    same_shape(
        &fixture("contents-put-create-response.json"),
        &update,
        &[
            "content.sha",
            "content.path",
            "commit.sha",
            "commit.message",
            "commit.parents.[].sha",
        ],
        "file update",
    );
    let _: octocrab::models::repos::FileUpdate = serde_json::from_value(update).unwrap();
    let file: Value = crab
        .get(format!("{base}/contents/new.tf?ref=main"), None::<&()>)
        .await
        .unwrap();
    let raw = crab
        ._get(file["download_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(crab.body_to_string(raw).await.unwrap(), "x = 1\n");

    let main: Value = crab
        .get(format!("{base}/git/ref/heads/main"), None::<&()>)
        .await
        .unwrap();
    let sha = main["object"]["sha"].as_str().unwrap();
    let _: Value = crab
        .post(
            format!("{base}/git/refs"),
            Some(&serde_json::json!({"ref": "refs/heads/b", "sha": sha})),
        )
        .await
        .unwrap();
    let _: Value = crab
        .put(
            format!("{base}/contents/other.tf"),
            Some(&serde_json::json!({"message": "b", "content": "eSA9IDIK", "branch": "b"})),
        )
        .await
        .unwrap();
    let body = serde_json::json!({"title": "t", "head": "b", "base": "main"});
    let _: Value = crab
        .post(format!("{base}/pulls"), Some(&body))
        .await
        .unwrap();
    let response = crab
        ._post(format!("{}{base}/pulls", sim.base_url()), Some(&body))
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let text = crab.body_to_string(response).await.unwrap();
    let error: Value = serde_json::from_str(&text).unwrap();
    same_shape(
        &fixture("error-422-pull-request-already-exists.json"),
        &error,
        &[
            "message",
            "errors.[].resource",
            "errors.[].code",
            "errors.[].message",
        ],
        "422",
    );
    assert_eq!(
        error["errors"][0]["message"],
        "A pull request already exists for acme:b."
    );

    let pull: Value = crab
        .get(format!("{base}/pulls/1"), None::<&()>)
        .await
        .unwrap();
    let merged: Value = crab
        .put(
            format!("{base}/pulls/1/merge"),
            Some(&serde_json::json!({"sha": pull["head"]["sha"], "merge_method": "squash"})),
        )
        .await
        .unwrap();
    same_shape(
        &fixture("pulls-merge-response.json"),
        &merged,
        &["sha", "merged", "message"],
        "merge",
    );
    let _: octocrab::models::pulls::Merge = serde_json::from_value(merged).unwrap();
}

/// One raw HTTP/1.1 request to the simulator with exactly `headers`; the status and the
/// response's head and body as text.
async fn raw_get(sim: &Simulator, path: &str, headers: &[&str]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(sim.addr().unwrap())
        .await
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// GitHub refuses a request without a User-Agent (403) and one asking for an API version it
/// does not serve (400), and says which version it selected otherwise.
#[tokio::test]
async fn the_user_agent_and_the_api_version_are_checked_as_github_does() {
    let sim = simulator(SimOptions::default()).await;
    let token = "Authorization: token sim-alice";
    let (status, text) = raw_get(&sim, "/user", &[token]).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("User-Agent header"), "{text}");
    let agent = "User-Agent: tfpilot-test";
    let (status, text) = raw_get(
        &sim,
        "/user",
        &[token, agent, "X-GitHub-Api-Version: 2099-01-01"],
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("API version 2099-01-01 is not supported."),
        "{text}"
    );
    let (status, text) = raw_get(&sim, "/user", &[token, agent]).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.to_lowercase()
            .contains("x-github-api-version-selected: 2022-11-28"),
        "{text}"
    );
    let (status, text) = raw_get(
        &sim,
        "/user",
        &[token, agent, "X-GitHub-Api-Version: 2026-03-10"],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.to_lowercase()
            .contains("x-github-api-version-selected: 2026-03-10"),
        "{text}"
    );
}
