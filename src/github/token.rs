//! Where the GitHub token comes from, in order: `GITHUB_TOKEN`/`GH_TOKEN`, the
//! OS keyring (Secret Service, then the Linux kernel keyring), a 0600 file in
//! the data directory (headless hosts with no keyring), then `gh auth token`.
//!
//! A token is only ever held in [`Token`], whose `Debug` hides it, and it is
//! written nowhere but the keyring or the 0600 file.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// A GitHub token. Never printed: `Debug` shows `Token(***)` and there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// `None` for blank text; surrounding whitespace (a trailing newline from a
    /// file or a pipe) is not part of a token.
    pub fn new(text: &str) -> Option<Self> {
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| Self(trimmed.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Where a token was found, as `tfpilot whoami` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env(&'static str),
    Keyring(&'static str),
    File(PathBuf),
    GhCli,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env(name) => write!(f, "the {name} environment variable"),
            TokenSource::Keyring(name) => write!(f, "the OS keyring ({name})"),
            TokenSource::File(path) => write!(f, "the token file {}", path.display()),
            TokenSource::GhCli => f.write_str("`gh auth token`"),
        }
    }
}

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("cannot {action} the token file {path}: {message}")]
    File {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error(
        "the token file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` or `tfpilot login` again"
    )]
    LooseFile { path: PathBuf, mode: u32 },
    #[error("no keyring or token file could store the token: {0}")]
    NowhereToStore(String),
}

/// One place a token can be kept.
pub trait SecretStore: Send + Sync {
    /// Where this store keeps the token of `account`.
    fn describe(&self, account: &str) -> TokenSource;
    fn get(&self, account: &str) -> Result<Option<Token>, TokenError>;
    fn set(&self, account: &str, token: &Token) -> Result<(), TokenError>;
    /// `true` when something was removed.
    fn delete(&self, account: &str) -> Result<bool, TokenError>;
}

const SERVICE: &str = "tfpilot";

/// An OS keyring through keyring-core.
pub struct KeyringStore {
    name: &'static str,
    store: Arc<keyring_core::CredentialStore>,
}

impl KeyringStore {
    /// The keyrings this machine offers, best first: on Linux the Secret Service (a desktop
    /// session's) and then the kernel keyring (a session over SSH has one), on macOS the login
    /// Keychain; elsewhere none, and the 0600 file keeps the token. Creating a store does not
    /// talk to it yet; one that cannot answer fails at first use and is skipped. The macOS arm
    /// is compiled by the release workflow's macOS jobs, not on Linux.
    pub fn available() -> Vec<KeyringStore> {
        #[allow(unused_mut)] // no keyring at all on other platforms
        let mut stores = Vec::new();
        #[cfg(target_os = "linux")]
        {
            if let Ok(store) = dbus_secret_service_keyring_store::Store::new() {
                stores.push(KeyringStore {
                    name: "Secret Service",
                    store,
                });
            }
            if let Ok(store) = linux_keyutils_keyring_store::Store::new() {
                stores.push(KeyringStore {
                    name: "kernel keyring",
                    store,
                });
            }
        }
        #[cfg(target_os = "macos")]
        if let Ok(store) = apple_native_keyring_store::keychain::Store::new() {
            stores.push(KeyringStore {
                name: "macOS Keychain",
                store,
            });
        }
        stores
    }

    fn entry(&self, account: &str) -> Result<keyring_core::Entry, keyring_core::Error> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, account)
    }
}

impl SecretStore for KeyringStore {
    fn describe(&self, _account: &str) -> TokenSource {
        TokenSource::Keyring(self.name)
    }

    fn get(&self, account: &str) -> Result<Option<Token>, TokenError> {
        match self.entry(account).and_then(|entry| entry.get_password()) {
            Ok(text) => Ok(Token::new(&text)),
            // No entry, or a keyring that cannot answer here: look elsewhere.
            Err(_) => Ok(None),
        }
    }

    fn set(&self, account: &str, token: &Token) -> Result<(), TokenError> {
        let entry = self
            .entry(account)
            .map_err(|error| TokenError::NowhereToStore(error.to_string()))?;
        entry
            .set_password(token.expose())
            .map_err(|error| TokenError::NowhereToStore(format!("{}: {error}", self.name)))?;
        // Some keyrings accept a write they cannot give back (a locked
        // collection): only a read-back proves the token is kept.
        match entry.get_password() {
            Ok(text) if text == token.expose() => Ok(()),
            _ => Err(TokenError::NowhereToStore(format!(
                "{} did not keep the token",
                self.name
            ))),
        }
    }

    fn delete(&self, account: &str) -> Result<bool, TokenError> {
        Ok(self
            .entry(account)
            .and_then(|entry| entry.delete_credential())
            .is_ok())
    }
}

/// A 0600 file per account in the data directory.
pub struct FileStore {
    directory: PathBuf,
}

impl FileStore {
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
        }
    }

    pub fn path_for(&self, account: &str) -> PathBuf {
        let safe: String = account
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.directory.join(format!("{safe}.token"))
    }
}

impl SecretStore for FileStore {
    fn describe(&self, account: &str) -> TokenSource {
        TokenSource::File(self.path_for(account))
    }

    fn get(&self, account: &str) -> Result<Option<Token>, TokenError> {
        let path = self.path_for(account);
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(file_error("read", &path, &error)),
        };
        check_private(&path, &metadata)?;
        let text =
            std::fs::read_to_string(&path).map_err(|error| file_error("read", &path, &error))?;
        Ok(Token::new(&text))
    }

    fn set(&self, account: &str, token: &Token) -> Result<(), TokenError> {
        let path = self.path_for(account);
        create_private_dir(&self.directory)?;
        // Written beside the target, then renamed: a crash never leaves a
        // half-written token, and the file is 0600 from its first byte.
        let temporary = path.with_extension("token.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&temporary)
            .map_err(|error| file_error("write", &temporary, &error))?;
        file.write_all(token.expose().as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|error| file_error("write", &temporary, &error))?;
        std::fs::rename(&temporary, &path).map_err(|error| file_error("write", &path, &error))
    }

    fn delete(&self, account: &str) -> Result<bool, TokenError> {
        let path = self.path_for(account);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(file_error("delete", &path, &error)),
        }
    }
}

fn file_error(action: &'static str, path: &Path, error: &std::io::Error) -> TokenError {
    TokenError::File {
        action,
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), TokenError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TokenError::LooseFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), TokenError> {
    Ok(())
}

fn create_private_dir(directory: &Path) -> Result<(), TokenError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(directory)
        .map_err(|error| file_error("create", directory, &error))
}

/// The token sources for one GitHub host, in the order they are asked.
pub struct TokenSources {
    /// `GITHUB_TOKEN` then `GH_TOKEN`, as read from the environment.
    pub env: Vec<(&'static str, Option<String>)>,
    /// Keyrings, then the file store.
    pub stores: Vec<Box<dyn SecretStore>>,
    /// The `gh` program to ask last; `None` to skip it.
    pub gh: Option<PathBuf>,
    /// The account name: the API host (`api.github.com`, `ghe.example.com`).
    pub account: String,
}

impl TokenSources {
    /// The product's sources. `keyring` off skips the OS keyrings.
    pub fn standard(
        api_url: &str,
        data_dir: Option<&Path>,
        keyring: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut stores: Vec<Box<dyn SecretStore>> = Vec::new();
        if keyring {
            for store in KeyringStore::available() {
                stores.push(Box::new(store));
            }
        }
        if let Some(data) = data_dir {
            stores.push(Box::new(FileStore::new(data.join("tokens"))));
        }
        Self {
            env: ["GITHUB_TOKEN", "GH_TOKEN"]
                .into_iter()
                .map(|name| (name, env(name)))
                .collect(),
            stores,
            gh: Some(PathBuf::from("gh")),
            account: account_for(api_url),
        }
    }

    /// Where another secret is kept (an SMTP password, the assistant's API key): the
    /// environment variable `variable`, then the same keyrings and file store as GitHub
    /// tokens, under `account` (`smtp:user@host:port`, `assistant:host`).
    pub fn secret(
        variable: &'static str,
        account: &str,
        data_dir: Option<&Path>,
        keyring: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut sources = Self::standard("", data_dir, keyring, |_| None);
        sources.env = vec![(variable, env(variable))];
        sources.gh = None;
        sources.account = account.to_string();
        sources
    }

    pub fn resolve(&self) -> Result<Option<(Token, TokenSource)>, TokenError> {
        for (name, value) in &self.env {
            if let Some(token) = value.as_deref().and_then(Token::new) {
                return Ok(Some((token, TokenSource::Env(name))));
            }
        }
        for store in &self.stores {
            if let Some(token) = store.get(&self.account)? {
                return Ok(Some((token, store.describe(&self.account))));
            }
        }
        if let Some(gh) = &self.gh
            && let Some(token) = gh_auth_token(gh, &self.account)
        {
            return Ok(Some((token, TokenSource::GhCli)));
        }
        Ok(None)
    }

    /// Keep `token` in the first store that takes it; where it went.
    pub fn save(&self, token: &Token) -> Result<TokenSource, TokenError> {
        let mut failures = Vec::new();
        for store in &self.stores {
            match store.set(&self.account, token) {
                Ok(()) => return Ok(store.describe(&self.account)),
                Err(error) => failures.push(error.to_string()),
            }
        }
        Err(TokenError::NowhereToStore(if failures.is_empty() {
            "no keyring answered and no data directory is known".to_string()
        } else {
            failures.join("; ")
        }))
    }

    /// Remove the token from every store; the places it was removed from.
    pub fn forget(&self) -> Result<Vec<TokenSource>, TokenError> {
        let mut removed = Vec::new();
        for store in &self.stores {
            if store.delete(&self.account)? {
                removed.push(store.describe(&self.account));
            }
        }
        Ok(removed)
    }
}

/// The keyring account for an API URL: its host (and port).
pub fn account_for(api_url: &str) -> String {
    let rest = api_url.split_once("://").map_or(api_url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// The web host `gh` knows a GitHub by: github.com for api.github.com.
fn gh_hostname(account: &str) -> &str {
    if account == "api.github.com" {
        "github.com"
    } else {
        account
    }
}

/// `gh auth token`, if gh is installed and logged in to this host. Bounded: a
/// gh that hangs (waiting on a keyring prompt) must not hang tfpilot.
fn gh_auth_token(gh: &Path, account: &str) -> Option<Token> {
    let mut child = std::process::Command::new(gh)
        .args(["auth", "token", "--hostname", gh_hostname(account)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut()?, &mut text).ok()?;
    Token::new(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(dir: &Path, env: &[(&'static str, Option<&str>)]) -> TokenSources {
        TokenSources {
            env: env
                .iter()
                .map(|(name, value)| (*name, value.map(String::from)))
                .collect(),
            stores: vec![Box::new(FileStore::new(dir.join("tokens")))],
            gh: None,
            account: account_for("http://127.0.0.1:4010"),
        }
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let token = Token::new(" ghp_secret123\n").unwrap();
        assert_eq!(token.expose(), "ghp_secret123");
        assert_eq!(format!("{token:?}"), "Token(***)");
        assert_eq!(
            format!("{:?}", Some((token, TokenSource::GhCli))),
            "Some((Token(***), GhCli))"
        );
        assert!(Token::new("  \n").is_none());
    }

    #[test]
    fn environment_wins_then_stores() {
        let dir = tempfile::tempdir().unwrap();
        let with_env = sources(
            dir.path(),
            &[
                ("GITHUB_TOKEN", Some("")),
                ("GH_TOKEN", Some("from-gh-env")),
            ],
        );
        let (token, source) = with_env.resolve().unwrap().unwrap();
        assert_eq!(
            (token.expose(), source),
            ("from-gh-env", TokenSource::Env("GH_TOKEN"))
        );

        let plain = sources(dir.path(), &[]);
        assert!(plain.resolve().unwrap().is_none());
        let saved_in = plain.save(&Token::new("stored").unwrap()).unwrap();
        let (token, source) = plain.resolve().unwrap().unwrap();
        assert_eq!(token.expose(), "stored");
        assert_eq!(source, saved_in);
        assert_eq!(
            source,
            TokenSource::File(dir.path().join("tokens/127.0.0.1_4010.token"))
        );
        assert_eq!(plain.forget().unwrap(), vec![source]);
        assert!(plain.resolve().unwrap().is_none());
    }

    /// A keyring that refuses everything, as on a headless host or in a
    /// container where keyctl is denied.
    struct RefusingKeyring;

    impl SecretStore for RefusingKeyring {
        fn describe(&self, _account: &str) -> TokenSource {
            TokenSource::Keyring("refusing")
        }
        fn get(&self, _: &str) -> Result<Option<Token>, TokenError> {
            Ok(None)
        }
        fn set(&self, _: &str, _: &Token) -> Result<(), TokenError> {
            Err(TokenError::NowhereToStore("refusing: AccessDenied".into()))
        }
        fn delete(&self, _: &str) -> Result<bool, TokenError> {
            Ok(false)
        }
    }

    #[test]
    fn a_keyring_that_refuses_falls_through_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = sources(dir.path(), &[]);
        sources.stores.insert(0, Box::new(RefusingKeyring));
        let stored_in = sources.save(&Token::new("t").unwrap()).unwrap();
        assert!(matches!(stored_in, TokenSource::File(_)), "{stored_in:?}");
        sources.stores.remove(1);
        let error = sources
            .save(&Token::new("t").unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("AccessDenied"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_private_and_loose_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("tokens"));
        store
            .set("api.github.com", &Token::new("t").unwrap())
            .unwrap();
        let path = store.path_for("api.github.com");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("tokens"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = store.get("api.github.com").unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }

    #[test]
    fn accounts_are_hosts() {
        assert_eq!(account_for("https://api.github.com"), "api.github.com");
        assert_eq!(
            account_for("https://GHE.example.com/api/v3"),
            "ghe.example.com"
        );
        assert_eq!(account_for("http://127.0.0.1:4010/"), "127.0.0.1:4010");
        assert_eq!(gh_hostname("api.github.com"), "github.com");
    }
}
