//! A real ostree sysroot in a temp dir, deployed from the test registry as a container host.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::images::OsImages;
use super::ostree_ext::container::deploy::{self, DeployOpts, ORIGIN_CONTAINER, STATEROOT_DEFAULT};
use super::ostree_ext::container::store::{self, ImageProxyConfig, LayeredImageState};
use super::ostree_ext::container::OstreeImageReference;
use super::ostree_ext::{gio, ostree};
use super::tempdir::TempDir;
use super::{run, run_stdout};

/// What the fixture reads back about one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub index: i32,
    pub stateroot: String,
    /// The deployed (merge) commit.
    pub commit: String,
    /// `origin/container-image-reference` from the origin keyfile, if any.
    pub origin: Option<String>,
    pub staged: bool,
    /// The image's version label, if this deployment is a container image.
    pub version: Option<String>,
    /// The image's manifest digest, if this deployment is a container image.
    pub manifest_digest: Option<String>,
    /// The image's base ostree commit (the commit that was encapsulated).
    pub base_commit: Option<String>,
}

/// An ostree sysroot (`ostree admin init-fs` + `os-init default`) in a temp dir. Accessors
/// load the sysroot afresh each time, so they see changes made by other processes.
#[derive(Debug)]
pub struct Sysroot {
    path: PathBuf,
    dir: TempDir,
}

impl Sysroot {
    /// An empty sysroot with stateroot `default` (no deployments).
    pub fn init() -> Sysroot {
        let dir = TempDir::new("sysroot");
        let path = dir.join("sysroot");
        std::fs::create_dir_all(&path).unwrap();
        run(Command::new("ostree")
            .arg("admin")
            .arg("init-fs")
            .arg(&path));
        run(Command::new("ostree")
            .arg("admin")
            .arg("os-init")
            .arg(STATEROOT_DEFAULT)
            .arg("--sysroot")
            .arg(&path));
        Sysroot { path, dir }
    }

    /// `init()` then deploy release `version` pinned by digest
    /// (`…/os@sha256:…`) with target `…/os:<tracked_tag>` — the state of a host provisioned
    /// on `version` and following `<tracked_tag>`. Sync; don't call inside a runtime.
    pub fn deployed(images: &OsImages, version: &str, tracked_tag: &str) -> Sysroot {
        super::runtime().block_on(Sysroot::deployed_async(images, version, tracked_tag))
    }

    pub async fn deployed_async(images: &OsImages, version: &str, tracked_tag: &str) -> Sysroot {
        let s = Sysroot::init();
        let state = s
            .deploy_async(
                &images.imgref_pinned(version),
                Some(&images.imgref_tag(tracked_tag)),
                images.registry().proxy_config(),
            )
            .await;
        assert_eq!(
            state.manifest_digest.to_string(),
            images.digest(version),
            "deployed manifest is not {version}'s"
        );
        assert_eq!(state.base_commit, images.commit(version));
        s
    }

    /// Deploy `source` with ostree-ext's `container::deploy::deploy` into stateroot `default`,
    /// writing `target` (if given, else `source`) as the origin's image reference. The sysroot
    /// is locked for the duration.
    pub async fn deploy_async(
        &self,
        source: &OstreeImageReference,
        target: Option<&OstreeImageReference>,
        proxy_cfg: ImageProxyConfig,
    ) -> Box<LayeredImageState> {
        let sysroot = self.load();
        assert!(
            sysroot.try_lock().expect("locking sysroot"),
            "sysroot {} is locked",
            self.path.display()
        );
        let mut opts = DeployOpts::default();
        opts.target_imgref = target;
        opts.proxy_cfg = Some(proxy_cfg);
        let r = deploy::deploy(&sysroot, STATEROOT_DEFAULT, source, Some(opts)).await;
        sysroot.unlock();
        r.unwrap_or_else(|e| panic!("deploying {source}: {e:#}"))
    }

    /// The sysroot directory (what `--sysroot` takes).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A freshly loaded `ostree::Sysroot`.
    pub fn load(&self) -> ostree::Sysroot {
        let s = ostree::Sysroot::new(Some(&gio::File::for_path(&self.path)));
        s.load(gio::Cancellable::NONE)
            .unwrap_or_else(|e| panic!("loading sysroot {}: {e}", self.path.display()));
        s
    }

    /// All deployments, default (next boot) first.
    pub fn deployments(&self) -> Vec<DeploymentInfo> {
        let sysroot = self.load();
        let repo = sysroot.repo();
        sysroot
            .deployments()
            .iter()
            .map(|d| {
                let commit = d.csum().to_string();
                let origin = d
                    .origin()
                    .and_then(|kf| kf.string("origin", ORIGIN_CONTAINER).ok())
                    .map(|s| s.to_string());
                let image = store::query_image_commit(&repo, &commit).ok();
                DeploymentInfo {
                    index: d.index(),
                    stateroot: d.osname().to_string(),
                    commit,
                    origin,
                    staged: d.is_staged(),
                    version: image.as_ref().and_then(|i| i.version().map(String::from)),
                    manifest_digest: image.as_ref().map(|i| i.manifest_digest.to_string()),
                    base_commit: image.as_ref().map(|i| i.base_commit.clone()),
                }
            })
            .collect()
    }

    /// The default deployment; panics if there is none.
    pub fn default_deployment(&self) -> DeploymentInfo {
        self.deployments().into_iter().next().unwrap_or_else(|| {
            panic!(
                "no deployments in {}\n{}",
                self.path.display(),
                self.status()
            )
        })
    }

    /// `container-image-reference` of the default deployment's origin, e.g.
    /// `ostree-unverified-registry:127.0.0.1:PORT/os:stable`.
    pub fn default_deployment_origin(&self) -> String {
        let d = self.default_deployment();
        d.origin.unwrap_or_else(|| {
            panic!(
                "default deployment {} has no origin/{ORIGIN_CONTAINER}",
                d.commit
            )
        })
    }

    /// The default deployment's (merge) commit.
    pub fn default_deployment_commit(&self) -> String {
        self.default_deployment().commit
    }

    /// The default deployment's image version (`org.opencontainers.image.version` of the
    /// image config, via `query_image_commit`).
    pub fn default_deployment_version(&self) -> String {
        let d = self.default_deployment();
        d.version
            .unwrap_or_else(|| panic!("default deployment {} has no image version", d.commit))
    }

    /// The default deployment's image manifest digest (`sha256:…`).
    pub fn default_deployment_digest(&self) -> String {
        let d = self.default_deployment();
        d.manifest_digest
            .unwrap_or_else(|| panic!("default deployment {} is not a container image", d.commit))
    }

    /// The full image state of the default deployment's commit.
    pub fn default_deployment_image(&self) -> Box<LayeredImageState> {
        let sysroot = self.load();
        let commit = self.default_deployment_commit();
        store::query_image_commit(&sysroot.repo(), &commit)
            .unwrap_or_else(|e| panic!("query_image_commit {commit}: {e:#}"))
    }

    /// `ostree admin status` output, for debugging and panic messages only.
    pub fn status(&self) -> String {
        run_stdout(
            Command::new("ostree")
                .arg("admin")
                .arg("status")
                .arg("--sysroot")
                .arg(&self.path),
        )
    }

    /// The sysroot's temp dir (parent of [`Sysroot::path`]).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
