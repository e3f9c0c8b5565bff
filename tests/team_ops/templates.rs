//! Templates: admins write them, everyone uses them, locked values stay locked.

use serde_json::json;
use tfpilot::domain::template::Template;
use tfpilot::store::StoreError;

use super::cli::setup;

const CUSTOM: &str = r#"{
  "id": "dev-archive",
  "description": "Archive bucket for dev",
  "module": "s3-bucket",
  "environments": ["dev"],
  "preset": {"lifecycle_days": 365},
  "locked": {"object_lock": true}
}"#;

async fn admins_manage_templates_and_requests_keep_their_locks(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    // Only admins write; the reason names the role and where roles come from.
    for login in ["alice", "bob"] {
        let (code, out, err) = cli.run(login, &["template", "seed"]).await;
        assert_eq!(code, 3, "{login}: {err}");
        assert_eq!(out["error"]["kind"], "denied");
        assert!(
            err.contains("only admins can seed templates") && err.contains("config/policy.json"),
            "{err}"
        );
    }
    let (code, out, err) = cli.run("admin", &["template", "seed"]).await;
    assert_eq!(code, 0, "{err}");
    let outcomes: Vec<(String, String)> = out["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("logs-bucket".into(), "created".into())),
        "{outcomes:?}"
    );
    // The bed's catalog has only s3-bucket: the others do not fit and are skipped.
    assert!(
        outcomes.contains(&("work-queue".into(), "skipped".into())),
        "{outcomes:?}"
    );
    let (_, again, _) = cli.run("admin", &["template", "seed"]).await;
    assert_eq!(again["templates"][0]["outcome"], "kept");

    // Put from a file: created, unchanged, replaced; refused for others and when invalid.
    let file = cli.home.path().join("dev-archive.json");
    std::fs::write(&file, CUSTOM).unwrap();
    let path = file.display().to_string();
    let (code, _, err) = cli.run("alice", &["template", "put", &path]).await;
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = cli.run("admin", &["template", "put", &path]).await;
    assert_eq!(
        (code, out["result"].as_str()),
        (0, Some("created")),
        "{err}"
    );
    assert_eq!(out["template"]["updated_by"], "admin");
    let (_, out, _) = cli.run("admin", &["template", "put", &path]).await;
    assert_eq!(out["result"], "unchanged");
    std::fs::write(&file, CUSTOM.replace("365", "400")).unwrap();
    let (_, out, _) = cli.run("admin", &["template", "put", &path]).await;
    assert_eq!(out["result"], "replaced");
    std::fs::write(&file, CUSTOM.replace("object_lock", "no_such_field")).unwrap();
    let (code, _, err) = cli.run("admin", &["template", "put", &path]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s3-bucket has no field \"no_such_field\""),
        "{err}"
    );

    // Everyone reads.
    let (code, listed, err) = cli.run("viewer", &["template", "list"]).await;
    assert_eq!(code, 0, "{err}");
    let ids: Vec<&str> = listed["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dev-archive", "logs-bucket"]);
    let (code, shown, _) = cli.run("alice", &["template", "show", "dev-archive"]).await;
    assert_eq!(code, 0);
    assert_eq!(shown["preset"]["lifecycle_days"], 400);

    // A create from a template: preset, given and locked values; the id is recorded.
    let create = [
        "create",
        "--template",
        "logs-bucket",
        "--project",
        "payments",
        "--env",
        "dev",
        "--set",
        "bucket_name=payments-dev-logs",
    ];
    let (code, doc, err) = cli.run("alice", &create).await;
    assert_eq!(code, 0, "{err}");
    let id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(doc["template_id"], "logs-bucket");
    assert_eq!(doc["module"], "s3-bucket");
    assert_eq!(doc["config"]["versioning"], true);
    assert_eq!(doc["config"]["lifecycle_days"], 90);
    assert_eq!(doc["config"]["force_destroy"], false);
    let mut unlocking = create.to_vec();
    unlocking.extend(["--set", "force_destroy=true"]);
    let (code, _, err) = cli.run("alice", &unlocking).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("force_destroy: is locked to false by template logs-bucket"),
        "{err}"
    );
    let prod = [
        "create",
        "--template",
        "dev-archive",
        "--project",
        "payments",
        "--env",
        "prod",
        "--set",
        "bucket_name=payments-prod-archive",
    ];
    let (code, _, err) = cli.run("alice", &prod).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("template dev-archive is for dev only"),
        "{err}"
    );
    let (code, _, err) = cli
        .run(
            "alice",
            &[
                "create",
                "--template",
                "nope",
                "--project",
                "payments",
                "--env",
                "dev",
            ],
        )
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("known: dev-archive, logs-bucket"), "{err}");

    // An update cannot unlock what the template locked, and may change the rest.
    let (code, _, err) = cli
        .run("alice", &["update", &id, "--set", "force_destroy=true"])
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("made from template logs-bucket"), "{err}");
    let (code, _, err) = cli
        .run("alice", &["update", &id, "--set", "lifecycle_days=30"])
        .await;
    assert_eq!(code, 0, "{err}");

    // Delete: admins only; requests keep the id as a record.
    let (code, _, _) = cli.run("bob", &["template", "delete", "logs-bucket"]).await;
    assert_eq!(code, 3);
    let (code, _, err) = cli
        .run("admin", &["template", "delete", "logs-bucket"])
        .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = cli.run("alice", &["template", "show", "logs-bucket"]).await;
    assert_ne!(code, 0);
    let (code, _, _) = cli
        .run("admin", &["template", "delete", "logs-bucket"])
        .await;
    assert_eq!(code, 2, "deleting what is not there says so");
    let kept = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(kept.template_id.as_deref(), Some("logs-bucket"));

    // Writes are conditional: a stale version or a second create loses.
    let stored = bed
        .store
        .get_template("dev-archive")
        .await
        .unwrap()
        .unwrap();
    let template = Template::parse(CUSTOM, "templates/dev-archive.json").unwrap();
    bed.store
        .put_template(&template, Some(&stored.etag))
        .await
        .unwrap();
    let stale = bed.store.put_template(&template, Some(&stored.etag)).await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    let twice = bed.store.put_template(&template, None).await;
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists { .. })),
        "{twice:?}"
    );

    // A broken template file is reported, not hidden, and does not hide the others.
    bed.store
        .put_once(
            "templates/broken.json",
            json!({"id": "broken"}).to_string().into_bytes(),
        )
        .await
        .unwrap();
    let (code, listed, _) = cli.run("alice", &["template", "list"]).await;
    assert_eq!(code, 0);
    assert_eq!(listed["templates"].as_array().unwrap().len(), 1);
    let problems = listed["problems"].to_string();
    assert!(problems.contains("templates/broken.json"), "{problems}");
}

#[test]
fn templates_on_the_local_store() {
    super::common::block_on_big_stack(admins_manage_templates_and_requests_keep_their_locks(false));
}

#[test]
fn templates_on_s3() {
    super::common::block_on_big_stack(admins_manage_templates_and_requests_keep_their_locks(true));
}
