//! A plan or run log made ready to show: Actions timestamps removed, each line's highlighted
//! spans as kinds (the theme turns kinds into colours at draw time), and the resource blocks
//! that fold, with the risky ones (destroy, replace) listed first.

use super::highlight::highlight_lines;
use crate::domain::cost::{COST_BEGIN, COST_END};
use crate::domain::plan_output::{resource_header, strip_timestamps, summarize};
use crate::domain::request::PlanSummary;

/// What a highlighted span is; the theme's `plan.*` roles colour them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Plain,
    Add,
    Change,
    Destroy,
    Replace,
    Read,
    Heading,
    Comment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range in the line's text.
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    pub text: String,
    pub spans: Vec<Span>,
}

pub use crate::domain::plan_output::ResourceAction;

/// How a resource's action is highlighted.
pub fn action_kind(action: ResourceAction) -> TokenKind {
    match action {
        ResourceAction::Destroy => TokenKind::Destroy,
        ResourceAction::Replace => TokenKind::Replace,
        ResourceAction::Update => TokenKind::Change,
        ResourceAction::Create => TokenKind::Add,
        ResourceAction::Read => TokenKind::Read,
        ResourceAction::Other => TokenKind::Heading,
    }
}

/// One resource's block: the header line and the lines under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceBlock {
    pub address: String,
    pub action: ResourceAction,
    /// The header line.
    pub start: usize,
    /// One past the block's last line.
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanDocument {
    pub lines: Vec<PlanLine>,
    pub resources: Vec<ResourceBlock>,
    pub summary: Option<PlanSummary>,
}

/// A line that ends the resource section (the summary, outputs, or unindented text).
fn ends_resources(line: &str) -> bool {
    !line.is_empty()
        && !line.starts_with(char::is_whitespace)
        && !line.starts_with("-/+")
        && !line.starts_with("+/-")
}

impl PlanDocument {
    /// Builds the document; the expensive part (highlighting) runs once here, off the UI loop.
    pub fn build(raw: &str) -> PlanDocument {
        let text = strip_timestamps(raw);
        let texts: Vec<String> = shown_lines(&text)
            .into_iter()
            .map(|l| l.replace('\t', "    "))
            .collect();
        let spans = highlight_lines(&texts);
        let lines: Vec<PlanLine> = texts
            .into_iter()
            .zip(spans)
            .map(|(text, spans)| PlanLine { text, spans })
            .collect();
        let resources = find_resources(&lines);
        PlanDocument {
            summary: summarize(&text),
            lines,
            resources,
        }
    }

    /// Resource blocks, destroys and replacements first, then in plan order.
    pub fn risky_first(&self) -> Vec<&ResourceBlock> {
        let mut blocks: Vec<&ResourceBlock> = self.resources.iter().collect();
        blocks.sort_by_key(|block| (!block.action.is_risky(), block.start));
        blocks
    }
}

/// The lines a person reads: the runner's `##[group]` markers become the step titles they
/// carry, `##[endgroup]` goes, and the cost estimate's JSON (between its marker lines) is left
/// out: the summary bar and the detail pane show the cost.
fn shown_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut shown = Vec::with_capacity(lines.len());
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        if trimmed == COST_BEGIN
            && let Some(length) = lines[index + 1..]
                .iter()
                .position(|line| line.trim() == COST_END)
        {
            index += length + 2;
            continue;
        }
        index += 1;
        if trimmed.starts_with("##[endgroup]") {
            continue;
        }
        shown.push(trimmed.strip_prefix("##[group]").unwrap_or(line));
    }
    shown
}

fn find_resources(lines: &[PlanLine]) -> Vec<ResourceBlock> {
    let mut blocks: Vec<ResourceBlock> = Vec::new();
    let mut open: Option<ResourceBlock> = None;
    for (index, line) in lines.iter().enumerate() {
        if let Some((address, action)) = resource_header(&line.text) {
            // "(moved from ...)" under a header is part of it, not a new block.
            if let Some(block) = open.take() {
                blocks.push(close(block, index, lines));
            }
            open = Some(ResourceBlock {
                address,
                action,
                start: index,
                end: index + 1,
            });
        } else if ends_resources(&line.text)
            && let Some(block) = open.take()
        {
            blocks.push(close(block, index, lines));
        }
    }
    if let Some(block) = open.take() {
        blocks.push(close(block, lines.len(), lines));
    }
    blocks
}

/// Ends a block at `end`, leaving trailing blank lines outside it.
fn close(mut block: ResourceBlock, end: usize, lines: &[PlanLine]) -> ResourceBlock {
    let mut end = end;
    while end > block.start + 1 && lines[end - 1].text.trim().is_empty() {
        end -= 1;
    }
    block.end = end;
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLACE_UPDATE: &str =
        include_str!("../../../tests/fixtures/plans/tf-import-move-replace-update-create.txt");
    const DESTROY: &str =
        include_str!("../../../tests/fixtures/plans/tf-destroy-not-in-config.txt");

    #[test]
    fn finds_each_resource_block_with_its_action() {
        let document = PlanDocument::build(REPLACE_UPDATE);
        let found: Vec<(&str, ResourceAction)> = document
            .resources
            .iter()
            .map(|b| (b.address.as_str(), b.action))
            .collect();
        assert_eq!(found[0], ("github_issue.test-2", ResourceAction::Replace));
        assert_eq!(
            found[1],
            ("github_repository.tfaction-2", ResourceAction::Update)
        );
        assert!(
            found
                .iter()
                .any(|(_, action)| *action == ResourceAction::Create)
        );
        for block in &document.resources {
            assert!(document.lines[block.start].text.contains(&block.address));
            let last = &document.lines[block.end - 1].text;
            assert!(!last.trim().is_empty(), "block ends on a blank line");
        }
        let summary = document.summary.expect("a summary line");
        assert!(summary.add + summary.change + summary.destroy > 0);
    }

    #[test]
    fn risky_blocks_come_first() {
        let document = PlanDocument::build(REPLACE_UPDATE);
        let order = document.risky_first();
        assert!(order[0].action.is_risky());
        let first_safe = order.iter().position(|b| !b.action.is_risky());
        if let Some(first_safe) = first_safe {
            assert!(order[first_safe..].iter().all(|b| !b.action.is_risky()));
        }
        let destroy = PlanDocument::build(DESTROY);
        assert_eq!(destroy.resources[0].action, ResourceAction::Destroy);
    }

    #[test]
    fn lines_are_highlighted_by_change_kind() {
        let document = PlanDocument::build(REPLACE_UPDATE);
        let kind_at = |needle: &str| {
            let line = document
                .lines
                .iter()
                .find(|l| l.text.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle}"));
            line.spans
                .iter()
                .find(|s| s.end > s.start && line.text[s.start..s.end].trim() != "")
                .map(|s| s.kind)
        };
        assert_eq!(
            kind_at("# github_issue.test-2 must be replaced"),
            Some(TokenKind::Replace)
        );
        assert_eq!(kind_at("- milestone_number"), Some(TokenKind::Destroy));
        assert_eq!(kind_at("~ allow_auto_merge"), Some(TokenKind::Change));
        assert_eq!(kind_at("Plan: "), Some(TokenKind::Heading));
    }

    #[test]
    fn runner_markers_and_the_cost_json_are_not_shown() {
        let document = PlanDocument::build(
            "##[group]Run terraform plan\n\
             Plan: 1 to add, 0 to change, 0 to destroy.\n\
             ##[endgroup]\n\
             tfpilot-cost-begin\n\
             {\"totalMonthlyCost\": \"1\"}\n\
             tfpilot-cost-end\n\
             ##[error]Process completed with exit code 1.\n",
        );
        let texts: Vec<&str> = document.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Run terraform plan",
                "Plan: 1 to add, 0 to change, 0 to destroy.",
                "##[error]Process completed with exit code 1."
            ]
        );
        assert!(document.summary.is_some());
        // A begin marker with no end (a truncated log) hides nothing.
        let truncated = PlanDocument::build("tfpilot-cost-begin\n{\n");
        assert_eq!(truncated.lines.len(), 2);
    }

    #[test]
    fn actions_timestamps_are_removed() {
        let document = PlanDocument::build(
            "2026-11-26T10:00:00.1234567Z Plan: 1 to add, 0 to change, 0 to destroy.\n",
        );
        assert_eq!(
            document.lines[0].text,
            "Plan: 1 to add, 0 to change, 0 to destroy."
        );
    }
}
