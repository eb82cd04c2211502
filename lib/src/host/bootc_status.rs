//! Reading `bootc status --format json --format-version 1` (apiVersion
//! `org.containers.bootc/v1`, and the older `v1alpha1`) into the engine's [`HostStatus`], for the
//! bootc backend. Pure: bytes in, status out.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{Deployment, HostStatus, Mode, Origin};

/// What bootc says about the host, mapped, plus the bootc-only facts the backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootcStatus {
    pub host: HostStatus,
    /// The image the host is set to follow (`spec.image`), as an ostree-ext image reference.
    pub spec_imgref: Option<String>,
    /// The booted deployment is not a bootc-compatible one (e.g. rpm-ostree layering):
    /// bootc must not drive it.
    pub incompatible: bool,
    /// The staged deployment only downloads and will not apply at shutdown.
    pub download_only: bool,
    /// Digest of an update bootc has already fetched for the booted image, if any.
    pub cached_update: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Host {
    api_version: String,
    #[serde(default)]
    spec: Option<Spec>,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(default)]
    image: Option<ImageReference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    staged: Option<BootEntry>,
    #[serde(default)]
    booted: Option<BootEntry>,
    #[serde(default)]
    rollback: Option<BootEntry>,
    #[serde(default)]
    other_deployments: Vec<BootEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BootEntry {
    #[serde(default)]
    image: Option<ImageStatus>,
    #[serde(default)]
    cached_update: Option<ImageStatus>,
    #[serde(default)]
    incompatible: bool,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    download_only: bool,
    #[serde(default)]
    ostree: Option<OstreeStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageStatus {
    image: ImageReference,
    #[serde(default)]
    version: Option<String>,
    image_digest: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ImageReference {
    image: String,
    transport: String,
    #[serde(default)]
    signature: Option<Signature>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Signature {
    OstreeRemote(String),
    ContainerPolicy,
    Insecure,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OstreeStatus {
    checksum: String,
    #[serde(default)]
    deploy_serial: i32,
    stateroot: String,
}

impl ImageReference {
    /// The ostree-ext form bootc writes into the deployment origin
    /// (`ostree-unverified-registry:quay.io/os:stable`, `ostree-remote-image:fedora:docker://…`).
    fn imgref(&self) -> String {
        let transport = match self.transport.as_str() {
            "registry" => "registry:",
            "oci" => "oci:",
            "oci-archive" => "oci-archive:",
            "containers-storage" => "containers-storage:",
            "dir" => "dir:",
            other => return format!("ostree-unverified-image:{other}:{}", self.image),
        };
        match &self.signature {
            Some(Signature::OstreeRemote(r)) => {
                let t = if transport == "registry:" {
                    "docker://"
                } else {
                    transport
                };
                format!("ostree-remote-image:{r}:{t}{}", self.image)
            }
            Some(Signature::ContainerPolicy) => {
                let t = if transport == "registry:" {
                    "docker://"
                } else {
                    transport
                };
                format!("ostree-image-signed:{t}{}", self.image)
            }
            Some(Signature::Insecure) | None if transport == "registry:" => {
                format!("ostree-unverified-registry:{}", self.image)
            }
            Some(Signature::Insecure) | None => {
                format!("ostree-unverified-image:{transport}{}", self.image)
            }
        }
    }
}

/// Parse bootc's status document (JSON, or the YAML bootc prints by default).
pub fn parse(bytes: &[u8], file: &str) -> Result<BootcStatus> {
    let host: Host =
        serde_yaml::from_slice(bytes).with_context(|| format!("{file}: reading bootc status"))?;
    if !matches!(
        host.api_version.as_str(),
        "org.containers.bootc/v1" | "org.containers.bootc/v1alpha1"
    ) {
        bail!(
            "{file}: unsupported bootc status apiVersion {:?}",
            host.api_version
        );
    }
    let status = host.status.unwrap_or_default();
    let booted_incompatible = status.booted.as_ref().is_some_and(|b| b.incompatible);
    let download_only = status.staged.as_ref().is_some_and(|s| s.download_only);
    let cached_update = status
        .booted
        .as_ref()
        .and_then(|b| b.cached_update.as_ref())
        .map(|c| c.image_digest.clone());
    let map = |e: &BootEntry, staged: bool| deployment(e, staged);
    let current = status.booted.as_ref().map(|e| map(e, false)).transpose()?;
    let pending = status.staged.as_ref().map(|e| map(e, true)).transpose()?;
    let rollback = status
        .rollback
        .as_ref()
        .map(|e| map(e, false))
        .transpose()?;
    let other = status
        .other_deployments
        .iter()
        .map(|e| map(e, false))
        .collect::<Result<Vec<_>>>()?;
    Ok(BootcStatus {
        host: HostStatus {
            mode: Mode::Booted,
            current,
            pending,
            rollback,
            other,
        },
        spec_imgref: host.spec.and_then(|s| s.image).map(|i| i.imgref()),
        incompatible: booted_incompatible,
        download_only,
        cached_update,
    })
}

fn deployment(e: &BootEntry, staged: bool) -> Result<Deployment> {
    let ostree = e
        .ostree
        .as_ref()
        .context("a bootc deployment without ostree details is not supported")?;
    let image = e.image.as_ref();
    Ok(Deployment {
        stateroot: ostree.stateroot.clone(),
        index: ostree.deploy_serial,
        commit: ostree.checksum.clone(),
        version: image.and_then(|i| i.version.clone()),
        digest: image.map(|i| i.image_digest.clone()),
        image: image.map(|i| i.image.image.clone()),
        transport: image.map(|i| i.image.transport.clone()),
        origin: match image {
            Some(i) => Origin::Container {
                imgref: i.image.imgref(),
            },
            None => Origin::Unknown,
        },
        staged,
        pinned: e.pinned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> BootcStatus {
        let path = format!(
            "{}/../../shared/data/bootc/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        parse(&bytes, name).unwrap()
    }

    #[test]
    fn staged_and_booted() {
        let s = fixture("spec-staged-booted.yaml");
        let booted = s.host.current.unwrap();
        assert_eq!(booted.version.as_deref(), Some("nightly"));
        assert_eq!(
            booted.digest.as_deref(),
            Some("sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34")
        );
        assert_eq!(
            booted.commit,
            "26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c"
        );
        assert_eq!(
            booted.origin,
            Origin::Container {
                imgref: "ostree-unverified-registry:quay.io/example/someimage:latest".into()
            }
        );
        let staged = s.host.pending.unwrap();
        assert!(staged.staged);
        assert_eq!(
            staged.digest.as_deref(),
            Some("sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566")
        );
        assert!(s.host.rollback.is_none());
        assert!(!s.incompatible && !s.download_only);
    }

    #[test]
    fn every_fixture_parses() {
        let dir = format!("{}/../../shared/data/bootc", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if name.starts_with("spec-") {
                fixture(&name);
                n += 1;
            }
        }
        assert_eq!(n, 16);
    }

    #[test]
    fn bootc_specific_fields() {
        assert!(fixture("spec-staged-download-only.yaml").download_only);
        let pinned = fixture("spec-booted-pinned.yaml");
        assert!(pinned.host.current.as_ref().unwrap().pinned);
        assert_eq!(pinned.host.other.len(), 1);
        let rfe = fixture("spec-rfe-ostree-deployment.yaml");
        assert_eq!(rfe.host.current.unwrap().origin, Origin::Unknown);
        assert!(rfe.host.pending.unwrap().origin == Origin::Unknown);
        let remote = fixture("spec-ostree-remote.yaml");
        assert_eq!(
            remote.spec_imgref.as_deref(),
            Some("ostree-remote-image:fedora:docker://quay.io/fedora/fedora-coreos:stable")
        );
        let empty = fixture("spec-v1-null.json");
        assert!(empty.host.current.is_none() && empty.spec_imgref.is_none());
        let with_update = fixture("spec-booted-with-update.yaml");
        assert!(with_update.cached_update.is_some());
    }

    #[test]
    fn refuses_unknown_api_versions() {
        let err = parse(b"{\"apiVersion\":\"org.containers.bootc/v2\"}", "s.json").unwrap_err();
        assert!(
            err.to_string()
                .contains("unsupported bootc status apiVersion"),
            "{err}"
        );
        let err = parse(b"[1", "s.json").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("s.json: reading bootc status"),
            "{err:#}"
        );
    }
}
