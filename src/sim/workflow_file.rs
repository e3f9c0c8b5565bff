//! What the simulator reads from a workflow file at the dispatched commit, as GitHub does: the
//! workflow's `name`, its `run-name` (the run's display title, with `${{ inputs.X }}`
//! expressions filled in) and the deployment environment its job targets. A line-level reading:
//! tfpilot's workflows (docs/workflows/) put each of these on one line.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

// Literal patterns checked by the tests below; compiling them cannot fail.
#[allow(clippy::expect_used)]
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^name:\s*(.+?)\s*$").expect("valid pattern"));
#[allow(clippy::expect_used)]
static RUN_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^run-name:\s*(.+?)\s*$").expect("valid pattern"));
/// A job's `environment:` with a value (an input's definition has none).
#[allow(clippy::expect_used)]
static ENVIRONMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s+environment:[ \t]*([^\s#][^#\n]*?)[ \t]*(?:#.*)?$").expect("valid pattern")
});
#[allow(clippy::expect_used)]
static EXPRESSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}").expect("valid pattern")
});

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowFile {
    pub name: Option<String>,
    pub run_name: Option<String>,
    /// The environment expression of the job (`${{ inputs.environment }}` or a literal).
    pub environment: Option<String>,
    /// The inputs `workflow_dispatch` declares: GitHub refuses a dispatch with any other.
    pub inputs: Vec<String>,
    /// The artifact names its `actions/upload-artifact` steps give (`with: name:`).
    pub uploads: Vec<String>,
}

fn unquote(text: &str) -> String {
    text.trim_matches(|c| c == '"' || c == '\'').to_string()
}

pub fn parse(text: &str) -> WorkflowFile {
    let capture = |pattern: &Regex| {
        pattern
            .captures(text)
            .and_then(|captures| captures.get(1))
            .map(|m| unquote(m.as_str()))
    };
    WorkflowFile {
        name: capture(&NAME),
        run_name: capture(&RUN_NAME),
        environment: capture(&ENVIRONMENT),
        inputs: declared_inputs(text),
        uploads: uploaded_artifacts(text),
    }
}

/// The `name:` under `with:` of each `actions/upload-artifact` step, up to the next step.
fn uploaded_artifacts(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_upload = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("- ") {
            in_upload = false;
        }
        if trimmed.contains("uses: actions/upload-artifact@") {
            in_upload = true;
            continue;
        }
        if in_upload && let Some(name) = trimmed.strip_prefix("name:") {
            let name = unquote(name.split(" #").next().unwrap_or_default().trim());
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The keys one level under the `inputs:` that follows `workflow_dispatch:`.
fn declared_inputs(text: &str) -> Vec<String> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut lines = text
        .lines()
        .skip_while(|line| line.trim() != "workflow_dispatch:")
        .skip(1)
        .skip_while(|line| line.trim().is_empty());
    let Some(header) = lines.next().filter(|line| line.trim() == "inputs:") else {
        return Vec::new();
    };
    let (outer, mut inner) = (indent(header), None);
    let mut inputs = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let depth = indent(line);
        if depth <= outer {
            break;
        }
        let level = *inner.get_or_insert(depth);
        if depth == level
            && let Some(name) = trimmed.strip_suffix(':')
        {
            inputs.push(name.to_string());
        }
    }
    inputs
}

/// `template` with each `${{ inputs.X }}` replaced by the input's value (empty when absent).
pub fn render(template: &str, inputs: &BTreeMap<String, String>) -> String {
    EXPRESSION
        .replace_all(template, |captures: &regex::Captures<'_>| {
            inputs.get(&captures[1]).cloned().unwrap_or_default()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflows::WORKFLOWS;

    #[test]
    fn the_declared_inputs_are_read() {
        for (file, text) in WORKFLOWS {
            let inputs = parse(text).inputs;
            for required in ["request_id", "environment", "dispatch_id"] {
                assert!(inputs.iter().any(|i| i == required), "{file}: {inputs:?}");
            }
            let targeted = matches!(file, "tfpilot-plan.yml" | "tfpilot-apply.yml");
            assert_eq!(inputs.iter().any(|i| i == "block_id"), targeted, "{file}");
            assert!(
                !inputs.iter().any(|i| i == "description" || i == "type"),
                "{file}"
            );
        }
        let older = "on:\n  workflow_dispatch:\n    inputs:\n      request_id:\n        required: true\n      scope:\n        type: choice\n\njobs:\n  x: {}\n";
        assert_eq!(parse(older).inputs, ["request_id", "scope"]);
        assert!(parse("on: push\n").inputs.is_empty());
    }

    #[test]
    fn tfpilots_workflows_are_read() {
        let inputs = BTreeMap::from([
            ("request_id".to_string(), "req_1".to_string()),
            ("dispatch_id".to_string(), "d1".to_string()),
            ("environment".to_string(), "prod".to_string()),
        ]);
        for (file, text) in WORKFLOWS {
            let workflow = parse(text);
            let operation = file.trim_start_matches("tfpilot-").trim_end_matches(".yml");
            assert_eq!(
                workflow.name.as_deref(),
                Some(format!("tfpilot {operation}").as_str())
            );
            let title = render(workflow.run_name.as_deref().unwrap_or_default(), &inputs);
            assert_eq!(title, format!("tfpilot {operation} req_1 d1"), "{file}");
            let gated = matches!(operation, "apply" | "destroy");
            assert_eq!(
                workflow.environment.as_deref().map(|e| render(e, &inputs)),
                gated.then(|| "prod".to_string()),
                "{file}"
            );
        }
        let plain = parse("name: CI\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n");
        assert_eq!(plain.run_name, None);
        assert_eq!(plain.environment, None);
        assert_eq!(
            parse("jobs:\n  deploy:\n    environment: 'staging' # protected\n").environment,
            Some("staging".into())
        );
    }
}
