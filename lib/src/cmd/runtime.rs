//! What the journey commands do around the engine on a host: ask the reboot strategy before
//! `upgrade --apply` reboots, give the FleetLock slot back on `resume`, and after every
//! `upgrade`/`resume`/`cancel` log the new events and refresh the motd, reboot flag and metrics
//! (`crate::notify`). See `docs/runtime.md`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::journey::Common;
use crate::config::{Config, Strategy};
use crate::engine::{Outcome, Step};
use crate::notify::{self, events, LastCheck, Snapshot};
use crate::state::{Event, StateStore};
use crate::strategy::backoff::Backoff;
use crate::strategy::fleet_lock::{Answer, Client, Op};
use crate::strategy::{self, LockAnswer, RebootDecision, Zone};

/// The runtime settings of one command run.
#[derive(Debug)]
pub(super) struct Runtime<'a> {
    pub common: &'a Common,
    pub config: &'a Config,
    pub state_dir: PathBuf,
    /// The history before the command, to tell which events it added.
    pub history_before: Vec<Event>,
    pub now: DateTime<Utc>,
    /// `upgrade --check` writes nothing, not even the runtime files.
    pub dry_run: bool,
}

impl Runtime<'_> {
    /// Whether a reboot can follow at all: on the running system, or with the reboot seam.
    /// Offline sysroots (image builds) neither reboot nor lock.
    pub fn can_reboot(&self) -> bool {
        self.common.sysroot.is_none() || self.common.reboot_command.is_some()
    }

    /// Whether `upgrade --apply` should consult the strategy after `step`.
    pub fn wants_reboot(&self, step: &Step) -> bool {
        let offline_deployed =
            step.outcome == Outcome::Staged && self.common.reboot_command.is_some();
        matches!(step.outcome, Outcome::Staged | Outcome::Waiting)
            && (step.reboot_required || offline_deployed)
    }

    /// Ask the configured strategy whether to reboot now.
    pub fn decide(&self, rt: &LazyRuntime) -> Result<RebootDecision> {
        let updates = &self.config.updates;
        match updates.strategy.value {
            Strategy::Immediate => Ok(strategy::immediate()),
            Strategy::Periodic => {
                let zone = &updates.periodic.time_zone;
                let tz = Zone::resolve(&zone.value)
                    .with_context(|| format!("updates.periodic.time_zone ({})", zone.origin()))?;
                let windows: Vec<_> = updates
                    .periodic
                    .windows
                    .iter()
                    .map(|w| w.value.clone())
                    .collect();
                Ok(tz.periodic(&windows, zone.value.as_str(), self.now))
            }
            Strategy::FleetLock => {
                let client = self.lock_client()?;
                let answer = rt.get()?.block_on(client.send(Op::PreReboot))?;
                Ok(strategy::fleet_lock(LockAnswer {
                    url: client.url,
                    group: client.group,
                    node_uuid: client.node_uuid,
                    answer,
                }))
            }
        }
    }

    /// `resume` with `fleet_lock`: send `steady-state` (every time; see `docs/runtime.md`).
    pub fn steady_state(&self, rt: &LazyRuntime) -> Result<()> {
        if self.config.updates.strategy.value != Strategy::FleetLock || !self.can_reboot() {
            return Ok(());
        }
        let client = self.lock_client()?;
        match rt.get()?.block_on(client.send(Op::SteadyState))? {
            Answer::Granted => {
                events::log(
                    events::Kind::LockReleased,
                    None,
                    &format!(
                        "FleetLock steady-state sent to {} (group {})",
                        client.url, client.group
                    ),
                );
                Ok(())
            }
            refused => anyhow::bail!(
                "FleetLock server {} refused steady-state for group {}: {}",
                client.url,
                client.group,
                refused.describe()
            ),
        }
    }

    fn lock_client(&self) -> Result<Client> {
        let updates = &self.config.updates;
        let url = updates
            .fleet_lock_url
            .as_ref()
            .context("updates.strategy is \"fleet_lock\" but updates.fleet_lock_url is not set")?;
        let node_uuid = strategy::node_id::node_uuid(&self.common.machine_id)?;
        let backoff = match self.common.fleet_lock_deadline {
            Some(secs) => Backoff::with_deadline(Duration::from_secs(secs)),
            None => Backoff::default(),
        };
        Ok(Client {
            url: url.value.clone(),
            node_uuid,
            group: self.config.identity.group.value.clone(),
            backoff,
        })
    }

    /// Reboot the host's way (`host_reboot`), or with the `--reboot-command` seam.
    pub fn reboot(&self, host_reboot: impl FnOnce() -> Result<()>) -> Result<()> {
        events::log(
            events::Kind::Rebooting,
            None,
            "rebooting into the staged hop",
        );
        let Some(program) = &self.common.reboot_command else {
            return host_reboot();
        };
        let status = std::process::Command::new(program)
            .status()
            .with_context(|| format!("running {}", program.display()))?;
        anyhow::ensure!(status.success(), "{} failed: {status}", program.display());
        Ok(())
    }

    /// After `upgrade`, `resume` or `cancel` (whether it worked or not): log the events it
    /// recorded, remember the check, and refresh the runtime files. A failure here is logged,
    /// not fatal: the journey itself is already saved.
    pub fn publish(
        &self,
        store: &StateStore,
        step: Option<&Step>,
        reboot: Option<&RebootDecision>,
        checked_graph: Option<&str>,
    ) {
        if self.dry_run {
            return;
        }
        if let Err(e) = self.try_publish(store, step, reboot, checked_graph) {
            tracing::warn!("updating the runtime files: {e:#}");
        }
    }

    fn try_publish(
        &self,
        store: &StateStore,
        step: Option<&Step>,
        reboot: Option<&RebootDecision>,
        checked_graph: Option<&str>,
    ) -> Result<()> {
        let state = store.load()?;
        events::log_history(events::new_events(&self.history_before, &state.history));
        if let Some(r) = reboot.filter(|r| !r.allowed) {
            events::log(events::Kind::RebootDeferred, None, &r.reason);
        }
        let mut last_check = LastCheck::load(&self.state_dir);
        if let Some(src) = checked_graph.filter(|_| step.is_some()) {
            // From the cache the command just refreshed: no second fetch.
            let identity = crate::sources::cached_identity(&self.state_dir, src);
            let check = LastCheck::after(last_check.as_ref(), identity.as_ref(), self.now);
            check.save(&self.state_dir)?;
            last_check = Some(check);
        }
        let snapshot = Snapshot {
            state: &state,
            step,
            reboot,
            last_check: last_check.as_ref(),
            now: self.now,
        };
        notify::publish(&self.common.run_dir, &snapshot)
    }
}

/// The async runtime, started on first use: `resume` with nothing to do (every boot) and
/// `status` paths that never fetch must not pay for one.
#[derive(Debug, Default)]
pub struct LazyRuntime(std::cell::OnceCell<tokio::runtime::Runtime>);

impl LazyRuntime {
    pub fn get(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.0.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(self.0.get_or_init(|| rt))
    }
}
