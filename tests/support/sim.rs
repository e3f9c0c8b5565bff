//! A simulator with one infra repo, and clients for its users.
#![allow(dead_code)]

use std::collections::BTreeMap;

use tfpilot::github::{GitHub, GitHubSettings, RepoId};
use tfpilot::sim::{SimOptions, Simulator};

pub const FILE: &str = "envs/dev/tfpilot.tf";
pub const PREAMBLE: &str =
    "# Managed partly by tfpilot.\nterraform {\n  required_version = \">= 1.5\"\n}\n";

pub fn repo() -> RepoId {
    RepoId::new("acme", "infra-live")
}

pub async fn simulator(options: SimOptions) -> Simulator {
    let sim = Simulator::for_tests(options)
        .await
        .expect("simulator starts");
    let files = BTreeMap::from([
        (FILE.to_string(), PREAMBLE.to_string()),
        ("envs/prod/tfpilot.tf".to_string(), PREAMBLE.to_string()),
        ("README.md".to_string(), "# infra-live\n".to_string()),
    ]);
    sim.create_repo("acme", "infra-live", with_workflows(files))
        .expect("repo created");
    grant_team(&sim, "acme", "infra-live");
    sim
}

/// The tests' people and their roles in a repository (GitHub lets only collaborators use a
/// private one): the sandbox's team, and the extra logins tests act as.
pub fn grant_team(sim: &Simulator, owner: &str, name: &str) {
    use tfpilot::sim::access::Permission;
    tfpilot::sandbox::grant_team(sim, owner, name).expect("roles granted");
    // The scheduled drift job's token needs to dispatch (docs/infra-repo-setup.md); a
    // reconciler only reads.
    for (login, role) in [
        ("erin", Permission::Write),
        ("seeder", Permission::Write),
        ("drift-bot", Permission::Write),
        ("reconcile-bot", Permission::Read),
    ] {
        sim.grant(owner, name, login, role).expect("role granted");
    }
}

/// `files` and tfpilot's five workflows in `.github/workflows/`: GitHub runs only the workflows
/// a repository holds.
pub fn with_workflows(mut files: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (name, text) in tfpilot::domain::workflows::WORKFLOWS {
        files.insert(format!(".github/workflows/{name}"), text.to_string());
    }
    files
}

pub fn client(sim: &Simulator, login: &str) -> GitHub {
    let settings = GitHubSettings::new(sim.base_url()).without_timeouts();
    GitHub::connect(&settings, &format!("sim-{login}")).expect("client")
}

/// A plain octocrab client as `login`, for requests the typed client does not make.
pub fn octocrab(sim: &Simulator, login: &str) -> octocrab::Octocrab {
    octocrab::Octocrab::builder()
        .base_uri(sim.base_url())
        .expect("the simulator's URL")
        .personal_token(format!("sim-{login}"))
        .build()
        .expect("an octocrab client")
}

/// Count of the client's calls with this endpoint label and outcome.
pub fn calls(github: &GitHub, endpoint: &str, outcome: &str) -> u64 {
    github
        .transport()
        .call_counts()
        .iter()
        .filter(|count| count.endpoint == endpoint && count.outcome == outcome)
        .map(|count| count.count)
        .sum()
}
