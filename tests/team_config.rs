//! The team configuration shipped in `examples/store/config/` loads, and every
//! sample request written in the current schema validates against it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

mod common;

use std::path::Path;
use std::sync::Arc;

use tfpilot::domain::catalog::find_module;
use tfpilot::store::{LocalStore, ObjectStore, PutCondition, Store};

fn example_store() -> Store {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store");
    Store::new(Arc::new(
        LocalStore::open(root).expect("examples/store exists"),
    ))
}

#[tokio::test]
async fn example_catalog_registry_and_policy_load() {
    let config = example_store().load_team_config().await.unwrap();
    assert!(config.problems.is_empty(), "{:?}", config.problems);
    let names: Vec<&str> = config.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ecs-service",
            "iam-role",
            "rds-postgres",
            "s3-bucket",
            "sqs-queue",
            "vpc"
        ]
    );
    use tfpilot::domain::access::Role;
    assert_eq!(config.access.role_of("erin"), Role::Admin);
    assert_eq!(config.access.role_of("bob"), Role::Approver);
    assert_eq!(config.access.role_of("alice"), Role::Developer);
    assert!(config.access.is_prod("prod"));
    let registry = config.infra_repos.expect("registry");
    let target = registry.target("payments", "prod").unwrap();
    assert_eq!(
        (target.repo.as_str(), target.env_path.as_str()),
        ("infra-live", "envs/prod")
    );
    assert!(config.policy.naming.is_some());
}

#[tokio::test]
async fn current_schema_samples_validate_against_their_modules() {
    let store = example_store();
    let config = store.load_team_config().await.unwrap();
    let mut checked = 0;
    for meta in store.list_all("requests/").await.unwrap() {
        let body = store.get_blob(&meta.key).await.unwrap().unwrap();
        let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if raw.get("schema_version").is_none() {
            continue; // Legacy camelCase documents predate the catalog.
        }
        let request = tfpilot::store::requests::parse_stored_request(&meta.key, &body).unwrap();
        let module = find_module(&config.modules, &request.module).unwrap();
        let validated = module
            .validate(&request.config)
            .unwrap_or_else(|errors| panic!("{}: {errors}", meta.key));
        let guardrails = config.policy.check(&request.environment, &validated);
        assert!(guardrails.is_empty(), "{}: {guardrails:?}", meta.key);
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[tokio::test]
async fn a_broken_module_file_is_reported_and_the_rest_load() {
    let (_dir, backend) = common::local_backend();
    let put = |key: &'static str, body: &'static str| {
        let backend: Arc<dyn ObjectStore> = backend.clone();
        async move {
            backend
                .put(key, body.as_bytes().to_vec(), PutCondition::IfAbsent)
                .await
                .unwrap();
        }
    };
    put(
        "config/modules/good.json",
        r#"{"name": "good", "source": "./good"}"#,
    )
    .await;
    put(
        "config/modules/twin.json",
        r#"{"name": "good", "source": "./twin"}"#,
    )
    .await;
    put(
        "config/modules/bad.json",
        r#"{"name": "bad", "source": "./bad", "fields": [{"name": "x", "type": "float"}]}"#,
    )
    .await;
    put("config/modules/README.md", "not a module").await;
    put(
        "config/infra-repos.json",
        r#"{"projects": {"p": {"dev": {"owner": "o", "repo": "r", "env_path": "../x"}}}}"#,
    )
    .await;
    let config = Store::new(backend.clone())
        .load_team_config()
        .await
        .unwrap();
    assert_eq!(config.modules.len(), 1);
    assert_eq!(
        config.modules[0].source, "./good",
        "the first file by key wins"
    );
    let problems: Vec<String> = config.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].contains("config/modules/bad.json"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("already defines module \"good\""),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("config/infra-repos.json"),
        "{problems:?}"
    );
    assert!(config.infra_repos.is_none());
}

/// Strict team config: a misspelt key in any team file is an error naming the file, the key and
/// the key meant. A misspelt `prod_environments` used to be ignored, leaving production without
/// its allowlists while `doctor` passed; now every mutation is refused and `doctor` fails.
#[tokio::test]
async fn misspelt_keys_in_team_files_are_errors_with_the_key_meant() {
    let (_dir, backend) = common::local_backend();
    for (key, body) in [
        (
            "config/policy.json",
            r#"{"admins": ["admin"], "approvers": ["bob"], "prod_environment": ["prod"]}"#,
        ),
        (
            "config/modules/svc.json",
            r#"{"name": "svc", "source": "./svc", "fields": [{"name": "key", "type": "string", "sensitiv": true}]}"#,
        ),
        (
            "config/infra-repos.json",
            r#"{"projects": {"p": {"dev": {"owner": "o", "repo": "r", "env_pth": "envs/dev"}}}}"#,
        ),
        (
            "templates/svc-small.json",
            r#"{"id": "svc-small", "module": "svc", "presets": {"key": "x"}}"#,
        ),
    ] {
        backend
            .put(key, body.as_bytes().to_vec(), PutCondition::IfAbsent)
            .await
            .unwrap();
    }
    let config = Store::new(backend.clone())
        .load_team_config()
        .await
        .unwrap();
    let problems: Vec<String> = config.problems.iter().map(ToString::to_string).collect();
    for (file, meant) in [
        ("config/policy.json", "did you mean `prod_environments`?"),
        ("config/modules/svc.json", "did you mean `sensitive`?"),
        ("config/infra-repos.json", "did you mean `env_path`?"),
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(file) && p.contains(meant)),
            "{file}: {problems:?}"
        );
    }
    let template_problems: Vec<String> = config
        .template_problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        template_problems
            .iter()
            .any(|p| p.contains("templates/svc-small.json") && p.contains("did you mean `preset`?")),
        "{template_problems:?}"
    );
    use tfpilot::domain::access::{Decision, Subject};
    use tfpilot::domain::operation::Operation;
    let decision = config.access.authorize(
        "admin",
        Operation::Apply,
        Subject {
            environment: "prod",
            requested_by: "alice",
            cancels: None,
        },
    );
    let Decision::Denied { reason } = decision else {
        panic!("a broken policy refuses");
    };
    assert!(reason.contains("prod_environments"), "{reason}");
    let check = tfpilot::doctor::judge_team(&config);
    assert_eq!(check.verdict, tfpilot::doctor::Verdict::Fail, "{check:?}");
    assert!(
        check.detail.contains("prod_environment"),
        "{}",
        check.detail
    );
}
