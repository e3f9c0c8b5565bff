//! Themes: named roles resolved to styles from `themes/*.toml` (embedded) or the user's
//! themes directory. Views ask for a role, never for a colour.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use thiserror::Error;

use crate::domain::Status;

const EMBEDDED: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

pub const DEFAULT_THEME: &str = "dark";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ThemeError {
    #[error(
        "no theme named `{0}`: the built-in ones are dark, light and high-contrast, or put NAME.toml in the themes directory"
    )]
    Unknown(String),
    #[error("theme {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// What a view draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Text,
    Muted,
    Accent,
    Border,
    BorderFocused,
    Title,
    Selection,
    Header,
    Key,
    Danger,
    Warning,
    Success,
    Info,
    Match,
    Status(Status),
    PlanAdd,
    PlanChange,
    PlanDestroy,
    PlanReplace,
    PlanRead,
    PlanHeading,
    PlanComment,
}

impl Role {
    pub fn all() -> Vec<Role> {
        let mut roles = vec![
            Role::Text,
            Role::Muted,
            Role::Accent,
            Role::Border,
            Role::BorderFocused,
            Role::Title,
            Role::Selection,
            Role::Header,
            Role::Key,
            Role::Danger,
            Role::Warning,
            Role::Success,
            Role::Info,
            Role::Match,
        ];
        roles.extend(Status::ALL.map(Role::Status));
        roles.extend([
            Role::PlanAdd,
            Role::PlanChange,
            Role::PlanDestroy,
            Role::PlanReplace,
            Role::PlanRead,
            Role::PlanHeading,
            Role::PlanComment,
        ]);
        roles
    }

    /// `section.name` as the theme file spells it.
    pub fn key(self) -> String {
        let (section, name) = match self {
            Role::Text => ("ui", "text"),
            Role::Muted => ("ui", "muted"),
            Role::Accent => ("ui", "accent"),
            Role::Border => ("ui", "border"),
            Role::BorderFocused => ("ui", "border_focused"),
            Role::Title => ("ui", "title"),
            Role::Selection => ("ui", "selection"),
            Role::Header => ("ui", "header"),
            Role::Key => ("ui", "key"),
            Role::Danger => ("ui", "danger"),
            Role::Warning => ("ui", "warning"),
            Role::Success => ("ui", "success"),
            Role::Info => ("ui", "info"),
            Role::Match => ("ui", "match"),
            Role::Status(status) => ("status", status.as_str()),
            Role::PlanAdd => ("plan", "add"),
            Role::PlanChange => ("plan", "change"),
            Role::PlanDestroy => ("plan", "destroy"),
            Role::PlanReplace => ("plan", "replace"),
            Role::PlanRead => ("plan", "read"),
            Role::PlanHeading => ("plan", "heading"),
            Role::PlanComment => ("plan", "comment"),
        };
        format!("{section}.{name}")
    }
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    /// The terminal background the theme is made for (`background = "#ffffff"`): what its
    /// colours are checked against for contrast.
    pub background: Option<Color>,
    styles: HashMap<Role, Style>,
}

impl Theme {
    pub fn style(&self, role: Role) -> Style {
        self.styles.get(&role).copied().unwrap_or_default()
    }

    pub fn status(&self, status: Status) -> Style {
        self.style(Role::Status(status))
    }

    /// The default theme, which is embedded and tested to resolve.
    pub fn default_theme() -> Theme {
        Theme::embedded(DEFAULT_THEME).unwrap_or_else(|_| Theme {
            name: DEFAULT_THEME.into(),
            background: None,
            styles: HashMap::new(),
        })
    }

    pub fn embedded(name: &str) -> Result<Theme, ThemeError> {
        let (_, text) = EMBEDDED
            .iter()
            .find(|(embedded, _)| *embedded == name)
            .ok_or_else(|| ThemeError::Unknown(name.to_string()))?;
        Theme::parse(text, &format!("themes/{name}.toml"), None)
    }

    /// `name` from the user's themes directory when it has `name.toml`, else the embedded one.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let user_file = user_dir.map(|dir| dir.join(format!("{name}.toml")));
        match user_file.filter(|file| file.exists()) {
            Some(file) => {
                let origin = file.display().to_string();
                let text = std::fs::read_to_string(&file).map_err(|e| ThemeError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
                Theme::parse(&text, &origin, user_dir)
            }
            None => Theme::embedded(name),
        }
    }

    /// Parses a theme; `extends` names the theme it starts from (every role must end up set).
    fn parse(text: &str, origin: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        let name = table
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| origin.to_string());
        let mut background = None;
        let mut styles = match table.get("extends").and_then(|v| v.as_str()) {
            Some(base) if base != name => {
                let base = Theme::load(base, user_dir)?;
                background = base.background;
                base.styles
            }
            Some(base) => return Err(invalid(format!("a theme cannot extend itself ({base})"))),
            None => HashMap::new(),
        };
        let roles = Role::all();
        for (section, entries) in &table {
            if section == "name" || section == "extends" {
                continue;
            }
            if section == "background" {
                let text = entries
                    .as_str()
                    .ok_or_else(|| invalid("`background` must be a colour".into()))?;
                background =
                    Some(parse_color(text).map_err(|m| invalid(format!("`background`: {m}")))?);
                continue;
            }
            let entries = entries.as_table().ok_or_else(|| {
                invalid(format!(
                    "`{section}` must be a section of roles ([{section}])"
                ))
            })?;
            for (role_name, spec) in entries {
                let key = format!("{section}.{role_name}");
                let role = roles.iter().find(|r| r.key() == key).ok_or_else(|| {
                    invalid(format!(
                        "unknown role `{key}`; see themes/dark.toml for them all"
                    ))
                })?;
                let style = parse_style(spec).map_err(|m| invalid(format!("`{key}`: {m}")))?;
                styles.insert(*role, style);
            }
        }
        let missing: Vec<String> = roles
            .iter()
            .filter(|r| !styles.contains_key(r))
            .map(|r| r.key())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!(
                "roles not set: {} (add them, or `extends = \"dark\"`)",
                missing.join(", ")
            )));
        }
        Ok(Theme {
            name,
            background,
            styles,
        })
    }

    /// The theme without colours (for `NO_COLOR`): emphasis stays, and the roles that only
    /// colour told apart become reversed or bold so they still read.
    pub fn without_colors(&self) -> Theme {
        let styles = self
            .styles
            .iter()
            .map(|(role, style)| {
                let mut plain = Style::default().add_modifier(style.add_modifier);
                if matches!(
                    role,
                    Role::Selection | Role::Header | Role::Match | Role::Status(Status::Failed)
                ) {
                    plain = plain.add_modifier(Modifier::REVERSED);
                }
                if matches!(role, Role::Danger | Role::Key | Role::Title) {
                    plain = plain.add_modifier(Modifier::BOLD);
                }
                (*role, plain)
            })
            .collect();
        Theme {
            name: format!("{} (no colour)", self.name),
            background: self.background,
            styles,
        }
    }
}

fn parse_color(text: &str) -> Result<Color, String> {
    Color::from_str(text).map_err(|_| {
        format!("`{text}` is not a colour (a name like red or lightblue, #rrggbb, or 0-255)")
    })
}

fn parse_style(spec: &toml::Value) -> Result<Style, String> {
    match spec {
        toml::Value::String(color) => Ok(Style::default().fg(parse_color(color)?)),
        toml::Value::Table(table) => {
            let mut style = Style::default();
            for (name, value) in table {
                match (name.as_str(), value) {
                    ("fg", toml::Value::String(c)) => style = style.fg(parse_color(c)?),
                    ("bg", toml::Value::String(c)) => style = style.bg(parse_color(c)?),
                    (flag, toml::Value::Boolean(on)) => {
                        let modifier = match flag {
                            "bold" => Modifier::BOLD,
                            "italic" => Modifier::ITALIC,
                            "underlined" => Modifier::UNDERLINED,
                            "reversed" => Modifier::REVERSED,
                            "dim" => Modifier::DIM,
                            other => return Err(format!("unknown attribute `{other}`")),
                        };
                        if *on {
                            style = style.add_modifier(modifier);
                        }
                    }
                    (other, _) => return Err(format!("unexpected `{other}`")),
                }
            }
            Ok(style)
        }
        _ => Err("a style is a colour string or a table { fg, bg, bold, ... }".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A colour as sRGB, named ANSI colours as xterm draws them by default.
    fn rgb(color: Color) -> Option<(u8, u8, u8)> {
        Some(match color {
            Color::Rgb(r, g, b) => (r, g, b),
            Color::Black => (0, 0, 0),
            Color::Red => (205, 0, 0),
            Color::Green => (0, 205, 0),
            Color::Yellow => (205, 205, 0),
            Color::Blue => (0, 0, 238),
            Color::Magenta => (205, 0, 205),
            Color::Cyan => (0, 205, 205),
            Color::Gray => (229, 229, 229),
            Color::DarkGray => (127, 127, 127),
            Color::LightRed => (255, 0, 0),
            Color::LightGreen => (0, 255, 0),
            Color::LightYellow => (255, 255, 0),
            Color::LightBlue => (92, 92, 255),
            Color::LightMagenta => (255, 0, 255),
            Color::LightCyan => (0, 255, 255),
            Color::White => (255, 255, 255),
            Color::Indexed(n @ 16..=231) => {
                let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
                let n = n - 16;
                (level(n / 36), level((n / 6) % 6), level(n % 6))
            }
            Color::Indexed(n @ 232..=255) => {
                let v = 8 + (n - 232) * 10;
                (v, v, v)
            }
            _ => return None,
        })
    }

    /// WCAG 2 relative luminance.
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// Every role's text against the background it is drawn on (its own, or the terminal's the
    /// theme is made for): 4.5:1 for text (WCAG AA), 3:1 for borders (non-text contrast).
    #[test]
    fn every_theme_is_readable_on_its_background() {
        let mut failures = Vec::new();
        for (name, _) in EMBEDDED {
            let theme = Theme::embedded(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let terminal = theme
                .background
                .and_then(rgb)
                .unwrap_or_else(|| panic!("{name} names the background it is made for"));
            for role in Role::all() {
                let style = theme.style(role);
                let Some(fg) = style.fg.and_then(rgb) else {
                    continue;
                };
                let bg = style.bg.and_then(rgb).unwrap_or(terminal);
                let needed = match role {
                    Role::Border | Role::BorderFocused => 3.0,
                    _ => 4.5,
                };
                let ratio = contrast(fg, bg);
                if ratio < needed {
                    failures.push(format!("{name} {}: {ratio:.2} < {needed}", role.key()));
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn every_embedded_theme_sets_every_role() {
        for (name, _) in EMBEDDED {
            let theme = Theme::embedded(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(theme.name, name);
            assert_eq!(theme.styles.len(), Role::all().len(), "{name}");
        }
    }

    #[test]
    fn statuses_have_distinct_styles_in_every_theme() {
        for (name, _) in EMBEDDED {
            let theme = Theme::embedded(name).expect("embedded theme");
            for status in [Status::PlanReady, Status::Applying, Status::Failed] {
                assert_ne!(
                    theme.status(status),
                    theme.status(Status::Applied),
                    "{name}: {status:?}"
                );
            }
            let failed = theme.status(Status::Failed);
            assert!(failed.bg.is_some(), "{name}: failed must stand out");
        }
    }

    #[test]
    fn user_themes_extend_and_override() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mine.toml"),
            "name = \"mine\"\nextends = \"dark\"\n[status]\nfailed = { fg = \"#ff0000\", bold = true }\n",
        )
        .expect("write theme");
        let theme = Theme::load("mine", Some(dir.path())).expect("user theme");
        assert_eq!(theme.status(Status::Failed).fg, Some(Color::Rgb(255, 0, 0)));
        let dark = Theme::embedded("dark").expect("dark");
        assert_eq!(theme.status(Status::Applied), dark.status(Status::Applied));
    }

    #[test]
    fn bad_themes_say_what_is_wrong() {
        let error = Theme::parse("[status]\nfailed = \"reddish\"\n", "t.toml", None)
            .expect_err("bad colour");
        assert!(
            error.to_string().contains("`reddish` is not a colour"),
            "{error}"
        );
        let error = Theme::parse(
            "extends = \"dark\"\n[ui]\nsparkle = \"red\"\n",
            "t.toml",
            None,
        )
        .expect_err("bad role");
        assert!(
            error.to_string().contains("unknown role `ui.sparkle`"),
            "{error}"
        );
        let error = Theme::parse("[ui]\ntext = \"red\"\n", "t.toml", None).expect_err("partial");
        assert!(error.to_string().contains("roles not set"), "{error}");
        assert_eq!(
            Theme::load("neon", None).expect_err("unknown"),
            ThemeError::Unknown("neon".into())
        );
    }

    #[test]
    fn no_color_keeps_emphasis_only() {
        let plain = Theme::default_theme().without_colors();
        for role in Role::all() {
            let style = plain.style(role);
            assert_eq!(style.fg, None, "{role:?}");
            assert_eq!(style.bg, None, "{role:?}");
        }
        assert!(
            plain
                .style(Role::Selection)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}
