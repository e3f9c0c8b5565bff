//! Terraform-shaped output for simulated runs: the tfpilot blocks of a commit
//! are read back, turned into resources per module, compared with the applied
//! state, and printed the way `terraform plan` and `terraform apply` print.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::domain::infra_file::module_label;

/// Attributes that cannot change in place: a new value replaces the resource.
const FORCES_REPLACEMENT: [&str; 9] = [
    "bucket_name",
    "queue_name",
    "role_name",
    "service_name",
    "identifier",
    "name",
    "cidr_block",
    "region",
    "fifo",
];

/// The four switches of an S3 public access block, all on in the simulated module.
const PUBLIC_ACCESS_SWITCHES: [&str; 4] = [
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    pub address: String,
    pub kind: String,
    pub name: String,
    pub action: Action,
    /// (attribute, old value, new value) in HCL text; `None` is absent. Only what changes.
    pub attributes: Vec<(String, Option<String>, Option<String>)>,
    /// Every attribute before and after, in HCL text (empty on the side that does not exist):
    /// what the JSON plan (`plan_json.rs`) shows whole.
    pub before: BTreeMap<String, String>,
    pub after: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

pub fn summarize(changes: &[ResourceChange]) -> Summary {
    let mut summary = Summary::default();
    for change in changes {
        match change.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => {
                summary.add += 1;
                summary.destroy += 1;
            }
            Action::Delete => summary.destroy += 1,
        }
    }
    summary
}

/// A block's `source` and top-level attributes (values as written, flattened
/// to one line).
pub fn block_attributes(block: &str) -> (String, BTreeMap<String, String>) {
    let mut attributes = BTreeMap::new();
    let mut pending: Option<(String, String)> = None;
    for line in block.lines() {
        if let Some((name, value)) = pending.as_mut() {
            let trimmed = line.trim();
            if line.starts_with("  ]") || line.starts_with("  }") {
                value.push_str(trimmed);
                attributes.insert(name.clone(), value.clone());
                pending = None;
            } else {
                value.push_str(trimmed);
                value.push(' ');
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        if rest.starts_with(' ') {
            continue;
        }
        let Some((name, value)) = rest.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        if value == "[" || value == "{" {
            pending = Some((name, format!("{value} ")));
        } else {
            attributes.insert(name, value);
        }
    }
    let source = attributes.remove("source").unwrap_or_default();
    attributes.remove("version");
    (source, attributes)
}

/// The resources a module creates, by the last segment of its source.
fn resource_kinds(source: &str) -> Vec<(&'static str, &'static str)> {
    let unquoted = source.trim_matches('"');
    let module = unquoted
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(unquoted)
        .split('?')
        .next()
        .unwrap_or_default();
    match module {
        "s3-bucket" => vec![
            ("aws_s3_bucket", "this"),
            ("aws_s3_bucket_public_access_block", "this"),
            ("aws_s3_bucket_server_side_encryption_configuration", "this"),
        ],
        "sqs-queue" => vec![("aws_sqs_queue", "this"), ("aws_sqs_queue", "dlq")],
        "iam-role" => vec![("aws_iam_role", "this")],
        "ecs-service" => vec![
            ("aws_ecs_task_definition", "this"),
            ("aws_ecs_service", "this"),
        ],
        "rds-postgres" => vec![("aws_db_subnet_group", "this"), ("aws_db_instance", "this")],
        "vpc" => vec![
            ("aws_vpc", "this"),
            ("aws_subnet", "private"),
            ("aws_subnet", "public"),
        ],
        _ => vec![("terraform_data", "this")],
    }
}

/// Resource address -> (kind, name, attributes) for one request's block.
pub(super) fn resources(
    request_id: &str,
    block: &str,
) -> Vec<(String, String, String, BTreeMap<String, String>)> {
    let (source, attributes) = block_attributes(block);
    let label = module_label(request_id);
    resource_kinds(&source)
        .into_iter()
        .enumerate()
        .map(|(index, (kind, name))| {
            // The module's main resource (listed last when others support it)
            // carries the request's values; supporting resources carry the name.
            let main = index + 1 == resource_kinds(&source).len();
            let mut attrs: BTreeMap<String, String> = if main {
                attributes.clone()
            } else {
                attributes
                    .iter()
                    .filter(|(key, _)| FORCES_REPLACEMENT.contains(&key.as_str()))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect()
            };
            if kind == "aws_s3_bucket_public_access_block" {
                // What the module sets on every bucket it makes.
                for switch in PUBLIC_ACCESS_SWITCHES {
                    attrs.insert(switch.to_string(), "true".to_string());
                }
            }
            (
                format!("module.{label}.{kind}.{name}"),
                kind.to_string(),
                name.to_string(),
                attrs,
            )
        })
        .collect()
}

/// What it takes to go from the applied blocks to the desired ones.
pub fn diff(
    deployed: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Vec<ResourceChange> {
    let mut changes = Vec::new();
    let ids: std::collections::BTreeSet<&String> = deployed.keys().chain(desired.keys()).collect();
    for id in ids {
        let before = deployed
            .get(id)
            .map(|block| resources(id, block))
            .unwrap_or_default();
        let after = desired
            .get(id)
            .map(|block| resources(id, block))
            .unwrap_or_default();
        for (address, kind, name, old) in &before {
            if !after.iter().any(|(a, ..)| a == address) {
                changes.push(ResourceChange {
                    address: address.clone(),
                    kind: kind.clone(),
                    name: name.clone(),
                    action: Action::Delete,
                    attributes: old
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone()), None))
                        .collect(),
                    before: old.clone(),
                    after: BTreeMap::new(),
                });
            }
        }
        for (address, kind, name, new) in &after {
            let old = before
                .iter()
                .find(|(a, ..)| a == address)
                .map(|(.., attrs)| attrs);
            let change = match old {
                None => Some(ResourceChange {
                    address: address.clone(),
                    kind: kind.clone(),
                    name: name.clone(),
                    action: Action::Create,
                    attributes: new
                        .iter()
                        .map(|(k, v)| (k.clone(), None, Some(v.clone())))
                        .collect(),
                    before: BTreeMap::new(),
                    after: new.clone(),
                }),
                Some(old) if old != new => {
                    let keys: std::collections::BTreeSet<&String> =
                        old.keys().chain(new.keys()).collect();
                    let attributes: Vec<_> = keys
                        .into_iter()
                        .filter(|key| old.get(*key) != new.get(*key))
                        .map(|key| ((*key).clone(), old.get(key).cloned(), new.get(key).cloned()))
                        .collect();
                    let replace = attributes
                        .iter()
                        .any(|(key, ..)| FORCES_REPLACEMENT.contains(&key.as_str()));
                    Some(ResourceChange {
                        address: address.clone(),
                        kind: kind.clone(),
                        name: name.clone(),
                        action: if replace {
                            Action::Replace
                        } else {
                            Action::Update
                        },
                        attributes,
                        before: old.clone(),
                        after: new.clone(),
                    })
                }
                Some(_) => None,
            };
            changes.extend(change);
        }
    }
    changes
}

/// The in-place change a drift check reports for a request's main resource.
pub fn drift_change(request_id: &str, block: &str) -> Option<ResourceChange> {
    let (address, kind, name, attributes) = resources(request_id, block).pop()?;
    Some(ResourceChange {
        before: attributes.clone(),
        after: attributes,
        address,
        kind,
        name,
        action: Action::Update,
        attributes: vec![(
            "tags".to_string(),
            Some("{ \"changed-by\" = \"console\" }".to_string()),
            Some("{}".to_string()),
        )],
    })
}

/// `terraform plan` output for `changes`.
pub fn render_plan(changes: &[ResourceChange]) -> String {
    if changes.is_empty() {
        return "No changes. Your infrastructure matches the configuration.\n\n\
                Terraform has compared your real infrastructure against your configuration\n\
                and found no differences, so no changes are needed.\n"
            .to_string();
    }
    let mut out = String::from(
        "Terraform used the selected providers to generate the following execution\n\
         plan. Resource actions are indicated with the following symbols:\n",
    );
    for (action, legend) in [
        (Action::Create, "  + create"),
        (Action::Update, "  ~ update in-place"),
        (Action::Delete, "  - destroy"),
        (Action::Replace, "-/+ destroy and then create replacement"),
    ] {
        if changes.iter().any(|change| change.action == action) {
            out.push_str(legend);
            out.push('\n');
        }
    }
    out.push_str("\nTerraform will perform the following actions:\n\n");
    for change in changes {
        render_change(&mut out, change);
    }
    let summary = summarize(changes);
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to destroy.",
        summary.add, summary.change, summary.destroy
    );
    out
}

fn render_change(out: &mut String, change: &ResourceChange) {
    let (verb, symbol) = match change.action {
        Action::Create => ("will be created", "  +"),
        Action::Update => ("will be updated in-place", "  ~"),
        Action::Replace => ("must be replaced", "-/+"),
        Action::Delete => ("will be destroyed", "  -"),
    };
    let _ = writeln!(out, "  # {} {verb}", change.address);
    let _ = writeln!(
        out,
        "{symbol} resource \"{}\" \"{}\" {{",
        change.kind, change.name
    );
    let width = change
        .attributes
        .iter()
        .map(|(key, ..)| key.len())
        .chain([2])
        .max()
        .unwrap_or(2);
    match change.action {
        Action::Create => {
            let _ = writeln!(out, "      + {:width$} = (known after apply)", "id");
        }
        Action::Replace => {
            let _ = writeln!(out, "      ~ {:width$} = (known after apply)", "id");
        }
        Action::Update | Action::Delete => {}
    }
    for (key, old, new) in &change.attributes {
        let line = match (old, new) {
            (None, Some(new)) => format!("      + {key:width$} = {new}"),
            (Some(old), None) => format!("      - {key:width$} = {old} -> null"),
            (Some(old), Some(new)) => {
                let forces = if change.action == Action::Replace
                    && FORCES_REPLACEMENT.contains(&key.as_str())
                {
                    " # forces replacement"
                } else {
                    ""
                };
                format!("      ~ {key:width$} = {old} -> {new}{forces}")
            }
            (None, None) => continue,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("    }\n\n");
}

/// `terraform apply` progress lines and its closing summary.
pub fn render_apply(changes: &[ResourceChange], destroy_only: bool) -> String {
    let mut out = String::new();
    for change in changes {
        let address = &change.address;
        match change.action {
            Action::Create => {
                let _ = writeln!(out, "{address}: Creating...");
                let _ = writeln!(
                    out,
                    "{address}: Creation complete after 2s [id={}]",
                    change.name
                );
            }
            Action::Update => {
                let _ = writeln!(out, "{address}: Modifying... [id={}]", change.name);
                let _ = writeln!(
                    out,
                    "{address}: Modifications complete after 1s [id={}]",
                    change.name
                );
            }
            Action::Replace => {
                let _ = writeln!(out, "{address}: Destroying... [id={}]", change.name);
                let _ = writeln!(out, "{address}: Destruction complete after 1s");
                let _ = writeln!(out, "{address}: Creating...");
                let _ = writeln!(
                    out,
                    "{address}: Creation complete after 3s [id={}]",
                    change.name
                );
            }
            Action::Delete => {
                let _ = writeln!(out, "{address}: Destroying... [id={}]", change.name);
                let _ = writeln!(out, "{address}: Destruction complete after 1s");
            }
        }
    }
    let summary = summarize(changes);
    out.push('\n');
    if destroy_only {
        let _ = writeln!(
            out,
            "Destroy complete! Resources: {} destroyed.",
            summary.destroy
        );
    } else {
        let _ = writeln!(
            out,
            "Apply complete! Resources: {} added, {} changed, {} destroyed.",
            summary.add, summary.change, summary.destroy
        );
    }
    out
}

/// Terraform's boxed error diagnostic.
pub fn render_error(message: &str, address: Option<&str>) -> String {
    let mut out = String::from("╷\n");
    let _ = writeln!(out, "│ Error: {message}");
    if let Some(address) = address {
        out.push_str("│ \n");
        let _ = writeln!(out, "│   with {address},");
    }
    out.push_str("╵\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hcl::HclValue;
    use crate::domain::infra_file::{ModuleBlock, render_block};

    fn bucket(id: &str, name: &str, versioning: bool) -> String {
        render_block(&ModuleBlock {
            request_id: id.to_string(),
            source: "git::https://github.com/acme/terraform-modules.git//s3-bucket".into(),
            version: Some("v2.3.0".into()),
            values: vec![
                ("bucket_name".into(), HclValue::String(name.into())),
                ("versioning".into(), HclValue::Bool(versioning)),
                (
                    "readers".into(),
                    HclValue::List(vec!["a".into(), "b".into()]),
                ),
            ],
        })
        .unwrap()
    }

    #[test]
    fn reads_attributes_back_from_a_rendered_block() {
        let (source, attributes) = block_attributes(&bucket("r1", "logs", true));
        assert_eq!(
            source,
            "\"git::https://github.com/acme/terraform-modules.git//s3-bucket?ref=v2.3.0\""
        );
        assert_eq!(attributes["bucket_name"], "\"logs\"");
        assert_eq!(attributes["versioning"], "true");
        assert_eq!(attributes["readers"], "[ \"a\", \"b\", ]");
    }

    #[test]
    fn creates_updates_replaces_and_destroys() {
        let empty = BTreeMap::new();
        let one = BTreeMap::from([("r1".to_string(), bucket("r1", "logs", false))]);
        let created = diff(&empty, &one);
        assert_eq!(
            summarize(&created),
            Summary {
                add: 3,
                change: 0,
                destroy: 0
            }
        );
        let plan = render_plan(&created);
        assert!(plan.contains("  # module.tfpilot_r1.aws_s3_bucket.this will be created\n  + resource \"aws_s3_bucket\" \"this\" {"), "{plan}");
        assert!(
            plan.ends_with("Plan: 3 to add, 0 to change, 0 to destroy.\n"),
            "{plan}"
        );

        let toggled = BTreeMap::from([("r1".to_string(), bucket("r1", "logs", true))]);
        let updated = diff(&one, &toggled);
        assert_eq!(
            summarize(&updated),
            Summary {
                add: 0,
                change: 1,
                destroy: 0
            }
        );
        assert!(render_plan(&updated).contains("      ~ versioning = false -> true\n"));

        let renamed = BTreeMap::from([("r1".to_string(), bucket("r1", "logs2", false))]);
        let replaced = diff(&one, &renamed);
        assert!(replaced.iter().all(|c| c.action == Action::Replace));
        assert!(render_plan(&replaced).contains("-/+ resource \"aws_s3_bucket\" \"this\" {"));
        assert!(render_plan(&replaced).contains("# forces replacement"));

        let destroyed = diff(&one, &empty);
        assert_eq!(
            summarize(&destroyed),
            Summary {
                add: 0,
                change: 0,
                destroy: 3
            }
        );
        assert!(
            render_apply(&destroyed, true).ends_with("Destroy complete! Resources: 3 destroyed.\n")
        );
        assert!(render_plan(&diff(&one, &one)).starts_with("No changes."));
    }

    #[test]
    fn unknown_modules_become_terraform_data() {
        let block = "# tfpilot:begin/x\nmodule \"tfpilot_x\" {\n  source = \"./local\"\n}\n# tfpilot:end/x\n";
        let changes = diff(
            &BTreeMap::new(),
            &BTreeMap::from([("x".to_string(), block.to_string())]),
        );
        assert_eq!(changes[0].address, "module.tfpilot_x.terraform_data.this");
    }
}
