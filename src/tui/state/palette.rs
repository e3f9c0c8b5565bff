//! The `:` palette: one fuzzy box for every command, every request (by id or a unique id
//! prefix), and the status, environment and project filters. Its matches are computed when the
//! query changes, never per frame.

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher};

use crate::domain::Status;

use super::super::command::Command;
use super::line_input::LineInput;
use super::list::{ListState, Row};

/// At most this many matches are listed; typing more narrows them.
const MAX_MATCHES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteEntry {
    Command(Command),
    /// Selects the request (clearing filters that hide it).
    Request {
        id: String,
        summary: String,
    },
    Status(Status),
    Environment(String),
    Project(String),
}

impl PaletteEntry {
    /// The text the query is matched against (and, for filters and requests, shown).
    fn haystack(&self) -> String {
        match self {
            PaletteEntry::Command(command) => {
                format!("{} {}", command.name(), command.description())
            }
            PaletteEntry::Request { id, summary } => format!("{id} {summary}"),
            PaletteEntry::Status(status) => format!("status {}", status.as_str()),
            PaletteEntry::Environment(environment) => format!("env {environment}"),
            PaletteEntry::Project(project) => format!("project {project}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub query: LineInput,
    pub selected: usize,
    pub matches: Vec<PaletteEntry>,
}

impl Palette {
    pub fn open() -> Palette {
        Palette {
            query: LineInput::default(),
            selected: 0,
            matches: Command::PALETTE
                .into_iter()
                .map(PaletteEntry::Command)
                .collect(),
        }
    }

    /// The query changed: match again against the commands and what the list holds.
    pub fn refresh(&mut self, list: &ListState) {
        self.matches = palette_matches(self.query.text(), list);
        self.selected = 0;
    }

    pub fn chosen(&self) -> Option<&PaletteEntry> {
        self.matches.get(self.selected)
    }
}

fn request_entry(row: &Row) -> PaletteEntry {
    PaletteEntry::Request {
        id: row.id.clone(),
        summary: row
            .request
            .as_deref()
            .map(|r| {
                format!(
                    "{}/{} {} by {}",
                    r.project, r.environment, r.module, r.requested_by
                )
            })
            .unwrap_or_default(),
    }
}

/// Every palette command when the query is empty; else the fuzzy matches over commands,
/// requests, statuses, environments and projects, best first, with a request whose id the
/// query is a unique prefix of at the top.
pub fn palette_matches(query: &str, list: &ListState) -> Vec<PaletteEntry> {
    let query = query.trim();
    if query.is_empty() {
        return Command::PALETTE
            .into_iter()
            .map(PaletteEntry::Command)
            .collect();
    }
    let mut candidates: Vec<PaletteEntry> = Command::PALETTE
        .into_iter()
        .map(PaletteEntry::Command)
        .collect();
    candidates.extend(Status::ALL.into_iter().map(PaletteEntry::Status));
    candidates.extend(
        list.environment_counts()
            .into_iter()
            .map(|(environment, _)| PaletteEntry::Environment(environment)),
    );
    candidates.extend(
        list.project_counts()
            .into_iter()
            .map(|(project, _)| PaletteEntry::Project(project)),
    );
    let lowered = query.to_lowercase();
    let mut prefixed = list
        .rows()
        .filter(|row| row.id.to_lowercase().starts_with(&lowered));
    let unique = match (prefixed.next(), prefixed.next()) {
        (Some(row), None) => Some(row.id.clone()),
        _ => None,
    };
    candidates.extend(list.rows().map(request_entry));
    let texts: Vec<String> = candidates.iter().map(PaletteEntry::haystack).collect();
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut ranked: Vec<(usize, u32)> = texts
        .iter()
        .enumerate()
        .filter_map(|(index, text)| {
            let mut buffer = Vec::new();
            let haystack = nucleo_matcher::Utf32Str::new(text, &mut buffer);
            pattern
                .score(haystack, &mut matcher)
                .map(|score| (index, score))
        })
        .collect();
    // Best first; ties keep the candidates' order (commands, filters, then the list).
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut matches: Vec<PaletteEntry> = Vec::new();
    if let Some(row) = unique.and_then(|id| list.row(&id)) {
        matches.push(request_entry(row));
    }
    for (index, _) in ranked {
        if matches.len() >= MAX_MATCHES {
            break;
        }
        if !matches.contains(&candidates[index]) {
            matches.push(candidates[index].clone());
        }
    }
    matches
}
