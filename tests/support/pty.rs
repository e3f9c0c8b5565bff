//! The real `tfpilot` binary in a pseudo-terminal, its screen kept by a terminal emulator
//! (vt100), for the pty tests and the benches that time what a user sees.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

#[path = "secrets.rs"]
mod secrets;

pub struct Session {
    master: Box<dyn MasterPty + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: mpsc::Receiver<Vec<u8>>,
    pub screen: vt100::Parser,
    /// Every byte the program wrote (the last few megabytes): for what the screen does not
    /// keep, such as the OSC 52 clipboard sequence.
    pub raw: Vec<u8>,
    /// When the process was spawned.
    pub spawned: Instant,
    _home: Option<tempfile::TempDir>,
}

/// Where a session's HOME and XDG directories are.
pub enum Home {
    /// A temporary directory of its own, removed with the session.
    Fresh,
    /// A directory shared across sessions (a cache that outlives one start).
    At(PathBuf),
}

impl Session {
    /// `tfpilot ARGS` at 120x40 with a home of its own.
    pub fn start(args: &[&str]) -> Session {
        Session::start_with(Home::Fresh, args, 40, 120, &[])
    }

    pub fn start_with(
        home: Home,
        args: &[&str],
        rows: u16,
        cols: u16,
        env: &[(&str, &str)],
    ) -> Session {
        let (temp, home) = match home {
            Home::Fresh => {
                let temp = tempfile::tempdir().expect("temp home");
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
            Home::At(path) => (None, path),
        };
        // portable-pty starts the child in $HOME, so it has to exist.
        std::fs::create_dir_all(&home).expect("home");
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_tfpilot"));
        command.args(args);
        set_home(&mut command, &home);
        command.env("TFPILOT_KEYRING", "off");
        command.env("TERM", "xterm-256color");
        command.env_remove("NO_COLOR");
        for (name, value) in env {
            command.env(name, value);
        }
        let spawned = Instant::now();
        let child = pty.slave.spawn_command(command).expect("spawn tfpilot");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 65536];
            while let Ok(read) = reader.read(&mut buffer) {
                if read == 0 || sender.send(buffer[..read].to_vec()).is_err() {
                    return;
                }
            }
        });
        let screen = vt100::Parser::new(
            std::num::NonZeroU16::new(rows).expect("rows"),
            std::num::NonZeroU16::new(cols).expect("cols"),
            0,
        );
        Session {
            master: pty.master,
            child,
            writer,
            output,
            screen,
            raw: Vec::new(),
            spawned,
            _home: temp,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("a pid")
    }

    /// Takes what the program wrote, waiting up to `wait` for the first bytes. `true` if any.
    pub fn pump(&mut self, wait: Duration) -> bool {
        let mut got = false;
        if let Ok(bytes) = self.output.recv_timeout(wait) {
            self.keep(&bytes);
            got = true;
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.keep(&bytes);
            got = true;
        }
        got
    }

    fn keep(&mut self, bytes: &[u8]) {
        const KEEP: usize = 4 << 20;
        self.screen.process(bytes);
        self.raw.extend_from_slice(bytes);
        if self.raw.len() > KEEP {
            let excess = self.raw.len() - KEEP;
            self.raw.drain(..excess);
        }
    }

    pub fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits until `check` holds for the screen; fails with the screen when it never does.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, check: impl Fn(&Session) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            self.pump(Duration::from_millis(100));
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "tfpilot exited ({status:?}) before {what}:\n{}",
                    self.text()
                );
            }
        }
        panic!(
            "never {what} within {timeout:?}; the screen:\n{}",
            self.text()
        );
    }

    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        self.wait_until(&format!("saw {needle:?}"), timeout, |session| {
            session.text().contains(needle)
        });
    }

    /// Sends bytes as typed, without waiting for anything.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("type");
        self.writer.flush().expect("flush");
    }

    pub fn keys(&mut self, keys: &str) {
        self.send(keys.as_bytes());
        // Each key is its own event, as a person types.
        self.pump(Duration::from_millis(150));
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump(Duration::from_millis(50));
            if let Ok(Some(status)) = self.child.try_wait() {
                // What was written before the exit.
                self.pump(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tfpilot did not exit:\n{}",
                self.text()
            );
        }
    }

    /// `q`, then the exit; killed if it does not come.
    pub fn quit(&mut self) {
        self.send(b"q");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return;
            }
            self.pump(Duration::from_millis(20));
        }
    }

    /// The terminal is back as the shell left it.
    pub fn assert_restored(&self) {
        let screen = self.screen.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        let fd = self.master.as_raw_fd().expect("a unix pty");
        // SAFETY: `termios` is plain data filled in by tcgetattr on a descriptor we own.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is the open master side of the pty; tcgetattr only writes `termios`.
        let read = unsafe { libc::tcgetattr(fd, &mut termios) };
        assert_eq!(read, 0, "tcgetattr on the pty");
        assert_ne!(
            termios.c_lflag & libc::ICANON,
            0,
            "raw mode left on (no ICANON)"
        );
        assert_ne!(
            termios.c_lflag & libc::ECHO,
            0,
            "raw mode left on (no ECHO)"
        );
    }
}

fn set_home(command: &mut CommandBuilder, home: &Path) {
    command.env("HOME", home);
    for (var, sub) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_DATA_HOME", "data"),
    ] {
        command.env(var, home.join(sub));
    }
}

impl Drop for Session {
    /// The home the session made for itself is scanned for secrets the dashboard left there
    /// (its logs, caches, config). A test that already failed says why instead.
    fn drop(&mut self) {
        let _ = self.child.kill();
        if std::thread::panicking() {
            return;
        }
        if let Some(home) = &self._home {
            let found = secrets::secrets_under(home.path());
            assert!(found.is_empty(), "secrets left in files: {found:?}");
        }
    }
}

/// A process's resident memory and its peak, in KiB, from /proc (0 where unreadable).
pub fn resident_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
