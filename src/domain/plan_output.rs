//! Reading Terraform's human plan output as it appears in a GitHub Actions job log: the
//! summary counts, and which resources a plan would touch (for drift of one request).

use std::sync::LazyLock;

use regex::Regex;

use super::infra_file::module_label;
use super::request::PlanSummary;

// The patterns are literals checked by the tests below; compiling them cannot fail.
#[allow(clippy::expect_used)]
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z ").expect("valid pattern")
});
#[allow(clippy::expect_used)]
static SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Plan: (?:(\d+) to import, )?(\d+) to add, (\d+) to change, (\d+) to destroy\.")
        .expect("valid pattern")
});
#[allow(clippy::expect_used)]
static RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*# (\S+) (?:will be|must be|has been|has changed|is tainted)")
        .expect("valid pattern")
});

// A fixed pattern, checked by the tests below: compiling it cannot fail.
#[allow(clippy::expect_used)]
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*# (\S+)(?: \(deposed object \w+\))? (will be created|will be destroyed|must be replaced|is tainted, so must be replaced|will be replaced|will be updated in-place|will be read during apply|has moved to|will be imported|will no longer be managed)")
        .expect("valid resource header pattern")
});

/// What a plan does to one resource, from its header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceAction {
    Destroy,
    Replace,
    Update,
    Create,
    Read,
    /// Moved, imported, forgotten: counted by none of add, change or destroy.
    Other,
}

impl ResourceAction {
    pub fn is_risky(self) -> bool {
        matches!(self, ResourceAction::Destroy | ResourceAction::Replace)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            ResourceAction::Destroy => "-",
            ResourceAction::Replace => "-/+",
            ResourceAction::Update => "~",
            ResourceAction::Create => "+",
            ResourceAction::Read => "<=",
            ResourceAction::Other => "#",
        }
    }
}

/// A resource header of a plan (`  # aws_s3_bucket.this will be created`): its address and
/// action. Attribution and the plan view read headers here (drift reading also counts the
/// "has changed" notes: [`changed_addresses`]).
pub fn resource_header(line: &str) -> Option<(String, ResourceAction)> {
    let captures = HEADER.captures(line)?;
    let action = match &captures[2] {
        "will be created" => ResourceAction::Create,
        "will be destroyed" => ResourceAction::Destroy,
        "will be updated in-place" => ResourceAction::Update,
        "will be read during apply" => ResourceAction::Read,
        text if text.contains("replace") => ResourceAction::Replace,
        _ => ResourceAction::Other,
    };
    Some((captures[1].to_string(), action))
}

/// The log without the timestamp GitHub puts before every line.
pub fn strip_timestamps(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    for line in log.lines() {
        out.push_str(&TIMESTAMP.replace(line, ""));
        out.push('\n');
    }
    out
}

/// The counts of the last plan in the text; zero for "No changes."; `None` when the text holds
/// no plan at all (the run failed before planning, or the log was cut).
pub fn summarize(text: &str) -> Option<PlanSummary> {
    let mut found = None;
    for line in text.lines() {
        let line = TIMESTAMP.replace(line, "");
        if let Some(captures) = SUMMARY.captures(&line) {
            let number = |i: usize| {
                captures
                    .get(i)
                    .and_then(|m| m.as_str().parse::<u32>().ok())
                    .unwrap_or(0)
            };
            found = Some(PlanSummary {
                import: number(1),
                add: number(2),
                change: number(3),
                destroy: number(4),
            });
        } else if line.starts_with("No changes.") {
            found = Some(PlanSummary::default());
        }
    }
    found
}

/// Addresses of the resources the plan lists as changing, in order.
pub fn changed_addresses(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = TIMESTAMP.replace(line, "");
            RESOURCE
                .captures(&line)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string())
        })
        .collect()
}

/// An address without the request's own module prefix, for views about that request:
/// `module.tfpilot_req_1.aws_s3_bucket.this` reads `aws_s3_bucket.this`.
pub fn address_within<'a>(address: &'a str, request_id: &str) -> &'a str {
    let module = format!("module.{}.", module_label(request_id));
    address.strip_prefix(&module).unwrap_or(address)
}

/// The addresses a plan lists as changing that belong to the request's module.
pub fn request_resources(text: &str, request_id: &str) -> Vec<String> {
    let module = format!("module.{}", module_label(request_id));
    changed_addresses(text)
        .into_iter()
        .filter(|address| {
            address
                .strip_prefix(&module)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
        .collect()
}

/// Whether a drift check's plan touches the request's module: `None` when the log holds no
/// plan to judge by. Changes to other requests' resources are not this request's drift.
pub fn request_drifted(text: &str, request_id: &str) -> Option<bool> {
    summarize(text)?;
    Some(!request_resources(text, request_id).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_with_and_without_imports() {
        let text = "2026-01-01T00:00:00.0000000Z Plan: 1 to import, 2 to add, 2 to change, 1 to destroy.\n";
        assert_eq!(
            summarize(text),
            Some(PlanSummary {
                import: 1,
                add: 2,
                change: 2,
                destroy: 1
            })
        );
        let text = "Plan: 3 to add, 0 to change, 0 to destroy.\n";
        assert_eq!(summarize(text).unwrap().add, 3);
    }

    #[test]
    fn no_changes_is_a_zero_plan_and_no_plan_is_none() {
        assert_eq!(
            summarize("No changes. Your infrastructure matches the configuration.\n"),
            Some(PlanSummary::default())
        );
        assert_eq!(summarize("Error: Invalid provider configuration\n"), None);
    }

    #[test]
    fn the_last_plan_wins() {
        let text = "Plan: 1 to add, 0 to change, 0 to destroy.\nApply...\nPlan: 0 to add, 1 to change, 0 to destroy.\n";
        assert_eq!(summarize(text).unwrap().change, 1);
    }

    #[test]
    fn drift_is_judged_by_the_requests_module_only() {
        let text = "\
2026-01-01T00:00:00.0000000Z   # module.tfpilot_req_2.aws_s3_bucket.this will be updated in-place
2026-01-01T00:00:00.0000000Z Plan: 0 to add, 1 to change, 0 to destroy.
";
        assert_eq!(request_drifted(text, "req_2"), Some(true));
        assert_eq!(request_drifted(text, "req_20"), Some(false));
        assert_eq!(request_drifted("No changes.\n", "req_2"), Some(false));
        assert_eq!(request_drifted("##[error]boom\n", "req_2"), None);
        assert_eq!(
            request_resources(text, "req_2"),
            ["module.tfpilot_req_2.aws_s3_bucket.this"]
        );
        assert!(request_resources(text, "req_20").is_empty());
        assert_eq!(
            address_within("module.tfpilot_req_2.aws_s3_bucket.this", "req_2"),
            "aws_s3_bucket.this"
        );
        assert_eq!(address_within("aws_vpc.main", "req_2"), "aws_vpc.main");
    }

    #[test]
    fn strips_only_leading_timestamps() {
        assert_eq!(
            strip_timestamps("2026-01-01T00:00:00.1234567Z hello 2026-01-01T00:00:00Z\nplain\n"),
            "hello 2026-01-01T00:00:00Z\nplain\n"
        );
    }
}
