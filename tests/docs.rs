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

/// Every file of the repository this test reads: sources, docs, the README, tests and scripts.
fn repository_texts() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "rs" || ext == "md" || ext == "toml")
            {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md"), root.join("Cargo.toml")];
    for dir in ["src", "docs", "tests", "benches", "assets", "scripts"] {
        walk(&root.join(dir), &mut paths);
    }
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

/// The repository stands on its own: it cites no document outside it, and every document it
/// names (a `docs/….md` path, a relative Markdown link) is there.
#[test]
fn every_referenced_document_is_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let outside = [
        concat!("DESIGN ", "section"),
        concat!("DESIGN ", "§"),
        concat!("../", "shared/"),
    ];
    let docs_path = regex::Regex::new(r"docs/[a-z0-9_-]+\.md").unwrap();
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").unwrap();
    let mut missing = Vec::new();
    for (path, text) in repository_texts() {
        let shown = path.strip_prefix(root).unwrap().display().to_string();
        for needle in outside {
            if text.contains(needle) {
                missing.push(format!(
                    "{shown} cites `{needle}`, which is not in this repository"
                ));
            }
        }
        for found in docs_path.find_iter(&text) {
            if !root.join(found.as_str()).is_file() {
                missing.push(format!("{shown} names {}", found.as_str()));
            }
        }
        if path.extension().is_some_and(|ext| ext == "md") {
            for captures in link.captures_iter(&text) {
                let target = &captures[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let dir = path.parent().unwrap();
                if !dir.join(target).exists() {
                    missing.push(format!("{shown} links to {target}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
