//! `tfpilot doctor`: one line per check; exit 1 when any check fails.

use anyhow::Result;
use serde_json::json;

use super::ops::Answered;
use super::{Invocation, print, print_json};
use crate::doctor::{Doctor, Verdict};
use crate::github::GitHub;

pub async fn run(context: &Invocation) -> Result<()> {
    let store = context.store().await?;
    let app_configured = context.config.github.app_id.is_some()
        || context.config.github.app_private_key_file.is_some();
    let (github, token_source, app_login) = if app_configured {
        // The app's key, id and installation are checked by connecting; a failure says why.
        let connected = super::github::connect(context, None).await?;
        (
            Some(connected.github),
            Some(connected.source),
            Some(connected.login),
        )
    } else {
        let sources = super::github::sources(context);
        // A broken keyring is a finding, not a reason to stop.
        match sources.resolve() {
            Ok(Some((token, source))) => (
                GitHub::connect(&context.config.github.settings(), token.expose()).ok(),
                Some(source.to_string()),
                None,
            ),
            Ok(None) => (None, None, None),
            Err(error) => {
                tracing::warn!(%error, "token sources");
                (None, None, None)
            }
        }
    };
    let doctor = Doctor {
        store,
        github,
        token_source,
        app_login,
        probe_id: ulid::Ulid::new().to_string().to_ascii_lowercase(),
        now: super::now(),
    };
    let checks = doctor.run().await;
    let count = |verdict| checks.iter().filter(|c| c.verdict == verdict).count();
    let failed = count(Verdict::Fail);
    if context.json {
        print_json(&json!({
            "checks": checks,
            "passed": count(Verdict::Pass),
            "warnings": count(Verdict::Warn),
            "failures": failed,
            "skipped": count(Verdict::Skip),
        }))?;
    } else {
        let width = checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for check in &checks {
            text.push_str(&format!(
                "{}  {:<width$}  {}\n",
                check.verdict.label(),
                check.name,
                check.detail
            ));
            if let Some(fix) = &check.fix {
                text.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
            }
        }
        text.push_str(&format!(
            "{} passed, {} warning(s), {} failure(s)\n",
            count(Verdict::Pass),
            count(Verdict::Warn),
            failed
        ));
        print(&text)?;
    }
    if failed > 0 {
        return Err(Answered {
            code: 1,
            message: format!("{failed} check(s) failed"),
        }
        .into());
    }
    Ok(())
}
