//! Who may do what: the roles and prod allowlists of `config/policy.json`, and the one pure
//! decision every mutation asks before it touches anything. These are guardrails for honest
//! users; the security boundary is IAM on the bucket and GitHub's branch protection.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::catalog::CatalogError;
use super::operation::Operation;
use super::request::Request;
use super::run_kind::RunKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    Approver,
    Admin,
}

impl Role {
    /// "a developer", "an admin": for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Viewer => "a viewer",
            Role::Developer => "a developer",
            Role::Approver => "an approver",
            Role::Admin => "an admin",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

/// The access part of `config/policy.json`. Other keys (naming, regions) belong to
/// [`super::registry::ValidationPolicy`] and are ignored here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPolicy {
    #[serde(default)]
    pub admins: BTreeSet<String>,
    #[serde(default)]
    pub approvers: BTreeSet<String>,
    #[serde(default)]
    pub viewers: BTreeSet<String>,
    /// Environments where merge, apply and destroy are limited to the allowlists below.
    #[serde(default)]
    pub prod_environments: BTreeSet<String>,
    /// Who may merge and apply (and, without the destroy list, destroy) in prod.
    #[serde(default)]
    pub prod_allowed_users: BTreeSet<String>,
    /// Who may destroy in prod.
    #[serde(default)]
    pub destroy_prod_allowed_users: BTreeSet<String>,
    /// Whether a requester may approve their own request.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// Identities (a reconciler's bot login) that may sync and reconcile, which write the store,
    /// while they may do nothing else: viewers otherwise only read.
    #[serde(default)]
    pub automation: BTreeSet<String>,
    /// Set when `config/policy.json` exists but cannot be used: every decision is refused with
    /// this reason (a typo must not silently make everyone a developer).
    #[serde(skip)]
    pub broken: Option<String>,
}

/// Allowed, or denied with a reason meant to be shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied { reason: String },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }

    fn deny(reason: String) -> Decision {
        Decision::Denied { reason }
    }
}

/// The facts about a request an access decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub environment: &'a str,
    pub requested_by: &'a str,
    /// The kind of run a cancel would stop, if any (see [`super::operation::cancellable_run`]).
    pub cancels: Option<RunKind>,
}

impl<'a> Subject<'a> {
    pub fn of(request: &'a Request) -> Self {
        Subject {
            environment: &request.environment,
            requested_by: &request.requested_by,
            cancels: super::operation::cancellable_run(request).map(|(kind, _)| kind),
        }
    }

    /// A request `actor` is about to create, before its form names the environment.
    pub fn new_request(actor: &'a str) -> Self {
        Subject {
            environment: "",
            requested_by: actor,
            cancels: None,
        }
    }
}

/// Every top-level key of `config/policy.json`: this file's roles and allowlists, then the
/// validation guardrails of [`super::registry::ValidationPolicy`].
pub const POLICY_KEYS: [&str; 11] = [
    "admins",
    "approvers",
    "viewers",
    "automation",
    "prod_environments",
    "prod_allowed_users",
    "destroy_prod_allowed_users",
    "allow_self_approval",
    "naming",
    "region_field",
    "allowed_regions",
];

/// `config/policy.json` must be one object of known keys: a misspelt key would otherwise be
/// ignored and take a protection away without a word.
pub fn check_policy_keys(text: &str) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let object = value
        .as_object()
        .ok_or_else(|| "must be a JSON object".to_string())?;
    super::strict::check_keys(object, &POLICY_KEYS)
}

impl AccessPolicy {
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidPolicy {
            origin: origin.to_string(),
            reason,
        };
        check_policy_keys(text).map_err(invalid)?;
        let policy: AccessPolicy =
            serde_json::from_str(text).map_err(|error| invalid(super::strict::explain(&error)))?;
        let both: Vec<&String> = policy.viewers.intersection(&policy.admins).collect();
        if let Some(login) = both.first() {
            return Err(CatalogError::InvalidPolicy {
                origin: origin.to_string(),
                reason: format!("{login} is listed both as admin and as viewer; keep one"),
            });
        }
        Ok(policy)
    }

    /// A policy file that exists but cannot be used: it refuses everything, saying why.
    pub fn refusing(problem: impl std::fmt::Display) -> Self {
        AccessPolicy {
            broken: Some(format!(
                "{problem}; an admin must fix it before anything can change"
            )),
            ..AccessPolicy::default()
        }
    }

    /// The strongest role a login has. Logins compare case-insensitively, as on GitHub.
    pub fn role_of(&self, login: &str) -> Role {
        let listed = |set: &BTreeSet<String>| set.iter().any(|l| l.eq_ignore_ascii_case(login));
        if listed(&self.admins) {
            Role::Admin
        } else if listed(&self.approvers) {
            Role::Approver
        } else if listed(&self.viewers) {
            Role::Viewer
        } else {
            Role::Developer
        }
    }

    pub fn is_prod(&self, environment: &str) -> bool {
        self.prod_environments.contains(environment)
    }

    /// May `actor` run `operation` on a request about `subject`?
    pub fn authorize(&self, actor: &str, operation: Operation, subject: Subject<'_>) -> Decision {
        if let Some(reason) = &self.broken {
            return Decision::deny(reason.clone());
        }
        let role = self.role_of(actor);
        let is_requester = actor.eq_ignore_ascii_case(subject.requested_by);
        if role == Role::Viewer {
            return Decision::deny(format!(
                "{actor} is listed under `viewers` in config/policy.json, and viewers only read: they cannot {}; an admin can take {actor} off that list to make them a developer",
                operation.verb()
            ));
        }
        let reviewer = role >= Role::Approver;
        let decision = match operation {
            // GitHub decides who reviews a deployment: the environment's required reviewers.
            Operation::Create
            | Operation::DriftCheck
            | Operation::ApproveDeployment
            | Operation::RejectDeployment => Decision::Allowed,
            Operation::Update
            | Operation::Plan
            | Operation::Merge
            | Operation::Cleanup
            | Operation::Withdraw
            | Operation::Change => {
                if is_requester || reviewer {
                    Decision::Allowed
                } else {
                    Decision::deny(format!(
                        "only the requester ({}), approvers and admins can {} this request; {actor} is a {}",
                        subject.requested_by,
                        operation.verb(),
                        role.as_str()
                    ))
                }
            }
            Operation::OverridePolicy => {
                if role == Role::Admin {
                    Decision::Allowed
                } else {
                    Decision::deny(format!(
                        "only admins can override the policies' deny of a plan; {actor} is a {}",
                        role.as_str()
                    ))
                }
            }
            Operation::Approve => {
                if !reviewer {
                    Decision::deny(format!(
                        "only approvers and admins can approve; {actor} is a {}",
                        role.as_str()
                    ))
                } else if is_requester && !self.allow_self_approval {
                    Decision::deny(format!(
                        "{actor} requested this and cannot approve it; another approver must (or set allow_self_approval in config/policy.json)"
                    ))
                } else {
                    Decision::Allowed
                }
            }
            // A plan is its requester's to stop; an apply or destroy is an approver's.
            Operation::Cancel => match subject.cancels {
                Some(RunKind::Apply | RunKind::Destroy) if !reviewer => Decision::deny(format!(
                    "only approvers and admins can cancel an apply or destroy; {actor} is a {}",
                    role.as_str()
                )),
                _ if is_requester || reviewer => Decision::Allowed,
                _ => Decision::deny(format!(
                    "only the requester ({}), approvers and admins can cancel its plan; {actor} is a {}",
                    subject.requested_by,
                    role.as_str()
                )),
            },
            Operation::Apply | Operation::Destroy => {
                if reviewer {
                    Decision::Allowed
                } else {
                    Decision::deny(format!(
                        "only approvers and admins can {}; {actor} is a {}",
                        operation.verb(),
                        role.as_str()
                    ))
                }
            }
        };
        if !decision.is_allowed() {
            return decision;
        }
        self.prod_guardrail(actor, operation, subject.environment)
    }

    /// May `actor` write what GitHub says into the store (`sync`, `reconcile`, the dashboard's
    /// background sync)? Everyone but viewers, and the identities listed under `automation`.
    /// A viewer still reads GitHub and sees what it says; nothing is written for them.
    pub fn authorize_sync(&self, actor: &str) -> Decision {
        if let Some(reason) = &self.broken {
            return Decision::deny(reason.clone());
        }
        let automation = self
            .automation
            .iter()
            .any(|login| login.eq_ignore_ascii_case(actor));
        if automation || self.role_of(actor) != Role::Viewer {
            return Decision::Allowed;
        }
        Decision::deny(format!(
            "{actor} is a viewer: sync and reconcile write the store; a reconciler's identity is listed under `automation` in config/policy.json"
        ))
    }

    /// May `actor` change the team's shared configuration (templates)? Admins only.
    pub fn authorize_admin(&self, actor: &str, what: &str) -> Decision {
        if let Some(reason) = &self.broken {
            return Decision::deny(reason.clone());
        }
        let role = self.role_of(actor);
        if role == Role::Admin {
            Decision::Allowed
        } else {
            Decision::deny(format!(
                "only admins can {what}; {actor} is {} (admins are listed under `admins` in config/policy.json)",
                role.with_article()
            ))
        }
    }

    fn prod_guardrail(&self, actor: &str, operation: Operation, environment: &str) -> Decision {
        if !self.is_prod(environment) {
            return Decision::Allowed;
        }
        let (list, list_name) = match operation {
            Operation::Merge | Operation::Apply => (&self.prod_allowed_users, "prod_allowed_users"),
            Operation::Destroy => (
                &self.destroy_prod_allowed_users,
                "destroy_prod_allowed_users",
            ),
            _ => return Decision::Allowed,
        };
        if list.iter().any(|l| l.eq_ignore_ascii_case(actor)) {
            return Decision::Allowed;
        }
        let who = if list.is_empty() {
            "nobody is listed".to_string()
        } else {
            format!(
                "allowed: {}",
                list.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        Decision::deny(format!(
            "{environment} is a prod environment: only {list_name} can {} there ({who}); {actor} is not one of them",
            operation.verb()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AccessPolicy {
        AccessPolicy::parse(
            r#"{"admins": ["admin"], "approvers": ["bob", "carol"], "viewers": ["vic"],
                "prod_environments": ["prod"], "prod_allowed_users": ["bob", "admin"],
                "destroy_prod_allowed_users": ["admin"], "naming": {"ignored": true}}"#,
            "config/policy.json",
        )
        .unwrap()
    }

    fn subject<'a>(environment: &'a str, requested_by: &'a str) -> Subject<'a> {
        Subject {
            environment,
            requested_by,
            cancels: None,
        }
    }

    fn reason(decision: Decision) -> String {
        match decision {
            Decision::Denied { reason } => reason,
            Decision::Allowed => panic!("expected a denial"),
        }
    }

    /// A misspelt key would have been ignored, taking its protection away: it is an error
    /// naming the file, the key and the key meant.
    #[test]
    fn a_misspelt_policy_key_is_refused() {
        let error = AccessPolicy::parse(
            r#"{"admins": ["admin"], "prod_environment": ["prod"]}"#,
            "config/policy.json",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("config/policy.json"), "{error}");
        assert!(
            error.contains("unknown key `prod_environment`; did you mean `prod_environments`?"),
            "{error}"
        );
        let error = super::super::registry::ValidationPolicy::parse(
            r#"{"naming": {"field": "name", "patern": "^x$"}}"#,
            "config/policy.json",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("did you mean `pattern`?"), "{error}");
    }

    /// Every key the two readers of the file take is in POLICY_KEYS, and nothing else.
    #[test]
    fn the_policy_keys_are_the_readers_keys() {
        let mut access = serde_json::to_value(AccessPolicy::default()).unwrap();
        let validation = serde_json::to_value(super::super::registry::ValidationPolicy {
            naming: None,
            ..Default::default()
        })
        .unwrap();
        let object = access.as_object_mut().unwrap();
        object.extend(validation.as_object().unwrap().clone());
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut known = POLICY_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
    }

    #[test]
    fn viewers_read_and_automation_identities_sync() {
        let mut policy = policy();
        assert!(!policy.authorize_sync("vic").is_allowed());
        assert!(policy.authorize_sync("alice").is_allowed());
        policy.automation.insert("reconcile-bot".into());
        policy.viewers.insert("reconcile-bot".into());
        assert!(policy.authorize_sync("Reconcile-Bot").is_allowed());
        assert_eq!(
            policy.role_of("reconcile-bot"),
            Role::Viewer,
            "and nothing else"
        );
        assert!(
            !policy
                .authorize("reconcile-bot", Operation::Plan, subject("dev", "alice"))
                .is_allowed()
        );
    }

    #[test]
    fn a_broken_policy_refuses_everyone_everything() {
        let policy = AccessPolicy::refusing("config/policy.json: unknown field `prod_environment`");
        for operation in [
            Operation::Create,
            Operation::Plan,
            Operation::Approve,
            Operation::Apply,
            Operation::DriftCheck,
        ] {
            let text = reason(policy.authorize("admin", operation, subject("dev", "admin")));
            assert!(text.contains("prod_environment"), "{text}");
            assert!(text.contains("an admin must fix it"), "{text}");
        }
        assert!(
            !policy
                .authorize_admin("admin", "change templates")
                .is_allowed()
        );
    }

    #[test]
    fn roles_come_from_the_lists() {
        let policy = policy();
        assert_eq!(policy.role_of("ADMIN"), Role::Admin);
        assert_eq!(policy.role_of("bob"), Role::Approver);
        assert_eq!(policy.role_of("vic"), Role::Viewer);
        assert_eq!(policy.role_of("dave"), Role::Developer);
    }

    #[test]
    fn viewers_cannot_mutate_anything() {
        let text = reason(policy().authorize("vic", Operation::Create, subject("dev", "vic")));
        assert!(text.contains("viewer") && text.contains("create"), "{text}");
    }

    #[test]
    fn developers_create_and_merge_their_own_but_do_not_apply() {
        let policy = policy();
        let own = subject("dev", "dave");
        assert!(
            policy
                .authorize("dave", Operation::Create, own)
                .is_allowed()
        );
        assert!(policy.authorize("dave", Operation::Merge, own).is_allowed());
        let text = reason(policy.authorize("dave", Operation::Apply, own));
        assert!(
            text.contains("only approvers and admins can apply"),
            "{text}"
        );
        let text = reason(policy.authorize("erin", Operation::Update, own));
        assert!(text.contains("only the requester (dave)"), "{text}");
    }

    #[test]
    fn requesters_never_approve_their_own_unless_policy_allows() {
        let mut policy = policy();
        let text = reason(policy.authorize("bob", Operation::Approve, subject("dev", "bob")));
        assert!(text.contains("bob requested this"), "{text}");
        assert!(
            policy
                .authorize("carol", Operation::Approve, subject("dev", "bob"))
                .is_allowed()
        );
        let text = reason(policy.authorize("dave", Operation::Approve, subject("dev", "bob")));
        assert!(text.contains("only approvers and admins"), "{text}");
        policy.allow_self_approval = true;
        assert!(
            policy
                .authorize("bob", Operation::Approve, subject("dev", "bob"))
                .is_allowed()
        );
    }

    #[test]
    fn prod_merge_apply_and_destroy_need_the_allowlists() {
        let policy = policy();
        let prod = subject("prod", "dave");
        assert!(policy.authorize("bob", Operation::Apply, prod).is_allowed());
        let text = reason(policy.authorize("carol", Operation::Apply, prod));
        assert!(
            text.contains("prod_allowed_users") && text.contains("allowed: admin, bob"),
            "{text}"
        );
        let text = reason(policy.authorize("dave", Operation::Merge, prod));
        assert!(text.contains("prod environment"), "{text}");
        let text = reason(policy.authorize("bob", Operation::Destroy, prod));
        assert!(text.contains("destroy_prod_allowed_users"), "{text}");
        assert!(
            policy
                .authorize("admin", Operation::Destroy, prod)
                .is_allowed()
        );
        // Outside prod the allowlists do not apply.
        assert!(
            policy
                .authorize("carol", Operation::Apply, subject("dev", "dave"))
                .is_allowed()
        );
    }

    #[test]
    fn only_admins_manage_team_config() {
        let policy = policy();
        assert!(
            policy
                .authorize_admin("Admin", "change templates")
                .is_allowed()
        );
        let text = reason(policy.authorize_admin("bob", "change templates"));
        assert_eq!(
            text,
            "only admins can change templates; bob is an approver (admins are listed under `admins` in config/policy.json)"
        );
        assert!(!policy.authorize_admin("dave", "x").is_allowed());
        assert!(!policy.authorize_admin("vic", "x").is_allowed());
    }

    #[test]
    fn a_login_cannot_be_admin_and_viewer() {
        let error = AccessPolicy::parse(r#"{"admins": ["x"], "viewers": ["x"]}"#, "p").unwrap_err();
        assert!(error.to_string().contains("both as admin and as viewer"));
    }
}
