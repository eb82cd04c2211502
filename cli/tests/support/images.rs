//! Bootable OS releases: real ostree commits, encapsulated into OCI images with ostree-ext and
//! pushed to the test [`Registry`](super::Registry) with the real `skopeo`.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ostree_ext::container::{
    self, Config, ExportOpts, ImageReference, OstreeImageReference, SignatureSource, Transport,
    BOOTC_LABEL,
};
use super::ostree_ext::{gio, ostree};
use super::registry::Endpoint;
use super::tempdir::TempDir;
use super::{run, run_stdout};

/// The kernel version every release ships (`usr/lib/modules/<it>/vmlinuz`).
pub const KVER: &str = "6.1.0-test";
/// The ostree branch the releases are committed on, one commit per release (parented).
pub const BRANCH: &str = "testos/x86_64/stable";
/// `org.opencontainers.image.version`, set by ostree-ext from commit metadata `version`.
pub const LABEL_OCI_VERSION: &str = "org.opencontainers.image.version";

/// One published release.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: String,
    /// The ostree commit (in [`OsImages::repo`]) the image encapsulates.
    pub commit: String,
    /// The OCI layout directory ostree-ext wrote.
    pub oci_dir: PathBuf,
    /// The manifest digest in the registry (`sha256:…`), as skopeo's `--digestfile` reports.
    pub digest: String,
}

/// An archive-mode ostree repo in a temp dir, plus the releases built from it and pushed to
/// `127.0.0.1:PORT/<name>` (`os` unless [`OsImages::with_name`]).
#[derive(Debug)]
pub struct OsImages {
    registry: Endpoint,
    name: String,
    repo: ostree::Repo,
    repo_path: PathBuf,
    releases: Vec<Release>,
    dir: TempDir,
}

impl OsImages {
    /// A fresh repo publishing to `<registry>/os`.
    pub fn new(registry: &Endpoint) -> OsImages {
        OsImages::with_name(registry, "os")
    }

    pub fn with_name(registry: &Endpoint, name: &str) -> OsImages {
        let dir = TempDir::new("images");
        let repo_path = dir.join("repo");
        run(Command::new("ostree")
            .arg("init")
            .arg("--mode=archive")
            .arg("--repo")
            .arg(&repo_path));
        let repo = ostree::Repo::new_for_path(&repo_path);
        repo.open(gio::Cancellable::NONE)
            .unwrap_or_else(|e| panic!("opening {}: {e}", repo_path.display()));
        OsImages {
            registry: registry.clone(),
            name: name.to_string(),
            repo,
            repo_path,
            releases: Vec::new(),
            dir,
        }
    }

    /// Build, encapsulate and push release `version` as `<registry>/<name>:<version>`
    /// (sync wrapper around [`OsImages::release_async`]; don't call it inside a runtime).
    pub fn release(&mut self, version: &str) -> Release {
        super::runtime().block_on(self.release_async(version))
    }

    /// Build the ostree commit for `version`, encapsulate it into `oci-<version>` with
    /// ostree-ext and push it with `skopeo copy`. Asserts the pushed manifest digest equals
    /// the one ostree-ext computed (the manifest travels unchanged) and that the registry now
    /// serves that digest for the tag.
    pub async fn release_async(&mut self, version: &str) -> Release {
        assert!(
            self.find(version).is_none(),
            "release {version} already exists"
        );
        let commit = self.commit_tree(version);
        let oci_dir = self.dir.join(format!("oci-{version}"));
        let local_digest = self.encapsulate(&commit, version, &oci_dir).await;
        let release = Release {
            version: version.to_string(),
            commit,
            oci_dir,
            digest: String::new(),
        };
        let digest = self.push_oci(&release.oci_dir, version);
        assert_eq!(
            digest, local_digest,
            "skopeo changed the manifest of {version} while pushing"
        );
        let release = Release { digest, ..release };
        self.releases.push(release.clone());
        release
    }

    /// Write the tree of `version` to disk and `ostree commit` it (bootable, `version` set).
    fn commit_tree(&self, version: &str) -> String {
        let tree = self.dir.join(format!("tree-{version}"));
        write_tree(&tree, version);
        let mut cmd = Command::new("ostree");
        cmd.arg("commit")
            .arg("--repo")
            .arg(&self.repo_path)
            .arg("--branch")
            .arg(BRANCH)
            .arg(format!("--tree=dir={}", tree.display()))
            .arg(format!("--subject=testos {version}"))
            .arg(format!("--add-metadata-string=version={version}"))
            // Sets `ostree.bootable=true` and `ostree.linux=<kver>`, and checks the kernel is
            // where ostree's deploy code will look for it.
            .arg("--bootable")
            .arg("--owner-uid=0")
            .arg("--owner-gid=0");
        let commit = run_stdout(&mut cmd).trim().to_string();
        assert_eq!(commit.len(), 64, "ostree commit printed {commit:?}");
        std::fs::remove_dir_all(&tree).unwrap();
        commit
    }

    async fn encapsulate(&self, commit: &str, version: &str, oci_dir: &Path) -> String {
        // ostree-ext turns commit metadata `version` into `org.opencontainers.image.version`
        // and boolean `ostree.bootable` into the labels `ostree.bootable=true` and
        // `containers.bootc=1` (what `ImageImporter::require_bootable` checks). Set them
        // explicitly as well so the images don't depend on that.
        let labels = BTreeMap::from([
            (LABEL_OCI_VERSION.to_string(), version.to_string()),
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
            name: oci_dir.to_str().expect("UTF-8 temp path").to_string(),
        };
        let digest = container::encapsulate(&self.repo, commit, &config, Some(opts), &dest)
            .await
            .unwrap_or_else(|e| panic!("encapsulating {version} ({commit}): {e:#}"));
        digest.to_string()
    }

    /// `skopeo copy oci:<dir> docker://…/<name>:<tag>`; returns the pushed manifest digest.
    fn push_oci(&self, oci_dir: &Path, tag: &str) -> String {
        let digestfile = self.dir.join(format!("digest-{tag}"));
        run(self
            .registry
            .skopeo()
            .arg("copy")
            .arg("--quiet")
            .arg("--dest-tls-verify=false")
            .arg("--digestfile")
            .arg(&digestfile)
            .arg(format!("oci:{}", oci_dir.display()))
            .arg(format!("docker://{}", self.image(tag))));
        let digest = std::fs::read_to_string(&digestfile)
            .unwrap()
            .trim()
            .to_string();
        assert!(digest.starts_with("sha256:"), "digestfile has {digest:?}");
        assert_eq!(
            self.registry.manifest_digest(&self.name, tag).as_deref(),
            Some(digest.as_str()),
            "registry does not serve {digest} for {}",
            self.image(tag)
        );
        digest
    }

    /// Push release `version` again (e.g. after [`OsImages::delete`]); asserts its digest is
    /// unchanged.
    pub fn push(&self, version: &str) {
        let r = self.get(version);
        let digest = self.push_oci(&r.oci_dir, version);
        assert_eq!(digest, r.digest, "re-pushing {version} changed its digest");
    }

    /// Point `<name>:<tag>` at release `version` (`skopeo copy docker://…:<version>
    /// docker://…:<tag>`). Asserts the tag now resolves to the release's digest.
    pub fn tag(&self, version: &str, tag: &str) {
        let r = self.get(version);
        let digestfile = self.dir.join(format!("digest-tag-{tag}"));
        run(self
            .registry
            .skopeo()
            .arg("copy")
            .arg("--quiet")
            .arg("--src-tls-verify=false")
            .arg("--dest-tls-verify=false")
            .arg("--digestfile")
            .arg(&digestfile)
            .arg(format!("docker://{}", self.pinned(version)))
            .arg(format!("docker://{}", self.image(tag))));
        let digest = std::fs::read_to_string(&digestfile)
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(
            digest, r.digest,
            "tagging {version} as {tag} changed the digest"
        );
        assert_eq!(
            self.registry.manifest_digest(&self.name, tag).as_deref(),
            Some(r.digest.as_str()),
            "{} does not resolve to {version}",
            self.image(tag)
        );
    }

    /// Delete release `version`'s manifest from the registry (`DELETE /v2/<name>/manifests/
    /// <digest>`), making "a checkpoint image missing from the registry". The registry also
    /// drops every tag pointing at it (`:<version>`, and e.g. `:stable` if tagged there).
    /// Asserts the digest is gone. Undo with [`OsImages::push`].
    pub fn delete(&self, version: &str) {
        let r = self.get(version);
        self.registry.delete_manifest(&self.name, &r.digest);
        assert_eq!(
            self.registry.manifest_digest(&self.name, &r.digest),
            None,
            "{} still served after delete",
            self.pinned(version)
        );
    }

    /// The release built for `version`; panics if there is none.
    pub fn get(&self, version: &str) -> &Release {
        self.find(version)
            .unwrap_or_else(|| panic!("no release {version} was built"))
    }

    pub fn find(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version == version)
    }

    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    /// Manifest digest of release `version` (`sha256:…`).
    pub fn digest(&self, version: &str) -> String {
        self.get(version).digest.clone()
    }

    /// The ostree commit release `version` encapsulates (the base commit after import).
    pub fn commit(&self, version: &str) -> String {
        self.get(version).commit.clone()
    }

    /// `127.0.0.1:PORT/<name>`
    pub fn repository(&self) -> String {
        self.registry.repo(&self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `127.0.0.1:PORT/<name>:<tag>`
    pub fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository())
    }

    /// `127.0.0.1:PORT/<name>@sha256:…` for release `version`.
    pub fn pinned(&self, version: &str) -> String {
        format!("{}@{}", self.repository(), self.get(version).digest)
    }

    /// `ostree-unverified-registry:127.0.0.1:PORT/<name>@sha256:…` for release `version`.
    pub fn imgref_pinned(&self, version: &str) -> OstreeImageReference {
        registry_imgref(self.pinned(version))
    }

    /// `ostree-unverified-registry:127.0.0.1:PORT/<name>:<tag>`
    pub fn imgref_tag(&self, tag: &str) -> OstreeImageReference {
        registry_imgref(self.image(tag))
    }

    pub fn registry(&self) -> &Endpoint {
        &self.registry
    }

    /// The source ostree repo (archive mode).
    pub fn repo(&self) -> &ostree::Repo {
        &self.repo
    }

    pub fn repo_path(&self) -> &Path {
        &self.repo_path
    }
}

/// An unverified registry image reference (what `ostree container` calls
/// `ostree-unverified-registry:NAME`).
pub fn registry_imgref(name: String) -> OstreeImageReference {
    OstreeImageReference {
        sigverify: SignatureSource::ContainerPolicyAllowInsecure,
        imgref: ImageReference {
            transport: Transport::Registry,
            name,
        },
    }
}

/// Writes a minimal deployable OS tree for `version` into `root`: a kernel and initramfs in
/// `usr/lib/modules/<KVER>/` (their contents include the version, so releases differ),
/// `usr/lib/os-release` (+ `usr/etc/os-release` symlink), `usr/etc/hostname`, a
/// `usr/bin/testos-version` script, and the empty top-level directories a booted root needs.
/// `/var` is left empty (ostree deployments get the stateroot's `/var`).
pub fn write_tree(root: &Path, version: &str) {
    let w = |rel: &str, content: &str, mode: u32| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let moddir = format!("usr/lib/modules/{KVER}");
    w(
        &format!("{moddir}/vmlinuz"),
        &format!("test kernel {KVER} for testos {version}\n"),
        0o644,
    );
    w(
        &format!("{moddir}/initramfs.img"),
        &format!("test initramfs {KVER} for testos {version}\n"),
        0o644,
    );
    w(
        "usr/lib/os-release",
        &format!(
            "NAME=\"TestOS\"\nID=testos\nVERSION=\"{version}\"\nVERSION_ID={version}\n\
             OSTREE_VERSION='{version}'\nPRETTY_NAME=\"TestOS {version}\"\n"
        ),
        0o644,
    );
    w("usr/etc/hostname", "testos\n", 0o644);
    w(
        "usr/etc/motd",
        &format!("Welcome to TestOS {version}\n"),
        0o644,
    );
    w(
        "usr/bin/testos-version",
        &format!("#!/bin/sh\necho {version}\n"),
        0o755,
    );
    symlink("../lib/os-release", root.join("usr/etc/os-release")).unwrap();
    for d in ["boot", "dev", "proc", "run", "sys", "sysroot", "var", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // Compatibility symlinks as on real ostree systems.
    symlink("usr/bin", root.join("bin")).unwrap();
    symlink("usr/lib", root.join("lib")).unwrap();
}
