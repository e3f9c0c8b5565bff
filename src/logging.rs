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
    match target {
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
            let appender = RollingFileAppender::builder()
                .rotation(Rotation::NEVER)
                .filename_prefix(name.to_string_lossy().into_owned())
                .build(dir)
                .map_err(std::io::Error::other)?;
            install(appender, level)
        }
        LogTarget::Daily(dir) => {
            crate::private_files::create_private_dir_all(dir)?;
            let today = prepare_daily_file(dir);
            let appender = RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix(DAILY_PREFIX)
                .filename_suffix(DAILY_SUFFIX)
                .max_log_files(KEPT_DAILY_FILES)
                .build(dir)
                .map_err(std::io::Error::other)?;
            let daily = PrivateDaily {
                appender,
                dir: dir.clone(),
                prepared: today,
            };
            install(daily, level)
        }
    }
}

const DAILY_PREFIX: &str = "tfpilot";
const DAILY_SUFFIX: &str = "log";

/// The daily appender, with each day's file created 0600 before the appender opens it (the
/// appender would create it with the process's umask): logs quote documents.
struct PrivateDaily {
    appender: RollingFileAppender,
    dir: PathBuf,
    prepared: chrono::NaiveDate,
}

/// Creates today's file 0600 (or makes it so) and returns today. The appender names its files
/// `<prefix>.<UTC date>.<suffix>`.
fn prepare_daily_file(dir: &Path) -> chrono::NaiveDate {
    let today = chrono::Utc::now().date_naive();
    let name = format!("{DAILY_PREFIX}.{}.{DAILY_SUFFIX}", today.format("%Y-%m-%d"));
    // Best effort: a file that cannot be prepared still sits in the 0700 directory.
    let _ = crate::private_files::make_private_file(&dir.join(name));
    today
}

impl std::io::Write for PrivateDaily {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if chrono::Utc::now().date_naive() != self.prepared {
            self.prepared = prepare_daily_file(&self.dir);
        }
        self.appender.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.appender.flush()
    }
}

fn install<W: std::io::Write + Send + 'static>(
    appender: W,
    level: Option<&str>,
) -> std::io::Result<WorkerGuard> {
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
