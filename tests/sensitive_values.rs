//! Sensitive module values are write-only: they go to AWS SSM Parameter Store (moto's, in
//! server mode) and nowhere else. Not in the store's bytes, not in any commit of the simulated
//! repository, not in the log, not in any output; the block names the parameter's version, an
//! update writes a new version, and cleanup deletes the parameter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
#[macro_use]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod sim;

use bed::Bed;
use cli::{Cli, setup};

/// Runs `args` as `login`; it must succeed. Returns the `--json` output and the errors.
async fn run(cli: &Cli, login: &str, args: Vec<String>) -> (serde_json::Value, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cli.run(login, &args).await;
    assert_eq!(code, 0, "{args:?}: {err}");
    (out, err)
}

const FIRST: &str = "first-Sekret-4f81c2aa";
const SECOND: &str = "second-Sekret-9b33e0d7";
const THIRD: &str = "third-Sekret-1c7a55e2";
const FOURTH: &str = "fourth-Sekret-6d20b9f4";

fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    let credentials =
        aws_sdk_ssm::config::Credentials::new("testing", "testing", None, None, "tfpilot-tests");
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// The value of `selector` (`name:version`) in SSM, decrypted; `None` when it is not there.
async fn parameter(ssm: &aws_sdk_ssm::Client, selector: &str) -> Option<String> {
    let answer = ssm
        .get_parameter()
        .name(selector)
        .with_decryption(true)
        .send()
        .await
        .ok()?;
    let parameter = answer.parameter()?;
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    parameter.value().map(str::to_string)
}

/// Every byte of every object in the store, as text.
async fn store_bytes(bed: &Bed) -> String {
    let backend = bed.store.backend();
    let mut text = String::new();
    for prefix in [
        "requests/",
        "logs/",
        "plans/",
        "idempotency/",
        "history/",
        "config/",
        "cost/",
        "drift/",
    ] {
        let mut token = None;
        loop {
            let page = backend.list(prefix, token.as_deref(), 1000).await.unwrap();
            for meta in &page.objects {
                if let Some(object) = backend.get(&meta.key).await.unwrap() {
                    text.push_str(&String::from_utf8_lossy(&object.body));
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    text
}

async fn sensitive_values_go_to_ssm_and_nowhere_else(s3: bool) {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let Some((bed, mut cli)) = setup(s3).await else {
        return;
    };
    for (key, value) in [
        ("TFPILOT_SSM_ENDPOINT", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            home::secrets::AWS_TEST_SECRET.to_string(),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ] {
        cli.env.push((key, value));
    }
    let module = std::fs::read("examples/store/config/modules/rds-postgres.json").unwrap();
    bed.store
        .put_once("config/modules/rds-postgres.json", module)
        .await
        .unwrap();
    let ssm = ssm_client(&endpoint);
    let mut outputs = String::new();
    let create = format!("master_password={FIRST}");
    let (created, err) = run(
        &cli,
        "alice",
        [
            "create",
            "--module",
            "rds-postgres",
            "--project",
            "payments",
            "--env",
            "dev",
            "--set",
            "identifier=orders-db",
            "--set",
            &create,
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    outputs.push_str(&format!("{created}{err}"));
    let id = created["id"].as_str().unwrap().to_string();
    let name = format!("/tfpilot/payments/dev/{id}/master_password");
    assert_eq!(
        parameter(&ssm, &format!("{name}:1")).await.as_deref(),
        Some(FIRST)
    );
    let document = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(
        document.config["master_password"],
        serde_json::json!({"sensitive": true, "parameter": name, "version": 1})
    );

    bed.finish_runs();
    bed.engine("alice").await.sync(&id).await.unwrap();
    let update = format!("master_password={SECOND}");
    let (updated, err) = run(
        &cli,
        "alice",
        vec!["update".into(), id.clone(), "--set".into(), update],
    )
    .await;
    outputs.push_str(&format!("{updated}{err}"));
    assert_eq!(
        parameter(&ssm, &format!("{name}:2")).await.as_deref(),
        Some(SECOND)
    );
    let branch = format!("tfpilot/{id}");
    let file = bed
        .engine("alice")
        .await
        .github()
        .get_file(
            &tfpilot::github::RepoId::new("acme", "infra-live"),
            "envs/dev/tfpilot.tf",
            &branch,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        file.text
            .contains(&format!("master_password_parameter = \"{name}:2\"")),
        "{}",
        file.text
    );

    // Through the lifecycle, with every command that prints the request on the way.
    bed.finish_runs();
    bed.engine("alice").await.sync(&id).await.unwrap();
    for args in [
        vec!["show".to_string(), id.clone()],
        vec!["events".to_string(), id.clone()],
        vec!["list".to_string()],
        vec!["audit-export".to_string(), id.clone()],
    ] {
        let (out, err) = run(&cli, "alice", args).await;
        outputs.push_str(&format!("{out}{err}"));
    }
    let text = cli.command("alice", &["show", &id]).output().await.unwrap();
    outputs.push_str(&String::from_utf8_lossy(&text.stdout));
    bed.engine("bob").await.approve(&id, None).await.unwrap();
    bed.engine("alice").await.merge(&id, None).await.unwrap();
    bed.engine("bob").await.apply(&id, None).await.unwrap();
    bed.finish_runs();
    bed.engine("bob").await.sync(&id).await.unwrap();
    // A change of the password stores it under the change's id and keeps the rest; a change
    // withdrawn takes its own parameter with it, and only that one.
    let change = format!("master_password={THIRD}");
    let (changed, err) = run(
        &cli,
        "alice",
        vec!["change".into(), id.clone(), "--set".into(), change],
    )
    .await;
    outputs.push_str(&format!("{changed}{err}"));
    let change_id = changed["id"].as_str().unwrap().to_string();
    let change_name = format!("/tfpilot/payments/dev/{change_id}/master_password");
    assert_eq!(
        parameter(&ssm, &format!("{change_name}:1"))
            .await
            .as_deref(),
        Some(THIRD)
    );
    let (withdrawn, err) = run(
        &cli,
        "alice",
        vec!["withdraw".into(), change_id.clone(), "--yes".into()],
    )
    .await;
    outputs.push_str(&format!("{withdrawn}{err}"));
    assert!(withdrawn.to_string().contains(&change_name), "{withdrawn}");
    assert_eq!(
        parameter(&ssm, &change_name).await,
        None,
        "the change's own"
    );
    assert_eq!(
        parameter(&ssm, &format!("{name}:2")).await.as_deref(),
        Some(SECOND),
        "the original's stays"
    );
    // A second change, applied: its parameter is what the resources use until the original is
    // cleaned up, and goes with it.
    let change = format!("master_password={FOURTH}");
    let (changed, err) = run(
        &cli,
        "alice",
        vec!["change".into(), id.clone(), "--set".into(), change],
    )
    .await;
    outputs.push_str(&format!("{changed}{err}"));
    let second_id = changed["id"].as_str().unwrap().to_string();
    let second_name = format!("/tfpilot/payments/dev/{second_id}/master_password");
    bed.finish_runs();
    bed.engine("alice").await.sync(&second_id).await.unwrap();
    bed.engine("bob")
        .await
        .approve(&second_id, None)
        .await
        .unwrap();
    bed.engine("alice")
        .await
        .merge(&second_id, None)
        .await
        .unwrap();
    bed.engine("bob")
        .await
        .apply(&second_id, None)
        .await
        .unwrap();
    bed.finish_runs();
    bed.engine("bob").await.sync(&second_id).await.unwrap();
    assert_eq!(
        parameter(&ssm, &format!("{second_name}:1"))
            .await
            .as_deref(),
        Some(FOURTH)
    );
    bed.engine("admin").await.destroy(&id, None).await.unwrap();
    bed.finish_runs();
    bed.engine("admin").await.sync(&id).await.unwrap();
    assert_eq!(
        parameter(&ssm, &format!("{name}:2")).await.as_deref(),
        Some(SECOND),
        "kept until cleanup"
    );
    let (cleaned, err) = run(
        &cli,
        "alice",
        vec!["cleanup".into(), id.clone(), "--yes".into()],
    )
    .await;
    outputs.push_str(&format!("{cleaned}{err}"));
    assert!(cleaned.to_string().contains(&name), "{cleaned}");
    assert_eq!(
        parameter(&ssm, &name).await,
        None,
        "deleted with every version"
    );
    assert_eq!(parameter(&ssm, &second_name).await, None);

    let log = cli.home.log_text();
    assert!(!log.is_empty());
    let world = bed.sim.world().to_string();
    assert!(
        world.contains(&format!("{name}:1")),
        "the first commit names version 1"
    );
    let store = store_bytes(&bed).await;
    assert!(store.contains(&name));
    for secret in [FIRST, SECOND, THIRD, FOURTH] {
        for (place, bytes) in [
            ("the store", &store),
            ("the simulated GitHub (every commit, run and state)", &world),
            ("the log", &log),
            ("the command outputs", &outputs),
        ] {
            assert!(!bytes.contains(secret), "{secret} is in {place}");
        }
    }
}

on_both_stores!(sensitive_values_go_to_ssm_and_nowhere_else);

/// Without a secret store, a sensitive value is refused before anything is written: it would
/// otherwise have nowhere to go but git.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_store_a_sensitive_value_is_refused() {
    let Some((bed, _cli)) = setup(false).await else {
        return;
    };
    let module = std::fs::read("examples/store/config/modules/rds-postgres.json").unwrap();
    bed.store
        .put_once("config/modules/rds-postgres.json", module)
        .await
        .unwrap();
    let mut values = serde_json::Map::new();
    values.insert("identifier".into(), "orders-db".into());
    values.insert("master_password".into(), FIRST.into());
    let input = tfpilot::engine::CreateInput {
        project: "payments".into(),
        environment: "dev".into(),
        module: "rds-postgres".into(),
        values,
        ..bed::bucket("unused", "dev")
    };
    let error = bed.engine("alice").await.create(input).await.unwrap_err();
    assert!(
        error.to_string().contains("no secret store is configured"),
        "{error}"
    );
    assert_eq!(bed.pulls_for("req_"), 0);
    assert!(!store_bytes(&bed).await.contains(FIRST));
}
