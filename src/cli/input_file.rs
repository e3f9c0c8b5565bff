//! Files the user names on the command line (`template put FILE`, `policy put FILE`, `policy
//! test --plan FILE`): a regular file or `-` for standard input, read up to a limit, so that
//! `/dev/zero` or a mistaken multi-gigabyte file is refused instead of filling memory.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The text of `path` (`-`: standard input), at most `limit` bytes; `what` names it in errors
/// ("the template", "the plan").
pub fn read_input(path: &Path, limit: u64, what: &str) -> Result<String> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {what} from standard input"))?;
    } else {
        let metadata = std::fs::metadata(path)
            .with_context(|| format!("reading {what} {}", path.display()))?;
        if !metadata.is_file() {
            bail!(
                "{what} {} is not a regular file; name a file, or `-` for standard input",
                path.display()
            );
        }
        std::fs::File::open(path)
            .and_then(|file| file.take(limit + 1).read_to_end(&mut bytes))
            .with_context(|| format!("reading {what} {}", path.display()))?;
    }
    if bytes.len() as u64 > limit {
        bail!(
            "{what} is larger than the {} tfpilot reads",
            size_text(limit)
        );
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{what} is not UTF-8 text"))
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_up_to_its_limit_and_nothing_else_is() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("p.rego");
        std::fs::write(&file, "package tfpilot.x\n").expect("write");
        assert_eq!(
            read_input(&file, 100, "the policy").expect("read"),
            "package tfpilot.x\n"
        );
        let error = read_input(&file, 4, "the policy").unwrap_err().to_string();
        assert_eq!(error, "the policy is larger than the 4 bytes tfpilot reads");
        assert_eq!(size_text(256 * 1024), "256 KiB");
        assert_eq!(size_text(128 << 20), "128 MiB");
        let error = read_input(dir.path(), 100, "the policy")
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a regular file"), "{error}");
        std::fs::write(&file, [0xff, 0xfe]).expect("write");
        let error = read_input(&file, 100, "the policy")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "the policy is not UTF-8 text");
        let error = read_input(&dir.path().join("missing"), 100, "the policy").unwrap_err();
        assert!(format!("{error:#}").contains("No such file"), "{error:#}");
    }
}
