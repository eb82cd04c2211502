//! Planning and staging the next hop: shared by `upgrade` and `resume`.

use anyhow::{bail, Context, Result};

use super::{tracked_label, Engine, Outcome, Step};
use crate::host::{Deployment, Host, HostStatus, Mode, Pin, StageError};
use crate::plan::{Hop, HopKind, Plan, ReasonCode, Status};
use crate::sources::Loaded;
use crate::state::{EventKind, GraphIdentity, Journey, JourneyHop, Payload, Phase, State, Tracked};

impl<H: Host> Engine<'_, H> {
    /// Plan from the current deployment and stage the first hop; persist before and after.
    pub(super) async fn advance(
        &self,
        state: &mut State,
        status: &HostStatus,
        current: &Deployment,
        check: bool,
    ) -> Result<Step> {
        let tracked = match &state.journey {
            Some(j) => j.tracked.clone(),
            None => current
                .tracked()
                .context("the current deployment's origin names no image or ref to follow")?,
        };
        if let Tracked::Container { imgref } = &tracked {
            if imgref.contains('@') {
                bail!(
                    "the current deployment follows {imgref}, which is pinned by digest: there is \
                     no tag to follow (switch to a tag first)"
                );
            }
        }
        let source = self
            .settings
            .graph
            .clone()
            .or_else(|| state.journey.as_ref().map(|j| j.graph.source.clone()))
            .context("no update graph source: pass --graph")?;
        let loaded = crate::sources::load(&self.settings.sources, &source, self.now).await?;
        let plan = crate::plan::plan(
            &loaded.graph,
            &current.booted_ref(),
            &self.policy(state),
            self.now.timestamp(),
        );
        let mut step = match plan.status {
            Status::Blocked => self.blocked(state, &loaded, plan, check),
            Status::UpToDate => self.up_to_date(state, plan),
            Status::Path => {
                let hop = plan.hops[0].clone();
                self.stage_hop(state, status, current, tracked, &loaded, plan, hop, check)
                    .await
            }
        }?;
        // Acting on the last good graph while the source is down is allowed, never silent.
        if let Some(why) = &loaded.stale {
            step.message = format!("{} (graph source down: {why})", step.message);
        }
        Ok(step)
    }

    fn up_to_date(&self, state: &mut State, plan: Plan) -> Result<Step> {
        // A journey stuck behind a hop it gave up on is not over: say so and keep it.
        if plan.reason_code == Some(ReasonCode::Denylisted) {
            if let Some(j) = state.journey.as_mut() {
                let reason = plan.reason.clone().unwrap_or_default();
                j.phase = Phase::Failed;
                j.blocked_reason = Some(reason.clone());
                j.updated_at = self.now;
                self.store.save(state)?;
                return Ok(Step {
                    outcome: Outcome::Blocked,
                    message: format!("journey stopped on {}: {reason}", plan.booted),
                    reboot_required: false,
                    plan: Some(plan),
                    journey: state.journey.clone(),
                });
            }
        }
        let message = match &plan.reason {
            Some(r) => format!("up to date on {} ({r})", plan.booted),
            None => format!("up to date on {}", plan.booted),
        };
        if let Some(j) = state.journey.take() {
            self.host
                .restore_tracked(&j.tracked)
                .context("making the host follow its tracked reference again")?;
            state.record(
                self.now,
                EventKind::Completed,
                Some(plan.booted.clone()),
                Some(format!(
                    "nothing further to take; following {}",
                    tracked_label(&j)
                )),
            );
            self.store.save(state)?;
        }
        Ok(Step {
            outcome: Outcome::UpToDate,
            message,
            reboot_required: false,
            plan: Some(plan),
            journey: None,
        })
    }

    fn blocked(&self, state: &mut State, loaded: &Loaded, plan: Plan, check: bool) -> Result<Step> {
        let reason = plan.reason.clone().unwrap_or_else(|| "blocked".into());
        if !check {
            self.set_blocked(state, loaded.identity.clone(), &reason, &plan)?;
        }
        Ok(blocked_step(state, plan, reason))
    }

    /// Record a blocked journey (only when one is in progress: an idle host that is blocked
    /// has nothing to remember).
    fn set_blocked(
        &self,
        state: &mut State,
        graph: GraphIdentity,
        reason: &str,
        plan: &Plan,
    ) -> Result<()> {
        let Some(j) = state.journey.as_mut() else {
            return Ok(());
        };
        j.phase = Phase::Blocked;
        j.blocked_reason = Some(reason.to_string());
        j.graph = graph;
        j.updated_at = self.now;
        state.record(
            self.now,
            EventKind::Blocked,
            Some(plan.booted.clone()),
            Some(reason.to_string()),
        );
        Ok(self.store.save(state)?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn stage_hop(
        &self,
        state: &mut State,
        status: &HostStatus,
        current: &Deployment,
        tracked: Tracked,
        loaded: &Loaded,
        plan: Plan,
        hop: Hop,
        check: bool,
    ) -> Result<Step> {
        let pin = match (&tracked, &hop.digest, &hop.commit) {
            (Tracked::Container { .. }, Some(d), _) => Pin::Digest(d.clone()),
            (Tracked::Ostree { .. }, _, Some(c)) => Pin::Commit(c.clone()),
            _ => {
                let reason = format!(
                    "{} has no {} in the graph: refusing to stage an unpinned release",
                    hop.version,
                    match tracked {
                        Tracked::Container { .. } => "digest",
                        Tracked::Ostree { .. } => "commit",
                    }
                );
                return self.blocked_with(state, tracked, loaded, plan, reason, check);
            }
        };
        let mut note = String::new();
        if hop.kind == HopKind::Final {
            if let (Pin::Digest(d), Ok(Some(tag_digest))) =
                (&pin, self.host.resolve(&tracked).await)
            {
                if *d != tag_digest {
                    note = format!(
                        " ({} currently points at {tag_digest}, which the graph does not offer \
                         this host yet; staying with the graph)",
                        tracked_label_of(&tracked)
                    );
                }
            }
        }
        if check {
            return Ok(Step {
                outcome: Outcome::Available,
                message: format!(
                    "{} would be staged as a {}{note}",
                    hop.version,
                    kind_word(hop.kind)
                ),
                reboot_required: false,
                plan: Some(plan),
                journey: state.journey.clone(),
            });
        }
        self.begin_hop(state, current, tracked.clone(), loaded, &plan);
        self.store
            .save(state)
            .context("saving the journey before staging")?;
        match self.host.stage(&pin, &tracked).await {
            Ok(staged) => {
                let want = hop.digest.as_ref().or(hop.commit.as_ref());
                let got = staged.digest.as_ref().unwrap_or(&staged.commit);
                if hop.digest.is_some() && staged.digest.as_ref() != hop.digest.as_ref() {
                    bail!(
                        "staged {} but its manifest digest is {got}, not {} from the graph",
                        hop.version,
                        want.map(String::as_str).unwrap_or("?")
                    );
                }
                let j = state.journey.as_mut().expect("begin_hop sets the journey");
                j.phase = Phase::Staged;
                j.last_error = None;
                j.blocked_reason = None;
                j.updated_at = self.now;
                state.record(
                    self.now,
                    EventKind::Staged,
                    Some(hop.version.clone()),
                    Some(got.clone()),
                );
                self.store.save(state)?;
                let booted = status.mode == Mode::Booted;
                Ok(Step {
                    outcome: Outcome::Staged,
                    message: if booted {
                        format!(
                            "staged {} ({}) pinned by {got}; reboot to boot it{note}",
                            hop.version,
                            kind_word(hop.kind)
                        )
                    } else {
                        format!(
                            "deployed {} ({}) pinned by {got}; offline sysroot: it is now the \
                             default deployment, run resume to continue{note}",
                            hop.version,
                            kind_word(hop.kind)
                        )
                    },
                    reboot_required: booted,
                    plan: Some(plan),
                    journey: state.journey.clone(),
                })
            }
            Err(StageError::Blocked(reason)) => {
                self.blocked_with(state, tracked, loaded, plan, reason, false)
            }
            Err(StageError::Failed(e)) => {
                let msg = format!("{e:#}");
                if let Some(j) = state.journey.as_mut() {
                    j.last_error = Some(msg.clone());
                    j.updated_at = self.now;
                }
                state.record(
                    self.now,
                    EventKind::Error,
                    Some(hop.version.clone()),
                    Some(msg),
                );
                self.store.save(state)?;
                Err(e.context(format!("staging {}", hop.version)))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn blocked_with(
        &self,
        state: &mut State,
        tracked: Tracked,
        loaded: &Loaded,
        plan: Plan,
        reason: String,
        check: bool,
    ) -> Result<Step> {
        if !check {
            if state.journey.is_none() {
                // Remember the tracked reference even when the first hop cannot be staged.
                let current = plan.booted.clone();
                let mut j = new_journey(self.now, tracked.clone(), loaded.identity.clone(), &plan);
                j.from.version = Some(current);
                state.journey = Some(j);
            }
            self.set_blocked(state, loaded.identity.clone(), &reason, &plan)?;
        }
        Ok(blocked_step(state, plan, reason))
    }

    /// Point the journey at the plan's first hop, starting one when needed.
    fn begin_hop(
        &self,
        state: &mut State,
        current: &Deployment,
        tracked: Tracked,
        loaded: &Loaded,
        plan: &Plan,
    ) {
        let first = &plan.hops[0];
        let same_hop = state
            .journey
            .as_ref()
            .and_then(|j| j.current_hop())
            .is_some_and(|h| h.version == first.version);
        let attempts = match (&state.journey, same_hop) {
            (Some(j), true) => j.attempts,
            _ => 0,
        };
        let started = state.journey.is_none();
        let mut j = match state.journey.take() {
            Some(j) => j,
            None => new_journey(self.now, tracked, loaded.identity.clone(), plan),
        };
        j.graph = loaded.identity.clone();
        j.hops = plan.hops.iter().map(JourneyHop::from).collect();
        j.current = 0;
        j.phase = Phase::Staging;
        j.attempts = attempts;
        j.from = Payload {
            version: current.version.clone(),
            digest: current.digest.clone(),
            commit: Some(current.commit.clone()),
        };
        j.updated_at = self.now;
        state.journey = Some(j);
        if started {
            state.record(
                self.now,
                EventKind::Started,
                current.version.clone(),
                Some(format!("{} hop(s) planned", plan.hops.len())),
            );
        }
    }
}

fn new_journey(
    now: chrono::DateTime<chrono::Utc>,
    tracked: Tracked,
    graph: GraphIdentity,
    plan: &Plan,
) -> Journey {
    Journey {
        tracked,
        graph,
        hops: plan.hops.iter().map(JourneyHop::from).collect(),
        current: 0,
        phase: Phase::Staging,
        from: Payload {
            version: None,
            digest: None,
            commit: None,
        },
        attempts: 0,
        started_at: now,
        updated_at: now,
        last_error: None,
        blocked_reason: None,
    }
}

fn blocked_step(state: &State, plan: Plan, reason: String) -> Step {
    Step {
        outcome: Outcome::Blocked,
        message: reason,
        reboot_required: false,
        plan: Some(plan),
        journey: state.journey.clone(),
    }
}

fn kind_word(k: HopKind) -> &'static str {
    match k {
        HopKind::Checkpoint => "checkpoint",
        HopKind::Final => "final hop",
    }
}

fn tracked_label_of(t: &Tracked) -> &str {
    match t {
        Tracked::Container { imgref } => imgref,
        Tracked::Ostree { refspec } => refspec,
    }
}
