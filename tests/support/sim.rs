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
    sim
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
