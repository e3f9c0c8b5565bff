//! Documentation generated from the code stays in step with it: the key binding reference
//! comes from the embedded keymap. `TFPILOT_UPDATE_DOCS=1 cargo test --test docs` rewrites it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

use tfpilot::tui::keymap::Keymap;

const KEYBINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/keybindings.md");

#[test]
fn the_keybinding_reference_matches_the_embedded_keymap() {
    let generated = Keymap::embedded().reference_markdown();
    if std::env::var_os("TFPILOT_UPDATE_DOCS").is_some() {
        std::fs::write(KEYBINDINGS, &generated).expect("write docs/keybindings.md");
        return;
    }
    let written = std::fs::read_to_string(KEYBINDINGS).unwrap_or_default();
    assert!(
        written == generated,
        "docs/keybindings.md is out of date with assets/keymap.toml; regenerate it with\n  TFPILOT_UPDATE_DOCS=1 cargo test --test docs"
    );
    // The reference names every section's bindings, e.g. the main list's operations.
    for needle in [
        "## [main]",
        "| `a` | `approve` |",
        "## [plan]",
        "## [editor]",
    ] {
        assert!(generated.contains(needle), "{needle}");
    }
}
