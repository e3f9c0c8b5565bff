//! A small content-addressed repository: commits hold whole trees (path ->
//! content), branches point at commits. Enough git for contents, refs, pull
//! requests, mergeability and merges to behave like GitHub's.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::infra_file;

pub type Tree = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    pub tree: Tree,
    pub parents: Vec<String>,
    pub message: String,
    pub author: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub commits: HashMap<String, Commit>,
    pub branches: BTreeMap<String, String>,
    /// Lightweight tags: name -> commit.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Approving reviews a PR needs before it can be merged (branch protection).
    pub required_approvals: u32,
    /// Deployment environments: name -> required reviewers (none: an unprotected environment).
    #[serde(default)]
    pub environments: BTreeMap<String, Vec<String>>,
    /// Who may use it besides the owner, and how (`sim::access`).
    #[serde(default)]
    pub collaborators: BTreeMap<String, super::access::Permission>,
}

/// One file a pull request changes, with its unified diff hunks (three lines of context, no
/// file headers), as GitHub's `patch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `modified`.
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
    pub patch: String,
    /// The blob of the head's version (of the base's, for a removed file).
    pub sha: String,
}

impl FileChange {
    fn new(path: &str, before: Option<&str>, after: Option<&str>) -> FileChange {
        let status = match (before, after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "modified",
        };
        let (old, new) = (before.unwrap_or(""), after.unwrap_or(""));
        let diff = similar::TextDiff::from_lines(old, new);
        let (mut additions, mut deletions) = (0, 0);
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => additions += 1,
                similar::ChangeTag::Delete => deletions += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        let patch: String = diff
            .unified_diff()
            .context_radius(3)
            .iter_hunks()
            .map(|hunk| hunk.to_string())
            .collect();
        FileChange {
            path: path.to_string(),
            status,
            additions,
            deletions,
            patch: patch.trim_end_matches('\n').to_string(),
            sha: blob_sha(after.or(before).unwrap_or("")),
        }
    }
}

/// A 40-hex-digit id, shaped like a git SHA-1.
pub fn content_sha(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

pub fn blob_sha(content: &str) -> String {
    content_sha(&[b"blob", content.as_bytes()])
}

pub fn tree_sha(tree: &Tree) -> String {
    let mut parts: Vec<&[u8]> = vec![b"tree"];
    for (path, content) in tree {
        parts.push(path.as_bytes());
        parts.push(content.as_bytes());
    }
    content_sha(&parts)
}

impl Repository {
    pub fn new(
        id: u64,
        owner: &str,
        name: &str,
        files: Tree,
        author: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let mut repo = Self {
            id,
            owner: owner.to_string(),
            name: name.to_string(),
            default_branch: "main".to_string(),
            commits: HashMap::new(),
            branches: BTreeMap::new(),
            tags: BTreeMap::new(),
            required_approvals: 0,
            environments: BTreeMap::new(),
            collaborators: BTreeMap::new(),
        };
        let root = repo.add_commit(files, Vec::new(), "Initial commit", author, at);
        repo.branches.insert("main".to_string(), root);
        repo
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// When the repository was made: its first commit.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.commits
            .values()
            .map(|commit| commit.at)
            .min()
            .unwrap_or_default()
    }

    pub fn add_commit(
        &mut self,
        tree: Tree,
        parents: Vec<String>,
        message: &str,
        author: &str,
        at: DateTime<Utc>,
    ) -> String {
        let tree_id = tree_sha(&tree);
        let mut parts: Vec<&[u8]> = vec![b"commit", tree_id.as_bytes(), message.as_bytes()];
        for parent in &parents {
            parts.push(parent.as_bytes());
        }
        let stamp = at.to_rfc3339();
        parts.push(stamp.as_bytes());
        let count = self.commits.len().to_string();
        parts.push(count.as_bytes());
        let sha = content_sha(&parts);
        self.commits.insert(
            sha.clone(),
            Commit {
                sha: sha.clone(),
                tree,
                parents,
                message: message.to_string(),
                author: author.to_string(),
                at,
            },
        );
        sha
    }

    /// A branch or tag name (bare or as a full ref) or a commit sha, as GitHub's `ref`
    /// parameters accept. A bare name is a branch before it is a tag, as in git.
    pub fn resolve(&self, reference: &str) -> Option<&Commit> {
        let tag = reference
            .strip_prefix("refs/tags/")
            .or_else(|| reference.strip_prefix("tags/"));
        if let Some(tag) = tag {
            return self.tags.get(tag).and_then(|sha| self.commits.get(sha));
        }
        let name = reference
            .strip_prefix("refs/heads/")
            .or_else(|| reference.strip_prefix("heads/"))
            .unwrap_or(reference);
        self.branches
            .get(name)
            .or_else(|| self.tags.get(name))
            .and_then(|sha| self.commits.get(sha))
            .or_else(|| self.commits.get(reference))
    }

    pub fn tip(&self, branch: &str) -> Option<&Commit> {
        self.branches
            .get(branch)
            .and_then(|sha| self.commits.get(sha))
    }

    fn ancestors(&self, sha: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([sha.to_string()]);
        while let Some(next) = queue.pop_front() {
            if !seen.insert(next.clone()) {
                continue;
            }
            if let Some(commit) = self.commits.get(&next) {
                queue.extend(commit.parents.iter().cloned());
            }
        }
        seen
    }

    /// The nearest common ancestor (breadth-first from `head`).
    pub fn merge_base(&self, base: &str, head: &str) -> Option<String> {
        let base_ancestors = self.ancestors(base);
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([head.to_string()]);
        while let Some(next) = queue.pop_front() {
            if base_ancestors.contains(&next) {
                return Some(next);
            }
            if !seen.insert(next.clone()) {
                continue;
            }
            if let Some(commit) = self.commits.get(&next) {
                queue.extend(commit.parents.iter().cloned());
            }
        }
        None
    }

    /// Commits on `head` that `base` does not have.
    pub fn ahead_by(&self, base: &str, head: &str) -> usize {
        let base_ancestors = self.ancestors(base);
        self.ancestors(head).difference(&base_ancestors).count()
    }

    /// Files changed on both sides since the branch point. GitHub reports such a
    /// pull request as not mergeable until its branch is updated.
    pub fn overlapping_changes(&self, base: &str, head: &str) -> Vec<String> {
        let (Some(base_commit), Some(head_commit)) =
            (self.commits.get(base), self.commits.get(head))
        else {
            return Vec::new();
        };
        let ancestor = self
            .merge_base(base, head)
            .and_then(|sha| self.commits.get(&sha))
            .map(|commit| commit.tree.clone())
            .unwrap_or_default();
        let changed = |tree: &Tree| -> BTreeSet<String> {
            ancestor
                .keys()
                .chain(tree.keys())
                .filter(|path| ancestor.get(*path) != tree.get(*path))
                .cloned()
                .collect()
        };
        changed(&base_commit.tree)
            .intersection(&changed(&head_commit.tree))
            .cloned()
            .collect()
    }

    /// What a pull request of `head` into `base` changes, as GitHub's "files" list shows it:
    /// the head's tree against the merge base (the three-dot diff), path by path.
    pub fn changed_files(&self, base: &str, head: &str) -> Vec<FileChange> {
        let Some(head_commit) = self.commits.get(head) else {
            return Vec::new();
        };
        let ancestor = self
            .merge_base(base, head)
            .and_then(|sha| self.commits.get(&sha))
            .map(|commit| commit.tree.clone())
            .unwrap_or_default();
        let paths: BTreeSet<&String> = ancestor.keys().chain(head_commit.tree.keys()).collect();
        paths
            .into_iter()
            .filter_map(|path| {
                let before = ancestor.get(path);
                let after = head_commit.tree.get(path);
                if before == after {
                    return None;
                }
                Some(FileChange::new(
                    path,
                    before.map(String::as_str),
                    after.map(String::as_str),
                ))
            })
            .collect()
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.ancestors(descendant).contains(ancestor)
    }

    /// The tree a merge of `head` into `base` would produce, or the paths that
    /// conflict. Files changed on one side only take that side. Files changed on
    /// both sides merge when the only differences are whole tfpilot blocks (each
    /// request owns its block, so concurrent requests never touch the same bytes);
    /// any other concurrent change to one file is a conflict.
    pub fn merge_trees(&self, base: &str, head: &str) -> Result<Tree, Vec<String>> {
        let (Some(base_commit), Some(head_commit)) =
            (self.commits.get(base), self.commits.get(head))
        else {
            return Err(vec!["<unknown commit>".to_string()]);
        };
        let ancestor = self
            .merge_base(base, head)
            .and_then(|sha| self.commits.get(&sha))
            .map(|commit| commit.tree.clone())
            .unwrap_or_default();
        let mut merged = base_commit.tree.clone();
        let mut conflicts = Vec::new();
        let paths: BTreeSet<&String> = ancestor
            .keys()
            .chain(base_commit.tree.keys())
            .chain(head_commit.tree.keys())
            .collect();
        for path in paths {
            let (old, ours, theirs) = (
                ancestor.get(path),
                base_commit.tree.get(path),
                head_commit.tree.get(path),
            );
            if theirs == old || theirs == ours {
                continue; // Head did not change it, or both made the same change.
            }
            if ours == old {
                match theirs {
                    Some(content) => merged.insert(path.clone(), content.clone()),
                    None => merged.remove(path),
                };
                continue;
            }
            match merge_blocks(old, ours, theirs) {
                Some(content) => {
                    merged.insert(path.clone(), content);
                }
                None => conflicts.push(path.clone()),
            }
        }
        if conflicts.is_empty() {
            Ok(merged)
        } else {
            Err(conflicts)
        }
    }
}

/// Apply head's tfpilot block changes (relative to the ancestor) on top of the
/// base's version of a file, when the file's other bytes match on both sides.
fn merge_blocks(
    old: Option<&String>,
    ours: Option<&String>,
    theirs: Option<&String>,
) -> Option<String> {
    let empty = String::new();
    let (old, ours, theirs) = (
        old.unwrap_or(&empty),
        ours.unwrap_or(&empty),
        theirs.unwrap_or(&empty),
    );
    let old_blocks = blocks(old)?;
    let their_blocks = blocks(theirs)?;
    // Head may only have changed blocks; what base changed elsewhere is kept.
    if strip_blocks(old)? != strip_blocks(theirs)? {
        return None;
    }
    let our_blocks = blocks(ours)?;
    let mut result = ours.clone();
    for (id, text) in &their_blocks {
        if old_blocks.get(id) == Some(text) {
            continue;
        }
        if our_blocks.get(id) != old_blocks.get(id) {
            return None; // Both sides changed this request's block.
        }
        result = replace_block(&result, id, text)?;
    }
    for id in old_blocks.keys() {
        if !their_blocks.contains_key(id) {
            if our_blocks.get(id) != old_blocks.get(id) {
                return None;
            }
            result = infra_file::remove_block(&result, "merge", id)
                .ok()?
                .unwrap_or(result);
        }
    }
    Some(result)
}

/// Block id -> the block's bytes, markers included.
pub fn blocks(file: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in file.lines() {
        if let Some(id) = line.trim().strip_prefix("# tfpilot:begin/") {
            let range = infra_file::find_block(file, "file", id).ok()??;
            out.insert(id.to_string(), file[range].to_string());
        }
    }
    Some(out)
}

fn strip_blocks(file: &str) -> Option<String> {
    let mut rest = file.to_string();
    for id in blocks(file)?.keys() {
        rest = infra_file::remove_block(&rest, "file", id).ok()??;
    }
    // Separators around appended blocks are not content.
    Some(rest.trim_end().to_string())
}

fn replace_block(file: &str, id: &str, text: &str) -> Option<String> {
    match infra_file::find_block(file, "file", id).ok()? {
        Some(range) => Some(format!(
            "{}{}{}",
            &file[..range.start],
            text,
            &file[range.end..]
        )),
        None => {
            let separator = if file.is_empty() {
                ""
            } else if file.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            Some(format!("{file}{separator}{text}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn block(id: &str, body: &str) -> String {
        format!("# tfpilot:begin/{id}\n{body}\n# tfpilot:end/{id}\n")
    }

    fn repo_with(file: &str) -> Repository {
        Repository::new(
            1,
            "acme",
            "infra",
            Tree::from([("main.tf".into(), file.into())]),
            "alice",
            at(),
        )
    }

    fn commit_on(repo: &mut Repository, branch: &str, from: &str, content: &str) -> String {
        let parent = repo.branches[from].clone();
        let mut tree = repo.commits[&parent].tree.clone();
        tree.insert("main.tf".into(), content.into());
        let sha = repo.add_commit(tree, vec![parent], "change", "alice", at());
        repo.branches.insert(branch.into(), sha.clone());
        sha
    }

    #[test]
    fn concurrent_blocks_in_one_file_merge() {
        let base = "terraform {}\n";
        let mut repo = repo_with(base);
        let a = commit_on(
            &mut repo,
            "a",
            "main",
            &format!("{base}\n{}", block("a", "A")),
        );
        let b = commit_on(
            &mut repo,
            "b",
            "main",
            &format!("{base}\n{}", block("b", "B")),
        );
        // Merge a first.
        let merged_a = repo
            .merge_trees(&repo.branches["main"].clone(), &a)
            .unwrap();
        let main_tip = repo.branches["main"].clone();
        let m = repo.add_commit(merged_a, vec![main_tip, a], "merge a", "alice", at());
        repo.branches.insert("main".into(), m.clone());
        let merged_b = repo.merge_trees(&m, &b).unwrap();
        let file = &merged_b["main.tf"];
        assert!(
            file.contains("# tfpilot:begin/a") && file.contains("# tfpilot:begin/b"),
            "{file}"
        );
        assert!(file.starts_with(base));
    }

    #[test]
    fn concurrent_edits_outside_blocks_conflict() {
        let mut repo = repo_with("x = 1\n");
        let a = commit_on(&mut repo, "a", "main", "x = 2\n");
        commit_on(&mut repo, "main", "main", "x = 3\n");
        assert_eq!(
            repo.merge_trees(&repo.branches["main"].clone(), &a),
            Err(vec!["main.tf".into()])
        );
    }

    #[test]
    fn one_sided_changes_and_ancestry() {
        let mut repo = repo_with("x\n");
        let root = repo.branches["main"].clone();
        let a = commit_on(&mut repo, "a", "main", "y\n");
        assert_eq!(repo.merge_base(&root, &a), Some(root.clone()));
        assert_eq!(repo.ahead_by(&root, &a), 1);
        assert_eq!(repo.merge_trees(&root, &a).unwrap()["main.tf"], "y\n");
        assert_eq!(repo.resolve("refs/heads/a").unwrap().sha, a);
        assert_eq!(repo.resolve(&root).unwrap().sha, root);
        assert_eq!(blob_sha("x").len(), 40);
    }
}
