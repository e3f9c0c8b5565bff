//! Text tfpilot did not write (store fields, GitHub's messages, logs) made safe to show on a
//! terminal. A control character, an escape sequence or a bidirectional override in such text
//! could rename the terminal's window, write the clipboard, clear the screen or reorder what a
//! reader sees; here each becomes a visible escape instead. The CLI passes every byte it prints
//! through these; the dashboard draws through ratatui, which leaves control characters out, and
//! its last pass over each frame drops the other hazards (`tui/view/mod.rs`).

use std::borrow::Cow;

/// C0 controls other than newline and tab, DEL, C1 controls, and the bidirectional embeddings,
/// overrides and isolates (U+202A to U+202E, U+2066 to U+2069).
pub fn is_hazard(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` for a terminal: every hazard written as an escape a person can read (`\x1b`,
/// `\u{202e}`); newlines and tabs, which lay tfpilot's own output out, are kept.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    escape(text, |c, out| {
        if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    })
}

/// Serialized JSON for a terminal: serde_json already escapes C0 controls; DEL, C1 controls and
/// bidirectional overrides become `\u` escapes too, so the text stays the same JSON value.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    escape(json, |c, out| out.push_str(&format!("\\u{:04x}", c as u32)))
}

fn escape(text: &str, write: impl Fn(char, &mut String)) -> Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hazard(c) {
            write(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sequence the issue found doing harm, and the other hazards.
    pub const HOSTILE: &str = "alice\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\r\u{7f}\u{9b}31m\u{202e}txt.exe\u{2066}";

    #[test]
    fn hazards_become_visible_escapes() {
        assert_eq!(
            for_terminal(HOSTILE),
            "alice\\x1b]0;pwned\\x07\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x0d\\x7f\\u{9b}31m\\u{202e}txt.exe\\u{2066}"
        );
        assert!(!for_terminal(HOSTILE).chars().any(is_hazard));
        // Layout and ordinary text are untouched (and not copied).
        assert!(matches!(
            for_terminal("a\tb\nnaïve ✔ 日本"),
            Cow::Borrowed("a\tb\nnaïve ✔ 日本")
        ));
    }

    #[test]
    fn json_stays_the_same_value() {
        let value = serde_json::json!({ "requested_by": HOSTILE });
        let text = serde_json::to_string(&value).unwrap();
        let safe = json_for_terminal(&text);
        assert!(!safe.chars().any(is_hazard), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
