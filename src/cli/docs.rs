//! Generated from the command definitions themselves, so they never drift from the binary:
//! shell completions and man pages.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// The completion script for `shell` on stdout: it asks `tfpilot` on PATH for each completion
/// (`TFPILOT_COMPLETE=SHELL tfpilot -- WORDS`), so commands, flags and statuses come from the binary
/// and request ids, environments, projects, modules and templates from the store
/// (`super::complete`). The same script comes from `TFPILOT_COMPLETE=SHELL tfpilot`.
pub fn completions(shell: Shell) -> Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let registrar = shells
        .completer(&name)
        .with_context(|| format!("no completion script for {name}"))?;
    let command = Cli::command();
    let mut out = Vec::new();
    registrar
        .write_registration(
            COMPLETE_VARIABLE,
            command.get_name(),
            "tfpilot",
            "tfpilot",
            &mut out,
        )
        .context("writing the completion script")?;
    write_stdout(&out)
}

/// The environment variable that turns a tfpilot run into a completion answer.
pub const COMPLETE_VARIABLE: &str = "TFPILOT_COMPLETE";

/// Answers a shell's completion request when `TFPILOT_COMPLETE` is set, and exits; otherwise returns.
/// Runs before anything else so nothing is printed ahead of the answer.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VARIABLE)
        .complete();
}

/// `tfpilot(1)` on stdout, or with `dir` one page per command (`tfpilot-create.1`, ...).
pub fn man(dir: Option<&Path>) -> Result<()> {
    let command = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut out)
            .context("rendering the man page")?;
        return write_stdout(&out);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(&command, "tfpilot", dir, &mut written)?;
    let mut text = String::new();
    for path in &written {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    write_stdout(text.as_bytes())
}

fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<()> {
    let page = command
        .clone()
        .display_name(name.to_string())
        .bin_name(name.replace('-', " "));
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(concat!("tfpilot ", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .with_context(|| format!("rendering {name}(1)"))?;
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
