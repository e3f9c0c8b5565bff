//! Keeping a simulated GitHub on disk, so a sandbox restarted on the same directory finds its
//! repositories, pull requests, reviews and runs again. Faults, rate budgets, call counters and
//! device codes are moments of one session and start fresh.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SimError;
use super::git::Repository;
use super::model::{Pull, Review, Run, ScriptedOutcome, SimState};

/// The file format's version; a newer file is refused rather than half read.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub struct SavedWorld {
    version: u32,
    next_id: u64,
    users: BTreeMap<String, u64>,
    repos: Vec<Repository>,
    pulls: Vec<Pull>,
    reviews: Vec<Review>,
    runs: Vec<Run>,
    deployed: Vec<Deployed>,
    dispatches: BTreeMap<String, u32>,
    outcomes: Vec<ScriptedOutcome>,
}

/// What earlier applies left in one directory's Terraform state.
#[derive(Serialize, Deserialize)]
struct Deployed {
    repo: String,
    directory: String,
    blocks: BTreeMap<String, String>,
}

impl SavedWorld {
    pub fn capture(state: &SimState) -> Self {
        SavedWorld {
            version: VERSION,
            next_id: state.next_id,
            users: state.users.clone(),
            repos: state.repos.values().cloned().collect(),
            pulls: state.pulls.clone(),
            reviews: state.reviews.clone(),
            runs: state.runs.clone(),
            deployed: state
                .deployed
                .iter()
                .map(|((repo, directory), blocks)| Deployed {
                    repo: repo.clone(),
                    directory: directory.clone(),
                    blocks: blocks.clone(),
                })
                .collect(),
            dispatches: state.dispatches.clone(),
            outcomes: state.outcomes.clone(),
        }
    }

    pub fn restore(self, state: &mut SimState) {
        state.next_id = self.next_id.max(state.next_id);
        state.users = self.users;
        state.repos = self
            .repos
            .into_iter()
            .map(|repo| (repo.full_name().to_ascii_lowercase(), repo))
            .collect();
        state.pulls = self.pulls;
        state.reviews = self.reviews;
        state.runs = self.runs;
        state.deployed = self
            .deployed
            .into_iter()
            .map(|d| ((d.repo, d.directory), d.blocks))
            .collect();
        state.dispatches = self.dispatches;
        state.outcomes = self.outcomes;
    }

    pub fn load(path: &Path) -> Result<Option<SavedWorld>, SimError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(SimError::Invalid(format!(
                    "cannot read the saved simulator at {}: {error}",
                    path.display()
                )));
            }
        };
        let world: SavedWorld = serde_json::from_slice(&text).map_err(|error| {
            SimError::Invalid(format!(
                "{} is not a saved simulator ({error}); move it away to start a fresh one",
                path.display()
            ))
        })?;
        if world.version > VERSION {
            return Err(SimError::Invalid(format!(
                "{} was saved by a newer tfpilot (version {}); upgrade tfpilot",
                path.display(),
                world.version
            )));
        }
        Ok(Some(world))
    }

    /// Writes atomically: a crash mid-save leaves the previous file whole.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let body = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, body)?;
        std::fs::rename(&partial, path)
    }
}
