//! Operations that dispatch a workflow: plan, apply, destroy, drift check. A dispatch is
//! exactly once: its `dispatch_id` is persisted before GitHub is asked, so a retry after a
//! crash or a lost answer finds the run by that id instead of starting a second one.

use serde_json::json;

use super::fold::{TimedEvent, fold};
use super::guard::{Begun, Finish, Held, PendingEvent, locked};
use super::sync::Observed;
use super::{Engine, EngineError, OpOutcome, new_id, repo_of};
use crate::domain::attribution::attribute;
use crate::domain::operation::{Operation, dispatch_pending};
use crate::domain::registry::Targeting;
use crate::domain::{Request, RunFact, RunKind};
use crate::github::{BranchCreated, DispatchInputs, GitHubError, RepoId};

/// The tag an apply is dispatched on: GitHub dispatches only on branches and tags, and the tag
/// pins the run to the merged commit even when the base branch has moved on since.
pub fn apply_tag(request_id: &str) -> String {
    format!("tfpilot/apply/{request_id}")
}

/// A run dispatched, or found after an earlier attempt dispatched it.
pub(super) struct Dispatched {
    pub run: RunFact,
    /// Found by its dispatch id after an earlier attempt: its dispatch event is recorded
    /// under that id (by the attempt GitHub answered, or now), never again by this operation.
    pub recovered: bool,
}

impl Dispatched {
    /// `event` for the operation's outcome, unless the run was recovered.
    pub fn event(&self, event: PendingEvent) -> Option<PendingEvent> {
        (!self.recovered).then_some(event)
    }
}

impl Engine {
    /// Records what GitHub says of the run the way sync would, events included, so a run that
    /// a rejection ended is reported once whoever sees it first.
    pub(super) async fn fold_run(
        &self,
        held: &Held,
        id: &str,
        kind: crate::domain::RunKind,
        fact: crate::domain::RunFact,
    ) -> Result<(), EngineError> {
        let observed = Observed {
            runs: vec![(kind, fact)],
            ..Observed::default()
        };
        let now = self.now();
        let mut timed: Vec<TimedEvent> = Vec::new();
        self.persist(held, |r| {
            (_, timed) = fold(r, &observed, now);
        })
        .await?;
        self.write_timed_events(id, &timed).await;
        Ok(())
    }

    /// Dispatches `kind`'s workflow on `reference` and records its run, or resumes a dispatch an
    /// earlier attempt recorded but did not confirm.
    pub(super) async fn dispatch_run(
        &self,
        held: &Held,
        request: &Request,
        kind: RunKind,
        reference: &str,
    ) -> Result<Dispatched, EngineError> {
        let (repo, _) = repo_of(request)?;
        let workflow = kind.workflow();
        let earlier = kind.of(request).cloned();
        let pending = earlier
            .as_ref()
            .filter(|run| dispatch_pending(run))
            .and_then(|run| run.dispatch_id.clone());
        let dispatch_id = match pending {
            Some(dispatch_id) => {
                if let Some(run) = self
                    .github
                    .find_dispatched_run(&repo, workflow, &dispatch_id)
                    .await?
                {
                    tracing::info!(request = %request.id, run = run.id, "found the run of an interrupted dispatch");
                    let mut fact = run.to_fact();
                    if let Some(intent) = earlier.as_ref() {
                        if fact.dispatched_by.is_none() {
                            fact.dispatched_by = intent.dispatched_by.clone();
                        }
                        if !intent.dispatch_accepted {
                            let event = recovered_dispatch(kind, &fact);
                            let at = fact.created_at.unwrap_or_else(|| self.now());
                            self.write_event(
                                &request.id,
                                at,
                                &event,
                                &dispatch_key(&dispatch_id),
                                0,
                            )
                            .await;
                        }
                    }
                    self.persist(held, |r| *kind.of_mut(r) = Some(Box::new(fact.clone())))
                        .await?;
                    return Ok(Dispatched {
                        run: fact,
                        recovered: true,
                    });
                }
                // No run carries the id: the earlier attempt never reached GitHub. Send it now,
                // under the same id.
                dispatch_id
            }
            None => {
                let dispatch_id = new_id();
                let intent = RunFact {
                    dispatch_id: Some(dispatch_id.clone()),
                    dispatched_by: Some(self.actor.clone()),
                    ..RunFact::default()
                };
                self.persist(held, |r| *kind.of_mut(r) = Some(Box::new(intent.clone())))
                    .await?;
                dispatch_id
            }
        };
        let scope = matches!(kind, RunKind::Plan | RunKind::Apply)
            .then(|| self.targeting_of(&repo).as_str());
        let inputs = DispatchInputs {
            request_id: request.id.clone(),
            environment: request.environment.clone(),
            dispatch_id: dispatch_id.clone(),
            scope,
            block_id: request.changes.clone(),
        };
        let dispatched = match self
            .github
            .dispatch(&repo, workflow, reference, &inputs)
            .await
        {
            Ok(dispatched) => dispatched,
            Err(error) => {
                if !error.is_transient() {
                    // GitHub refused outright (no such workflow, bad ref): nothing was started,
                    // so the intent goes and the earlier run is what the document shows again.
                    let previous = earlier.filter(|run| !dispatch_pending(run));
                    self.persist(held, |r| *kind.of_mut(r) = previous.clone().map(Box::new))
                        .await?;
                }
                return Err(error.into());
            }
        };
        let mut fact = match dispatched.run_id {
            Some(run_id) => self.github.get_run(&repo, run_id).await?.to_fact(),
            // Accepted, but the run is not listed yet: sync finds it by its dispatch id.
            None => RunFact {
                dispatch_id: Some(dispatch_id),
                dispatch_accepted: true,
                ..RunFact::default()
            },
        };
        if fact.dispatched_by.is_none() {
            fact.dispatched_by = Some(self.actor.clone());
        }
        self.persist(held, |r| *kind.of_mut(r) = Some(Box::new(fact.clone())))
            .await?;
        Ok(Dispatched {
            run: fact,
            recovered: false,
        })
    }

    /// Plans the request's branch again.
    pub async fn plan(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::Plan, key, plan_locked)
    }

    pub(super) async fn plan_locked(
        &self,
        held: &Held,
        request: Request,
    ) -> Result<Finish, EngineError> {
        let branch = request.branch.clone().ok_or_else(|| EngineError::Invalid {
            message: format!("request {} has no branch to plan", request.id),
        })?;
        // The summary belongs to the previous plan; the new one brings its own.
        let request = self.persist(held, |r| r.plan = None).await?;
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Plan, &branch)
            .await?;
        Ok(Finish {
            message: format!("plan dispatched{}", describe_run(&dispatched.run)),
            events: dispatched
                .event(plan_dispatched(&dispatched.run))
                .into_iter()
                .collect(),
        })
    }

    /// Applies the merged commit. The run is accepted only if it runs exactly that commit.
    pub async fn apply(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        self.apply_with(id, key, false).await
    }

    /// Applies; with `include_outside`, also when the repository's runs cover the whole root
    /// (`targeting = "root"`) and the plan changes resources outside the request.
    pub async fn apply_with(
        &self,
        id: &str,
        key: Option<&str>,
        include_outside: bool,
    ) -> Result<OpOutcome, EngineError> {
        locked!(
            self,
            id,
            Operation::Apply,
            key,
            apply_locked,
            include_outside
        )
    }

    /// How the runs of `repo` are targeted (`config/infra-repos.json`).
    fn targeting_of(&self, repo: &RepoId) -> Targeting {
        self.team
            .infra_repos
            .as_ref()
            .map(|repos| repos.targeting(&repo.owner, &repo.name))
            .unwrap_or_default()
    }

    /// In a whole-root repository, what the plan changes outside the request, read from the plan
    /// run's log on GitHub (the document's copy is a claim, and so is the plan run it names:
    /// GitHub must show it as this request's successful plan). A log GitHub no longer has
    /// cannot be judged, so it refuses like a plan that changes something outside.
    async fn refuse_outside_changes(
        &self,
        held: &Held,
        request: &Request,
        repo: &RepoId,
    ) -> Result<(), EngineError> {
        let how = format!(
            "{}/{} runs the whole root (targeting = \"root\"), so an apply applies them too: apply with --include-outside to accept that, or plan again",
            repo.owner, repo.name
        );
        self.verify_planned(held, request, repo, Operation::Apply)
            .await?;
        let plan_run = request.plan_run.as_deref().and_then(|run| run.id);
        let log = match plan_run {
            Some(run_id) => match self.run_log(repo, run_id).await {
                Ok(log) => log,
                Err(EngineError::GitHub(GitHubError::NotFound { .. })) => None,
                Err(error) => return Err(error),
            },
            None => None,
        };
        let Some(log) = log else {
            return Err(EngineError::denied(format!(
                "the plan's log is no longer on GitHub, so what it changes outside this request cannot be checked; {how}"
            )));
        };
        let outside = attribute(&log, request.block_id()).outside;
        if outside.counts.is_empty() {
            return Ok(());
        }
        let mut addresses = outside
            .addresses
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if outside.addresses.len() > 5 {
            addresses.push_str(&format!(" and {} more", outside.addresses.len() - 5));
        }
        Err(EngineError::denied(format!(
            "the plan also changes {} outside this request ({addresses}); {how}",
            outside.counts.short()
        )))
    }

    async fn apply_locked(
        &self,
        held: &Held,
        request: Request,
        include_outside: bool,
    ) -> Result<Finish, EngineError> {
        let (repo, _) = repo_of(&request)?;
        let merged_sha = request.merged_sha.clone().unwrap_or_default();
        self.verify_merged(held, &request, &repo, &merged_sha)
            .await?;
        self.policy_gate(held, &request, &repo, Operation::Apply)
            .await?;
        if self.targeting_of(&repo) == Targeting::Root && !include_outside {
            self.refuse_outside_changes(held, &request, &repo).await?;
        }
        let tag = apply_tag(&request.id);
        self.pin_tag(&repo, &tag, &merged_sha).await?;
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Apply, &tag)
            .await?;
        let run = &dispatched.run;
        if let Some(head) = run.head_sha.as_deref()
            && head != merged_sha
        {
            let reason = format!(
                "apply run {} runs commit {head}, not the merged commit {merged_sha}; it was not accepted",
                run.id.unwrap_or_default()
            );
            self.persist(held, |r| {
                if let Some(fact) = r.apply_run.as_deref_mut() {
                    fact.status = None;
                    fact.conclusion = None;
                    fact.extra.insert("rejected".into(), json!(reason));
                }
            })
            .await?;
            return Err(EngineError::conflict(reason));
        }
        Ok(Finish {
            message: format!("apply dispatched{}", describe_run(run)),
            events: dispatched
                .event(
                    PendingEvent::new("apply_dispatched", format!("apply of {merged_sha}"))
                        .with_data(run_data(run)),
                )
                .into_iter()
                .collect(),
        })
    }

    /// Points the apply tag at `sha`; a tag already there must point at the same commit.
    async fn pin_tag(&self, repo: &RepoId, tag: &str, sha: &str) -> Result<(), EngineError> {
        match self.github.create_tag(repo, tag, sha).await? {
            BranchCreated::Created => Ok(()),
            BranchCreated::Existed { sha: existing } if existing == sha => Ok(()),
            BranchCreated::Existed { sha: existing } => Err(EngineError::conflict(format!(
                "tag {tag} in {}/{} points at {existing}, not the merged commit {sha}; delete the tag and apply again",
                repo.owner, repo.name
            ))),
        }
    }

    /// Destroys the request's resources, after the can-destroy decision. A refusal is recorded
    /// as a `destroy_blocked` event with its reason.
    pub async fn destroy(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        let (held, request) = match self.begin(id, Operation::Destroy, key).await {
            Ok(Begun::Held(held, request)) => (held, request),
            Ok(Begun::Early(outcome)) => return Ok(outcome),
            Err(EngineError::Denied { reason }) => {
                let event = PendingEvent::new("destroy_blocked", reason.clone());
                self.write_event(id, self.now(), &event, &new_id(), 0).await;
                return Err(EngineError::Denied { reason });
            }
            Err(error) => return Err(error),
        };
        let result = self.destroy_locked(&held, request).await;
        self.end(held, result).await
    }

    async fn destroy_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (repo, target) = repo_of(&request)?;
        let base = target.base.clone();
        if let Some(in_flight) = self
            .changes_of(&request)
            .await
            .into_iter()
            .find(|change| !crate::domain::derive_status(change).is_final())
        {
            return Err(EngineError::conflict(format!(
                "change {} of {} is in flight ({}): destroying now would race it; finish or withdraw it first",
                in_flight.id,
                request.id,
                crate::domain::derive_status(&in_flight).as_str()
            )));
        }
        self.verify_applied(held, &request, &repo).await?;
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Destroy, &base)
            .await?;
        let run = &dispatched.run;
        Ok(Finish {
            message: format!("destroy dispatched{}", describe_run(run)),
            events: dispatched
                .event(
                    PendingEvent::new("destroy_dispatched", format!("destroy on {base}"))
                        .with_data(run_data(run)),
                )
                .into_iter()
                .collect(),
        })
    }

    /// Checks an applied request for changes made outside Terraform.
    pub async fn drift_check(&self, id: &str, key: Option<&str>) -> Result<OpOutcome, EngineError> {
        locked!(self, id, Operation::DriftCheck, key, drift_locked)
    }

    async fn drift_locked(&self, held: &Held, request: Request) -> Result<Finish, EngineError> {
        let (_, target) = repo_of(&request)?;
        let base = target.base.clone();
        let dispatched = self
            .dispatch_run(held, &request, RunKind::Drift, &base)
            .await?;
        let run = &dispatched.run;
        Ok(Finish {
            message: format!("drift check dispatched{}", describe_run(run)),
            events: dispatched
                .event(
                    PendingEvent::new("drift_check_started", format!("drift check on {base}"))
                        .with_data(run_data(run)),
                )
                .into_iter()
                .collect(),
        })
    }
}

pub(super) fn plan_dispatched(run: &RunFact) -> PendingEvent {
    let at = run
        .head_sha
        .as_deref()
        .map(|sha| format!("plan of {sha}"))
        .unwrap_or_else(|| "plan dispatched".to_string());
    PendingEvent::new("plan_dispatched", at).with_data(run_data(run))
}

/// The event of a dispatch whose dispatcher stopped before GitHub's answer reached it,
/// recorded by whoever finds its run (a resumed operation, sync), credited to the dispatcher.
pub(super) fn recovered_dispatch(kind: RunKind, run: &RunFact) -> PendingEvent {
    let message = format!(
        "{} run {} of {} (found by its dispatch id after the dispatcher stopped)",
        kind.name(),
        run.id.unwrap_or_default(),
        run.head_sha.as_deref().unwrap_or("an unknown commit")
    );
    let event = PendingEvent::new(kind.dispatched_event(), message).with_data(run_data(run));
    match &run.dispatched_by {
        Some(login) => event.by(login),
        None => event,
    }
}

/// What makes a dispatch's event one event, whoever records it: the dispatch id (and the
/// run's creation time on GitHub as its instant).
pub(super) fn dispatch_key(dispatch_id: &str) -> String {
    format!("dispatch-{dispatch_id}")
}

pub(super) fn run_data(run: &RunFact) -> serde_json::Value {
    json!({"run_id": run.id, "dispatch_id": run.dispatch_id, "head_sha": run.head_sha, "html_url": run.html_url})
}

pub(super) fn describe_run(run: &RunFact) -> String {
    match (&run.html_url, run.id) {
        (Some(url), _) => format!(": {url}"),
        (None, Some(id)) => format!(": run {id}"),
        (None, None) => " (GitHub has not listed its run yet; sync finds it)".to_string(),
    }
}
