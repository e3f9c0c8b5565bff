//! `tfpilot doctor` against the simulator and both stores: a healthy setup passes every
//! check; a broken one fails each broken thing with a line saying what to do.

use std::collections::BTreeMap;

use serde_json::Value;

use tfpilot::domain::workflows::WORKFLOWS;
use tfpilot::store::{PutCondition, Store};

use super::cli::{Cli, setup};

fn registry(repo: &str) -> Vec<u8> {
    serde_json::json!({"projects": {"payments": {
        "dev": {"owner": "acme", "repo": repo, "base": "main", "env_path": "envs/dev", "file": "tfpilot.tf"},
        "prod": {"owner": "acme", "repo": repo, "base": "main", "env_path": "envs/prod", "file": "tfpilot.tf"}
    }}})
    .to_string()
    .into_bytes()
}

/// Replaces a team config object over its current version, as an admin would.
async fn replace(store: &Store, key: &str, body: Vec<u8>) {
    let current = store.backend().get(key).await.unwrap().unwrap();
    store
        .backend()
        .put(key, body, PutCondition::IfMatch(current.etag))
        .await
        .unwrap();
}

/// The checks as name -> verdict.
fn verdicts(out: &Value) -> BTreeMap<String, String> {
    out["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {out}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn protect_bucket(cli: &Cli) {
    let endpoint = super::common::s3_endpoint().expect("s3 endpoint");
    let client = super::common::s3_client(&endpoint);
    let bucket = cli
        .store
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    let by_default = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
        .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .build()
        .unwrap();
    let rule = aws_sdk_s3::types::ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .build();
    client
        .put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("encryption");
}

async fn doctor_on_a_healthy_and_a_broken_setup(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    // Healthy: every workflow, a protected base branch, a prod environment with a reviewer.
    let mut files: BTreeMap<String, String> = WORKFLOWS
        .iter()
        .map(|(name, text)| (format!(".github/workflows/{name}"), text.to_string()))
        .collect();
    files.insert("envs/dev/tfpilot.tf".into(), "# dev\n".into());
    bed.sim
        .create_repo("acme", "healthy-infra", files.clone())
        .unwrap();
    bed.sim
        .grant(
            "acme",
            "healthy-infra",
            "admin",
            tfpilot::sim::access::Permission::Admin,
        )
        .unwrap();
    bed.sim
        .require_approvals("acme", "healthy-infra", 1)
        .unwrap();
    bed.sim
        .set_environment("acme", "healthy-infra", "prod", &["admin"])
        .unwrap();
    let registry_key = "config/infra-repos.json";
    replace(&bed.store, registry_key, registry("healthy-infra")).await;
    if s3 {
        protect_bucket(&cli).await;
    }
    let (code, out, err) = cli.run("admin", &["doctor"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    let found = verdicts(&out);
    let expected_bucket = if s3 { "pass" } else { "skip" };
    if s3 {
        // moto answers GetBucketVersioning with a root element AWS does not use, which the
        // SDK cannot read: on moto the check can only say it could not read it.
        let checks = out["checks"].as_array().unwrap();
        let versioning = checks
            .iter()
            .find(|c| c["name"] == "store versioning")
            .unwrap();
        assert!(
            versioning["verdict"] == "pass"
                || (versioning["verdict"] == "warn"
                    && versioning["detail"]
                        .as_str()
                        .unwrap()
                        .starts_with("cannot be read")),
            "{versioning}"
        );
    } else {
        assert_eq!(found["store versioning"], "skip");
    }
    for (name, verdict) in [
        ("store", "pass"),
        ("store encryption", expected_bucket),
        ("team config", "pass"),
        ("token", "pass"),
        ("repo acme/healthy-infra", "pass"),
        ("workflows acme/healthy-infra", "pass"),
        ("branch protection acme/healthy-infra@main", "pass"),
        ("environment prod in acme/healthy-infra", "pass"),
    ] {
        assert_eq!(
            found.get(name).map(String::as_str),
            Some(verdict),
            "{name}: {out}"
        );
    }
    assert_eq!(out["failures"], 0);
    let listed = bed.store.backend().list("doctor/", None, 10).await.unwrap();
    assert!(listed.objects.is_empty(), "the probe object is cleaned up");
    let text = cli.command("admin", &["doctor"]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("PASS  token"), "{text}");

    // Broken: two workflows missing, no protection, no prod environment, a token without the
    // workflow scope, and a registry naming a repository that does not exist.
    files.remove(".github/workflows/tfpilot-drift.yml");
    files.remove(".github/workflows/tfpilot-cleanup.yml");
    bed.sim.create_repo("acme", "broken-infra", files).unwrap();
    bed.sim
        .grant(
            "acme",
            "broken-infra",
            "admin",
            tfpilot::sim::access::Permission::Admin,
        )
        .unwrap();
    let mut broken: Value = serde_json::from_slice(&registry("broken-infra")).unwrap();
    broken["projects"]["search"] = serde_json::json!({"dev": {"owner": "acme", "repo": "ghost", "base": "main", "env_path": "envs/dev", "file": "tfpilot.tf"}});
    replace(&bed.store, registry_key, broken.to_string().into_bytes()).await;
    bed.sim.set_token_scopes("admin", Some("repo"));
    let (code, out, _) = cli.run("admin", &["doctor"]).await;
    assert_eq!(code, 1, "{out}");
    let found = verdicts(&out);
    for (name, verdict) in [
        ("token", "fail"),
        ("repo acme/ghost", "fail"),
        ("workflows acme/broken-infra", "fail"),
        ("branch protection acme/broken-infra@main", "fail"),
        ("environment prod in acme/broken-infra", "fail"),
    ] {
        assert_eq!(
            found.get(name).map(String::as_str),
            Some(verdict),
            "{name}: {out}"
        );
    }
    let checks = out["checks"].as_array().unwrap();
    let workflows = checks
        .iter()
        .find(|c| c["name"] == "workflows acme/broken-infra")
        .unwrap();
    assert!(
        workflows["detail"]
            .as_str()
            .unwrap()
            .contains("tfpilot-cleanup.yml, tfpilot-drift.yml"),
        "{workflows}"
    );
    assert!(
        workflows["fix"]
            .as_str()
            .unwrap()
            .contains("tfpilot init-repo")
    );

    // A fine-grained token is a warning; no token at all, and a broken policy, are failures.
    bed.sim.set_token_scopes("admin", None);
    let (_, out, _) = cli.run("admin", &["doctor"]).await;
    assert_eq!(verdicts(&out)["token"], "warn", "{out}");
    replace(&bed.store, "config/policy.json", b"{\"admins\": [".to_vec()).await;
    let mut command = cli.command("admin", &["--json", "doctor"]);
    command.env_remove("GITHUB_TOKEN");
    let output = command.output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found = verdicts(&out);
    assert_eq!(found["token"], "fail", "{out}");
    assert_eq!(found["team config"], "fail", "{out}");
    assert_eq!(found["store"], "pass", "{out}");
}

#[test]
fn doctor_on_the_local_store() {
    super::common::block_on_big_stack(doctor_on_a_healthy_and_a_broken_setup(false));
}

#[test]
fn doctor_on_s3() {
    super::common::block_on_big_stack(doctor_on_a_healthy_and_a_broken_setup(true));
}
