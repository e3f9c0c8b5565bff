//! The pull request's diff (`tfpilot diff`, `d` in the dashboard) against the simulator over
//! HTTP: a request's pull request changes its block and nothing else; a change pushed onto its
//! branch outside the block, or to another file, is flagged and fails the command.

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

use tfpilot::domain::pull_diff::LineKind;

async fn a_pull_request_changes_only_its_block_until_someone_pushes_more(s3: bool) {
    let Some((bed, cli)) = cli::setup(s3).await else {
        return;
    };
    let id = bed.planned("dev", "payments-dev-diffed").await;
    let diff = bed.engine("bob").await.pull_diff(&id).await.unwrap();
    assert!(!diff.changes_outside(), "{:?}", diff.outside);
    assert_eq!(diff.files.len(), 1);
    let file = &diff.files[0];
    assert_eq!(file.filename, "envs/dev/tfpilot.tf");
    assert!(file.is_target);
    let added: Vec<&str> = file
        .lines
        .iter()
        .filter(|line| line.kind == LineKind::Added)
        .map(|line| line.text.as_str())
        .collect();
    assert!(
        added.contains(&format!("# tfpilot:begin/{id}").as_str()),
        "{added:?}"
    );
    assert!(
        added.contains(&format!("# tfpilot:end/{id}").as_str()),
        "{added:?}"
    );
    assert_eq!(added.len() as u64, file.additions);
    let output = cli.command("bob", &["diff", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("only {id}'s block changes")),
        "{text}"
    );
    assert!(text.contains(&format!("  +# tfpilot:begin/{id}")), "{text}");

    // Someone pushes onto the request's branch: a provider in another file, and a line above
    // the block in its own file.
    let github = bed::github(&bed.sim, "carol");
    let repo = sim::repo();
    let branch = format!("tfpilot/{id}");
    github
        .put_file(
            &repo,
            "envs/dev/providers.tf",
            &branch,
            "provider \"aws\" {}\n",
            "sneak",
            None,
        )
        .await
        .unwrap();
    let current = github
        .get_file(&repo, sim::FILE, &branch)
        .await
        .unwrap()
        .unwrap();
    let edited = format!("# unrelated\n{}", current.text);
    github
        .put_file(
            &repo,
            sim::FILE,
            &branch,
            &edited,
            "sneak",
            Some(&current.sha),
        )
        .await
        .unwrap();
    let diff = bed.engine("bob").await.pull_diff(&id).await.unwrap();
    assert!(diff.changes_outside());
    assert_eq!(diff.outside.len(), 2, "{:?}", diff.outside);
    let target = diff.files.iter().find(|f| f.is_target).unwrap();
    let flagged: Vec<&str> = target
        .lines
        .iter()
        .filter(|line| line.outside)
        .map(|line| line.text.as_str())
        .collect();
    assert_eq!(flagged, ["# unrelated"]);
    let output = cli.command("bob", &["diff", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}{errors}");
    assert!(text.contains("! +# unrelated"), "{text}");
    assert!(
        text.contains("--- envs/dev/providers.tf (added, +1 -0)  ! not the request's file"),
        "{text}"
    );
    assert!(errors.contains("changes more than"), "{errors}");
    let (code, json, _) = cli.run("bob", &["diff", &id]).await;
    assert_eq!(code, 1);
    assert_eq!(json["outside"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["number"], diff.number);
}

on_both_stores!(a_pull_request_changes_only_its_block_until_someone_pushes_more);
