//! What can go wrong talking to GitHub, phrased for the operator: each error
//! says what happened and what to do. None of them ever carries a token.

use thiserror::Error;

use crate::domain::Timestamp;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum GitHubError {
    #[error(
        "GitHub rejected the token ({message}); run `tfpilot login` or set GITHUB_TOKEN to a valid token"
    )]
    Unauthorized { message: String },
    #[error(
        "GitHub refused {endpoint}: {message}; check the token's scopes (repo, workflow) and your access to the repository"
    )]
    Forbidden { endpoint: String, message: String },
    #[error("{endpoint}: not found ({message}); check the owner, repository, branch or number")]
    NotFound { endpoint: String, message: String },
    #[error("{}", rate_limited_message(.reset_at, *.secondary))]
    RateLimited {
        reset_at: Option<Timestamp>,
        secondary: bool,
    },
    #[error(
        "GitHub does not let the author of a pull request approve it; another approver must review it"
    )]
    SelfApproval,
    #[error("the pull request cannot be merged: {reason}")]
    NotMergeable { reason: String },
    #[error(
        "the pull request's head changed since it was planned (expected {expected_sha}); plan again before merging"
    )]
    HeadChanged { expected_sha: String },
    #[error("{endpoint}: conflict ({message}); re-read and try again")]
    Conflict { endpoint: String, message: String },
    #[error("{endpoint}: GitHub refused the request: {}", describe_validation(.message, .errors))]
    Validation {
        endpoint: String,
        message: String,
        errors: Vec<String>,
    },
    #[error(
        "{endpoint}: GitHub answered {status} ({message}) after {attempts} attempts; GitHub may be degraded, try again later"
    )]
    Server {
        endpoint: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error(
        "{endpoint}: cannot reach GitHub at {base_url} ({message}) after {attempts} attempts; check the network or the API URL"
    )]
    Network {
        endpoint: String,
        base_url: String,
        message: String,
        attempts: u32,
    },
    #[error("{endpoint}: unexpected answer from GitHub ({message})")]
    Decode { endpoint: String, message: String },
    #[error("GitHub answered {endpoint} with {status}: {message}")]
    Unexpected {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("invalid GitHub configuration: {0}")]
    Config(String),
    /// The GitHub App identity could not get a token: what GitHub said and what to check.
    #[error("{message}")]
    App { message: String },
}

fn rate_limited_message(reset_at: &Option<Timestamp>, secondary: bool) -> String {
    let kind = if secondary {
        "GitHub's secondary rate limit (too many requests or writes in a short time)"
    } else {
        "the GitHub API rate limit for this token"
    };
    match reset_at {
        Some(reset) => format!("hit {kind}; it resets at {reset}, tfpilot will resume then"),
        None => format!("hit {kind}; wait a minute and try again"),
    }
}

fn describe_validation(message: &str, errors: &[String]) -> String {
    if errors.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {}", errors.join("; "))
    }
}

impl GitHubError {
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, GitHubError::RateLimited { .. })
    }

    /// Failures where a retry later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitHubError::RateLimited { .. }
                | GitHubError::Server { .. }
                | GitHubError::Network { .. }
        )
    }
}
