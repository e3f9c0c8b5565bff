//! What a secret looks like in this suite, and the scans that must never find one: in the
//! binary's output, its logs and files, and the snapshots (R6 in docs/reliability.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// The AWS secret key the CLI tests hand the binary (moto accepts any).
pub const AWS_TEST_SECRET: &str = "tfpilot-aws-secret-5f0c9e";

/// The password of the test SMTP servers' login (scripts/smtp-test-servers.py).
pub const SMTP_TEST_PASSWORD: &str = "smtp-test-password-not-secret";

/// The API key the assistant tests hand the binary.
pub const ASSISTANT_TEST_KEY: &str = "sk-tfpilot-assistant-test-key";

/// Token-shaped text: the simulator's tokens (`sim-<login>`, also what its device flow issues),
/// GitHub's token formats (installation tokens are `ghs_`), a GitHub App's JSON web token (two
/// base64url JSON objects and a signature) and private key, AWS access keys and the test
/// secrets.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"sim-[a-z][a-z0-9-]*|gh[opusr]_[A-Za-z0-9]{{20,}}|github_pat_[A-Za-z0-9_]{{20,}}|eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{16,}}|PRIVATE KEY-----|AKIA[0-9A-Z]{{16}}|{}|{}|{}",
        regex::escape(AWS_TEST_SECRET),
        regex::escape(SMTP_TEST_PASSWORD),
        regex::escape(ASSISTANT_TEST_KEY)
    ))
    .expect("the pattern compiles")
});

/// The first secret-looking text in `text`.
pub fn find_secret(text: &str) -> Option<String> {
    SECRET.find(text).map(|m| m.as_str().to_string())
}

pub fn assert_clean(what: &str, text: &str) {
    if let Some(secret) = find_secret(text) {
        panic!("a secret ({secret:?}) in {what}:\n{text}");
    }
}

/// Every file under `dir` holding a secret, with what was found. A GitHub token file
/// (`*.token`, mode 0600) is where a token belongs, a private key file (`*.pem`, mode 0600)
/// where a key does; fake programs under `bin/` are the test's own; none is reported.
pub fn secrets_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path != dir.join("bin") {
                    pending.push(path);
                }
                continue;
            }
            if is_private_token_file(&path) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Some(secret) = find_secret(&String::from_utf8_lossy(&bytes)) {
                found.push((path, secret));
            }
        }
    }
    found
}

fn is_private_token_file(path: &Path) -> bool {
    if !matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("token" | "pem")
    ) {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    true
}
