//! The host the engine acts on: what is deployed, and how to stage a pinned release while the
//! deployment keeps following its tracked reference. Backends: `ostree` (libostree +
//! ostree-ext), `bootc` and `rpm-ostree` (their CLIs); `detect` picks one, `AnyHost` holds it.

mod any;
pub mod bootc;
pub mod bootc_status;
pub mod detect;
mod images;
pub mod ostree;
mod pull;
pub mod rpm_ostree;
pub mod rpm_ostree_status;
mod tool;

pub use any::AnyHost;
pub use tool::Probe;

use anyhow::Result;
use serde::Serialize;

use crate::state::Tracked;

/// Whether the sysroot is the running system or an offline one (tests, demo, image builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The booted system: new deployments are staged and finalized at shutdown.
    Booted,
    /// A sysroot that is not running: deployments are written directly and the default
    /// deployment counts as the current one (a "reboot" is a no-op).
    Offline,
}

/// What a deployment follows, from its origin file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Origin {
    /// `container-image-reference=…` (ostree-ext / bootc).
    Container { imgref: String },
    /// `refspec=remote:ref`, optionally pinned by `override-commit`.
    Ostree {
        refspec: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        override_commit: Option<String>,
    },
    /// No origin we understand.
    Unknown,
}

/// One deployment of the sysroot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub stateroot: String,
    /// Position in the boot order (0 is the default).
    pub index: i32,
    /// ostree commit of the deployment.
    pub commit: String,
    /// The release's version label, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Manifest digest of the container image the deployment came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Container image the deployment follows (`registry/repo:tag`), without transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Transport of that image (`registry`, `oci`, `containers-storage`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    pub origin: Origin,
    pub staged: bool,
    pub pinned: bool,
}

impl Deployment {
    /// What the tracked reference of this deployment is, if it follows one. A spec pinned as
    /// `repo:tag@sha256:…` (how the bootc backend stages a hop) still follows `repo:tag`.
    pub fn tracked(&self) -> Option<Tracked> {
        match &self.origin {
            Origin::Container { imgref } => Some(Tracked::Container {
                imgref: without_digest_if_tagged(imgref).to_string(),
            }),
            Origin::Ostree { refspec, .. } => Some(Tracked::Ostree {
                refspec: refspec.clone(),
            }),
            Origin::Unknown => None,
        }
    }

    /// The identity the planner matches against the graph.
    pub fn booted_ref(&self) -> crate::plan::BootedRef {
        crate::plan::BootedRef {
            digest: self.digest.clone(),
            commit: Some(self.commit.clone()),
            version: self.version.clone(),
        }
    }
}

/// Deployments by role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostStatus {
    pub mode: Mode,
    /// The booted deployment (booted mode), or the default deployment (offline mode).
    pub current: Option<Deployment>,
    /// A deployment waiting for the next boot (staged, or a newer default than the booted one).
    pub pending: Option<Deployment>,
    pub rollback: Option<Deployment>,
    pub other: Vec<Deployment>,
}

/// A release to stage, always pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// A manifest digest (`sha256:…`) in the tracked image's repository.
    Digest(String),
    /// An ostree commit.
    Commit(String),
}

/// What staging did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub commit: String,
    pub digest: Option<String>,
    pub version: Option<String>,
}

/// Staging can be refused for a reason the journey records as `Blocked`.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    Blocked(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Which backend drives the host, and why (JSON: part of kind `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    pub name: &'static str,
    pub reason: String,
}

/// A host the engine can drive.
#[allow(async_fn_in_trait)] // Used through generics only; no Send bound needed.
pub trait Host {
    /// Deployments and the sysroot mode.
    fn status(&self) -> Result<HostStatus>;
    /// Which backend this is and why it was chosen.
    fn backend(&self) -> BackendInfo;
    /// The digest a container tag currently points at (for the final hop), or `None` for
    /// ostree refs.
    async fn resolve(&self, tracked: &Tracked) -> Result<Option<String>>;
    /// Stage `pin` so that the new deployment's origin still follows `tracked`.
    async fn stage(&self, pin: &Pin, tracked: &Tracked) -> Result<Staged, StageError>;
    /// Remove a pending (staged) deployment.
    fn cleanup_pending(&self) -> Result<()>;
    /// Reboot into the pending deployment (booted mode only).
    fn apply(&self, pending: &Deployment) -> Result<()>;
    /// The last hop booted: make the booted deployment follow `tracked` without pinning (a
    /// no-op where staging already kept the plain reference in the origin).
    fn restore_tracked(&self, tracked: &Tracked) -> Result<()> {
        let _ = tracked;
        Ok(())
    }
}

/// `systemctl reboot`: how a staged deployment is applied where the tool has no verb for it.
pub fn systemctl_reboot() -> Result<()> {
    use anyhow::Context;
    tracing::info!("rebooting into the staged hop");
    let status = std::process::Command::new("systemctl")
        .arg("reboot")
        .status()
        .context("running systemctl reboot")?;
    anyhow::ensure!(status.success(), "systemctl reboot failed: {status}");
    Ok(())
}

/// `x:tag@sha256:…` → `x:tag`; anything else unchanged (a digest-only reference has no tag to
/// fall back to and stays pinned).
fn without_digest_if_tagged(imgref: &str) -> &str {
    match imgref.rsplit_once('@') {
        Some((named, _)) => {
            let last = named.rsplit('/').next().unwrap_or(named);
            if last.contains(':') {
                named
            } else {
                imgref
            }
        }
        None => imgref,
    }
}

/// Whether two ostree-ext image references name the same image the same way (normalized by
/// parsing, so `docker://` spellings and the like compare equal).
pub fn same_image(a: &str, b: &str) -> bool {
    use ostree_ext::container::OstreeImageReference;
    match (
        OstreeImageReference::try_from(a),
        OstreeImageReference::try_from(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Split a container image name `registry/repo:tag` (or `…@digest`) into the repository and
/// the tag/digest, the way OCI references are written.
pub fn split_image_name(name: &str) -> (&str, Option<&str>) {
    if let Some((repo, digest)) = name.split_once('@') {
        return (repo, Some(digest));
    }
    // A ':' after the last '/' is a tag; earlier ones are a registry port.
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::{same_image, split_image_name, without_digest_if_tagged};

    #[test]
    fn pinned_specs_still_follow_their_tag() {
        let table = [
            (
                "ostree-unverified-registry:h:5000/os:stable@sha256:ab",
                "ostree-unverified-registry:h:5000/os:stable",
            ),
            (
                "ostree-unverified-registry:h:5000/os@sha256:ab",
                "ostree-unverified-registry:h:5000/os@sha256:ab",
            ),
            (
                "ostree-unverified-registry:h:5000/os:stable",
                "ostree-unverified-registry:h:5000/os:stable",
            ),
        ];
        for (input, want) in table {
            assert_eq!(without_digest_if_tagged(input), want, "{input}");
        }
        assert!(same_image(
            "ostree-unverified-registry:q.io/os:stable",
            "ostree-unverified-image:docker://q.io/os:stable"
        ));
        assert!(!same_image(
            "ostree-unverified-registry:q.io/os:stable",
            "ostree-unverified-registry:q.io/os:testing"
        ));
    }

    #[test]
    fn image_names() {
        let table = [
            ("quay.io/os:stable", ("quay.io/os", Some("stable"))),
            (
                "127.0.0.1:5000/os:stable",
                ("127.0.0.1:5000/os", Some("stable")),
            ),
            ("127.0.0.1:5000/os", ("127.0.0.1:5000/os", None)),
            ("q.io/os@sha256:ab", ("q.io/os", Some("sha256:ab"))),
            ("os", ("os", None)),
        ];
        for (input, want) in table {
            assert_eq!(split_image_name(input), want, "{input}");
        }
    }
}
