//! The only orchestrator: check → plan → persist → stage → record, and after each boot, resume.
//!
//! Order matters for safety: the journey (with the tracked reference) is saved before anything
//! is staged, and every outcome — staged, blocked, failed — is saved before returning, so a crash
//! at any point leaves a state the next run continues from.

mod advance;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::host::{BackendInfo, Deployment, Host, HostStatus, Mode};
use crate::plan::Plan;
use crate::rollout::Wariness;
use crate::state::{DenyEntry, EventKind, Journey, Phase, State, StateStore};

/// How many times a hop may fail to boot before it is denylisted.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// What the engine needs besides the host and the state.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Graph source; when absent, the journey's own source is used.
    pub graph: Option<String>,
    pub wariness: Wariness,
    pub max_attempts: u32,
    /// How graphs are fetched, verified and cached.
    pub sources: crate::sources::Context,
}

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// No journey and nothing to do.
    Idle,
    /// The host runs the newest release it may take.
    UpToDate,
    /// `--check`: this hop would be staged.
    Available,
    /// A hop was staged (booted mode: reboot to continue; offline: it is now the default).
    Staged,
    /// The hop is already staged and waits for a reboot.
    Waiting,
    /// The last hop booted: the host is back on its tracked reference.
    Completed,
    /// Nothing can be staged until someone acts (see `message`).
    Blocked,
    /// The journey was cancelled.
    Cancelled,
}

/// The result of `upgrade`, `resume` or `cancel` (JSON kind `Step`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub outcome: Outcome,
    pub message: String,
    /// Whether a reboot would move the host to the staged hop.
    pub reboot_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journey: Option<Journey>,
}

/// `status` (JSON kind `Status`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Which backend drives the host, and why.
    pub backend: BackendInfo,
    pub host: HostStatus,
    pub journey: Option<Journey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denylist: Vec<DenyEntry>,
    /// The plan from the current deployment, when a graph source is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// What happens next, in words.
    pub next: String,
}

/// The engine over one host and one state directory.
#[derive(Debug)]
pub struct Engine<'a, H: Host> {
    pub host: &'a H,
    pub store: &'a StateStore,
    pub settings: &'a Settings,
    pub now: DateTime<Utc>,
}

impl<H: Host> Engine<'_, H> {
    /// Plan and stage the next hop (or only report it with `check`).
    pub async fn upgrade(&self, check: bool) -> Result<Step> {
        let mut state = self.store.load()?;
        let status = self.host.status()?;
        let current = current_of(&status)?;
        if let Some(j) = &state.journey {
            if j.phase == Phase::Staged && self.hop_is_pending(j, &status) {
                return Ok(self.waiting(j));
            }
            let on_hop = j
                .current_hop()
                .is_some_and(|h| matches_payload(current, &h.digest, &h.commit));
            if j.phase == Phase::Staged && on_hop && !check {
                // The hop booted but resume has not run yet (e.g. the timer came first).
                return self.resume().await;
            }
        }
        self.advance(&mut state, &status, current, check).await
    }

    /// After a boot: record the hop, then stage the next one; count a failed hop.
    pub async fn resume(&self) -> Result<Step> {
        let mut state = self.store.load()?;
        let Some(journey) = state.journey.clone() else {
            return Ok(Step {
                outcome: Outcome::Idle,
                message: "no journey in progress; nothing to do".into(),
                reboot_required: false,
                plan: None,
                journey: None,
            });
        };
        let status = self.host.status()?;
        let current = current_of(&status)?;
        let hop = journey.current_hop().cloned();
        let on_hop = hop
            .as_ref()
            .is_some_and(|h| matches_payload(current, &h.digest, &h.commit));
        if matches!(journey.phase, Phase::Staged | Phase::Booted) && on_hop {
            let hop = hop.expect("on_hop implies a hop");
            state.record(self.now, EventKind::Booted, Some(hop.version.clone()), None);
            if journey.is_last_hop() {
                self.host
                    .restore_tracked(&journey.tracked)
                    .context("making the host follow its tracked reference again")?;
                state.record(
                    self.now,
                    EventKind::Completed,
                    Some(hop.version.clone()),
                    Some(tracked_label(&journey)),
                );
                state.journey = None;
                self.store.save(&state)?;
                return Ok(Step {
                    outcome: Outcome::Completed,
                    message: format!(
                        "booted {}, the last hop: the journey is complete and the host follows {} again",
                        hop.version,
                        tracked_label(&journey)
                    ),
                    reboot_required: false,
                    plan: None,
                    journey: None,
                });
            }
            if let Some(j) = state.journey.as_mut() {
                j.phase = Phase::Booted;
                j.attempts = 0;
                j.updated_at = self.now;
            }
            self.store.save(&state)?;
            return self.advance(&mut state, &status, current, false).await;
        }
        if journey.phase == Phase::Staged && self.hop_is_pending(&journey, &status) {
            return Ok(self.waiting(&journey));
        }
        if journey.phase == Phase::Staged
            && matches_payload(current, &journey.from.digest, &journey.from.commit)
        {
            // Only a hop that became a deployment (finalized, maybe booted, then rolled back)
            // failed; a staged hop that vanished was never finalized (power cut before
            // shutdown, or cleared by hand) and is simply staged again.
            let finalized = hop
                .as_ref()
                .is_some_and(|h| deployed_anywhere(&status, &h.digest, &h.commit));
            if finalized {
                self.record_failed_boot(&mut state)?;
            } else {
                state.record(
                    self.now,
                    EventKind::Error,
                    hop.as_ref().map(|h| h.version.clone()),
                    Some(
                        "the staged hop was never finalized (power loss?); staging it again".into(),
                    ),
                );
            }
        }
        self.advance(&mut state, &status, current, false).await
    }

    /// The host, the journey and what happens next.
    pub async fn status(&self) -> Result<Status> {
        let state = self.store.load()?;
        let host = self.host.status()?;
        let source = self
            .settings
            .graph
            .clone()
            .or_else(|| state.journey.as_ref().map(|j| j.graph.source.clone()));
        let plan = match (&source, &host.current) {
            (Some(src), Some(cur)) => {
                let loaded = crate::sources::load(&self.settings.sources, src, self.now).await?;
                Some(crate::plan::plan(
                    &loaded.graph,
                    &cur.booted_ref(),
                    &self.policy(&state),
                    self.now.timestamp(),
                ))
            }
            _ => None,
        };
        let next = describe_next(&state, &host, plan.as_ref());
        Ok(Status {
            backend: self.host.backend(),
            host,
            journey: state.journey,
            denylist: state.denylist,
            plan,
            next,
        })
    }

    /// End the journey; remove a staged hop. Origins always kept the tracked reference, so the
    /// host follows it again as soon as the journey state is gone.
    pub fn cancel(&self) -> Result<Step> {
        let mut state = self.store.load()?;
        let Some(journey) = state.journey.take() else {
            return Ok(Step {
                outcome: Outcome::Idle,
                message: "no journey in progress".into(),
                reboot_required: false,
                plan: None,
                journey: None,
            });
        };
        let status = self.host.status()?;
        if self.hop_is_pending(&journey, &status) && status.mode == Mode::Booted {
            self.host.cleanup_pending()?;
        }
        state.record(
            self.now,
            EventKind::Cancelled,
            None,
            Some(tracked_label(&journey)),
        );
        self.store.save(&state)?;
        Ok(Step {
            outcome: Outcome::Cancelled,
            message: format!(
                "journey cancelled; the host follows {} as before",
                tracked_label(&journey)
            ),
            reboot_required: false,
            plan: None,
            journey: None,
        })
    }

    fn policy(&self, state: &State) -> crate::plan::Policy {
        crate::plan::Policy {
            wariness: self.settings.wariness,
            denylist: state.denylisted_refs(),
        }
    }

    /// Whether the journey's current hop is staged and not yet booted.
    fn hop_is_pending(&self, j: &Journey, status: &HostStatus) -> bool {
        let Some(hop) = j.current_hop() else {
            return false;
        };
        status
            .pending
            .as_ref()
            .is_some_and(|p| matches_payload(p, &hop.digest, &hop.commit))
    }

    fn waiting(&self, j: &Journey) -> Step {
        let version = j.current_hop().map(|h| h.version.as_str()).unwrap_or("?");
        Step {
            outcome: Outcome::Waiting,
            message: format!("{version} is staged; reboot to continue the journey"),
            reboot_required: true,
            plan: None,
            journey: Some(j.clone()),
        }
    }

    /// The host came back on the release it left: count the attempt, denylist at the limit.
    fn record_failed_boot(&self, state: &mut State) -> Result<()> {
        let now = self.now;
        let max = self.settings.max_attempts;
        let Some(j) = state.journey.as_mut() else {
            return Ok(());
        };
        let Some(hop) = j.current_hop().cloned() else {
            return Ok(());
        };
        j.attempts += 1;
        j.phase = Phase::Failed;
        j.updated_at = now;
        let attempts = j.attempts;
        state.record(
            now,
            EventKind::Failed,
            Some(hop.version.clone()),
            Some(format!(
                "the host came back on the previous release (attempt {attempts} of {max})"
            )),
        );
        if attempts >= max {
            state.denylist.push(DenyEntry {
                version: hop.version.clone(),
                digest: hop.digest.clone(),
                commit: hop.commit.clone(),
                reason: format!("failed to boot {attempts} times"),
                at: now,
            });
            state.record(now, EventKind::Denylisted, Some(hop.version), None);
        }
        self.store.save(state).context("recording the failed boot")
    }
}

fn current_of(status: &HostStatus) -> Result<&Deployment> {
    status
        .current
        .as_ref()
        .context("the sysroot has no deployment to start from")
}

/// Whether any deployment of the host (other than a pending one) is the given payload.
fn deployed_anywhere(
    status: &HostStatus,
    digest: &Option<String>,
    commit: &Option<String>,
) -> bool {
    (status.rollback.iter().chain(status.other.iter())).any(|d| matches_payload(d, digest, commit))
}

/// Whether a deployment is the given payload (digest first, then commit).
fn matches_payload(d: &Deployment, digest: &Option<String>, commit: &Option<String>) -> bool {
    match (digest, commit) {
        (Some(want), _) if d.digest.is_some() => d.digest.as_ref() == Some(want),
        (_, Some(want)) => d.commit == *want,
        _ => false,
    }
}

fn tracked_label(j: &Journey) -> String {
    match &j.tracked {
        crate::state::Tracked::Container { imgref } => imgref.clone(),
        crate::state::Tracked::Ostree { refspec } => refspec.clone(),
    }
}

fn describe_next(state: &State, host: &HostStatus, plan: Option<&Plan>) -> String {
    if let Some(j) = &state.journey {
        let hop = j
            .current_hop()
            .map(|h| h.version.clone())
            .unwrap_or_default();
        return match j.phase {
            Phase::Staging => format!("staging {hop} did not finish; the next upgrade retries it"),
            Phase::Staged if host.mode == Mode::Offline => {
                format!("{hop} is deployed; run resume to record it and continue")
            }
            Phase::Staged => format!("{hop} is staged; reboot to boot it"),
            Phase::Booted => format!("{hop} booted; resume stages the next hop"),
            Phase::Failed => format!(
                "{hop} failed to boot ({} attempt(s)); the next run retries or gives up",
                j.attempts
            ),
            Phase::Blocked => format!(
                "blocked: {}",
                j.blocked_reason.as_deref().unwrap_or("see the journey")
            ),
        };
    }
    match plan {
        Some(p) if !p.hops.is_empty() => format!(
            "{} hop(s) available; upgrade stages {}",
            p.hops.len(),
            p.next.as_deref().unwrap_or("?")
        ),
        Some(p) => p.reason.clone().unwrap_or_else(|| "up to date".to_string()),
        None => "no graph source known; pass --graph".to_string(),
    }
}
