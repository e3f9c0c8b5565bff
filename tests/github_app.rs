//! A GitHub App identity for automation, against the simulator over HTTP: the binary signs a
//! JWT with the app's key, exchanges it for an installation token and acts as `<slug>[bot]`
//! (whoami, reconcile, drift-check); tokens are cached and refreshed when GitHub expires them;
//! the simulator checks signatures, lifetimes and installations as GitHub does; a wrong key or
//! installation says what to check. The key and tokens never reach output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod sim;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tfpilot::github::app::{AppKey, AppSigner, AppTokens};
use tfpilot::github::transport::{Credentials, Transport};
use tfpilot::github::{GitHub, GitHubSettings, RepoId};
use tfpilot::sim::Simulator;

const APP_ID: u64 = 123;
const INSTALLATION: u64 = 456;
const BOT: &str = "tfpilot-bot[bot]";

/// Registers the app on acme/infra-live; its private key, as a 0600 file under `dir`.
fn register_app(sim: &Simulator, dir: &std::path::Path) -> PathBuf {
    let (private, public) = tfpilot::sim::apps::generate_key_pair().unwrap();
    sim.register_app(
        APP_ID,
        "tfpilot-bot",
        &public,
        &[(INSTALLATION, &["acme/infra-live"])],
    )
    .unwrap();
    write_key(dir, "app.pem", &private)
}

fn write_key(dir: &std::path::Path, name: &str, pem: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn calls(sim: &Simulator, method: &str, route: &str) -> u64 {
    sim.calls_to(method, route).values().sum()
}

/// Installation tokens the simulator granted.
fn granted(sim: &Simulator) -> u64 {
    sim.calls_to("POST", "/app/installations/{installation_id}/access_tokens")
        .get(&201)
        .copied()
        .unwrap_or(0)
}

/// `tfpilot ARGS` as the app: no person's token in the environment.
async fn as_app(
    cli: &cli::Cli,
    key: &std::path::Path,
    extra_env: &[(&str, &str)],
    args: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let mut command = cli.command("nobody", &full);
    command
        .env_remove("GITHUB_TOKEN")
        .env("TFPILOT_GITHUB_APP_ID", APP_ID.to_string())
        .env("TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE", key);
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    home::secrets::assert_clean(&format!("the output of tfpilot {args:?} as the app"), &out);
    home::secrets::assert_clean(&format!("the errors of tfpilot {args:?} as the app"), &err);
    let json = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap_or(-1), json, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_and_drift_checks_run_as_the_apps_bot() {
    let (bed, cli) = cli::setup(false).await.unwrap();
    let key = register_app(&bed.sim, cli.home.path());

    let (code, who, err) = as_app(&cli, &key, &[], &["whoami"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(who["login"], BOT);
    assert_eq!(who["source_kind"], "github-app");
    assert!(
        who["source"]
            .as_str()
            .unwrap()
            .contains("app 123, installation 456"),
        "{who}"
    );

    // doctor checks the app's token its own way (no GET /user for an installation).
    let (_, doctor, err) = as_app(&cli, &key, &[], &["doctor"]).await;
    let token = doctor["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{doctor}\n{err}"))
        .iter()
        .find(|check| check["name"] == "token")
        .unwrap()
        .clone();
    assert_eq!(token["verdict"], "pass", "{token}");
    assert!(
        token["detail"].as_str().unwrap().starts_with(BOT),
        "{token}"
    );

    // A request alice planned; the app's reconcile records the finished plan.
    let id = bed
        .create("alice", "payments-dev-app-reconcile", "dev")
        .await;
    bed.finish_runs();
    let (code, _, err) = as_app(&cli, &key, &[], &["reconcile"]).await;
    assert_eq!(code, 0, "{err}");
    let events: Vec<_> = bed
        .store
        .list_events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let succeeded: Vec<_> = events
        .iter()
        .filter(|event| event.kind == "plan_succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{events:#?}");
    assert_eq!(succeeded[0].data["recorded_by"], BOT, "{events:#?}");

    // The scheduled drift job's dispatch, as the app.
    let applied = bed.applied("payments-dev-app-drift").await;
    let (code, out, err) = as_app(
        &cli,
        &key,
        &[],
        &["drift-check", &applied, "--idempotency-key", "drift-app-1"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["result"], "done", "{out}");
    let dispatched: Vec<_> = bed
        .store
        .list_events(&applied)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .filter(|event| event.kind == "drift_check_started")
        .collect();
    assert_eq!(dispatched.len(), 1);
    assert_eq!(dispatched[0].actor, BOT);
    // Each of the four processes asked for one installation token, and every API call used it:
    // none was made as a person.
    assert_eq!(granted(&bed.sim), 4);
    assert_eq!(calls(&bed.sim, "GET", "/user"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_installation_or_setting_says_what_to_check() {
    let (bed, cli) = cli::setup(false).await.unwrap();
    let key = register_app(&bed.sim, cli.home.path());

    let (other_private, _) = tfpilot::sim::apps::generate_key_pair().unwrap();
    let other = write_key(cli.home.path(), "other.pem", &other_private);
    let (code, _, err) = as_app(&cli, &other, &[], &["whoami"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "GitHub refused GET /app for GitHub App 123 (401 A JSON web token could not be decoded)"
        ),
        "{err}"
    );
    assert!(
        err.contains("private key file is one of its current keys"),
        "{err}"
    );

    let (code, _, err) = as_app(
        &cli,
        &key,
        &[("TFPILOT_GITHUB_APP_INSTALLATION_ID", "999")],
        &["whoami"],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("(404 Not Found)"), "{err}");
    assert!(err.contains("check that the app is installed"), "{err}");

    let not_a_key = write_key(cli.home.path(), "notes.pem", "just some notes\n");
    let (code, _, err) = as_app(&cli, &not_a_key, &[], &["whoami"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is not a PEM RSA private key (no -----BEGIN line)"),
        "{err}"
    );

    let mut command = cli.command("nobody", &["whoami"]);
    command
        .env_remove("GITHUB_TOKEN")
        .env("TFPILOT_GITHUB_APP_ID", "123");
    let output = command.output().await.unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("no private key"), "{err}");
}

fn settings(sim: &Simulator) -> GitHubSettings {
    GitHubSettings::new(sim.base_url())
        .without_timeouts()
        .without_ttl_cache()
}

fn app_tokens(sim: &Simulator, pem: &str, installation: Option<u64>) -> Arc<AppTokens> {
    AppTokens::new(
        &settings(sim),
        AppSigner::new(APP_ID, AppKey::from_pem(pem).unwrap()),
        installation,
        Some(RepoId::new("acme", "infra-live")),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installation_tokens_are_kept_for_the_hour_and_replaced_when_github_expires_them() {
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    let (private, public) = tfpilot::sim::apps::generate_key_pair().unwrap();
    sim.register_app(
        APP_ID,
        "tfpilot-bot",
        &public,
        &[(INSTALLATION, &["acme/infra-live"])],
    )
    .unwrap();
    // No installation configured: it is found from the repository.
    let tokens = app_tokens(&sim, &private, None);
    assert_eq!(tokens.installation().await.unwrap(), INSTALLATION);
    let github =
        GitHub::with_credentials(&settings(&sim), Credentials::Installation(tokens)).unwrap();
    let repo = sim::repo();
    let exchanges = || granted(&sim);

    github.branch_sha(&repo, "main").await.unwrap().unwrap();
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(exchanges(), 1, "one token for both calls");

    // Half an hour on GitHub's clock: the token still serves.
    sim.advance(Duration::from_secs(30 * 60));
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(exchanges(), 1);

    // Past its hour GitHub refuses it; the next call gets a new one and goes through. The JWT
    // for it is signed on GitHub's clock, read from the refusal's Date (this host's clock is
    // now an hour behind the simulator's).
    sim.advance(Duration::from_secs(31 * 60));
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(exchanges(), 2);
    let refused = sim.calls_to("POST", "/app/installations/{installation_id}/access_tokens");
    assert_eq!(
        refused.get(&401),
        Some(&1),
        "the JWT on this host's clock: {refused:?}"
    );

    // The installation covers acme/infra-live only: another repository is not there for it.
    let files =
        std::collections::BTreeMap::from([("README.md".to_string(), "# elsewhere\n".to_string())]);
    sim.create_repo("acme", "elsewhere", files).unwrap();
    let elsewhere = RepoId::new("acme", "elsewhere");
    let owner = sim::client(&sim, "acme");
    assert!(
        owner
            .branch_sha(&elsewhere, "main")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(github.branch_sha(&elsewhere, "main").await.unwrap(), None);
}

/// What the simulator answers an app's calls, as GitHub does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_checks_jwts_and_installation_tokens_as_github_does() {
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    let (private, public) = tfpilot::sim::apps::generate_key_pair().unwrap();
    sim.register_app(
        APP_ID,
        "tfpilot-bot",
        &public,
        &[(INSTALLATION, &["acme/infra-live"])],
    )
    .unwrap();
    let answer = |credentials: Credentials, method: Method, path: &'static str| {
        let transport = Transport::with_credentials(&settings(&sim), credentials).unwrap();
        async move {
            let body = serde_json::json!({});
            let body = (method == Method::POST).then_some(&body);
            let reply = transport.answer("test", method, path, body).await.unwrap();
            let text = String::from_utf8_lossy(&reply.body).into_owned();
            (reply.status, text)
        }
    };
    let now = sim.clock().now().timestamp();
    let signer = |clock: fn() -> i64| {
        Arc::new(AppSigner::with_clock(
            APP_ID,
            AppKey::from_pem(&private).unwrap(),
            clock,
        ))
    };
    // The simulator's frozen clock started at the test's start: a signer on the wall clock
    // agrees with it (within seconds).
    assert!((now - chrono::Utc::now().timestamp()).abs() < 60);
    let (status, body) = answer(
        Credentials::AppJwt(signer(|| chrono::Utc::now().timestamp())),
        Method::GET,
        "/app",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"slug\":\"tfpilot-bot\""), "{body}");

    // Signed an hour ago: expired.
    let (status, body) = answer(
        Credentials::AppJwt(signer(|| chrono::Utc::now().timestamp() - 3600)),
        Method::GET,
        "/app",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("'Expiration time' claim ('exp') must be a numeric value"),
        "{body}"
    );

    // Issued an hour ahead of GitHub.
    let (status, body) = answer(
        Credentials::AppJwt(signer(|| chrono::Utc::now().timestamp() + 3600)),
        Method::GET,
        "/app/installations",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("too far in the future") || body.contains("'Issued at' claim"),
        "{body}"
    );

    // A person's token is no app; an app's JWT is no person.
    let person = Credentials::Token(tfpilot::github::token::Token::new("sim-alice").unwrap());
    let (status, body) = answer(person, Method::GET, "/app").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("A JSON web token could not be decoded"),
        "{body}"
    );
    let (status, _) = answer(
        Credentials::AppJwt(signer(|| chrono::Utc::now().timestamp())),
        Method::GET,
        "/repos/acme/infra-live",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An installation token: no authenticated user behind it.
    let tokens = app_tokens(&sim, &private, Some(INSTALLATION));
    let (status, body) = answer(Credentials::Installation(tokens), Method::GET, "/user").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("Resource not accessible by integration"),
        "{body}"
    );

    // An installation the app does not have.
    let (status, _) = answer(
        Credentials::AppJwt(signer(|| chrono::Utc::now().timestamp())),
        Method::POST,
        "/app/installations/999/access_tokens",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The clock the proactive-refresh test moves: seconds since the epoch.
static TEST_CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn test_clock() -> i64 {
    TEST_CLOCK.load(std::sync::atomic::Ordering::SeqCst)
}

/// Five minutes before GitHub would expire it, the token is replaced before it is used: no call
/// is refused on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_token_is_replaced_before_it_expires() {
    let sim = sim::simulator(tfpilot::sim::SimOptions::default()).await;
    let (private, public) = tfpilot::sim::apps::generate_key_pair().unwrap();
    sim.register_app(
        APP_ID,
        "tfpilot-bot",
        &public,
        &[(INSTALLATION, &["acme/infra-live"])],
    )
    .unwrap();
    let start = sim.clock().now().timestamp();
    TEST_CLOCK.store(start, std::sync::atomic::Ordering::SeqCst);
    let tokens = AppTokens::new(
        &settings(&sim),
        AppSigner::with_clock(APP_ID, AppKey::from_pem(&private).unwrap(), test_clock),
        Some(INSTALLATION),
        None,
    )
    .unwrap();
    let github =
        GitHub::with_credentials(&settings(&sim), Credentials::Installation(tokens)).unwrap();
    let repo = sim::repo();
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(granted(&sim), 1);

    // 54 minutes on: six left, so the token still serves.
    sim.advance(Duration::from_secs(54 * 60));
    TEST_CLOCK.store(start + 54 * 60, std::sync::atomic::Ordering::SeqCst);
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(granted(&sim), 1);

    // 56 minutes on: four left, inside the margin; a new one is fetched first.
    sim.advance(Duration::from_secs(2 * 60));
    TEST_CLOCK.store(start + 56 * 60, std::sync::atomic::Ordering::SeqCst);
    github.branch_sha(&repo, "main").await.unwrap();
    assert_eq!(granted(&sim), 2);
    assert_eq!(
        sim.calls_to("GET", "/repos/{owner}/{repo}/git/ref/{*reference}")
            .get(&401),
        None,
        "no call was refused"
    );
}
