//! Who may do what in a simulated repository, as GitHub decides it for a private repository:
//! the owner is an admin, collaborators have the role they were given (`read`, `triage`,
//! `write`, `maintain`, `admin`), and anyone else cannot see it. What a role cannot do is
//! answered as GitHub answers a classic token there: 404, as if the thing did not exist.

use std::collections::BTreeMap;

use axum::http::Method;
use serde::{Deserialize, Serialize};

use super::git::Repository;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    pub fn parse(text: &str) -> Option<Permission> {
        match text {
            "read" | "pull" => Some(Permission::Read),
            "triage" => Some(Permission::Triage),
            "write" | "push" => Some(Permission::Write),
            "maintain" => Some(Permission::Maintain),
            "admin" => Some(Permission::Admin),
            _ => None,
        }
    }

    /// `permissions` of `GET /repos/{o}/{r}` for this role.
    pub fn flags(role: Option<Permission>) -> serde_json::Value {
        let at_least = |wanted: Permission| role.is_some_and(|role| role >= wanted);
        serde_json::json!({
            "admin": at_least(Permission::Admin),
            "maintain": at_least(Permission::Maintain),
            "push": at_least(Permission::Write),
            "triage": at_least(Permission::Triage),
            "pull": at_least(Permission::Read),
        })
    }
}

/// The role `login` has in `repo`.
pub fn role(repo: &Repository, login: &str) -> Option<Permission> {
    if repo.owner.eq_ignore_ascii_case(login) {
        return Some(Permission::Admin);
    }
    repo.collaborators
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(login))
        .map(|(_, role)| *role)
}

/// What a request to `route` (the API's path template) needs.
pub fn needed(method: &Method, route: &str) -> Permission {
    let reading = method == Method::GET || method == Method::HEAD;
    if route.ends_with("/protection") {
        return Permission::Admin;
    }
    if reading
        // Anyone who can read a pull request can review it, and a required reviewer with read
        // access can review a deployment.
        || (method == Method::POST
            && (route.ends_with("/pulls/{number}/reviews")
                || route.ends_with("/pending_deployments")))
    {
        return Permission::Read;
    }
    Permission::Write
}

/// Whether `login` may make this request of `repo`.
pub fn allows(repo: &Repository, login: &str, method: &Method, route: &str) -> bool {
    role(repo, login).is_some_and(|role| role >= needed(method, route))
}

/// Collaborators from `login: role` text, for `POST /_sim/repos` and the CLI.
pub fn parse_collaborators(
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Permission>, String> {
    given
        .iter()
        .map(|(login, role)| {
            Permission::parse(role)
                .map(|role| (login.clone(), role))
                .ok_or_else(|| {
                    format!("{login}: {role:?} is not a role; use read, triage, write, maintain or admin")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repository {
        let mut repo = Repository::new(
            1,
            "acme",
            "infra",
            BTreeMap::new(),
            "acme",
            chrono::Utc::now(),
        );
        repo.collaborators = BTreeMap::from([
            ("viewer".to_string(), Permission::Read),
            ("alice".to_string(), Permission::Write),
            ("admin".to_string(), Permission::Admin),
        ]);
        repo
    }

    #[test]
    fn roles_decide_reads_writes_and_protection() {
        let repo = repo();
        let pulls = "/repos/{owner}/{repo}/pulls";
        let protection = "/repos/{owner}/{repo}/branches/{branch}/protection";
        let reviews = "/repos/{owner}/{repo}/pulls/{number}/reviews";
        assert!(allows(&repo, "viewer", &Method::GET, pulls));
        assert!(!allows(&repo, "viewer", &Method::POST, pulls));
        assert!(allows(&repo, "viewer", &Method::POST, reviews));
        assert!(allows(&repo, "Alice", &Method::POST, pulls));
        assert!(!allows(&repo, "alice", &Method::GET, protection));
        assert!(allows(&repo, "admin", &Method::GET, protection));
        assert!(allows(&repo, "acme", &Method::GET, protection), "the owner");
        assert!(!allows(&repo, "mallory", &Method::GET, pulls));
        assert_eq!(
            Permission::flags(Some(Permission::Write))["push"],
            serde_json::json!(true)
        );
        assert_eq!(
            Permission::flags(Some(Permission::Write))["maintain"],
            serde_json::json!(false)
        );
        assert!(parse_collaborators(&BTreeMap::from([("x".into(), "owner".into())])).is_err());
    }
}
