//! A request's pull request as a diff, each changed line attributed: inside the request's own
//! block (between its `tfpilot:begin/<id>` and `tfpilot:end/<id>` markers in the target file)
//! or outside it. A tfpilot pull request should change nothing but its block; anything else
//! it touches is flagged, whoever put it there.

use std::ops::RangeInclusive;

use serde::Serialize;

/// One file of the pull request as GitHub lists it (`GET .../pulls/{n}/files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`...
    pub status: String,
    pub additions: u64,
    pub deletions: u64,
    /// The unified diff hunks; GitHub leaves it out for a binary or very large change.
    pub patch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// `@@ -a,b +c,d @@`
    Hunk,
    Context,
    Added,
    Removed,
    /// `\ No newline at end of file`
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line without its `+`, `-` or space.
    pub text: String,
    /// Its number in the base's file (context and removed lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<u32>,
    /// Its number in the head's file (context and added lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<u32>,
    /// A change (added or removed) outside the request's block.
    pub outside: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    pub filename: String,
    pub status: String,
    pub additions: u64,
    pub deletions: u64,
    /// The file the request's block lives in.
    pub is_target: bool,
    pub lines: Vec<DiffLine>,
    /// GitHub sent no patch (binary, or too large to show).
    pub without_patch: bool,
}

impl FileDiff {
    /// Changed lines outside the request's block.
    pub fn outside_changes(&self) -> usize {
        self.lines.iter().filter(|line| line.outside).count()
    }
}

/// The pull request's diff with what it changes outside the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullDiff {
    pub request_id: String,
    pub number: u64,
    pub files: Vec<FileDiff>,
    /// What the pull request changes besides the block, in words (empty: only the block).
    pub outside: Vec<String>,
    /// The block could not be found at the head (markers missing or broken): nothing can be
    /// called the request's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_problem: Option<String>,
}

impl PullDiff {
    /// Attributes each file's lines. `target` is the block's file; `block` the head's lines of
    /// the block, markers included (`None` when it is not there).
    pub fn attribute(
        request_id: &str,
        number: u64,
        files: Vec<ChangedFile>,
        target: &str,
        block: Result<Option<RangeInclusive<u32>>, String>,
    ) -> PullDiff {
        let (block, block_problem) = match block {
            Ok(Some(range)) => (Some(range), None),
            Ok(None) => (
                None,
                Some(format!(
                    "{target} at the pull request's head has no block for {request_id}"
                )),
            ),
            Err(problem) => (None, Some(problem)),
        };
        let mut outside = Vec::new();
        let files: Vec<FileDiff> = files
            .into_iter()
            .map(|file| {
                let is_target = file.filename == target;
                let lines = file
                    .patch
                    .as_deref()
                    .map(|patch| {
                        let own = if is_target { block.clone() } else { None };
                        parse_patch(patch, own.as_ref())
                    })
                    .unwrap_or_default();
                let diff = FileDiff {
                    without_patch: file.patch.is_none(),
                    filename: file.filename,
                    status: file.status,
                    additions: file.additions,
                    deletions: file.deletions,
                    is_target,
                    lines,
                };
                if !is_target {
                    outside.push(format!(
                        "{} ({}, +{} -{}), which is not the request's file",
                        diff.filename, diff.status, diff.additions, diff.deletions
                    ));
                } else if diff.without_patch {
                    outside.push(format!(
                        "{}: GitHub shows no patch for it, so what it changes cannot be checked",
                        diff.filename
                    ));
                } else if diff.outside_changes() > 0 {
                    outside.push(format!(
                        "{} line(s) of {} outside the block",
                        diff.outside_changes(),
                        diff.filename
                    ));
                }
                diff
            })
            .collect();
        PullDiff {
            request_id: request_id.to_string(),
            number,
            files,
            outside,
            block_problem,
        }
    }

    /// Whether the pull request changes anything but the request's block.
    pub fn changes_outside(&self) -> bool {
        !self.outside.is_empty() || self.block_problem.is_some()
    }

    /// The diff as text, one line per diff line, changes outside the block marked `!`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.verdict());
        out.push('\n');
        for file in &self.files {
            out.push_str(&format!(
                "\n--- {} ({}, +{} -{}){}\n",
                file.filename,
                file.status,
                file.additions,
                file.deletions,
                if file.is_target {
                    ""
                } else {
                    "  ! not the request's file"
                }
            ));
            if file.without_patch {
                out.push_str("  (GitHub sends no patch for this file: binary or too large)\n");
            }
            for line in &file.lines {
                let gutter = if line.outside { "! " } else { "  " };
                out.push_str(gutter);
                out.push_str(&line.shown());
                out.push('\n');
            }
        }
        out
    }

    /// One sentence: only the block changes, or what else does.
    pub fn verdict(&self) -> String {
        if let Some(problem) = &self.block_problem {
            return format!("! {problem}; every change is shown as outside the request");
        }
        match self.outside.is_empty() {
            true => format!(
                "pull request #{}: only {}'s block changes",
                self.number, self.request_id
            ),
            false => format!(
                "! pull request #{} changes more than {}'s block: {}",
                self.number,
                self.request_id,
                self.outside.join("; ")
            ),
        }
    }
}

impl DiffLine {
    /// The line as a diff shows it (`+text`, `-text`, ` text`, the hunk header).
    pub fn shown(&self) -> String {
        match self.kind {
            LineKind::Hunk | LineKind::Note => self.text.clone(),
            LineKind::Context => format!(" {}", self.text),
            LineKind::Added => format!("+{}", self.text),
            LineKind::Removed => format!("-{}", self.text),
        }
    }
}

/// The lines of a unified diff's hunks with their numbers; a change is `outside` unless it
/// falls within `block` (head line numbers). A removed line counts where it was removed: at
/// the head line that follows it. A blank line added or removed right next to the block is its
/// separator, and counts as the block's.
pub fn parse_patch(patch: &str, block: Option<&RangeInclusive<u32>>) -> Vec<DiffLine> {
    let within = |new: u32, text: &str| -> bool {
        block.is_some_and(|block| {
            block.contains(&new)
                || (text.trim().is_empty()
                    && (new + 1 == *block.start() || new == *block.end() + 1))
        })
    };
    let mut lines = Vec::new();
    let (mut old, mut new) = (0u32, 0u32);
    for raw in patch.lines() {
        let line = if let Some(header) = raw.strip_prefix("@@") {
            if let Some((old_start, new_start)) = hunk_starts(header) {
                old = old_start;
                new = new_start;
            }
            DiffLine {
                kind: LineKind::Hunk,
                text: raw.to_string(),
                old: None,
                new: None,
                outside: false,
            }
        } else if let Some(text) = raw.strip_prefix('+') {
            let line = DiffLine {
                kind: LineKind::Added,
                text: text.to_string(),
                old: None,
                new: Some(new),
                outside: !within(new, text),
            };
            new += 1;
            line
        } else if let Some(text) = raw.strip_prefix('-') {
            let line = DiffLine {
                kind: LineKind::Removed,
                text: text.to_string(),
                old: Some(old),
                new: None,
                outside: !within(new, text),
            };
            old += 1;
            line
        } else if raw.starts_with('\\') {
            DiffLine {
                kind: LineKind::Note,
                text: raw.to_string(),
                old: None,
                new: None,
                outside: false,
            }
        } else {
            let text = raw.strip_prefix(' ').unwrap_or(raw);
            let line = DiffLine {
                kind: LineKind::Context,
                text: text.to_string(),
                old: Some(old),
                new: Some(new),
                outside: false,
            };
            old += 1;
            new += 1;
            line
        };
        lines.push(line);
    }
    lines
}

/// `-a,b +c,d @@...` -> (a, c). A start of 0 (an empty side) counts from 1.
fn hunk_starts(header: &str) -> Option<(u32, u32)> {
    let mut parts = header.split_whitespace();
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let start = |range: &str| -> Option<u32> {
        let first = range.split(',').next()?;
        first.parse::<u32>().ok().map(|n| n.max(1))
    };
    Some((start(old)?, start(new)?))
}

/// The lines (1-based, markers included) of `id`'s block in `file`.
pub fn block_lines(
    file: &str,
    name: &str,
    id: &str,
) -> Result<Option<RangeInclusive<u32>>, String> {
    let range = super::infra_file::find_block(file, name, id).map_err(|error| error.to_string())?;
    Ok(range.map(|bytes| {
        let first = file[..bytes.start].matches('\n').count() as u32 + 1;
        let last = file[..bytes.end]
            .trim_end_matches('\n')
            .matches('\n')
            .count() as u32
            + 1;
        first..=last
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "terraform {}\n\n# tfpilot:begin/req_1\nmodule \"req_1\" {\n  source = \"x\"\n}\n# tfpilot:end/req_1\n";

    fn changed(filename: &str, patch: &str) -> ChangedFile {
        ChangedFile {
            filename: filename.into(),
            status: "modified".into(),
            additions: patch.lines().filter(|l| l.starts_with('+')).count() as u64,
            deletions: patch.lines().filter(|l| l.starts_with('-')).count() as u64,
            patch: Some(patch.into()),
        }
    }

    #[test]
    fn the_block_is_found_by_its_lines() {
        assert_eq!(block_lines(FILE, "f", "req_1"), Ok(Some(3..=7)));
        assert_eq!(block_lines(FILE, "f", "req_2"), Ok(None));
    }

    #[test]
    fn an_appended_block_with_its_blank_separator_is_the_requests_own() {
        let patch = "@@ -1 +1,7 @@\n terraform {}\n+\n+# tfpilot:begin/req_1\n+module \"req_1\" {\n+  source = \"x\"\n+}\n+# tfpilot:end/req_1";
        let diff = PullDiff::attribute(
            "req_1",
            4,
            vec![changed("envs/dev/tfpilot.tf", patch)],
            "envs/dev/tfpilot.tf",
            block_lines(FILE, "f", "req_1"),
        );
        assert!(!diff.changes_outside(), "{:?}", diff.outside);
        assert_eq!(
            diff.verdict(),
            "pull request #4: only req_1's block changes"
        );
        let numbers: Vec<Option<u32>> = diff.files[0].lines.iter().map(|l| l.new).collect();
        assert_eq!(numbers[1..3], [Some(1), Some(2)]);
    }

    #[test]
    fn a_change_outside_the_block_and_another_file_are_flagged() {
        let patch = "@@ -1,3 +1,3 @@\n-terraform {}\n+terraform { required_version = \">= 1\" }\n \n # tfpilot:begin/req_1\n@@ -5,3 +5,3 @@ module \"req_1\" {\n-  source = \"y\"\n+  source = \"x\"\n }\n # tfpilot:end/req_1";
        let diff = PullDiff::attribute(
            "req_1",
            4,
            vec![
                changed("envs/dev/tfpilot.tf", patch),
                changed(
                    "envs/dev/providers.tf",
                    "@@ -0,0 +1 @@\n+provider \"aws\" {}",
                ),
            ],
            "envs/dev/tfpilot.tf",
            block_lines(FILE, "f", "req_1"),
        );
        let flagged: Vec<&str> = diff.files[0]
            .lines
            .iter()
            .filter(|l| l.outside)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(
            flagged,
            ["terraform {}", "terraform { required_version = \">= 1\" }"]
        );
        assert_eq!(diff.files[1].outside_changes(), 1);
        assert_eq!(diff.outside.len(), 2, "{:?}", diff.outside);
        assert!(
            diff.verdict()
                .starts_with("! pull request #4 changes more than")
        );
        let text = diff.to_text();
        assert!(text.contains("! -terraform {}"), "{text}");
        assert!(text.contains("  -  source = \"y\""), "{text}");
        assert!(text.contains("  ! not the request's file"), "{text}");
    }

    #[test]
    fn without_the_block_nothing_is_the_requests() {
        let diff = PullDiff::attribute(
            "req_9",
            4,
            vec![changed("envs/dev/tfpilot.tf", "@@ -1 +1,2 @@\n a\n+b")],
            "envs/dev/tfpilot.tf",
            Ok(None),
        );
        assert!(diff.changes_outside());
        assert!(diff.files[0].lines[2].outside);
        assert!(diff.verdict().contains("has no block for req_9"));
    }
}
