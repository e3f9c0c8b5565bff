//! Which approvals GitHub backs. A request document's `approval` is a claim anyone with write
//! access to the bucket can make; the reviews GitHub holds are signed by the reviewers' own
//! tokens. This module decides, from those reviews alone, who approved a head.

use super::access::{AccessPolicy, Subject};
use super::operation::Operation;

/// What tfpilot writes at the start of the body of every review it submits for an approval.
/// GitHub refuses an APPROVE review from a pull request's author, so when the policy allows
/// self-approval the author's approval is a COMMENT review carrying this mark.
pub const APPROVAL_MARK: &str = "Approved in tfpilot:";

/// One review as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewFact<'a> {
    pub user: &'a str,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    pub state: &'a str,
    pub commit_id: Option<&'a str>,
    pub body: &'a str,
}

/// The pull request as GitHub reports it: whose it is and what the approval is about.
#[derive(Debug, Clone, Copy)]
pub struct PullFacts<'a> {
    /// The pull request's author on GitHub: the requester, whatever the document says.
    pub author: &'a str,
    pub environment: &'a str,
    /// The head the approvals must be for.
    pub head: &'a str,
}

/// The logins GitHub shows approving `pull.head`, kept only when the policy lets them approve
/// (judged against the pull request's GitHub author, not the document's `requested_by`).
/// Reviews are read in the order GitHub lists them (oldest first); each reviewer's latest
/// decisive review counts, so an approval later dismissed or followed by a change request is
/// gone, as on GitHub.
pub fn approvers_on_github(
    policy: &AccessPolicy,
    pull: PullFacts<'_>,
    reviews: &[ReviewFact<'_>],
) -> Vec<String> {
    let mut latest: Vec<ReviewFact<'_>> = Vec::new();
    for review in reviews {
        let decisive = matches!(review.state, "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED")
            || is_self_approval(review, pull.author);
        if !decisive {
            continue;
        }
        latest.retain(|earlier| !earlier.user.eq_ignore_ascii_case(review.user));
        latest.push(*review);
    }
    let subject = Subject {
        environment: pull.environment,
        requested_by: pull.author,
        cancels: None,
    };
    let mut approvers: Vec<String> = latest
        .into_iter()
        .filter(|review| review.commit_id == Some(pull.head))
        .filter(|review| review.state == "APPROVED" || is_self_approval(review, pull.author))
        .filter(|review| {
            policy
                .authorize(review.user, Operation::Approve, subject)
                .is_allowed()
        })
        .map(|review| review.user.to_string())
        .collect();
    approvers.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    approvers
}

/// A comment review by the author, written by tfpilot for an approval GitHub would refuse.
fn is_self_approval(review: &ReviewFact<'_>, author: &str) -> bool {
    review.state == "COMMENTED"
        && review.user.eq_ignore_ascii_case(author)
        && review.body.starts_with(APPROVAL_MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(self_approval: bool) -> AccessPolicy {
        AccessPolicy {
            approvers: ["bob", "alice"].map(String::from).into(),
            admins: ["root"].map(String::from).into(),
            prod_environments: ["prod"].map(String::from).into(),
            prod_allowed_users: ["root"].map(String::from).into(),
            allow_self_approval: self_approval,
            ..AccessPolicy::default()
        }
    }

    fn pull(environment: &str) -> PullFacts<'_> {
        PullFacts {
            author: "alice",
            environment,
            head: "h2",
        }
    }

    fn review<'a>(user: &'a str, state: &'a str, commit: &'a str) -> ReviewFact<'a> {
        ReviewFact {
            user,
            state,
            commit_id: Some(commit),
            body: "",
        }
    }

    #[test]
    fn an_approving_review_of_the_head_by_an_approver_counts() {
        let reviews = [review("bob", "APPROVED", "h2")];
        assert_eq!(
            approvers_on_github(&policy(false), pull("dev"), &reviews),
            ["bob"]
        );
    }

    #[test]
    fn reviews_of_another_head_or_by_developers_do_not() {
        let reviews = [
            review("bob", "APPROVED", "h1"),
            review("dave", "APPROVED", "h2"),
            review("root", "COMMENTED", "h2"),
        ];
        assert!(approvers_on_github(&policy(false), pull("dev"), &reviews).is_empty());
    }

    #[test]
    fn a_later_change_request_or_dismissal_withdraws_an_approval() {
        let withdrawn = [
            review("bob", "APPROVED", "h2"),
            review("bob", "CHANGES_REQUESTED", "h2"),
        ];
        assert!(approvers_on_github(&policy(false), pull("dev"), &withdrawn).is_empty());
        let dismissed = [
            review("bob", "APPROVED", "h2"),
            review("bob", "DISMISSED", "h2"),
        ];
        assert!(approvers_on_github(&policy(false), pull("dev"), &dismissed).is_empty());
        let commented_after = [
            review("bob", "APPROVED", "h2"),
            review("bob", "COMMENTED", "h2"),
        ];
        assert_eq!(
            approvers_on_github(&policy(false), pull("dev"), &commented_after),
            ["bob"]
        );
    }

    #[test]
    fn the_author_approves_only_with_the_mark_and_when_the_policy_allows_it() {
        let marked = ReviewFact {
            user: "alice",
            state: "COMMENTED",
            commit_id: Some("h2"),
            body: "Approved in tfpilot: plan of h2.",
        };
        assert!(approvers_on_github(&policy(false), pull("dev"), &[marked]).is_empty());
        assert_eq!(
            approvers_on_github(&policy(true), pull("dev"), &[marked]),
            ["alice"]
        );
        let unmarked = ReviewFact {
            body: "looks fine",
            ..marked
        };
        assert!(approvers_on_github(&policy(true), pull("dev"), &[unmarked]).is_empty());
        let by_someone_else = ReviewFact {
            user: "bob",
            ..marked
        };
        assert!(approvers_on_github(&policy(true), pull("dev"), &[by_someone_else]).is_empty());
    }

    #[test]
    fn logins_compare_without_case_and_count_once() {
        let reviews = [
            review("Bob", "APPROVED", "h2"),
            review("bob", "APPROVED", "h2"),
        ];
        assert_eq!(
            approvers_on_github(&policy(false), pull("dev"), &reviews),
            ["bob"]
        );
    }
}
