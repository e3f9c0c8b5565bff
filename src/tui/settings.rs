//! What the list looked like when the dashboard closed (the view, the filters, the sort),
//! kept per store in the state directory, so the next start opens the same way.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::list::{Filter, ListState, ListView, SortKey};
use crate::domain::Status;

/// Anything bigger is not a settings file of ours.
const MAX_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewSettings {
    pub view: ListView,
    pub text: String,
    pub status: Option<String>,
    pub environment: Option<String>,
    pub project: Option<String>,
    pub sort: String,
    pub descending: bool,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings::of(&ListState::default())
    }
}

/// Where the settings for the store at `location` are kept.
pub fn settings_file_for(state_dir: &Path, location: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(location.as_bytes());
    let name: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    state_dir.join("dashboard").join(format!("{name}.json"))
}

impl ViewSettings {
    pub fn of(list: &ListState) -> ViewSettings {
        let filter = &list.filter;
        ViewSettings {
            view: filter.view,
            text: filter.text.clone(),
            status: filter.status.map(|status| status.as_str().to_string()),
            environment: filter.environment.clone(),
            project: filter.project.clone(),
            sort: list.sort.label().to_string(),
            descending: list.descending,
        }
    }

    /// Shows the list this way; a value that no longer means anything (a status renamed,
    /// a sort column gone) falls back to the default.
    pub fn apply(&self, list: &mut ListState) {
        list.set_filter(Filter {
            view: self.view,
            text: self.text.clone(),
            status: self.status.as_deref().and_then(Status::parse),
            environment: self.environment.clone(),
            project: self.project.clone(),
        });
        let sort = SortKey::parse(&self.sort).unwrap_or(SortKey::Created);
        list.set_sort(sort, self.descending);
    }

    /// The saved settings, if a readable, small, regular file holds them.
    pub fn load(path: &Path) -> Option<ViewSettings> {
        let metadata = std::fs::symlink_metadata(path).ok()?;
        if !metadata.is_file() || metadata.len() > MAX_BYTES {
            return None;
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .ok()?
            .take(MAX_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the settings (a new file, renamed over the old one).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            crate::private_files::create_private_dir_all(parent)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn settings_round_trip_through_a_file_and_ignore_what_is_not_theirs() {
        let dir = std::env::temp_dir().join(format!(
            "tfpilot-settings-{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ));
        let path = settings_file_for(&dir, "s3://bucket/prefix");
        let mut list = ListState::default();
        list.set_filter(Filter {
            view: ListView::WaitingOnMe,
            text: "payments".into(),
            status: Some(Status::PlanReady),
            environment: Some("prod".into()),
            project: None,
        });
        list.set_sort(SortKey::Module, false);
        ViewSettings::of(&list).save(&path).unwrap();
        let mut fresh = ListState::default();
        ViewSettings::load(&path).expect("saved").apply(&mut fresh);
        assert_eq!(fresh.filter, list.filter);
        assert_eq!((fresh.sort, fresh.descending), (SortKey::Module, false));
        // Not JSON, or too big: ignored, the defaults stand.
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(ViewSettings::load(&path), None);
        std::fs::write(&path, vec![b' '; 100 * 1024]).unwrap();
        assert_eq!(ViewSettings::load(&path), None);
        // A status that no longer exists falls back to any status.
        let old: ViewSettings =
            serde_json::from_str(r#"{"status": "teleported", "sort": "nonsense"}"#).unwrap();
        let mut list = ListState::default();
        old.apply(&mut list);
        assert_eq!(list.filter.status, None);
        assert_eq!(list.sort, SortKey::Created);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
