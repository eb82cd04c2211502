//! Journey state tests: round trips, every truncation and byte flip, schema checks.

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
    (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
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
    (arb_string(), any::<bool>(), arb_opt(), arb_opt()).prop_map(|(version, f, digest, commit)| {
        JourneyHop {
            version,
            kind: if f {
                JourneyHopKind::Final
            } else {
                JourneyHopKind::Checkpoint
            },
            digest,
            commit,
        }
    })
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
    let from = (arb_opt(), arb_opt(), arb_opt()).prop_map(|(version, digest, commit)| Payload {
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
