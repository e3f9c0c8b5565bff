//! The real binary in a home of its own, for CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tokio::process::Command;

#[path = "secrets.rs"]
pub mod secrets;

/// A home of its own: XDG directories, a log file at trace level, no keyring,
/// no inherited tokens, and a PATH without the developer's `gh`. When it goes, every file the
/// binary left in it (logs, caches, config) is scanned for secrets.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> PathBuf {
        self.path().join("tfpilot.log")
    }

    pub fn command(&self, api_url: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfpilot"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TFPILOT_")
                || key.starts_with("AWS_")
                || key == "GITHUB_TOKEN"
                || key == "GH_TOKEN"
            {
                command.env_remove(key);
            }
        }
        let home = self.path();
        let bin = home.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        command
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("TFPILOT_GITHUB_API_URL", api_url)
            .env("TFPILOT_KEYRING", "off")
            .env("TFPILOT_LOG_FILE", self.log())
            .env("TFPILOT_LOG_LEVEL", "trace")
            .kill_on_drop(true);
        command
    }

    pub async fn run(
        &self,
        api_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let mut command = self.command(api_url);
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().await.unwrap();
        let (stdout, stderr) = (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        );
        secrets::assert_clean(&format!("the output of tfpilot {args:?}"), &stdout);
        secrets::assert_clean(&format!("the errors of tfpilot {args:?}"), &stderr);
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // A test that already failed says why; a second panic would abort instead.
        if std::thread::panicking() {
            return;
        }
        let found = secrets::secrets_under(self.path());
        assert!(found.is_empty(), "secrets left in files: {found:?}");
    }
}
