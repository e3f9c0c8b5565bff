//! Policies on plans in the store: `policies/<name>.rego`. Admins write them, conditionally on
//! the version read (as templates); everyone reads them. The bucket's IAM must keep the prefix
//! admin-only (docs/roles-and-policy.md, "The trust model").

use crate::domain::policy::{MAX_POLICY_BYTES, POLICIES_PREFIX, policy_key, policy_name_of_key};

use super::{ETag, PutCondition, Store, StoreError, Versioned};

/// One policy file as listed: its name and its text, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub name: String,
    pub source: Result<String, String>,
}

impl Store {
    /// Every `.rego` file under `policies/`, in name order. A file that cannot be used (too
    /// large, not a regular file, a name that is not a policy name) comes with the reason, so
    /// it is reported, and blocks, instead of vanishing.
    pub async fn load_policies(&self) -> Result<Vec<PolicyFile>, StoreError> {
        let mut files = Vec::new();
        for (key, source) in self
            .text_files(POLICIES_PREFIX, ".rego", MAX_POLICY_BYTES as u64)
            .await?
        {
            let file = match policy_name_of_key(&key) {
                Some(name) => PolicyFile {
                    name: name.to_string(),
                    source,
                },
                None => PolicyFile {
                    name: key
                        .strip_prefix(POLICIES_PREFIX)
                        .unwrap_or(&key)
                        .trim_end_matches(".rego")
                        .to_string(),
                    source: Err(format!(
                        "{key} is not named like a policy (lower-case letters, digits, `-` and `_`); rename it"
                    )),
                },
            };
            files.push(file);
        }
        Ok(files)
    }

    /// One policy as stored, with its version; `None` when there is none.
    pub async fn get_policy(&self, name: &str) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        Ok(self
            .backend()
            .get(&policy_key(name))
            .await?
            .map(|object| Versioned {
                value: object.body,
                etag: object.etag,
            }))
    }

    /// Writes a policy: create-only when `expected` is `None`, otherwise only over the version
    /// that was read.
    pub async fn put_policy(
        &self,
        name: &str,
        source: &str,
        expected: Option<&ETag>,
    ) -> Result<ETag, StoreError> {
        let condition = match expected {
            None => PutCondition::IfAbsent,
            Some(etag) => PutCondition::IfMatch(etag.clone()),
        };
        self.backend()
            .put(&policy_key(name), source.as_bytes().to_vec(), condition)
            .await
    }

    /// Deletes a policy if it is still the version that was read.
    pub async fn delete_policy(&self, name: &str, expected: &ETag) -> Result<(), StoreError> {
        self.backend()
            .delete(&policy_key(name), Some(expected))
            .await
    }
}
