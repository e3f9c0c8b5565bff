//! GitHub's payload shapes, field for field where tfpilot or octocrab reads
//! them (the recordings they follow are in `tests/fixtures/github/`; `tests/sim_payloads.rs`
//! compares them field by field).

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::git::{self, Commit, Repository};
use super::model::{Pull, PullState, Review, Run, RunPhase};
use super::runs;

pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn user(base: &str, login: &str, id: u64) -> Value {
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_sim{id}"),
        "avatar_url": format!("{base}/_sim/avatars/{id}"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false
    })
}

/// A repository as GitHub's `full-repository` schema has it (every field it marks required;
/// the shorter shapes embedded in runs and pull requests are subsets of it).
pub fn repository(base: &str, repo: &Repository, owner_id: u64) -> Value {
    let full_name = repo.full_name();
    let api = format!("{base}/repos/{full_name}");
    let html = format!("{base}/{full_name}");
    let host = base
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let created = time(repo.created_at());
    let mut body = json!({
        "id": repo.id,
        "node_id": format!("R_sim{}", repo.id),
        "name": repo.name,
        "full_name": full_name,
        "private": true,
        "owner": user(base, &repo.owner, owner_id),
        "html_url": html,
        "description": null,
        "fork": false,
        "url": api,
        "default_branch": repo.default_branch,
        "visibility": "private",
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
    });
    for (field, value) in [
        ("git_url", json!(format!("git://{host}/{full_name}.git"))),
        ("ssh_url", json!(format!("git@{host}:{full_name}.git"))),
        ("clone_url", json!(format!("{html}.git"))),
        ("svn_url", json!(html)),
        ("mirror_url", Value::Null),
        ("homepage", Value::Null),
        ("language", json!("HCL")),
        ("license", Value::Null),
        ("topics", json!([])),
        ("is_template", json!(false)),
        ("has_issues", json!(true)),
        ("has_projects", json!(false)),
        ("has_wiki", json!(false)),
        ("has_pages", json!(false)),
        ("has_downloads", json!(true)),
        ("has_discussions", json!(false)),
        ("archived", json!(false)),
        ("disabled", json!(false)),
        ("allow_forking", json!(false)),
        ("web_commit_signoff_required", json!(false)),
        ("forks", json!(0)),
        ("forks_count", json!(0)),
        ("stargazers_count", json!(0)),
        ("watchers", json!(0)),
        ("watchers_count", json!(0)),
        ("open_issues", json!(0)),
        ("open_issues_count", json!(0)),
        ("network_count", json!(0)),
        ("subscribers_count", json!(0)),
        ("size", json!(repo.commits.len())),
        ("created_at", json!(created)),
        ("updated_at", json!(created)),
        ("pushed_at", json!(created)),
    ] {
        body[field] = value;
    }
    for (field, tail) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        body[field] = json!(format!("{api}{tail}"));
    }
    body
}

pub fn content_file(
    base: &str,
    repo: &Repository,
    path: &str,
    content: &str,
    reference: &str,
) -> Value {
    let sha = git::blob_sha(content);
    let api = format!("{base}/repos/{}/contents/{path}", repo.full_name());
    let html = format!("{base}/{}/blob/{reference}/{path}", repo.full_name());
    let git_url = format!("{base}/repos/{}/git/blobs/{sha}", repo.full_name());
    json!({
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "size": content.len(),
        "url": format!("{api}?ref={reference}"),
        "html_url": html,
        "git_url": git_url,
        "download_url": format!("{base}/_sim/raw/{}/{sha}", repo.full_name()),
        "type": "file",
        "content": wrapped_base64(content.as_bytes()),
        "encoding": "base64",
        "_links": {"self": format!("{api}?ref={reference}"), "git": git_url, "html": html}
    })
}

pub fn content_entry(
    base: &str,
    repo: &Repository,
    path: &str,
    kind: &str,
    sha: &str,
    size: usize,
    reference: &str,
) -> Value {
    let api = format!("{base}/repos/{}/contents/{path}", repo.full_name());
    let html = format!(
        "{base}/{}/{}/{reference}/{path}",
        repo.full_name(),
        if kind == "dir" { "tree" } else { "blob" }
    );
    let git_url = format!(
        "{base}/repos/{}/git/{}/{sha}",
        repo.full_name(),
        if kind == "dir" { "trees" } else { "blobs" }
    );
    json!({
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "size": size,
        "url": format!("{api}?ref={reference}"),
        "html_url": html,
        "git_url": git_url,
        "download_url": if kind == "dir" { Value::Null } else { json!(format!("{base}/_sim/raw/{}/{sha}", repo.full_name())) },
        "type": kind,
        "_links": {"self": format!("{api}?ref={reference}"), "git": git_url, "html": html}
    })
}

/// Base64 in 60-character lines, as the contents API sends it.
fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

pub fn commit(base: &str, repo: &Repository, commit: &Commit) -> Value {
    let api = format!(
        "{base}/repos/{}/git/commits/{}",
        repo.full_name(),
        commit.sha
    );
    let person = json!({"name": commit.author, "email": format!("{}@users.noreply.sim", commit.author), "date": time(commit.at)});
    json!({
        "sha": commit.sha,
        "node_id": format!("C_sim{}", &commit.sha[..12]),
        "url": api,
        "html_url": format!("{base}/{}/commit/{}", repo.full_name(), commit.sha),
        "author": person,
        "committer": person,
        "tree": {"sha": git::tree_sha(&commit.tree), "url": format!("{base}/repos/{}/git/trees/{}", repo.full_name(), git::tree_sha(&commit.tree))},
        "message": commit.message,
        "parents": commit.parents.iter().map(|sha| json!({
            "sha": sha,
            "url": format!("{base}/repos/{}/git/commits/{sha}", repo.full_name()),
            "html_url": format!("{base}/{}/commit/{sha}", repo.full_name()),
        })).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
    })
}

/// A ref payload; `name` is `heads/<branch>` or `tags/<tag>`.
pub fn git_ref(base: &str, repo: &Repository, name: &str, sha: &str) -> Value {
    json!({
        "ref": format!("refs/{name}"),
        "node_id": format!("REF_sim{}", &sha[..12]),
        "url": format!("{base}/repos/{}/git/refs/{name}", repo.full_name()),
        "object": {
            "sha": sha,
            "type": "commit",
            "url": format!("{base}/repos/{}/git/commits/{sha}", repo.full_name())
        }
    })
}

/// Mergeability as GitHub reports it: `(mergeable, mergeable_state)`.
pub struct Mergeability {
    pub mergeable: Option<bool>,
    pub state: &'static str,
}

#[allow(clippy::too_many_arguments)]
pub fn pull(
    base: &str,
    repo: &Repository,
    pull: &Pull,
    author_id: u64,
    owner_id: u64,
    head_sha: &str,
    base_sha: &str,
    merge: &Mergeability,
    merged_by: Option<Value>,
) -> Value {
    let api = format!("{base}/repos/{}/pulls/{}", repo.full_name(), pull.number);
    let html = format!("{base}/{}/pull/{}", repo.full_name(), pull.number);
    let issue = format!("{base}/repos/{}/issues/{}", repo.full_name(), pull.number);
    let repo_json = repository(base, repo, owner_id);
    let owner = user(base, &repo.owner, owner_id);
    let links = json!({
        "self": {"href": api},
        "html": {"href": html},
        "issue": {"href": issue},
        "comments": {"href": format!("{issue}/comments")},
        "review_comments": {"href": format!("{api}/comments")},
        "review_comment": {"href": format!("{base}/repos/{}/pulls/comments{{/number}}", repo.full_name())},
        "commits": {"href": format!("{api}/commits")},
        "statuses": {"href": format!("{base}/repos/{}/statuses/{head_sha}", repo.full_name())}
    });
    let mut body = json!({
        "url": api,
        "id": pull.id,
        "node_id": format!("PR_sim{}", pull.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue,
        "number": pull.number,
        "state": match pull.state { PullState::Open => "open", PullState::Closed => "closed" },
        "locked": false,
        "title": pull.title,
        "user": user(base, &pull.author, author_id),
        "body": pull.body,
        "created_at": time(pull.created_at),
        "updated_at": time(pull.updated_at),
        "closed_at": pull.closed_at.map(time),
        "merged_at": pull.merged_at.map(time),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": null,
        "draft": pull.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{}/pulls/comments{{/number}}", repo.full_name()),
        "comments_url": format!("{issue}/comments"),
        "statuses_url": format!("{base}/repos/{}/statuses/{head_sha}", repo.full_name()),
    });
    let rest = json!({
        "head": {"label": format!("{}:{}", repo.owner, pull.head), "ref": pull.head, "sha": head_sha, "user": owner, "repo": repo_json},
        "base": {"label": format!("{}:{}", repo.owner, pull.base), "ref": pull.base, "sha": base_sha, "user": owner, "repo": repo_json},
        "author_association": if pull.author == repo.owner { "OWNER" } else { "MEMBER" },
        "auto_merge": null,
        "active_lock_reason": null,
        "merged": pull.merged_at.is_some(),
        "mergeable": merge.mergeable,
        "rebaseable": merge.mergeable,
        "mergeable_state": merge.state,
        "merged_by": merged_by,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 1
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut body, rest) {
        map.extend(more);
    }
    body["_links"] = links;
    body
}

pub fn review(base: &str, repo: &Repository, review: &Review, user_id: u64) -> Value {
    let pull_api = format!("{base}/repos/{}/pulls/{}", repo.full_name(), review.pull);
    let html = format!(
        "{base}/{}/pull/{}#pullrequestreview-{}",
        repo.full_name(),
        review.pull,
        review.id
    );
    json!({
        "id": review.id,
        "node_id": format!("PRR_sim{}", review.id),
        "user": user(base, &review.user, user_id),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_api}},
        "submitted_at": time(review.submitted_at),
        "commit_id": review.commit_id
    })
}

/// The workflow's name (runs saved before it was recorded carry tfpilot's).
fn workflow_name(run: &Run) -> String {
    if run.workflow_name.is_empty() {
        format!("tfpilot {}", run.operation)
    } else {
        run.workflow_name.clone()
    }
}

pub struct RunContext<'a> {
    pub owner_id: u64,
    pub actor_id: u64,
    pub commit: Option<&'a Commit>,
    pub now: DateTime<Utc>,
}

pub fn run(base: &str, repo: &Repository, run: &Run, context: &RunContext<'_>) -> Value {
    let (owner_id, commit, now) = (context.owner_id, context.commit, context.now);
    let api = format!("{base}/repos/{}/actions/runs/{}", repo.full_name(), run.id);
    let head_commit = commit.map_or(Value::Null, |commit| json!({
        "id": commit.sha,
        "tree_id": git::tree_sha(&commit.tree),
        "message": commit.message,
        "timestamp": time(commit.at),
        "author": {"name": commit.author, "email": format!("{}@users.noreply.sim", commit.author)},
        "committer": {"name": commit.author, "email": format!("{}@users.noreply.sim", commit.author)}
    }));
    json!({
        "id": run.id,
        // As GitHub: `name` is the workflow's (`name:` in each of docs/workflows/), the
        // run-name is the `display_title`.
        "name": workflow_name(run),
        "node_id": format!("WFR_sim{}", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": format!(".github/workflows/{}", run.workflow),
        "display_title": run.name,
        "run_number": run.run_number,
        "event": "workflow_dispatch",
        "status": run.status(now),
        "conclusion": run.conclusion_at(now),
        "workflow_id": run.workflow_id,
        "check_suite_id": run.id + 500_000,
        "check_suite_node_id": format!("CS_sim{}", run.id),
        "url": api,
        "html_url": format!("{base}/{}/actions/runs/{}", repo.full_name(), run.id),
        "pull_requests": [],
        "created_at": time(run.created_at),
        "updated_at": time(run.updated_at(now)),
        "actor": user(base, &run.actor, context.actor_id),
        "triggering_actor": user(base, &run.actor, context.actor_id),
        "run_attempt": 1,
        "run_started_at": time(run.created_at),
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{base}/repos/{}/check-suites/{}", repo.full_name(), run.id + 500_000),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "workflow_url": format!("{base}/repos/{}/actions/workflows/{}", repo.full_name(), run.workflow_id),
        "head_commit": head_commit,
        "repository": repository(base, repo, owner_id),
        "head_repository": repository(base, repo, owner_id)
    })
}

pub fn job(base: &str, repo: &Repository, run: &Run, now: DateTime<Utc>) -> Value {
    let names = runs::step_names(&run.operation);
    let done = runs::steps_done(run, now);
    let phase = run.phase(now);
    let steps: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let (status, conclusion, started, completed) = if index < done {
                let failed_step = run.conclusion != "success" && index == names.len() - 2;
                let conclusion = if failed_step {
                    run.conclusion.as_str()
                } else {
                    "success"
                };
                (
                    "completed",
                    Some(conclusion),
                    Some(runs::step_start(run, index)),
                    Some(runs::step_start(run, index + 1).min(run.completed_at().unwrap_or(now))),
                )
            } else if index == done && phase == RunPhase::InProgress {
                (
                    "in_progress",
                    None,
                    Some(runs::step_start(run, index)),
                    None,
                )
            } else {
                ("queued", None, None, None)
            };
            json!({
                "name": name,
                "status": status,
                "conclusion": conclusion,
                "number": index + 1,
                "started_at": started.map(time),
                "completed_at": completed.map(time)
            })
        })
        .collect();
    let api = format!(
        "{base}/repos/{}/actions/jobs/{}",
        repo.full_name(),
        run.job_id
    );
    let started = match phase {
        RunPhase::Queued | RunPhase::Waiting => run.created_at,
        _ => run.started_at().unwrap_or(run.created_at),
    };
    let on_runner = matches!(phase, RunPhase::InProgress)
        || (phase == RunPhase::Completed && run.started_at().is_some());
    json!({
        "id": run.job_id,
        "run_id": run.id,
        "workflow_name": workflow_name(run),
        "head_branch": run.head_branch,
        "run_url": format!("{base}/repos/{}/actions/runs/{}", repo.full_name(), run.id),
        "run_attempt": 1,
        "node_id": format!("CR_sim{}", run.job_id),
        "head_sha": run.head_sha,
        "url": api,
        "html_url": format!("{base}/{}/actions/runs/{}/job/{}", repo.full_name(), run.id, run.job_id),
        "status": run.status(now),
        "conclusion": run.conclusion_at(now),
        "created_at": time(run.created_at),
        "started_at": time(started),
        "completed_at": (phase == RunPhase::Completed).then(|| time(run.completed_at().unwrap_or(now))),
        "name": "terraform",
        "steps": steps,
        "check_run_url": format!("{base}/repos/{}/check-runs/{}", repo.full_name(), run.job_id),
        "labels": ["ubuntu-latest"],
        "runner_id": if on_runner { json!(run.job_id % 1000) } else { Value::Null },
        "runner_name": if on_runner { json!(format!("GitHub Actions {}", run.job_id % 100)) } else { Value::Null },
        "runner_group_id": if on_runner { json!(2) } else { Value::Null },
        "runner_group_name": if on_runner { json!("GitHub Actions") } else { Value::Null }
    })
}

/// GitHub's error body.
pub fn error(message: &str, documentation_url: &str) -> Value {
    json!({"message": message, "documentation_url": documentation_url})
}

/// GitHub's 422 body with an `errors` array.
pub fn validation_failed(errors: Value, documentation_url: &str) -> Value {
    json!({"message": "Validation Failed", "errors": errors, "documentation_url": documentation_url})
}
