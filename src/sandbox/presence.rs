//! Which dashboards use a sandbox. The first `tfpilot sandbox` serves the simulated GitHub; the
//! terminals that join it each hold a lock file here for as long as their dashboard runs, so
//! the serving one knows whom it would strand by stopping. A lock, not a pid: the operating
//! system drops it when a process dies, so a crashed dashboard never keeps a sandbox alive.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const DASHBOARDS_DIR: &str = ".sandbox/dashboards";

/// A joined dashboard's claim on the sandbox; dropping it lets the sandbox go.
#[derive(Debug)]
pub struct Presence {
    file: File,
    path: PathBuf,
}

impl Presence {
    /// Announces a dashboard acting as `login` on the sandbox in `dir`.
    pub fn join(dir: &Path, login: &str) -> std::io::Result<Presence> {
        let folder = dir.join(DASHBOARDS_DIR);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(format!(
            "{}.lock",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ));
        let mut file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)?;
        file.lock()?;
        file.write_all(login.as_bytes())?;
        file.flush()?;
        Ok(Presence { file, path })
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        // Best effort: a file left behind is unlocked, and the next look removes it.
        let _ = self.file.unlock();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The logins of the dashboards joined to the sandbox in `dir` now, sorted. Files whose lock
/// nobody holds (a dashboard that died) are removed on the way.
pub fn joined(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(DASHBOARDS_DIR)) else {
        return Vec::new();
    };
    let mut logins = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "lock") {
            continue;
        }
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                let _ = std::fs::remove_file(&path);
            }
            Err(TryLockError::WouldBlock) => {
                let mut login = String::new();
                // A login is short; a bigger file is not one of ours.
                let _ = (&mut file).take(64).read_to_string(&mut login);
                let login: String = login.chars().filter(|c| !c.is_control()).collect();
                logins.push(if login.is_empty() {
                    "someone".to_string()
                } else {
                    login
                });
            }
            Err(TryLockError::Error(_)) => {}
        }
    }
    logins.sort();
    logins
}

/// Resolves once no dashboard is joined to the sandbox in `dir`, looking every `every`.
pub async fn until_all_left(dir: &Path, every: Duration) {
    while !joined(dir).is_empty() {
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tfpilot-presence-{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn joined_dashboards_are_listed_until_they_leave() {
        let dir = scratch();
        assert!(joined(&dir).is_empty());
        let bob = Presence::join(&dir, "bob").unwrap();
        let viewer = Presence::join(&dir, "viewer").unwrap();
        assert_eq!(joined(&dir), ["bob", "viewer"]);
        drop(bob);
        assert_eq!(joined(&dir), ["viewer"]);
        drop(viewer);
        assert!(joined(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lock_file_nobody_holds_is_a_dashboard_that_died() {
        let dir = scratch();
        let folder = dir.join(DASHBOARDS_DIR);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("crashed.lock"), "carol").unwrap();
        assert!(joined(&dir).is_empty());
        assert!(!folder.join("crashed.lock").exists(), "cleaned up");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn the_serving_sandbox_waits_for_the_last_dashboard() {
        let dir = scratch();
        let bob = Presence::join(&dir, "bob").unwrap();
        let waiting = tokio::spawn({
            let dir = dir.clone();
            async move { until_all_left(&dir, Duration::from_millis(10)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "bob is still there");
        drop(bob);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("it stops waiting once bob leaves")
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
