//! The one key table: the embedded default (`assets/keymap.toml`) with the user's file layered
//! on top. Dispatch, the `?` help and the footer hints all read it, so they cannot disagree.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use thiserror::Error;

use super::command::Command;

const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

#[derive(Debug, Error)]
pub enum KeymapError {
    #[error("cannot read the keymap {path}: {message}")]
    Read { path: String, message: String },
    #[error("keymap {origin} line {line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
}

/// Where a key is looked up. Modal input contexts do not fall back to `global`, so typing a
/// `q` into a filter types a `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    Global,
    Main,
    Plan,
    Insights,
    Events,
    Help,
    Confirm,
    Picker,
    Input,
    Editor,
}

impl Context {
    pub const ALL: [Context; 10] = [
        Context::Global,
        Context::Main,
        Context::Plan,
        Context::Insights,
        Context::Events,
        Context::Help,
        Context::Confirm,
        Context::Picker,
        Context::Input,
        Context::Editor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Main => "main",
            Context::Plan => "plan",
            Context::Insights => "insights",
            Context::Events => "events",
            Context::Help => "help",
            Context::Confirm => "confirm",
            Context::Picker => "picker",
            Context::Input => "input",
            Context::Editor => "editor",
        }
    }

    fn parse(name: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn falls_back_to_global(self) -> bool {
        !matches!(
            self,
            Context::Confirm | Context::Picker | Context::Input | Context::Editor | Context::Global
        )
    }
}

/// A key as the keymap names it: the code and the ctrl/alt modifiers (shift is in the
/// character itself: `G`, not `shift-g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyChord {
    code: ChordCode,
    ctrl: bool,
    alt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ChordCode {
    Char(char),
    Named(&'static str),
    F(u8),
}

const NAMED: [(&str, KeyCode); 15] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("insert", KeyCode::Insert),
];

impl KeyChord {
    pub fn parse(text: &str) -> Option<KeyChord> {
        let mut rest = text;
        let (mut ctrl, mut alt) = (false, false);
        loop {
            if let Some(after) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = after;
            } else if let Some(after) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = after;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => ChordCode::Char(c),
            _ if rest == "space" => ChordCode::Char(' '),
            _ => {
                if let Some((name, _)) = NAMED.iter().find(|(name, _)| *name == rest) {
                    ChordCode::Named(name)
                } else {
                    let number = rest.strip_prefix('f')?.parse::<u8>().ok()?;
                    if !(1..=12).contains(&number) {
                        return None;
                    }
                    ChordCode::F(number)
                }
            }
        };
        Some(KeyChord { code, ctrl, alt })
    }

    /// Lower is plainer: a character, then a named key, then anything with ctrl or alt.
    fn plainness(&self) -> u8 {
        let modified = u8::from(self.ctrl || self.alt) * 2;
        let named = u8::from(!matches!(self.code, ChordCode::Char(_)));
        modified + named
    }

    pub fn from_event(event: &KeyEvent) -> Option<KeyChord> {
        let code = match event.code {
            KeyCode::Char(c) => ChordCode::Char(c),
            KeyCode::F(n) => ChordCode::F(n),
            other => ChordCode::Named(NAMED.iter().find(|(_, code)| *code == other)?.0),
        };
        Some(KeyChord {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
        })
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            ChordCode::Char(' ') => f.write_str("space"),
            ChordCode::Char(c) => write!(f, "{c}"),
            ChordCode::Named(name) => f.write_str(name),
            ChordCode::F(n) => write!(f, "f{n}"),
        }
    }
}

/// A command and every key bound to it in one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<KeyChord>,
    pub command: Command,
}

/// Bindings by context, resolved to commands once, when the keymap is loaded.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<Context, HashMap<KeyChord, Command>>,
}

impl Keymap {
    /// The embedded default; it is tested to parse, so this cannot fail at run time.
    pub fn embedded() -> Keymap {
        let mut keymap = Keymap {
            bindings: HashMap::new(),
        };
        // A parse failure here is a build defect caught by `embedded_keymap_parses`.
        if let Err(error) = keymap.layer(DEFAULT_KEYMAP, "the embedded keymap") {
            tracing::error!(%error, "embedded keymap");
        }
        keymap
    }

    /// The default with the user's file on top, when it exists.
    pub fn load(user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap::embedded();
        if let Some(path) = user_file.filter(|p| p.exists()) {
            let text = std::fs::read_to_string(path).map_err(|e| KeymapError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            keymap.layer(&text, &path.display().to_string())?;
        }
        Ok(keymap)
    }

    /// Adds (or with "none", removes) the bindings of one TOML text. An error names the
    /// origin, the line and, for a misspelt command, the nearest valid one.
    pub fn layer(&mut self, text: &str, origin: &str) -> Result<(), KeymapError> {
        let invalid = |at: usize, message: String| KeymapError::Invalid {
            origin: origin.to_string(),
            line: line_of(text, at),
            message,
        };
        let table = toml::de::DeTable::parse(text).map_err(|e| {
            let at = e.span().map_or(0, |span| span.start);
            invalid(
                at,
                format!("{} (see assets/keymap.toml for the format)", e.message()),
            )
        })?;
        for (section, entries) in table.get_ref() {
            let at = section.span().start;
            let section = section.get_ref().as_ref();
            let context = Context::parse(section).ok_or_else(|| {
                invalid(
                    at,
                    format!(
                        "unknown section [{section}]; sections are {}",
                        Context::ALL.map(Context::as_str).join(", ")
                    ),
                )
            })?;
            let toml::de::DeValue::Table(entries) = entries.get_ref() else {
                return Err(invalid(
                    at,
                    format!("[{section}] must be a table of key = command"),
                ));
            };
            for (key, value) in entries {
                let at = key.span().start;
                let key = key.get_ref().as_ref();
                let chord = KeyChord::parse(key)
                    .ok_or_else(|| invalid(at, format!("[{section}] `{key}` is not a key name")))?;
                let toml::de::DeValue::String(name) = value.get_ref() else {
                    return Err(invalid(
                        at,
                        format!("[{section}] `{key}` must name a command in quotes"),
                    ));
                };
                let map = self.bindings.entry(context).or_default();
                if name == "none" {
                    map.remove(&chord);
                    continue;
                }
                let command = Command::parse(name).ok_or_else(|| {
                    let hint = Command::closest(name)
                        .map(|near| format!("; did you mean \"{}\"?", near.name()))
                        .unwrap_or_else(|| ".".into());
                    // tfpilot does not start with a broken keymap, so `?` cannot show the list.
                    let names: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
                    invalid(
                        value.span().start,
                        format!(
                            "[{section}] `{key}` = \"{name}\" is not a command{hint} The commands are: {}, or \"none\" to unbind.",
                            names.join(", ")
                        ),
                    )
                })?;
                map.insert(chord, command);
            }
        }
        Ok(())
    }

    /// The command a key means in `context` (falling back to `global` outside modal input).
    pub fn command_for(&self, context: Context, key: &KeyEvent) -> Option<Command> {
        let chord = KeyChord::from_event(key)?;
        let lookup = |context: Context| {
            self.bindings
                .get(&context)
                .and_then(|map| map.get(&chord))
                .copied()
        };
        lookup(context).or_else(|| {
            context
                .falls_back_to_global()
                .then(|| lookup(Context::Global))
                .flatten()
        })
    }

    /// The keys bound to `command` in `context` (own bindings first, the plainest first).
    pub fn keys_for(&self, context: Context, command: Command) -> Vec<KeyChord> {
        let mut keys: Vec<KeyChord> = Vec::new();
        let mut contexts = vec![context];
        if context.falls_back_to_global() {
            contexts.push(Context::Global);
        }
        for context in contexts {
            let mut own: Vec<KeyChord> = self
                .bindings
                .get(&context)
                .into_iter()
                .flatten()
                .filter(|(chord, bound)| **bound == command && !keys.contains(chord))
                .map(|(chord, _)| *chord)
                .collect();
            own.sort();
            keys.extend(own);
        }
        // The plainest key first: the one hints show (stable, so ties keep key order).
        keys.sort_by_key(|chord| chord.plainness());
        keys
    }

    /// Every command bound in `context` with its keys (in key order), in the order of each
    /// command's first key.
    pub fn describe(&self, context: Context) -> Vec<Binding> {
        let mut chords: Vec<(KeyChord, Command)> = self
            .bindings
            .get(&context)
            .into_iter()
            .flatten()
            .map(|(chord, command)| (*chord, *command))
            .collect();
        chords.sort();
        let mut rows: Vec<Binding> = Vec::new();
        for (chord, command) in chords {
            match rows.iter_mut().find(|row| row.command == command) {
                Some(row) => row.keys.push(chord),
                None => rows.push(Binding {
                    keys: vec![chord],
                    command,
                }),
            }
        }
        rows
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// What each keymap section covers, for the reference.
fn context_summary(context: Context) -> &'static str {
    match context {
        Context::Global => {
            "Every screen, unless a section below binds the key first (not while typing)."
        }
        Context::Main => "The request list and the detail pane.",
        Context::Plan => "The plan and run-log view.",
        Context::Insights => "The insights view.",
        Context::Events => "The event log view.",
        Context::Help => "The help overlay.",
        Context::Confirm => "Confirmation dialogs (merge, apply, destroy, cleanup).",
        Context::Picker => {
            "The status, environment and project filters; other characters narrow the list."
        }
        Context::Input => {
            "The palette, the filter prompts and the create form; other characters are typed."
        }
        Context::Editor => "The config editor; other keys edit the text.",
    }
}

impl Keymap {
    /// The key binding reference (docs/keybindings.md), generated from this keymap so the
    /// documentation cannot drift from the binary.
    pub fn reference_markdown(&self) -> String {
        let mut out = String::from(
            "# Key bindings\n\n\
             <!-- Generated from assets/keymap.toml by `Keymap::reference_markdown`; do not edit.\n\
             Regenerate with: TFPILOT_UPDATE_DOCS=1 cargo test --test docs -->\n\n\
             The defaults, section by section as in `assets/keymap.toml`. Override any of them in\n\
             `~/.config/tfpilot/keymap.toml` (same sections; bind a key to `\"none\"` to remove it).\n\
             `?` inside tfpilot lists the bindings in force, overrides included.\n",
        );
        for context in Context::ALL {
            let rows = self.describe(context);
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "\n## [{}]\n\n{}\n\n| keys | command | what it does |\n|---|---|---|\n",
                context.as_str(),
                context_summary(context)
            ));
            for Binding { keys, command } in rows {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|key| format!("`{}`", key.to_string().replace('|', "\\|")))
                    .collect();
                out.push_str(&format!(
                    "| {} | `{}` | {} |\n",
                    keys.join(" "),
                    command.name(),
                    command.description()
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn embedded_keymap_parses() {
        let mut keymap = Keymap {
            bindings: HashMap::new(),
        };
        keymap
            .layer(DEFAULT_KEYMAP, "embedded")
            .expect("the embedded keymap parses");
        assert!(keymap.bindings.len() >= 8);
    }

    #[test]
    fn the_issue_keys_are_bound() {
        let keymap = Keymap::embedded();
        for (chord, name) in [
            ("j", "move_down"),
            ("k", "move_up"),
            ("down", "move_down"),
            ("up", "move_up"),
            ("g", "top"),
            ("G", "bottom"),
            ("enter", "open"),
            ("tab", "switch_pane"),
            ("/", "filter"),
            ("s", "filter_status"),
            ("c", "create"),
            ("e", "edit"),
            ("p", "plan"),
            ("a", "approve"),
            ("m", "merge"),
            ("A", "apply"),
            ("D", "destroy"),
            ("L", "plan_log"),
            ("l", "open"),
            ("P", "filter_project"),
            ("S", "sort"),
        ] {
            let chord = KeyChord::parse(chord).expect("valid chord");
            assert_eq!(
                keymap.bindings[&Context::Main]
                    .get(&chord)
                    .map(|command| command.name()),
                Some(name),
                "{chord}"
            );
        }
        for (chord, name) in [
            ("q", "quit"),
            ("esc", "back"),
            ("?", "help"),
            (":", "palette"),
            ("r", "refresh"),
            ("i", "insights"),
        ] {
            let chord = KeyChord::parse(chord).expect("valid chord");
            assert_eq!(
                keymap.bindings[&Context::Global]
                    .get(&chord)
                    .map(|command| command.name()),
                Some(name)
            );
        }
    }

    #[test]
    fn lookups_fall_back_to_global_except_in_input() {
        let keymap = Keymap::embedded();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert!(matches!(
            keymap.command_for(Context::Main, &q),
            Some(Command::Quit)
        ));
        assert!(keymap.command_for(Context::Input, &q).is_none());
        let shifted = key(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert!(matches!(
            keymap.command_for(Context::Main, &shifted),
            Some(Command::Bottom)
        ));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(
            keymap.command_for(Context::Main, &ctrl_c),
            Some(Command::Quit)
        ));
    }

    #[test]
    fn user_layer_overrides_and_unbinds() {
        let mut keymap = Keymap::embedded();
        keymap
            .layer("[main]\n\"J\" = \"move_down\"\n\"D\" = \"none\"\n", "user")
            .expect("valid user keymap");
        let shifted_j = key(KeyCode::Char('J'), KeyModifiers::SHIFT);
        assert!(matches!(
            keymap.command_for(Context::Main, &shifted_j),
            Some(Command::MoveDown)
        ));
        let destroy = key(KeyCode::Char('D'), KeyModifiers::SHIFT);
        assert!(keymap.command_for(Context::Main, &destroy).is_none());
    }

    #[test]
    fn bad_user_files_say_what_is_wrong() {
        let mut keymap = Keymap::embedded();
        let error = keymap
            .layer("[main]\n\"j\" = \"fly\"\n", "keymap.toml")
            .expect_err("unknown command");
        assert!(
            error.to_string().contains("\"fly\" is not a command"),
            "{error}"
        );
        let error = keymap
            .layer("[sidebar]\n\"j\" = \"quit\"\n", "keymap.toml")
            .expect_err("unknown section");
        assert!(
            error.to_string().contains("unknown section [sidebar]"),
            "{error}"
        );
        let error = keymap
            .layer("[main]\n\"hyper-j\" = \"quit\"\n", "keymap.toml")
            .expect_err("unknown key");
        assert!(error.to_string().contains("not a key name"), "{error}");
    }

    #[test]
    fn a_misspelt_command_names_the_file_the_line_and_the_nearest_command() {
        let mut keymap = Keymap::embedded();
        let text = "# my keys\n[main]\n\"J\" = \"move_down\"\n\"K\" = \"move_upp\"\n";
        let error = keymap
            .layer(text, "/home/alice/.config/tfpilot/keymap.toml")
            .expect_err("misspelt command");
        let text = error.to_string();
        assert!(
            text.starts_with(
                "keymap /home/alice/.config/tfpilot/keymap.toml line 4: [main] `K` = \"move_upp\" \
                 is not a command; did you mean \"move_up\"? The commands are: quit, back, "
            ),
            "{text}"
        );
        // tfpilot refuses to start, so the message itself lists every valid name.
        assert!(!text.contains("press ?"), "{text}");
        for command in Command::ALL {
            assert!(text.contains(command.name()), "{text}");
        }
        // Nothing near enough: no guess.
        let error = keymap
            .layer("[plan]\n\"x\" = \"launch_rockets\"\n", "keymap.toml")
            .expect_err("unknown command");
        assert!(error.to_string().starts_with("keymap keymap.toml line 2:"));
        assert!(!error.to_string().contains("did you mean"), "{error}");
        // A syntax error names its line too.
        let error = keymap
            .layer("[main]\n\"j\" = \n", "keymap.toml")
            .expect_err("broken TOML");
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn chords_print_as_they_parse() {
        for text in [
            "j", "G", "ctrl-d", "enter", "space", "f5", "alt-x", "pagedown",
        ] {
            let chord = KeyChord::parse(text).expect("valid");
            assert_eq!(chord.to_string(), text);
        }
    }
}
