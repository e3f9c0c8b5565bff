//! `tfpilot logs`: a run's steps while it goes (GitHub serves a job's log only once the job has
//! finished) and its log once there, with the exit code of its conclusion.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::json;

use super::ops::{Answered, engine};
use super::{Invocation, LogsArgs, print, print_json};
use crate::domain::progress::{self, JobProgress};
use crate::domain::{Request, RunFact, RunKind, Timestamp};

/// The run `choice` names, else the one in flight, else the latest one dispatched.
fn pick(request: &Request, choice: Option<RunKind>) -> Result<(RunKind, &RunFact)> {
    if let Some(kind) = choice {
        let run = kind.of(request).ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no {} run yet; `tfpilot show {}` lists its runs",
                request.id,
                kind.name(),
                request.id
            )
        })?;
        return Ok((kind, run));
    }
    let recorded: Vec<(RunKind, &RunFact)> = RunKind::recorded(request).collect();
    recorded
        .iter()
        .find(|(_, run)| run.is_in_flight())
        .or_else(|| recorded.iter().max_by_key(|(_, run)| run.created_at))
        .copied()
        .ok_or_else(|| anyhow::anyhow!("{} has no run yet", request.id))
}

/// A step's state, to print each change once while following.
fn states(jobs: &[JobProgress]) -> BTreeMap<(u64, u64), String> {
    jobs.iter()
        .flat_map(|job| {
            job.steps
                .iter()
                .map(move |step| ((job.id, step.number), step.status.clone()))
        })
        .collect()
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

pub async fn logs(context: &Invocation, args: LogsArgs) -> Result<()> {
    let engine = engine(context).await?;
    let request = engine.store().get_request(&args.id).await?.value;
    let (kind, run) = pick(&request, args.run.map(|choice| choice.kind()))?;
    let Some(run_id) = run.id else {
        anyhow::bail!(
            "the {} run of {} is not confirmed by GitHub yet; `tfpilot sync {}` finds it",
            kind.name(),
            request.id,
            request.id
        );
    };
    let pause = std::time::Duration::from_millis(context.config.sync.active_ms.max(500));
    let mut seen: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut first = true;
    let log = loop {
        let log = engine.read_run_log(&request, run_id).await?;
        if !log.running || !args.follow {
            break log;
        }
        if !context.json {
            let mut text = String::new();
            if first {
                text.push_str(&format!("{} run {run_id} of {}\n", kind.name(), request.id));
            }
            let now = now();
            for job in &log.jobs {
                for step in &job.steps {
                    let key = (job.id, step.number);
                    if seen.get(&key) != Some(&step.status) && step.status != "queued" {
                        text.push_str(&format!("{}\n", step.line(now)));
                    }
                }
            }
            print(&text)?;
        }
        seen = states(&log.jobs);
        first = false;
        tokio::time::sleep(pause).await;
    };
    if context.json {
        print_json(&json!({
            "id": request.id,
            "run": kind.name(),
            "run_id": run_id,
            "status": log.status,
            "conclusion": log.conclusion,
            "running": log.running,
            "jobs": log.jobs,
            "log": log.text,
        }))?;
    } else if log.running {
        print(&format!(
            "{} run {run_id} of {} is still running (--follow waits for its end)\n{}",
            kind.name(),
            request.id,
            progress::describe(&log.jobs, now()).join("\n") + "\n"
        ))?;
    } else {
        print(&log.display(now()))?;
        if let Some(line) = progress::first_error_line(&log.text) {
            let text = log.text.lines().nth(line).unwrap_or_default();
            note!("first error, line {}: {text}", line + 1);
        }
    }
    if log.running || log.succeeded() {
        return Ok(());
    }
    Err(Answered {
        code: 1,
        message: format!(
            "{} run {run_id} concluded {}",
            kind.name(),
            log.conclusion.as_deref().unwrap_or("without a conclusion")
        ),
    }
    .into())
}
