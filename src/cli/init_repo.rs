//! `tfpilot init-repo DIR`: write the workflow templates into a checkout.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::{InitRepoArgs, Invocation, print, print_json};

use crate::domain::workflows::WORKFLOWS;

pub fn run(context: &Invocation, args: &InitRepoArgs) -> Result<()> {
    if !args.dir.is_dir() {
        bail!(
            "{} is not a directory; pass the path of an infra repository checkout",
            args.dir.display()
        );
    }
    if !args.dir.join(".git").exists() {
        note!(
            "note: {} has no .git; writing the workflows anyway",
            args.dir.display()
        );
    }
    let target = args.dir.join(".github").join("workflows");
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let mut results = Vec::new();
    for (name, content) in WORKFLOWS {
        let outcome = write_one(&target.join(name), content, args.force)?;
        results.push((name, outcome));
    }
    let skipped: Vec<&str> = results
        .iter()
        .filter(|(_, o)| *o == "kept")
        .map(|(n, _)| *n)
        .collect();
    if context.json {
        let files: Vec<_> = results.iter().map(|(name, outcome)| json!({"file": format!(".github/workflows/{name}"), "outcome": outcome})).collect();
        print_json(&json!({"dir": args.dir, "files": files}))?;
    } else {
        let mut text = String::new();
        for (name, outcome) in &results {
            text.push_str(&format!("{outcome:<9} .github/workflows/{name}\n"));
        }
        if !skipped.is_empty() {
            text.push_str(
                "Some workflows differ from tfpilot's and were kept; --force replaces them.\n",
            );
        }
        text.push_str("Next: commit them, then follow docs/infra-repo-setup.md (environments, OIDC roles, variables).\n");
        print(&text)?;
    }
    Ok(())
}

/// `written`, `unchanged`, `replaced` or `kept` (differs, no --force).
fn write_one(path: &Path, content: &str, force: bool) -> Result<&'static str> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let outcome = match existing.as_deref() {
        Some(text) if text == content => return Ok("unchanged"),
        Some(_) if !force => return Ok("kept"),
        Some(_) => "replaced",
        None => "written",
    };
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))?;
    Ok(outcome)
}
