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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Tracked {
    /// A container image reference, e.g. `ostree-unverified-registry:127.0.0.1:5000/os:stable`.
    Container { imgref: String },
    /// An OSTree refspec, e.g. `fedora:fedora/x86_64/coreos/stable`.
    Ostree { refspec: String },
}

/// Which graph a journey was planned from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
mod tests {
    use super::*;
    use cap_std_ext::cap_tempfile::TempDir;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 123_456_789).unwrap()
    }

    fn tempstore() -> (TempDir, StateStore) {
        let td = TempDir::new(ambient_authority()).unwrap();
        let dir = td.try_clone().unwrap();
        (td, StateStore::from_dir(dir, "/test/state/"))
    }

    fn full_state() -> State {
        let mut s = State {
            journey: Some(Journey {
                tracked: Tracked::Container {
                    imgref: "ostree-unverified-registry:127.0.0.1:5000/os:stable".into(),
                },
                graph: GraphIdentity {
                    source: "https://updates.example.com/graph.json".into(),
                    serial: Some(42),
                    digest: format!("sha256:{}", "ab".repeat(32)),
                },
                hops: vec![
                    JourneyHop {
                        version: "41.20250201.3.0".into(),
                        kind: JourneyHopKind::Checkpoint,
                        digest: Some(format!("sha256:{}", "01".repeat(32))),
                        commit: None,
                    },
                    JourneyHop {
                        version: "42.20250315.3.0".into(),
                        kind: JourneyHopKind::Final,
                        digest: Some(format!("sha256:{}", "02".repeat(32))),
                        commit: Some("c0".repeat(32)),
                    },
                ],
                current: 1,
                phase: Phase::Staged,
                from: Payload {
                    version: Some("41.20250105.3.0".into()),
                    digest: Some(format!("sha256:{}", "00".repeat(32))),
                    commit: None,
                },
                attempts: 1,
                started_at: t(1_700_000_000),
                updated_at: t(1_700_003_600),
                last_error: Some("boot of 42.20250315.3.0 was not marked good".into()),
                blocked_reason: None,
            }),
            denylist: vec![
                DenyEntry {
                    version: "41.20250120.3.0".into(),
                    digest: Some(format!("sha256:{}", "dd".repeat(32))),
                    commit: Some("ee".repeat(32)),
                    reason: "rolled back \"twice\"\nsee journal".into(),
                    at: t(1_699_000_000),
                },
                DenyEntry {
                    version: "40.1".into(),
                    digest: None,
                    commit: None,
                    reason: "manual".into(),
                    at: t(1_698_000_000),
                },
            ],
            history: Vec::new(),
        };
        s.record(
            t(1_700_000_000),
            EventKind::Started,
            None,
            Some("2 hops".into()),
        );
        s.record(
            t(1_700_000_100),
            EventKind::Staged,
            Some("41.20250201.3.0".into()),
            None,
        );
        s.record(
            t(1_700_001_000),
            EventKind::Booted,
            Some("41.20250201.3.0".into()),
            Some("é ☃ 😀 \u{1}".into()),
        );
        s
    }

    fn saved_bytes() -> (TempDir, StateStore, Vec<u8>) {
        let (td, store) = tempstore();
        store.save(&full_state()).unwrap();
        let bytes = td.read(STATE_FILE).unwrap();
        (td, store, bytes)
    }

    /// Write `bytes`, load, check the file is unchanged, return the result.
    fn load_bytes(td: &TempDir, store: &StateStore, bytes: &[u8]) -> Result<State, StateError> {
        td.write(STATE_FILE, bytes).unwrap();
        let r = store.load();
        assert_eq!(td.read(STATE_FILE).unwrap(), bytes, "load changed the file");
        r
    }

    fn names(td: &TempDir) -> Vec<String> {
        let mut v: Vec<String> = td
            .entries()
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn round_trip_full_state() {
        let (td, store) = tempstore();
        let s = full_state();
        store.save(&s).unwrap();
        assert_eq!(store.load().unwrap(), s);
        // Saving again replaces it.
        let mut s2 = s.clone();
        s2.journey = None;
        store.save(&s2).unwrap();
        assert_eq!(store.load().unwrap(), s2);
        assert_eq!(names(&td), vec![STATE_FILE.to_string()]);
    }

    #[test]
    fn file_layout() {
        let (_td, _store, bytes) = saved_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let body = serde_json::to_string(&full_state()).unwrap();
        let expected = format!(
            "{{\n  \"schemaVersion\": 1,\n  \"checksum\": \"sha256:{}\",\n  \"state\": {body}\n}}\n",
            hex::encode(Sha256::digest(body.as_bytes()))
        );
        assert_eq!(text, expected);
        // Field names as documented.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let j = &v["state"]["journey"];
        assert_eq!(j["tracked"]["kind"], "container");
        assert_eq!(j["hops"][0]["kind"], "checkpoint");
        assert_eq!(j["phase"], "staged");
        assert!(j["startedAt"].is_string());
        assert!(j["lastError"].is_string());
        assert!(j.get("blockedReason").is_none());
        assert_eq!(v["state"]["history"][0]["kind"], "started");
    }

    #[test]
    fn missing_file_is_default_and_save_leaves_no_temp_files() {
        let (td, store) = tempstore();
        assert_eq!(store.load().unwrap(), State::default());
        assert!(names(&td).is_empty(), "load created something");
        store.save(&State::default()).unwrap();
        assert_eq!(names(&td), vec![STATE_FILE.to_string()]);
        assert_eq!(store.load().unwrap(), State::default());
        store.save(&full_state()).unwrap();
        assert_eq!(names(&td), vec![STATE_FILE.to_string()]);
    }

    #[test]
    fn path_label() {
        let (_td, store) = tempstore();
        assert_eq!(store.path(), "/test/state/state.json");
    }

    #[test]
    fn open_creates_private_dirs() {
        let base = std::env::temp_dir().join(format!(
            "checkpoint-state-test-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let path = base.join("a/b");
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.path(), format!("{}/state.json", path.display()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
        assert_eq!(store.load().unwrap(), State::default());
        store.save(&full_state()).unwrap();
        // Opening an existing directory works and sees the file.
        let again = StateStore::open(&path).unwrap();
        assert_eq!(again.load().unwrap(), full_state());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn open_on_a_file_is_io_error() {
        let base = std::env::temp_dir().join(format!(
            "checkpoint-state-test-file-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::write(&base, b"x").unwrap();
        let err = StateStore::open(&base).unwrap_err();
        assert!(matches!(err, StateError::Io { .. }), "{err:?}");
        std::fs::remove_file(&base).unwrap();
    }

    #[test]
    fn unreadable_file_is_io_error() {
        let (td, store) = tempstore();
        td.create_dir(STATE_FILE).unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StateError::Io { .. }), "{err:?}");
        assert!(err.to_string().starts_with("/test/state/state.json: "));
    }

    #[test]
    fn every_truncation_is_corrupt() {
        let (td, store, full) = saved_bytes();
        for len in 0..full.len() {
            match load_bytes(&td, &store, &full[..len]) {
                Err(StateError::Corrupt { path, .. }) => assert_eq!(path, store.path()),
                other => panic!("truncated to {len} bytes: {other:?}"),
            }
        }
        // And the whole file still loads.
        assert_eq!(load_bytes(&td, &store, &full).unwrap(), full_state());
    }

    #[test]
    fn empty_and_blank_files_are_corrupt() {
        let (td, store) = tempstore();
        for bytes in [
            &b""[..],
            b"\n",
            b"   \n\t",
            b"null\n",
            b"[1, \"x\", {}]\n",
            b"1\n",
        ] {
            let err = load_bytes(&td, &store, bytes).unwrap_err();
            assert!(
                matches!(err, StateError::Corrupt { .. }),
                "{bytes:?}: {err:?}"
            );
        }
        let err = load_bytes(&td, &store, b"").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/test/state/state.json"), "{msg}");
        assert!(msg.contains("refusing to act"), "{msg}");
        assert!(msg.contains("kept as is"), "{msg}");
    }

    /// Start and end (exclusive) of the `state` value in a saved file.
    fn state_span(bytes: &[u8]) -> (usize, usize) {
        let key = b"\"state\": ";
        let start = bytes
            .windows(key.len())
            .position(|w| w == key)
            .expect("state key")
            + key.len();
        let end = bytes.len() - b"\n}\n".len();
        assert_eq!(bytes[start], b'{');
        assert_eq!(bytes[end - 1], b'}');
        (start, end)
    }

    #[test]
    fn every_byte_flip_in_state_is_corrupt() {
        let (td, store, full) = saved_bytes();
        let (start, end) = state_span(&full);
        assert!(end - start > 200, "state too small for the test");
        let mut n = 0;
        for pos in start..end {
            for mask in [0x01u8, 0x20, 0x80, 0xff] {
                let mut b = full.clone();
                b[pos] ^= mask;
                match load_bytes(&td, &store, &b) {
                    Err(StateError::Corrupt { .. }) => n += 1,
                    other => panic!("byte {pos} ^ {mask:#x}: {other:?}"),
                }
            }
        }
        assert_eq!(n, (end - start) * 4);
    }

    #[test]
    fn every_byte_flip_anywhere_is_refused() {
        let (td, store, full) = saved_bytes();
        for pos in 0..full.len() {
            let mut b = full.clone();
            b[pos] ^= 0x01;
            match load_bytes(&td, &store, &b) {
                Err(StateError::Corrupt { .. } | StateError::NewerSchema { .. }) => {}
                // Nothing outside the state value is harmless to flip either, but should some
                // flip ever load, it must give the very same state.
                Ok(s) => assert_eq!(s, full_state(), "byte {pos}"),
                Err(e) => panic!("byte {pos}: {e:?}"),
            }
        }
    }

    #[test]
    fn checksum_mismatch_message() {
        let (td, store, full) = saved_bytes();
        let text = String::from_utf8(full).unwrap();
        // Valid JSON, valid state, different content: only the checksum catches it.
        let edited = text.replacen("\"attempts\":1", "\"attempts\":2", 1);
        assert_ne!(edited, text);
        let err = load_bytes(&td, &store, edited.as_bytes()).unwrap_err();
        let StateError::Corrupt { detail, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            detail.starts_with("checksum mismatch: file says sha256:"),
            "{detail}"
        );
        assert!(detail.contains(", content is sha256:"), "{detail}");
    }

    #[test]
    fn missing_checksum_is_corrupt() {
        let (td, store) = tempstore();
        let err = load_bytes(&td, &store, b"{\"schemaVersion\": 1, \"state\": {}}\n").unwrap_err();
        let StateError::Corrupt { detail, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(detail.contains("checksum is missing"), "{detail}");
    }

    fn envelope(version: &str, state: &str) -> Vec<u8> {
        format!(
            "{{\n  \"schemaVersion\": {version},\n  \"checksum\": \"{}\",\n  \"state\": {state}\n}}\n",
            checksum_of(state.as_bytes())
        )
        .into_bytes()
    }

    #[test]
    fn schema_version_checks() {
        let (td, store) = tempstore();
        // A well-formed, correctly summed minimal state loads.
        let ok = envelope("1", "{\"journey\":null}");
        assert_eq!(load_bytes(&td, &store, &ok).unwrap(), State::default());
        for v in ["0", "-1", "1.5", "\"1\"", "null"] {
            let err = load_bytes(&td, &store, &envelope(v, "{}")).unwrap_err();
            assert!(matches!(err, StateError::Corrupt { .. }), "{v}: {err:?}");
        }
        let err = load_bytes(&td, &store, b"{\"checksum\": \"x\", \"state\": {}}\n").unwrap_err();
        let StateError::Corrupt { detail, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(detail.contains("schemaVersion is missing"), "{detail}");
        // Unknown envelope fields at version 1 are corrupt.
        let mut extra = String::from_utf8(envelope("1", "{}")).unwrap();
        extra = extra.replacen("{\n", "{\n  \"x\": 1,\n", 1);
        let err = load_bytes(&td, &store, extra.as_bytes()).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn newer_schema_is_refused_whatever_its_shape() {
        let (td, store) = tempstore();
        for bytes in [
            &b"{\"schemaVersion\": 2, \"payload\": [1, 2, {\"x\": null}]}\n"[..],
            b"{\"payload\": \"first\", \"schemaVersion\": 2}",
            b"{\"schemaVersion\": 18446744073709551615, \"state\": 7}\n",
        ] {
            let err = load_bytes(&td, &store, bytes).unwrap_err();
            let StateError::NewerSchema {
                path,
                found,
                supported,
            } = &err
            else {
                panic!("{err:?}")
            };
            assert_eq!(path, "/test/state/state.json");
            assert!(*found >= 2);
            assert_eq!(*supported, SCHEMA_VERSION);
            let msg = err.to_string();
            assert!(msg.contains("/test/state/state.json"), "{msg}");
            assert!(msg.contains("refusing to act"), "{msg}");
        }
        // A newer file with a well-formed v1 state is still newer.
        let err = load_bytes(&td, &store, &envelope("2", "{}")).unwrap_err();
        assert!(
            matches!(err, StateError::NewerSchema { found: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn bad_state_shape_names_the_path() {
        let (td, store) = tempstore();
        let state = "{\"journey\":null,\"denylist\":[{\"version\":\"1\",\"reason\":\"r\",\"at\":\"yesterday\"}]}";
        let err = load_bytes(&td, &store, &envelope("1", state)).unwrap_err();
        let StateError::Corrupt { detail, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(detail.contains("denylist[0].at"), "{detail}");
        let err = load_bytes(&td, &store, &envelope("1", "null")).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn history_keeps_the_newest() {
        let mut s = State::default();
        for i in 0..(HISTORY_LIMIT + 57) {
            s.record(t(i as i64), EventKind::Error, None, Some(i.to_string()));
            assert!(s.history.len() <= HISTORY_LIMIT);
        }
        assert_eq!(s.history.len(), HISTORY_LIMIT);
        assert_eq!(s.history[0].detail.as_deref(), Some("57"));
        let last = (HISTORY_LIMIT + 56).to_string();
        assert_eq!(
            s.history.last().unwrap().detail.as_deref(),
            Some(last.as_str())
        );
        assert!(s.history.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn denylisted_refs_lists_every_identifier() {
        let s = full_state();
        assert_eq!(
            s.denylisted_refs(),
            vec![
                "41.20250120.3.0".to_string(),
                format!("sha256:{}", "dd".repeat(32)),
                "ee".repeat(32),
                "40.1".to_string(),
            ]
        );
        assert!(State::default().denylisted_refs().is_empty());
    }

    #[test]
    fn journey_helpers() {
        let mut j = full_state().journey.unwrap();
        assert_eq!(j.current_hop().unwrap().version, "42.20250315.3.0");
        assert!(j.is_last_hop());
        j.current = 0;
        assert_eq!(j.current_hop().unwrap().version, "41.20250201.3.0");
        assert!(!j.is_last_hop());
        j.current = 5;
        assert!(j.current_hop().is_none());
        assert!(j.is_last_hop());
        assert_eq!(
            JourneyHopKind::from(crate::plan::HopKind::Final),
            JourneyHopKind::Final
        );
        assert_eq!(
            crate::plan::HopKind::from(JourneyHopKind::Checkpoint),
            crate::plan::HopKind::Checkpoint
        );
    }

    // ---- property: random states round-trip exactly ----

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9.:/-]{0,10}",
            prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
        ]
    }

    fn arb_opt() -> impl Strategy<Value = Option<String>> {
        prop::option::of(arb_string())
    }

    fn arb_time() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4_102_444_800, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
    }

    fn arb_event_kind() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            Just(EventKind::Started),
            Just(EventKind::Staged),
            Just(EventKind::Booted),
            Just(EventKind::Failed),
            Just(EventKind::Denylisted),
            Just(EventKind::Blocked),
            Just(EventKind::Completed),
            Just(EventKind::Cancelled),
            Just(EventKind::Error),
        ]
    }

    fn arb_phase() -> impl Strategy<Value = Phase> {
        prop_oneof![
            Just(Phase::Staging),
            Just(Phase::Staged),
            Just(Phase::Booted),
            Just(Phase::Failed),
            Just(Phase::Blocked),
        ]
    }

    fn arb_hop() -> impl Strategy<Value = JourneyHop> {
        (arb_string(), any::<bool>(), arb_opt(), arb_opt()).prop_map(
            |(version, f, digest, commit)| JourneyHop {
                version,
                kind: if f {
                    JourneyHopKind::Final
                } else {
                    JourneyHopKind::Checkpoint
                },
                digest,
                commit,
            },
        )
    }

    fn arb_journey() -> impl Strategy<Value = Journey> {
        let tracked = prop_oneof![
            arb_string().prop_map(|imgref| Tracked::Container { imgref }),
            arb_string().prop_map(|refspec| Tracked::Ostree { refspec }),
        ];
        let graph = (arb_string(), prop::option::of(any::<u64>()), arb_string()).prop_map(
            |(source, serial, digest)| GraphIdentity {
                source,
                serial,
                digest,
            },
        );
        let from =
            (arb_opt(), arb_opt(), arb_opt()).prop_map(|(version, digest, commit)| Payload {
                version,
                digest,
                commit,
            });
        (
            (tracked, graph, prop::collection::vec(arb_hop(), 0..4)),
            (any::<usize>(), arb_phase(), from, any::<u32>()),
            (arb_time(), arb_time(), arb_opt(), arb_opt()),
        )
            .prop_map(
                |(
                    (tracked, graph, hops),
                    (current, phase, from, attempts),
                    (started_at, updated_at, last_error, blocked_reason),
                )| Journey {
                    tracked,
                    graph,
                    hops,
                    current,
                    phase,
                    from,
                    attempts,
                    started_at,
                    updated_at,
                    last_error,
                    blocked_reason,
                },
            )
    }

    fn arb_state() -> impl Strategy<Value = State> {
        let deny = (arb_string(), arb_opt(), arb_opt(), arb_string(), arb_time()).prop_map(
            |(version, digest, commit, reason, at)| DenyEntry {
                version,
                digest,
                commit,
                reason,
                at,
            },
        );
        let event = (arb_time(), arb_event_kind(), arb_opt(), arb_opt()).prop_map(
            |(at, kind, version, detail)| Event {
                at,
                kind,
                version,
                detail,
            },
        );
        (
            prop::option::of(arb_journey()),
            prop::collection::vec(deny, 0..4),
            prop::collection::vec(event, 0..6),
        )
            .prop_map(|(journey, denylist, history)| State {
                journey,
                denylist,
                history,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_states_round_trip(s in arb_state()) {
            let (td, store) = tempstore();
            store.save(&s).unwrap();
            prop_assert_eq!(store.load().unwrap(), s.clone());
            // The bytes are stable: saving what was loaded writes the same file.
            let first = td.read(STATE_FILE).unwrap();
            store.save(&store.load().unwrap()).unwrap();
            prop_assert_eq!(td.read(STATE_FILE).unwrap(), first);
        }
    }
}
