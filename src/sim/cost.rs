//! What Infracost would say about a simulated plan: list prices for the resources the
//! simulated modules create, before and after, in Infracost's JSON (format 0.2, the shape
//! `infracost breakdown --format json` prints). Usage-based resources (buckets, queues) are
//! priced at zero without a usage file, as Infracost prices them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::plan::resources;

/// On-demand hourly prices (us-east-1) of the instance classes the example module offers.
const DB_HOURLY: [(&str, f64); 4] = [
    ("db.t4g.micro", 0.016),
    ("db.t4g.medium", 0.065),
    ("db.r6g.large", 0.225),
    ("db.r6g.xlarge", 0.45),
];
const HOURS_PER_MONTH: f64 = 730.0;
const GP2_PER_GB_MONTH: f64 = 0.115;
const FARGATE_VCPU_HOUR: f64 = 0.04048;
const FARGATE_GB_HOUR: f64 = 0.004445;

fn number(attributes: &BTreeMap<String, String>, name: &str) -> Option<f64> {
    attributes.get(name)?.trim_matches('"').parse().ok()
}

fn text<'a>(attributes: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    attributes.get(name).map(|value| value.trim_matches('"'))
}

/// (component name, unit, monthly quantity, price) of one resource; empty when it is free.
fn components(
    kind: &str,
    attributes: &BTreeMap<String, String>,
) -> Vec<(String, &'static str, f64, f64)> {
    match kind {
        "aws_db_instance" => {
            let class = text(attributes, "instance_class").unwrap_or("db.t4g.micro");
            let hourly = DB_HOURLY
                .iter()
                .find(|(name, _)| *name == class)
                .map_or(0.016, |(_, price)| *price);
            let multi_az = text(attributes, "multi_az") == Some("true");
            let factor = if multi_az { 2.0 } else { 1.0 };
            let storage = number(attributes, "allocated_storage").unwrap_or(20.0);
            vec![
                (
                    format!(
                        "Database instance (on-demand, {}, {class})",
                        if multi_az { "Multi-AZ" } else { "Single-AZ" }
                    ),
                    "hours",
                    HOURS_PER_MONTH,
                    hourly * factor,
                ),
                (
                    "Storage (general purpose SSD, gp2)".into(),
                    "GB",
                    storage,
                    GP2_PER_GB_MONTH * factor,
                ),
            ]
        }
        "aws_ecs_service" => {
            let cpu = number(attributes, "cpu").unwrap_or(256.0) / 1024.0;
            let memory = number(attributes, "memory").unwrap_or(512.0) / 1024.0;
            let count = number(attributes, "desired_count").unwrap_or(1.0);
            vec![
                (
                    "Per GB per hour".into(),
                    "GB",
                    memory * count * HOURS_PER_MONTH,
                    FARGATE_GB_HOUR,
                ),
                (
                    "Per vCPU per hour".into(),
                    "CPU",
                    cpu * count * HOURS_PER_MONTH,
                    FARGATE_VCPU_HOUR,
                ),
            ]
        }
        "aws_s3_bucket" => vec![("Storage (standard)".into(), "GB", 0.0, 0.023)],
        "aws_sqs_queue" => vec![("Requests".into(), "1M requests", 0.0, 0.40)],
        _ => Vec::new(),
    }
}

fn money(value: f64) -> Value {
    Value::String(format!("{}", (value * 10_000.0).round() / 10_000.0))
}

/// Resource address -> (JSON resource, monthly cost) for a set of request blocks.
fn priced(blocks: &BTreeMap<String, String>) -> BTreeMap<String, (Value, f64)> {
    let mut out = BTreeMap::new();
    for (id, block) in blocks {
        for (address, kind, _, attributes) in resources(id, block) {
            let parts = components(&kind, &attributes);
            if parts.is_empty() {
                continue; // Free: Infracost lists it as such, not as a priced line.
            }
            let total: f64 = parts
                .iter()
                .map(|(_, _, quantity, price)| quantity * price)
                .sum();
            let costs: Vec<Value> = parts
                .iter()
                .map(|(name, unit, quantity, price)| {
                    json!({
                        "name": name, "unit": unit,
                        "hourlyQuantity": money(quantity / HOURS_PER_MONTH),
                        "monthlyQuantity": money(*quantity),
                        "price": money(*price),
                        "hourlyCost": money(quantity * price / HOURS_PER_MONTH),
                        "monthlyCost": money(quantity * price),
                    })
                })
                .collect();
            let resource = json!({
                "name": address, "resourceType": kind, "metadata": {},
                "hourlyCost": money(total / HOURS_PER_MONTH),
                "monthlyCost": money(total),
                "costComponents": costs,
            });
            out.insert(address, (resource, total));
        }
    }
    out
}

/// Infracost's JSON for going from `deployed` to `desired` in one Terraform root.
pub fn estimate(
    project: &str,
    deployed: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    generated_at: &str,
) -> Value {
    let past = priced(deployed);
    let now = priced(desired);
    let past_total: f64 = past.values().map(|(_, cost)| cost).sum();
    let total: f64 = now.values().map(|(_, cost)| cost).sum();
    let mut diff = Vec::new();
    let addresses: std::collections::BTreeSet<&String> = past.keys().chain(now.keys()).collect();
    for address in addresses {
        let before = past.get(address).map_or(0.0, |(_, cost)| *cost);
        let after = now.get(address).map_or(0.0, |(_, cost)| *cost);
        let kind = now
            .get(address)
            .or_else(|| past.get(address))
            .map_or(Value::Null, |(resource, _)| {
                resource["resourceType"].clone()
            });
        if (after - before).abs() > f64::EPSILON {
            diff.push(json!({
                "name": address, "resourceType": kind, "metadata": {},
                "hourlyCost": money((after - before) / HOURS_PER_MONTH),
                "monthlyCost": money(after - before),
            }));
        }
    }
    let breakdown = |set: &BTreeMap<String, (Value, f64)>, sum: f64| {
        json!({
            "resources": set.values().map(|(resource, _)| resource.clone()).collect::<Vec<_>>(),
            "totalHourlyCost": money(sum / HOURS_PER_MONTH),
            "totalMonthlyCost": money(sum),
        })
    };
    json!({
        "version": "0.2",
        "currency": "USD",
        "projects": [{
            "name": project,
            "metadata": {"path": ".", "type": "terraform_plan_json"},
            "pastBreakdown": breakdown(&past, past_total),
            "breakdown": breakdown(&now, total),
            "diff": {
                "resources": diff,
                "totalHourlyCost": money((total - past_total) / HOURS_PER_MONTH),
                "totalMonthlyCost": money(total - past_total),
            },
            "summary": {"totalDetectedResources": now.len()},
        }],
        "totalHourlyCost": money(total / HOURS_PER_MONTH),
        "totalMonthlyCost": money(total),
        "pastTotalHourlyCost": money(past_total / HOURS_PER_MONTH),
        "pastTotalMonthlyCost": money(past_total),
        "diffTotalHourlyCost": money((total - past_total) / HOURS_PER_MONTH),
        "diffTotalMonthlyCost": money(total - past_total),
        "timeGenerated": generated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cost::parse_infracost;

    fn postgres(class: &str) -> String {
        format!(
            "module \"tfpilot_req_1\" {{\n  source = \"git::https://example.com/m.git//rds-postgres\"\n  identifier = \"db\"\n  instance_class = \"{class}\"\n  allocated_storage = 100\n}}\n"
        )
    }

    #[test]
    fn a_new_database_costs_its_instance_and_storage() {
        let desired = BTreeMap::from([("req_1".to_string(), postgres("db.t4g.medium"))]);
        let json = estimate("acme/infra-live/envs/dev", &BTreeMap::new(), &desired, "t");
        let read = parse_infracost(&json.to_string()).unwrap();
        // 0.065 * 730 + 100 * 0.115
        assert_eq!(read.monthly_delta, Some(58.95));
        assert_eq!(read.lines.len(), 1);
        assert!(read.lines[0].address.ends_with("aws_db_instance.this"));
    }

    #[test]
    fn a_resize_costs_the_difference_and_a_removal_saves_it_all() {
        let before = BTreeMap::from([("req_1".to_string(), postgres("db.t4g.micro"))]);
        let after = BTreeMap::from([("req_1".to_string(), postgres("db.r6g.large"))]);
        let read = parse_infracost(&estimate("p", &before, &after, "t").to_string()).unwrap();
        assert_eq!(read.monthly_delta, Some(152.57)); // (0.225 - 0.016) * 730
        let gone =
            parse_infracost(&estimate("p", &after, &BTreeMap::new(), "t").to_string()).unwrap();
        assert!(gone.monthly_delta.unwrap() < 0.0);
    }
}
