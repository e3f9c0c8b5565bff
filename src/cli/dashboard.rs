//! Opening the dashboard: the engine for whoever is logged in, the keymap and theme from the
//! config directory (defaults embedded), then the TUI until the user quits.

use anyhow::{Context, Result};

use super::Invocation;
use crate::engine::Engine;
use crate::store::listing::cache_file_for;
use crate::tui::keymap::Keymap;
use crate::tui::state::Workspace;
use crate::tui::theme::{DEFAULT_THEME, Theme};
use crate::tui::{self, DashboardOptions};

/// `tfpilot` with no command: the dashboard on the configured store and GitHub.
pub async fn run(context: &Invocation) -> Result<()> {
    require_terminal()?;
    let engine = super::ops::engine(context).await?;
    let store = engine.store().location();
    let github = context.config.github.api_url.clone();
    open(context, engine, store, github, None).await
}

/// Refuses before anything starts when there is no terminal to draw on (a pipe, cron, CI).
pub fn require_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal, and this is not one; for scripts use the commands (`tfpilot --help`), or `tfpilot sandbox --headless`"
        );
    }
    Ok(())
}

/// The dashboard over `engine`. A sandbox passes its `greeting` (and is marked in the header,
/// so nobody mistakes it for production).
pub async fn open(
    context: &Invocation,
    engine: Engine,
    store: String,
    github: String,
    greeting: Option<String>,
) -> Result<()> {
    let sandbox = greeting.is_some();
    let config_dir = context.dirs.as_ref().map(|dirs| dirs.config.clone());
    let keymap = Keymap::load(
        config_dir
            .as_ref()
            .map(|dir| dir.join("keymap.toml"))
            .as_deref(),
    )
    .context("loading the keymap")?;
    let theme_name = context.config.ui.theme.as_deref().unwrap_or(DEFAULT_THEME);
    let mut theme = Theme::load(
        theme_name,
        config_dir.as_ref().map(|dir| dir.join("themes")).as_deref(),
    )
    .context("loading the theme")?;
    if std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty()) {
        theme = theme.without_colors();
    }
    let list_cache = context
        .dirs
        .as_ref()
        .map(|dirs| cache_file_for(&dirs.cache, &engine.store().location()));
    let view_settings = context.dirs.as_ref().map(|dirs| {
        crate::tui::settings::settings_file_for(&dirs.state, &engine.store().location())
    });
    let role = engine.team().access.role_of(engine.actor());
    let workspace = Workspace {
        store,
        github,
        user: engine.actor().to_string(),
        role,
        sandbox,
    };
    let assistant = super::assist::model(context)
        .map(|model| std::sync::Arc::new(model) as std::sync::Arc<dyn crate::assistant::ChatModel>)
        .map_err(|error| error.to_string());
    tui::run(DashboardOptions {
        assistant,
        engine,
        workspace,
        intervals: context.config.sync,
        keymap,
        theme,
        mouse: context.config.ui.mouse,
        bell: context.config.ui.bell,
        desktop: context.config.ui.desktop,
        list_cache,
        greeting,
        view_settings,
    })
    .await
}
