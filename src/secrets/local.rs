//! The sandbox's secret store: each parameter a directory under `<sandbox>/.sandbox/secrets/`
//! (0700) holding one 0600 file per version, so trying tfpilot needs no AWS account.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{SecretError, SecretStore};

pub struct LocalSecrets {
    root: PathBuf,
}

impl LocalSecrets {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalSecrets { root: root.into() }
    }

    /// The parameter's directory: its name's segments below the root (names are checked by
    /// `domain::secrets::parameter_name`, so no segment climbs out).
    fn dir_of(&self, name: &str) -> Option<PathBuf> {
        let mut dir = self.root.clone();
        for segment in name.split('/').filter(|s| !s.is_empty()) {
            if segment == "." || segment == ".." {
                return None;
            }
            dir.push(segment);
        }
        Some(dir)
    }

    fn write_error(&self, name: &str, message: impl std::fmt::Display) -> SecretError {
        SecretError::Write {
            name: name.to_string(),
            store: self.describe(),
            message: message.to_string(),
        }
    }
}

#[async_trait]
impl SecretStore for LocalSecrets {
    async fn put(&self, name: &str, value: &str) -> Result<u64, SecretError> {
        let dir = self
            .dir_of(name)
            .ok_or_else(|| self.write_error(name, "not a parameter name"))?;
        crate::private_files::create_private_dir_all(&dir)
            .map_err(|error| self.write_error(name, error))?;
        let latest = std::fs::read_dir(&dir)
            .map_err(|error| self.write_error(name, error))?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let mut version = latest + 1;
        loop {
            // create_new: two writers at once take two versions, never one file.
            match crate::private_files::create_private_file(&dir.join(version.to_string())) {
                Ok(mut file) => {
                    use std::io::Write;
                    file.write_all(value.as_bytes())
                        .map_err(|error| self.write_error(name, error))?;
                    return Ok(version);
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => version += 1,
                Err(error) => return Err(self.write_error(name, error)),
            }
        }
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        let delete_error = |message: String| SecretError::Delete {
            name: name.to_string(),
            store: self.describe(),
            message,
        };
        let dir = self
            .dir_of(name)
            .ok_or_else(|| delete_error("not a parameter name".into()))?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(delete_error(error.to_string())),
        }
    }

    fn describe(&self) -> String {
        format!("the sandbox's secrets in {}", self.root.display())
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn versions_are_private_files_and_delete_takes_them_all() {
        let root = tempfile::tempdir().unwrap();
        let secrets = LocalSecrets::new(root.path().join("secrets"));
        let name = "/tfpilot/payments/dev/req_1/master_password";
        assert_eq!(secrets.put(name, "first").await.unwrap(), 1);
        assert_eq!(secrets.put(name, "second").await.unwrap(), 2);
        let dir = root
            .path()
            .join("secrets/tfpilot/payments/dev/req_1/master_password");
        assert_eq!(std::fs::read_to_string(dir.join("2")).unwrap(), "second");
        assert_eq!(mode(&dir.join("1")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("secrets")), 0o700);
        secrets.delete(name).await.unwrap();
        assert!(!dir.exists());
        secrets.delete(name).await.unwrap();
        assert!(secrets.put("/tfpilot/../escape", "x").await.is_err());
    }
}
