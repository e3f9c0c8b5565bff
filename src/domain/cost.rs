//! Cost estimates: Infracost's JSON breakdown of a plan, read into the monthly change and the
//! resources that move it most. The plan workflow prints the JSON between two marker lines;
//! tfpilot copies it to `cost/<id>/<run_id>.json` and keeps the summary in the document.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plan_output::strip_timestamps;
use super::request::{CostFact, Request};

/// The lines the plan workflow prints around Infracost's JSON.
pub const COST_BEGIN: &str = "tfpilot-cost-begin";
pub const COST_END: &str = "tfpilot-cost-end";

/// How many resources the document keeps (the biggest changes first).
pub const TOP_LINES: usize = 5;

/// `CostFact::state` values.
pub const ESTIMATED: &str = "estimated";
/// The plan ran without producing an estimate (Infracost not configured, or it failed).
pub const MISSING: &str = "missing";
/// An estimate was produced but cannot be read.
pub const UNREADABLE: &str = "unreadable";

/// One resource's monthly change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    pub address: String,
    pub monthly_delta: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CostEstimate {
    pub currency: String,
    /// `None` when the estimate gives neither a diff nor totals to compute one from.
    pub monthly_delta: Option<f64>,
    pub monthly_total: Option<f64>,
    /// Changed resources, the biggest change first.
    pub lines: Vec<CostLine>,
}

/// The JSON the workflow printed between the marker lines (the last such block), if any.
/// Markers count only as whole lines: the step's script, which GitHub echoes into the log,
/// mentions them inside `echo "..."`.
pub fn extract_infracost(log: &str) -> Option<String> {
    let text = strip_timestamps(log);
    let lines: Vec<&str> = text.lines().collect();
    let begin = lines.iter().rposition(|line| line.trim() == COST_BEGIN)?;
    let length = lines[begin + 1..]
        .iter()
        .position(|line| line.trim() == COST_END)?;
    let json = lines[begin + 1..begin + 1 + length].join("\n");
    let json = json.trim();
    (!json.is_empty()).then(|| json.to_string())
}

/// A money value as Infracost writes it: a decimal string (format 0.2), a number (0.3), or
/// null when the resource has no price.
fn money(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        Value::Number(number) => number.as_f64(),
        _ => None,
    }
}

/// Reads Infracost's JSON (`infracost breakdown --format json`, or `diff`).
pub fn parse_infracost(text: &str) -> Result<CostEstimate, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let Some(object) = doc.as_object() else {
        return Err("not a JSON object".into());
    };
    if !object.contains_key("totalMonthlyCost") && !object.contains_key("diffTotalMonthlyCost") {
        return Err("no totalMonthlyCost or diffTotalMonthlyCost: not Infracost's JSON".into());
    }
    let currency = object
        .get("currency")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or("USD")
        .to_string();
    let total = money(object.get("totalMonthlyCost"));
    let projects = object
        .get("projects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let past = money(object.get("pastTotalMonthlyCost")).or_else(|| {
        // Format 0.2 without the top-level past total: the projects' past breakdowns.
        let pasts: Vec<Option<f64>> = projects
            .iter()
            .map(|p| money(p.pointer("/pastBreakdown/totalMonthlyCost")))
            .collect();
        (!pasts.is_empty() && pasts.iter().all(Option::is_some))
            .then(|| pasts.iter().flatten().sum())
    });
    let monthly_delta = money(object.get("diffTotalMonthlyCost")).or_else(|| Some(total? - past?));
    let mut lines: Vec<CostLine> = projects
        .iter()
        .flat_map(|project| {
            project
                .pointer("/diff/resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|resource| {
            let address = resource
                .get("address")
                .or_else(|| resource.get("name"))
                .and_then(Value::as_str)?
                .to_string();
            let delta = money(resource.get("monthlyCost"))?;
            (delta != 0.0).then_some(CostLine {
                address,
                monthly_delta: delta,
            })
        })
        .collect();
    lines.sort_by(|a, b| {
        b.monthly_delta
            .abs()
            .total_cmp(&a.monthly_delta.abs())
            .then_with(|| a.address.cmp(&b.address))
    });
    Ok(CostEstimate {
        currency,
        monthly_delta,
        monthly_total: total,
        lines,
    })
}

impl CostEstimate {
    /// The summary a request keeps, pointing at the stored breakdown.
    pub fn to_fact(&self, key: &str, run_id: u64) -> CostFact {
        CostFact {
            monthly_delta: self.monthly_delta,
            currency: Some(self.currency.clone()),
            source: Some(key.to_string()),
            state: Some(ESTIMATED.into()),
            run_id: Some(run_id),
            monthly_total: self.monthly_total,
            lines: self.lines.iter().take(TOP_LINES).cloned().collect(),
            reason: None,
            ..CostFact::default()
        }
    }
}

/// No estimate for this plan, and why; never a zero.
pub fn missing_fact(run_id: u64, state: &str, reason: impl Into<String>) -> CostFact {
    CostFact {
        state: Some(state.to_string()),
        run_id: Some(run_id),
        reason: Some(reason.into()),
        ..CostFact::default()
    }
}

/// "+$1,303.28", "-$12.50", "$0.00" (USD); other currencies as "+1,303.28 EUR".
pub fn format_money(amount: f64, currency: &str, signed: bool) -> String {
    let sign = if !signed || amount == 0.0 {
        ""
    } else if amount > 0.0 {
        "+"
    } else {
        "-"
    };
    let cents = (amount.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let number = format!("{grouped}.{:02}", cents % 100);
    if currency == "USD" {
        format!("{sign}${number}")
    } else {
        format!("{sign}{number} {currency}")
    }
}

/// What a request's cost says, in one line: the change per month, or why there is none.
pub fn describe_request(request: &Request) -> String {
    // After a successful destroy the plan's estimate no longer costs anything.
    if request
        .destroy_run
        .as_deref()
        .is_some_and(super::run::RunFact::succeeded)
    {
        return match request.cost.as_deref().and_then(|c| c.monthly_delta) {
            Some(delta) => format!(
                "nothing now: destroyed (its plan was estimated at {}/month)",
                format_money(
                    delta,
                    request
                        .cost
                        .as_deref()
                        .and_then(|c| c.currency.as_deref())
                        .unwrap_or("USD"),
                    true
                )
            ),
            None => "nothing now: destroyed".into(),
        };
    }
    match &request.cost {
        None if request.plan.as_deref().is_some_and(|p| p.summary.is_some()) => {
            "no estimate for this plan".into()
        }
        cost => describe(cost.as_deref()),
    }
}

/// What a cost fact says, in one line: the change per month, or why there is none.
pub fn describe(cost: Option<&CostFact>) -> String {
    let Some(cost) = cost else {
        return "no estimate yet: one comes with a finished plan".into();
    };
    let currency = cost.currency.as_deref().unwrap_or("USD");
    match (cost.state.as_deref(), cost.monthly_delta) {
        (Some(MISSING), _) | (Some(UNREADABLE), _) | (_, None) => format!(
            "no estimate: {}",
            cost.reason
                .as_deref()
                .unwrap_or("the estimate gives no monthly change")
        ),
        (_, Some(delta)) => {
            let total = cost
                .monthly_total
                .map(|t| format!(" (total {})", format_money(t, currency, false)))
                .unwrap_or_default();
            format!("{}/month{total}", format_money(delta, currency, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const REAL: &str = include_str!("../../tests/fixtures/infracost/new-instance.json");

    #[test]
    fn a_real_breakdown_reads_into_delta_total_and_lines() {
        let estimate = parse_infracost(REAL).unwrap();
        assert_eq!(estimate.currency, "USD");
        assert_eq!(estimate.monthly_delta, Some(1303.28));
        assert_eq!(estimate.monthly_total, Some(1303.28));
        assert_eq!(
            estimate.lines,
            vec![CostLine {
                address: "aws_instance.web_app".into(),
                monthly_delta: 1303.28
            }]
        );
    }

    #[test]
    fn without_a_diff_total_the_delta_is_total_less_past() {
        let text = json!({"currency": "EUR", "totalMonthlyCost": "120.5",
            "projects": [{"pastBreakdown": {"totalMonthlyCost": "100"}}]})
        .to_string();
        let estimate = parse_infracost(&text).unwrap();
        assert_eq!(estimate.monthly_delta, Some(20.5));
        // Numbers (format 0.3) read like strings; no past at all gives no delta, not zero.
        let text = json!({"totalMonthlyCost": 10.0, "projects": [{}]}).to_string();
        assert_eq!(parse_infracost(&text).unwrap().monthly_delta, None);
    }

    #[test]
    fn lines_are_sorted_by_size_and_skip_zero_and_unpriced() {
        let text = json!({"totalMonthlyCost": "1", "diffTotalMonthlyCost": "-5",
        "projects": [{"diff": {"resources": [
            {"name": "a", "monthlyCost": "2"},
            {"name": "b", "monthlyCost": "-7"},
            {"name": "c", "monthlyCost": "0"},
            {"name": "d", "monthlyCost": null},
            {"address": "e", "name": "ignored", "monthlyCost": 3}
        ]}}]})
        .to_string();
        let lines = parse_infracost(&text).unwrap().lines;
        let order: Vec<&str> = lines.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(order, ["b", "e", "a"]);
    }

    #[test]
    fn other_json_is_refused_with_a_reason() {
        assert!(parse_infracost("{").unwrap_err().contains("not valid JSON"));
        assert!(parse_infracost("[]").unwrap_err().contains("object"));
        assert!(parse_infracost("{}").unwrap_err().contains("not Infracost"));
    }

    #[test]
    fn the_json_is_found_between_the_markers_in_a_stamped_log() {
        let log = "2026-11-26T10:00:00.0000000Z   echo \"tfpilot-cost-begin\"\n\
                   2026-11-26T10:00:00.0000000Z Plan: 1 to add, 0 to change, 0 to destroy.\n\
                   2026-11-26T10:00:01.0000000Z tfpilot-cost-begin\n\
                   2026-11-26T10:00:01.0000000Z {\"totalMonthlyCost\": \"1\"}\n\
                   2026-11-26T10:00:01.0000000Z tfpilot-cost-end\n";
        assert_eq!(
            extract_infracost(log).as_deref(),
            Some("{\"totalMonthlyCost\": \"1\"}")
        );
        assert_eq!(extract_infracost("Plan: 1 to add\n"), None);
        assert_eq!(extract_infracost("tfpilot-cost-begin\ntruncated"), None);
    }

    #[test]
    fn money_reads_like_a_bill() {
        assert_eq!(format_money(1303.28, "USD", true), "+$1,303.28");
        assert_eq!(format_money(-12.5, "USD", true), "-$12.50");
        assert_eq!(format_money(0.0, "USD", true), "$0.00");
        assert_eq!(format_money(1234567.891, "EUR", false), "1,234,567.89 EUR");
    }

    #[test]
    fn a_missing_estimate_is_never_shown_as_zero() {
        let missing = missing_fact(7, MISSING, "the plan printed no Infracost estimate");
        assert_eq!(
            describe(Some(&missing)),
            "no estimate: the plan printed no Infracost estimate"
        );
        assert!(describe(None).starts_with("no estimate yet"));
        let estimate = parse_infracost(REAL).unwrap().to_fact("cost/r/7.json", 7);
        assert_eq!(
            describe(Some(&estimate)),
            "+$1,303.28/month (total $1,303.28)"
        );
    }

    #[test]
    fn a_destroyed_request_costs_nothing_now() {
        let request: Request = serde_json::from_value(json!({
            "schema_version": 1, "id": "req_1", "project": "p", "environment": "dev",
            "module": "s3-bucket", "config": {}, "requested_by": "alice",
            "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z",
            "destroy_run": {"id": 9, "status": "completed", "conclusion": "success"},
            "cost": {"state": "estimated", "monthly_delta": 17.43, "currency": "USD"}
        }))
        .expect("a request");
        assert_eq!(
            describe_request(&request),
            "nothing now: destroyed (its plan was estimated at +$17.43/month)"
        );
    }
}
