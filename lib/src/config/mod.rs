//! Configuration drop-ins: `*.toml` files in `/usr/lib`, `/run` and `/etc`
//! `bootc-checkpoint/config.d/`, merged like systemd merges its drop-ins (see `docs/config.md`).
//!
//! * `dropins` decides which files apply (same name overrides, `/dev/null` masks, lexical
//!   order) and `merge` applies their keys; both are pure.
//! * `read` lists and reads the directories under a root (`/` on a host; a temp dir in tests,
//!   an image tree in image builds).
//!
//! Command-line flags win over the configuration, and the configuration over the built-in
//! defaults; that precedence is applied by the commands.

mod dropins;
mod merge;
mod model;
mod read;
mod values;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cap_std_ext::cap_std::ambient_authority;
use cap_std_ext::RootDir;
use serde::Serialize;

pub use model::{
    Config, GraphConfig, HostConfig, IdentityConfig, Overridden, PeriodicConfig, Sourced,
    TrustConfig, UpdatesConfig, Warning, DEFAULT_GROUP, DEFAULT_KEYS_DIRS,
};
pub use values::{Backend, Strategy, TimeOfDay, TimeZone, TrustPolicy, Window, MAX_WINDOW_MINUTES};

/// The drop-in directories relative to the root, lowest priority first.
pub const CONFIG_DIRS: [&str; 3] = [
    "usr/lib/bootc-checkpoint/config.d",
    "run/bootc-checkpoint/config.d",
    "etc/bootc-checkpoint/config.d",
];

/// The merged configuration and how it was put together (JSON: `kind: Config`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Loaded {
    /// The directories searched, lowest priority first.
    pub directories: Vec<PathBuf>,
    /// The drop-ins applied, in order.
    pub files: Vec<PathBuf>,
    /// Drop-ins replaced or masked by a file of the same name in a later directory.
    pub overridden: Vec<Overridden>,
    /// `/dev/null` symlinks in effect.
    pub masks: Vec<PathBuf>,
    pub warnings: Vec<Warning>,
    #[serde(flatten)]
    pub config: Config,
}

/// Load the drop-ins under `root` (`/` on a real host). Warnings are logged and returned;
/// invalid values (every one of them, one per line) are an error naming file and key.
pub fn load(root: &Path) -> Result<Loaded> {
    let dir = RootDir::open_ambient_root(root, ambient_authority())
        .with_context(|| format!("opening the configuration root {}", root.display()))?;
    load_from(&dir, root)
}

/// [`load`] from an already open root; `shown_root` is how paths are shown.
pub fn load_from(root: &RootDir, shown_root: &Path) -> Result<Loaded> {
    let directories: Vec<PathBuf> = CONFIG_DIRS.iter().map(|d| shown_root.join(d)).collect();
    let entries = read::list(root, &CONFIG_DIRS, &directories)?;
    let selection = dropins::select(&directories, entries);
    let texts = read::read(root, &CONFIG_DIRS, &directories, &selection.apply)?;
    let merged = merge::merge(&texts);
    let mut warnings = selection.warnings;
    warnings.extend(merged.warnings);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if !merged.errors.is_empty() {
        anyhow::bail!("{}", merged.errors.join("\n"));
    }
    Ok(Loaded {
        directories,
        files: texts.into_iter().map(|(p, _)| p).collect(),
        overridden: selection.overridden,
        masks: selection.masks,
        warnings,
        config: merged.config,
    })
}
