//! What a key (or the palette) can ask for: payload-free commands that keymaps bind. Each one's
//! keymap name and description come from the one table below, which help, the footer, the
//! palette and `docs/keybindings.md` all read.

use serde::{Deserialize, Deserializer};

use crate::domain::operation::Operation;

/// Declares the enum and its table at once, so a command cannot exist without its name and
/// description.
macro_rules! commands {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Command {
            $($variant,)*
        }

        impl Command {
            /// Every command, in declaration order.
            pub const ALL: &'static [Command] = &[$(Command::$variant,)*];

            /// The snake_case name the keymap and the palette use.
            pub fn name(self) -> &'static str {
                match self {
                    $(Command::$variant => $name,)*
                }
            }

            /// What the command does, for help, the palette and the footer.
            pub fn description(self) -> &'static str {
                match self {
                    $(Command::$variant => $description,)*
                }
            }
        }
    };
}

commands! {
    Quit => "quit", "quit";
    Back => "back", "back / close";
    Help => "help", "help: every key";
    Palette => "palette", "command palette";
    MoveDown => "move_down", "down";
    MoveUp => "move_up", "up";
    PageDown => "page_down", "page down";
    PageUp => "page_up", "page up";
    Top => "top", "first";
    Bottom => "bottom", "last";
    Open => "open", "open the plan or log";
    SwitchPane => "switch_pane", "switch pane";
    Filter => "filter", "filter by text";
    FilterStatus => "filter_status", "filter by status";
    FilterEnvironment => "filter_environment", "filter by environment";
    FilterProject => "filter_project", "filter by project";
    ClearFilters => "clear_filters", "clear filters";
    ViewAll => "view_all", "view: every request";
    ViewMine => "view_mine", "view: requested by me";
    ViewWaitingOnMe => "view_waiting_on_me", "view: waiting on me (approve, merge, apply, review)";
    ViewActive => "view_active", "view: in flight";
    Sort => "sort", "sort by next column";
    ReverseSort => "reverse_sort", "reverse sort";
    Create => "create", "create a request";
    Edit => "edit", "edit config";
    Plan => "plan", "plan";
    Approve => "approve", "approve";
    Merge => "merge", "merge";
    Apply => "apply", "apply";
    Destroy => "destroy", "destroy";
    Cleanup => "cleanup", "clean up";
    DriftCheck => "drift_check", "drift check";
    ApproveDeployment => "approve_deployment", "approve the deployment";
    RejectDeployment => "reject_deployment", "reject the deployment";
    CancelRun => "cancel_run", "cancel the run";
    Withdraw => "withdraw", "withdraw the request: close its PR unmerged, delete its branch";
    OverridePolicy => "override_policy", "let the latest plan through the policies' deny, with a reason (admins)";
    Refresh => "refresh", "refresh now";
    CopyId => "copy_id", "copy the request id";
    CopyMenu => "copy_menu", "copy: PR or run URL, branch, show command";
    OpenLink => "open_link", "open the run or PR in a browser";
    PlanLog => "plan_log", "plan / log";
    Insights => "insights", "insights";
    Events => "events", "the selected request's event log";
    Activity => "activity", "team activity: the latest events across requests";
    Diff => "diff", "the pull request's diff: this request's block, anything else flagged";
    ToggleBell => "toggle_bell", "bell when a run ends";
    Search => "search", "search";
    NextMatch => "next_match", "next match";
    PreviousMatch => "previous_match", "previous match";
    ToggleFold => "toggle_fold", "fold / unfold the block at the cursor";
    NextResource => "next_resource", "next resource";
    PreviousResource => "previous_resource", "previous resource";
    NextOwnerChange => "next_owner_change", "next change across this request / outside it";
    PreviousOwnerChange => "previous_owner_change", "previous change across this request / outside it";
    UnfoldAll => "unfold_all", "unfold all";
    FoldAll => "fold_all", "fold all";
    Follow => "follow", "follow the log";
    ScrollLeft => "scroll_left", "scroll left";
    ScrollRight => "scroll_right", "scroll right";
    Confirm => "confirm", "confirm";
    Cancel => "cancel", "cancel";
    Submit => "submit", "submit";
    NextField => "next_field", "next field";
    PreviousField => "previous_field", "previous field";
    Ask => "ask", "ask the assistant to fill the create form";
}

impl Command {
    /// The command a keymap name means.
    pub fn parse(name: &str) -> Option<Command> {
        Command::ALL
            .iter()
            .copied()
            .find(|command| command.name() == name)
    }

    /// The valid name nearest to a misspelt one, when one is near enough to be a likely typo.
    pub fn closest(name: &str) -> Option<Command> {
        Command::ALL
            .iter()
            .copied()
            .map(|command| (strsim::levenshtein(name, command.name()), command))
            .filter(|(distance, command)| {
                *distance <= 3.max(command.name().len() / 3) && *distance < command.name().len()
            })
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, command)| command)
    }

    /// The lifecycle operation this command asks for, if it is one.
    pub fn operation(self) -> Option<Operation> {
        Some(match self {
            Command::Plan => Operation::Plan,
            Command::Approve => Operation::Approve,
            Command::Merge => Operation::Merge,
            Command::Apply => Operation::Apply,
            Command::Destroy => Operation::Destroy,
            Command::Cleanup => Operation::Cleanup,
            Command::DriftCheck => Operation::DriftCheck,
            Command::ApproveDeployment => Operation::ApproveDeployment,
            Command::RejectDeployment => Operation::RejectDeployment,
            Command::CancelRun => Operation::Cancel,
            Command::Withdraw => Operation::Withdraw,
            Command::OverridePolicy => Operation::OverridePolicy,
            _ => return None,
        })
    }

    /// Commands that change infrastructure or GitHub: shown in the danger colour. The domain
    /// decides which operations those are (the ones that ask before they run).
    pub fn is_dangerous(self) -> bool {
        self.operation().is_some_and(Operation::needs_confirmation)
    }

    /// The commands the palette offers, in the order it lists them before any typing.
    pub const PALETTE: [Command; 39] = [
        Command::Plan,
        Command::Approve,
        Command::Merge,
        Command::Apply,
        Command::Destroy,
        Command::Cleanup,
        Command::DriftCheck,
        Command::ApproveDeployment,
        Command::RejectDeployment,
        Command::CancelRun,
        Command::Withdraw,
        Command::OverridePolicy,
        Command::Create,
        Command::Edit,
        Command::PlanLog,
        Command::Diff,
        Command::CopyId,
        Command::CopyMenu,
        Command::OpenLink,
        Command::Events,
        Command::Activity,
        Command::Refresh,
        Command::Filter,
        Command::FilterStatus,
        Command::FilterEnvironment,
        Command::FilterProject,
        Command::ViewAll,
        Command::ViewMine,
        Command::ViewWaitingOnMe,
        Command::ViewActive,
        Command::ClearFilters,
        Command::Sort,
        Command::ReverseSort,
        Command::Insights,
        Command::ToggleBell,
        Command::Follow,
        Command::Help,
        Command::Back,
        Command::Quit,
    ];
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Command::parse(&name).ok_or_else(|| {
            let hint = Command::closest(&name)
                .map(|command| format!("; did you mean \"{}\"?", command.name()))
                .unwrap_or_default();
            serde::de::Error::custom(format!("\"{name}\" is not a command{hint}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_table() {
        assert_eq!(Command::DriftCheck.name(), "drift_check");
        for command in Command::ALL {
            assert_eq!(Command::parse(command.name()), Some(*command));
            let parsed: Command =
                serde_json::from_value(serde_json::Value::String(command.name().into()))
                    .expect("every name deserializes");
            assert_eq!(parsed, *command);
        }
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut names: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Command::ALL.len());
    }

    #[test]
    fn misspellings_find_the_nearest_command() {
        assert_eq!(Command::closest("move_donw"), Some(Command::MoveDown));
        assert_eq!(Command::closest("aprove"), Some(Command::Approve));
        assert_eq!(Command::closest("driftcheck"), Some(Command::DriftCheck));
        assert_eq!(Command::closest("xyzzy"), None);
        let error = serde_json::from_str::<Command>("\"delete\"").expect_err("not a command");
        assert!(error.to_string().contains("did you mean"), "{error}");
    }

    #[test]
    fn only_operations_that_change_infrastructure_are_dangerous() {
        let dangerous: Vec<Command> = Command::ALL
            .iter()
            .copied()
            .filter(|c| c.is_dangerous())
            .collect();
        assert_eq!(
            dangerous,
            [
                Command::Merge,
                Command::Apply,
                Command::Destroy,
                Command::Cleanup,
                Command::ApproveDeployment,
                Command::RejectDeployment,
                Command::CancelRun,
                Command::Withdraw,
                Command::OverridePolicy
            ]
        );
    }
}
