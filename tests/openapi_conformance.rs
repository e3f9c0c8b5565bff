//! Every answer the simulator gives tfpilot's client is checked against the response schema
//! GitHub publishes for that operation and status (tests/fixtures/openapi/, a subset of the
//! `@octokit/openapi` description cut by `scripts/openapi-subset`). The simulator records its
//! answers while a whole lifecycle runs through the real client and engine, and while the error
//! answers each route can give are provoked; then each answer is validated. An answer that
//! breaks its schema, or a status GitHub does not describe for that operation, fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
mod common;
#[path = "support/sim.rs"]
mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bed::Bed;
use serde_json::{Value, json};
use tfpilot::domain::deployment::Verdict;
use tfpilot::sim::model::RecordedAnswer;
use tfpilot::store::{LocalStore, Store};

const SUBSET: &str = include_str!("fixtures/openapi/github-rest-subset.json");

/// The simulator's route templates in GitHub's path-parameter names.
fn openapi_path(route: &str) -> String {
    route
        .replace("{number}", "{pull_number}")
        .replace("{environment}", "{environment_name}")
        .replace("{*path}", "{path}")
        .replace("{*reference}", "{ref}")
        .replace("{workflow}", "{workflow_id}")
}

/// Statuses GitHub answers on any route (authentication, API version, rate limit, a resource
/// one cannot see, a request it cannot process), whether or not the operation lists them: the
/// description omits them for many operations (a dispatch with a missing input is a 422 on
/// GitHub, but the dispatch operation lists only 200 and 204).
const GENERIC: [u16; 5] = [400, 401, 403, 404, 422];

struct Checker {
    subset: Value,
    validators: BTreeMap<(String, String), jsonschema::Validator>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            subset: serde_json::from_str(SUBSET).unwrap(),
            validators: BTreeMap::new(),
        }
    }

    fn validator(
        &mut self,
        operation: &str,
        status: &str,
        schema: &Value,
    ) -> &jsonschema::Validator {
        let defs = self.subset["$defs"].clone();
        self.validators
            .entry((operation.to_string(), status.to_string()))
            .or_insert_with(|| {
                let mut root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema"});
                match schema {
                    Value::Object(fields) => {
                        for (key, value) in fields {
                            root[key] = value.clone();
                        }
                    }
                    other => root["allOf"] = json!([other]),
                }
                root["$defs"] = defs;
                jsonschema::validator_for(&root)
                    .unwrap_or_else(|error| panic!("{operation} {status}: {error}"))
            })
    }

    /// What is wrong with `answer`, if anything; `Ok(kind)` says how it was checked.
    fn check(&mut self, answer: &RecordedAnswer) -> Result<&'static str, String> {
        let operation = format!("{} {}", answer.method, openapi_path(&answer.route));
        let Some(described) = self.subset["operations"].get(&operation).cloned() else {
            return Err(format!(
                "{operation}: not in the subset (add it to scripts/openapi-subset)"
            ));
        };
        let status = answer.status.to_string();
        let declared = described["responses"].get(&status).cloned();
        let (schema, kind) = match declared {
            Some(schema) => (schema, "declared"),
            None if answer.status == 304 => (Value::Null, "conditional"),
            None if GENERIC.contains(&answer.status) => {
                let name = self.subset["generic_error"].as_str().unwrap().to_string();
                (json!({"$ref": format!("#/$defs/{name}")}), "generic")
            }
            None => {
                return Err(format!(
                    "{operation}: answered {status}, which GitHub's description does not give this operation ({:?})",
                    described["responses"]
                        .as_object()
                        .map(|r| r.keys().collect::<Vec<_>>())
                ));
            }
        };
        // The description gives some errors no content (`git/delete-ref`'s 422), yet GitHub
        // answers them with its usual error body.
        let schema = match schema {
            Value::Null
                if GENERIC.contains(&answer.status)
                    && !answer.body.iter().all(u8::is_ascii_whitespace) =>
            {
                let name = self.subset["generic_error"].as_str().unwrap().to_string();
                json!({"$ref": format!("#/$defs/{name}")})
            }
            other => other,
        };
        if schema.is_null() {
            return if answer.body.iter().all(u8::is_ascii_whitespace) {
                Ok(kind)
            } else {
                Err(format!(
                    "{operation} {status}: a body where GitHub sends none"
                ))
            };
        }
        // The User-Agent refusal is plain text on GitHub too: not JSON to validate.
        let body: Value = match serde_json::from_slice(&answer.body) {
            Ok(body) => body,
            Err(_) if answer.status == 403 => return Ok("text"),
            Err(error) => return Err(format!("{operation} {status}: not JSON ({error})")),
        };
        let validator = self.validator(&operation, &status, &schema);
        let problems: Vec<String> = validator
            .iter_errors(&body)
            .take(5)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        if problems.is_empty() {
            Ok(kind)
        } else {
            Err(format!("{operation} {status}: {}", problems.join("; ")))
        }
    }
}

/// A raw request as `login` (or with `token` as is), with extra headers.
async fn send(
    sim: &tfpilot::sim::Simulator,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> u16 {
    let crab = octocrab::Octocrab::builder()
        .base_uri(sim.base_url())
        .unwrap()
        .personal_token(token.to_string())
        .build()
        .unwrap();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.base_url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let response = crab.execute(request).await.unwrap();
    response.status().as_u16()
}

/// The whole lifecycle of a prod request through the engine: plan, approve, merge, an apply
/// held for its deployment review and approved, a destroy held and approved, cleanup; and a
/// second request whose apply review is rejected, and a third whose plan is cancelled.
async fn lifecycle(bed: &Bed) {
    let alice = bed.engine("alice").await;
    let bob = bed.engine("bob").await;
    let carol = bed.engine("carol").await;
    let admin = bed.engine("admin").await;
    let id = bed.planned("prod", "conformance-main").await;
    carol.approve(&id, None).await.unwrap();
    bob.merge(&id, None).await.unwrap();
    bob.apply(&id, None).await.unwrap();
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    carol
        .review_deployment(&id, Verdict::Approve, Some("ok"), None)
        .await
        .unwrap();
    bed.finish_runs();
    bob.sync(&id).await.unwrap();
    let request = bob.store().get_request(&id).await.unwrap().value;
    let apply_run = request.apply_run.as_deref().unwrap().id.unwrap();
    bob.read_run_log(&request, apply_run).await.unwrap();
    admin.destroy(&id, None).await.unwrap();
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    bob.review_deployment(&id, Verdict::Approve, None, None)
        .await
        .unwrap();
    bed.finish_runs();
    admin.sync(&id).await.unwrap();
    alice.cleanup(&id, None).await.unwrap();
    bed.finish_runs();
    alice.sync(&id).await.unwrap();

    let rejected = bed.planned("prod", "conformance-rejected").await;
    carol.approve(&rejected, None).await.unwrap();
    bob.merge(&rejected, None).await.unwrap();
    bob.apply(&rejected, None).await.unwrap();
    bed.finish_runs();
    carol
        .review_deployment(&rejected, Verdict::Reject, Some("no"), None)
        .await
        .unwrap();

    let cancelled = bed.create("alice", "conformance-cancelled", "dev").await;
    alice.cancel(&cancelled, None).await.unwrap();
    // Withdrawn while its plan runs: the plan cancelled, the pull request closed, the branch
    // deleted.
    let withdrawn = bed.create("alice", "conformance-withdrawn", "dev").await;
    alice
        .withdraw(&withdrawn, Some("not needed"), None)
        .await
        .unwrap();
    // The diff of a withdrawn pull request (its branch deleted) and of a merged one.
    let gone = alice.pull_diff(&withdrawn).await.unwrap();
    assert_eq!(
        gone.files.len(),
        1,
        "GitHub keeps a closed pull request's head"
    );
    let merged = bob.pull_diff(&id).await.unwrap();
    assert!(!merged.changes_outside(), "{:?}", merged.outside);
    // Conditional reads: the second listing of an unchanged run list is a 304.
    let github = bed::github(&bed.sim, "alice");
    let repo = sim::repo();
    github.list_dispatch_runs(&repo, 1, 50).await.unwrap();
    github.list_dispatch_runs(&repo, 1, 50).await.unwrap();
    github.current_user().await.unwrap();
    github.rate_limit().await.unwrap();
    github.token_info().await.unwrap();
    github.repository(&repo).await.unwrap();
    bed::github(&bed.sim, "admin")
        .branch_protection(&repo, "main")
        .await
        .unwrap();
    github.environment(&repo, "prod").await.unwrap();
    github.environment(&repo, "staging").await.unwrap();
    github.list_pulls_by_update(&repo, 50).await.unwrap();
}

/// The error answers of each route, provoked one by one.
async fn errors(bed: &Bed) {
    let sim = &bed.sim;
    let repo = "/repos/acme/infra-live";
    let alice = "sim-alice";
    let missing_sha = "0000000000000000000000000000000000000000";
    // Authentication, API version, rate limit, visibility.
    assert_eq!(send(sim, "ghp_nope", "GET", "/user", None, &[]).await, 401);
    let version = [("X-GitHub-Api-Version", "1999-01-01")];
    assert_eq!(send(sim, alice, "GET", "/user", None, &version).await, 400);
    assert_eq!(send(sim, "sim-mallory", "GET", repo, None, &[]).await, 404);
    assert_eq!(
        send(sim, alice, "GET", "/repos/acme/nope", None, &[]).await,
        404
    );
    let bob_protection = send(
        sim,
        "sim-bob",
        "GET",
        &format!("{repo}/branches/main/protection"),
        None,
        &[],
    )
    .await;
    assert_eq!(bob_protection, 404, "only admins read protection");
    // Contents and refs.
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/contents/nope.tf"),
            None,
            &[]
        )
        .await,
        404
    );
    let put = |sha: Option<&str>| {
        let mut body = json!({"message": "m", "content": "eA==", "branch": "main"});
        if let Some(sha) = sha {
            body["sha"] = json!(sha);
        }
        body
    };
    let path = format!("{repo}/contents/envs/dev/tfpilot.tf");
    assert_eq!(
        send(sim, alice, "PUT", &path, Some(put(None)), &[]).await,
        422
    );
    assert_eq!(
        send(sim, alice, "PUT", &path, Some(put(Some(missing_sha))), &[]).await,
        409
    );
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/git/ref/heads/nope"),
            None,
            &[]
        )
        .await,
        404
    );
    let main_ref = json!({"ref": "refs/heads/main", "sha": missing_sha});
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{repo}/git/refs"),
            Some(main_ref),
            &[]
        )
        .await,
        422
    );
    // Pull requests.
    let same = json!({"title": "t", "head": "main", "base": "main"});
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{repo}/pulls"),
            Some(same),
            &[]
        )
        .await,
        422
    );
    assert_eq!(
        send(sim, alice, "GET", &format!("{repo}/pulls/999"), None, &[]).await,
        404
    );
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/pulls/999/files"),
            None,
            &[]
        )
        .await,
        404
    );
    let open = bed.planned("dev", "conformance-open").await;
    let request = bed.store.get_request(&open).await.unwrap().value;
    let number = request.pr.as_deref().unwrap().number.unwrap();
    let head = request.pr.as_deref().unwrap().head_sha.clone().unwrap();
    let pr = format!("{repo}/pulls/{number}");
    let own = json!({"event": "APPROVE", "commit_id": head, "body": "mine"});
    assert_eq!(
        send(sim, alice, "POST", &format!("{pr}/reviews"), Some(own), &[]).await,
        422
    );
    let wrong = json!({"sha": missing_sha, "merge_method": "squash"});
    assert_eq!(
        send(sim, alice, "PUT", &format!("{pr}/merge"), Some(wrong), &[]).await,
        409
    );
    let unapproved = json!({"sha": head, "merge_method": "squash"});
    assert_eq!(
        send(
            sim,
            alice,
            "PUT",
            &format!("{pr}/merge"),
            Some(unapproved),
            &[]
        )
        .await,
        405
    );
    let bad_state = json!({"state": "merged"});
    assert_eq!(
        send(sim, alice, "PATCH", &pr, Some(bad_state), &[]).await,
        422
    );
    let retitled = json!({"title": "a better title"});
    assert_eq!(
        send(sim, alice, "PATCH", &pr, Some(retitled), &[]).await,
        200
    );
    let refs = format!("{repo}/git/refs/heads");
    assert_eq!(
        send(sim, alice, "DELETE", &format!("{refs}/nope"), None, &[]).await,
        422,
        "Reference does not exist"
    );
    assert_eq!(
        send(sim, alice, "DELETE", &format!("{refs}/main"), None, &[]).await,
        422,
        "the default branch stays"
    );
    assert_eq!(
        send(
            sim,
            "sim-reconcile-bot",
            "DELETE",
            &format!("{refs}/main"),
            None,
            &[]
        )
        .await,
        404,
        "a reader cannot delete branches"
    );
    let stale = json!({"expected_head_sha": missing_sha});
    assert_eq!(
        send(
            sim,
            alice,
            "PUT",
            &format!("{pr}/update-branch"),
            Some(stale),
            &[]
        )
        .await,
        422
    );
    let current = json!({"expected_head_sha": head});
    let update = format!("{pr}/update-branch");
    assert_eq!(
        send(sim, alice, "PUT", &update, Some(current.clone()), &[]).await,
        422,
        "up to date"
    );
    // Once the base moved on, the branch can be brought up to date.
    bed.merged("conformance-moves-main").await;
    assert_eq!(
        send(sim, alice, "PUT", &update, Some(current), &[]).await,
        202
    );
    // Actions.
    let workflows = format!("{repo}/actions/workflows");
    let lacking = json!({"ref": "main", "inputs": {"request_id": "r"}});
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{workflows}/tfpilot-plan.yml/dispatches"),
            Some(lacking.clone()),
            &[]
        )
        .await,
        422
    );
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{workflows}/nope.yml/dispatches"),
            Some(lacking),
            &[]
        )
        .await,
        404
    );
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{workflows}/tfpilot-plan.yml/runs"),
            None,
            &[]
        )
        .await,
        200
    );
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{workflows}/nope.yml/runs"),
            None,
            &[]
        )
        .await,
        404
    );
    let runs = format!("{repo}/actions/runs");
    for path in [
        format!("{runs}/1"),
        format!("{runs}/1/jobs"),
        format!("{runs}/1/pending_deployments"),
        format!("{repo}/actions/jobs/1"),
        format!("{repo}/actions/jobs/1/logs"),
    ] {
        assert_eq!(
            send(sim, alice, "GET", &path, None, &[]).await,
            404,
            "{path}"
        );
    }
    let plan_run = request.plan_run.as_deref().unwrap().id.unwrap();
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{runs}/{plan_run}/cancel"),
            None,
            &[]
        )
        .await,
        409
    );
    let review = json!({"environment_ids": [1], "state": "approved", "comment": "x"});
    assert_eq!(
        send(
            sim,
            alice,
            "POST",
            &format!("{runs}/{plan_run}/pending_deployments"),
            Some(review),
            &[]
        )
        .await,
        422
    );
    // A job's log while the job runs: GitHub has none yet.
    let running = bed.create("alice", "conformance-running", "dev").await;
    sim.advance(Duration::from_secs(3));
    let request = bed.store.get_request(&running).await.unwrap().value;
    let run_id = request.plan_run.as_deref().unwrap().id.unwrap();
    let jobs = bed::github(sim, "alice")
        .list_jobs(&sim::repo(), run_id)
        .await
        .unwrap();
    let logs = format!("{repo}/actions/jobs/{}/logs", jobs[0].id);
    assert_eq!(send(sim, alice, "GET", &logs, None, &[]).await, 404);
    // A new file is created (201), and a dispatch without `return_run_details`, as older
    // clients send it, gets 204 and no body.
    let new_file = json!({"message": "m", "content": "eA==", "branch": "main"});
    let path = format!("{repo}/contents/notes/new.md");
    assert_eq!(
        send(sim, alice, "PUT", &path, Some(new_file), &[]).await,
        201
    );
    let plain = json!({"ref": "main", "inputs": {"request_id": "req_plain", "environment": "dev", "dispatch_id": "p1"}});
    let path = format!("{workflows}/tfpilot-drift.yml/dispatches");
    assert_eq!(send(sim, alice, "POST", &path, Some(plain), &[]).await, 204);
    // The rate limit, spent.
    sim.set_rate_limit("erin", 0, Duration::from_secs(600));
    assert_eq!(send(sim, "sim-erin", "GET", repo, None, &[]).await, 403);
}

/// A GitHub App's calls: its own description, its installations (listed and looked up from a
/// repository), an installation token granted and refused, and what the token may not do.
async fn apps(bed: &Bed) {
    use tfpilot::github::app::{AppKey, AppSigner, AppTokens};
    let sim = &bed.sim;
    let (private, public) = tfpilot::sim::apps::generate_key_pair().unwrap();
    sim.register_app(
        77,
        "conformance-bot",
        &public,
        &[(78, &["acme/infra-live"])],
    )
    .unwrap();
    let settings = tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts();
    let tokens = |installation: Option<u64>, repository: Option<tfpilot::github::RepoId>| {
        AppTokens::new(
            &settings,
            AppSigner::new(77, AppKey::from_pem(&private).unwrap()),
            installation,
            repository,
        )
        .unwrap()
    };
    let listed = tokens(None, None);
    assert_eq!(listed.app().await.unwrap().slug, "conformance-bot");
    assert_eq!(listed.installation().await.unwrap(), 78);
    let token = listed.token().await.unwrap();
    let found = tokens(None, Some(sim::repo()));
    assert_eq!(found.installation().await.unwrap(), 78);
    let elsewhere = tokens(None, Some(tfpilot::github::RepoId::new("acme", "nowhere")));
    assert!(elsewhere.installation().await.is_err());
    assert!(tokens(Some(999), None).token().await.is_err());
    assert_eq!(
        send(sim, token.expose(), "GET", "/user", None, &[]).await,
        403
    );
    assert_eq!(send(sim, "sim-alice", "GET", "/app", None, &[]).await, 401);
}

/// A plan run's artifact, listed, downloaded, unknown, and expired after the workflow's 30 days.
async fn artifacts(bed: &Bed) {
    let sim = &bed.sim;
    let alice = "sim-alice";
    let runs = sim.snapshot()["runs"].clone();
    let plan = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["operation"] == "plan" && run["conclusion"] == "success")
        .expect("a plan run that uploaded its plan JSON")["id"]
        .as_u64()
        .unwrap();
    let repo = "/repos/acme/infra-live/actions";
    let listed = format!("{repo}/runs/{plan}/artifacts?name=tfpilot-plan-json");
    assert_eq!(send(sim, alice, "GET", &listed, None, &[]).await, 200);
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/runs/999999/artifacts"),
            None,
            &[]
        )
        .await,
        404
    );
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/artifacts/12/zip"),
            None,
            &[]
        )
        .await,
        404
    );
    sim.advance(Duration::from_secs(31 * 24 * 3600));
    let listed = bed::github(sim, "alice")
        .run_artifacts(&sim::repo(), plan, "tfpilot-plan-json")
        .await
        .unwrap();
    assert!(listed[0].expired, "{listed:?}");
    let id = listed[0].id;
    assert_eq!(
        send(
            sim,
            alice,
            "GET",
            &format!("{repo}/artifacts/{id}/zip"),
            None,
            &[]
        )
        .await,
        410
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_the_client_can_get_matches_githubs_description() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Arc::new(LocalStore::open_or_create(dir.path()).unwrap()));
    bed::seed_team(&store).await;
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    sim.set_environment("acme", "infra-live", "prod", &["bob", "carol"])
        .unwrap();
    sim.require_approvals("acme", "infra-live", 1).unwrap();
    sim.record_answers();
    let bed = Bed { sim, store };
    lifecycle(&bed).await;
    errors(&bed).await;
    apps(&bed).await;
    artifacts(&bed).await;

    let mut checker = Checker::new();
    let mut checked: BTreeMap<(String, u16), &'static str> = BTreeMap::new();
    let mut failures = BTreeSet::new();
    let answers = bed.sim.recorded_answers();
    for answer in &answers {
        match checker.check(answer) {
            Ok(kind) => {
                checked.insert(
                    (
                        format!("{} {}", answer.method, openapi_path(&answer.route)),
                        answer.status,
                    ),
                    kind,
                );
            }
            Err(problem) => {
                failures.insert(problem);
            }
        }
    }
    let routes: BTreeSet<&String> = checked.keys().map(|(route, _)| route).collect();
    println!(
        "{} answers: {} routes x status codes validated over {} routes ({} by the declared schema, {} generic errors, {} conditional 304s, {} plain text)",
        answers.len(),
        checked.len(),
        routes.len(),
        checked.values().filter(|kind| **kind == "declared").count(),
        checked.values().filter(|kind| **kind == "generic").count(),
        checked
            .values()
            .filter(|kind| **kind == "conditional")
            .count(),
        checked.values().filter(|kind| **kind == "text").count(),
    );
    for ((route, status), kind) in &checked {
        println!("  {status} {route} ({kind})");
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.into_iter().collect::<Vec<_>>().join("\n")
    );
    // Every REST operation the simulator serves was answered and checked at least once.
    let subset: Value = serde_json::from_str(SUBSET).unwrap();
    let unanswered: Vec<&String> = subset["operations"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|operation| !routes.contains(operation))
        .collect();
    assert!(unanswered.is_empty(), "never answered: {unanswered:?}");
}
