//! The infra repository markers (docs/architecture.md, "Contracts"): tfpilot owns only the bytes between
//! `# tfpilot:begin/<id>` and `# tfpilot:end/<id>` in a Terraform file.
//!
//! A marker is a whole line whose trimmed text is exactly the marker, so a
//! comment that merely mentions a marker, or a marker for `req_12` when looking
//! for `req_1`, never matches. Every byte outside the owned region is preserved.

use std::ops::Range;

use thiserror::Error;

use super::hcl::{HclValue, is_identifier, quote, render_value};

const BEGIN: &str = "# tfpilot:begin/";
const END: &str = "# tfpilot:end/";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InfraFileError {
    #[error(
        "{file} has {count} `# tfpilot:begin/{id}` markers; keep one begin/end pair for the request and delete the rest by hand"
    )]
    DuplicateBegin {
        file: String,
        id: String,
        count: usize,
    },
    #[error(
        "{file} has {count} `# tfpilot:end/{id}` markers; keep one begin/end pair for the request and delete the rest by hand"
    )]
    DuplicateEnd {
        file: String,
        id: String,
        count: usize,
    },
    #[error(
        "{file} has an unbalanced block for {id} (line {line}: {problem}); restore the missing marker or remove the block by hand"
    )]
    Unbalanced {
        file: String,
        id: String,
        line: usize,
        problem: &'static str,
    },
    #[error(
        "{file} has a tfpilot marker for {other} on line {line}, inside the block of {id}; blocks must not nest, fix the file by hand"
    )]
    Nested {
        file: String,
        id: String,
        other: String,
        line: usize,
    },
    #[error("cannot render the block for {id}: {reason}")]
    Render { id: String, reason: String },
}

/// What the writer needs to render one request's module block.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleBlock {
    pub request_id: String,
    pub source: String,
    pub version: Option<String>,
    /// Attribute name -> value, in the order they are written.
    pub values: Vec<(String, HclValue)>,
}

/// The Terraform module label for a request: ids may hold `.` and `-` and may
/// start with a digit, labels are kept to identifier characters.
pub fn module_label(request_id: &str) -> String {
    let cleaned: String = request_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("tfpilot_{cleaned}")
}

/// Render the complete block, markers included, with `\n` line endings.
pub fn render_block(block: &ModuleBlock) -> Result<String, InfraFileError> {
    let id = &block.request_id;
    let render_error = |reason: String| InfraFileError::Render {
        id: id.clone(),
        reason,
    };
    if !is_marker_id(id) {
        return Err(render_error(format!(
            "the id {id:?} cannot appear in a marker"
        )));
    }
    let mut names: Vec<&str> = vec!["source", "version"];
    for (name, _) in &block.values {
        if !is_identifier(name) {
            return Err(render_error(format!(
                "field name {name:?} is not an HCL identifier"
            )));
        }
        if names.contains(&name.as_str()) {
            return Err(render_error(format!("field {name:?} is given twice")));
        }
        names.push(name);
    }
    let (source, version) =
        pinned_source(&block.source, block.version.as_deref()).map_err(render_error)?;
    let width = block
        .values
        .iter()
        .map(|(name, _)| name.len())
        .chain([if version.is_some() { 7 } else { 6 }])
        .max()
        .unwrap_or(6);
    let mut out = format!("{BEGIN}{id}\nmodule \"{}\" {{\n", module_label(id));
    out.push_str(&format!("  {:width$} = {}\n", "source", quote(&source)));
    if let Some(version) = version {
        out.push_str(&format!("  {:width$} = {}\n", "version", quote(version)));
    }
    if !block.values.is_empty() {
        out.push('\n');
    }
    for (name, value) in &block.values {
        out.push_str(&format!(
            "  {name:width$} = {}\n",
            render_value(value, "  ")
        ));
    }
    out.push_str(&format!("}}\n{END}{id}\n"));
    Ok(out)
}

/// How a module's version is written for its source: Terraform takes a `version` argument
/// only for registry modules; a git source pins its version with `?ref=` in the address; any
/// other source (a local path, an archive URL, a bucket) cannot be given one.
pub fn pinned_source<'a>(
    source: &str,
    version: Option<&'a str>,
) -> Result<(String, Option<&'a str>), String> {
    let Some(version) = version else {
        return Ok((source.to_string(), None));
    };
    if is_registry_source(source) {
        return Ok((source.to_string(), Some(version)));
    }
    let git = ["git::", "github.com/", "git@", "bitbucket.org/"]
        .iter()
        .any(|prefix| source.starts_with(prefix));
    if !git {
        return Err(format!(
            "the module source {source:?} is neither a registry module nor a git repository, so it cannot take version {version:?}; put the version in the source or leave it out"
        ));
    }
    if source.contains("?ref=") || source.contains("&ref=") {
        return Err(format!(
            "the module source {source:?} already names a ref, and version {version:?} is given too; keep one"
        ));
    }
    let separator = if source.contains('?') { '&' } else { '?' };
    Ok((format!("{source}{separator}ref={version}"), None))
}

/// `namespace/name/provider` or `host/namespace/name/provider`: a Terraform registry address.
fn is_registry_source(source: &str) -> bool {
    let parts: Vec<&str> = source.split('/').collect();
    !source.contains("::")
        && !source.contains(':')
        && !source.starts_with('.')
        && !source.starts_with('/')
        && !source.starts_with("github.com/")
        && !source.starts_with("bitbucket.org/")
        && (parts.len() == 3 || parts.len() == 4)
        && parts.iter().all(|part| !part.is_empty())
}

/// Ids that can be written in a marker line and read back unambiguously.
fn is_marker_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Byte range of the block for `id` (begin line start to end line end, newline
/// included), or `None` when the file has no block for it.
pub fn find_block(
    file: &str,
    name: &str,
    id: &str,
) -> Result<Option<Range<usize>>, InfraFileError> {
    let mut begins = Vec::new();
    let mut ends = Vec::new();
    let mut markers = Vec::new();
    for (index, (range, text)) in lines(file).enumerate() {
        let trimmed = text.trim();
        if let Some(marker_id) = trimmed.strip_prefix(BEGIN) {
            markers.push((index + 1, marker_id.to_string()));
            if marker_id == id {
                begins.push((index + 1, range));
            }
        } else if let Some(marker_id) = trimmed.strip_prefix(END) {
            markers.push((index + 1, marker_id.to_string()));
            if marker_id == id {
                ends.push((index + 1, range));
            }
        }
    }
    let (file_name, id_owned) = (name.to_string(), id.to_string());
    if begins.len() > 1 {
        return Err(InfraFileError::DuplicateBegin {
            file: file_name,
            id: id_owned,
            count: begins.len(),
        });
    }
    if ends.len() > 1 {
        return Err(InfraFileError::DuplicateEnd {
            file: file_name,
            id: id_owned,
            count: ends.len(),
        });
    }
    let unbalanced = |line, problem| InfraFileError::Unbalanced {
        file: name.to_string(),
        id: id.to_string(),
        line,
        problem,
    };
    match (begins.pop(), ends.pop()) {
        (None, None) => Ok(None),
        (Some((line, _)), None) => Err(unbalanced(line, "begin marker without an end marker")),
        (None, Some((line, _))) => Err(unbalanced(line, "end marker without a begin marker")),
        (Some((begin_line, begin)), Some((end_line, end))) => {
            if end_line < begin_line {
                return Err(unbalanced(end_line, "end marker before the begin marker"));
            }
            if let Some((line, other)) = markers
                .iter()
                .find(|(line, _)| *line > begin_line && *line < end_line)
            {
                return Err(InfraFileError::Nested {
                    file: name.to_string(),
                    id: id.to_string(),
                    other: other.clone(),
                    line: *line,
                });
            }
            Ok(Some(begin.start..end.end))
        }
    }
}

/// Insert or replace the block for `block.request_id`. `name` is only used in
/// error messages. Running it twice gives the same file as running it once.
pub fn upsert_block(file: &str, name: &str, block: &ModuleBlock) -> Result<String, InfraFileError> {
    let rendered = render_block(block)?;
    match find_block(file, name, &block.request_id)? {
        Some(range) => {
            // The block keeps the line endings it was written with, so a second
            // upsert finds exactly what the first one wrote.
            let newline = line_ending(&file[range.clone()]);
            let rendered = with_line_endings(&rendered, newline);
            let mut out = String::with_capacity(file.len() + rendered.len());
            out.push_str(&file[..range.start]);
            out.push_str(&rendered);
            out.push_str(&file[range.end..]);
            Ok(out)
        }
        None => {
            let newline = line_ending(file);
            let rendered = with_line_endings(&rendered, newline);
            let mut out = String::with_capacity(file.len() + rendered.len() + 4);
            out.push_str(file);
            if !file.is_empty() {
                if !file.ends_with('\n') {
                    out.push_str(newline);
                }
                out.push_str(newline);
            }
            out.push_str(&rendered);
            Ok(out)
        }
    }
}

/// Remove the block for `id` (cleanup). `Ok(None)` when there is none, so a
/// retried cleanup is a no-op rather than an error.
pub fn remove_block(file: &str, name: &str, id: &str) -> Result<Option<String>, InfraFileError> {
    Ok(find_block(file, name, id)?.map(|range| {
        let mut out = String::with_capacity(file.len());
        out.push_str(&file[..range.start]);
        out.push_str(&file[range.end..]);
        out
    }))
}

/// Lines with their byte ranges, each range including its line terminator.
fn lines(file: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= file.len() {
            return None;
        }
        let end = file[start..]
            .find('\n')
            .map_or(file.len(), |offset| start + offset + 1);
        let range = start..end;
        start = end;
        Some((range.clone(), &file[range]))
    })
}

/// The file's own line ending, judged by its first line; `\n` for new files.
fn line_ending(file: &str) -> &'static str {
    match file.find('\n') {
        Some(index) if index > 0 && file.as_bytes()[index - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn with_line_endings(text: &str, newline: &str) -> String {
    if newline == "\n" {
        text.to_string()
    } else {
        text.replace('\n', newline)
    }
}

#[cfg(test)]
#[path = "infra_file_tests.rs"]
mod tests;
