//! The workflow templates of docs/workflows/, embedded so the binary carries them: `init-repo`
//! writes them, `doctor` looks for them, the sandbox's repositories start with them.

/// The workflows of docs/workflows/, embedded so the binary carries them.
pub const WORKFLOWS: [(&str, &str); 5] = [
    (
        "tfpilot-plan.yml",
        include_str!("../../docs/workflows/tfpilot-plan.yml"),
    ),
    (
        "tfpilot-apply.yml",
        include_str!("../../docs/workflows/tfpilot-apply.yml"),
    ),
    (
        "tfpilot-destroy.yml",
        include_str!("../../docs/workflows/tfpilot-destroy.yml"),
    ),
    (
        "tfpilot-cleanup.yml",
        include_str!("../../docs/workflows/tfpilot-cleanup.yml"),
    ),
    (
        "tfpilot-drift.yml",
        include_str!("../../docs/workflows/tfpilot-drift.yml"),
    ),
];
