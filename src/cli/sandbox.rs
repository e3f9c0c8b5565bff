//! `tfpilot sandbox`: the store and the simulated GitHub on this machine, with the dashboard
//! on top (acting as `--as`), or `--headless`: served until killed, for scripts and tests.

use anyhow::Result;

use super::{SandboxArgs, Session, print};
use crate::sandbox::{Sandbox, SandboxOptions};

pub async fn run(context: &Session, args: SandboxArgs) -> Result<()> {
    let sandbox = Sandbox::start(SandboxOptions {
        dir: args.dir,
        port: args.port,
        no_requests: args.no_requests,
    })
    .await?;
    tracing::info!(dir = %sandbox.dir.display(), github = %sandbox.github_url(), seeded = sandbox.seeded, "sandbox serving");
    if !args.headless {
        let engine = sandbox.engine(&args.login).await?;
        let store = format!("file://{}", sandbox.dir.display());
        let github = sandbox.github_url().to_string();
        let result = super::dashboard::open(context, engine, store, github, true).await;
        sandbox.sim.save();
        if result.is_ok() {
            eprintln!(
                "Sandbox kept in {dir}; `tfpilot sandbox --dir {dir}` carries on where you left off.",
                dir = sandbox.dir.display()
            );
        }
        return result;
    }
    // One line on stdout for scripts; the how-to goes to stderr.
    print(&format!("{}\n", sandbox.describe()))?;
    eprintln!(
        "Sandbox in {dir} ({seeded} requests seeded now). In another terminal:\n  \
         export TFPILOT_STORE={dir} TFPILOT_GITHUB_API_URL={url} GITHUB_TOKEN=sim-alice\n  \
         tfpilot list\n\
         Users: alice, carol, dave (developers), bob (approver), admin, viewer; the token is sim-<user>.\n\
         Ctrl-C stops it; start it again with --dir {dir} to carry on.",
        dir = sandbox.dir.display(),
        url = sandbox.github_url(),
        seeded = sandbox.seeded,
    );
    shutdown_signal().await;
    sandbox.sim.save();
    Ok(())
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
