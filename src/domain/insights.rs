//! Aggregate figures over a set of requests. Pure: `now` is a parameter.

use std::collections::BTreeMap;

use serde::Serialize;

use super::request::Request;
use super::run::RunFact;
use super::status::{Status, derive_status};
use super::time::Timestamp;

const DAY: i64 = 24 * 60 * 60;
const WEEK: i64 = 7 * DAY;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    pub total: usize,
    /// Every status, zero included, so charts and scripts see a stable shape.
    pub by_status: BTreeMap<Status, usize>,
    pub failures: usize,
    pub applies_24h: usize,
    pub applies_7d: usize,
    pub destroys_24h: usize,
    pub destroys_7d: usize,
    /// Over apply runs that completed in the last 7 days, successful or not.
    pub avg_apply_seconds_7d: Option<f64>,
    pub p95_apply_seconds_7d: Option<i64>,
    /// Successful / completed, over runs that completed in the last 7 days; `None` without runs.
    pub apply_success_rate_7d: Option<f64>,
    pub plan_success_rate_7d: Option<f64>,
}

impl Insights {
    /// The figures after the counts, as `(label, value)` in reading order: what the CLI and the
    /// dashboard both show ("n/a" where there were no runs to measure).
    pub fn figures(&self) -> Vec<(&'static str, String)> {
        let rate = |value: Option<f64>| {
            value.map_or_else(|| "n/a".to_string(), |v| format!("{:.1}%", v * 100.0))
        };
        let avg = self
            .avg_apply_seconds_7d
            .map_or_else(|| "n/a".into(), |s| format!("{s:.0}s"));
        let p95 = self
            .p95_apply_seconds_7d
            .map_or_else(|| "n/a".into(), |s| format!("{s}s"));
        vec![
            ("Failures", self.failures.to_string()),
            (
                "Applies 24h / 7d",
                format!("{} / {}", self.applies_24h, self.applies_7d),
            ),
            (
                "Destroys 24h / 7d",
                format!("{} / {}", self.destroys_24h, self.destroys_7d),
            ),
            ("Apply time 7d", format!("avg {avg}, p95 {p95}")),
            ("Apply success 7d", rate(self.apply_success_rate_7d)),
            ("Plan success 7d", rate(self.plan_success_rate_7d)),
        ]
    }
}

/// When a run finished: its last update, which GitHub stamps at completion.
fn completed_within(run: &RunFact, now: Timestamp, seconds: i64) -> bool {
    run.is_completed()
        && run
            .updated_at
            .or(run.created_at)
            .is_some_and(|at| at <= now && at >= now.minus_seconds(seconds))
}

fn success_rate<'a>(runs: impl Iterator<Item = &'a RunFact>) -> Option<f64> {
    let (completed, succeeded) = runs.fold((0usize, 0usize), |(c, s), run| {
        (c + 1, s + usize::from(run.succeeded()))
    });
    (completed > 0).then(|| succeeded as f64 / completed as f64)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

pub fn compute_insights<'a>(
    requests: impl IntoIterator<Item = &'a Request>,
    now: Timestamp,
) -> Insights {
    let requests: Vec<&Request> = requests.into_iter().collect();
    let mut by_status: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for request in &requests {
        *by_status.entry(derive_status(request)).or_default() += 1;
    }

    let applies = || requests.iter().filter_map(|r| r.apply_run.as_deref());
    let destroys = || requests.iter().filter_map(|r| r.destroy_run.as_deref());
    let plans = || requests.iter().filter_map(|r| r.plan_run.as_deref());
    let succeeded_within =
        |run: &&RunFact, seconds| run.succeeded() && completed_within(run, now, seconds);

    let applies_7d: Vec<&RunFact> = applies()
        .filter(|r| completed_within(r, now, WEEK))
        .collect();
    let mut durations: Vec<i64> = applies_7d
        .iter()
        .filter_map(|r| r.duration_seconds())
        .collect();
    durations.sort_unstable();
    let avg = (!durations.is_empty())
        .then(|| durations.iter().sum::<i64>() as f64 / durations.len() as f64);

    Insights {
        total: requests.len(),
        failures: by_status[&Status::Failed],
        by_status,
        applies_24h: applies().filter(|r| succeeded_within(r, DAY)).count(),
        applies_7d: applies().filter(|r| succeeded_within(r, WEEK)).count(),
        destroys_24h: destroys().filter(|r| succeeded_within(r, DAY)).count(),
        destroys_7d: destroys().filter(|r| succeeded_within(r, WEEK)).count(),
        avg_apply_seconds_7d: avg,
        p95_apply_seconds_7d: percentile(&durations, 95),
        apply_success_rate_7d: success_rate(applies_7d.iter().copied()),
        plan_success_rate_7d: success_rate(plans().filter(|r| completed_within(r, now, WEEK))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::{RunConclusion, RunStatus};

    fn now() -> Timestamp {
        Timestamp::parse("2026-03-10T12:00:00Z").unwrap()
    }

    fn completed(conclusion: &str, ended_hours_ago: i64, seconds: i64) -> Option<Box<RunFact>> {
        let end = now().minus_seconds(ended_hours_ago * 3600);
        Some(Box::new(RunFact {
            status: Some(RunStatus::Completed),
            conclusion: Some(RunConclusion::parse(conclusion)),
            created_at: Some(end.minus_seconds(seconds)),
            updated_at: Some(end),
            ..RunFact::default()
        }))
    }

    fn request(id: &str) -> Request {
        Request::new(id, "p", "dev", "m", "alice", now().minus_seconds(30 * DAY))
    }

    #[test]
    fn empty_set_has_zeros_and_no_rates() {
        let insights = compute_insights(&[], now());
        assert_eq!(insights.total, 0);
        assert_eq!(insights.by_status.len(), Status::ALL.len());
        assert_eq!(insights.apply_success_rate_7d, None);
        assert_eq!(insights.p95_apply_seconds_7d, None);
    }

    #[test]
    fn counts_windows_rates_and_durations() {
        let mut a = request("a");
        a.plan_run = completed("success", 30, 60);
        a.apply_run = completed("success", 2, 100); // in 24h and 7d
        let mut b = request("b");
        b.plan_run = completed("success", 50, 60);
        b.apply_run = completed("success", 72, 300); // 7d only
        let mut c = request("c");
        c.plan_run = completed("failure", 5, 60);
        let mut d = request("d");
        d.apply_run = completed("failure", 10, 200); // counts in rate and duration, not in applies
        let mut e = request("e");
        e.apply_run = completed("success", 24 * 9, 50); // older than 7d: ignored
        e.destroy_run = completed("success", 1, 40);
        let all = [a, b, c, d, e];
        let insights = compute_insights(&all, now());
        assert_eq!(insights.total, 5);
        assert_eq!(insights.by_status[&Status::Applied], 2);
        assert_eq!(insights.by_status[&Status::Failed], 2);
        assert_eq!(insights.by_status[&Status::Destroyed], 1);
        assert_eq!(insights.failures, 2);
        assert_eq!((insights.applies_24h, insights.applies_7d), (1, 2));
        assert_eq!((insights.destroys_24h, insights.destroys_7d), (1, 1));
        assert_eq!(insights.avg_apply_seconds_7d, Some(200.0));
        assert_eq!(insights.p95_apply_seconds_7d, Some(300));
        assert_eq!(insights.apply_success_rate_7d, Some(2.0 / 3.0));
        assert_eq!(insights.plan_success_rate_7d, Some(2.0 / 3.0));
    }

    #[test]
    fn runs_stamped_in_the_future_are_not_counted() {
        let mut a = request("a");
        a.apply_run = completed("success", -5, 10);
        assert_eq!(compute_insights(&[a], now()).applies_24h, 0);
    }

    #[test]
    fn nearest_rank_percentile() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[1, 2], 95), Some(2));
    }
}
