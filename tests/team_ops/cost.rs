//! Cost estimates: the plan prints Infracost's JSON, sync stores it under
//! `cost/<id>/<run_id>.json`, and `show` gives the monthly change and the top lines; a plan
//! without an estimate says so instead of showing zero.

use super::cli::setup;

const RDS: &str = include_str!("../../examples/store/config/modules/rds-postgres.json");
const REAL_ESTIMATE: &str = include_str!("../fixtures/infracost/new-instance.json");

async fn plans_carry_their_cost_and_a_missing_estimate_is_not_zero(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    bed.store
        .put_once("config/modules/rds-postgres.json", RDS.as_bytes().to_vec())
        .await
        .unwrap();
    let create = [
        "create",
        "--module",
        "rds-postgres",
        "--project",
        "payments",
        "--env",
        "dev",
        "--set",
        "identifier=payments-dev-orders",
        "--set",
        "instance_class=db.t4g.medium",
        "--set",
        "allocated_storage=100",
    ];
    let (code, doc, err) = cli.run("alice", &create).await;
    assert_eq!(code, 0, "{err}");
    let id = doc["id"].as_str().unwrap().to_string();
    assert!(
        doc.get("cost").is_none(),
        "no estimate before the plan finishes"
    );
    let shown = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("no estimate yet"), "{text}");

    // The simulated plan prints Infracost's JSON: $0.065 x 730 h + 100 GB x $0.115.
    bed.finish_runs();
    let (code, _, err) = cli.run("alice", &["sync", &id]).await;
    assert_eq!(code, 0, "{err}");
    let (_, shown, _) = cli.run("alice", &["show", &id]).await;
    let cost = &shown["cost"];
    assert_eq!(cost["state"], "estimated", "{shown}");
    assert_eq!(cost["monthly_delta"], 58.95);
    assert_eq!(cost["currency"], "USD");
    let run_id = shown["plan_run"]["id"].as_u64().unwrap();
    assert_eq!(cost["run_id"], run_id);
    let key = format!("cost/{id}/{run_id}.json");
    assert_eq!(cost["source"], key.as_str());
    assert!(
        cost["lines"][0]["address"]
            .as_str()
            .unwrap()
            .ends_with("aws_db_instance.this"),
        "{cost}"
    );
    let stored = bed
        .store
        .get_blob(&key)
        .await
        .unwrap()
        .expect("the breakdown is kept");
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(stored["diffTotalMonthlyCost"], "58.95");
    let text = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("cost         +$58.95/month"), "{text}");
    assert!(text.contains("aws_db_instance.this"), "{text}");

    // A plan without Infracost: the estimate is missing, and says so.
    bed.sim.set_infracost(false);
    let (code, _, err) = cli
        .run(
            "alice",
            &["update", &id, "--set", "instance_class=db.r6g.large"],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    bed.finish_runs();
    cli.run("alice", &["sync", &id]).await;
    let (_, shown, _) = cli.run("alice", &["show", &id]).await;
    let cost = &shown["cost"];
    assert_eq!(cost["state"], "missing", "{shown}");
    assert!(cost.get("monthly_delta").is_none(), "never a zero: {cost}");
    let text = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("no estimate: the plan printed no Infracost estimate"),
        "{text}"
    );

    // A team's own workflow may write the breakdown itself: tfpilot reads it from the store.
    let (code, planned, err) = cli.run("alice", &["plan", &id]).await;
    assert_eq!(code, 0, "{err}");
    let run_id = planned["request"]["plan_run"]["id"].as_u64().unwrap();
    bed.store
        .put_once(
            &format!("cost/{id}/{run_id}.json"),
            REAL_ESTIMATE.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    bed.finish_runs();
    cli.run("alice", &["sync", &id]).await;
    let (_, shown, _) = cli.run("alice", &["show", &id]).await;
    assert_eq!(shown["cost"]["monthly_delta"], 1303.28, "{shown}");
    assert_eq!(shown["cost"]["lines"][0]["address"], "aws_instance.web_app");

    // An unreadable breakdown is reported as such.
    let (_, planned, _) = cli.run("alice", &["plan", &id]).await;
    let run_id = planned["request"]["plan_run"]["id"].as_u64().unwrap();
    bed.store
        .put_once(&format!("cost/{id}/{run_id}.json"), b"{not json".to_vec())
        .await
        .unwrap();
    bed.finish_runs();
    cli.run("alice", &["sync", &id]).await;
    let (_, shown, _) = cli.run("alice", &["show", &id]).await;
    let cost = &shown["cost"];
    assert_eq!(cost["state"], "unreadable", "{shown}");
    assert!(
        cost["reason"].as_str().unwrap().contains("not valid JSON"),
        "{cost}"
    );
}

#[test]
fn cost_on_the_local_store() {
    super::common::block_on_big_stack(plans_carry_their_cost_and_a_missing_estimate_is_not_zero(
        false,
    ));
}

#[test]
fn cost_on_s3() {
    super::common::block_on_big_stack(plans_carry_their_cost_and_a_missing_estimate_is_not_zero(
        true,
    ));
}

/// The plan template prints the estimate between the lines tfpilot reads.
#[test]
fn the_plan_workflow_prints_the_estimate_between_the_markers() {
    let workflow = include_str!("../../docs/workflows/tfpilot-plan.yml");
    for marker in [
        tfpilot::domain::cost::COST_BEGIN,
        tfpilot::domain::cost::COST_END,
    ] {
        assert!(
            workflow.contains(&format!("echo \"{marker}\"")),
            "{marker} is not printed"
        );
    }
    assert!(workflow.contains("infracost breakdown --path tfplan.json --format json"));
    assert!(
        workflow.contains("continue-on-error: true"),
        "an estimate never fails a plan"
    );
}
