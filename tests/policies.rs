//! Policies on plans from the command line, as the real binary on both stores: admins put,
//! replace, delete and seed `policies/<name>.rego`; a policy that does not compile is refused
//! before it is stored; a broken file in the store is listed as broken; everyone lists, shows
//! and tests; `policy test` judges real Terraform plans and exits 1 on a deny or failed test.

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

use cli::setup;

const NO_DELETES: &str = r#"package tfpilot.no_deletes

deny contains msg if {
	some rc in input.plan.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s would be deleted", [rc.address])
}

test_a_deletion_is_denied if {
	count(deny) == 1 with input as {"plan": {"resource_changes": [{"address": "a.b", "change": {"actions": ["delete"]}}]}}
}

test_a_creation_passes if {
	count(deny) == 0 with input as {"plan": {"resource_changes": [{"address": "a.b", "change": {"actions": ["create"]}}]}}
}
"#;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn admins_manage_policies_and_everyone_reads_them(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let good = write(files.path(), "no-deletes.rego", NO_DELETES);

    // Only admins write.
    let (code, _, err) = cli.run("alice", &["policy", "put", &good]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("admin"), "{err}");

    let (code, answer, err) = cli.run("admin", &["policy", "put", &good]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(answer["result"], "created");
    assert_eq!(answer["name"], "no-deletes");
    let (_, again, _) = cli.run("admin", &["policy", "put", &good]).await;
    assert_eq!(again["result"], "unchanged");

    // A policy that does not compile never reaches the store, and the message says where.
    let broken = write(
        files.path(),
        "typo.rego",
        "package tfpilot.typo\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    let (code, _, err) = cli.run("admin", &["policy", "put", &broken]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("policy typo was not stored"), "{err}");
    assert!(err.contains("typo.rego:4"), "{err}");
    let outside = write(
        files.path(),
        "outside.rego",
        "package buckets\n\ndeny contains \"x\" if { true }\n",
    );
    let (code, _, err) = cli.run("admin", &["policy", "put", &outside]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("package tfpilot.<name>"), "{err}");
    let badly_named = write(files.path(), "No Deletes.rego", NO_DELETES);
    let (code, _, err) = cli.run("admin", &["policy", "put", &badly_named]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--name"), "{err}");
    let (code, answer, err) = cli
        .run(
            "admin",
            &["policy", "put", &badly_named, "--name", "deletions"],
        )
        .await;
    assert_eq!(
        (code, &answer["name"]),
        (0, &serde_json::json!("deletions")),
        "{err}"
    );

    // A file written around tfpilot (anyone with the bucket's keys could) is listed as broken:
    // it blocks every plan until it is fixed.
    bed.store
        .put_once(
            "policies/handwritten.rego",
            b"package tfpilot.handwritten\n\ndeny contains if\n".to_vec(),
        )
        .await
        .unwrap();
    let (code, listed, err) = cli.run("viewer", &["policy", "list"]).await;
    assert_eq!(code, 0, "{err}");
    let rows = listed["policies"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["deletions", "handwritten", "no-deletes"]);
    assert_eq!(rows[2]["package"], "tfpilot.no_deletes");
    assert!(
        rows[1]["problem"]
            .as_str()
            .unwrap()
            .contains("handwritten.rego")
    );
    let text = cli
        .command("viewer", &["policy", "list"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("handwritten              BROKEN (blocks every plan)"),
        "{text}"
    );

    let (code, shown, _) = cli.run("viewer", &["policy", "show", "no-deletes"]).await;
    assert_eq!(code, 0);
    assert_eq!(shown["source"], NO_DELETES);
    let (code, _, err) = cli.run("viewer", &["policy", "show", "nothing"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no policy named \"nothing\""), "{err}");

    // Seeding adds the examples once and keeps what is there.
    let (code, seeded, err) = cli.run("admin", &["policy", "seed"]).await;
    assert_eq!(code, 0, "{err}");
    let outcomes: Vec<(&str, &str)> = seeded["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("buckets", "created"),
            ("monthly-cost", "created"),
            ("prod-databases", "created")
        ]
    );
    let (_, reseeded, _) = cli.run("admin", &["policy", "seed"]).await;
    assert_eq!(reseeded["policies"][0]["outcome"], "kept");

    let (code, _, err) = cli.run("bob", &["policy", "delete", "deletions"]).await;
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = cli.run("admin", &["policy", "delete", "deletions"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli.run("admin", &["policy", "delete", "deletions"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(bed.store.get_policy("deletions").await.unwrap().is_none());
}

on_both_stores!(admins_manage_policies_and_everyone_reads_them);

/// `policy test` on real Terraform plans (tests/fixtures/plans): each rule's result, `test_`
/// rules as `conftest verify` reports them, exit 1 when the plan is denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_test_judges_real_plans() {
    let Some((_bed, cli)) = setup(false).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let policy = write(files.path(), "no-deletes.rego", NO_DELETES);
    let plan = |name: &str| format!("tests/fixtures/plans/{name}.plan.json");

    let deleting = plan("tf-destroy-not-in-config");
    let output = cli
        .command("alice", &["policy", "test", &policy, "--plan", &deleting])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text,
        "no-deletes (package tfpilot.no_deletes): deny\n  DENY  local_file.test would be deleted\n  DENY  local_file.test3 would be deleted\n  PASS  test_a_deletion_is_denied\n  PASS  test_a_creation_passes\n2 deny, 0 warn; tests: 2 passed, 0 failed\n"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("the policy denies this plan"));

    let creating = plan("tf-create-sensitive-heredoc");
    let (code, report, err) = cli
        .run("alice", &["policy", "test", &policy, "--plan", &creating])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["results"][0]["tests"].as_array().unwrap().len(), 2);

    // A failing test rule fails the command even when the plan passes.
    let failing = write(
        files.path(),
        "failing.rego",
        &NO_DELETES.replace("count(deny) == 0 with", "count(deny) == 5 with"),
    );
    let (code, report, _) = cli
        .run("alice", &["policy", "test", &failing, "--plan", &creating])
        .await;
    assert_eq!(code, 1);
    assert_eq!(report["results"][0]["tests"][1]["passed"], false);

    // What is not a plan is said to be so.
    let (code, _, err) = cli
        .run(
            "alice",
            &[
                "policy",
                "test",
                &policy,
                "--plan",
                &plan("tfjson-INVALID-malformed"),
            ],
        )
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("the plan is not JSON"), "{err}");
    let (code, _, err) = cli
        .run("alice", &["policy", "test", &policy, "--plan", "/dev/zero"])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("not a regular file"), "{err}");
}

/// The gate from the command line: a denied plan refuses `approve` with the policies' words
/// (exit 3), `show` and `explain` say why, an admin's `policy override` lets it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_and_its_override_from_the_command_line() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let names = write(
        files.path(),
        "names.rego",
        "package tfpilot.names\n\ndeny contains msg if {\n\tcontains(input.request.values.bucket_name, \"blocked\")\n\tmsg := sprintf(\"bucket %s is blocked\", [input.request.values.bucket_name])\n}\n",
    );
    assert_eq!(cli.run("admin", &["policy", "put", &names]).await.0, 0);
    let id = bed.planned("dev", "payments-dev-blocked-cli").await;

    let (code, _, err) = cli.run("bob", &["approve", &id]).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("names: bucket payments-dev-blocked-cli is blocked"),
        "{err}"
    );
    assert!(err.contains("tfpilot policy override"), "{err}");

    let shown = cli.command("bob", &["show", &id]).output().await.unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("policy       deny (1): approve, merge and apply are refused"),
        "{shown}"
    );
    assert!(
        shown.contains("deny: names: bucket payments-dev-blocked-cli is blocked"),
        "{shown}"
    );
    let explained = cli
        .command("bob", &["explain", &id])
        .output()
        .await
        .unwrap();
    let explained = String::from_utf8_lossy(&explained.stdout);
    assert!(explained.contains("Policy: deny (1)"), "{explained}");

    // The authoring loop on the request's own plan, as the gate sees it.
    let output = cli
        .command("alice", &["policy", "test", &names, "--request", &id])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("DENY  bucket payments-dev-blocked-cli is blocked"),
        "{text}"
    );
    let relaxed = write(
        files.path(),
        "relaxed.rego",
        "package tfpilot.relaxed\n\nwarn contains \"checked\" if { count(input.plan.resource_changes) == 3 }\n",
    );
    let (code, report, err) = cli
        .run("alice", &["policy", "test", &relaxed, "--request", &id])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["results"][0]["warn"][0], "checked", "{report}");
    let (code, _, err) = cli.run("alice", &["policy", "test", &relaxed]).await;
    assert_eq!(code, 2, "{err}");
    let (code, judged, err) = cli.run("alice", &["policy", "eval", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(judged["policy"]["verdict"], "deny");

    let (code, _, err) = cli
        .run(
            "bob",
            &["policy", "override", &id, "--reason", "mine", "--yes"],
        )
        .await;
    assert_eq!(code, 3, "{err}");
    let short = &id[..id.len() - 4];
    let (code, answer, err) = cli
        .run(
            "admin",
            &[
                "policy",
                "override",
                short,
                "--reason",
                "a test bucket",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(answer["override"]["by"], "admin");
    let (_, document, _) = cli.run("bob", &["show", &id]).await;
    assert_eq!(document["policy"]["verdict"], "deny");
    assert_eq!(document["policy_override"]["reason"], "a test bucket");
    let (code, _, err) = cli.run("bob", &["approve", &id]).await;
    assert_eq!(code, 0, "{err}");
}
