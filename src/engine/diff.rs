//! The pull request's diff for `tfpilot diff` and the dashboard: read from GitHub (the pull
//! request as it is now, its files, and the block's file at its head), attributed by
//! `domain::pull_diff`. Reading only: no lock, nothing written.

use super::{Engine, EngineError, repo_of, target_file};
use crate::domain::pull_diff::{PullDiff, block_lines};

impl Engine {
    /// What request `id`'s pull request changes, each line attributed to its block or not.
    /// Costs three GitHub reads (the pull request, its files, the file at its head).
    pub async fn pull_diff(&self, id: &str) -> Result<PullDiff, EngineError> {
        let request = self.store.get_request(id).await?.value;
        let (repo, target) = repo_of(&request)?;
        let number = request
            .pr
            .as_deref()
            .and_then(|pr| pr.number)
            .ok_or_else(|| EngineError::Invalid {
                message: format!(
                    "{id} has no pull request yet: its create did not get that far (run the create again with its idempotency key)"
                ),
            })?;
        let pull = self.github.get_pull_current(&repo, number).await?;
        let files = self.github.pull_files(&repo, number).await?;
        let file = target_file(target);
        let block = match self.github.get_file(&repo, &file, &pull.head.sha).await? {
            Some(content) => block_lines(&content.text, &file, request.block_id()),
            None => Ok(None),
        };
        Ok(PullDiff::attribute(
            id,
            number,
            files.iter().map(|file| file.to_changed()).collect(),
            &file,
            block,
        ))
    }
}
