//! Email settings at the command line: the mailer `reconcile` sends with, and
//! `tfpilot login --smtp`, which keeps the SMTP password where GitHub tokens are kept.

use std::io::{IsTerminal as _, Read as _};
use std::sync::Arc;

use anyhow::{Result, bail};
use serde_json::json;

use super::{Invocation, print, print_json};
use crate::email::{MailSink, SmtpMailer, SmtpPassword, SmtpServer};
use crate::engine::EngineError;
use crate::github::token::{Token, TokenSources};

fn usage(message: String) -> anyhow::Error {
    EngineError::Invalid { message }.into()
}

fn password_sources(context: &Invocation, account: &str) -> TokenSources {
    TokenSources::secret(
        "TFPILOT_SMTP_PASSWORD",
        account,
        context.dirs.as_ref().map(|dirs| dirs.data.as_path()),
        context.config.github.keyring,
        |name| std::env::var(name).ok(),
    )
}

/// The mailer of `[notify] smtp_url`, or `None` when it is not set. Every setting is checked
/// before anything syncs: a wrong one is a usage error, not a half-done run.
pub(super) fn mailer(context: &Invocation) -> Result<Option<Arc<dyn MailSink>>> {
    let notify = &context.config.notify;
    let Some(url) = &notify.smtp_url else {
        return Ok(None);
    };
    let server = SmtpServer::parse(url).map_err(|error| usage(error.to_string()))?;
    let Some(from) = &notify.email_from else {
        return Err(usage(
            "[notify] smtp_url is set but email_from is not: set [notify] email_from or TFPILOT_EMAIL_FROM to the sender, e.g. tfpilot@example.com".into(),
        ));
    };
    let password = match server.password_account() {
        Some(account) => password_sources(context, &account)
            .resolve()?
            .and_then(|(token, _)| SmtpPassword::new(token.expose())),
        None => None,
    };
    let mailer = SmtpMailer::new(&server, from, password, notify.smtp_ca_file.as_deref())
        .map_err(|error| usage(error.to_string()))?;
    Ok(Some(Arc::new(mailer)))
}

/// `tfpilot login --smtp`: the password from standard input, kept for smtp_url's user.
pub(super) fn login_smtp(context: &Invocation) -> Result<()> {
    let Some(url) = &context.config.notify.smtp_url else {
        bail!(
            "no SMTP server to keep a password for: set [notify] smtp_url (or TFPILOT_SMTP_URL) to smtp://USER@HOST:587 first"
        );
    };
    let server = SmtpServer::parse(url).map_err(|error| usage(error.to_string()))?;
    let Some(account) = server.password_account() else {
        bail!(
            "{} names no user, so it takes no password; write smtp_url as smtp://USER@HOST:587 if the server wants a login",
            server.endpoint()
        );
    };
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!(
            "pipe the password so that it is not echoed: `read -rs PW && printf %s \"$PW\" | tfpilot login --smtp`"
        );
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|error| anyhow::anyhow!("reading the password from standard input: {error}"))?;
    let Some(password) = Token::new(&text) else {
        bail!("standard input held no password");
    };
    let stored_in = password_sources(context, &account).save(&password)?;
    tracing::info!(server = %server.endpoint(), stored_in = %stored_in, "SMTP password kept");
    if std::env::var("TFPILOT_SMTP_PASSWORD").is_ok_and(|value| !value.trim().is_empty()) {
        note!(
            "note: TFPILOT_SMTP_PASSWORD is set and takes precedence over the kept password; unset it to use this one"
        );
    }
    if context.json {
        return print_json(
            &json!({"server": server.endpoint(), "stored_in": stored_in.to_string()}),
        );
    }
    print(&format!(
        "The password for {} is kept in {stored_in}.\n",
        server.endpoint()
    ))
}
