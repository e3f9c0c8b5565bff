//! `tfpilot sandbox`: the store and the simulated GitHub on this machine, with the dashboard
//! on top (acting as `--as`), or `--headless`: served until killed, for scripts and tests.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Invocation, SandboxArgs, print};
use crate::sandbox::{Presence, RunningSandbox, Sandbox, SandboxOptions, joined, until_all_left};

pub async fn run(context: &Invocation, args: SandboxArgs) -> Result<()> {
    if !args.headless {
        super::dashboard::require_terminal()?;
    }
    // One sandbox per user by default, so `--as bob` after alice finds what alice did.
    let dir = args
        .dir
        .clone()
        .or_else(|| context.dirs.as_ref().map(|dirs| dirs.data.join("sandbox")));
    if let Some(dir) = &dir
        && let Some(running) = RunningSandbox::find(dir).await
    {
        if args.reset || args.headless {
            bail!(
                "another tfpilot is serving the sandbox in {} (GitHub simulator at {}); quit it first, or pass another --dir",
                dir.display(),
                running.github_url
            );
        }
        // A second terminal: join the running sandbox as someone else, announced so the
        // terminal serving it does not stop while this dashboard runs.
        let engine = running.engine(&args.login).await?;
        let _presence = Presence::join(dir, &args.login)
            .map_err(
                |error| tracing::warn!(%error, "cannot announce this dashboard to the sandbox"),
            )
            .ok();
        let store = format!("file://{}", dir.display());
        let greeting = greeting(&args.login, args.dir.as_deref(), true);
        return super::dashboard::open(
            context,
            engine,
            store,
            running.github_url.clone(),
            Some(greeting),
        )
        .await;
    }
    if args.reset
        && let Some(dir) = &dir
    {
        reset(dir)?;
    }
    let mut sandbox = Sandbox::start(SandboxOptions {
        dir,
        port: args.port,
        no_requests: args.no_requests,
        app_key_delay: if args.headless {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs(5)
        },
    })
    .await?;
    tracing::info!(dir = %sandbox.dir.display(), github = %sandbox.github_url(), seeded = sandbox.seeded, "sandbox serving");
    if !args.headless {
        let engine = sandbox.engine(&args.login).await?;
        let store = format!("file://{}", sandbox.dir.display());
        let github = sandbox.github_url().to_string();
        let greeting = greeting(&args.login, args.dir.as_deref(), false);
        let result = super::dashboard::open(context, engine, store, github, Some(greeting)).await;
        sandbox.sim.save();
        serve_joined(&sandbox.dir).await;
        sandbox.sim.save();
        if result.is_ok() {
            note!(
                "Sandbox kept in {dir}; `tfpilot sandbox --dir {dir}` carries on where you left off.",
                dir = sandbox.dir.display()
            );
        }
        return result;
    }
    // One line on stdout for scripts, once everything it names is there; the how-to goes to
    // stderr.
    sandbox.app_ready().await?;
    print(&format!("{}\n", sandbox.describe()))?;
    note!(
        "Sandbox in {dir} ({seeded} requests seeded now). In another terminal:\n  \
         export TFPILOT_STORE={dir} TFPILOT_GITHUB_API_URL={url} GITHUB_TOKEN=sim-alice\n  \
         tfpilot list\n\
         Users: alice, carol, dave (developers), bob (approver), admin, viewer; the token is sim-<user>.\n\
         Automation as the sandbox's GitHub App ({slug}[bot]), instead of GITHUB_TOKEN:\n  \
         TFPILOT_GITHUB_APP_ID={app_id} TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE={dir}/{key} tfpilot reconcile\n\
         Ctrl-C stops it; start it again with --dir {dir} to carry on.",
        slug = crate::sandbox::APP_SLUG,
        app_id = crate::sandbox::APP_ID,
        key = crate::sandbox::APP_KEY_FILE,
        dir = sandbox.dir.display(),
        url = sandbox.github_url(),
        seeded = sandbox.seeded,
    );
    shutdown_signal().await;
    sandbox.sim.save();
    Ok(())
}

/// The simulated GitHub lives in this process: other terminals' dashboards joined to it keep it
/// serving until the last one leaves (or ctrl-c, which says what they lose).
async fn serve_joined(dir: &Path) {
    let others = joined(dir);
    if others.is_empty() {
        return;
    }
    note!(
        "Still serving the sandbox's simulated GitHub for {} (dashboards in other terminals); it stops when they quit. Ctrl-C stops it now, and those dashboards lose GitHub: their plans, merges and runs fail until a new `tfpilot sandbox` serves it.",
        others.join(", ")
    );
    tokio::select! {
        _ = until_all_left(dir, std::time::Duration::from_millis(500)) => {}
        _ = shutdown_signal() => {}
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Deletes a sandbox directory, and nothing that is not one.
fn reset(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.join(".sandbox").is_dir() {
        bail!(
            "{} is not a sandbox directory (it has no .sandbox/ inside), so --reset leaves it alone; pass another --dir",
            dir.display()
        );
    }
    std::fs::remove_dir_all(dir)
        .with_context(|| format!("removing the sandbox in {}", dir.display()))
}

/// The first thing a sandbox dashboard says: who you are, and how to be someone else.
fn greeting(login: &str, dir: Option<&Path>, joined: bool) -> String {
    let how = if joined {
        "joined the running sandbox"
    } else {
        "sandbox ready"
    };
    let dir = dir
        .map(|dir| format!(" --dir {}", dir.display()))
        .unwrap_or_default();
    // Suggest people other than the one already here.
    let others: Vec<&str> = ["bob", "alice", "admin", "viewer", "carol"]
        .into_iter()
        .filter(|other| !other.eq_ignore_ascii_case(login))
        .collect();
    format!(
        "{how}: you are {}. To be someone else, run in another terminal: tfpilot sandbox{dir} --as {} (or {}). ? shows every key.",
        login,
        others[0],
        others[1..].join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_never_tells_someone_to_become_themselves() {
        let bob = greeting("bob", None, true);
        assert!(bob.contains("you are bob"), "{bob}");
        assert!(bob.contains("--as alice"), "{bob}");
        assert!(!bob.contains("--as bob"), "{bob}");
        let alice = greeting("alice", Some(Path::new("/tmp/s")), false);
        assert!(
            alice.contains("tfpilot sandbox --dir /tmp/s --as bob"),
            "{alice}"
        );
        assert!(!alice.contains("or admin, viewer, carol, alice"), "{alice}");
    }
}
