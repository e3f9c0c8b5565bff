//! A run while it goes: its jobs and their steps as GitHub reports them, said the same way by
//! `tfpilot logs` and the dashboard's log view. GitHub serves a job's log only once the job has
//! finished, so until then the steps are what there is to show.

use serde::Serialize;

use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepProgress {
    pub number: u64,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobProgress {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub steps: Vec<StepProgress>,
}

impl StepProgress {
    fn done(&self) -> bool {
        self.status == "completed"
    }

    /// `✔`, `✖`, `▶` (running), `·` (not started), `-` (skipped or cancelled).
    pub fn symbol(&self) -> char {
        match (self.status.as_str(), self.conclusion.as_deref()) {
            ("completed", Some("success")) => '✔',
            ("completed", Some("skipped" | "cancelled")) => '-',
            ("completed", _) => '✖',
            ("in_progress", _) => '▶',
            _ => '·',
        }
    }

    /// `Terraform apply 12s` (elapsed so far while it runs), or the name alone before it starts.
    pub fn line(&self, now: Timestamp) -> String {
        let elapsed = match (self.started_at, self.completed_at) {
            (Some(start), Some(end)) => Some(end.seconds_since(start)),
            (Some(start), None) => Some(now.seconds_since(start)),
            _ => None,
        };
        match elapsed {
            Some(seconds) => format!(
                "{} {} {}",
                self.symbol(),
                self.name,
                duration(seconds.max(0))
            ),
            None => format!("{} {}", self.symbol(), self.name),
        }
    }
}

impl JobProgress {
    pub fn steps_done(&self) -> usize {
        self.steps.iter().filter(|step| step.done()).count()
    }

    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// Why there is no log to show yet, in words that say what happens next.
    pub fn log_pending(&self) -> String {
        match self.status.as_str() {
            "queued" | "waiting" | "pending" | "requested" => format!(
                "the job has not started ({}); its log appears when it finishes",
                self.status
            ),
            _ => format!(
                "the log appears when the job finishes; {} of {} steps done",
                self.steps_done(),
                self.steps.len()
            ),
        }
    }
}

/// `45s`, `3m05s`, `1h02m`.
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The steps of every job, one line each, under a line per job; with why the log is not there
/// yet for a job that has not finished.
pub fn describe(jobs: &[JobProgress], now: Timestamp) -> Vec<String> {
    let mut lines = Vec::new();
    for job in jobs {
        let state = job.conclusion.as_deref().unwrap_or(job.status.as_str());
        lines.push(format!("job {} ({state})", job.name));
        for step in &job.steps {
            lines.push(format!("  {}", step.line(now)));
        }
        if !job.is_completed() {
            lines.push(format!("  {}", job.log_pending()));
        }
    }
    if jobs.is_empty() {
        lines.push("no job has started yet; GitHub lists jobs once the run is picked up".into());
    }
    lines
}

/// The 0-based line of the first `##[error]` in a log (GitHub's marker for a failed step).
pub fn first_error_line(text: &str) -> Option<usize> {
    text.lines().position(|line| line.contains("##[error]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000 + seconds).expect("valid time")
    }

    fn step(number: u64, name: &str, status: &str, conclusion: Option<&str>) -> StepProgress {
        let started = (status != "queued").then(|| at(number as i64 * 10));
        StepProgress {
            number,
            name: name.into(),
            status: status.into(),
            conclusion: conclusion.map(String::from),
            started_at: started,
            completed_at: (status == "completed").then(|| at(number as i64 * 10 + 4)),
        }
    }

    fn job(status: &str, steps: Vec<StepProgress>) -> JobProgress {
        JobProgress {
            id: 1,
            name: "terraform".into(),
            status: status.into(),
            conclusion: None,
            started_at: Some(at(0)),
            completed_at: None,
            steps,
        }
    }

    #[test]
    fn a_running_job_shows_its_steps_and_when_the_log_comes() {
        let running = job(
            "in_progress",
            vec![
                step(1, "Set up job", "completed", Some("success")),
                step(2, "Terraform init", "completed", Some("success")),
                step(3, "Terraform apply", "in_progress", None),
                step(4, "Complete job", "queued", None),
            ],
        );
        assert_eq!(
            describe(&[running], at(42)),
            [
                "job terraform (in_progress)",
                "  ✔ Set up job 4s",
                "  ✔ Terraform init 4s",
                "  ▶ Terraform apply 12s",
                "  · Complete job",
                "  the log appears when the job finishes; 2 of 4 steps done",
            ]
        );
        let queued = job("waiting", Vec::new());
        assert_eq!(
            queued.log_pending(),
            "the job has not started (waiting); its log appears when it finishes"
        );
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(3720), "1h02m");
    }

    #[test]
    fn the_first_error_is_found() {
        let log = "a\n2026-01-01T00:00:00Z ##[group]Run x\n2026-01-01T00:00:00Z ##[error]boom\n##[error]again\n";
        assert_eq!(first_error_line(log), Some(2));
        assert_eq!(first_error_line("all good\n"), None);
    }
}
