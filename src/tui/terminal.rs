//! Terminal hygiene: raw mode and the alternate screen are undone on every way out: a normal
//! quit, an error (the guard drops), a panic (the hook restores first, then reports), and
//! SIGTERM/SIGHUP (the loop treats them as quit).

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal's special modes; dropping it puts the terminal back.
pub struct TerminalGuard {
    mouse: bool,
}

static PANIC_HOOK: Once = Once::new();

impl TerminalGuard {
    pub fn enter(mouse: bool) -> io::Result<(TerminalGuard, Term)> {
        install_panic_hook(mouse);
        enable_raw_mode()?;
        // From here on, a failure still restores (the guard exists before anything else).
        let guard = TerminalGuard { mouse };
        let mut stdout = io::stdout();
        execute!(
            stdout,
            EnterAlternateScreen,
            EnableFocusChange,
            EnableBracketedPaste,
            cursor::Hide
        )?;
        if mouse {
            execute!(stdout, EnableMouseCapture)?;
        }
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore(self.mouse);
    }
}

/// Best effort: every step runs even if an earlier one failed.
fn restore(mouse: bool) {
    let mut stdout = io::stdout();
    if mouse {
        let _ = execute!(stdout, DisableMouseCapture);
    }
    let _ = execute!(
        stdout,
        DisableBracketedPaste,
        DisableFocusChange,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

fn install_panic_hook(mouse: bool) {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the report is readable and the shell usable.
            restore(mouse);
            previous(info);
        }));
    });
}
