//! One line of text a person edits: the filter, the plan search, the palette, a typed id or a
//! review comment, the create form's text fields. `ratatui-textarea` holds the text, the
//! cursor and the undo history; this maps the keys a shell user expects (readline's) onto it
//! and never lets a newline in.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea};

#[derive(Debug, Clone, Default)]
pub struct LineInput {
    /// Boxed: the text area is large, and forms and modals hold many lines.
    area: Box<TextArea<'static>>,
}

impl PartialEq for LineInput {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for LineInput {}

impl From<&str> for LineInput {
    fn from(text: &str) -> Self {
        LineInput::new(text)
    }
}

impl LineInput {
    /// A line holding `text` (control characters dropped), the cursor at its end.
    pub fn new(text: &str) -> LineInput {
        let mut area = TextArea::new(vec![one_line(text)]);
        area.move_cursor(CursorMove::End);
        LineInput {
            area: Box::new(area),
        }
    }

    pub fn text(&self) -> &str {
        self.area.lines().first().map(String::as_str).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.text().is_empty()
    }

    /// Where the cursor is, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.area.cursor().1
    }

    /// Inserts `text` at the cursor (a paste: newlines and other control characters dropped).
    pub fn insert(&mut self, text: &str) -> bool {
        self.area.insert_str(one_line(text))
    }

    /// Applies a key; `true` when the text changed. Keys it does not know change nothing.
    pub fn key(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let area = self.area.as_mut();
        let moved = |area: &mut TextArea<'static>, to: CursorMove| {
            area.move_cursor(to);
            false
        };
        match (key.code, ctrl, alt) {
            (KeyCode::Char(c), false, false) => {
                area.insert_char(c);
                true
            }
            (KeyCode::Backspace, _, true) | (KeyCode::Char('w'), true, false) => area.delete_word(),
            (KeyCode::Backspace, _, false) | (KeyCode::Char('h'), true, false) => {
                area.delete_char()
            }
            (KeyCode::Delete, _, _) | (KeyCode::Char('d'), true, false) => area.delete_next_char(),
            (KeyCode::Char('d'), false, true) => area.delete_next_word(),
            (KeyCode::Char('u'), true, false) => area.delete_line_by_head(),
            (KeyCode::Char('k'), true, false) => area.delete_line_by_end(),
            (KeyCode::Char('z'), true, false) => area.undo(),
            (KeyCode::Char('Z'), true, false) => area.redo(),
            (KeyCode::Char('y'), true, false) => area.paste(),
            (KeyCode::Left, true, _)
            | (KeyCode::Left, _, true)
            | (KeyCode::Char('b'), false, true) => moved(area, CursorMove::WordBack),
            (KeyCode::Right, true, _)
            | (KeyCode::Right, _, true)
            | (KeyCode::Char('f'), false, true) => moved(area, CursorMove::WordForward),
            (KeyCode::Left, false, false) | (KeyCode::Char('b'), true, false) => {
                moved(area, CursorMove::Back)
            }
            (KeyCode::Right, false, false) | (KeyCode::Char('f'), true, false) => {
                moved(area, CursorMove::Forward)
            }
            (KeyCode::Home, _, _) | (KeyCode::Char('a'), true, false) => {
                moved(area, CursorMove::Head)
            }
            (KeyCode::End, _, _) | (KeyCode::Char('e'), true, false) => {
                moved(area, CursorMove::End)
            }
            _ => false,
        }
    }

    /// The text split at the cursor for drawing in `width` columns: what comes before it, the
    /// character under it (`None` at the end), and what follows; scrolled so the cursor shows.
    pub fn window(&self, width: usize) -> (String, Option<char>, String) {
        let chars: Vec<char> = self.text().chars().collect();
        let cursor = self.cursor().min(chars.len());
        let width = width.max(2);
        let start = (cursor + 1).saturating_sub(width);
        let end = (start + width).min(chars.len());
        let before: String = chars[start..cursor].iter().collect();
        let under = chars.get(cursor).copied();
        let after: String = chars
            .get(cursor + 1..end.max(cursor + 1))
            .map(|rest| rest.iter().collect())
            .unwrap_or_default();
        (before, under, after)
    }
}

fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(input: &mut LineInput, code: KeyCode, modifiers: KeyModifiers) {
        input.key(&KeyEvent::new(code, modifiers));
    }

    fn typed(text: &str) -> LineInput {
        let mut input = LineInput::default();
        for c in text.chars() {
            press(&mut input, KeyCode::Char(c), KeyModifiers::NONE);
        }
        input
    }

    #[test]
    fn the_cursor_moves_and_typing_inserts_where_it_is() {
        let mut input = typed("payments prod");
        press(&mut input, KeyCode::Home, KeyModifiers::NONE);
        press(&mut input, KeyCode::Right, KeyModifiers::CONTROL);
        press(&mut input, KeyCode::Char('-'), KeyModifiers::NONE);
        assert_eq!(input.text(), "payments -prod");
        press(&mut input, KeyCode::End, KeyModifiers::NONE);
        press(&mut input, KeyCode::Left, KeyModifiers::NONE);
        press(&mut input, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(input.text(), "payments -prd");
        press(&mut input, KeyCode::Char('a'), KeyModifiers::CONTROL);
        assert_eq!(input.cursor(), 0);
        press(&mut input, KeyCode::Delete, KeyModifiers::NONE);
        assert_eq!(input.text(), "ayments -prd");
    }

    #[test]
    fn readline_kills_and_undo() {
        let mut input = typed("alpha beta gamma");
        press(&mut input, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "alpha beta ");
        press(&mut input, KeyCode::Left, KeyModifiers::ALT);
        press(&mut input, KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "alpha ");
        press(&mut input, KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "");
        press(&mut input, KeyCode::Char('z'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "alpha ");
        press(&mut input, KeyCode::Char('z'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "alpha beta ");
    }

    #[test]
    fn pastes_and_enter_never_break_the_line() {
        let mut input = typed("a");
        input.insert("b\nc\r\u{1b}[31md");
        assert_eq!(input.text(), "abc[31md");
        press(&mut input, KeyCode::Enter, KeyModifiers::NONE);
        press(&mut input, KeyCode::Char('j'), KeyModifiers::CONTROL);
        press(&mut input, KeyCode::Char('m'), KeyModifiers::CONTROL);
        assert_eq!(input.text(), "abc[31md");
        assert_eq!(LineInput::new("x\ny").text(), "xy");
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_in_view() {
        let mut input = typed("0123456789");
        assert_eq!(input.window(5), ("6789".into(), None, String::new()));
        press(&mut input, KeyCode::Home, KeyModifiers::NONE);
        assert_eq!(input.window(5), (String::new(), Some('0'), "1234".into()));
        assert_eq!(
            input.window(40),
            (String::new(), Some('0'), "123456789".into())
        );
    }
}
