//! JSON logs to a file, never to the terminal (the TUI owns the screen; scripts own stdout).

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// Where logs go: a fixed file, or daily-rolled files in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Daily(PathBuf),
}

/// Daily files kept before the oldest is removed.
const KEPT_DAILY_FILES: usize = 14;

/// Installs the global subscriber. Keep the guard alive until exit: it flushes the writer.
pub fn init(target: &LogTarget, level: Option<&str>) -> std::io::Result<WorkerGuard> {
    let appender = match target {
        LogTarget::File(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path.file_name().ok_or_else(|| {
                std::io::Error::other(format!("{} is not a file path", path.display()))
            })?;
            // Logs quote documents: the user's alone.
            crate::private_files::create_private_dir_all(dir)?;
            crate::private_files::make_private_file(path)?;
            RollingFileAppender::builder()
                .rotation(Rotation::NEVER)
                .filename_prefix(name.to_string_lossy().into_owned())
                .build(dir)
        }
        LogTarget::Daily(dir) => {
            // A new day's file is created by the appender with the process's umask; the
            // directory being 0700 keeps it the user's alone.
            crate::private_files::create_private_dir_all(dir)?;
            RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix("tfpilot")
                .filename_suffix("log")
                .max_log_files(KEPT_DAILY_FILES)
                .build(dir)
        }
    }
    .map_err(std::io::Error::other)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_new(level.unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .with_env_filter(filter)
        .with_ansi(false)
        .try_init()
        .map_err(std::io::Error::other)?;
    Ok(guard)
}

/// A fresh id tying together every log line and audit event of one operation.
pub fn correlation_id() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}
