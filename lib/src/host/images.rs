//! Registry checks every container backend makes itself before a tool stages anything: where
//! the tracked tag points now, and whether the pinned image exists (a missing one blocks the
//! journey with a clear "publish it" message instead of failing it over and over).

use std::path::Path;

use anyhow::{Context, Result};
use ostree_ext::container::OstreeImageReference;

use super::{split_image_name, StageError};
use crate::registry::RegistryConfig;

/// Parse a tracked ostree-ext image reference (`ostree-unverified-registry:host/os:stable`).
pub fn parse_tracked(imgref: &str) -> Result<OstreeImageReference> {
    OstreeImageReference::try_from(imgref)
        .with_context(|| format!("parsing tracked image reference {imgref:?}"))
}

/// Where the tracked reference points now: the tag's digest for container hosts, `None` for
/// ostree refs (their head is read by the backend that pulls them).
pub async fn resolve(
    registries_conf: Option<&Path>,
    tracked: &crate::state::Tracked,
) -> Result<Option<String>> {
    match tracked {
        crate::state::Tracked::Container { imgref } => {
            resolve_tag(registries_conf, imgref).await.map(Some)
        }
        crate::state::Tracked::Ostree { .. } => Ok(None),
    }
}

/// The digest the tracked tag points at now.
async fn resolve_tag(registries_conf: Option<&Path>, imgref: &str) -> Result<String> {
    let target = parse_tracked(imgref)?;
    RegistryConfig::load_from(registries_conf)?
        .manifest_digest(&target.imgref.name)
        .await?
        .with_context(|| format!("{} does not exist in the registry", target.imgref.name))
}

/// `repo:tag@digest` for a tracked `repo:tag`: the tag stays visible in the spec, the digest
/// decides what is pulled. A tracked reference without a tag cannot be pinned this way.
pub fn pinned_with_tag(name: &str, digest: &str) -> Result<String, StageError> {
    match split_image_name(name) {
        (repo, Some(tag)) if !name.contains('@') => Ok(format!("{repo}:{tag}@{digest}")),
        _ => Err(StageError::Blocked(format!(
            "{name} names no tag to follow: switch the host to a tag first"
        ))),
    }
}

/// Refuse (as `Blocked`) to stage `repo@digest` when the registry does not have it.
pub async fn require_pinned(
    registries_conf: Option<&Path>,
    name: &str,
    digest: &str,
) -> Result<(), StageError> {
    let (repo, _) = split_image_name(name);
    let pinned = format!("{repo}@{digest}");
    let found = RegistryConfig::load_from(registries_conf)?
        .manifest_digest(&pinned)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StageError::Blocked(format!(
            "{pinned} is not in the registry: push the checkpoint image (or fix the graph)"
        ))),
    }
}

/// Transport names as bootc's status reports them.
pub fn transport_name(t: ostree_ext::container::Transport) -> &'static str {
    use ostree_ext::container::Transport;
    match t {
        Transport::Registry => "registry",
        Transport::OciDir => "oci",
        Transport::OciArchive => "oci-archive",
        Transport::DockerArchive => "docker-archive",
        Transport::ContainerStorage => "containers-storage",
        Transport::Dir => "dir",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_keeps_the_tag() {
        assert_eq!(
            pinned_with_tag("127.0.0.1:5000/os:stable", "sha256:ab").unwrap(),
            "127.0.0.1:5000/os:stable@sha256:ab"
        );
        for untagged in ["127.0.0.1:5000/os", "q.io/os:stable@sha256:cd"] {
            let err = pinned_with_tag(untagged, "sha256:ab").unwrap_err();
            assert!(
                matches!(&err, StageError::Blocked(m) if m.contains("no tag")),
                "{untagged}: {err}"
            );
        }
    }
}
