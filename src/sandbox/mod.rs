//! The sandbox: the whole product on this machine, without credentials. A directory is both the
//! request store and the simulated GitHub's disk, so a sandbox restarted on the same directory
//! finds everything it had: requests, events, repositories, pull requests, runs.

mod presence;
mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::github::{GitHub, GitHubSettings};
use crate::sim::{SimClock, SimOptions, Simulator};
use crate::store::{LocalStore, Store};

pub use presence::{Presence, joined, until_all_left};
pub use seed::{APP_ID, APP_KEY_FILE, APP_SLUG, COLLABORATORS, SEEDED_REQUESTS, grant_team};

/// The simulator's file inside the sandbox directory; a hidden name the store never lists.
const SIM_FILE: &str = ".sandbox/github.json";
const PORT_FILE: &str = ".sandbox/port";
/// Sensitive values, instead of SSM: 0600 files in 0700 directories.
const SECRETS_DIR: &str = ".sandbox/secrets";

#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Where to keep everything; a new directory under the system's temp dir when `None`.
    pub dir: Option<PathBuf>,
    /// The simulator's port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seed only the team configuration, no requests.
    pub no_requests: bool,
    /// How long a new GitHub App key waits before it is made: a dashboard starts first (the
    /// key takes a core for 100 to 250 ms), a headless sandbox wants it at once.
    pub app_key_delay: Duration,
}

pub struct Sandbox {
    pub dir: PathBuf,
    pub sim: Simulator,
    pub store: Store,
    /// Requests made by this start (0 when the directory already had its own).
    pub seeded: usize,
    /// The sandbox's GitHub App being registered (its key may be in the making).
    app: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl Sandbox {
    pub async fn start(options: SandboxOptions) -> Result<Sandbox> {
        let dir = match options.dir {
            Some(dir) => dir,
            None => std::env::temp_dir().join(format!(
                "tfpilot-sandbox-{}",
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            )),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the sandbox directory {}", dir.display()))?;
        let store = Store::new(std::sync::Arc::new(
            LocalStore::open_or_create(&dir)
                .with_context(|| format!("{} cannot hold a store", dir.display()))?,
        ));
        let sim = start_simulator(&dir, options.port).await?;
        seed::repositories(&sim)?;
        seed::team_config(&store).await?;
        let existing = store.list_request_page(None, 1).await?;
        let seeded = if options.no_requests || !existing.objects.is_empty() {
            0
        } else {
            seed::requests(&sim, &store, &dir).await?
        };
        // Set up the way `tfpilot doctor` expects a real team to be.
        seed::protections(&sim)?;
        let app = seed::app(sim.apps(), &dir, options.app_key_delay);
        sim.save();
        Ok(Sandbox {
            dir,
            sim,
            store,
            seeded,
            app: Some(app),
        })
    }

    /// Waits until the sandbox's GitHub App is registered (`tfpilot sandbox --headless` does
    /// before it says where it is, so scripts can act as the app at once).
    pub async fn app_ready(&mut self) -> Result<()> {
        match self.app.take() {
            Some(task) => task.await.context("registering the sandbox's GitHub App")?,
            None => Ok(()),
        }
    }

    /// `store=file://DIR github=http://127.0.0.1:PORT`: what scripts read to find it.
    pub fn describe(&self) -> String {
        format!(
            "store=file://{} github={}",
            self.dir.display(),
            self.sim.base_url()
        )
    }

    pub fn github_url(&self) -> &str {
        self.sim.base_url()
    }

    pub fn store_path(&self) -> &Path {
        &self.dir
    }

    /// An engine acting as `login` (any login works: the simulator takes `sim-<login>`).
    pub async fn engine(&self, login: &str) -> Result<Engine> {
        engine(self.sim.base_url(), &self.store, login, &self.dir).await
    }
}

/// A sandbox another tfpilot is serving right now: its directory and its simulator's URL.
/// A second terminal joins it instead of starting a second simulator on the same files.
pub struct RunningSandbox {
    pub dir: PathBuf,
    pub github_url: String,
    pub store: Store,
}

impl RunningSandbox {
    /// The sandbox served from `dir`, when its remembered port answers as a simulator.
    pub async fn find(dir: &Path) -> Option<RunningSandbox> {
        let port = std::fs::read_to_string(dir.join(PORT_FILE))
            .ok()?
            .trim()
            .parse::<u16>()
            .ok()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Nothing listening is the common case: a quick connect settles it.
        let probe = tokio::net::TcpStream::connect(addr);
        tokio::time::timeout(Duration::from_millis(500), probe)
            .await
            .ok()?
            .ok()?;
        let github_url = format!("http://{addr}");
        let github = GitHub::connect(&GitHubSettings::new(github_url.clone()), "sim-probe").ok()?;
        let user = tokio::time::timeout(Duration::from_secs(3), github.current_user())
            .await
            .ok()?
            .ok()?;
        if user.login != "probe" {
            return None;
        }
        let store = Store::new(std::sync::Arc::new(LocalStore::open_or_create(dir).ok()?));
        Some(RunningSandbox {
            dir: dir.to_path_buf(),
            github_url,
            store,
        })
    }

    pub async fn engine(&self, login: &str) -> Result<Engine> {
        engine(&self.github_url, &self.store, login, &self.dir).await
    }
}

/// Starts the simulator on `port`; with no port asked for, on the port this directory's
/// sandbox had last time when it is free (so the links in its requests keep working).
async fn start_simulator(dir: &Path, port: u16) -> Result<Simulator> {
    let remembered = dir.join(PORT_FILE);
    let previous = std::fs::read_to_string(&remembered)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok());
    let start = |port: u16| {
        Simulator::start_persistent(
            SocketAddr::from(([127, 0, 0, 1], port)),
            SimOptions::default(),
            SimClock::real(),
            dir.join(SIM_FILE),
        )
    };
    let sim = match (port, previous) {
        (0, Some(previous)) => match start(previous).await {
            Ok(sim) => sim,
            Err(_) => start(0).await?,
        },
        (port, _) => start(port).await?,
    };
    if let Some(addr) = sim.addr() {
        // Only a convenience: a sandbox that cannot remember its port still works.
        if let Some(parent) = remembered.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&remembered, addr.port().to_string());
    }
    Ok(sim)
}

/// The secret store of the sandbox in `dir`, when `dir` holds one (it has a `.sandbox/`).
pub fn secrets_of(dir: &Path) -> Option<crate::secrets::LocalSecrets> {
    dir.join(".sandbox")
        .is_dir()
        .then(|| crate::secrets::LocalSecrets::new(dir.join(SECRETS_DIR)))
}

/// An engine acting as `login` on the sandbox in `dir`, its secrets kept in the directory.
pub(crate) async fn engine(
    github_url: &str,
    store: &Store,
    login: &str,
    dir: &Path,
) -> Result<Engine> {
    let github = GitHub::connect(&GitHubSettings::new(github_url), &format!("sim-{login}"))?;
    let team = store.load_team_config().await?;
    let secrets = crate::secrets::LocalSecrets::new(dir.join(SECRETS_DIR));
    Ok(Engine::new(store.clone(), github, team, login)
        .with_holder(format!("{login}@sandbox"))
        .with_secrets(std::sync::Arc::new(secrets)))
}
