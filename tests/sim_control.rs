//! The simulator's `/_sim/` control endpoints over HTTP, as the docs show them
//! used with curl, and GitHub's answers to malformed requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use serde_json::{Value, json};
use tfpilot::sim::{SimOptions, Simulator};

struct Http {
    crab: octocrab::Octocrab,
    base: String,
}

impl Http {
    fn new(sim: &Simulator, token: Option<&str>) -> Self {
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(sim.base_url())
            .unwrap();
        if let Some(token) = token {
            builder = builder.personal_token(token.to_string());
        }
        Self {
            crab: builder.build().unwrap(),
            base: sim.base_url().to_string(),
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(body.unwrap_or_default().to_string()).unwrap();
        let response = self.crab.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let text = self.crab.body_to_string(response).await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn control_endpoints_drive_the_simulator() {
    let sim = Simulator::for_tests(SimOptions::default()).await.unwrap();
    let control = Http::new(&sim, None);
    let alice = Http::new(&sim, Some("sim-alice"));

    let apply = tfpilot::domain::workflows::WORKFLOWS[1].1;
    let repo = json!({"owner": "acme", "name": "infra", "files": {
        "envs/dev/tfpilot.tf": "# dev\n", ".github/workflows/tfpilot-apply.yml": apply},
        "collaborators": {"alice": "write", "bob": "write"}})
    .to_string();
    let (status, body) = control.send("POST", "/_sim/repos", Some(&repo)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["full_name"], "acme/infra");
    let (status, body) = control.send("POST", "/_sim/repos", Some(&repo)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("repository acme/infra already exists"))
    );
    let bad_path = json!({"owner": "acme", "name": "x", "files": {"../escape": ""}}).to_string();
    assert_eq!(
        control.send("POST", "/_sim/repos", Some(&bad_path)).await.0,
        422
    );
    assert_eq!(
        control
            .send("POST", "/_sim/repos", Some("{not json"))
            .await
            .0,
        400
    );

    // Script a failure, dispatch, move the clock, read the outcome.
    let outcome =
        json!({"request_id": "req_c", "operation": "apply", "conclusion": "failure", "times": 1})
            .to_string();
    assert_eq!(
        control
            .send("POST", "/_sim/outcomes", Some(&outcome))
            .await
            .0,
        201
    );
    let bad = json!({"request_id": "r", "operation": "deploy"}).to_string();
    assert_eq!(
        control.send("POST", "/_sim/outcomes", Some(&bad)).await.0,
        422
    );
    let dispatch = json!({"ref": "main", "inputs": {"request_id": "req_c", "environment": "dev", "dispatch_id": "x1"}}).to_string();
    // GitHub runs only the workflows a repository holds.
    let bare = json!({"owner": "acme", "name": "bare", "files": {"README.md": "# bare\n"},
        "collaborators": {"alice": "write"}});
    control
        .send("POST", "/_sim/repos", Some(&bare.to_string()))
        .await;
    for path in [
        "/repos/acme/bare/actions/workflows/tfpilot-apply.yml/dispatches",
        "/repos/acme/infra/actions/workflows/tfpilot-plan.yml/dispatches",
    ] {
        let (status, _) = alice.send("POST", path, Some(&dispatch)).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = alice
        .send(
            "POST",
            "/repos/acme/infra/actions/workflows/tfpilot-apply.yml/dispatches",
            Some(&dispatch),
        )
        .await;
    assert_eq!(status, 204);
    let missing = json!({"ref": "main", "inputs": {"request_id": "req_c"}}).to_string();
    let (status, body) = alice
        .send(
            "POST",
            "/repos/acme/infra/actions/workflows/tfpilot-apply.yml/dispatches",
            Some(&missing),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Required input 'environment' not provided"))
    );
    let (_, state) = control.send("GET", "/_sim/state", None).await;
    assert_eq!(state["runs"][0]["status"], "queued");
    assert_eq!(state["dispatches"]["acme/infra/tfpilot-apply.yml/req_c"], 1);
    assert_eq!(
        control
            .send("POST", "/_sim/clock", Some(r#"{"advance_seconds": 30}"#))
            .await
            .0,
        200
    );
    assert_eq!(
        control
            .send("POST", "/_sim/clock", Some(r#"{"advance_seconds": -1}"#))
            .await
            .0,
        422
    );
    let (_, state) = control.send("GET", "/_sim/state", None).await;
    assert_eq!(
        (
            state["runs"][0]["status"].as_str(),
            state["runs"][0]["conclusion"].as_str()
        ),
        (Some("completed"), Some("failure"))
    );
    assert_eq!(state["outcomes"], json!([]), "a times=1 outcome is used up");

    // Faults: validated, applied, cleared.
    assert_eq!(
        control
            .send("POST", "/_sim/faults", Some(r#"{"path": "/user"}"#))
            .await
            .0,
        422
    );
    assert_eq!(
        control
            .send(
                "POST",
                "/_sim/faults",
                Some(r#"{"path": "/user", "status": 503, "rate": 2}"#)
            )
            .await
            .0,
        422
    );
    assert_eq!(
        control
            .send(
                "POST",
                "/_sim/faults",
                Some(r#"{"path": "/user", "status": 503, "times": 1}"#)
            )
            .await
            .0,
        201
    );
    assert_eq!(alice.send("GET", "/user", None).await.0, 503);
    assert_eq!(alice.send("GET", "/user", None).await.0, 200);
    assert_eq!(
        control
            .send(
                "POST",
                "/_sim/faults",
                Some(r#"{"path": "/user", "status": 500}"#)
            )
            .await
            .0,
        201
    );
    assert_eq!(control.send("DELETE", "/_sim/faults", None).await.0, 200);
    assert_eq!(alice.send("GET", "/user", None).await.0, 200);

    // Budgets.
    let (status, budget) = control
        .send(
            "POST",
            "/_sim/rate_limit",
            Some(r#"{"login": "alice", "remaining": 0, "reset_in_seconds": 600}"#),
        )
        .await;
    assert_eq!((status, budget["remaining"].as_u64()), (200, Some(0)));
    let (status, body) = alice.send("GET", "/user", None).await;
    assert_eq!(status, 403);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded"),
        "{body}"
    );
    assert_eq!(
        alice.send("GET", "/rate_limit", None).await.0,
        200,
        "reading the limit is always allowed"
    );

    // GitHub's answers to bad requests.
    assert_eq!(
        Http::new(&sim, Some("ghp_real"))
            .send("GET", "/user", None)
            .await
            .0,
        401
    );
    assert_eq!(
        Http::new(&sim, None).send("GET", "/user", None).await.0,
        401
    );
    let bob = Http::new(&sim, Some("sim-bob"));
    assert_eq!(bob.send("GET", "/repos/acme/nope", None).await.0, 404);
    assert_eq!(
        bob.send("POST", "/repos/acme/infra/pulls", Some("{"))
            .await
            .0,
        400
    );
    let (status, body) = bob
        .send(
            "POST",
            "/repos/acme/infra/pulls",
            Some(r#"{"title": "t", "head": "nope", "base": "main"}"#),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("head"))
    );
    let (_, state) = control.send("GET", "/_sim/state", None).await;
    let calls = state["calls"].as_array().unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["route"] == "/user" && c["status"] == 503 && c["count"] == 1),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_device_page_explains_how_to_enter_a_code() {
    let sim = Simulator::for_tests(SimOptions::default()).await.unwrap();
    let (status, page) = Http::new(&sim, None)
        .send("GET", "/login/device", None)
        .await;
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap().contains("/_sim/device/authorize"));
    let (status, body) = Http::new(&sim, None)
        .send(
            "POST",
            "/_sim/device/authorize",
            Some(r#"{"user_code": "NOPE-NOPE", "login": "a"}"#),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no pending device code")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_settings_and_token_scopes_answer_as_on_github() {
    let sim = Simulator::for_tests(SimOptions::default()).await.unwrap();
    let control = Http::new(&sim, None);
    let repo = json!({"owner": "acme", "name": "infra", "files": {"README.md": "x\n"},
        "required_approvals": 2, "environments": {"prod": ["bob", "erin"], "dev": []},
        "collaborators": {"alice": "admin", "bob": "write", "viewer": "read"}})
    .to_string();
    assert_eq!(
        control.send("POST", "/_sim/repos", Some(&repo)).await.0,
        201
    );
    let alice = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts(),
        "sim-alice",
    )
    .unwrap();
    let id = tfpilot::github::RepoId::new("acme", "infra");
    use tfpilot::github::settings::Protection;
    assert_eq!(
        alice.branch_protection(&id, "main").await.unwrap(),
        Protection::Protected {
            required_reviews: 2
        }
    );
    let prod = alice.environment(&id, "prod").await.unwrap().unwrap();
    assert_eq!(prod.required_reviewers, 2);
    assert_eq!(
        alice
            .environment(&id, "dev")
            .await
            .unwrap()
            .unwrap()
            .required_reviewers,
        0
    );
    assert!(alice.environment(&id, "staging").await.unwrap().is_none());
    let info = alice.repository(&id).await.unwrap().unwrap();
    assert!(info.permissions.unwrap().push);

    // Roles: only an admin reads branch protection (GitHub answers others 404, which tfpilot
    // cannot tell from "not protected" by status alone), only writers write, and a login that
    // is no collaborator does not see the repository at all.
    let as_login = |login: &str| {
        tfpilot::github::GitHub::connect(
            &tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts(),
            &format!("sim-{login}"),
        )
        .unwrap()
    };
    let bob = as_login("bob");
    assert!(matches!(
        bob.branch_protection(&id, "main").await.unwrap(),
        Protection::Unknown { .. }
    ));
    let permissions = bob
        .repository(&id)
        .await
        .unwrap()
        .unwrap()
        .permissions
        .unwrap();
    assert!(permissions.push && !permissions.admin);
    let viewer = Http::new(&sim, Some("sim-viewer"));
    let (status, body) = viewer.send("GET", "/repos/acme/infra", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["permissions"]["pull"].as_bool(),
            body["permissions"]["push"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let branch = json!({"ref": "refs/heads/x", "sha": "0000000000000000000000000000000000000000"});
    let (status, _) = viewer
        .send(
            "POST",
            "/repos/acme/infra/git/refs",
            Some(&branch.to_string()),
        )
        .await;
    assert_eq!(status, 404, "a reader cannot write");
    assert!(as_login("mallory").repository(&id).await.unwrap().is_none());

    let plain = json!({"owner": "acme", "name": "open", "files": {"README.md": "x\n"},
        "collaborators": {"alice": "admin"}})
    .to_string();
    control.send("POST", "/_sim/repos", Some(&plain)).await;
    let open = tfpilot::github::RepoId::new("acme", "open");
    assert_eq!(
        alice.branch_protection(&open, "main").await.unwrap(),
        Protection::NotProtected
    );

    let scopes = alice.token_info().await.unwrap().scopes;
    assert_eq!(
        scopes,
        Some(vec!["repo".to_string(), "workflow".to_string()])
    );
    let (status, _) = control
        .send(
            "POST",
            "/_sim/token_scopes",
            Some(r#"{"login": "alice", "scopes": null}"#),
        )
        .await;
    assert_eq!(status, 200);
    let info = alice.token_info().await.unwrap();
    assert_eq!((info.user.login.as_str(), info.scopes), ("alice", None));
}
