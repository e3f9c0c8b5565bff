//! `terraform show -json` of a simulated plan: Terraform's documented JSON plan format
//! (`format_version` 1.2: `resource_changes[]` with `address`, `module_address`, `mode`, `type`,
//! `name`, `provider_name` and `change` {`actions`, `before`, `after`, `after_unknown`,
//! `before_sensitive`, `after_sensitive`}), built from the same resource changes the text plan
//! shows. Attribute values are read back from their HCL text.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::plan::{Action, ResourceChange};

pub use crate::domain::plan_json::{PLAN_JSON_ARTIFACT, PLAN_JSON_FILE};

/// Attribute names the simulated provider marks sensitive, as a real provider's schema would.
fn sensitive(attribute: &str) -> bool {
    attribute.contains("password") || attribute.ends_with("api_key")
}

pub fn plan_json(changes: &[ResourceChange]) -> Value {
    let mut plan = json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "applyable": !changes.is_empty(),
        "complete": true,
        "errored": false,
    });
    if !changes.is_empty() {
        plan["resource_changes"] = changes.iter().map(resource_change).collect();
    }
    plan
}

fn resource_change(change: &ResourceChange) -> Value {
    let actions: &[&str] = match change.action {
        Action::Create => &["create"],
        Action::Update => &["update"],
        Action::Replace => &["delete", "create"],
        Action::Delete => &["delete"],
    };
    let before = (change.action != Action::Create).then(|| object(&change.before));
    let after = (change.action != Action::Delete).then(|| object(&change.after));
    let unknown = if matches!(change.action, Action::Create | Action::Replace) {
        json!({"id": true, "arn": true})
    } else if change.action == Action::Delete {
        json!(false)
    } else {
        json!({})
    };
    let module_address = change
        .address
        .rsplitn(3, '.')
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let mut value = json!({
        "address": change.address,
        "module_address": module_address,
        "mode": "managed",
        "type": change.kind,
        "name": change.name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before.clone().map_or(Value::Null, Value::Object),
            "after": after.clone().map_or(Value::Null, Value::Object),
            "after_unknown": unknown,
            "before_sensitive": marks(before.as_ref()),
            "after_sensitive": marks(after.as_ref()),
        }
    });
    if change.action == Action::Replace {
        value["action_reason"] = json!("replace_because_cannot_update");
    }
    value
}

fn object(attributes: &BTreeMap<String, String>) -> Map<String, Value> {
    attributes
        .iter()
        .map(|(name, text)| (name.clone(), hcl_value(text)))
        .collect()
}

/// Terraform's sensitivity structure for one side: `false` without a value, else an object
/// marking the sensitive attributes.
fn marks(side: Option<&Map<String, Value>>) -> Value {
    match side {
        None => json!(false),
        Some(attributes) => Value::Object(
            attributes
                .keys()
                .filter(|name| sensitive(name))
                .map(|name| (name.clone(), json!(true)))
                .collect(),
        ),
    }
}

/// An HCL literal as the block writer renders it (strings, numbers, bools, lists and maps of
/// strings, flattened onto one line) read back as JSON.
pub fn hcl_value(text: &str) -> Value {
    let tokens = tokenize(text.trim());
    let mut position = 0;
    let value = parse_value(&tokens, &mut position);
    if position == tokens.len() {
        value
    } else {
        Value::String(text.trim().to_string())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Word(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut raw = String::from("\"");
                while let Some(c) = chars.next() {
                    raw.push(c);
                    match c {
                        '\\' => raw.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
                let unescaped = serde_json::from_str::<String>(&raw)
                    .unwrap_or_else(|_| raw.trim_matches('"').to_string());
                // HCL's own escapes for template sequences.
                tokens.push(Token::Text(
                    unescaped.replace("$${", "${").replace("%%{", "%{"),
                ));
            }
            '[' | ']' | '{' | '}' | ',' | '=' => {
                chars.next();
                tokens.push(Token::Punct(c));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "[]{},=\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    tokens
}

fn parse_value(tokens: &[Token], position: &mut usize) -> Value {
    let Some(token) = tokens.get(*position) else {
        return Value::Null;
    };
    *position += 1;
    match token {
        Token::Text(text) => Value::String(text.clone()),
        Token::Word(word) => match word.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => serde_json::from_str::<serde_json::Number>(word)
                .map_or_else(|_| Value::String(word.clone()), Value::Number),
        },
        Token::Punct('[') => {
            let mut items = Vec::new();
            while let Some(token) = tokens.get(*position) {
                match token {
                    Token::Punct(']') => {
                        *position += 1;
                        break;
                    }
                    Token::Punct(',') => *position += 1,
                    _ => items.push(parse_value(tokens, position)),
                }
            }
            Value::Array(items)
        }
        Token::Punct('{') => {
            let mut entries = Map::new();
            while let Some(token) = tokens.get(*position) {
                match token {
                    Token::Punct('}') => {
                        *position += 1;
                        break;
                    }
                    Token::Punct(',') => *position += 1,
                    Token::Text(key) | Token::Word(key) => {
                        *position += 1;
                        if tokens.get(*position) == Some(&Token::Punct('=')) {
                            *position += 1;
                        }
                        entries.insert(key.clone(), parse_value(tokens, position));
                    }
                    Token::Punct(_) => *position += 1,
                }
            }
            Value::Object(entries)
        }
        Token::Punct(c) => Value::String(c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan_json::PlanJson;

    #[test]
    fn hcl_literals_read_back_as_json() {
        assert_eq!(hcl_value("\"logs\""), json!("logs"));
        assert_eq!(
            hcl_value("\"a \\\"q\\\" \\u0024{x} $${y}\""),
            json!("a \"q\" ${x} ${y}")
        );
        assert_eq!(hcl_value("true"), json!(true));
        assert_eq!(hcl_value("20"), json!(20));
        assert_eq!(hcl_value("2.5"), json!(2.5));
        assert_eq!(hcl_value("[ \"a\", \"b\", ]"), json!(["a", "b"]));
        assert_eq!(hcl_value("[]"), json!([]));
        assert_eq!(
            hcl_value("{ \"team\" = \"core\" \"env\" = \"dev\" }"),
            json!({"team": "core", "env": "dev"})
        );
        assert_eq!(hcl_value("{}"), json!({}));
    }

    #[test]
    fn the_json_plan_is_one_tfpilot_reads_with_the_text_plans_resources() {
        let change = ResourceChange {
            address: "module.tfpilot_r1.aws_db_instance.this".into(),
            kind: "aws_db_instance".into(),
            name: "this".into(),
            action: Action::Replace,
            attributes: vec![],
            before: BTreeMap::from([
                ("identifier".into(), "\"a\"".into()),
                ("master_password_ssm_parameter".into(), "\"/p\"".into()),
            ]),
            after: BTreeMap::from([
                ("identifier".into(), "\"b\"".into()),
                ("multi_az".into(), "true".into()),
                ("master_password_ssm_parameter".into(), "\"/p\"".into()),
            ]),
        };
        let plan = PlanJson::from_value(plan_json(&[change])).expect("a plan tfpilot reads");
        let changes = plan.resource_changes();
        assert_eq!(changes[0].address, "module.tfpilot_r1.aws_db_instance.this");
        assert_eq!(changes[0].actions, ["delete", "create"]);
        let value = plan.as_value();
        let rc = &value["resource_changes"][0];
        assert_eq!(rc["module_address"], "module.tfpilot_r1");
        assert_eq!(rc["change"]["after"]["multi_az"], true);
        assert_eq!(rc["change"]["before"]["identifier"], "a");
        // Marked sensitive by the simulated provider, masked by tfpilot's reader.
        assert_eq!(
            rc["change"]["after"]["master_password_ssm_parameter"],
            crate::domain::plan_json::SENSITIVE_MASK
        );
        let empty = plan_json(&[]);
        assert!(empty.get("resource_changes").is_none());
        assert!(PlanJson::from_value(empty).is_ok());
    }
}
