//! Template management: admins write `templates/<id>.json`, everyone reads them. Writes are
//! conditional on the version read, so two admins editing one template cannot lose a change.

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::access::Decision;
use crate::domain::template::Template;
use crate::store::{StoreError, TemplateWrite};

/// The templates `tfpilot template seed` offers, one per example module.
pub const SEED_TEMPLATES: [&str; 3] = [
    include_str!("../../examples/store/templates/logs-bucket.json"),
    include_str!("../../examples/store/templates/work-queue.json"),
    include_str!("../../examples/store/templates/dev-postgres.json"),
];

/// What seeding did with one template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedResult {
    pub id: String,
    /// `created`, `kept` (one with this id exists and was left alone) or `skipped`.
    pub outcome: &'static str,
    pub detail: String,
}

impl Engine {
    pub(super) fn require_admin(&self, what: &str) -> Result<(), EngineError> {
        match self.team.access.authorize_admin(&self.actor, what) {
            Decision::Allowed => Ok(()),
            Decision::Denied { reason } => Err(EngineError::denied(reason)),
        }
    }

    /// Creates or replaces a template after checking it against the catalog. Returns what it
    /// did and the template as stored.
    pub async fn put_template(
        &self,
        mut template: Template,
    ) -> Result<(TemplateWrite, Template), EngineError> {
        self.require_admin("change templates")?;
        template.check(&self.team.modules).map_err(invalid)?;
        let current = self.store.get_template(&template.id).await?;
        if let Some(current) = &current
            && let Ok(stored) = Template::parse(
                &String::from_utf8_lossy(&current.value),
                &crate::domain::template::template_key(&template.id),
            )
            && same_content(&stored, &template)
        {
            return Ok((TemplateWrite::Unchanged, stored));
        }
        template.updated_by = Some(self.actor.clone());
        template.updated_at = Some(self.now());
        let expected = current.as_ref().map(|c| &c.etag);
        match self.store.put_template(&template, expected).await {
            Ok(_) => {
                let write = if current.is_some() {
                    TemplateWrite::Replaced
                } else {
                    TemplateWrite::Created
                };
                tracing::info!(id = %template.id, ?write, actor = %self.actor, "template written");
                Ok((write, template))
            }
            Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => {
                Err(EngineError::conflict(format!(
                    "template {} was changed by someone else while this was written; check it with `tfpilot template show {}` and try again",
                    template.id, template.id
                )))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a template. Requests made from it keep their `template_id` as a record.
    pub async fn delete_template(&self, id: &str) -> Result<(), EngineError> {
        self.require_admin("delete templates")?;
        let Some(current) = self.store.get_template(id).await? else {
            return Err(EngineError::Invalid {
                message: format!("no template named {id:?}; see `tfpilot template list`"),
            });
        };
        match self.store.delete_template(id, &current.etag).await {
            Ok(()) => {
                tracing::info!(%id, actor = %self.actor, "template deleted");
                Ok(())
            }
            Err(StoreError::PreconditionFailed { .. }) => Err(EngineError::conflict(format!(
                "template {id} changed while it was being deleted; check it and try again"
            ))),
            // Someone deleted it first: what was asked holds.
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes the example templates whose module is in the catalog, leaving any template
    /// that already has the id alone.
    pub async fn seed_templates(&self) -> Result<Vec<SeedResult>, EngineError> {
        self.require_admin("seed templates")?;
        let mut results = Vec::new();
        for text in SEED_TEMPLATES {
            // The seeds are files of this repository, parsed by a test.
            let mut template = Template::parse(text, "seed").map_err(invalid)?;
            if let Err(error) = template.check(&self.team.modules) {
                results.push(SeedResult {
                    id: template.id.clone(),
                    outcome: "skipped",
                    detail: error.to_string(),
                });
                continue;
            }
            template.updated_by = Some(self.actor.clone());
            template.updated_at = Some(self.now());
            let (outcome, detail) = match self.store.put_template(&template, None).await {
                Ok(_) => ("created", template.description.clone()),
                Err(StoreError::AlreadyExists { .. }) => {
                    ("kept", "a template with this id exists".to_string())
                }
                Err(error) => return Err(error.into()),
            };
            results.push(SeedResult {
                id: template.id,
                outcome,
                detail,
            });
        }
        Ok(results)
    }
}

/// Equal apart from who wrote it and when.
fn same_content(a: &Template, b: &Template) -> bool {
    let strip = |t: &Template| Template {
        updated_by: None,
        updated_at: None,
        ..t.clone()
    };
    strip(a) == strip(b)
}

fn invalid(error: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid {
        message: error.to_string(),
    }
}
