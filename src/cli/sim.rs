//! `tfpilot sim`: the GitHub simulator as a standalone server.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::json;

use super::{Invocation, SimArgs, print, print_json};
use crate::sim::{SimClock, SimOptions, Simulator};

const PREAMBLE: &str = "# Terraform root of this environment. tfpilot writes its blocks below.\n";

pub async fn serve(context: &Invocation, args: SimArgs) -> Result<()> {
    let options = SimOptions {
        queue_seconds: args.queue_seconds,
        run_seconds: args.run_seconds,
        rate_limit: args.rate_limit,
        return_run_details: !args.without_run_details,
        mergeability_seconds: args.mergeability_seconds,
        infracost: !args.without_infracost,
        ..SimOptions::default()
    };
    let mut repos = Vec::new();
    for repo in &args.repos {
        let Some((owner, name)) = repo.split_once('/') else {
            bail!("--repo {repo:?} must look like OWNER/NAME");
        };
        repos.push((owner, name));
    }
    if !args.addr.ip().is_loopback() {
        // The /_sim/ control endpoints take no token: anyone who can reach them can
        // rewrite the simulated GitHub.
        note!(
            "warning: listening on {}, beyond this machine; the simulator's control endpoints need no token",
            args.addr
        );
    }
    let sim = Simulator::start(args.addr, options, SimClock::real()).await?;
    for (owner, name) in repos {
        let mut files = BTreeMap::from([(
            "README.md".to_string(),
            format!("# {name}\n\nInfrastructure managed with tfpilot.\n"),
        )]);
        for environment in ["dev", "staging", "prod"] {
            files.insert(
                format!("envs/{environment}/tfpilot.tf"),
                PREAMBLE.to_string(),
            );
        }
        // As `tfpilot init-repo` leaves a repository: the workflows are there.
        for (workflow, text) in crate::domain::workflows::WORKFLOWS {
            files.insert(format!(".github/workflows/{workflow}"), text.to_string());
        }
        sim.create_repo(owner, name, files)?;
        // The sandbox's people, with the roles its policy gives them.
        crate::sandbox::grant_team(&sim, owner, name)?;
        for (login, role) in &args.collaborators {
            sim.grant(owner, name, login, *role)?;
        }
    }
    tracing::info!(url = %sim.base_url(), repos = ?args.repos, "simulator listening");
    if context.json {
        print_json(&json!({"url": sim.base_url(), "repos": args.repos}))?;
    } else {
        print(&format!(
            "GitHub simulator on {url} (repos: {repos})\n\
             Tokens are sim-<login>; collaborators: admin (admin), bob (maintain), alice, carol, dave (write),\n\
             viewer (read), and --collaborator LOGIN=ROLE. Anyone else sees 404, as on a private repository. Try:\n  \
             GITHUB_TOKEN=sim-alice TFPILOT_GITHUB_API_URL={url} tfpilot whoami\n\
             Control endpoints: {url}/_sim/state, /_sim/faults, /_sim/outcomes (docs/simulator.md).\n\
             Ctrl-C stops it.\n",
            url = sim.base_url(),
            repos = args.repos.join(", ")
        ))?;
    }
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
