//! Team configuration is read strictly: a key tfpilot does not know is an error naming the key
//! and the nearest known one, never silently ignored (a `prod_environment` typo must not leave
//! production unprotected).

use serde_json::{Map, Value};

/// The known key nearest to `key`, when one is near enough to be a likely typo.
pub fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::levenshtein(key, candidate), *candidate))
        .filter(|(distance, candidate)| {
            *distance <= 3.max(candidate.len() / 3) && *distance < candidate.len()
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// "unknown key `x`; did you mean `y`?", or the known keys when none is near.
pub fn unknown_key(key: &str, known: &[&str]) -> String {
    match closest(key, known) {
        Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
        None => format!(
            "unknown key `{key}`; the keys are {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The first key of `object` that is not in `known`, as [`unknown_key`] says it.
pub fn check_keys(object: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(unknown_key(key, known)),
        None => Ok(()),
    }
}

/// A serde error about an unknown field (`deny_unknown_fields`: "unknown field `x`, expected
/// one of `a`, `b`") with the nearest expected field added; any other error as it was.
pub fn explain(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((field, after)) = rest.split_once('`') else {
        return message;
    };
    let expected: Vec<&str> = after.split('`').skip(1).step_by(2).collect::<Vec<_>>();
    match closest(field, &expected) {
        Some(near) => format!("{message}; did you mean `{near}`?"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_name_the_nearest_key() {
        let known = ["prod_environments", "prod_allowed_users", "admins"];
        assert_eq!(
            unknown_key("prod_environment", &known),
            "unknown key `prod_environment`; did you mean `prod_environments`?"
        );
        assert!(unknown_key("colour", &known).contains("the keys are `prod_environments`"));
        let object = serde_json::json!({"admins": [], "prod_environment": ["prod"]});
        assert!(check_keys(object.as_object().unwrap(), &known).is_err());
    }

    #[test]
    fn serde_errors_about_unknown_fields_gain_a_suggestion() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Field {
            name: String,
            sensitive: Option<bool>,
        }
        let error = serde_json::from_str::<Field>(r#"{"name": "a", "sensitiv": true}"#)
            .expect_err("unknown field");
        let text = explain(&error);
        assert!(text.starts_with("unknown field `sensitiv`"), "{text}");
        assert!(text.contains("did you mean `sensitive`?"), "{text}");
    }
}
