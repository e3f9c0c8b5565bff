//! The headless CLI as the real binary: every command, `--json`, exit codes (0 ok, 1 failed,
//! 2 bad input, 3 denied, 4 conflict or locked), four processes racing one apply, and a process
//! that died holding the lock mid-apply.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/engine.rs"]
mod bed;
#[path = "support/cli.rs"]
#[macro_use]
mod cli;
mod common;
#[path = "support/home.rs"]
mod home;
// pty.rs and home.rs each bring the secrets scanner they check their output with.
#[allow(clippy::duplicate_mod)]
#[path = "support/pty.rs"]
mod pty;
#[path = "support/sim.rs"]
mod sim;

use bed::Bed;
use cli::{Cli, setup};
use tfpilot::domain::{Timestamp, derive_status};

const CREATE: [&str; 9] = [
    "create",
    "--module",
    "s3-bucket",
    "--project",
    "payments",
    "--env",
    "dev",
    "--set",
    "bucket_name=payments-dev-cli",
];

async fn the_lifecycle_from_the_command_line(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };

    let mut create: Vec<&str> = CREATE.to_vec();
    create.extend(["--idempotency-key", "cli-1"]);
    let (code, doc, err) = cli.run("alice", &create).await;
    assert_eq!(code, 0, "{err}");
    let id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(doc["status"], "planning");
    assert_eq!(doc["requested_by"], "alice");
    let (code, again, _) = cli.run("alice", &create).await;
    assert_eq!(code, 0);
    assert_eq!(
        again["id"],
        id.as_str(),
        "the same key gives the same request"
    );
    assert_eq!(bed.runs_for("plan", &id), 1);
    // The create wrote both its events at one time; they read in the order they happened.
    let kinds: Vec<String> = bed
        .store
        .list_events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.unwrap().kind)
        .collect();
    assert_eq!(
        kinds[..2],
        ["request_created", "plan_dispatched"],
        "{kinds:?}"
    );
    // A unique start of the id names the request; text output says how fresh it is.
    let (code, shown, err) = cli.run("alice", &["show", &id[..id.len() - 6]]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown["id"], id.as_str());
    let text = cli.command("alice", &["show", &id]).output().await.unwrap();
    let said = String::from_utf8_lossy(&text.stderr);
    assert!(said.contains("as the store has it, last written"), "{said}");
    assert!(
        said.contains(&format!("`tfpilot sync {id}` asks GitHub now")),
        "{said}"
    );

    let (code, error, err) = cli.run("viewer", &CREATE).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(error["error"]["kind"], "denied");
    let mut bad = CREATE.to_vec();
    bad.extend(["--set", "versioning=maybe"]);
    let (code, error, err) = cli.run("alice", &bad).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("versioning"), "{err}");
    assert_eq!(error["error"]["kind"], "invalid");
    let (code, _, err) = cli.run("alice", &["create", "--module", "s3-bucket"]).await;
    assert_eq!(code, 2, "usage: {err}");

    let (code, updated, err) = cli
        .run("alice", &["update", &id, "--set", "lifecycle_days=90"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(updated["request"]["config"]["lifecycle_days"], 90);
    assert_eq!(bed.runs_for("plan", &id), 2);
    let (code, _, err) = cli.run("alice", &["update", &id, "--set", "nope=1"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"), "{err}");

    bed.finish_runs();
    let (code, report, _) = cli.run("alice", &["sync", &id]).await;
    assert_eq!(code, 0);
    assert_eq!(report["status"], "plan_ready");
    let (code, _, err) = cli.run("alice", &["approve", &id]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("only approvers and admins"), "{err}");
    let (code, out, _) = cli.run("bob", &["approve", &id]).await;
    assert_eq!((code, out["status"].as_str()), (0, Some("approved")));
    let shown = cli.command("alice", &["show", &id]).output().await.unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("approved by  bob (plan of"), "{shown}");
    // Without a terminal to ask on, an operation that needs confirmation wants --yes.
    let (code, error, err) = cli.run("alice", &["merge", &id]).await;
    assert_eq!(code, 2, "{err}");
    assert_eq!(error["error"]["kind"], "invalid");
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(
        bed.store.get_request(&id).await.unwrap().value.merged_sha,
        None
    );
    let (code, out, _) = cli.run("alice", &["merge", &id, "--yes"]).await;
    assert_eq!((code, out["status"].as_str()), (0, Some("merged")));
    // A refusal needs no confirmation: the policy's own answer comes first.
    let (code, _, err) = cli.run("alice", &["apply", &id]).await;
    assert_eq!(code, 3, "developers do not apply: {err}");
    let (code, out, _) = cli.run("bob", &["apply", &id, "-y"]).await;
    assert_eq!((code, out["result"].as_str()), (0, Some("done")));
    let (code, out, _) = cli.run("admin", &["can-destroy", &id]).await;
    assert_eq!(code, 3);
    assert_eq!(out["can_destroy"], false);

    bed.finish_runs();
    let (code, report, err) = cli.run("admin", &["reconcile"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["changed"], 1);
    assert_eq!(report["items"][0]["status"], "applied");
    let (code, eligible, _) = cli.run("admin", &["drift-eligible"]).await;
    assert_eq!(code, 0);
    assert_eq!(eligible[0]["id"], id.as_str());
    let (code, out, _) = cli.run("admin", &["can-destroy", &id]).await;
    assert_eq!((code, out["can_destroy"].as_bool()), (0, Some(true)));

    // `watch ID` follows the destroy to its end.
    let (code, _, err) = cli.run("admin", &["destroy", &id, "--yes"]).await;
    assert_eq!(code, 0, "{err}");
    let mut watch = cli.command("admin", &["watch", &id]);
    watch
        .env("TFPILOT_SYNC_INTERVAL_ACTIVE_MS", "50")
        .env("TFPILOT_SYNC_INTERVAL_IDLE_MS", "50")
        .stdout(std::process::Stdio::piped());
    let mut watching = watch.spawn().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
        watching.stdout.take().unwrap(),
    ));
    // The run finishes only once watch has seen it in flight.
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    assert_eq!(first, format!("{id}: destroying"));
    bed.finish_runs();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(watching.wait().await.unwrap().success(), "{rest:?}");
    assert!(
        rest.contains(&format!("{id}: destroying -> destroyed")),
        "{rest:?}"
    );
    // A sync that changes no status never prints an arrow from a status to itself.
    assert!(
        rest.iter()
            .all(|line| !line.contains("destroying -> destroying")),
        "{rest:?}"
    );
    // --until: a status reached exits 0; another final one exits 1 and says so; a word
    // that is no status lists the statuses.
    let until = |wanted: &'static str| {
        let mut command = cli.command("admin", &["watch", &id, "--until", wanted]);
        command.env("TFPILOT_SYNC_INTERVAL_IDLE_MS", "50");
        command.output()
    };
    let reached = until("applied,destroyed").await.unwrap();
    assert!(reached.status.success(), "{reached:?}");
    let other = until("applied").await.unwrap();
    assert_eq!(other.status.code(), Some(1), "{other:?}");
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(said.contains("is destroyed, not applied"), "{said}");
    let wrong = until("teleported").await.unwrap();
    assert_ne!(wrong.status.code(), Some(0));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("the statuses are request_created"), "{said}");

    let (code, export, _) = cli.run("admin", &["audit-export", &id]).await;
    assert_eq!(code, 0);
    assert_eq!(export["status"], "destroyed");
    let kinds: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"destroy_succeeded"), "{kinds:?}");
    let (code, modules, _) = cli.run("alice", &["modules"]).await;
    assert_eq!(code, 0);
    assert_eq!(modules["modules"][0]["name"], "s3-bucket");
}

async fn merged(cli: &Cli, bed: &Bed, name: &str) -> String {
    let mut create: Vec<&str> = CREATE[..8].to_vec();
    let value = format!("bucket_name={name}");
    create.push(&value);
    let (code, doc, err) = cli.run("alice", &create).await;
    assert_eq!(code, 0, "{err}");
    let id = doc["id"].as_str().unwrap().to_string();
    bed.finish_runs();
    cli.run("alice", &["sync", &id]).await;
    assert_eq!(cli.run("bob", &["approve", &id]).await.0, 0);
    assert_eq!(cli.run("alice", &["merge", &id, "--yes"]).await.0, 0);
    id
}

async fn four_processes_press_apply_at_once(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = merged(&cli, &bed, "payments-dev-four").await;
    let args = ["apply", id.as_str(), "--yes"];
    let runs = (0..4).map(|n| {
        let login = if n % 2 == 0 { "bob" } else { "admin" };
        cli.run(login, &args)
    });
    let results = futures::future::join_all(runs).await;
    let mut done = 0;
    for (code, out, err) in &results {
        match code {
            0 if out["result"] == "done" => done += 1,
            0 => assert_eq!(out["result"], "already_done", "{out}"),
            4 => assert!(err.contains("locked by"), "{err}"),
            other => panic!("exit {other}: {err}"),
        }
    }
    assert_eq!(done, 1, "{results:?}");
    assert_eq!(bed.runs_for("apply", &id), 1);
    assert_eq!(bed.dispatches("tfpilot-apply.yml", &id), 1);
}

/// Bob's apply reaches GitHub, which starts the run; its answer takes long enough for the
/// process to be killed first, holding the lock with the dispatch unconfirmed.
async fn kill_bobs_apply_mid_dispatch(cli: &Cli, bed: &Bed, id: &str) {
    bed.sim.add_fault(tfpilot::sim::FaultRule {
        method: Some("POST".into()),
        status: Some(502),
        latency_ms: Some(60_000),
        after_handler: true,
        times: Some(1),
        ..tfpilot::sim::FaultRule::on("/repos/*/actions/workflows/*/dispatches")
    });
    let mut child = cli.command("bob", &["apply", id, "--yes"]).spawn().unwrap();
    let started = std::time::Instant::now();
    while bed.runs_for("apply", id) == 0 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the dispatch never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap();
    bed.sim.clear_faults();
}

/// Moves the request's lock's expiry into the past, as if its TTL had run out.
async fn expire_lock(bed: &Bed, id: &str) {
    let past = Timestamp(chrono::Utc::now()).minus_seconds(1);
    bed.store
        .update_request(id, past, |r| {
            if let Some(lock) = r.lock.as_deref_mut() {
                lock.expires_at = past;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn an_apply_killed_mid_dispatch_resumes_with_one_run(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = merged(&cli, &bed, "payments-dev-killed").await;
    kill_bobs_apply_mid_dispatch(&cli, &bed, &id).await;

    let stored = bed.store.get_request(&id).await.unwrap().value;
    let lock = stored
        .lock
        .clone()
        .expect("the dead process still holds the lock");
    assert!(stored.apply_run.as_deref().unwrap().id.is_none());
    let (code, _, err) = cli.run("admin", &["apply", &id, "--yes"]).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("locked by bob@"), "{err}");

    // Two minutes later the lock has expired (moved back here rather than waited for).
    expire_lock(&bed, &id).await;
    let (code, out, err) = cli.run("admin", &["apply", &id, "--yes"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["result"], "done");
    assert_eq!(
        bed.runs_for("apply", &id),
        1,
        "the run was found, not dispatched again"
    );
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert!(request.lock.is_none());
    assert_ne!(request.apply_run.as_deref().unwrap().id, None);
    assert_eq!(derive_status(&request).as_str(), "applying");
    assert_eq!(lock.operation, "apply");
    // The dispatch was bob's: admin's resumption records it once, credited to bob.
    let dispatched: Vec<_> = bed
        .store
        .list_events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.kind == "apply_dispatched")
        .collect();
    assert_eq!(dispatched.len(), 1, "{dispatched:#?}");
    assert_eq!(dispatched[0].actor, "bob");
}

/// Bob's apply is killed while GitHub's answer to the dispatch is on its way; a reconcile by
/// admin finds the run, and a sync by carol sees it finish. The audit trail still says what
/// bob did: one `apply_dispatched` and the `apply_succeeded`, both credited to bob, with who
/// recorded them kept beside.
async fn a_killed_apply_is_credited_to_its_dispatcher_after_a_reconcile(s3: bool) {
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    let id = merged(&cli, &bed, "payments-dev-killed-audit").await;
    kill_bobs_apply_mid_dispatch(&cli, &bed, &id).await;
    expire_lock(&bed, &id).await;

    let (code, _, err) = cli.run("admin", &["reconcile"]).await;
    assert_eq!(code, 0, "{err}");
    bed.finish_runs();
    let (code, _, err) = cli.run("carol", &["sync", &id]).await;
    assert_eq!(code, 0, "{err}");
    let request = bed.store.get_request(&id).await.unwrap().value;
    assert_eq!(derive_status(&request).as_str(), "applied");

    let events: Vec<_> = bed
        .store
        .list_events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let of = |kind: &str| events.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
    let dispatched = of("apply_dispatched");
    assert_eq!(dispatched.len(), 1, "{events:#?}");
    assert_eq!(dispatched[0].actor, "bob");
    assert_eq!(dispatched[0].data["recorded_by"], "admin");
    let succeeded = of("apply_succeeded");
    assert_eq!(succeeded.len(), 1, "{events:#?}");
    assert_eq!(succeeded[0].actor, "bob");
    assert_eq!(succeeded[0].data["recorded_by"], "carol");
    // Replays of the same facts record nothing twice.
    assert_eq!(cli.run("admin", &["reconcile"]).await.0, 0);
    let again = bed.store.list_events(&id).await.unwrap().len();
    assert_eq!(again, events.len());
}

on_both_stores!(
    a_killed_apply_is_credited_to_its_dispatcher_after_a_reconcile,
    the_lifecycle_from_the_command_line,
    four_processes_press_apply_at_once,
    an_apply_killed_mid_dispatch_resumes_with_one_run
);

/// A document written by an older tfpilot, with a sensitive value in clear, is masked by every
/// command that prints a request (`show`, `show --json`, `audit-export`, `list --json`,
/// `explain --json`, `events`), and `doctor` warns about it by id and field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_values_never_leave_through_the_cli() {
    const SECRET: &str = "dd-sensitive-7f3a9c";
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let module = std::fs::read("examples/store/config/modules/ecs-service.json").unwrap();
    bed.store
        .put_once("config/modules/ecs-service.json", module)
        .await
        .unwrap();
    let id = bed.create("alice", "payments-dev-legacy", "dev").await;
    bed.store
        .update_request(&id, Timestamp(chrono::Utc::now()), |request| {
            request.module = "ecs-service".into();
            request.config = serde_json::json!({"service_name": "api", "datadog_api_key": SECRET})
                .as_object()
                .unwrap()
                .clone();
            Ok(())
        })
        .await
        .unwrap();

    let (_, doctor, err) = cli.run("alice", &["doctor"]).await;
    let said = format!("{doctor}{err}");
    assert!(
        said.contains(&format!("{id} (datadog_api_key)")) && said.contains("in clear"),
        "{said}"
    );
    assert!(!said.contains(SECRET), "{said}");
    for args in [
        vec!["show", id.as_str()],
        vec!["--json", "show", id.as_str()],
        vec!["audit-export", id.as_str()],
        vec!["--json", "list"],
        vec!["list"],
        vec!["--json", "explain", id.as_str()],
        vec!["events", id.as_str()],
    ] {
        let output = cli.command("alice", &args).output().await.unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            !out.contains(SECRET) && !err.contains(SECRET),
            "tfpilot {args:?} printed the sensitive value:\n{out}{err}"
        );
    }
    let shown = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("datadog_api_key = ********"), "{text}");
    assert!(text.contains("service_name = \"api\""), "{text}");
    let (_, json, _) = cli.run("alice", &["show", &id]).await;
    assert_eq!(
        json["config"]["datadog_api_key"],
        serde_json::json!({"sensitive": true, "value": "********"})
    );
    assert_eq!(json["config"]["service_name"], "api");
    let (_, export, _) = cli.run("alice", &["audit-export", &id]).await;
    assert_eq!(
        export["request"]["config"]["datadog_api_key"]["sensitive"],
        true
    );
}

/// At a terminal, merge asks with the dashboard's words and goes on only on `y`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_terminal_merge_asks_first() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-ask").await;
    bed.engine("bob").await.approve(&id, None).await.unwrap();
    let merge = |answer: &'static str| {
        let mut session = pty::Session::start_with(
            pty::Home::Fresh,
            &["--store", &cli.store, "merge", &id],
            40,
            120,
            &[
                ("GITHUB_TOKEN", "sim-alice"),
                ("TFPILOT_GITHUB_API_URL", &cli.url),
            ],
        );
        session.wait_for("Go on? [y/N]", std::time::Duration::from_secs(20));
        let asked = session.text();
        session.keys(answer);
        session.send(b"\r");
        let status = session.wait_exit(std::time::Duration::from_secs(20));
        (asked, status.success(), session.text())
    };
    let (asked, merged, screen) = merge("n");
    assert!(asked.contains(&format!("merge {id}?")), "{asked}");
    assert!(
        asked.contains("Merges the pull request at the approved head."),
        "{asked}"
    );
    assert!(!merged, "{screen}");
    assert!(screen.contains("cancelled at the prompt"), "{screen}");
    assert_eq!(
        bed.store.get_request(&id).await.unwrap().value.merged_sha,
        None
    );
    let (_, merged, screen) = merge("y");
    assert!(merged, "{screen}");
    assert!(
        bed.store
            .get_request(&id)
            .await
            .unwrap()
            .value
            .merged_sha
            .is_some()
    );
}

/// Hostile bytes a teammate can put in the store or GitHub can put in an error: OSC 0 (window
/// title), OSC 52 (clipboard), a screen clear, a carriage return, DEL, an 8-bit CSI and
/// bidirectional overrides.
const HOSTILE: &str = "mallory\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\r\u{7f}\u{9b}31m\u{202e}gpj.exe\u{2066}";

fn assert_no_raw_hazard(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Some(c) = text
        .chars()
        .find(|c| tfpilot::domain::untrusted::is_hazard(*c))
    {
        panic!("{what} printed {c:?} raw:\n{}", text.escape_debug());
    }
}

/// Every command that prints what the store or GitHub holds prints it neutralised: no raw
/// control byte or bidirectional override reaches the terminal, in text or in `--json`, on
/// stdout or stderr. Before, `list`, `show`, `events` and GitHub's error messages printed them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_never_reach_the_terminal() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-hostile").await;
    let now = Timestamp(chrono::Utc::now());
    bed.store
        .update_request(&id, now, |request| {
            request.requested_by = HOSTILE.to_string();
            request.project = format!("payments{HOSTILE}");
            request.environment = format!("dev{HOSTILE}");
            request.template_id = Some(HOSTILE.to_string());
            request
                .config
                .insert("bucket_name".into(), serde_json::json!(HOSTILE));
            if let Some(pr) = request.pr.as_deref_mut() {
                pr.url = Some(HOSTILE.to_string());
            }
            if let Some(run) = request.plan_run.as_deref_mut() {
                run.html_url = Some(HOSTILE.to_string());
            }
            request.approval = Some(Box::new(tfpilot::domain::request::Approval {
                approved: false,
                approvers: vec![HOSTILE.to_string()],
                ..Default::default()
            }));
            request.contradiction = Some(Box::new(tfpilot::domain::request::Contradiction {
                at: now,
                claim: HOSTILE.to_string(),
                github: HOSTILE.to_string(),
            }));
            request.timeline.push(serde_json::json!({"note": HOSTILE}));
            Ok(())
        })
        .await
        .unwrap();
    let event = tfpilot::domain::LifecycleEvent::new(id.clone(), now, "note", HOSTILE)
        .with_message(HOSTILE);
    bed.store.append_event(&event).await.unwrap();
    let template = serde_json::json!({
        "id": "hostile",
        "description": HOSTILE,
        "module": "s3-bucket",
        "preset": {"bucket_name": HOSTILE}
    });
    bed.store
        .put_once(
            "templates/hostile.json",
            serde_json::to_vec(&template).unwrap(),
        )
        .await
        .unwrap();

    bed.store
        .put_once(
            "policies/hostile.rego",
            format!("package tfpilot.hostile\n\n# {HOSTILE}\ndeny contains \"{HOSTILE}\" if {{ true }}\n")
                .into_bytes(),
        )
        .await
        .unwrap();
    bed.store
        .put_once(
            "policies/broken.rego",
            format!("package tfpilot.broken\n\n{HOSTILE}\n").into_bytes(),
        )
        .await
        .unwrap();

    let commands: Vec<Vec<&str>> = vec![
        vec!["list"],
        vec!["policy", "list"],
        vec!["policy", "show", "hostile"],
        vec!["show", &id],
        vec!["events", &id],
        vec!["explain", &id],
        vec!["insights"],
        vec!["audit-export", &id],
        vec!["template", "list"],
        vec!["template", "show", "hostile"],
        vec!["can-destroy", &id],
        vec!["drift-eligible"],
        vec!["modules"],
        vec!["sync", &id],
    ];
    for args in &commands {
        for json in [false, true] {
            let mut full: Vec<&str> = if json { vec!["--json"] } else { vec![] };
            full.extend(args.iter().copied());
            let output = cli.command("alice", &full).output().await.unwrap();
            let what = format!("tfpilot {full:?}");
            assert_no_raw_hazard(&format!("{what} (stdout)"), &output.stdout);
            assert_no_raw_hazard(&format!("{what} (stderr)"), &output.stderr);
            if json && !output.stdout.is_empty() {
                let value: serde_json::Value = serde_json::from_slice(&output.stdout)
                    .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
                if args[0] == "show" {
                    assert_eq!(value["requested_by"], HOSTILE, "the same value, escaped");
                }
            }
        }
    }
    // Shown, not dropped: the reader sees what the document holds.
    let shown = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("mallory\\x1b]0;pwned\\x07"), "{text}");

    // GitHub's own words in an error: a refusal whose message carries the same bytes.
    bed.sim.add_fault(tfpilot::sim::FaultRule {
        method: Some("POST".into()),
        status: Some(422),
        body: Some(serde_json::json!({ "message": HOSTILE })),
        ..tfpilot::sim::FaultRule::on("/repos/*/pulls/*/reviews")
    });
    for json in [false, true] {
        let mut args = vec!["approve", id.as_str()];
        if json {
            args.insert(0, "--json");
        }
        let output = cli.command("bob", &args).output().await.unwrap();
        assert!(!output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("mallory\\x1b"),
            "GitHub's message is shown: {stderr}"
        );
        assert_no_raw_hazard("a GitHub error (stderr)", &output.stderr);
        assert_no_raw_hazard("a GitHub error (stdout)", &output.stdout);
    }
}

/// The list cache and the log hold documents: created 0600 in 0700 directories.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_and_log_files_are_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    bed.planned("dev", "payments-dev-private").await;
    let (code, listed, err) = cli.run("alice", &["list"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let list_dir = cli.home.path().join("cache/tfpilot/list");
    let caches: Vec<_> = std::fs::read_dir(&list_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", list_dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
    assert_eq!(mode(&caches[0]), 0o600, "{}", caches[0].display());
    assert_eq!(mode(&list_dir), 0o700);
    assert_eq!(mode(&cli.home.log()), 0o600);

    // Without a fixed log file, the day's file in the state directory, under a lax umask.
    let output = cli
        .command("alice", &["list"])
        .env_remove("TFPILOT_LOG_FILE")
        .env("TFPILOT_LOG_LEVEL", "debug")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let state = cli.home.path().join("state/tfpilot");
    let daily: Vec<_> = std::fs::read_dir(&state)
        .unwrap_or_else(|e| panic!("{}: {e}", state.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".log"))
        .collect();
    assert_eq!(daily.len(), 1, "{daily:?}");
    assert!(std::fs::metadata(&daily[0]).unwrap().len() > 0);
    assert_eq!(mode(&daily[0]), 0o600, "{}", daily[0].display());
}

/// Viewers read; sync and reconcile write the store, so they are refused for viewers unless
/// the policy lists the identity under `automation`. A viewer's engine (its dashboard) still
/// sees what GitHub says, in memory, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_but_never_write_the_store() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let id = bed.create("alice", "payments-dev-viewer", "dev").await;
    bed.finish_runs();
    let before = bed.store.get_request(&id).await.unwrap();
    for args in [vec!["sync", id.as_str()], vec!["reconcile"]] {
        let (code, error, err) = cli.run("viewer", &args).await;
        assert_eq!(code, 3, "viewer {args:?}: {err}");
        assert_eq!(error["error"]["kind"], "denied");
        assert!(err.contains("automation"), "{err}");
    }
    let engine = bed.engine("viewer").await;
    assert!(!engine.may_write_store());
    let report = engine
        .sync_with(&id, &tfpilot::engine::RunIndex::default())
        .await
        .unwrap();
    assert_eq!(report.status.as_str(), "plan_ready", "what GitHub says");
    assert!(!report.changed);
    let after = bed.store.get_request(&id).await.unwrap();
    assert_eq!(after.etag, before.etag, "nothing was written");
    assert_eq!(bed.event_kinds(&id).await.len(), 2, "no event either");

    // Listed under `automation`, the same identity may sync (and nothing more).
    let mut team = bed.store.load_team_config().await.unwrap();
    team.access.automation.insert("viewer".into());
    let bot = tfpilot::engine::Engine::new(
        bed.store.clone(),
        bed::github(&bed.sim, "viewer"),
        team,
        "viewer",
    );
    let report = bot.sync(&id).await.unwrap();
    assert!(report.changed);
    assert!(
        bot.plan(&id, None).await.is_err(),
        "still a viewer otherwise"
    );
}
