//! Reading `rpm-ostree status --json` into the engine's [`HostStatus`], for the rpm-ostree
//! backend (Fedora CoreOS, IoT, Atomic desktops). Pure: bytes in, status out.

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Deployment, HostStatus, Mode, Origin};

/// What rpm-ostree says about the host, mapped, plus the rpm-ostree-only facts the backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmOstreeStatus {
    pub host: HostStatus,
    /// The registered update driver (e.g. `Zincati`), if any.
    pub update_driver: Option<String>,
    /// The staged deployment waits for `rpm-ostree finalize-deployment`.
    pub finalization_locked: bool,
    /// The booted deployment has layered or overridden packages.
    pub layered: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Status {
    deployments: Vec<RawDeployment>,
    #[serde(default)]
    update_driver: Option<Driver>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Driver {
    driver_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDeployment {
    osname: String,
    checksum: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    booted: bool,
    #[serde(default)]
    staged: bool,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    finalization_locked: bool,
    /// ostree remote:ref origins.
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    container_image_reference: Option<String>,
    #[serde(default)]
    container_image_reference_digest: Option<String>,
    #[serde(default)]
    requested_packages: Vec<String>,
    #[serde(default)]
    requested_local_packages: Vec<String>,
    #[serde(default)]
    requested_base_removals: Vec<String>,
    #[serde(default)]
    requested_base_local_replacements: Vec<serde_json::Value>,
}

/// Parse `rpm-ostree status --json`.
pub fn parse(bytes: &[u8], file: &str) -> Result<RpmOstreeStatus> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let status: Status = serde_path_to_error::deserialize(de)
        .with_context(|| format!("{file}: reading rpm-ostree status"))?;
    let deployments: Vec<Deployment> = status
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| deployment(d, i))
        .collect();
    let booted = status.deployments.iter().position(|d| d.booted);
    // A staged deployment, or a newer default written without staging, waits for the reboot.
    let pending = status
        .deployments
        .iter()
        .position(|d| d.staged)
        .or_else(|| booted.filter(|&b| b > 0).map(|_| 0));
    let rollback = booted.and_then(|b| (b + 1 < deployments.len()).then_some(b + 1));
    let used = [booted, pending, rollback];
    let pick = |i: Option<usize>| i.map(|i| deployments[i].clone());
    let other = (0..deployments.len())
        .filter(|i| !used.contains(&Some(*i)))
        .map(|i| deployments[i].clone())
        .collect();
    let layered = booted.is_some_and(|b| {
        let d = &status.deployments[b];
        !(d.requested_packages.is_empty()
            && d.requested_local_packages.is_empty()
            && d.requested_base_removals.is_empty()
            && d.requested_base_local_replacements.is_empty())
    });
    Ok(RpmOstreeStatus {
        finalization_locked: pending.is_some_and(|p| status.deployments[p].finalization_locked),
        host: HostStatus {
            mode: Mode::Booted,
            current: pick(booted),
            pending: pick(pending),
            rollback: pick(rollback),
            other,
        },
        update_driver: status.update_driver.map(|d| d.driver_name),
        layered,
    })
}

fn deployment(d: &RawDeployment, index: usize) -> Deployment {
    let origin = match (&d.container_image_reference, &d.origin) {
        (Some(imgref), _) => Origin::Container {
            imgref: imgref.clone(),
        },
        (None, Some(refspec)) => Origin::Ostree {
            refspec: refspec.clone(),
            override_commit: None,
        },
        (None, None) => Origin::Unknown,
    };
    let (image, transport) = match &origin {
        Origin::Container { imgref } => split_imgref(imgref),
        _ => (None, None),
    };
    Deployment {
        stateroot: d.osname.clone(),
        index: i32::try_from(index).unwrap_or(i32::MAX),
        commit: d.checksum.clone(),
        version: d.version.clone(),
        digest: d.container_image_reference_digest.clone(),
        image,
        transport,
        origin,
        staged: d.staged,
        pinned: d.pinned,
    }
}

/// `ostree-image-signed:docker://quay.io/os:stable` → (`quay.io/os:stable`, `registry`).
fn split_imgref(imgref: &str) -> (Option<String>, Option<String>) {
    let rest = imgref
        .strip_prefix("ostree-unverified-registry:")
        .map(|name| ("registry", name.to_string()))
        .or_else(|| {
            let after_sig = imgref
                .strip_prefix("ostree-image-signed:")
                .or_else(|| imgref.strip_prefix("ostree-unverified-image:"))
                .or_else(|| {
                    imgref
                        .strip_prefix("ostree-remote-image:")
                        .and_then(|r| r.split_once(':').map(|(_, rest)| rest))
                })?;
            let (transport, name) = after_sig
                .strip_prefix("docker://")
                .map(|n| ("registry", n))
                .or_else(|| after_sig.split_once(':'))?;
            Some((transport, name.to_string()))
        });
    match rest {
        Some((t, name)) => (Some(name), Some(t.to_string())),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> RpmOstreeStatus {
        let path = format!(
            "{}/../../shared/data/fcos/zincati/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        parse(&bytes, name).unwrap()
    }

    #[test]
    fn container_host_booted() {
        let s = fixture("rpm-ostree-status.json");
        let b = s.host.current.unwrap();
        assert_eq!(b.version.as_deref(), Some("43.20251024.3.0"));
        assert_eq!(
            b.digest.as_deref(),
            Some("sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087")
        );
        assert_eq!(
            b.origin,
            Origin::Container {
                imgref: "ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable".into()
            }
        );
        assert_eq!(
            b.image.as_deref(),
            Some("quay.io/fedora/fedora-coreos:stable")
        );
        assert_eq!(b.transport.as_deref(), Some("registry"));
        assert_eq!(s.update_driver.as_deref(), Some("Zincati"));
        assert!(s.host.pending.is_none() && !s.layered);
    }

    #[test]
    fn ostree_ref_host_with_locked_staged_deployment() {
        let s = fixture("rpm-ostree-staged.json");
        let pending = s.host.pending.as_ref().unwrap();
        assert!(pending.staged);
        assert_eq!(pending.version.as_deref(), Some("31.20200517.3.0"));
        assert_eq!(
            pending.origin,
            Origin::Ostree {
                refspec: "fedora:fedora/x86_64/coreos/stable".into(),
                override_commit: None
            }
        );
        assert!(s.finalization_locked);
        assert_eq!(
            s.host.current.unwrap().version.as_deref(),
            Some("31.20200505.3.0")
        );
        assert!(s.update_driver.is_none());
    }

    #[test]
    fn annotation_fixture_and_errors() {
        let s = fixture("rpm-ostree-status-annotation.json");
        assert!(s.host.current.is_some());
        let err = parse(br#"{"deployments":[{"osname":1}]}"#, "s.json").unwrap_err();
        assert!(
            format!("{err:#}").contains("deployments[0].osname"),
            "{err:#}"
        );
    }

    #[test]
    fn image_references() {
        let table = [
            (
                "ostree-unverified-registry:q.io/os:1",
                Some(("q.io/os:1", "registry")),
            ),
            (
                "ostree-image-signed:docker://q.io/os:1",
                Some(("q.io/os:1", "registry")),
            ),
            (
                "ostree-remote-image:fedora:docker://q.io/os:1",
                Some(("q.io/os:1", "registry")),
            ),
            (
                "ostree-unverified-image:oci:/var/os",
                Some(("/var/os", "oci")),
            ),
            ("nonsense", None),
        ];
        for (input, want) in table {
            let (name, transport) = split_imgref(input);
            let got = name.zip(transport);
            assert_eq!(
                got.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
                want,
                "{input}"
            );
        }
    }
}
