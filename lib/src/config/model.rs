//! The merged configuration: every setting with its value and the drop-in it came from, the
//! built-in defaults, and the warnings found along the way.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::values::{Backend, Strategy, TimeZone, TrustPolicy, Window};
use crate::state::DEFAULT_STATE_DIR;

/// Default `trust.keys_dirs`: administrator keys first, then the image's.
pub const DEFAULT_KEYS_DIRS: [&str; 2] = [
    "/etc/bootc-checkpoint/keys.d",
    "/usr/lib/bootc-checkpoint/keys.d",
];
/// Default `identity.group`.
pub const DEFAULT_GROUP: &str = "default";

/// A setting's value and the drop-in that set it (`None`: the built-in default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub file: Option<PathBuf>,
}

impl<T> Sourced<T> {
    /// A built-in default.
    pub fn default_value(value: T) -> Self {
        Self { value, file: None }
    }

    pub fn from_file(value: T, file: &Path) -> Self {
        Self {
            value,
            file: Some(file.to_path_buf()),
        }
    }

    /// `from FILE` or `built-in default`, for messages.
    pub fn origin(&self) -> String {
        match &self.file {
            Some(f) => format!("from {}", f.display()),
            None => "built-in default".into(),
        }
    }
}

/// Everything the drop-ins configure (JSON: `kind: Config`, camelCase keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub graph: GraphConfig,
    pub trust: TrustConfig,
    pub identity: IdentityConfig,
    pub host: HostConfig,
    pub updates: UpdatesConfig,
}

/// `[graph]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphConfig {
    /// Where the update graph comes from; unset: `--graph` or the journey's own source.
    pub source: Option<Sourced<String>>,
}

/// `[trust]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustConfig {
    pub policy: Sourced<TrustPolicy>,
    /// Directories of public keys graphs may be signed with, searched in order.
    pub keys_dirs: Sourced<Vec<PathBuf>>,
}

/// `[identity]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityConfig {
    /// `0.0..=1.0`; unset: derived from the machine id.
    pub rollout_wariness: Option<Sourced<f64>>,
    pub group: Sourced<String>,
}

/// `[host]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostConfig {
    pub backend: Sourced<Backend>,
    pub state_dir: Sourced<PathBuf>,
}

/// `[updates]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatesConfig {
    pub strategy: Sourced<Strategy>,
    /// Base URL of the FleetLock server; required by `strategy = "fleet_lock"`.
    pub fleet_lock_url: Option<Sourced<String>>,
    pub periodic: PeriodicConfig,
}

/// `[updates.periodic]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodicConfig {
    pub time_zone: Sourced<TimeZone>,
    /// Every `[[updates.periodic.window]]` of every drop-in, in the order applied (windows add
    /// up across drop-ins; override or mask a file to drop its windows).
    #[serde(rename = "window")]
    pub windows: Vec<Sourced<Window>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            graph: GraphConfig { source: None },
            trust: TrustConfig {
                policy: Sourced::default_value(TrustPolicy::Require),
                keys_dirs: Sourced::default_value(
                    DEFAULT_KEYS_DIRS.iter().map(PathBuf::from).collect(),
                ),
            },
            identity: IdentityConfig {
                rollout_wariness: None,
                group: Sourced::default_value(DEFAULT_GROUP.into()),
            },
            host: HostConfig {
                backend: Sourced::default_value(Backend::Auto),
                state_dir: Sourced::default_value(DEFAULT_STATE_DIR.into()),
            },
            updates: UpdatesConfig {
                strategy: Sourced::default_value(Strategy::Immediate),
                fleet_lock_url: None,
                periodic: PeriodicConfig {
                    time_zone: Sourced::default_value(TimeZone::Utc),
                    windows: Vec::new(),
                },
            },
        }
    }
}

/// Something in a drop-in directory that was skipped or not understood; never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: PathBuf,
    /// The dotted key (`graph.sorce`), when the warning is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A drop-in that was not applied because a file of the same name in a later directory
/// replaces it (or, when that file is a `/dev/null` symlink, masks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overridden {
    pub file: PathBuf,
    pub by: PathBuf,
    pub masked: bool,
}
