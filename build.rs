//! Build facts for `tfpilot --version`: the commit and the build date.
//!
//! The commit comes from `TFPILOT_BUILD_COMMIT` (a container or release build without `.git`),
//! else from git, else "unknown". The date is `SOURCE_DATE_EPOCH` (reproducible builds) as a
//! UTC day, else the day this script ran. The script reruns when HEAD moves or those variables
//! change, not on every edit, so the date is the day of the commit's first build.

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-env-changed=TFPILOT_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = std::env::var("TFPILOT_BUILD_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|seconds| seconds.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64)
        });
    println!("cargo:rustc-env=TFPILOT_COMMIT={}", commit.trim());
    println!("cargo:rustc-env=TFPILOT_BUILD_DATE={}", utc_day(epoch));
}

/// The short hash of HEAD, and the files whose change means HEAD moved.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git").args(args).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let dir = PathBuf::from(git(&["rev-parse", "--git-dir"])?);
    let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(dir.join(branch));
    }
    // A missing file would make cargo rerun this script, and rebuild the crate, every time.
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

/// `YYYY-MM-DD` of a Unix time, in the proleptic Gregorian calendar (days-from-civil inverted).
fn utc_day(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
