//! Change requests, as data: what a change touches (and whether that replaces the resource),
//! the values an original's resources have after its changes, and its history in words.

use serde_json::{Map, Value};

use super::catalog::ModuleDef;
use super::request::Request;
use super::status::derive_status;

/// What a change does to the values, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePlan {
    /// Fields whose value changes.
    pub fields: Vec<String>,
    /// Of those, the ones the module marks `force_new`: changing them replaces the resource.
    pub replaces: Vec<String>,
}

/// The values the resources have now: those of the newest applied change, else the original's.
pub fn current_values(original: &Request, changes: &[Request]) -> Map<String, Value> {
    changes
        .iter()
        .rev()
        .find(|change| {
            change
                .apply_run
                .as_deref()
                .is_some_and(super::run::RunFact::succeeded)
        })
        .map(|change| change.config.clone())
        .unwrap_or_else(|| original.config.clone())
}

/// Which fields a change touches, and which of those replace the resource.
pub fn describe_change(
    module: &ModuleDef,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> ChangePlan {
    let mut fields: Vec<String> = after
        .iter()
        .filter(|(name, value)| before.get(*name) != Some(value))
        .map(|(name, _)| name.clone())
        .chain(
            before
                .keys()
                .filter(|name| !after.contains_key(*name))
                .cloned(),
        )
        .collect();
    fields.sort();
    fields.dedup();
    let replaces = fields
        .iter()
        .filter(|name| {
            module
                .fields
                .iter()
                .any(|field| field.name == **name && field.force_new)
        })
        .cloned()
        .collect();
    ChangePlan { fields, replaces }
}

/// The original's changes, oldest first, in words: id, status, the fields each changed (against
/// the values before it), which one is in flight, and whose values the resources have now
/// (the newest applied change: the original's own config is what it was first asked with).
pub fn history(
    original: &Request,
    changes: &[&Request],
    module: Option<&ModuleDef>,
) -> Vec<String> {
    let mut current = original.config.clone();
    let newest_applied = changes.iter().rposition(|change| {
        change
            .apply_run
            .as_deref()
            .is_some_and(super::run::RunFact::succeeded)
    });
    changes
        .iter()
        .enumerate()
        .map(|(index, change)| {
            let status = derive_status(change);
            let plan = module.map(|module| describe_change(module, &current, &change.config));
            if change
                .apply_run
                .as_deref()
                .is_some_and(super::run::RunFact::succeeded)
            {
                current = change.config.clone();
            }
            let fields = plan
                .as_ref()
                .map(|plan| {
                    let mut words = plan.fields.join(", ");
                    if !plan.replaces.is_empty() {
                        words.push_str(&format!(" (replaces: {})", plan.replaces.join(", ")));
                    }
                    words
                })
                .unwrap_or_default();
            let flight = if status.is_final() {
                ""
            } else {
                " · in flight"
            };
            let now = if Some(index) == newest_applied {
                " · the values now"
            } else {
                ""
            };
            format!("{} {}{flight}{now} · {fields}", change.id, status.as_str())
        })
        .collect()
}

/// An original's values now, where an applied change made them differ from the first ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValuesNow {
    /// The change whose values the resources have.
    pub from: String,
    pub fields: Vec<ValueNow>,
}

/// One field's first value and its value now, as a person reads them (sensitive ones masked;
/// "(unset)" for a field one side does not have).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValueNow {
    pub name: String,
    pub first: String,
    pub now: String,
}

/// The fields an original's newest applied change set differently, or `None` when no change
/// was applied.
pub fn values_now(
    original: &Request,
    changes: &[&Request],
    module: Option<&ModuleDef>,
) -> Option<ValuesNow> {
    let newest = changes.iter().rev().find(|change| {
        change
            .apply_run
            .as_deref()
            .is_some_and(super::run::RunFact::succeeded)
    })?;
    let shown = |name: &str, value: Option<&Value>| -> String {
        let sensitive = module
            .and_then(|module| module.field(name))
            .is_some_and(|field| field.sensitive);
        match value {
            None => "(unset)".to_string(),
            Some(_) if sensitive => super::presentation::MASK.to_string(),
            Some(value) => value.to_string(),
        }
    };
    let mut names: Vec<&String> = original.config.keys().collect();
    names.extend(newest.config.keys());
    names.sort();
    names.dedup();
    let fields = names
        .into_iter()
        .filter(|name| original.config.get(*name) != newest.config.get(*name))
        .map(|name| ValueNow {
            name: name.clone(),
            first: shown(name, original.config.get(name)),
            now: shown(name, newest.config.get(name)),
        })
        .collect();
    Some(ValuesNow {
        from: newest.id.clone(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::ModuleDef;
    use crate::domain::time::Timestamp;
    use serde_json::json;

    fn module() -> ModuleDef {
        ModuleDef::parse(
            include_str!("../../examples/store/config/modules/s3-bucket.json"),
            "s3-bucket.json",
        )
        .unwrap()
    }

    fn request(id: &str, config: Value) -> Request {
        let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let mut request = Request::new(id, "payments", "dev", "s3-bucket", "alice", at);
        request.config = config.as_object().cloned().unwrap();
        request
    }

    fn applied(mut request: Request) -> Request {
        request.apply_run = Some(Box::new(crate::domain::RunFact {
            id: Some(1),
            status: Some(crate::domain::RunStatus::Completed),
            conclusion: Some(crate::domain::RunConclusion::Success),
            ..Default::default()
        }));
        request
    }

    #[test]
    fn a_change_names_its_fields_and_the_ones_that_replace_the_resource() {
        let before = json!({"bucket_name": "a", "versioning": true});
        let after = json!({"bucket_name": "b", "versioning": true, "lifecycle_days": 30});
        let plan = describe_change(
            &module(),
            before.as_object().unwrap(),
            after.as_object().unwrap(),
        );
        assert_eq!(plan.fields, ["bucket_name", "lifecycle_days"]);
        assert_eq!(plan.replaces, ["bucket_name"]);
    }

    #[test]
    fn current_values_are_the_newest_applied_changes() {
        let original = request("req_o", json!({"lifecycle_days": 90}));
        let first = applied(request("req_c1", json!({"lifecycle_days": 30})));
        let second = request("req_c2", json!({"lifecycle_days": 7}));
        let changes = [first.clone(), second.clone()];
        assert_eq!(
            current_values(&original, &changes)["lifecycle_days"],
            json!(30),
            "the unapplied second change does not count"
        );
        let now = values_now(&original, &[&first, &second], Some(&module())).unwrap();
        assert_eq!(now.from, "req_c1");
        assert_eq!(
            now.fields,
            [ValueNow {
                name: "lifecycle_days".into(),
                first: "90".into(),
                now: "30".into()
            }]
        );
        assert_eq!(values_now(&original, &[&second], Some(&module())), None);
        let lines = history(&original, &[&first, &second], Some(&module()));
        assert_eq!(lines[0], "req_c1 applied · the values now · lifecycle_days");
        assert_eq!(
            lines[1],
            "req_c2 request_created · in flight · lifecycle_days"
        );
    }
}
