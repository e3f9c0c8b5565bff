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

/// Who tfpilot acts as on GitHub, checked with GitHub.
pub(super) struct Connected {
    pub github: GitHub,
    /// The login events record: a person's, or `<slug>[bot]` for a GitHub App.
    pub login: String,
    /// Where the identity came from, in words (never the token).
    pub source: String,
    /// `github-app`, `env`, `keyring`, `file` or `gh`.
    pub source_kind: &'static str,
    pub id: Option<u64>,
}

/// A GitHub App's installation when `[github] app_id` and `app_private_key_file` are set
/// (automation never borrows a person's token), else the person's token from its sources.
/// `repository` is where to look the app's installation up when none is configured.
pub(super) async fn connect(
    context: &Invocation,
    repository: Option<crate::github::RepoId>,
) -> Result<Connected> {
    let config = &context.config.github;
    match (config.app_id, &config.app_private_key_file) {
        (Some(app_id), Some(key_file)) => {
            return connect_app(context, app_id, key_file, repository).await;
        }
        (Some(_), None) => bail!(
            "[github] app_id is set but no private key: set app_private_key_file or TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE to the app's .pem file"
        ),
        (None, Some(_)) => bail!(
            "[github] app_private_key_file is set but no app: set app_id or TFPILOT_GITHUB_APP_ID to the app's id (its settings page shows it)"
        ),
        (None, None) => {}
    }
    let sources = sources(context);
    let Some((token, source)) = sources.resolve()? else {
        bail!(
            "no GitHub token for {}: run `tfpilot login`, set GITHUB_TOKEN, log in with `gh auth login`, or configure a GitHub App ([github] app_id and app_private_key_file) for automation",
            sources.account
        );
    };
    let github = GitHub::connect(&settings(context), token.expose())?;
    let user = github
        .current_user()
        .await
        .with_context(|| format!("checking the token from {source}"))?;
    Ok(Connected {
        github,
        login: user.login,
        source: source.to_string(),
        source_kind: source_kind(&source),
        id: Some(user.id),
    })
}

async fn connect_app(
    context: &Invocation,
    app_id: u64,
    key_file: &std::path::Path,
    repository: Option<crate::github::RepoId>,
) -> Result<Connected> {
    use crate::github::app::{AppKey, AppSigner, AppTokens};
    use crate::github::transport::Credentials;
    let key = AppKey::read(key_file)?;
    let tokens = AppTokens::new(
        &settings(context),
        AppSigner::new(app_id, key),
        context.config.github.installation_id,
        repository,
    )?;
    let app = tokens.app().await?;
    let installation = tokens.installation().await?;
    // A token now, so a refused installation fails here and says why.
    tokens.token().await?;
    let github = GitHub::with_credentials(&settings(context), Credentials::Installation(tokens))?;
    Ok(Connected {
        github,
        login: app.bot_login(),
        source: format!(
            "the GitHub App {} (app {app_id}, installation {installation})",
            app.slug
        ),
        source_kind: "github-app",
        id: Some(app.id),
    })
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
    let host = account_for(&context.config.github.api_url);
    let connected = connect(context, None).await?;
    let budget = connected.github.transport().budget().borrow().clone();
    if context.json {
        return print_json(&json!({
            "login": connected.login,
            "id": connected.id,
            "host": host,
            "api_url": context.config.github.api_url,
            "source": connected.source,
            "source_kind": connected.source_kind,
            "rate_limit": budget,
        }));
    }
    let origin = if connected.source_kind == "github-app" {
        format!("as {}", connected.source)
    } else {
        format!("token from {}", connected.source)
    };
    let mut text = format!("{} on {host} ({origin})\n", connected.login);
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
