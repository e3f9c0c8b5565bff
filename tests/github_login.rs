//! The device flow against the simulator: GitHub answers every poll with HTTP
//! 200, so success, refusal and expiry are told apart by the body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use std::time::Duration;

use tfpilot::github::device::{DeviceLogin, LoginError};
use tfpilot::sim::{SimOptions, Simulator};

async fn sim() -> Simulator {
    Simulator::for_tests(SimOptions {
        device_poll_interval: 1,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_entered_code_yields_a_working_token() {
    let sim = sim().await;
    let flow = DeviceLogin::new(sim.base_url(), "tfpilot-test").unwrap();
    let code = flow.start(&["repo", "workflow"]).await.unwrap();
    assert_eq!(
        code.verification_uri,
        format!("{}/login/device", sim.base_url())
    );
    assert_eq!(code.user_code.len(), 9);
    sim.authorize_device(&code.user_code, "frank", false)
        .unwrap();
    let token = flow.finish(&code).await.unwrap();
    let github = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(sim.base_url()).without_timeouts(),
        token.expose(),
    )
    .unwrap();
    assert_eq!(github.current_user().await.unwrap().login, "frank");
    // A code is good for one token.
    let again = flow.finish(&code).await.unwrap_err();
    assert!(
        matches!(again, LoginError::Refused { ref code, .. } if code == "incorrect_device_code"),
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn denied_and_expired_codes_end_the_login() {
    let sim = sim().await;
    let flow = DeviceLogin::new(sim.base_url(), "tfpilot-test").unwrap();
    let denied = flow.start(&["repo"]).await.unwrap();
    sim.authorize_device(&denied.user_code, "grace", true)
        .unwrap();
    assert!(matches!(
        flow.finish(&denied).await.unwrap_err(),
        LoginError::Denied
    ));

    let expired = flow.start(&["repo"]).await.unwrap();
    sim.advance(Duration::from_secs(901));
    let error = flow.finish(&expired).await.unwrap_err();
    assert!(matches!(error, LoginError::Expired), "{error:?}");
    assert!(error.to_string().contains("tfpilot login"));

    let wrong_app = DeviceLogin::new(sim.base_url(), "another-app").unwrap();
    let code = flow.start(&["repo"]).await.unwrap();
    let error = wrong_app.finish(&code).await.unwrap_err();
    assert!(
        error.to_string().contains("TFPILOT_GITHUB_CLIENT_ID"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_simulator_tells_fast_pollers_to_slow_down() {
    let sim = sim().await;
    let crab = octocrab::Octocrab::builder()
        .base_uri(sim.base_url())
        .unwrap()
        .add_header(http::header::ACCEPT, "application/json".to_string())
        .build()
        .unwrap();
    let code: serde_json::Value = crab
        .post(
            "/login/device/code",
            Some(&serde_json::json!({"client_id": "c", "scope": "repo"})),
        )
        .await
        .unwrap();
    let poll = serde_json::json!({
        "client_id": "c",
        "device_code": code["device_code"],
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    });
    let first: serde_json::Value = crab
        .post("/login/oauth/access_token", Some(&poll))
        .await
        .unwrap();
    assert_eq!(first["error"], "authorization_pending");
    let second: serde_json::Value = crab
        .post("/login/oauth/access_token", Some(&poll))
        .await
        .unwrap();
    assert_eq!(
        (second["error"].as_str(), second["interval"].as_u64()),
        (Some("slow_down"), Some(6))
    );
}
