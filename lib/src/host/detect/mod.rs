//! Which backend drives the host. `host.backend` in the configuration wins; otherwise bootc
//! when `bootc status` answers, the booted deployment is bootc-compatible and
//! the host follows a container image, else rpm-ostree
//! when its daemon answers, else the native libostree backend. The reason is kept for
//! `status`. `choose` only decides; the caller passes the probes (tests pass recorded answers).

use anyhow::{bail, Result};
use serde::Serialize;

use super::bootc_status;
use super::rpm_ostree_status;
use super::tool::{Probe, Tool};
use crate::config::Backend;

/// A concrete backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Ostree,
    Bootc,
    RpmOstree,
}

/// The backend chosen and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub kind: Kind,
    pub reason: String,
    /// The status answer that decided it (bootc's or rpm-ostree's), so the backend need not
    /// ask again for its first status.
    pub answer: Option<Vec<u8>>,
}

/// The detection probes: `bootc status` and `rpm-ostree status`, run only when needed.
pub trait Probes {
    fn bootc(&self) -> Probe;
    fn rpm_ostree(&self) -> Probe;
}

/// The real tools on `PATH`.
#[derive(Debug)]
pub struct SystemProbes;

impl Probes for SystemProbes {
    fn bootc(&self) -> Probe {
        Tool::new("bootc").probe(&["status", "--format", "json", "--format-version", "1"])
    }

    fn rpm_ostree(&self) -> Probe {
        Tool::new("rpm-ostree")
            .with_env("RPMOSTREE_CLIENT_ID", super::rpm_ostree::DRIVER_NAME)
            .probe(&["status", "--json"])
    }
}

/// Decide. `configured_by` names where `host.backend` was set; `offline` is true when the
/// command works on a sysroot that is not the running system (only the native backend can).
pub fn choose(
    configured: Backend,
    configured_by: &str,
    offline: bool,
    probes: &dyn Probes,
) -> Result<Choice> {
    let fixed = |kind, name| Choice {
        kind,
        reason: format!("host.backend = \"{name}\" ({configured_by})"),
        answer: None,
    };
    let cli_only = match configured {
        Backend::Ostree => return Ok(fixed(Kind::Ostree, "ostree")),
        Backend::Bootc => Some((Kind::Bootc, "bootc")),
        Backend::RpmOstree => Some((Kind::RpmOstree, "rpm-ostree")),
        Backend::Auto => None,
    };
    if offline {
        if let Some((_, name)) = cli_only {
            bail!(
                "host.backend = \"{name}\" ({configured_by}) drives the running system, but \
                 --sysroot names an offline sysroot: only the ostree backend works offline"
            );
        }
        return Ok(Choice {
            kind: Kind::Ostree,
            reason: "--sysroot names an offline sysroot".into(),
            answer: None,
        });
    }
    if let Some((kind, name)) = cli_only {
        return Ok(fixed(kind, name));
    }
    let bootc_said = match probes.bootc() {
        Probe::Answered(out) => match bootc_status::parse(&out, "bootc status") {
            Ok(st) if st.incompatible => {
                "bootc reports the booted deployment as incompatible".to_string()
            }
            Ok(st) if st.spec_imgref.is_none() => {
                "bootc status shows no container image to follow (spec.image is null)".to_string()
            }
            Ok(_) => {
                return Ok(Choice {
                    kind: Kind::Bootc,
                    reason: "bootc status answered and the booted deployment is bootc-compatible"
                        .into(),
                    answer: Some(out),
                })
            }
            Err(e) => format!("bootc status was unreadable ({e:#})"),
        },
        Probe::Missing => "bootc is not installed".to_string(),
        Probe::Failed(e) => format!("bootc status failed ({e})"),
    };
    let rpm_said = match probes.rpm_ostree() {
        Probe::Answered(out) => match rpm_ostree_status::parse(&out, "rpm-ostree status") {
            Ok(_) => {
                return Ok(Choice {
                    kind: Kind::RpmOstree,
                    reason: format!("{bootc_said}; rpm-ostree status answered"),
                    answer: Some(out),
                })
            }
            Err(e) => format!("rpm-ostree status was unreadable ({e:#})"),
        },
        Probe::Missing => "rpm-ostree is not installed".to_string(),
        Probe::Failed(e) => format!("rpm-ostree status failed ({e})"),
    };
    Ok(Choice {
        kind: Kind::Ostree,
        reason: format!("{bootc_said}; {rpm_said}"),
        answer: None,
    })
}

#[cfg(test)]
mod tests;
