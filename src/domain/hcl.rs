//! HCL rendering of validated module values.
//!
//! Every string is written as a quoted HCL literal in which only printable ASCII
//! appears verbatim: quotes, backslashes, template openers (`${`, `%{`), newlines,
//! control characters and all non-ASCII characters are escaped. A value therefore
//! always stays on one line and inside its quotes, so it can never end its string,
//! start an interpolation, or forge a `# tfpilot:` marker line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A value ready to be rendered: the module catalog produces these from form input.
#[derive(Debug, Clone, PartialEq)]
pub enum HclValue {
    String(String),
    /// Kept as the canonical decimal text so no float rounding sneaks in.
    Number(serde_json::Number),
    Bool(bool),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// Escape `text` as the inside of an HCL quoted string (without the quotes).
pub fn escape_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `$${` and `%%{` are HCL's literal forms of `${` and `%{`. A `$` before
            // another `$` is written as `\u0024` so doubled signs only ever appear
            // as that escape, whatever the run of signs in the value.
            '$' | '%' => match chars.peek() {
                Some('{') => {
                    out.push(c);
                    out.push(c);
                }
                Some(next) if *next == c => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                _ => out.push(c),
            },
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out
}

/// A quoted HCL string literal.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", escape_string(text))
}

/// True for names HCL accepts as attribute and block labels without quoting:
/// a letter or underscore, then letters, digits, underscores or hyphens (ASCII only,
/// which is stricter than HCL's Unicode identifiers on purpose).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Render a value as an HCL expression. Lists and maps are multi-line, indented
/// by `indent` for their closing bracket.
pub fn render_value(value: &HclValue, indent: &str) -> String {
    match value {
        HclValue::String(text) => quote(text),
        HclValue::Number(number) => number.to_string(),
        HclValue::Bool(flag) => flag.to_string(),
        HclValue::List(items) if items.is_empty() => "[]".to_string(),
        HclValue::List(items) => {
            let mut out = String::from("[\n");
            for item in items {
                let _ = writeln!(out, "{indent}  {},", quote(item));
            }
            out.push_str(indent);
            out.push(']');
            out
        }
        HclValue::Map(entries) if entries.is_empty() => "{}".to_string(),
        HclValue::Map(entries) => {
            let mut out = String::from("{\n");
            for (key, item) in entries {
                let _ = writeln!(out, "{indent}  {} = {}", quote(key), quote(item));
            }
            out.push_str(indent);
            out.push('}');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_break_out() {
        assert_eq!(escape_string(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_string("x${var.secret}"), "x$${var.secret}");
        assert_eq!(escape_string("%{ if true }"), "%%{ if true }");
        assert_eq!(escape_string("$ and % alone"), "$ and % alone");
        assert_eq!(escape_string("line\nnext\r\t"), "line\\nnext\\r\\t");
        assert_eq!(escape_string("\u{0}\u{1b}\u{7f}"), "\\u0000\\u001B\\u007F");
        assert_eq!(escape_string("café"), "caf\\u00E9");
        assert_eq!(escape_string("\u{202E}"), "\\u202E");
        assert_eq!(escape_string("🦀"), "\\U0001F980");
    }

    #[test]
    fn doubled_template_openers_stay_literal() {
        assert_eq!(escape_string("$${x}"), "\\u0024$${x}");
        assert_eq!(escape_string("%%{x}"), "\\u0025%%{x}");
        assert_eq!(escape_string("$$"), "\\u0024$");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("instance_type"));
        assert!(is_identifier("_private-name2"));
        assert!(!is_identifier("2fast"));
        assert!(!is_identifier("has space"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("naïve"));
    }

    #[test]
    fn renders_collections() {
        let list = HclValue::List(vec!["a".into(), "b\"".into()]);
        assert_eq!(
            render_value(&list, "  "),
            "[\n    \"a\",\n    \"b\\\"\",\n  ]"
        );
        let map = HclValue::Map(BTreeMap::from([("team".into(), "core".into())]));
        assert_eq!(render_value(&map, ""), "{\n  \"team\" = \"core\"\n}");
        assert_eq!(render_value(&HclValue::List(vec![]), ""), "[]");
        assert_eq!(render_value(&HclValue::Bool(true), ""), "true");
        let number = HclValue::Number(serde_json::Number::from(42));
        assert_eq!(render_value(&number, ""), "42");
    }
}
