//! A unique directory under `std::env::temp_dir()`, removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Set to keep the fixture's temp dirs (their paths are printed on drop).
pub const KEEP_ENV: &str = "BOOTC_CHECKPOINT_KEEP_TMP";

#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `$TMPDIR/bootc-checkpoint-<prefix>-<pid>-<n>-<nanos>`.
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "bootc-checkpoint-{prefix}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating temp dir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("[fixture] keeping {}", self.path.display());
            return;
        }
        if std::fs::remove_dir_all(&self.path).is_err() {
            // ostree marks deployment roots immutable (chattr +i) where it can; clear that and
            // retry once.
            let _ = Command::new("chattr")
                .arg("-R")
                .arg("-i")
                .arg(&self.path)
                .stderr(std::process::Stdio::null())
                .status();
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                eprintln!(
                    "[fixture] warning: could not remove {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}
