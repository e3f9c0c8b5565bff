//! Plan attribution: which of a plan's changes belong to the request (addresses under
//! `module.tfpilot_<request id>`) and which lie outside it. An environment's root module holds
//! every request's block, so a whole-root plan also shows other requests' unapplied or destroyed
//! resources; approvers must see those apart, and apply must not make them by surprise.

use serde::{Deserialize, Serialize};

use super::infra_file::module_label;
use super::plan_output::{ResourceAction, resource_header, strip_timestamps};

/// Counts of planned actions, as Terraform's `Plan:` line counts them (a replacement is one add
/// and one destroy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    #[serde(default)]
    pub add: u32,
    #[serde(default)]
    pub change: u32,
    #[serde(default)]
    pub destroy: u32,
}

impl ChangeCounts {
    pub fn is_empty(&self) -> bool {
        self.add == 0 && self.change == 0 && self.destroy == 0
    }

    /// `+2 ~0 -1`.
    pub fn short(&self) -> String {
        format!("+{} ~{} -{}", self.add, self.change, self.destroy)
    }

    /// Counts `action` as Terraform's `Plan:` line does; `false` for an action it does not
    /// count (reads, moves, imports, forgets).
    fn count(&mut self, action: ResourceAction) -> bool {
        match action {
            ResourceAction::Create => self.add += 1,
            ResourceAction::Update => self.change += 1,
            ResourceAction::Destroy => self.destroy += 1,
            ResourceAction::Replace => {
                self.add += 1;
                self.destroy += 1;
            }
            ResourceAction::Read | ResourceAction::Other => return false,
        }
        true
    }
}

/// The changes outside the request: their counts and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideChanges {
    #[serde(flatten)]
    pub counts: ChangeCounts,
    #[serde(default)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAttribution {
    pub request: ChangeCounts,
    pub outside: OutsideChanges,
}

impl PlanAttribution {
    pub fn changes_outside(&self) -> bool {
        !self.outside.counts.is_empty()
    }

    /// `this request +2 ~0 -0`, and what lies outside it when anything does.
    pub fn describe(&self) -> String {
        let mut text = format!("this request {}", self.request.short());
        if self.changes_outside() {
            text.push_str(&format!(
                "; outside it {} ({} resource{} of other requests or the root module)",
                self.outside.counts.short(),
                self.outside.addresses.len(),
                if self.outside.addresses.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        text
    }
}

/// Whether `address` lies in the request's module.
pub fn belongs_to(address: &str, request_id: &str) -> bool {
    in_module(address, &format!("module.{}", module_label(request_id)))
}

fn in_module(address: &str, module: &str) -> bool {
    address
        .strip_prefix(module)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// Splits the planned actions of a plan (a job log or `terraform show` text) into the request's
/// and the rest. Only actions count: drift notes ("has changed"), reads and imports do not.
pub fn attribute(text: &str, request_id: &str) -> PlanAttribution {
    attribute_headers(
        strip_timestamps(text).lines().filter_map(resource_header),
        request_id,
    )
}

/// [`attribute`] for headers already parsed (the plan view's resource blocks).
pub fn attribute_headers(
    headers: impl IntoIterator<Item = (String, ResourceAction)>,
    request_id: &str,
) -> PlanAttribution {
    let module = format!("module.{}", module_label(request_id));
    let mut attribution = PlanAttribution::default();
    for (address, action) in headers {
        if in_module(&address, &module) {
            attribution.request.count(action);
        } else if attribution.outside.counts.count(action)
            && !attribution.outside.addresses.contains(&address)
        {
            attribution.outside.addresses.push(address);
        }
    }
    attribution
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan_output::summarize;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/plans/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).expect("fixture")
    }

    #[test]
    fn real_plans_attribute_every_counted_action() {
        for name in [
            "tf-import-move-replace-update-create.txt",
            "tf-destroy-not-in-config.txt",
            "tf-replace-sensitive-heredoc.txt",
            "tf-replace-triggered-by.txt",
            "tf-import-only.txt",
        ] {
            let text = fixture(name);
            let summary = summarize(&text).expect("a plan");
            let attribution = attribute(&text, "req_1");
            // None of these plans has a tfpilot module: everything lies outside.
            assert!(attribution.request.is_empty(), "{name}");
            let outside = attribution.outside.counts;
            assert_eq!(
                (outside.add, outside.change, outside.destroy),
                (summary.add, summary.change, summary.destroy),
                "{name}"
            );
        }
    }

    #[test]
    fn a_mixed_plan_is_split_by_module() {
        let text = "\
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_1.aws_s3_bucket.this will be created
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_1.aws_s3_bucket_versioning.this[0] will be created
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_10.aws_s3_bucket.this will be created
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_2.aws_sqs_queue.this must be replaced
2026-01-01T00:00:00.0000000Z   # aws_vpc.main will be updated in-place
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_3.aws_db_instance.this has changed
2026-01-01T00:00:00.0000000Z Plan: 4 to add, 1 to change, 1 to destroy.
";
        let attribution = attribute(text, "req_1");
        assert_eq!(
            attribution.request,
            ChangeCounts {
                add: 2,
                change: 0,
                destroy: 0
            }
        );
        assert_eq!(
            attribution.outside.counts,
            ChangeCounts {
                add: 2,
                change: 1,
                destroy: 1
            }
        );
        assert_eq!(
            attribution.outside.addresses,
            [
                "module.tfpilot_req_10.aws_s3_bucket.this",
                "module.tfpilot_req_2.aws_sqs_queue.this",
                "aws_vpc.main"
            ]
        );
        assert!(attribution.changes_outside());
        assert_eq!(
            attribution.describe(),
            "this request +2 ~0 -0; outside it +2 ~1 -1 (3 resources of other requests or the root module)"
        );
        let targeted = attribute(
            "  # module.tfpilot_req_1.aws_s3_bucket.this will be destroyed\n",
            "req_1",
        );
        assert!(!targeted.changes_outside());
        assert_eq!(targeted.describe(), "this request +0 ~0 -1");
    }
}
