//! Email for a notice: who receives it, from the team's `config/notify.json`, and the message
//! in plain text and HTML.
//!
//! Everything in a message but tfpilot's own words comes from a request document, which
//! anyone with bucket access can write: the subject is one line of printable text, the HTML
//! is escaped, and no text carries a control character to a reader's terminal mail client.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::catalog::CatalogError;
use super::notify::Notice;
use super::request::Request;

/// The team's list of who hears of what by email.
pub const NOTIFY_KEY: &str = "config/notify.json";

/// Claims of the email channel are kept next to the chat's under their own keys, so each
/// channel announces a transition once and retries on its own.
pub const EMAIL_CLAIM_PREFIX: &str = "email:";

/// `config/notify.json`: people's addresses by GitHub login, and lists that hear of every
/// transition in an environment (`*`: in every environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailDirectory {
    #[serde(default)]
    pub people: BTreeMap<String, String>,
    #[serde(default)]
    pub environments: BTreeMap<String, Vec<String>>,
}

/// One email, ready for a transport that adds the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailNotice {
    /// Sorted, each once.
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl EmailDirectory {
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidNotify {
            origin: origin.to_string(),
            reason,
        };
        let parsed: EmailDirectory =
            serde_json::from_str(text).map_err(|error| invalid(super::strict::explain(&error)))?;
        let mut directory = EmailDirectory::default();
        for (login, address) in parsed.people {
            check_address(address.trim())
                .map_err(|reason| invalid(format!("people.{login}: {reason}")))?;
            // GitHub logins compare case-insensitively.
            directory
                .people
                .insert(login.to_lowercase(), address.trim().to_string());
        }
        for (environment, addresses) in parsed.environments {
            let mut list = Vec::new();
            for address in addresses {
                check_address(address.trim())
                    .map_err(|reason| invalid(format!("environments.{environment}: {reason}")))?;
                list.push(address.trim().to_string());
            }
            directory.environments.insert(environment, list);
        }
        Ok(directory)
    }

    /// The address of GitHub user `login`, when the team gave one.
    pub fn address_of(&self, login: &str) -> Option<&str> {
        self.people.get(&login.to_lowercase()).map(String::as_str)
    }

    /// Who hears of `notice`: the reviewers a run waits for, or else the requester; and the
    /// lists of the request's environment and of every environment.
    pub fn recipients(&self, notice: &Notice, request: &Request) -> Vec<String> {
        let mut to = BTreeSet::new();
        let waiting = super::deployment::waiting_run(request)
            .and_then(|(_, run)| run.deployment_review.as_ref())
            .filter(|_| notice.kind == "deployment_review_requested");
        match waiting {
            // Teams (`team:<slug>`) have no address here; their lists can be added per
            // environment.
            Some(review) => to.extend(
                review
                    .reviewers
                    .iter()
                    .filter_map(|login| self.address_of(login)),
            ),
            None => to.extend(self.address_of(&request.requested_by)),
        }
        for environment in [request.environment.as_str(), "*"] {
            if let Some(list) = self.environments.get(environment) {
                to.extend(list.iter().map(String::as_str));
            }
        }
        to.into_iter().map(str::to_string).collect()
    }
}

/// An address tfpilot will put in an envelope: `local@domain`, printable, no spaces or the
/// characters that separate addresses in a header.
fn check_address(address: &str) -> Result<(), String> {
    let shown = super::untrusted::for_terminal(address);
    let bad = address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c));
    match address.split_once('@') {
        Some((local, domain))
            if !bad && !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{shown:?} is not an email address; write it as name@example.com"
        )),
    }
}

/// The email for `notice` to `to`.
pub fn email_notice(notice: &Notice, request: &Request, to: Vec<String>) -> EmailNotice {
    let status = super::derive_status(request);
    let mut facts: Vec<(&str, String)> = vec![
        ("Request", request.id.clone()),
        ("Module", request.module.clone()),
        (
            "Where",
            format!("{}/{}", request.project, request.environment),
        ),
        ("Requested by", request.requested_by.clone()),
        ("Status now", status.as_str().to_string()),
    ];
    if let Some(original) = &request.changes {
        facts.push(("Changes", original.clone()));
    }
    if let Some(plan) = request.plan.as_deref() {
        if let Some(attribution) = plan.attribution() {
            facts.push(("Plan", attribution.describe()));
        } else if let Some(counts) = plan.summary {
            facts.push((
                "Plan",
                format!("+{} ~{} -{}", counts.add, counts.change, counts.destroy),
            ));
        }
    }
    let mut links: Vec<(&str, String)> = Vec::new();
    if let Some(link) = notice.link.as_deref().filter(|url| is_web_link(url)) {
        links.push(("Run", link.to_string()));
    }
    if let Some(url) = request
        .pr
        .as_deref()
        .and_then(|pr| pr.url.as_deref())
        .filter(|url| is_web_link(url))
    {
        links.push(("Pull request", url.to_string()));
    }

    let subject = one_line(&format!("[tfpilot] {}", notice.summary), 200);
    let mut text = format!("{}\n\n", plain(&notice.summary));
    for (name, value) in facts.iter().chain(&links) {
        text.push_str(&format!("{name}: {}\n", plain(value)));
    }
    text.push_str(&format!(
        "\nSee it with: tfpilot show {}\n-- \ntfpilot · {} · {}\n",
        plain(&request.id),
        notice.kind,
        notice.at.to_rfc3339()
    ));

    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{}</p>\n<table>\n",
        escape_html(&notice.summary)
    );
    for (name, value) in &facts {
        html.push_str(&format!(
            "<tr><th align=\"left\">{name}</th><td>{}</td></tr>\n",
            escape_html(value)
        ));
    }
    for (name, url) in &links {
        html.push_str(&format!(
            "<tr><th align=\"left\">{name}</th><td><a href=\"{0}\">{0}</a></td></tr>\n",
            escape_html(url)
        ));
    }
    html.push_str(&format!(
        "</table>\n<p><code>tfpilot show {}</code></p>\n<p><small>tfpilot · {} · {}</small></p>\n</body></html>\n",
        escape_html(&request.id),
        notice.kind,
        notice.at.to_rfc3339()
    ));
    EmailNotice {
        to,
        subject,
        text,
        html,
    }
}

/// A link from a document goes into a message only as a web address.
fn is_web_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Text without control characters (newlines and tabs kept) or bidirectional overrides.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if super::untrusted::is_hazard(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// One printable line of at most `limit` characters: a header holds no line break.
fn one_line(text: &str, limit: usize) -> String {
    let line: String = plain(text)
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect();
    if line.chars().count() <= limit {
        return line;
    }
    let mut cut: String = line.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

fn escape_html(text: &str) -> String {
    plain(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
#[path = "notify_email_tests.rs"]
mod tests;
