//! Journey state: what this node is in the middle of, persisted across boots and rollbacks.
//!
//! The state lives at `<state dir>/state.json` (default [`DEFAULT_STATE_DIR`]); `/var` is shared
//! between deployments, so it survives both a reboot into the staged hop and a rollback out of
//! it. It is written before anything is staged, and always atomically (temp file, fsync,
//! rename, fsync of the directory), so a crash leaves either the old or the new file.
//!
//! # File format
//!
//! ```text
//! {
//!   "schemaVersion": 1,
//!   "checksum": "sha256:<hex of SHA-256 over the exact bytes of the state value below>",
//!   "state": {compact JSON of State}
//! }
//! ```
//!
//! The file is written as text, so the checksummed bytes are exactly the compact serialization
//! of [`State`], from its opening `{` to its closing `}`; the file ends with `\n}\n`. The reader
//! takes the `state` value as raw bytes, checks the checksum over them, and only then
//! deserializes it.
//!
//! Loading never invents a state for a file that exists. In order:
//!
//! 1. no file: an empty [`State`] (idle, nothing denylisted, no history);
//! 2. empty, not JSON, not an object, or cut short: [`StateError::Corrupt`];
//! 3. `schemaVersion` greater than [`SCHEMA_VERSION`]: [`StateError::NewerSchema`], decided
//!    before anything else in the file is looked at, so a newer writer's differently shaped
//!    file is reported as newer rather than corrupt;
//! 4. `schemaVersion` missing or 0, no final newline (a file cut right before it), unknown
//!    envelope fields, a missing or wrong checksum, or a state that does not match the schema:
//!    [`StateError::Corrupt`].
//!
//! Both errors make the engine refuse to act; the file is left exactly as it is for a human to
//! inspect. Fields inside `state` that this build does not know are ignored: a writer that adds
//! fields an older reader must not drop has to bump `schemaVersion`.
//!
//! See `docs/state.md` for the field reference.

use std::io::ErrorKind;
use std::path::Path;

use cap_std_ext::cap_std::{ambient_authority, fs::Dir};
use cap_std_ext::dirext::CapStdExtDirExt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Name of the state file inside the state directory.
pub const STATE_FILE: &str = "state.json";
/// Version of the file format this build writes and the newest it understands.
pub const SCHEMA_VERSION: u32 = 1;
/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/bootc-checkpoint";
/// Most events kept in [`State::history`]; the oldest are dropped beyond this.
const HISTORY_LIMIT: usize = 200;

/// Everything persisted: the journey under way (if any), releases never to be taken again,
/// and a bounded log of what happened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The journey under way; `None` when idle.
    pub journey: Option<Journey>,
    /// Releases this node rolled back from (or was told to avoid).
    #[serde(default)]
    pub denylist: Vec<DenyEntry>,
    /// Oldest first, at most [`HISTORY_LIMIT`] entries.
    #[serde(default)]
    pub history: Vec<Event>,
}

/// A path through the graph that the node is walking, one staged and booted hop at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Journey {
    /// The reference the node follows, restored when the journey ends.
    pub tracked: Tracked,
    /// The graph the journey was planned from.
    pub graph: GraphIdentity,
    /// The planned hops, in order; the last one has kind [`JourneyHopKind::Final`].
    pub hops: Vec<JourneyHop>,
    /// Index into `hops` of the hop being staged / booted.
    pub current: usize,
    pub phase: Phase,
    /// The deployment the journey started from (to recognise a rollback).
    pub from: Payload,
    /// Failed boots of `hops[current]`.
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
}

impl Journey {
    /// The planned hops for humans, the current one in brackets: `B -> [C] -> D`.
    pub fn hop_path(&self) -> String {
        let hops: Vec<String> = (self.hops.iter().enumerate())
            .map(|(i, h)| {
                if i == self.current {
                    format!("[{}]", h.version)
                } else {
                    h.version.clone()
                }
            })
            .collect();
        hops.join(" -> ")
    }

    /// The hop being staged / booted, if `current` is in range.
    pub fn current_hop(&self) -> Option<&JourneyHop> {
        self.hops.get(self.current)
    }

    /// Whether `current` is the last planned hop (or past it).
    pub fn is_last_hop(&self) -> bool {
        self.current.saturating_add(1) >= self.hops.len()
    }
}

/// The reference the node follows outside of a journey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Tracked {
    /// A container image reference, e.g. `ostree-unverified-registry:127.0.0.1:5000/os:stable`.
    Container { imgref: String },
    /// An OSTree refspec, e.g. `fedora:fedora/x86_64/coreos/stable`.
    Ostree { refspec: String },
}

/// Which graph a journey was planned from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphIdentity {
    /// Where the graph came from (URL or path).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// `sha256:<hex>` of the graph bytes.
    pub digest: String,
}

/// Whether a hop stops at a checkpoint or ends the journey. Mirrors [`crate::plan::HopKind`],
/// which is not deserializable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum JourneyHopKind {
    Checkpoint,
    Final,
}

impl From<crate::plan::HopKind> for JourneyHopKind {
    fn from(k: crate::plan::HopKind) -> Self {
        match k {
            crate::plan::HopKind::Checkpoint => Self::Checkpoint,
            crate::plan::HopKind::Final => Self::Final,
        }
    }
}

impl From<JourneyHopKind> for crate::plan::HopKind {
    fn from(k: JourneyHopKind) -> Self {
        match k {
            JourneyHopKind::Checkpoint => Self::Checkpoint,
            JourneyHopKind::Final => Self::Final,
        }
    }
}

/// One planned deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JourneyHop {
    pub version: String,
    pub kind: JourneyHopKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl From<&crate::plan::Hop> for JourneyHop {
    fn from(h: &crate::plan::Hop) -> Self {
        Self {
            version: h.version.clone(),
            kind: h.kind.into(),
            digest: h.digest.clone(),
            commit: h.commit.clone(),
        }
    }
}

/// Where the current hop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Recorded before staging starts; staging may not have finished.
    Staging,
    /// Staged, waiting for the reboot.
    Staged,
    /// Booted into the hop.
    Booted,
    /// The hop did not boot, or its boot was not marked good.
    Failed,
    /// Cannot go on without help; see `blocked_reason`.
    Blocked,
}

/// Identity of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// A release never to be targeted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DenyEntry {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    Started,
    Staged,
    Booted,
    Failed,
    Denylisted,
    Blocked,
    Completed,
    Cancelled,
    Error,
}

impl State {
    /// Append an event, dropping the oldest beyond [`HISTORY_LIMIT`].
    pub fn record(
        &mut self,
        at: DateTime<Utc>,
        kind: EventKind,
        version: Option<String>,
        detail: Option<String>,
    ) {
        self.history.push(Event {
            at,
            kind,
            version,
            detail,
        });
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
    }

    /// Versions, digests and commits of the denylist (each once, in order), for
    /// [`crate::plan::Policy::denylist`].
    pub fn denylisted_refs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(self.denylist.len() * 3);
        for e in &self.denylist {
            let refs = std::iter::once(&e.version)
                .chain(e.digest.as_ref())
                .chain(e.commit.as_ref());
            for r in refs {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out
    }
}

/// Why the state could not be loaded or saved. Typed because callers branch: refuse to act
/// (corrupt, newer) versus plain I/O failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: journey state is corrupt ({detail}); refusing to act. The file is kept as is: inspect it, then fix or remove it")]
    Corrupt { path: String, detail: String },
    #[error("{path}: journey state has schema version {found}, newer than {supported} understood by this build; refusing to act (upgrade bootc-checkpoint). The file is kept as is")]
    NewerSchema {
        path: String,
        found: u64,
        supported: u32,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The state directory, with the file inside it.
#[derive(Debug)]
pub struct StateStore {
    dir: Dir,
    path_label: String,
}

/// Only `schemaVersion`, everything else ignored: decides "newer" before the shape is checked.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Envelope {
    #[allow(dead_code)] // checked through `Probe`; here only so it is a known field
    schema_version: u64,
    #[serde(default)]
    checksum: Option<String>,
    state: Box<RawValue>,
}

fn checksum_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The whole file for `state`.
fn encode(state: &State) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_string(state)?;
    let sum = checksum_of(body.as_bytes());
    Ok(format!(
        "{{\n  \"schemaVersion\": {SCHEMA_VERSION},\n  \"checksum\": \"{sum}\",\n  \"state\": {body}\n}}\n"
    )
    .into_bytes())
}

/// Why a present file is not usable.
enum DecodeError {
    Corrupt(String),
    Newer(u64),
}

fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    use DecodeError::{Corrupt, Newer};
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Corrupt("the file is empty".into()));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Corrupt("not a JSON object".into()));
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        Corrupt(match e.classify() {
            serde_json::error::Category::Data => format!("bad schemaVersion: {e}"),
            _ => format!("truncated or not JSON: {e}"),
        })
    })?;
    match probe.schema_version {
        Some(v) if v > u64::from(SCHEMA_VERSION) => return Err(Newer(v)),
        Some(0) => return Err(Corrupt("schemaVersion is 0".into())),
        Some(_) => {}
        None => return Err(Corrupt("schemaVersion is missing".into())),
    }
    if bytes.last() != Some(&b'\n') {
        return Err(Corrupt(
            "truncated: the file does not end with a newline".into(),
        ));
    }
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| Corrupt(format!("bad envelope: {e}")))?;
    let raw = env.state.get();
    let actual = checksum_of(raw.as_bytes());
    match env.checksum {
        None => return Err(Corrupt("checksum is missing".into())),
        Some(said) if said != actual => {
            return Err(Corrupt(format!(
                "checksum mismatch: file says {said}, content is {actual}"
            )))
        }
        Some(_) => {}
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    let state: State = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Corrupt(format!(
            "state does not match the schema at {path}: {}",
            e.into_inner()
        ))
    })?;
    de.end()
        .map_err(|e| Corrupt(format!("state does not match the schema: {e}")))?;
    Ok(state)
}

impl StateStore {
    /// Open (creating with mode 0700 if missing, including parents) the state directory.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let label = path.display().to_string();
        let io = |source| StateError::Io {
            path: label.clone(),
            source,
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path).map_err(io)?;
        let dir = Dir::open_ambient_dir(path, ambient_authority()).map_err(io)?;
        Ok(Self::from_dir(dir, label))
    }

    /// Use an already open directory; `path_label` names it in messages.
    pub fn from_dir(dir: Dir, path_label: impl Into<String>) -> Self {
        Self {
            dir,
            path_label: path_label.into(),
        }
    }

    /// `<dir>/state.json`, for messages.
    pub fn path(&self) -> String {
        format!("{}/{STATE_FILE}", self.path_label.trim_end_matches('/'))
    }

    /// Missing file: `Ok(State::default())`. A present file that cannot be used is
    /// [`StateError::Corrupt`] or [`StateError::NewerSchema`], never a default state. The file
    /// is only read.
    pub fn load(&self) -> Result<State, StateError> {
        let bytes = match self.dir.read(STATE_FILE) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path(),
                    source,
                })
            }
        };
        decode(&bytes).map_err(|e| match e {
            DecodeError::Corrupt(detail) => StateError::Corrupt {
                path: self.path(),
                detail,
            },
            DecodeError::Newer(found) => StateError::NewerSchema {
                path: self.path(),
                found,
                supported: SCHEMA_VERSION,
            },
        })
    }

    /// Replace the file atomically: temp file, fsync, rename, fsync of the directory.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let bytes = encode(state).map_err(|e| StateError::Io {
            path: self.path(),
            source: std::io::Error::other(e),
        })?;
        self.dir
            .atomic_write(STATE_FILE, bytes)
            .map_err(|source| StateError::Io {
                path: self.path(),
                source,
            })
    }
}

#[cfg(test)]
mod tests;
