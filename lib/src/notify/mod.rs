//! Telling people what the node is doing, after every `upgrade`, `resume` and `cancel`:
//!
//! * `<run>/motd.d/85-bootc-checkpoint.motd` while a journey is under way, blocked or failed, or
//!   the host is on a dead-end ([`motd`]); removed when there is nothing to say;
//! * `<run>/reboot-required` while a hop is staged (Debian's convention, read by e.g.
//!   needrestart and unattended-upgrades); removed afterwards, but only if it is ours;
//! * `<run>/bootc-checkpoint/metrics.prom`, a Prometheus textfile ([`metrics`]);
//! * journal records with a `MESSAGE_ID` per kind of event ([`events`]).
//!
//! `<run>` is `/run` on a host (`--run-dir` elsewhere). Rendering is pure; every file is
//! replaced atomically, so readers never see half of one.

pub mod events;
pub mod metrics;
pub mod motd;

#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::{Context, Result};
use cap_std_ext::cap_std::{ambient_authority, fs::Dir};
use cap_std_ext::dirext::CapStdExtDirExt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Step;
use crate::state::{GraphIdentity, State};
use crate::strategy::RebootDecision;

/// Default runtime directory.
pub const DEFAULT_RUN_DIR: &str = "/run";
/// The motd drop-in, relative to the runtime directory.
pub const MOTD: &str = "motd.d/85-bootc-checkpoint.motd";
/// The reboot flag file, relative to the runtime directory.
pub const REBOOT_REQUIRED: &str = "reboot-required";
/// The metrics textfile, relative to the runtime directory.
pub const METRICS: &str = "bootc-checkpoint/metrics.prom";
/// What this tool writes to `reboot-required` (the text Debian's tools use), so that it only
/// ever removes its own.
pub const REBOOT_REQUIRED_TEXT: &str = "*** System restart required ***\n";
/// The last check, in the state directory (it outlives reboots, so the graph's age does too).
pub const LAST_CHECK: &str = "last-check.json";

/// Everything the renderers look at.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// The journey state after the command.
    pub state: &'a State,
    /// What the command did (`None` when it failed).
    pub step: Option<&'a Step>,
    /// What the reboot strategy said, when it was asked.
    pub reboot: Option<&'a RebootDecision>,
    pub last_check: Option<&'a LastCheck>,
    pub now: DateTime<Utc>,
}

/// When the graph was last checked, and which graph it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastCheck {
    pub checked_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSeen>,
}

/// A graph publication as this node saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSeen {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    pub digest: String,
    /// When this node first saw this digest.
    pub first_seen_at: DateTime<Utc>,
}

impl LastCheck {
    /// The record after a check at `now` that found `graph` (`None`: no graph known).
    pub fn after(
        prev: Option<&LastCheck>,
        graph: Option<&GraphIdentity>,
        now: DateTime<Utc>,
    ) -> Self {
        let graph = graph.map(|g| {
            let seen = prev
                .and_then(|p| p.graph.as_ref())
                .filter(|p| p.digest == g.digest)
                .map_or(now, |p| p.first_seen_at);
            GraphSeen {
                source: g.source.clone(),
                serial: g.serial,
                digest: g.digest.clone(),
                first_seen_at: seen,
            }
        });
        Self {
            checked_at: now,
            graph,
        }
    }

    /// Read `<state_dir>/last-check.json`; a missing or unreadable record is no record (it only
    /// feeds metrics, and is rewritten by the next check).
    pub fn load(state_dir: &Path) -> Option<Self> {
        let path = state_dir.join(LAST_CHECK);
        let bytes = std::fs::read(&path).ok()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| tracing::warn!("ignoring {}: {e}", path.display()))
            .ok()
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("serializable") + "\n";
        crate::fsutil::write_atomic(&state_dir.join(LAST_CHECK), text.as_bytes())
    }
}

/// Write (or remove) the motd, the reboot flag and the metrics under `run_dir`.
pub fn publish(run_dir: &Path, s: &Snapshot<'_>) -> Result<()> {
    let dir = Dir::open_ambient_dir(run_dir, ambient_authority())
        .with_context(|| format!("opening the runtime directory {}", run_dir.display()))?;
    publish_in(&dir, run_dir, s)
}

/// [`publish`] into an open directory; `run_dir` is how it is named in errors.
pub fn publish_in(dir: &Dir, run_dir: &Path, s: &Snapshot<'_>) -> Result<()> {
    let shown = |rel: &str| run_dir.join(rel).display().to_string();
    match motd::render(s) {
        Some(text) => {
            write(dir, MOTD, &text).with_context(|| format!("writing {}", shown(MOTD)))?
        }
        None => {
            dir.remove_file_optional(MOTD)
                .with_context(|| format!("removing {}", shown(MOTD)))?;
        }
    }
    let staged = s
        .state
        .journey
        .as_ref()
        .is_some_and(|j| j.phase == crate::state::Phase::Staged);
    if staged {
        write(dir, REBOOT_REQUIRED, REBOOT_REQUIRED_TEXT)
            .with_context(|| format!("writing {}", shown(REBOOT_REQUIRED)))?;
    } else if dir.read_to_string(REBOOT_REQUIRED).ok().as_deref() == Some(REBOOT_REQUIRED_TEXT) {
        dir.remove_file_optional(REBOOT_REQUIRED)
            .with_context(|| format!("removing {}", shown(REBOOT_REQUIRED)))?;
    }
    write(dir, METRICS, &metrics::render(s)).with_context(|| format!("writing {}", shown(METRICS)))
}

/// Atomically replace `rel` under `dir`, readable by everyone (motd readers are users).
fn write(dir: &Dir, rel: &str, text: &str) -> Result<()> {
    crate::fsutil::write_atomic_in(dir, Path::new(rel), text.as_bytes(), 0o644)
}
