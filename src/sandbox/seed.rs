//! What a new sandbox starts with: two infra repositories, the team configuration, and about
//! thirty-three requests in every status, each brought there by the real operations.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::domain::template::{Template, template_key};
use crate::domain::workflows::WORKFLOWS;
use crate::domain::{Status, derive_status};
use crate::engine::{CreateInput, Engine, SEED_TEMPLATES};
use crate::sim::access::Permission;
use crate::sim::{AppRegistry, FaultRule, ScriptedOutcome, SimOptions, Simulator};
use crate::store::Store;

pub const OWNER: &str = "acme";
pub const PROJECTS: [(&str, &str); 2] =
    [("payments", "payments-infra"), ("search", "search-infra")];
pub const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

const MODULES: [(&str, &str); 4] = [
    (
        "s3-bucket",
        include_str!("../../examples/store/config/modules/s3-bucket.json"),
    ),
    (
        "sqs-queue",
        include_str!("../../examples/store/config/modules/sqs-queue.json"),
    ),
    (
        "iam-role",
        include_str!("../../examples/store/config/modules/iam-role.json"),
    ),
    (
        "rds-postgres",
        include_str!("../../examples/store/config/modules/rds-postgres.json"),
    ),
];

const POLICY: &str = r#"{
  "admins": ["admin"],
  "approvers": ["bob", "admin"],
  "viewers": ["viewer"],
  "automation": ["tfpilot-bot[bot]"],
  "prod_environments": ["prod"],
  "prod_allowed_users": ["bob", "admin"],
  "destroy_prod_allowed_users": ["admin"],
  "allow_self_approval": false,
  "region_field": "region",
  "allowed_regions": {"prod": ["us-east-1", "eu-west-1"]}
}
"#;

const PREAMBLE: &str = "# Terraform root of this environment (backend and providers live in backend.tf).\n# tfpilot writes its blocks below, between its markers.\n";

/// Runs seeded in flight stay there a while, so the sandbox shows them moving.
const IN_FLIGHT_QUEUE_SECONDS: u64 = 5;
const IN_FLIGHT_RUN_SECONDS: u64 = 240;

/// The applied queue the sandbox opens a change request of, and who asks for it.
const CHANGED_QUEUE: &str = "payments-dev-webhooks";
const CHANGED_BY: &str = "dave";

/// The prod database the sandbox's policies deny for its cost, and an admin overrides.
const OVERRIDDEN_DATABASE: &str = "payments-prod-analytics";
const OVERRIDE_REASON: &str =
    "analytics runs on r6g.xlarge for the quarter close; finance signed off";

/// One seeded request and the status the sandbox walks it to.
struct Seed {
    project: &'static str,
    environment: &'static str,
    module: &'static str,
    values: Value,
    requester: &'static str,
    status: Status,
}

fn seed(
    project: &'static str,
    environment: &'static str,
    module: &'static str,
    values: Value,
    requester: &'static str,
    status: Status,
) -> Seed {
    Seed {
        project,
        environment,
        module,
        values,
        requester,
        status,
    }
}

fn seeds() -> Vec<Seed> {
    use Status::*;
    let bucket = |name: &str| json!({"bucket_name": name, "versioning": true});
    let queue = |name: &str| json!({"queue_name": name, "fifo": false});
    let role = |name: &str| json!({"role_name": name, "trusted_principals": ["arn:aws:iam::123456789012:root"]});
    let db = |name: &str| json!({"identifier": name, "instance_class": "db.t4g.medium", "multi_az": true});
    vec![
        seed(
            "payments",
            "dev",
            "s3-bucket",
            bucket("payments-dev-invoices"),
            "alice",
            RequestCreated,
        ),
        seed(
            "search",
            "dev",
            "sqs-queue",
            queue("search-dev-reindex"),
            "dave",
            RequestCreated,
        ),
        seed(
            "payments",
            "dev",
            "sqs-queue",
            queue("payments-dev-refunds"),
            "alice",
            Planning,
        ),
        seed(
            "search",
            "dev",
            "s3-bucket",
            bucket("search-dev-snapshots"),
            "carol",
            Planning,
        ),
        seed(
            "payments",
            "prod",
            "iam-role",
            role("payments-prod-reader"),
            "dave",
            Planning,
        ),
        seed(
            "payments",
            "dev",
            "iam-role",
            role("payments-dev-ci"),
            "carol",
            PlanReady,
        ),
        seed(
            "search",
            "dev",
            "rds-postgres",
            db("search-dev-catalog"),
            "alice",
            PlanReady,
        ),
        // The seeded policies (examples/store/policies/) at work: a prod database that is not
        // Multi-AZ is denied, a dev one is pointed out, and a costly one is let through by
        // an admin's override.
        seed(
            "search",
            "prod",
            "rds-postgres",
            json!({"identifier": "search-prod-replica", "instance_class": "db.t4g.medium", "multi_az": false}),
            "dave",
            PlanReady,
        ),
        seed(
            "payments",
            "dev",
            "rds-postgres",
            json!({"identifier": "payments-dev-sandbox", "instance_class": "db.t4g.micro", "multi_az": false}),
            "carol",
            PlanReady,
        ),
        seed(
            "payments",
            "prod",
            "rds-postgres",
            json!({"identifier": OVERRIDDEN_DATABASE, "instance_class": "db.r6g.xlarge", "multi_az": true}),
            "dave",
            Approved,
        ),
        seed(
            "search",
            "prod",
            "sqs-queue",
            queue("search-prod-events"),
            "dave",
            Withdrawn,
        ),
        seed(
            "payments",
            "dev",
            "rds-postgres",
            db("payments-dev-ledger"),
            "dave",
            Approved,
        ),
        seed(
            "search",
            "dev",
            "iam-role",
            role("search-dev-indexer"),
            "carol",
            Approved,
        ),
        seed(
            "payments",
            "prod",
            "sqs-queue",
            queue("payments-prod-payouts"),
            "alice",
            Approved,
        ),
        seed(
            "search",
            "dev",
            "sqs-queue",
            queue("search-dev-crawl"),
            "alice",
            Merged,
        ),
        seed(
            "payments",
            "prod",
            "rds-postgres",
            db("payments-prod-ledger"),
            "dave",
            Merged,
        ),
        seed(
            "search",
            "prod",
            "s3-bucket",
            bucket("search-prod-exports"),
            "carol",
            Merged,
        ),
        seed(
            "payments",
            "dev",
            "s3-bucket",
            bucket("payments-dev-reports"),
            "carol",
            Applying,
        ),
        seed(
            "search",
            "prod",
            "iam-role",
            role("search-prod-api"),
            "alice",
            Applying,
        ),
        seed(
            "search",
            "dev",
            "s3-bucket",
            bucket("search-dev-logs"),
            "dave",
            Applying,
        ),
        seed(
            "payments",
            "dev",
            "sqs-queue",
            queue("payments-dev-webhooks"),
            "dave",
            Applied,
        ),
        seed(
            "payments",
            "prod",
            "iam-role",
            role("payments-prod-deployer"),
            "carol",
            Applied,
        ),
        seed(
            "search",
            "dev",
            "iam-role",
            role("search-dev-ops"),
            "alice",
            Applied,
        ),
        seed(
            "search",
            "prod",
            "rds-postgres",
            db("search-prod-catalog"),
            "dave",
            Applied,
        ),
        seed(
            "payments",
            "dev",
            "s3-bucket",
            bucket("payments-dev-archive"),
            "alice",
            Applied,
        ),
        seed(
            "payments",
            "dev",
            "iam-role",
            role("payments-dev-legacy"),
            "dave",
            Destroying,
        ),
        seed(
            "search",
            "dev",
            "sqs-queue",
            queue("search-dev-old-jobs"),
            "carol",
            Destroying,
        ),
        seed(
            "payments",
            "dev",
            "sqs-queue",
            queue("payments-dev-trial"),
            "carol",
            Destroyed,
        ),
        seed(
            "search",
            "dev",
            "s3-bucket",
            bucket("search-dev-scratch"),
            "alice",
            Destroyed,
        ),
        seed(
            "payments",
            "dev",
            "rds-postgres",
            db("payments-dev-spike"),
            "alice",
            Failed,
        ),
        seed(
            "search",
            "prod",
            "sqs-queue",
            queue("search-prod-broken"),
            "carol",
            Failed,
        ),
        seed(
            "payments",
            "prod",
            "s3-bucket",
            bucket("payments-prod-media"),
            "dave",
            Failed,
        ),
    ]
}

/// How many requests a new sandbox gets.
pub const SEEDED_REQUESTS: usize = 33;

/// The sandbox team's roles in its repositories, matching its policy: GitHub lets only
/// collaborators use a private repository, and reads branch protection to admins alone.
pub const COLLABORATORS: [(&str, Permission); 6] = [
    ("admin", Permission::Admin),
    ("bob", Permission::Maintain),
    ("alice", Permission::Write),
    ("carol", Permission::Write),
    ("dave", Permission::Write),
    ("viewer", Permission::Read),
];

/// Gives the sandbox team its roles in `owner/name`.
pub fn grant_team(sim: &Simulator, owner: &str, name: &str) -> Result<()> {
    for (login, role) in COLLABORATORS {
        sim.grant(owner, name, login, role)?;
    }
    Ok(())
}

/// The sandbox's GitHub App for automation (docs/operations.md): installed on its repositories,
/// with its key in a 0600 file. The simulator keeps apps in memory, so each start registers it
/// again: with the key already in the directory (its public key is read from it), else with a
/// new one. Making a 2048-bit RSA key takes a core for 100 to 250 ms here, so it is made on a
/// blocking thread after `delay` (a dashboard draws its first frame first) and the sandbox
/// starts without waiting for it; the handle says when the app is there.
pub const APP_ID: u64 = 1;
pub const APP_SLUG: &str = "tfpilot-bot";
pub const APP_KEY_FILE: &str = ".sandbox/app.pem";

pub fn app(
    apps: AppRegistry,
    dir: &std::path::Path,
    delay: std::time::Duration,
) -> tokio::task::JoinHandle<Result<()>> {
    let path = dir.join(APP_KEY_FILE);
    tokio::spawn(async move {
        if !path.exists() {
            tokio::time::sleep(delay).await;
        }
        let registered = tokio::task::spawn_blocking(move || register_app(&apps, &path))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|registered| registered);
        if let Err(error) = &registered {
            // The dashboard does not wait for this: say it where it can be found.
            tracing::warn!(error = %format!("{error:#}"), "the sandbox's GitHub App could not be registered");
        }
        registered
    })
}

fn register_app(apps: &AppRegistry, path: &std::path::Path) -> Result<()> {
    let kept = std::fs::read_to_string(path)
        .ok()
        .and_then(|private| crate::sim::apps::public_key_of(&private).ok());
    let public = match kept {
        Some(public) => public,
        None => {
            let (private, public) =
                crate::sim::apps::generate_key_pair().map_err(anyhow::Error::msg)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            write_private(path, &private)?;
            public
        }
    };
    let repositories: Vec<String> = PROJECTS
        .iter()
        .map(|(_, name)| format!("{OWNER}/{name}"))
        .collect();
    let names: Vec<&str> = repositories.iter().map(String::as_str).collect();
    apps.register(APP_ID, APP_SLUG, &public, &[(APP_ID, &names)])?;
    Ok(())
}

/// `text` into a file only its owner can read, replacing what was there.
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

pub fn repositories(sim: &Simulator) -> Result<()> {
    for (_, name) in PROJECTS {
        if sim.has_repo(OWNER, name) {
            // A sandbox saved before roles existed gets them now.
            grant_team(sim, OWNER, name)?;
            continue;
        }
        let mut files = BTreeMap::from([(
            "README.md".to_string(),
            format!("# {name}\n\nTerraform roots managed with tfpilot (sandbox).\n"),
        )]);
        for environment in ENVIRONMENTS {
            files.insert(
                format!("envs/{environment}/tfpilot.tf"),
                PREAMBLE.to_string(),
            );
        }
        for (workflow, text) in WORKFLOWS {
            files.insert(format!(".github/workflows/{workflow}"), text.to_string());
        }
        sim.create_repo(OWNER, name, files)?;
        grant_team(sim, OWNER, name)?;
    }
    Ok(())
}

/// Branch protection requiring a review, and a prod environment with required reviewers,
/// on every repository: what `tfpilot doctor` checks for. Set after seeding, whose merges
/// predate them.
pub fn protections(sim: &Simulator) -> Result<()> {
    for (_, name) in PROJECTS {
        sim.require_approvals(OWNER, name, 1)?;
        sim.set_environment(OWNER, name, "prod", &["bob", "admin"])?;
    }
    Ok(())
}

/// Writes the team configuration a sandbox needs, leaving what is already there alone.
pub async fn team_config(store: &Store) -> Result<()> {
    let mut projects = Map::new();
    for (project, repo) in PROJECTS {
        let mut environments = Map::new();
        for environment in ENVIRONMENTS {
            environments.insert(
                environment.to_string(),
                json!({"owner": OWNER, "repo": repo, "base": "main",
                       "env_path": format!("envs/{environment}"), "file": "tfpilot.tf"}),
            );
        }
        projects.insert(project.to_string(), Value::Object(environments));
    }
    let registry = serde_json::to_vec_pretty(&json!({ "projects": projects }))?;
    let mut objects = vec![
        ("config/policy.json".to_string(), POLICY.as_bytes().to_vec()),
        ("config/infra-repos.json".to_string(), registry),
        // Who `reconcile` emails once an SMTP server is set (docs/operations.md).
        (
            crate::domain::notify_email::NOTIFY_KEY.to_string(),
            include_bytes!("../../examples/store/config/notify.json").to_vec(),
        ),
    ];
    for (name, text) in MODULES {
        objects.push((
            format!("config/modules/{name}.json"),
            text.as_bytes().to_vec(),
        ));
    }
    for text in SEED_TEMPLATES {
        let template = Template::parse(text, "seed")?;
        objects.push((template_key(&template.id), template.render()));
    }
    for (key, body) in objects {
        store
            .put_once(&key, body)
            .await
            .with_context(|| format!("seeding {key}"))?;
    }
    Ok(())
}

struct Seeder<'a> {
    sim: &'a Simulator,
    engines: BTreeMap<&'static str, Engine>,
}

impl Seeder<'_> {
    fn engine(&self, login: &str) -> &Engine {
        // The seeds name only the logins `requests` makes engines for, so the index holds.
        &self.engines[login]
    }

    fn fast(&self) {
        self.sim.set_run_timing(0, 0);
    }

    fn slow(&self) {
        self.sim
            .set_run_timing(IN_FLIGHT_QUEUE_SECONDS, IN_FLIGHT_RUN_SECONDS);
    }

    async fn sync(&self, id: &str) -> Result<Status> {
        Ok(self.engine("admin").sync(id).await?.status)
    }
}

pub async fn requests(sim: &Simulator, store: &Store, dir: &std::path::Path) -> Result<usize> {
    let mut engines = BTreeMap::new();
    for login in ["alice", "bob", "carol", "dave", "admin"] {
        engines.insert(
            login,
            super::engine(sim.base_url(), store, login, dir).await?,
        );
    }
    let seeder = Seeder { sim, engines };
    seeder.engine("admin").seed_policies().await?;
    let mut made = 0;
    let mut changed = None;
    for Seed {
        project,
        environment,
        module,
        values,
        requester,
        status: target,
    } in seeds()
    {
        let input = CreateInput {
            project: project.into(),
            environment: environment.into(),
            module: module.into(),
            values: values.as_object().cloned().unwrap_or_default(),
            idempotency_key: None,
            template: None,
            assistant: None,
        };
        let id = seeder
            .bring(input, requester, target)
            .await
            .with_context(|| format!("seeding a {module} request in {target:?}"))?;
        let status = derive_status(&store.get_request(&id).await?.value);
        if status != target {
            bail!("seeded {id} ended {status:?} instead of {target:?}");
        }
        if values["queue_name"] == CHANGED_QUEUE {
            changed = Some(id);
        }
        made += 1;
    }
    // An applied queue's change request, planned: a longer visibility timeout.
    let original = changed.context("the seed the sandbox changes is missing")?;
    seeder.fast();
    let longer = json!({"visibility_timeout_seconds": "120"});
    let change = seeder
        .engine(CHANGED_BY)
        .change(
            &original,
            longer.as_object().cloned().unwrap_or_default(),
            None,
        )
        .await?
        .request
        .id;
    let status = seeder.sync(&change).await?;
    if status != Status::PlanReady {
        bail!("the seeded change {change} ended {status:?} instead of plan_ready");
    }
    made += 1;
    sim.set_run_timing(
        SimOptions::default().queue_seconds,
        SimOptions::default().run_seconds,
    );
    Ok(made)
}

impl Seeder<'_> {
    /// Creates a request and walks it to `target` with the operations a team would use.
    async fn bring(&self, input: CreateInput, requester: &str, target: Status) -> Result<String> {
        let prod = input.environment == "prod";
        let approver = if requester == "bob" { "admin" } else { "bob" };
        let merger = if prod { "bob" } else { requester };
        let destroyer = "admin";
        let requester_engine = self.engine(requester);
        if target == Status::RequestCreated {
            // A create that stopped before its pull request (GitHub failed), left to resume.
            self.sim.add_fault(FaultRule {
                method: Some("POST".into()),
                status: Some(502),
                times: Some(1),
                ..FaultRule::on("/repos/*/pulls")
            });
            let mut input = input;
            input.idempotency_key = Some(format!("sandbox-{}", ulid::Ulid::new()));
            let key = input.idempotency_key.clone().unwrap_or_default();
            let failed = requester_engine.create(input).await;
            self.sim.clear_faults();
            if failed.is_ok() {
                bail!("the interrupted create did not stop");
            }
            let record = self.engine("admin").store().get_create_key(&key).await?;
            return Ok(record.context("the create key was not claimed")?.request_id);
        }
        if target == Status::Planning {
            self.slow();
        } else {
            self.fast();
        }
        let id = requester_engine.create(input).await?.request.id;
        if target == Status::Planning {
            return Ok(id);
        }
        self.sync(&id).await?;
        let fails_at_plan = target == Status::Failed && !prod;
        if fails_at_plan {
            self.script(&id, "plan", "Error: creating RDS DB Instance: InvalidParameterCombination: RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.t4g.medium, Engine=postgres, EngineVersion=16.4");
            self.engine(requester).plan(&id, None).await?;
            self.sync(&id).await?;
            return Ok(id);
        }
        if target == Status::Withdrawn {
            self.engine(requester)
                .withdraw(
                    &id,
                    Some("superseded: search reads the shared events queue now"),
                    None,
                )
                .await?;
            return Ok(id);
        }
        if target == Status::PlanReady {
            return Ok(id);
        }
        if self
            .engine("admin")
            .store()
            .get_request(&id)
            .await?
            .value
            .config
            .get("identifier")
            .and_then(Value::as_str)
            == Some(OVERRIDDEN_DATABASE)
        {
            self.engine("admin")
                .override_policy(&id, OVERRIDE_REASON)
                .await?;
        }
        self.engine(approver).approve(&id, None).await?;
        if target == Status::Approved {
            return Ok(id);
        }
        self.engine(merger).merge(&id, None).await?;
        if target == Status::Merged {
            return Ok(id);
        }
        if target == Status::Failed {
            self.script(&id, "apply", "Error: creating S3 Bucket: BucketAlreadyExists: The requested bucket name is not available");
        }
        if target == Status::Applying {
            self.slow();
        }
        self.engine("bob").apply(&id, None).await?;
        self.fast();
        if target == Status::Applying {
            return Ok(id);
        }
        self.sync(&id).await?;
        if matches!(target, Status::Applied | Status::Failed) {
            return Ok(id);
        }
        if target == Status::Destroying {
            self.slow();
        }
        self.engine(destroyer).destroy(&id, None).await?;
        self.fast();
        if target == Status::Destroying {
            return Ok(id);
        }
        self.sync(&id).await?;
        self.engine(requester).cleanup(&id, None).await?;
        self.sync(&id).await?;
        Ok(id)
    }

    fn script(&self, id: &str, operation: &str, error: &str) {
        self.sim.script_outcome(ScriptedOutcome {
            request_id: id.to_string(),
            operation: operation.to_string(),
            conclusion: "failure".into(),
            error: Some(error.to_string()),
            drift: false,
            times: Some(1),
        });
    }
}
