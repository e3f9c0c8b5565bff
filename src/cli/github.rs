//! `tfpilot login`, `logout` and `whoami`. No token is ever printed, logged or
//! put in `--json` output: only where it came from.

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::{Invocation, LoginArgs, print, print_json};
use crate::github::device::DeviceLogin;
use crate::github::token::{TokenSource, TokenSources, account_for};
use crate::github::{GitHub, GitHubSettings};

const SCOPES: [&str; 2] = ["repo", "workflow"];

pub(super) fn sources(context: &Invocation) -> TokenSources {
    TokenSources::standard(
        &context.config.github.api_url,
        context.dirs.as_ref().map(|dirs| dirs.data.as_path()),
        context.config.github.keyring,
        |name| std::env::var(name).ok(),
    )
}

fn settings(context: &Invocation) -> GitHubSettings {
    context.config.github.settings()
}

pub async fn login(context: &Invocation, args: LoginArgs) -> Result<()> {
    if args.smtp {
        return super::mail::login_smtp(context);
    }
    if args.assistant {
        return super::assist::login_assistant(context);
    }
    let api_url = &context.config.github.api_url;
    let host = account_for(api_url);
    let Some(client_id) = args
        .client_id
        .or_else(|| context.config.github.client_id.clone())
    else {
        bail!(
            "no OAuth app to log in with: pass --client-id, set TFPILOT_GITHUB_CLIENT_ID, or set [github] client_id in the config (an OAuth app with Device Flow enabled)"
        );
    };
    let flow = DeviceLogin::new(api_url, &client_id)?;
    let code = flow.start(&SCOPES).await?;
    note!("First copy your one-time code: {}", code.user_code);
    note!(
        "Then open {} and enter it. Waiting for GitHub...",
        code.verification_uri
    );
    let token = flow.finish(&code).await?;
    let github = GitHub::connect(&settings(context), token.expose())?;
    let user = github
        .current_user()
        .await
        .context("checking the new token")?;
    let stored_in = sources(context).save(&token)?;
    tracing::info!(login = %user.login, host = %host, stored_in = %stored_in, "logged in");
    let shadowed: Vec<&str> = ["GITHUB_TOKEN", "GH_TOKEN"]
        .into_iter()
        .filter(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
        .collect();
    if let Some(name) = shadowed.first() {
        note!(
            "note: {name} is set and takes precedence over the stored token; unset it to use this login"
        );
    }
    if context.json {
        return print_json(
            &json!({"login": user.login, "host": host, "stored_in": stored_in.to_string()}),
        );
    }
    print(&format!(
        "Logged in to {host} as {}; the token is kept in {stored_in}.\n",
        user.login
    ))
}

pub fn logout(context: &Invocation) -> Result<()> {
    let sources = sources(context);
    let removed = sources.forget()?;
    let still: Vec<String> = sources
        .env
        .iter()
        .filter(|(_, value)| value.as_deref().is_some_and(|v| !v.trim().is_empty()))
        .map(|(name, _)| format!("{name} is still set in the environment"))
        .collect();
    if context.json {
        let removed: Vec<String> = removed.iter().map(ToString::to_string).collect();
        return print_json(
            &json!({"host": sources.account, "removed_from": removed, "still_available": still}),
        );
    }
    let mut text = if removed.is_empty() {
        format!("No stored token for {}.\n", sources.account)
    } else {
        let places: Vec<String> = removed.iter().map(ToString::to_string).collect();
        format!(
            "Logged out of {}: removed the token from {}.\n",
            sources.account,
            places.join(" and ")
        )
    };
    for line in still {
        text.push_str(&format!("note: {line}\n"));
    }
    print(&text)
}

pub async fn whoami(context: &Invocation) -> Result<()> {
    let sources = sources(context);
    let Some((token, source)) = sources.resolve()? else {
        bail!(
            "no GitHub token for {}: run `tfpilot login`, set GITHUB_TOKEN, or log in with `gh auth login`",
            sources.account
        );
    };
    let github = GitHub::connect(&settings(context), token.expose())?;
    let user = github
        .current_user()
        .await
        .with_context(|| format!("checking the token from {source}"))?;
    let budget = github.transport().budget().borrow().clone();
    if context.json {
        return print_json(&json!({
            "login": user.login,
            "id": user.id,
            "host": sources.account,
            "api_url": context.config.github.api_url,
            "source": source.to_string(),
            "source_kind": source_kind(&source),
            "rate_limit": budget,
        }));
    }
    let mut text = format!(
        "{} on {} (token from {source})\n",
        user.login, sources.account
    );
    if let Some(budget) = budget {
        text.push_str(&format!(
            "rate limit: {} of {} requests left, resets at {}\n",
            budget.remaining, budget.limit, budget.reset
        ));
    }
    print(&text)
}

fn source_kind(source: &TokenSource) -> &'static str {
    match source {
        TokenSource::Env(_) => "env",
        TokenSource::Keyring(_) => "keyring",
        TokenSource::File(_) => "file",
        TokenSource::GhCli => "gh",
    }
}
