//! `config.toml` and `TFPILOT_*` overrides. Precedence: command-line flag, then environment,
//! then the file, then built-in defaults.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::PollIntervals;
use crate::store::{S3Options, StoreUrl};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}(see docs/config.example.toml)")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {variable}: `{value}` ({expected})")]
    Env {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The user's settings. Every field is optional in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `s3://bucket/prefix`, `file:///path` or a directory.
    pub store: Option<String>,
    /// The largest request document, event or team configuration file read, in bytes
    /// (default 1 MiB); a larger one is listed as unreadable.
    pub max_document_bytes: Option<u64>,
    pub s3: S3Options,
    /// Where sensitive module values go (AWS SSM Parameter Store).
    pub secrets: crate::secrets::SsmOptions,
    pub sync: PollIntervals,
    pub log: LogConfig,
    pub github: GitHubConfig,
    pub ui: UiConfig,
    pub notify: NotifyConfig,
    pub assistant: AssistantConfig,
}

/// The infra assistant: an OpenAI-compatible chat-completions endpoint. Off unless `url` and
/// `model` are set; the API key comes from `TFPILOT_ASSISTANT_API_KEY` or the keyring
/// (`tfpilot login --assistant`), never from here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssistantConfig {
    /// The API's base (`https://api.openai.com/v1`, `http://localhost:11434/v1`) or a full
    /// `…/chat/completions` address (Azure OpenAI, with its `api-version`).
    pub url: Option<String>,
    pub model: Option<String>,
    /// Seconds one answer may take (default 60).
    pub timeout_secs: Option<u64>,
}

/// Chat and email notifications from `tfpilot reconcile`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// An incoming webhook (Slack or compatible). A secret: never logged or printed.
    pub url: Option<String>,
    /// How far back a transition is still worth announcing, in hours.
    pub since_hours: u32,
    /// `smtp://user@host:587` (STARTTLS), `smtps://user@host:465` or
    /// `smtp://host:25?tls=none`; the password comes from `TFPILOT_SMTP_PASSWORD` or the
    /// keyring (`tfpilot login --smtp`), never from here.
    pub smtp_url: Option<String>,
    /// The sender of notification emails: `tfpilot@example.com` or `Name <addr>`.
    pub email_from: Option<String>,
    /// A PEM certificate authority to trust for the SMTP server, beside the system's.
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            url: None,
            since_hours: 24,
            smtp_url: None,
            email_from: None,
            smtp_ca_file: None,
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("since_hours", &self.since_hours)
            .field("smtp_url", &self.smtp_url)
            .field("email_from", &self.email_from)
            .field("smtp_ca_file", &self.smtp_ca_file)
            .finish()
    }
}

/// The dashboard's look and manners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// `dark` (default), `light`, `high-contrast`, or NAME for `themes/NAME.toml` in the
    /// config directory.
    pub theme: Option<String>,
    /// Take mouse events (wheel scrolling); off by default so the terminal's own selection works.
    pub mouse: bool,
    /// Ring the terminal bell when a run started from the dashboard concludes.
    pub bell: bool,
    /// Also send a desktop notification through the terminal (OSC 777 and OSC 9, which
    /// reach the desktop even over SSH in terminals that support them).
    pub desktop: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitHubConfig {
    /// `https://api.github.com`, `https://HOST/api/v3` (Enterprise Server) or a simulator.
    pub api_url: String,
    /// The OAuth app `tfpilot login` authorizes (device flow enabled on it).
    pub client_id: Option<String>,
    /// Use the OS keyring for tokens; off stores them in a 0600 file instead.
    pub keyring: bool,
    /// Seconds to wait for a connection (default 10).
    pub connect_timeout_secs: Option<u64>,
    /// Seconds one call may take, answer and body (default 60).
    pub operation_timeout_secs: Option<u64>,
    /// A GitHub App for automation: its id. With `app_private_key_file`, every command runs
    /// as the app's installation (`<slug>[bot]`) instead of a person's token.
    pub app_id: Option<u64>,
    /// The app's private key (the `.pem` from its settings); read, never copied anywhere.
    pub app_private_key_file: Option<PathBuf>,
    /// The installation to act as; without it, the one on the team's first infra repository,
    /// else the app's only installation.
    pub installation_id: Option<u64>,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".to_string(),
            client_id: None,
            keyring: true,
            connect_timeout_secs: None,
            operation_timeout_secs: None,
            app_id: None,
            app_private_key_file: None,
            installation_id: None,
        }
    }
}

impl GitHubConfig {
    /// How every command reaches GitHub: this URL, these timeouts.
    pub fn settings(&self) -> crate::github::GitHubSettings {
        crate::github::GitHubSettings::new(self.api_url.clone())
            .with_timeouts(self.connect_timeout_secs, self.operation_timeout_secs)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A fixed log file instead of the daily-rolled files in the state directory.
    pub file: Option<PathBuf>,
    /// A tracing filter such as `info` or `tfpilot=debug`.
    pub level: Option<String>,
}

/// The standard places tfpilot uses (XDG on Linux).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub config: PathBuf,
    pub cache: PathBuf,
    pub state: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    /// `None` when no home directory can be found (then pass paths explicitly).
    pub fn discover() -> Option<Dirs> {
        let project = directories::ProjectDirs::from("", "", "tfpilot")?;
        Some(Dirs {
            config: project.config_dir().to_path_buf(),
            cache: project.cache_dir().to_path_buf(),
            state: project
                .state_dir()
                .unwrap_or_else(|| project.data_local_dir())
                .to_path_buf(),
            data: project.data_dir().to_path_buf(),
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }

    /// The store used when none is configured.
    pub fn default_store(&self) -> PathBuf {
        self.data.join("store")
    }
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file; point --config or TFPILOT_CONFIG at a TOML file",
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "too large: {} bytes, limit {MAX_CONFIG_BYTES}",
            meta.len()
        )));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES)
        .read_to_string(&mut text)?;
    Ok(text)
}

impl Config {
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })
    }

    /// Reads `path`. A missing file is an error only when the user named it. Only a regular
    /// file of at most 1 MiB is read (`TFPILOT_CONFIG=/dev/zero` must not fill memory).
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        match read_bounded(path) {
            Ok(text) => Config::from_toml(&text, path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Applies `TFPILOT_*` variables; `lookup` is `std::env::var` outside tests.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(store) = get("TFPILOT_STORE") {
            self.store = Some(store);
        }
        if let Some(value) = get("TFPILOT_MAX_DOCUMENT_BYTES") {
            self.max_document_bytes = Some(parse_positive(
                "TFPILOT_MAX_DOCUMENT_BYTES",
                value,
                "a whole number of bytes above 0",
            )?);
        }
        if let Some(endpoint) = get("TFPILOT_S3_ENDPOINT") {
            self.s3.endpoint = Some(endpoint);
        }
        if let Some(region) = get("TFPILOT_S3_REGION") {
            self.s3.region = Some(region);
        }
        if let Some(profile) = get("TFPILOT_S3_PROFILE") {
            self.s3.profile = Some(profile);
        }
        let ssm: [(&str, &mut Option<String>); 4] = [
            ("TFPILOT_SSM_ENDPOINT", &mut self.secrets.endpoint),
            ("TFPILOT_SSM_REGION", &mut self.secrets.region),
            ("TFPILOT_SSM_PROFILE", &mut self.secrets.profile),
            ("TFPILOT_SSM_KMS_KEY_ID", &mut self.secrets.kms_key_id),
        ];
        for (variable, slot) in ssm {
            if let Some(value) = get(variable) {
                *slot = Some(value);
            }
        }
        if let Some(value) = get("TFPILOT_S3_PATH_STYLE") {
            self.s3.path_style = Some(parse_bool("TFPILOT_S3_PATH_STYLE", &value)?);
        }
        let timeouts: [(&'static str, &mut Option<u64>); 5] = [
            (
                "TFPILOT_S3_CONNECT_TIMEOUT_SECS",
                &mut self.s3.connect_timeout_secs,
            ),
            (
                "TFPILOT_S3_OPERATION_TIMEOUT_SECS",
                &mut self.s3.operation_timeout_secs,
            ),
            (
                "TFPILOT_GITHUB_CONNECT_TIMEOUT_SECS",
                &mut self.github.connect_timeout_secs,
            ),
            (
                "TFPILOT_GITHUB_OPERATION_TIMEOUT_SECS",
                &mut self.github.operation_timeout_secs,
            ),
            (
                "TFPILOT_ASSISTANT_TIMEOUT_SECS",
                &mut self.assistant.timeout_secs,
            ),
        ];
        for (variable, slot) in timeouts {
            if let Some(value) = get(variable) {
                *slot = Some(parse_positive(
                    variable,
                    value,
                    "a whole number of seconds above 0",
                )?);
            }
        }
        let intervals: [(&'static str, &mut u64); 4] = [
            ("TFPILOT_SYNC_INTERVAL_ACTIVE_MS", &mut self.sync.active_ms),
            ("TFPILOT_SYNC_INTERVAL_IDLE_MS", &mut self.sync.idle_ms),
            (
                "TFPILOT_SYNC_INTERVAL_UNFOCUSED_MS",
                &mut self.sync.unfocused_ms,
            ),
            (
                "TFPILOT_SYNC_INTERVAL_RATE_LIMITED_MS",
                &mut self.sync.rate_limited_ms,
            ),
        ];
        for (variable, slot) in intervals {
            if let Some(value) = get(variable) {
                *slot = parse_positive(variable, value, "a positive number of milliseconds")?;
            }
        }
        if let Some(url) = get("TFPILOT_GITHUB_API_URL") {
            self.github.api_url = url;
        }
        if let Some(client_id) = get("TFPILOT_GITHUB_CLIENT_ID") {
            self.github.client_id = Some(client_id);
        }
        let app_numbers: [(&'static str, &mut Option<u64>); 2] = [
            ("TFPILOT_GITHUB_APP_ID", &mut self.github.app_id),
            (
                "TFPILOT_GITHUB_APP_INSTALLATION_ID",
                &mut self.github.installation_id,
            ),
        ];
        for (variable, slot) in app_numbers {
            if let Some(value) = get(variable) {
                *slot = Some(parse_positive(
                    variable,
                    value,
                    "a GitHub App or installation id (a whole number)",
                )?);
            }
        }
        if let Some(path) = get("TFPILOT_GITHUB_APP_PRIVATE_KEY_FILE") {
            self.github.app_private_key_file = Some(PathBuf::from(path));
        }
        if let Some(value) = get("TFPILOT_KEYRING") {
            self.github.keyring = parse_bool("TFPILOT_KEYRING", &value)?;
        }
        if let Some(url) = get("TFPILOT_NOTIFY_URL") {
            self.notify.url = Some(url);
        }
        if let Some(url) = get("TFPILOT_ASSISTANT_URL") {
            self.assistant.url = Some(url);
        }
        if let Some(model) = get("TFPILOT_ASSISTANT_MODEL") {
            self.assistant.model = Some(model);
        }
        if let Some(url) = get("TFPILOT_SMTP_URL") {
            self.notify.smtp_url = Some(url);
        }
        if let Some(from) = get("TFPILOT_EMAIL_FROM") {
            self.notify.email_from = Some(from);
        }
        if let Some(path) = get("TFPILOT_SMTP_CA_FILE") {
            self.notify.smtp_ca_file = Some(PathBuf::from(path));
        }
        if let Some(theme) = get("TFPILOT_THEME") {
            self.ui.theme = Some(theme);
        }
        if let Some(file) = get("TFPILOT_LOG_FILE") {
            self.log.file = Some(PathBuf::from(file));
        }
        if let Some(level) = get("TFPILOT_LOG_LEVEL") {
            self.log.level = Some(level);
        }
        Ok(())
    }

    /// The store to open: the configured one, or the default directory.
    pub fn store_url(&self, dirs: Option<&Dirs>) -> Result<StoreUrl, crate::store::StoreError> {
        match (&self.store, dirs) {
            (Some(text), _) => text.parse(),
            (None, Some(dirs)) => Ok(StoreUrl::Local(dirs.default_store())),
            (None, None) => Err(crate::store::StoreError::InvalidUrl {
                url: String::new(),
                reason: "no store is configured and no home directory was found; pass --store"
                    .into(),
            }),
        }
    }
}

fn parse_positive(
    variable: &'static str,
    value: String,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(ConfigError::Env {
            variable,
            value,
            expected,
        }),
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            variable,
            value: value.to_string(),
            expected: "true or false",
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    const EXAMPLE: &str = include_str!("../docs/config.example.toml");

    #[test]
    fn the_documented_example_parses() {
        let config = Config::from_toml(EXAMPLE, Path::new("config.example.toml")).unwrap();
        assert_eq!(
            config.store.as_deref(),
            Some("s3://acme-tfpilot/requests-prod")
        );
        assert_eq!(config.sync, PollIntervals::default());
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(
            Config::from_toml("", Path::new("c.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_named() {
        let err = Config::from_toml("[sync]\nactive = 5\n", Path::new("/etc/c.toml")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/etc/c.toml") && text.contains("active"),
            "{text}"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config =
            Config::from_toml("store = \"/a\"\n[sync]\nidle_ms = 5000\n", Path::new("c")).unwrap();
        let env: HashMap<&str, &str> = [
            ("TFPILOT_STORE", "s3://bucket-b/x"),
            ("TFPILOT_SYNC_INTERVAL_ACTIVE_MS", "750"),
            ("TFPILOT_S3_PATH_STYLE", "yes"),
            ("TFPILOT_S3_OPERATION_TIMEOUT_SECS", "7"),
            ("TFPILOT_GITHUB_OPERATION_TIMEOUT_SECS", "9"),
            ("TFPILOT_MAX_DOCUMENT_BYTES", "4096"),
        ]
        .into();
        config
            .apply_env(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(config.store.as_deref(), Some("s3://bucket-b/x"));
        assert_eq!(config.sync.active_ms, 750);
        assert_eq!(config.sync.idle_ms, 5000);
        assert_eq!(config.s3.path_style, Some(true));
        assert_eq!(config.s3.operation_timeout_secs, Some(7));
        assert_eq!(config.s3.connect_timeout_secs, None, "the default, 5 s");
        assert_eq!(config.max_document_bytes, Some(4096));
        let github = config.github.settings();
        assert_eq!(github.operation_timeout, Some(Duration::from_secs(9)));
        assert_eq!(
            github.read_timeout,
            Some(Duration::from_secs(30)),
            "the default"
        );
        assert_eq!(
            github.connect_timeout,
            Some(Duration::from_secs(10)),
            "the default"
        );
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let mut config = Config::default();
        let err = config
            .apply_env(|k| (k == "TFPILOT_SYNC_INTERVAL_IDLE_MS").then(|| "soon".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("TFPILOT_SYNC_INTERVAL_IDLE_MS"),
            "{err}"
        );
        let err = Config::default()
            .apply_env(|k| (k == "TFPILOT_S3_CONNECT_TIMEOUT_SECS").then(|| "0".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("seconds above 0"), "{err}");
    }

    #[test]
    fn missing_default_file_is_fine_but_a_named_one_is_not() {
        let path = Path::new("/nonexistent/tfpilot/config.toml");
        assert_eq!(Config::load(path, false).unwrap(), Config::default());
        assert!(
            Config::load(path, true)
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }
}
