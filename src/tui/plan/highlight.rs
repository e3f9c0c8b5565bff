//! syntect over the Terraform-plan syntax the project ships (`assets/`). Scopes become
//! [`TokenKind`]s, not colours, so the state stays theme-free and a theme switch needs no
//! re-highlighting.

use std::sync::LazyLock;

use syntect::easy::ScopeRangeIterator;
use syntect::parsing::{
    ParseState, Scope, ScopeStack, SyntaxDefinition, SyntaxReference, SyntaxSet, SyntaxSetBuilder,
};

use super::document::{Span, TokenKind};

const SYNTAX: &str = include_str!("../../../assets/terraform-plan.sublime-syntax");

struct Syntax {
    set: SyntaxSet,
    /// Scope prefixes and the kind each means, most specific first.
    kinds: Vec<(Scope, TokenKind)>,
}

static PLAN_SYNTAX: LazyLock<Option<Syntax>> = LazyLock::new(|| {
    // The embedded syntax is tested to load (`the_shipped_syntax_loads`); should it ever fail,
    // plans show unhighlighted instead of failing.
    let definition = SyntaxDefinition::load_from_str(SYNTAX, true, None).ok()?;
    let mut builder = SyntaxSetBuilder::new();
    builder.add(definition);
    let set = builder.build();
    let kinds = [
        ("markup.changed.replace", TokenKind::Replace),
        ("markup.inserted", TokenKind::Add),
        ("markup.deleted", TokenKind::Destroy),
        ("markup.changed", TokenKind::Change),
        ("markup.read", TokenKind::Read),
        ("markup.heading", TokenKind::Heading),
        ("comment", TokenKind::Comment),
        ("constant.other.placeholder", TokenKind::Comment),
    ]
    .into_iter()
    .filter_map(|(scope, kind)| Some((Scope::new(scope).ok()?, kind)))
    .collect();
    Some(Syntax { set, kinds })
});

fn syntax(set: &SyntaxSet) -> Option<&SyntaxReference> {
    set.find_syntax_by_scope(Scope::new("text.terraform-plan").ok()?)
}

/// The innermost scope on the stack that names a kind decides; a placeholder inside a changed
/// line is muted, a string inside an added line stays "added".
fn kind_of(stack: &ScopeStack, kinds: &[(Scope, TokenKind)]) -> TokenKind {
    for scope in stack.as_slice().iter().rev() {
        for (prefix, kind) in kinds {
            if prefix.is_prefix_of(*scope) {
                return *kind;
            }
        }
    }
    TokenKind::Plain
}

/// Highlights lines (without their newlines); one span list per line, adjacent spans of the
/// same kind merged.
pub fn highlight_lines(lines: &[String]) -> Vec<Vec<Span>> {
    let plain = |line: &String| {
        vec![Span {
            start: 0,
            end: line.len(),
            kind: TokenKind::Plain,
        }]
    };
    let Some(highlighter) = PLAN_SYNTAX.as_ref() else {
        return lines.iter().map(plain).collect();
    };
    let Some(reference) = syntax(&highlighter.set) else {
        return lines.iter().map(plain).collect();
    };
    let mut state = ParseState::new(reference);
    let mut stack = ScopeStack::new();
    let mut out = Vec::with_capacity(lines.len());
    let mut buffer = String::new();
    for line in lines {
        buffer.clear();
        buffer.push_str(line);
        buffer.push('\n');
        let Ok(ops) = state.parse_line(&buffer, &highlighter.set) else {
            // A pathological line: show it plain and start the next line afresh.
            state = ParseState::new(reference);
            stack = ScopeStack::new();
            out.push(plain(line));
            continue;
        };
        let mut spans: Vec<Span> = Vec::new();
        for (range, op) in ScopeRangeIterator::new(&ops, &buffer) {
            let _ = stack.apply(op);
            let end = range.end.min(line.len());
            if range.start >= end {
                continue;
            }
            let kind = kind_of(&stack, &highlighter.kinds);
            match spans.last_mut() {
                Some(last) if last.kind == kind && last.end == range.start => last.end = end,
                _ => spans.push(Span {
                    start: range.start,
                    end,
                    kind,
                }),
            }
        }
        out.push(spans);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_syntax_loads() {
        let highlighter = PLAN_SYNTAX.as_ref().expect("the syntax loads");
        assert!(syntax(&highlighter.set).is_some());
        assert_eq!(highlighter.kinds.len(), 8);
    }

    #[test]
    fn spans_cover_each_line() {
        let lines: Vec<String> = [
            "  # aws_s3_bucket.this will be destroyed",
            "  - resource \"aws_s3_bucket\" \"this\" {",
            "      ~ name = \"a\" -> (known after apply) # forces replacement",
            "Plan: 0 to add, 0 to change, 1 to destroy.",
        ]
        .map(String::from)
        .to_vec();
        let spans = highlight_lines(&lines);
        for (line, spans) in lines.iter().zip(&spans) {
            assert_eq!(spans.first().map(|s| s.start), Some(0));
            assert_eq!(spans.last().map(|s| s.end), Some(line.len()));
        }
        assert_eq!(spans[0][0].kind, TokenKind::Destroy);
        assert!(spans[2].iter().any(|s| s.kind == TokenKind::Replace));
        assert!(spans[2].iter().any(|s| s.kind == TokenKind::Comment));
        assert_eq!(spans[3][0].kind, TokenKind::Heading);
    }
}
