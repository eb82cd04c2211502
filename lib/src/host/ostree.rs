//! The native backend: a libostree sysroot, container images through ostree-ext.
//!
//! A checkpoint is imported from `repo@sha256:…` with ostree-ext's *target* reference set to
//! the tracked tag, so the new deployment's origin keeps `container-image-reference=…:tag` and a
//! plain `bootc upgrade` / `ostree container image deploy` follows the tag again afterwards.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use ostree_ext::container::deploy::ORIGIN_CONTAINER;
use ostree_ext::container::store::{query_image_commit, ImageProxyConfig};
use ostree_ext::container::{ImageReference, OstreeImageReference};
use ostree_ext::keyfileext::KeyFileExt;
use ostree_ext::ostree;
use ostree_ext::ostree::gio;
use ostree_ext::ostree::glib;

use super::images::parse_tracked;
use super::{BackendInfo, Deployment, Host, HostStatus, Mode, Origin, Pin, StageError, Staged};
use crate::state::Tracked;

/// A libostree sysroot.
#[derive(Debug)]
pub struct OstreeHost {
    sysroot: ostree::Sysroot,
    path: String,
    mode: Mode,
    /// A registries.conf to use instead of the host's (skopeo's `--registries-conf`).
    registries_conf: Option<PathBuf>,
    /// Why this backend drives the host (shown by `status`).
    reason: String,
}

impl OstreeHost {
    /// Open the sysroot at `path`, or the running system's (`/`) when `None`.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let sysroot = match path {
            Some(p) => ostree::Sysroot::new(Some(&gio::File::for_path(p))),
            None => ostree::Sysroot::new_default(),
        };
        let label = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/".into());
        sysroot
            .load(gio::Cancellable::NONE)
            .with_context(|| format!("loading ostree sysroot {label}"))?;
        let mode = if sysroot.is_booted() {
            Mode::Booted
        } else {
            Mode::Offline
        };
        Ok(Self {
            sysroot,
            path: label,
            mode,
            registries_conf: None,
            reason: "libostree sysroot".into(),
        })
    }

    /// Use `conf` instead of the host's registries configuration, for the image proxy
    /// (skopeo) and the engine's own registry lookups alike.
    pub fn with_registries_conf(mut self, conf: Option<PathBuf>) -> Self {
        self.registries_conf = conf;
        self
    }

    /// Say why this backend was chosen.
    pub fn with_reason(mut self, reason: String) -> Self {
        self.reason = reason;
        self
    }

    /// Registry access as configured: auth files and `registries.conf`, through skopeo.
    fn proxy_config(&self) -> ImageProxyConfig {
        let mut cfg = ImageProxyConfig::default();
        if let Some(conf) = &self.registries_conf {
            let mut cmd = std::process::Command::new("skopeo");
            cmd.arg("--registries-conf").arg(conf);
            cfg.skopeo_cmd = Some(cmd);
        }
        cfg
    }

    /// The stateroot to deploy into and the sysroot lock, taken for one deployment.
    async fn lock_for_deploy(&self) -> Result<(String, ostree_ext::sysroot::SysrootLock)> {
        let stateroot = self
            .stateroot()
            .ok_or_else(|| anyhow!("{}: no deployment to upgrade", self.path))?;
        let lock = ostree_ext::sysroot::SysrootLock::new_from_sysroot(&self.sysroot)
            .await
            .with_context(|| format!("locking sysroot {}", self.path))?;
        Ok((stateroot, lock))
    }

    /// See what a deployment just changed.
    fn reload(&self) -> Result<()> {
        self.sysroot
            .load_if_changed(gio::Cancellable::NONE)
            .context("reloading sysroot")?;
        Ok(())
    }

    fn describe(&self, d: &ostree::Deployment) -> Result<Deployment> {
        let commit = d.csum().to_string();
        let origin = origin_of(d)?;
        let repo = self.sysroot.repo();
        let (digest, version) = match &origin {
            Origin::Container { .. } => match query_image_commit(&repo, &commit) {
                Ok(state) => (
                    Some(state.manifest_digest.to_string()),
                    state.version().map(str::to_string),
                ),
                Err(_) => (None, commit_version(&repo, &commit)?),
            },
            _ => (None, commit_version(&repo, &commit)?),
        };
        let (image, transport) = match &origin {
            Origin::Container { imgref } => match OstreeImageReference::try_from(imgref.as_str()) {
                Ok(r) => (
                    Some(r.imgref.name),
                    Some(super::images::transport_name(r.imgref.transport).to_string()),
                ),
                Err(_) => (None, None),
            },
            _ => (None, None),
        };
        Ok(Deployment {
            stateroot: d.osname().to_string(),
            image,
            transport,
            index: d.index(),
            commit,
            version,
            digest,
            origin,
            staged: d.is_staged(),
            pinned: d.is_pinned(),
        })
    }

    fn stateroot(&self) -> Option<String> {
        self.sysroot
            .booted_deployment()
            .or_else(|| self.sysroot.deployments().into_iter().next())
            .map(|d| d.osname().to_string())
    }
}

fn origin_of(d: &ostree::Deployment) -> Result<Origin> {
    let Some(kf) = d.origin() else {
        return Ok(Origin::Unknown);
    };
    if let Some(imgref) = kf.optional_string("origin", ORIGIN_CONTAINER)? {
        return Ok(Origin::Container {
            imgref: imgref.to_string(),
        });
    }
    if let Some(refspec) = kf.optional_string("origin", "refspec")? {
        return Ok(Origin::Ostree {
            refspec: refspec.to_string(),
            override_commit: kf
                .optional_string("origin", "override-commit")?
                .map(|s| s.to_string()),
        });
    }
    Ok(Origin::Unknown)
}

fn commit_version(repo: &ostree::Repo, commit: &str) -> Result<Option<String>> {
    let (v, _) = repo
        .load_commit(commit)
        .with_context(|| format!("loading commit {commit}"))?;
    let meta = glib::VariantDict::new(Some(&v.child_value(0)));
    Ok(meta.lookup::<String>("version").ok().flatten())
}

impl Host for OstreeHost {
    fn status(&self) -> Result<HostStatus> {
        let all = self.sysroot.deployments();
        let booted = self.sysroot.booted_deployment();
        let mut described = Vec::with_capacity(all.len());
        for d in &all {
            described.push(self.describe(d)?);
        }
        let (current, pending, rollback) = match (self.mode, &booted) {
            (Mode::Booted, Some(b)) => {
                let cur = described.iter().position(|d| d.index == b.index());
                let pend = described
                    .iter()
                    .position(|d| d.staged)
                    .or_else(|| (cur != Some(0) && !described.is_empty()).then_some(0));
                let rb = described
                    .iter()
                    .position(|d| Some(d.index) > cur.map(|c| described[c].index));
                (cur, pend, rb)
            }
            _ => (
                (!described.is_empty()).then_some(0),
                None,
                (described.len() > 1).then_some(1),
            ),
        };
        let pick = |i: Option<usize>| i.map(|i| described[i].clone());
        let used = [current, pending, rollback];
        let other = described
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(&Some(*i)))
            .map(|(_, d)| d.clone())
            .collect();
        Ok(HostStatus {
            mode: self.mode,
            current: pick(current),
            pending: pick(pending),
            rollback: pick(rollback),
            other,
        })
    }

    async fn resolve(&self, tracked: &Tracked) -> Result<Option<String>> {
        super::images::resolve(self.registries_conf.as_deref(), tracked).await
    }

    async fn stage(&self, pin: &Pin, tracked: &Tracked) -> Result<Staged, StageError> {
        match (pin, tracked) {
            (Pin::Digest(digest), Tracked::Container { imgref }) => {
                self.stage_image(digest, imgref).await
            }
            (Pin::Commit(commit), Tracked::Ostree { refspec }) => {
                self.stage_commit(commit, refspec).await
            }
            _ => Err(StageError::Failed(anyhow!(
                "cannot stage {pin:?} on a host following {tracked:?}: container hosts stage \
                 digests, ostree-ref hosts stage commits"
            ))),
        }
    }

    fn backend(&self) -> BackendInfo {
        BackendInfo {
            name: "ostree",
            reason: self.reason.clone(),
        }
    }

    fn apply(&self, _pending: &Deployment) -> Result<()> {
        super::systemctl_reboot()
    }

    fn cleanup_pending(&self) -> Result<()> {
        let all = self.sysroot.deployments();
        if !all.iter().any(|d| d.is_staged()) {
            return Ok(());
        }
        self.sysroot
            .lock()
            .with_context(|| format!("locking sysroot {}", self.path))?;
        // Writing the deployment list without the staged one removes it.
        let keep: Vec<_> = all.into_iter().filter(|d| !d.is_staged()).collect();
        let r = self
            .sysroot
            .write_deployments(&keep, gio::Cancellable::NONE)
            .context("removing the staged deployment");
        self.sysroot.unlock();
        r
    }
}

impl OstreeHost {
    /// Import `repo@digest` with the tracked tag as target reference, then stage or deploy it.
    async fn stage_image(&self, digest: &str, imgref: &str) -> Result<Staged, StageError> {
        let target = parse_tracked(imgref)?;
        let (repo, _) = super::split_image_name(&target.imgref.name);
        let source = OstreeImageReference {
            sigverify: target.sigverify.clone(),
            imgref: ImageReference {
                transport: target.imgref.transport,
                name: format!("{repo}@{digest}"),
            },
        };
        // A missing image blocks the journey (publish it); any other failure is retried.
        super::images::require_pinned(self.registries_conf.as_deref(), &target.imgref.name, digest)
            .await?;
        let (stateroot, lock) = self.lock_for_deploy().await?;
        // libostree's combined cleanup prints to stdout, which would corrupt our JSON output;
        // the deploy skips it and the cleanup below runs explicitly, logging what was freed.
        let state = super::pull::deploy(&lock, &stateroot, &source, &target, self.proxy_config())
            .await
            .with_context(|| format!("deploying {source} (following {target})"))?;
        lock.prepare_cleanup(gio::Cancellable::NONE)
            .context("cleaning up old deployments")?;
        let pruned =
            ostree_ext::container::deploy::prune(&lock).context("pruning the repository")?;
        tracing::debug!(?pruned, "pruned unreferenced images and objects");
        drop(lock);
        self.reload()?;
        Ok(Staged {
            commit: state.merge_commit.clone(),
            digest: Some(state.manifest_digest.to_string()),
            version: state.version().map(str::to_string),
        })
    }

    /// Deploy an ostree commit while the origin keeps `refspec=<tracked ref>`; pull it from the
    /// ref's remote first when the local repository does not have it.
    async fn stage_commit(&self, commit: &str, refspec: &str) -> Result<Staged, StageError> {
        let repo = self.sysroot.repo();
        if repo.load_commit(commit).is_err() {
            let Some((remote, branch)) = refspec.split_once(':') else {
                return Err(StageError::Blocked(format!(
                    "commit {commit} is not in the local repository and {refspec} names no remote"
                )));
            };
            let opts = glib::VariantDict::new(None);
            opts.insert("refs", vec![branch]);
            opts.insert("override-commit-ids", vec![commit]);
            if let Err(e) =
                repo.pull_with_options(remote, &opts.end(), None, gio::Cancellable::NONE)
            {
                if e.matches(gio::IOErrorEnum::NotFound) {
                    return Err(StageError::Blocked(format!(
                        "commit {commit} is not on remote {remote}: publish it (or fix the graph)"
                    )));
                }
                return Err(StageError::Failed(
                    anyhow::Error::new(e).context(format!("pulling {commit} from {remote}")),
                ));
            }
        }
        let (stateroot, lock) = self.lock_for_deploy().await?;
        let merge = lock.merge_deployment(Some(&stateroot));
        // A copy of the current origin: same refspec, so `ostree admin upgrade` follows the ref.
        let origin = glib::KeyFile::new();
        match merge.as_ref().and_then(|m| m.origin()) {
            Some(o) => origin
                .load_from_data(&o.to_data(), glib::KeyFileFlags::KEEP_COMMENTS)
                .context("copying the deployment origin")?,
            None => origin.set_string("origin", "refspec", refspec),
        }
        let opts = ostree::SysrootDeployTreeOpts::default();
        let cancel = gio::Cancellable::NONE;
        if self.mode == Mode::Booted {
            lock.stage_tree_with_options(
                Some(&stateroot),
                commit,
                Some(&origin),
                merge.as_ref(),
                &opts,
                cancel,
            )
            .with_context(|| format!("staging commit {commit}"))?;
        } else {
            let d = lock
                .deploy_tree_with_options(
                    Some(&stateroot),
                    commit,
                    Some(&origin),
                    merge.as_ref(),
                    Some(&opts),
                    cancel,
                )
                .with_context(|| format!("deploying commit {commit}"))?;
            lock.simple_write_deployment(
                Some(&stateroot),
                &d,
                merge.as_ref(),
                ostree::SysrootSimpleWriteDeploymentFlags::NO_CLEAN,
                cancel,
            )
            .context("writing the new deployment")?;
            lock.prepare_cleanup(cancel)
                .context("cleaning up old deployments")?;
        }
        drop(lock);
        self.reload()?;
        Ok(Staged {
            commit: commit.to_string(),
            digest: None,
            version: commit_version(&repo, commit)?,
        })
    }
}
