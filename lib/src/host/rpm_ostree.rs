//! The rpm-ostree backend (Fedora CoreOS, IoT, Atomic desktops): the host is driven through the
//! `rpm-ostree` CLI, the way Zincati drives it, and read through `rpm-ostree status --json`.
//!
//! The engine registers as the update driver, then stages every hop pinned and locked:
//! `rpm-ostree deploy --lock-finalization sha256:…` (container origins keep their tag) or
//! `revision=<commit>` (ref origins keep their ref; rpm-ostree records the pin as
//! `override-commit`, which a later `rpm-ostree upgrade` clears). A locked deployment is only
//! finalized by `rpm-ostree finalize-deployment`, which also reboots: that is how `--apply`
//! (and so the reboot strategy) decides when the host moves. Nothing is ever rebased.

use std::cell::RefCell;
use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::images::{parse_tracked, require_pinned};
use super::rpm_ostree_status::{self, RpmOstreeStatus};
use super::tool::Tool;
use super::{same_image, BackendInfo, Deployment, Host, HostStatus, Pin, StageError, Staged};
use crate::state::Tracked;

/// The name under which the engine registers as rpm-ostree's update driver.
pub const DRIVER_NAME: &str = "bootc-checkpoint";

/// A host managed by rpm-ostree.
#[derive(Debug)]
pub struct RpmOstreeHost {
    rpm_ostree: Tool,
    registries_conf: Option<PathBuf>,
    reason: String,
    /// Detection's status answer, used once instead of asking the tool again.
    first_status: RefCell<Option<Vec<u8>>>,
}

impl RpmOstreeHost {
    /// `reason`: why this backend drives the host (shown by `status`).
    pub fn new(registries_conf: Option<PathBuf>, reason: String) -> Self {
        Self {
            rpm_ostree: Tool::new("rpm-ostree").with_env("RPMOSTREE_CLIENT_ID", DRIVER_NAME),
            registries_conf,
            reason,
            first_status: RefCell::new(None),
        }
    }

    /// Answer the first status query with `answer` (what detection already read).
    pub fn with_first_status(self, answer: Option<Vec<u8>>) -> Self {
        self.first_status.replace(answer);
        self
    }

    fn read_status(&self) -> Result<RpmOstreeStatus> {
        let out = match self.first_status.borrow_mut().take() {
            Some(answer) => answer,
            None => self.rpm_ostree.run(&["status", "--json"])?,
        };
        rpm_ostree_status::parse(&out, "rpm-ostree status --json")
    }

    /// Become the update driver, so `rpm-ostree upgrade` run by hand or by another agent
    /// refuses to move the host past a checkpoint while the engine drives it.
    fn register(&self, status: &RpmOstreeStatus) -> Result<()> {
        if status.update_driver.as_deref() == Some(DRIVER_NAME) {
            return Ok(());
        }
        let arg = format!("--register-driver={DRIVER_NAME}");
        let mut args = vec!["deploy", "", arg.as_str()];
        if let Some(other) = &status.update_driver {
            tracing::warn!(driver = %other, "taking over as rpm-ostree's update driver");
            args.push("--bypass-driver");
        }
        self.rpm_ostree.run(&args).map(drop)
    }
}

impl Host for RpmOstreeHost {
    fn status(&self) -> Result<HostStatus> {
        Ok(self.read_status()?.host)
    }

    async fn resolve(&self, tracked: &Tracked) -> Result<Option<String>> {
        super::images::resolve(self.registries_conf.as_deref(), tracked).await
    }

    async fn stage(&self, pin: &Pin, tracked: &Tracked) -> Result<Staged, StageError> {
        let arg = match (pin, tracked) {
            (Pin::Digest(d), Tracked::Container { imgref }) => {
                let target = parse_tracked(imgref)?;
                require_pinned(self.registries_conf.as_deref(), &target.imgref.name, d).await?;
                d.clone()
            }
            (Pin::Commit(c), Tracked::Ostree { .. }) => format!("revision={c}"),
            _ => {
                return Err(StageError::Failed(anyhow!(
                    "cannot stage {pin:?} on a host following {tracked:?}: container hosts \
                     stage digests, ostree-ref hosts stage commits"
                )))
            }
        };
        let before = self.read_status()?;
        self.register(&before)?;
        // Our own units (timer, resume) are not the unit that registered: bypass the check
        // rpm-ostree makes for other clients.
        let mut args = vec!["deploy", "--lock-finalization", "--bypass-driver"];
        if matches!(pin, Pin::Commit(_)) {
            args.push("--skip-branch-check");
        }
        args.push(&arg);
        self.rpm_ostree.run(&args)?;
        let after = self.read_status()?;
        let staged = after
            .host
            .pending
            .filter(|p| match pin {
                Pin::Digest(d) => p.digest.as_deref() == Some(d.as_str()),
                Pin::Commit(c) => p.commit == *c,
            })
            .ok_or_else(|| {
                anyhow!("`rpm-ostree deploy {arg}` succeeded but shows no staged {arg}")
            })?;
        if !follows(&staged, tracked) {
            // Never leave a deployment behind that would lose the tracked reference.
            self.rpm_ostree.run(&["cleanup", "-p"])?;
            return Err(StageError::Failed(anyhow!(
                "the staged deployment {} follows {:?}, not {tracked:?}: removed it",
                staged.commit,
                staged.origin
            )));
        }
        Ok(Staged {
            commit: staged.commit,
            digest: staged.digest,
            version: staged.version,
        })
    }

    fn cleanup_pending(&self) -> Result<()> {
        self.rpm_ostree.run(&["cleanup", "-p"]).map(drop)
    }

    fn apply(&self, pending: &Deployment) -> Result<()> {
        // Unlocks the staged deployment and reboots into it, as Zincati does.
        let which = pending.digest.as_deref().unwrap_or(&pending.commit);
        self.rpm_ostree
            .run(&["finalize-deployment", which])
            .map(drop)
    }

    fn backend(&self) -> BackendInfo {
        BackendInfo {
            name: "rpm-ostree",
            reason: self.reason.clone(),
        }
    }
}

fn follows(d: &Deployment, tracked: &Tracked) -> bool {
    match (d.tracked(), tracked) {
        (Some(Tracked::Container { imgref: got }), Tracked::Container { imgref }) => {
            same_image(&got, imgref)
        }
        (Some(Tracked::Ostree { refspec: got }), Tracked::Ostree { refspec }) => got == *refspec,
        _ => false,
    }
}
