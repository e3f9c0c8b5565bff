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
        let mut styles = match table.get("extends").and_then(|v| v.as_str()) {
            Some(base) if base != name => Theme::load(base, user_dir)?.styles,
            Some(base) => return Err(invalid(format!("a theme cannot extend itself ({base})"))),
            None => HashMap::new(),
        };
        let roles = Role::all();
        for (section, entries) in &table {
            if section == "name" || section == "extends" {
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
        Ok(Theme { name, styles })
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
