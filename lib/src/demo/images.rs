//! The OS releases the demo publishes: for each version a small bootable tree (kernel,
//! initramfs, os-release) committed with `ostree commit --bootable`, encapsulated into an OCI
//! image with ostree-ext and pushed with the real skopeo to `127.0.0.1:PORT/os:<version>`.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use ostree_ext::container::{
    self, Config, ExportOpts, ImageReference, OstreeImageReference, SignatureSource, Transport,
    BOOTC_LABEL,
};
use ostree_ext::ostree;
use ostree_ext::ostree::gio;

use super::registry::Registry;
use super::tools::{run, Tools};
use crate::registry::RegistryConfig;

/// Repository name of the OS image in the registry.
const IMAGE: &str = "os";
/// The kernel version every release ships.
const KVER: &str = "6.1.0-demo";
/// The ostree branch the releases are committed on (one parented commit per release).
const BRANCH: &str = "demoos/x86_64/stable";

/// One published release.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: String,
    /// The ostree commit the image encapsulates.
    pub commit: String,
    /// The manifest digest in the registry (`sha256:…`).
    pub digest: String,
}

/// An archive-mode ostree repo in `dir`, publishing to `<registry>/os`.
#[derive(Debug)]
pub struct Images<'r> {
    registry: &'r Registry,
    tools: &'r Tools,
    dir: PathBuf,
    repo: ostree::Repo,
}

impl<'r> Images<'r> {
    pub fn create(tools: &'r Tools, registry: &'r Registry, dir: &Path) -> Result<Images<'r>> {
        let repo_path = dir.join("repo");
        std::fs::create_dir_all(&repo_path)
            .with_context(|| format!("creating {}", repo_path.display()))?;
        run(tools
            .ostree()
            .args(["init", "--mode=archive", "--repo"])
            .arg(&repo_path))?;
        let repo = ostree::Repo::new_for_path(&repo_path);
        repo.open(gio::Cancellable::NONE)
            .with_context(|| format!("opening ostree repo {}", repo_path.display()))?;
        Ok(Images {
            registry,
            tools,
            dir: dir.to_path_buf(),
            repo,
        })
    }

    /// `127.0.0.1:PORT/os`
    pub fn repository(&self) -> String {
        format!("{}/{IMAGE}", self.registry.addr())
    }

    /// `127.0.0.1:PORT/os:<tag>`
    pub fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository())
    }

    /// Build, encapsulate and push `version` as `…/os:<version>`.
    pub async fn publish(&self, version: &str) -> Result<Release> {
        let commit = self.commit(version)?;
        let oci_dir = self.dir.join(format!("oci-{version}"));
        let built = self.encapsulate(&commit, version, &oci_dir).await?;
        let digest = self.copy(&format!("oci:{}", oci_dir.display()), version)?;
        ensure!(
            digest == built,
            "pushing {version} changed its manifest digest from {built} to {digest}"
        );
        Ok(Release {
            version: version.to_string(),
            commit,
            digest,
        })
    }

    /// Point `…/os:<tag>` at `release` (a registry-to-registry copy of the same manifest), and
    /// check that the engine's own registry lookup sees it there.
    pub async fn tag(&self, release: &Release, tag: &str) -> Result<()> {
        let source = format!("docker://{}@{}", self.repository(), release.digest);
        let digest = self.copy(&source, tag)?;
        ensure!(
            digest == release.digest,
            "tagging {} as {tag} gave digest {digest}, not {}",
            release.version,
            release.digest
        );
        let seen = RegistryConfig::load_from(Some(&self.registry.registries_conf()))?
            .manifest_digest(&self.image(tag))
            .await?;
        ensure!(
            seen.as_deref() == Some(release.digest.as_str()),
            "the engine sees {} at {seen:?}, not {}",
            self.image(tag),
            release.digest
        );
        Ok(())
    }

    /// Write the tree of `version` and commit it (bootable, with `version` metadata).
    fn commit(&self, version: &str) -> Result<String> {
        let tree = self.dir.join(format!("tree-{version}"));
        write_tree(&tree, version)
            .with_context(|| format!("writing the tree of {version} in {}", tree.display()))?;
        let out = run(self
            .tools
            .ostree()
            .arg("commit")
            .arg("--repo")
            .arg(self.dir.join("repo"))
            .arg("--branch")
            .arg(BRANCH)
            .arg(format!("--tree=dir={}", tree.display()))
            .arg(format!("--subject=demoos {version}"))
            .arg(format!("--add-metadata-string=version={version}"))
            // Sets ostree.bootable and ostree.linux, checking the kernel is where deploy looks.
            .arg("--bootable")
            .arg("--owner-uid=0")
            .arg("--owner-gid=0"))?;
        let commit = out.trim().to_string();
        ensure!(commit.len() == 64, "ostree commit printed {commit:?}");
        std::fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
        Ok(commit)
    }

    /// Encapsulate `commit` into an OCI layout directory; returns the manifest digest.
    async fn encapsulate(&self, commit: &str, version: &str, oci_dir: &Path) -> Result<String> {
        // ostree-ext derives these from the commit metadata too; set them so the images do not
        // depend on that: the version label is what the host reports, the bootc label is what
        // the importer requires of a bootable image.
        let labels = BTreeMap::from([
            (
                "org.opencontainers.image.version".to_string(),
                version.to_string(),
            ),
            (BOOTC_LABEL.to_string(), "1".to_string()),
        ]);
        let config = Config {
            labels: Some(labels),
            ..Default::default()
        };
        let mut opts = ExportOpts::default();
        opts.legacy_version_label = true;
        let dest = ImageReference {
            transport: Transport::OciDir,
            name: oci_dir
                .to_str()
                .with_context(|| format!("{} is not UTF-8", oci_dir.display()))?
                .to_string(),
        };
        let digest = container::encapsulate(&self.repo, commit, &config, Some(opts), &dest)
            .await
            .with_context(|| format!("encapsulating {version} ({commit})"))?;
        Ok(digest.to_string())
    }

    /// `skopeo copy <source> docker://…/os:<tag>`; returns the pushed manifest digest.
    fn copy(&self, source: &str, tag: &str) -> Result<String> {
        let digestfile = self.dir.join(format!("digest-{tag}"));
        run(self
            .registry
            .skopeo()
            .args(["copy", "--quiet", "--digestfile"])
            .arg(&digestfile)
            .arg(source)
            .arg(format!("docker://{}", self.image(tag))))?;
        let digest = std::fs::read_to_string(&digestfile)
            .with_context(|| format!("reading {}", digestfile.display()))?
            .trim()
            .to_string();
        ensure!(digest.starts_with("sha256:"), "skopeo reported {digest:?}");
        Ok(digest)
    }
}

/// `ostree-unverified-registry:<name>`: what a host without signature policy follows.
pub fn unverified(name: String) -> OstreeImageReference {
    OstreeImageReference {
        sigverify: SignatureSource::ContainerPolicyAllowInsecure,
        imgref: ImageReference {
            transport: Transport::Registry,
            name,
        },
    }
}

/// A minimal deployable OS tree: kernel and initramfs in `usr/lib/modules/<KVER>/` (their
/// contents name the version, so releases differ), os-release, and the top-level directories
/// and compatibility symlinks a booted root needs.
fn write_tree(root: &Path, version: &str) -> Result<()> {
    let moddir = format!("usr/lib/modules/{KVER}");
    let files = [
        (
            format!("{moddir}/vmlinuz"),
            format!("demo kernel {KVER} for demoos {version}\n"),
            0o644,
        ),
        (
            format!("{moddir}/initramfs.img"),
            format!("demo initramfs {KVER} for demoos {version}\n"),
            0o644,
        ),
        (
            "usr/lib/os-release".to_string(),
            format!(
                "NAME=\"DemoOS\"\nID=demoos\nVERSION=\"{version}\"\nVERSION_ID={version}\n\
                 OSTREE_VERSION='{version}'\nPRETTY_NAME=\"DemoOS {version}\"\n"
            ),
            0o644,
        ),
        (
            "usr/etc/hostname".to_string(),
            "demoos\n".to_string(),
            0o644,
        ),
        (
            "usr/bin/demoos-version".to_string(),
            format!("#!/bin/sh\necho {version}\n"),
            0o755,
        ),
    ];
    for (rel, content, mode) in files {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, content)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    }
    symlink("../lib/os-release", root.join("usr/etc/os-release"))?;
    for d in ["boot", "dev", "proc", "run", "sys", "sysroot", "var", "tmp"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    symlink("usr/bin", root.join("bin"))?;
    symlink("usr/lib", root.join("lib"))?;
    Ok(())
}
