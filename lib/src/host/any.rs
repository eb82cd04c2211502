//! One of the backends, chosen at run time; the engine is generic over [`Host`], and async
//! trait methods cannot be called through `dyn`, hence an enum.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::bootc::BootcHost;
use super::detect::{Choice, Kind};
use super::ostree::OstreeHost;
use super::rpm_ostree::RpmOstreeHost;
use super::{BackendInfo, Deployment, Host, HostStatus, Pin, StageError, Staged};
use crate::state::Tracked;

#[derive(Debug)]
pub enum AnyHost {
    Ostree(OstreeHost),
    Bootc(BootcHost),
    RpmOstree(RpmOstreeHost),
}

impl AnyHost {
    /// Open the chosen backend. `sysroot` only matters to the native backend.
    pub fn open(
        choice: Choice,
        sysroot: Option<&Path>,
        registries_conf: Option<PathBuf>,
    ) -> Result<Self> {
        Ok(match choice.kind {
            Kind::Ostree => {
                // Say why the native backend was picked: a tool that failed to answer is the
                // likelier cause when the running system is not a plain ostree one either.
                let host = OstreeHost::open(sysroot)
                    .with_context(|| format!("using the ostree backend ({})", choice.reason))?;
                Self::Ostree(
                    host.with_registries_conf(registries_conf)
                        .with_reason(choice.reason),
                )
            }
            Kind::Bootc => Self::Bootc(
                BootcHost::new(registries_conf, choice.reason).with_first_status(choice.answer),
            ),
            Kind::RpmOstree => Self::RpmOstree(
                RpmOstreeHost::new(registries_conf, choice.reason).with_first_status(choice.answer),
            ),
        })
    }
}

macro_rules! each {
    ($self:ident, $h:ident => $e:expr) => {
        match $self {
            AnyHost::Ostree($h) => $e,
            AnyHost::Bootc($h) => $e,
            AnyHost::RpmOstree($h) => $e,
        }
    };
}

impl Host for AnyHost {
    fn status(&self) -> Result<HostStatus> {
        each!(self, h => h.status())
    }

    fn backend(&self) -> BackendInfo {
        each!(self, h => h.backend())
    }

    async fn resolve(&self, tracked: &Tracked) -> Result<Option<String>> {
        each!(self, h => h.resolve(tracked).await)
    }

    async fn stage(&self, pin: &Pin, tracked: &Tracked) -> Result<Staged, StageError> {
        each!(self, h => h.stage(pin, tracked).await)
    }

    fn cleanup_pending(&self) -> Result<()> {
        each!(self, h => h.cleanup_pending())
    }

    fn apply(&self, pending: &Deployment) -> Result<()> {
        each!(self, h => h.apply(pending))
    }

    fn restore_tracked(&self, tracked: &Tracked) -> Result<()> {
        each!(self, h => h.restore_tracked(tracked))
    }
}
