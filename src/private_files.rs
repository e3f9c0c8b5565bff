//! Files that hold request documents or logs of them (the list cache, the log files) are the
//! user's alone: created 0600 in directories created 0700. Other users on a shared bastion read
//! nothing of them.

use std::fs;
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Creates `dir` and any missing parents 0700. A directory that exists is left as it is: it may
/// be the user's choice (`--log-file /tmp/x.log` must not close /tmp).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)
}

/// Opens `path` for writing as a new file, 0600 (`create_new`: an existing path is an error).
pub fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

/// Creates `path` (empty, 0600) when it is missing, and makes it 0600 when it is a regular
/// file. Anything else (`/dev/stderr`, a FIFO) is left as it is.
pub fn make_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    options.mode(0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    if file.metadata()?.is_file() {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_the_users_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache").join("list");
        create_private_dir_all(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("cache")), 0o700);
        // An existing directory is not the helper's to close.
        let shared = root.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir_all(&shared).unwrap();
        assert_eq!(mode(&shared), 0o755);
        let file = dir.join("a.json");
        drop(create_private_file(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(
            create_private_file(&file).is_err(),
            "never over an existing file"
        );
        let log = dir.join("tfpilot.log");
        fs::write(&log, "earlier\n").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o644)).unwrap();
        make_private_file(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(fs::read_to_string(&log).unwrap(), "earlier\n");
    }
}
