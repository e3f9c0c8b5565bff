//! The email adapter: sends a notice through an SMTP server with lettre over rustls.
//!
//! `smtp://[user@]host[:587]` speaks STARTTLS and refuses a server that does not offer it;
//! `smtps://[user@]host[:465]` is TLS from the first byte; `smtp://host:25?tls=none` is a
//! plain relay on a trusted network, and may not carry a password unless the server is on
//! this machine. The password never comes from the URL (it would sit in a config file): it
//! comes from `TFPILOT_SMTP_PASSWORD` or the keyring, is held in [`SmtpPassword`] whose
//! `Debug` hides it, and no error or log line names more than the scheme, host and port.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;

use crate::domain::notify_email::EmailNotice;

/// How long one message may take, connection to answer, before it counts as failed (and is
/// retried by the next run).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum MailError {
    #[error(
        "the SMTP URL is not valid: {reason}; write it as smtp://user@host:587 (STARTTLS), smtps://user@host:465 (TLS) or smtp://host:25?tls=none (a plain relay)"
    )]
    InvalidUrl { reason: String },
    #[error("{0}")]
    Setup(String),
    #[error("{endpoint} refused the message: {message}")]
    Refused { endpoint: String, message: String },
    #[error("sending through {endpoint} failed: {message}")]
    Transport { endpoint: String, message: String },
    #[error("{endpoint} did not finish within {}s", SEND_TIMEOUT.as_secs())]
    Timeout { endpoint: String },
}

/// Where emails go.
#[async_trait]
pub trait MailSink: Send + Sync {
    async fn send(&self, email: &EmailNotice) -> Result<(), MailError>;
    /// The server without its user, for messages and logs.
    fn endpoint(&self) -> &str;
}

/// An SMTP password. Never printed: `Debug` shows `SmtpPassword(***)` and there is no
/// `Display`.
#[derive(Clone)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    pub fn new(text: &str) -> Option<Self> {
        let trimmed = text.trim_end_matches(['\r', '\n']);
        (!trimmed.is_empty()).then(|| Self(trimmed.to_string()))
    }
}

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpPassword(***)")
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    ImplicitTls,
    None,
}

/// A parsed `[notify] smtp_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub security: SmtpSecurity,
}

impl SmtpServer {
    pub fn parse(url: &str) -> Result<Self, MailError> {
        let invalid = |reason: &str| MailError::InvalidUrl {
            reason: reason.to_string(),
        };
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("it has no scheme"))?;
        let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
        let place = place.trim_end_matches('/');
        if place.contains('/') {
            return Err(invalid("it has a path, which SMTP has no use for"));
        }
        let (user, hostport) = match place.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, place),
        };
        if user.is_some_and(|user| user.contains(':')) {
            return Err(invalid(
                "it holds a password; give the password in TFPILOT_SMTP_PASSWORD or keep it with `tfpilot login --smtp`",
            ));
        }
        let user = user
            .map(percent_decode)
            .transpose()?
            .filter(|user| !user.is_empty());
        // `[::1]:25` or `host:25`.
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| invalid("its IPv6 address has no closing ]"))?;
                (host, after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        let port = port
            .map(|port| port.parse::<u16>())
            .transpose()
            .map_err(|_| invalid("its port is not a number"))?;
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it has no host"));
        }
        let tls = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == "tls")
            .map(|(_, value)| value);
        if let Some(other) = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .find(|pair| !pair.starts_with("tls="))
        {
            return Err(MailError::InvalidUrl {
                reason: format!("it has the unknown setting {other:?} (only tls=none is known)"),
            });
        }
        let security = match (scheme, tls) {
            ("smtp", None | Some("starttls" | "required")) => SmtpSecurity::StartTls,
            ("smtp", Some("none")) => SmtpSecurity::None,
            ("smtps", None) => SmtpSecurity::ImplicitTls,
            ("smtps", Some(_)) => return Err(invalid("smtps:// is always TLS; drop tls=")),
            ("smtp", Some(_)) => return Err(invalid("tls= takes only none")),
            _ => return Err(invalid("its scheme must be smtp:// or smtps://")),
        };
        let server = SmtpServer {
            host: host.to_string(),
            port: port.unwrap_or(match security {
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::ImplicitTls => 465,
                SmtpSecurity::None => 25,
            }),
            user,
            security,
        };
        if server.security == SmtpSecurity::None && server.user.is_some() && !server.is_loopback() {
            return Err(invalid(
                "it logs in without TLS, which would send the password in the clear; use smtp:// (STARTTLS) or smtps://",
            ));
        }
        Ok(server)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `smtp://host:port`, without the user: what messages and logs show.
    pub fn endpoint(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::ImplicitTls => "smtps",
            _ => "smtp",
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The keyring account of this server's password.
    pub fn password_account(&self) -> Option<String> {
        self.user
            .as_ref()
            .map(|user| format!("smtp:{user}@{}:{}", self.host, self.port))
    }
}

fn percent_decode(text: &str) -> Result<String, MailError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| MailError::InvalidUrl {
                    reason: "its user has a broken %-escape".into(),
                })?;
            out.push(hex);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| MailError::InvalidUrl {
        reason: "its user is not UTF-8".into(),
    })
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    endpoint: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `server`, sending as `from`; `ca_file` adds a PEM certificate authority
    /// (a company's own) to the system's.
    pub fn new(
        server: &SmtpServer,
        from: &str,
        password: Option<SmtpPassword>,
        ca_file: Option<&Path>,
    ) -> Result<Self, MailError> {
        let from: Mailbox = from.trim().parse().map_err(|_| {
            MailError::Setup(format!(
                "[notify] email_from {:?} is not an email address; write it as tfpilot@example.com or \"tfpilot <tfpilot@example.com>\"",
                crate::domain::untrusted::for_terminal(from)
            ))
        })?;
        let endpoint = server.endpoint();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.port)
            .timeout(Some(SEND_TIMEOUT));
        if server.security != SmtpSecurity::None {
            let mut parameters = TlsParameters::builder(server.host.clone());
            if let Some(path) = ca_file {
                let pem = std::fs::read(path).map_err(|error| {
                    MailError::Setup(format!(
                        "cannot read [notify] smtp_ca_file {}: {error}",
                        path.display()
                    ))
                })?;
                let certificate = Certificate::from_pem(&pem).map_err(|error| {
                    MailError::Setup(format!(
                        "[notify] smtp_ca_file {} is not a PEM certificate: {error}",
                        path.display()
                    ))
                })?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters.build_rustls().map_err(|error| {
                MailError::Setup(format!("cannot set up TLS for {endpoint}: {error}"))
            })?;
            builder = builder.tls(match server.security {
                SmtpSecurity::ImplicitTls => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        } else {
            builder = builder.tls(Tls::None);
        }
        match (&server.user, password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.0));
            }
            (Some(user), None) => {
                return Err(MailError::Setup(format!(
                    "{endpoint} logs in as {user} but no password is set: export TFPILOT_SMTP_PASSWORD or run `tfpilot login --smtp`"
                )));
            }
            (None, _) => {}
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            endpoint,
        })
    }
}

#[async_trait]
impl MailSink for SmtpMailer {
    async fn send(&self, email: &EmailNotice) -> Result<(), MailError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone());
        for address in &email.to {
            let mailbox: Mailbox = address.parse().map_err(|_| MailError::Refused {
                endpoint: self.endpoint.clone(),
                message: format!(
                    "{:?} is not an email address (config/notify.json)",
                    crate::domain::untrusted::for_terminal(address)
                ),
            })?;
            message = message.to(mailbox);
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|error| MailError::Transport {
                endpoint: self.endpoint.clone(),
                message: format!("the message could not be built: {error}"),
            })?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Err(_) => Err(MailError::Timeout {
                endpoint: self.endpoint.clone(),
            }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) if error.is_permanent() || error.is_transient() => {
                Err(MailError::Refused {
                    endpoint: self.endpoint.clone(),
                    message: error.to_string(),
                })
            }
            Ok(Err(error)) => Err(MailError::Transport {
                endpoint: self.endpoint.clone(),
                message: error.to_string(),
            }),
        }
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_how_the_connection_is_protected() {
        let server = SmtpServer::parse("smtp://notify%40acme@mail.acme.example").unwrap();
        assert_eq!(server.security, SmtpSecurity::StartTls);
        assert_eq!(server.port, 587);
        assert_eq!(server.user.as_deref(), Some("notify@acme"));
        assert_eq!(server.endpoint(), "smtp://mail.acme.example:587");
        assert_eq!(
            server.password_account().unwrap(),
            "smtp:notify@acme@mail.acme.example:587"
        );
        let tls = SmtpServer::parse("smtps://u@mail.acme.example").unwrap();
        assert_eq!((tls.security, tls.port), (SmtpSecurity::ImplicitTls, 465));
        let relay = SmtpServer::parse("smtp://relay.internal:2525?tls=none").unwrap();
        assert_eq!((relay.security, relay.port), (SmtpSecurity::None, 2525));
        assert!(relay.user.is_none());
        let local = SmtpServer::parse("smtp://u@127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(local.security, SmtpSecurity::None);
    }

    #[test]
    fn urls_that_would_leak_a_password_or_mean_nothing_are_refused() {
        for (url, expected) in [
            ("smtp://u:hunter2@mail.example:587", "TFPILOT_SMTP_PASSWORD"),
            ("smtp://u@mail.example:25?tls=none", "in the clear"),
            ("mail.example:587", "no scheme"),
            ("http://mail.example", "smtp:// or smtps://"),
            ("smtp://mail.example:x", "port"),
            ("smtp://mail.example/inbox", "path"),
            ("smtp://mail.example?tls=maybe", "only none"),
            ("smtp://mail.example?auth=plain", "unknown setting"),
            ("smtps://mail.example?tls=none", "always TLS"),
        ] {
            let error = SmtpServer::parse(url).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let password = SmtpPassword::new("s3cret\n").unwrap();
        assert_eq!(format!("{password:?}"), "SmtpPassword(***)");
        assert!(SmtpPassword::new("\n").is_none());
        let server = SmtpServer::parse("smtp://u@127.0.0.1:2525?tls=none").unwrap();
        let mailer =
            SmtpMailer::new(&server, "tfpilot@acme.example", Some(password), None).unwrap();
        assert!(!format!("{mailer:?}").contains("s3cret"));
        let error = SmtpMailer::new(&server, "tfpilot@acme.example", None, None).unwrap_err();
        assert!(
            error.to_string().contains("TFPILOT_SMTP_PASSWORD"),
            "{error}"
        );
        let error = SmtpMailer::new(&server, "not an address", None, None).unwrap_err();
        assert!(error.to_string().contains("email_from"), "{error}");
    }
}
