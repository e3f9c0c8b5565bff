//! Change: an applied request's values changed through a new request, the change request. It
//! is its own document (`changes: <original>`) with its own branch, pull request and runs, and
//! it edits the original's block in place (the same markers and module address), so Terraform
//! updates the resources instead of replacing them. One change may be in flight per original;
//! the original lists its changes (`change_requests`), oldest first.

use serde_json::{Map, Value, json};

use super::create::invalid;
use super::guard::{Begun, Finish, Held, PendingEvent};
use super::secrets::SecretOwner;
use super::verify::github_subject;
use super::{Engine, EngineError, OpOutcome, new_id, repo_of};
use crate::domain::catalog::find_module;
use crate::domain::change::{current_values, describe_change};
use crate::domain::operation::Operation;
use crate::domain::{Request, derive_status, lock};

impl Engine {
    /// Opens a change request for applied request `original` with `values` over its current
    /// values (its latest applied change's, else its own). Returns the change request.
    pub async fn change(
        &self,
        original: &str,
        values: Map<String, Value>,
        key: Option<&str>,
    ) -> Result<OpOutcome, EngineError> {
        let (held, request) = match self.begin(original, Operation::Change, key).await? {
            Begun::Held(held, request) => (held, request),
            Begun::Early(outcome) => return Ok(outcome),
        };
        let mut opened = None;
        let result = self
            .change_locked(&held, request, values, &mut opened)
            .await;
        let outcome = self.end(held, result).await?;
        match opened {
            // The change request as it is now, with the original's words.
            Some(id) => Ok(OpOutcome {
                request: self.store.get_request(&id).await?.value,
                ..outcome
            }),
            None => Ok(outcome),
        }
    }

    /// The original's changes as documents, oldest first (unreadable ones left out).
    pub async fn changes_of(&self, original: &Request) -> Vec<Request> {
        let mut changes = Vec::new();
        for id in &original.change_requests {
            match self.store.get_request(id).await {
                Ok(change) => changes.push(change.value),
                Err(error) => {
                    tracing::warn!(original = %original.id, change = %id, %error, "cannot read a change request")
                }
            }
        }
        changes
    }

    async fn change_locked(
        &self,
        held: &Held,
        original: Request,
        values: Map<String, Value>,
        opened: &mut Option<String>,
    ) -> Result<Finish, EngineError> {
        // The document names its requester; GitHub says who opened the pull request. A
        // developer who is neither approver nor admin may change only what GitHub says they
        // asked for.
        let (repo, _) = repo_of(&original)?;
        let number = original
            .pr
            .as_deref()
            .and_then(|pr| pr.number)
            .ok_or_else(|| EngineError::denied("the request has no pull request on GitHub"))?;
        let pull = self.github.get_pull_current(&repo, number).await?;
        self.require(
            Operation::Change,
            github_subject(&pull, &original.environment),
        )?;
        let changes = self.changes_of(&original).await;
        if let Some(in_flight) = changes
            .iter()
            .find(|change| !derive_status(change).is_final())
        {
            return Err(EngineError::conflict(format!(
                "change {} of {} is in flight ({}); finish or withdraw it before opening another",
                in_flight.id,
                original.id,
                derive_status(in_flight).as_str()
            )));
        }
        let current = current_values(&original, &changes);
        let module = find_module(&self.team.modules, &original.module).map_err(invalid)?;
        self.check_template_locks(&original, module, &values)?;
        let mut merged = current.clone();
        for (name, value) in &values {
            merged.insert(name.clone(), value.clone());
        }
        let config = self.validate(module, &original.environment, &merged)?;
        let plan = describe_change(module, &current, &config.values);
        if plan.fields.is_empty() {
            return Err(EngineError::Invalid {
                message: format!("nothing changes: {} already has these values", original.id),
            });
        }
        let id = format!("req_{}", ulid::Ulid::new());
        let owner = SecretOwner {
            project: &original.project,
            environment: &original.environment,
            request_id: &id,
        };
        let config = self.seal(owner, module, config).await?;
        // The original lists the change before anything reaches GitHub: a second change sees it
        // in flight from here on.
        self.persist(held, |r| {
            if !r.change_requests.contains(&id) {
                r.change_requests.push(id.clone());
            }
        })
        .await?;
        let now = self.now();
        let mut request = Request::new(
            &id,
            &original.project,
            &original.environment,
            &original.module,
            &self.actor,
            now,
        );
        request.config = config.values.clone();
        request.template_id = original.template_id.clone();
        request.target = original.target.clone();
        request.changes = Some(original.id.clone());
        request.replaces = plan.replaces.clone();
        request.branch = Some(format!("tfpilot/{id}"));
        let token = new_id();
        // A fresh document cannot be locked by anyone else.
        let _ = lock::acquire(
            &mut request,
            &self.holder,
            &token,
            Operation::Create.as_str(),
            now,
            self.settings.lock_ttl_seconds,
        );
        let stored = self.store.create_request(&request).await?;
        let created = stored.value.clone();
        let change_held = Box::new(self.hold(stored, Operation::Create, new_id(), token));
        *opened = Some(id.clone());
        let result = self
            .create_locked(&change_held, created, module, &config)
            .await;
        let outcome = self.end(change_held, result).await?;
        let replaces = match plan.replaces.is_empty() {
            true => String::new(),
            false => format!(
                "; ! changing {} REPLACES the resource (destroyed and created again)",
                plan.replaces.join(", ")
            ),
        };
        Ok(Finish {
            message: format!(
                "opened change {id} of {} ({}){replaces}: {}",
                original.id,
                plan.fields.join(", "),
                outcome.message
            ),
            events: vec![
                PendingEvent::new(
                    "change_requested",
                    format!("change {id}: {}{replaces}", plan.fields.join(", ")),
                )
                .with_data(json!({
                    "change": id,
                    "fields": plan.fields,
                    "replaces": plan.replaces,
                })),
            ],
        })
    }
}
