//! The demo host: an offline ostree sysroot (`ostree admin init-fs` + `os-init default`) deployed
//! from the registry the way a provisioned host is — release A pinned by digest, its origin
//! following `…/os:stable` (ostree-ext `deploy` with a target image reference).
//!
//! ostree makes deployment roots immutable where the filesystem allows; dropping the sysroot
//! clears that again (unless the scratch directory is kept) so the directory can be removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use ostree_ext::container::deploy::{self, DeployOpts, STATEROOT_DEFAULT};
use ostree_ext::container::store::ImageProxyConfig;
use ostree_ext::container::OstreeImageReference;
use ostree_ext::ostree;
use ostree_ext::ostree::gio;

use super::images::Release;
use super::tools::{run, Tools};

#[derive(Debug)]
pub struct Sysroot {
    path: PathBuf,
    keep: bool,
}

impl Sysroot {
    /// Create the sysroot at `path` and deploy `source` into it with `target` as the
    /// reference its origin follows. `skopeo` is the command ostree-ext's image proxy runs.
    pub async fn provision(
        tools: &Tools,
        path: &Path,
        release: &Release,
        source: &OstreeImageReference,
        target: &OstreeImageReference,
        skopeo: Command,
        keep: bool,
    ) -> Result<Sysroot> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        run(tools.ostree().args(["admin", "init-fs"]).arg(path))?;
        // From here on, dropping it makes its deployments removable again.
        let sysroot = Sysroot {
            path: path.to_path_buf(),
            keep,
        };
        run(tools
            .ostree()
            .args(["admin", "os-init", STATEROOT_DEFAULT, "--sysroot"])
            .arg(path))?;
        let handle = sysroot.load()?;
        let lock = ostree_ext::sysroot::SysrootLock::new_from_sysroot(&handle)
            .await
            .with_context(|| format!("locking sysroot {}", path.display()))?;
        let mut opts = DeployOpts::default();
        opts.target_imgref = Some(target);
        opts.proxy_cfg = Some(ImageProxyConfig {
            skopeo_cmd: Some(skopeo),
            ..Default::default()
        });
        // libostree's cleanup prints to stdout; a first deployment has nothing to clean.
        opts.no_clean = true;
        let state = deploy::deploy(&lock, STATEROOT_DEFAULT, source, Some(opts))
            .await
            .with_context(|| format!("deploying {source} (following {target})"))?;
        drop(lock);
        ensure!(
            state.manifest_digest.to_string() == release.digest,
            "deployed {}, not {} of {}",
            state.manifest_digest,
            release.digest,
            release.version
        );
        Ok(sysroot)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<ostree::Sysroot> {
        let s = ostree::Sysroot::new(Some(&gio::File::for_path(&self.path)));
        s.load(gio::Cancellable::NONE)
            .with_context(|| format!("loading sysroot {}", self.path.display()))?;
        Ok(s)
    }

    /// Clear the immutable bit ostree set on each deployment root.
    fn make_removable(&self) -> Result<()> {
        let s = self.load()?;
        for d in s.deployments() {
            s.deployment_set_mutable(&d, true, gio::Cancellable::NONE)
                .with_context(|| format!("making deployment {} mutable", d.csum()))?;
        }
        Ok(())
    }
}

impl Drop for Sysroot {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Err(e) = self.make_removable() {
            tracing::warn!("{e:#}");
        }
    }
}
