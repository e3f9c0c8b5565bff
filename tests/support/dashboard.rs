//! Fixed fixtures for the dashboard tests: requests in every status at fixed times, the example
//! team configuration, and a state fed through `update` exactly as the event loop feeds it.
#![allow(dead_code)]

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tfpilot::domain::access::AccessPolicy;
use tfpilot::domain::catalog::ModuleDef;
use tfpilot::domain::registry::{InfraRepos, ValidationPolicy};
use tfpilot::domain::{Request, Status, Timestamp};
use tfpilot::engine::PollEvent;
use tfpilot::github::RateBudget;
use tfpilot::store::{ETag, ListedRequest, TeamConfig};
use tfpilot::tui::effect::Effect;
use tfpilot::tui::keymap::Keymap;
use tfpilot::tui::msg::Msg;
use tfpilot::tui::state::{State, Workspace};
use tfpilot::tui::theme::Theme;
use tfpilot::tui::update::update;
use tfpilot::tui::view::render;

pub const NOW: &str = "2026-11-26T12:00:00Z";

pub fn now() -> Timestamp {
    Timestamp(
        chrono::DateTime::parse_from_rfc3339(NOW)
            .expect("valid time")
            .with_timezone(&chrono::Utc),
    )
}

fn at(minutes_ago: i64) -> String {
    (now().0 - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn team() -> TeamConfig {
    let mut modules: Vec<ModuleDef> = [
        include_str!("../../examples/store/config/modules/s3-bucket.json"),
        include_str!("../../examples/store/config/modules/ecs-service.json"),
        include_str!("../../examples/store/config/modules/iam-role.json"),
        include_str!("../../examples/store/config/modules/rds-postgres.json"),
    ]
    .iter()
    .map(|text| ModuleDef::parse(text, "fixture").expect("example module"))
    .collect();
    // Sorted by name, as the store's loader hands them out.
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    TeamConfig {
        modules,
        access: AccessPolicy::parse(
            include_str!("../../examples/store/config/policy.json"),
            "policy.json",
        )
        .expect("example policy"),
        infra_repos: Some(
            InfraRepos::parse(
                include_str!("../../examples/store/config/infra-repos.json"),
                "infra-repos.json",
            )
            .expect("example registry"),
        ),
        policy: ValidationPolicy::parse(
            include_str!("../../examples/store/config/policy.json"),
            "policy.json",
        )
        .expect("example naming and region rules"),
        ..TeamConfig::default()
    }
}

fn run(id: u64, status: &str, conclusion: Option<&str>, minutes_ago: i64) -> Value {
    let mut run = json!({
        "id": id,
        "status": status,
        "head_sha": "4f2a9c0d1e",
        "html_url": format!("https://github.com/acme/payments-infra/actions/runs/{id}"),
        "created_at": at(minutes_ago + 2),
        "updated_at": at(minutes_ago),
    });
    if let Some(conclusion) = conclusion {
        run["conclusion"] = json!(conclusion);
    }
    run
}

/// Gives the state's team the example templates (the team of [`team`] has none).
pub fn with_templates(state: &mut State) {
    let mut team = (*state.team).clone();
    team.templates = tfpilot::engine::SEED_TEMPLATES
        .iter()
        .map(|text| tfpilot::domain::template::Template::parse(text, "fixture").expect("seed"))
        .collect();
    team.templates.sort_by(|a, b| a.id.cmp(&b.id));
    state.team = Arc::new(team);
}

/// A request whose facts derive `status`; `n` varies its project, environment, module and age.
pub fn request(n: usize, status: Status) -> Request {
    let projects = ["payments", "search"];
    let environments = ["dev", "prod"];
    let people = ["alice", "carol", "dave"];
    let (module, config) = if n % 3 == 1 {
        (
            "ecs-service",
            json!({"service_name": format!("api-{n}"), "image": "ghcr.io/acme/api:1.4.2", "cpu": "512", "datadog_api_key": "dd-secret-value"}),
        )
    } else {
        (
            "s3-bucket",
            json!({"bucket_name": format!("payments-dev-media-{n}"), "region": "us-east-1", "versioning": true}),
        )
    };
    let id = format!("req_01KFIXTURE{n:04}ABCDEFGHJK");
    let mut document = json!({
        "schema_version": 1,
        "id": id,
        "project": projects[n % 2],
        "environment": environments[(n / 2) % 2],
        "module": module,
        "config": config,
        "requested_by": people[n % 3],
        "created_at": at(7 * n as i64 + 3),
        "updated_at": at(n as i64),
        "target": {"owner": "acme", "repo": "payments-infra", "base": "main", "env_path": "envs/dev", "file": "tfpilot.tf"},
    });
    let pr_open = json!({"number": 100 + n, "url": format!("https://github.com/acme/payments-infra/pull/{}", 100 + n), "state": "open", "merged": false, "head_sha": "4f2a9c0d1e"});
    let pr_merged = json!({"number": 100 + n, "url": format!("https://github.com/acme/payments-infra/pull/{}", 100 + n), "state": "closed", "merged": true, "head_sha": "4f2a9c0d1e"});
    let planned = json!({"summary": {"add": 2, "change": 1, "destroy": 1, "import": 0}, "output_key": format!("plans/{id}/{}.txt", 1000 + n)});
    let approval = json!({"approved": true, "approvers": ["bob"], "head_sha": "4f2a9c0d1e"});
    let plan_ok = run(1000 + n as u64, "completed", Some("success"), n as i64 + 30);
    let fields: Vec<(&str, Value)> = match status {
        Status::RequestCreated => vec![],
        Status::Planning => vec![
            ("pr", pr_open),
            (
                "plan_run",
                run(1000 + n as u64, "in_progress", None, n as i64),
            ),
        ],
        Status::PlanReady => vec![("pr", pr_open), ("plan_run", plan_ok), ("plan", planned)],
        Status::Approved => vec![
            ("pr", pr_open),
            ("plan_run", plan_ok),
            ("plan", planned),
            ("approval", approval),
        ],
        Status::Merged => vec![
            ("pr", pr_merged),
            ("merged_sha", json!("9d8c7b6a5f")),
            ("plan_run", plan_ok),
            ("plan", planned),
            ("approval", approval),
        ],
        Status::Applying | Status::Applied | Status::Failed => {
            let apply = match status {
                Status::Applying => run(2000 + n as u64, "in_progress", None, n as i64),
                Status::Applied => run(2000 + n as u64, "completed", Some("success"), n as i64),
                _ => run(2000 + n as u64, "completed", Some("failure"), n as i64),
            };
            vec![
                ("pr", pr_merged),
                ("merged_sha", json!("9d8c7b6a5f")),
                ("plan_run", plan_ok),
                ("plan", planned),
                ("approval", approval),
                ("apply_run", apply),
            ]
        }
        Status::Withdrawn => vec![
            (
                "pr",
                json!({"number": 100 + n, "url": format!("https://github.com/acme/payments-infra/pull/{}", 100 + n), "state": "closed", "merged": false, "head_sha": "4f2a9c0d1e"}),
            ),
            ("plan_run", plan_ok),
            ("plan", planned),
            (
                "withdrawal",
                json!({"by": people[n % 3], "at": at(n as i64), "reason": "the team shares one bucket now"}),
            ),
        ],
        Status::Destroying | Status::Destroyed => {
            let destroy = if status == Status::Destroying {
                run(3000 + n as u64, "in_progress", None, n as i64)
            } else {
                run(3000 + n as u64, "completed", Some("success"), n as i64)
            };
            vec![
                ("pr", pr_merged),
                ("merged_sha", json!("9d8c7b6a5f")),
                ("plan_run", plan_ok),
                (
                    "apply_run",
                    run(2000 + n as u64, "completed", Some("success"), n as i64 + 10),
                ),
                ("destroy_run", destroy),
            ]
        }
    };
    for (name, value) in fields {
        document[name] = value;
    }
    let label = tfpilot::domain::infra_file::module_label(&id);
    if document.get("plan").is_some() {
        // Every other planned request has an estimate; the rest show it missing.
        document["cost"] = if n.is_multiple_of(2) {
            json!({"state": "estimated", "monthly_delta": 58.95 + n as f64, "currency": "USD",
                   "monthly_total": 1240.5, "run_id": 1000 + n,
                   "source": format!("cost/{id}/{}.json", 1000 + n),
                   "lines": [{"address": format!("module.{label}.aws_db_instance.this"),
                              "monthly_delta": 47.45 + n as f64},
                             {"address": format!("module.{label}.aws_s3_bucket.this"),
                              "monthly_delta": 11.5}]})
        } else {
            json!({"state": "missing", "run_id": 1000 + n,
                   "reason": "the plan printed no Infracost estimate"})
        };
    }
    if status == Status::Applied && n.is_multiple_of(2) {
        document["drift"] = json!({"state": "drifted", "checked_at": at(5), "run_id": 4000 + n,
            "resources": [format!("module.{label}.aws_s3_bucket.this")]});
    }
    serde_json::from_value(document).expect("fixture request")
}

/// Two requests in every status (20), in a fixed order.
/// Twenty requests cycling through the statuses up to `failed` (a withdrawn one is made on
/// purpose where a test wants it, so these fixtures and their snapshots stay put).
pub fn every_status() -> Vec<Request> {
    Status::ALL
        .iter()
        .filter(|status| **status != Status::Withdrawn)
        .cycle()
        .take(20)
        .enumerate()
        .map(|(n, status)| request(n, *status))
        .collect()
}

pub fn listing(requests: &[Request]) -> Vec<ListedRequest> {
    requests
        .iter()
        .map(|request| ListedRequest {
            key: format!("requests/{}.json", request.id),
            id: request.id.clone(),
            etag: ETag(format!("\"{}\"", request.id)),
            outcome: Ok(Arc::new(request.clone())),
        })
        .collect()
}

pub fn session(user: &str) -> Workspace {
    let team = team();
    Workspace {
        store: "file:///srv/tfpilot".into(),
        github: "http://127.0.0.1:8080".into(),
        user: user.into(),
        role: team.access.role_of(user),
        sandbox: true,
    }
}

/// A state at `width` x `height` holding `requests`, as `user`, fed the way the loop feeds it.
pub fn state(user: &str, requests: &[Request], width: u16, height: u16) -> State {
    let mut state = State::new(
        session(user),
        Arc::new(team()),
        Arc::new(Keymap::embedded()),
        now(),
    );
    send(&mut state, Msg::Resize { width, height });
    send(
        &mut state,
        Msg::Poll(PollEvent::Listed(Arc::new(listing(requests)))),
    );
    send(
        &mut state,
        Msg::RateBudget(RateBudget {
            limit: 5000,
            remaining: 4990,
            used: 10,
            reset: Timestamp(now().0 + chrono::Duration::minutes(40)),
            resource: "core".into(),
        }),
    );
    state
}

pub fn send(state: &mut State, action: Msg) -> Vec<Effect> {
    update(state, action)
}

pub fn key(state: &mut State, code: crossterm::event::KeyCode) -> Vec<Effect> {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let modifiers = match code {
        crossterm::event::KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    update(state, Msg::Key(KeyEvent::new(code, modifiers)))
}

pub fn chars(state: &mut State, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(key(state, crossterm::event::KeyCode::Char(c)));
    }
    effects
}

pub fn terminal(state: &State, theme: &Theme) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(state.width, state.height)).expect("test terminal");
    terminal
        .draw(|frame| render(state, theme, frame))
        .expect("draw");
    terminal
}

/// The screen as text (what the snapshots hold).
pub fn screen(state: &State) -> String {
    terminal(state, &Theme::default_theme())
        .backend()
        .to_string()
}

/// Fixture request `n` applying, its apply run held for prod's deployment review.
pub fn waiting_for_review(n: usize) -> Request {
    let mut request = request(n, Status::Applying);
    let apply = request
        .apply_run
        .as_deref_mut()
        .expect("an applying fixture has an apply run");
    apply.status = Some(tfpilot::domain::RunStatus::Waiting);
    apply.deployment_review = Some(tfpilot::domain::deployment::DeploymentReview {
        environment: "prod".into(),
        reviewers: vec!["bob".into(), "admin".into()],
    });
    request
}

/// The id of fixture request `n` (status `Status::ALL[n % 10]`, as in [`every_status`]).
pub fn id(n: usize) -> String {
    request(n, Status::ALL[n % 10]).id
}

/// Moves the selection to `wanted` with the keys a user would press.
pub fn select(state: &mut State, wanted: &str) {
    key(state, crossterm::event::KeyCode::Char('g'));
    for _ in 0..state.list.visible_len() {
        if state.list.selected_id() == Some(wanted) {
            return;
        }
        key(state, crossterm::event::KeyCode::Char('j'));
    }
    panic!("{wanted} is not in the list");
}

/// The ticket of the plan view's read among `effects` (what the executor would answer with).
pub fn plan_ticket(effects: &[Effect]) -> tfpilot::tui::effect::Ticket {
    effects
        .iter()
        .find_map(|effect| match effect {
            Effect::LoadStoredPlan { ticket, .. } | Effect::LoadRunLog { ticket, .. } => {
                Some(ticket.clone())
            }
            _ => None,
        })
        .expect("the plan view asked for its text")
}

/// The plan fixture the view tests read (import, moved, replace, update, create).
pub const PLAN: &str = include_str!("../fixtures/plans/tf-import-move-replace-update-create.txt");

/// Opens the plan view on the selection (enter) and answers its read with [`PLAN`], as the
/// executor would.
pub fn open_plan(state: &mut State) {
    let document = tfpilot::tui::plan::document::PlanDocument::build(PLAN);
    open_plan_with(state, Arc::new(document));
}

/// Opens the plan view on the selection and answers its read with `document`.
pub fn open_plan_with(
    state: &mut State,
    document: Arc<tfpilot::tui::plan::document::PlanDocument>,
) {
    let effects = key(state, crossterm::event::KeyCode::Enter);
    assert!(state.plan.is_some(), "the plan view opened");
    send(
        state,
        Msg::PlanLoaded {
            ticket: plan_ticket(&effects),
            result: Ok(document),
            running: false,
        },
    );
}

/// Presses `d` on request `n` (selected) and answers with a diff whose pull request adds a
/// stray line above the block: the diff page as a user sees it.
pub fn open_diff(state: &mut State, n: usize) {
    use tfpilot::domain::pull_diff::{ChangedFile, PullDiff, block_lines};
    let effects = key(state, crossterm::event::KeyCode::Char('d'));
    let ticket = match effects.as_slice() {
        [Effect::LoadDiff { ticket, id: wanted }] if *wanted == id(n) => ticket.clone(),
        other => panic!("{other:?}"),
    };
    assert!(screen(state).contains("reading the pull request from GitHub"));
    let id = id(n);
    let file = "envs/dev/tfpilot.tf";
    let head = format!("# stray\n# tfpilot:begin/{id}\nmodule \"x\" {{}}\n# tfpilot:end/{id}\n");
    let patch = format!(
        "@@ -0,0 +1,4 @@\n+# stray\n+# tfpilot:begin/{id}\n+module \"x\" {{}}\n+# tfpilot:end/{id}"
    );
    let diff = PullDiff::attribute(
        &id,
        100 + n as u64,
        vec![ChangedFile {
            filename: file.into(),
            status: "modified".into(),
            additions: 4,
            deletions: 0,
            patch: Some(patch),
        }],
        file,
        block_lines(&head, file, &id),
    );
    update(
        state,
        Msg::DiffLoaded {
            ticket,
            result: Ok(diff),
        },
    );
}
