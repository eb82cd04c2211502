//! The demo's scratch directory under `$TMPDIR`: everything the demo creates lives in it, and
//! it is removed at the end unless the user asked to keep it.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// `$TMPDIR/bootc-checkpoint-demo-<pid>-<nanos>`, mode 0700.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    keep: bool,
    /// Set once removed (or deliberately kept), so `Drop` does nothing more.
    done: bool,
}

impl Scratch {
    pub fn create(keep: bool) -> Result<Scratch> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "bootc-checkpoint-demo-{}-{nanos}",
            std::process::id()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating the scratch directory {}", path.display()))?;
        Ok(Scratch {
            path,
            keep,
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    pub fn keep(&self) -> bool {
        self.keep
    }

    /// Remove the directory now (unless kept), reporting failure.
    pub fn close(mut self) -> Result<()> {
        self.done = true;
        if self.keep {
            return Ok(());
        }
        std::fs::remove_dir_all(&self.path)
            .with_context(|| format!("removing the scratch directory {}", self.path.display()))
    }
}

impl Drop for Scratch {
    /// On an early return (an error), clean up quietly; a leftover is only logged.
    fn drop(&mut self) {
        if self.done || self.keep {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!("could not remove {}: {e}", self.path.display());
        }
    }
}
