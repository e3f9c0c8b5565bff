//! `tfpilot login`, `whoami`, `logout`, `sim` and `init-repo`, run as the real
//! binary against the simulator. No token ever reaches output or logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

#[path = "support/home.rs"]
mod home;
#[path = "support/sim.rs"]
mod support;

use home::Home;

use std::process::Stdio;
use std::time::Duration;

use tfpilot::sim::{SimClock, SimOptions, Simulator};
use tokio::io::{AsyncBufReadExt, BufReader};

async fn sim_with_real_clock() -> Simulator {
    let options = SimOptions {
        device_poll_interval: 1,
        ..SimOptions::default()
    };
    Simulator::start("127.0.0.1:0".parse().unwrap(), options, SimClock::real())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whoami_logout_with_the_device_flow() {
    let sim = sim_with_real_clock().await;
    let url = sim.base_url().to_string();
    let host = url.trim_start_matches("http://").to_string();
    let home = Home::new();

    let mut login = home.command(&url);
    login
        .args(["login", "--client-id", "tfpilot-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut stderr_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut prompt = String::new();
    let code = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr_lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        prompt.push_str(&line);
        prompt.push('\n');
        if let Some(code) = line.strip_prefix("First copy your one-time code: ") {
            break code.to_string();
        }
    };
    sim.authorize_device(&code, "alice", false).unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    while let Ok(Some(line)) = stderr_lines.next_line().await {
        prompt.push_str(&line);
        prompt.push('\n');
    }
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{prompt}{stdout}");
    assert!(
        prompt.contains(&format!("Then open {url}/login/device")),
        "{prompt}"
    );
    assert!(
        stdout.contains(&format!("Logged in to {host} as alice")),
        "{stdout}"
    );

    let file = home
        .path()
        .join("data/tfpilot/tokens")
        .join(format!("{}.token", host.replace(':', "_")));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "sim-alice");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let (code, out, err) = home.run(&url, &["whoami"], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "alice on {host} (token from the token file {}",
            file.display()
        )),
        "{out}"
    );
    assert!(out.contains("rate limit: "), "{out}");
    let (_, json, _) = home.run(&url, &["whoami", "--json"], &[]).await;
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (value["login"].as_str(), value["source_kind"].as_str()),
        (Some("alice"), Some("file"))
    );

    // The environment wins over the stored token.
    let (_, out, _) = home
        .run(&url, &["whoami"], &[("GITHUB_TOKEN", "sim-dave")])
        .await;
    assert!(
        out.starts_with(&format!(
            "dave on {host} (token from the GITHUB_TOKEN environment variable)"
        )),
        "{out}"
    );

    let (code, out, _) = home.run(&url, &["logout"], &[]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(
            "Logged out of {host}: removed the token from the token file"
        )),
        "{out}"
    );
    assert!(!file.exists());
    let (code, _, err) = home.run(&url, &["whoami"], &[]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("no GitHub token") && err.contains("tfpilot login"),
        "{err}"
    );

    let log = home.log_text();
    assert!(log.contains("logged in"), "the trace-level log was written");
    for text in [&log, &stdout, &prompt, &out, &json] {
        assert!(
            !text.contains("sim-alice") && !text.contains("sim-dave"),
            "a token leaked: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_is_asked_last_and_bad_tokens_stay_secret() {
    let sim = sim_with_real_clock().await;
    let url = sim.base_url().to_string();
    let host = url.trim_start_matches("http://").to_string();
    let home = Home::new();

    // A `gh` that knows a token for this host only.
    let gh = home.path().join("bin/gh");
    std::fs::create_dir_all(gh.parent().unwrap()).unwrap();
    std::fs::write(
        &gh,
        format!("#!/bin/sh\n[ \"$1 $2 $3 $4\" = \"auth token --hostname {host}\" ] && echo sim-carol && exit 0\nexit 1\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, out, err) = home.run(&url, &["whoami"], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("carol on {host} (token from `gh auth token`)")),
        "{out}"
    );

    let canary = "ghp_CanaryTokenValue0123456789";
    let (code, out, err) = home
        .run(&url, &["whoami", "--json"], &[("GITHUB_TOKEN", canary)])
        .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("GitHub rejected the token") && err.contains("tfpilot login"),
        "{err}"
    );
    for text in [out, err, home.log_text()] {
        assert!(
            !text.contains(canary) && !text.contains("sim-carol"),
            "a token leaked: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_runs_as_a_command() {
    let home = Home::new();
    let mut sim = home.command("http://unused");
    sim.args([
        "sim",
        "--addr",
        "127.0.0.1:0",
        "--repo",
        "acme/infra-live",
        "--json",
    ])
    .stdout(Stdio::piped());
    let mut child = sim.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut announcement = String::new();
    while !announcement.trim_end().ends_with('}') {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        announcement.push_str(&line);
    }
    let value: serde_json::Value = serde_json::from_str(&announcement).unwrap();
    let url = value["url"].as_str().unwrap().to_string();

    let (code, out, err) = home
        .run(&url, &["whoami"], &[("GITHUB_TOKEN", "sim-erin")])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("erin on 127.0.0.1:"), "{out}");

    // erin is no collaborator: the repository is not there for her, as on GitHub.
    let github = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(url.clone()),
        "sim-erin",
    )
    .unwrap();
    let refused = github.repository(&support::repo()).await;
    assert!(matches!(refused, Ok(None)), "{refused:?}");
    let github = tfpilot::github::GitHub::connect(
        &tfpilot::github::GitHubSettings::new(url.clone()),
        "sim-alice",
    )
    .unwrap();
    let file = github
        .get_file(&support::repo(), "envs/prod/tfpilot.tf", "main")
        .await
        .unwrap()
        .unwrap();
    assert!(file.text.contains("tfpilot writes its blocks below"));

    #[cfg(unix)]
    {
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "SIGTERM stops it cleanly: {status}");
    }
}

#[tokio::test]
async fn init_repo_writes_the_workflows_and_keeps_local_changes() {
    let home = Home::new();
    let repo = home.path().join("infra-live");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let repo_arg = repo.to_str().unwrap();

    let (code, out, _) = home
        .run("http://unused", &["init-repo", repo_arg], &[])
        .await;
    assert_eq!(code, 0);
    assert_eq!(out.matches("written").count(), 5, "{out}");
    let plan = repo.join(".github/workflows/tfpilot-plan.yml");
    assert_eq!(
        std::fs::read_to_string(&plan).unwrap(),
        include_str!("../docs/workflows/tfpilot-plan.yml")
    );

    let (_, out, _) = home
        .run("http://unused", &["init-repo", repo_arg], &[])
        .await;
    assert_eq!(out.matches("unchanged").count(), 5, "{out}");

    std::fs::write(&plan, "# ours\n").unwrap();
    let (_, out, _) = home
        .run("http://unused", &["init-repo", repo_arg], &[])
        .await;
    assert!(
        out.contains("kept      .github/workflows/tfpilot-plan.yml") && out.contains("--force"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), "# ours\n");
    let (_, out, _) = home
        .run("http://unused", &["init-repo", "--force", repo_arg], &[])
        .await;
    assert!(
        out.contains("replaced  .github/workflows/tfpilot-plan.yml"),
        "{out}"
    );

    let (code, _, err) = home
        .run("http://unused", &["init-repo", "/nonexistent/dir"], &[])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn templates_and_simulator_agree_on_names_inputs_and_steps() {
    for (file, operation) in tfpilot::sim::model::WORKFLOWS {
        let path = format!("{}/docs/workflows/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let run_name = format!(
            "run-name: tfpilot {operation} ${{{{ inputs.request_id }}}} ${{{{ inputs.dispatch_id }}}}\n"
        );
        assert!(text.contains(&run_name), "{file}: {run_name}");
        let sample =
            tfpilot::github::models::RunName::parse(&format!("tfpilot {operation} req_1 d-1"))
                .unwrap();
        assert_eq!(sample.operation, operation);
        for input in ["request_id", "environment", "dispatch_id"] {
            assert!(
                text.contains(&format!("      {input}:\n")),
                "{file} lacks input {input}"
            );
        }
        assert!(text.contains("  workflow_dispatch:\n"), "{file}");
        for step in tfpilot::sim::runs::step_names(operation) {
            if step != "Set up job" && step != "Complete job" {
                assert!(
                    text.contains(&format!("- name: {step}\n")),
                    "{file} lacks step {step}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let home = Home::new();
    let (code, _, err) = home
        .run("http://unused", &["sim", "--addr", &addr], &[])
        .await;
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("pick another port"),
        "{err}"
    );
    let (code, _, err) = home
        .run(
            "http://unused",
            &["sim", "--addr", "127.0.0.1:0", "--repo", "no-slash"],
            &[],
        )
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("must look like OWNER/NAME"), "{err}");
}
