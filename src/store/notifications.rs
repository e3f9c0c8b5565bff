//! Notification claims (`notifications/<id>/<transition>.json`): whoever writes the claim
//! first posts the notification, so two reconcilers never announce one transition twice.

use crate::domain::Timestamp;
use crate::domain::notify::{CLAIMED, Notice, NoticeClaim};

use super::{ETag, PutCondition, Store, StoreError};

/// A claim this caller holds: post, then settle it at this version.
#[derive(Debug, Clone)]
pub struct HeldClaim {
    pub key: String,
    pub etag: ETag,
    pub claim: NoticeClaim,
}

impl Store {
    /// Claims `notice` for `by`: a new claim, or one taken over from a reconciler that died
    /// mid-post or whose post failed. `None` when someone else has it or it was sent.
    pub async fn claim_notice(
        &self,
        notice: &Notice,
        by: &str,
        now: Timestamp,
    ) -> Result<Option<HeldClaim>, StoreError> {
        let key = notice.claim_key();
        let fresh = NoticeClaim {
            state: CLAIMED.into(),
            by: by.to_string(),
            at: now,
            attempts: 1,
            error: None,
        };
        match self
            .backend()
            .put(&key, render(&fresh), PutCondition::IfAbsent)
            .await
        {
            Ok(etag) => {
                return Ok(Some(HeldClaim {
                    key,
                    etag,
                    claim: fresh,
                }));
            }
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }
        let Some(object) = self.backend().get(&key).await? else {
            return Ok(None); // Deleted meanwhile: by an admin; leave it.
        };
        let Ok(existing) = serde_json::from_slice::<NoticeClaim>(&object.body) else {
            tracing::warn!(%key, "unreadable notification claim left alone");
            return Ok(None);
        };
        if !existing.may_take_over(now) {
            return Ok(None);
        }
        let taken = NoticeClaim {
            attempts: existing.attempts + 1,
            ..fresh
        };
        match self
            .backend()
            .put(&key, render(&taken), PutCondition::IfMatch(object.etag))
            .await
        {
            Ok(etag) => Ok(Some(HeldClaim {
                key,
                etag,
                claim: taken,
            })),
            Err(StoreError::PreconditionFailed { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Records how the post went (`sent` or `failed` with the error), at the claimed version.
    pub async fn settle_notice(
        &self,
        held: &HeldClaim,
        state: &str,
        error: Option<String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let settled = NoticeClaim {
            state: state.to_string(),
            at: now,
            error,
            ..held.claim.clone()
        };
        self.backend()
            .put(
                &held.key,
                render(&settled),
                PutCondition::IfMatch(held.etag.clone()),
            )
            .await
            .map(|_| ())
    }
}

fn render(claim: &NoticeClaim) -> Vec<u8> {
    // A struct of strings and numbers always serializes.
    serde_json::to_vec_pretty(claim).expect("claim serializes")
}
