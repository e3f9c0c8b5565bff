//! `tfpilot assist TEXT`: the assistant proposes a request; it is printed for review, and
//! created only with `--create` after the person confirms (or `--yes`). `login --assistant`
//! keeps the API key.

use std::io::{IsTerminal as _, Read as _};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::confirm::ask;
use super::ops::engine;
use super::{AssistArgs, Invocation, print, print_json};
use crate::assistant::{ApiKey, OpenAiChat};
use crate::domain::presentation::ConfirmationText;
use crate::domain::untrusted::for_terminal;
use crate::engine::{Assisted, EngineError};
use crate::github::token::{Token, TokenSources};

/// Seconds one answer may take unless `[assistant] timeout_secs` says otherwise.
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// The keyring account of the assistant's API key.
fn key_account(url: &str) -> String {
    format!("assistant:{}", crate::github::token::account_for(url))
}

fn key_sources(context: &Invocation, url: &str) -> TokenSources {
    TokenSources::secret(
        "TFPILOT_ASSISTANT_API_KEY",
        &key_account(url),
        context.dirs.as_ref().map(|dirs| dirs.data.as_path()),
        context.config.github.keyring,
        |name| std::env::var(name).ok(),
    )
}

/// The configured model, or why there is none.
pub(super) fn model(context: &Invocation) -> Result<OpenAiChat> {
    let settings = &context.config.assistant;
    let (Some(url), Some(model)) = (&settings.url, &settings.model) else {
        return Err(EngineError::Invalid {
            message: "the assistant is off: set [assistant] url and model in the config (or TFPILOT_ASSISTANT_URL and TFPILOT_ASSISTANT_MODEL) to an OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 and llama3.1 for a local Ollama; see docs/assistant.md".into(),
        }
        .into());
    };
    let key = key_sources(context, url)
        .resolve()?
        .and_then(|(token, _)| ApiKey::new(token.expose()));
    let timeout = Duration::from_secs(settings.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    OpenAiChat::new(url, model, key, timeout).map_err(|error| {
        EngineError::Invalid {
            message: error.to_string(),
        }
        .into()
    })
}

fn describe(assisted: &Assisted) -> String {
    let proposal = &assisted.proposal;
    let mut text = format!(
        "Proposed by {} ({}):\n  module       {}\n",
        assisted.conversation.model, assisted.conversation.endpoint, proposal.module
    );
    if let Some(template) = &proposal.template {
        text.push_str(&format!("  template     {template}\n"));
    }
    text.push_str(&format!(
        "  project      {}\n  environment  {}\n",
        proposal.project, proposal.environment
    ));
    for (name, value) in &proposal.values {
        let shown = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("  {name:<12} {shown}\n"));
    }
    for note in &proposal.notes {
        text.push_str(&format!("  note: {note}\n"));
    }
    for_terminal(&text).into_owned()
}

pub async fn assist(context: &Invocation, args: AssistArgs) -> Result<()> {
    let model = model(context)?;
    let engine = engine(context).await?;
    let assisted = engine.assist(&model, &args.text).await?;
    let mut created = Value::Null;
    if args.create {
        let go = args.yes
            || {
                if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                    bail!(EngineError::Invalid {
                    message: "creating the proposed request needs confirmation: pass --yes when tfpilot does not run in a terminal".into(),
                });
                }
                let text = ConfirmationText {
                    title: "Create this request?".into(),
                    lines: describe(&assisted).lines().map(str::to_string).collect(),
                    type_the_id: false,
                };
                tokio::task::spawn_blocking(move || {
                    ask(
                        &text,
                        "",
                        &mut std::io::stdin().lock(),
                        &mut std::io::stderr().lock(),
                    )
                })
                .await
                .context("asking for confirmation")??
            };
        if !go {
            bail!("nothing created");
        }
        let outcome = engine.create(assisted.create_input()).await?;
        created = json!({"id": outcome.request.id, "message": outcome.message});
    }
    if context.json {
        return print_json(&json!({
            "proposal": assisted.proposal,
            "model": assisted.conversation.model,
            "endpoint": assisted.conversation.endpoint,
            "created": created,
        }));
    }
    let mut text = describe(&assisted);
    match created["id"].as_str() {
        Some(id) => text.push_str(&format!("Created {id}.\n")),
        None => text.push_str("Nothing is created yet: review it, then run again with --create (or ask from the create form in the dashboard: ctrl-o).\n"),
    }
    print(&text)
}

/// `tfpilot login --assistant`: the API key from standard input, kept for `[assistant] url`.
pub(super) fn login_assistant(context: &Invocation) -> Result<()> {
    let Some(url) = &context.config.assistant.url else {
        bail!(
            "no assistant to keep a key for: set [assistant] url (or TFPILOT_ASSISTANT_URL) first"
        );
    };
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!(
            "pipe the key so that it is not echoed: `read -rs KEY && printf %s \"$KEY\" | tfpilot login --assistant`"
        );
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(16 * 1024)
        .read_to_string(&mut text)
        .context("reading the key from standard input")?;
    let Some(key) = Token::new(&text) else {
        bail!("standard input held no key");
    };
    let stored_in = key_sources(context, url).save(&key)?;
    let host = crate::github::token::account_for(url);
    tracing::info!(assistant = %host, stored_in = %stored_in, "assistant key kept");
    if context.json {
        return print_json(&json!({"assistant": host, "stored_in": stored_in.to_string()}));
    }
    print(&format!(
        "The key for the assistant at {host} is kept in {stored_in}.\n"
    ))
}
