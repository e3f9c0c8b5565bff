//! What `tfpilot doctor` asks GitHub about a setup: the token's scopes, repository access,
//! branch protection and deployment environments.

use serde::Deserialize;

use super::client::{GitHub, RepoId};
use super::error::GitHubError;
use super::models::User;

/// The login a token belongs to, and its classic OAuth scopes (`None` for a fine-grained or
/// app token, which GitHub reports no scopes for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub user: User,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RepoPermissions {
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub pull: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepoInfo {
    pub full_name: String,
    #[serde(default)]
    pub default_branch: String,
    /// What the token's user may do; absent on answers to anonymous calls.
    #[serde(default)]
    pub permissions: Option<RepoPermissions>,
}

/// Branch protection as far as tfpilot relies on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// Protected; the approving reviews a pull request needs (0 when reviews are not required).
    Protected {
        required_reviews: u32,
    },
    NotProtected,
    /// GitHub would not say (reading protection needs admin rights on the repository).
    Unknown {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentInfo {
    pub name: String,
    /// Logins and teams that must approve a deployment.
    pub required_reviewers: usize,
}

#[derive(Deserialize)]
struct ProtectionPayload {
    #[serde(default)]
    required_pull_request_reviews: Option<ReviewsPayload>,
}

#[derive(Deserialize)]
struct ReviewsPayload {
    #[serde(default)]
    required_approving_review_count: u32,
}

#[derive(Deserialize)]
struct EnvironmentPayload {
    name: String,
    #[serde(default)]
    protection_rules: Vec<RulePayload>,
}

#[derive(Deserialize)]
struct RulePayload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    reviewers: Vec<serde_json::Value>,
}

impl GitHub {
    /// Who the token is, with the scopes GitHub reports in `X-OAuth-Scopes`.
    pub async fn token_info(&self) -> Result<TokenInfo, GitHubError> {
        let endpoint = "GET /user";
        let reply = self.transport().get_uncached(endpoint, "/user").await?;
        let scopes = reply
            .headers
            .get("x-oauth-scopes")
            .and_then(|value| value.to_str().ok())
            .map(|text| {
                text.split(',')
                    .map(|scope| scope.trim().to_string())
                    .filter(|scope| !scope.is_empty())
                    .collect()
            });
        Ok(TokenInfo {
            user: reply.json(endpoint)?,
            scopes,
        })
    }

    /// The repository as the token sees it; `None` when it does not exist or is hidden.
    pub async fn repository(&self, repo: &RepoId) -> Result<Option<RepoInfo>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}";
        match self.transport().get_uncached(endpoint, &repo.path()).await {
            Ok(reply) => Ok(Some(reply.json(endpoint)?)),
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn branch_protection(
        &self,
        repo: &RepoId,
        branch: &str,
    ) -> Result<Protection, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/branches/{branch}/protection";
        let path = format!("{}/branches/{branch}/protection", repo.path());
        match self.transport().get_uncached(endpoint, &path).await {
            Ok(reply) => {
                let payload: ProtectionPayload = reply.json(endpoint)?;
                Ok(Protection::Protected {
                    required_reviews: payload
                        .required_pull_request_reviews
                        .map_or(0, |r| r.required_approving_review_count),
                })
            }
            Err(GitHubError::NotFound { message, .. }) if message.contains("not protected") => {
                Ok(Protection::NotProtected)
            }
            Err(GitHubError::NotFound { message, .. } | GitHubError::Forbidden { message, .. }) => {
                Ok(Protection::Unknown { reason: message })
            }
            Err(error) => Err(error),
        }
    }

    /// A deployment environment; `None` when the repository has no such environment.
    pub async fn environment(
        &self,
        repo: &RepoId,
        name: &str,
    ) -> Result<Option<EnvironmentInfo>, GitHubError> {
        let endpoint = "GET /repos/{owner}/{repo}/environments/{name}";
        let path = format!("{}/environments/{name}", repo.path());
        match self.transport().get_uncached(endpoint, &path).await {
            Ok(reply) => {
                let payload: EnvironmentPayload = reply.json(endpoint)?;
                Ok(Some(EnvironmentInfo {
                    name: payload.name,
                    required_reviewers: payload
                        .protection_rules
                        .iter()
                        .filter(|rule| rule.kind == "required_reviewers")
                        .map(|rule| rule.reviewers.len())
                        .sum(),
                }))
            }
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}
