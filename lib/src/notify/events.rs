//! Key events as structured log records: each kind has a fixed 128-bit `MESSAGE_ID` (journald's
//! field for recognising a kind of message; `journalctl MESSAGE_ID=…` finds them), listed in
//! `docs/runtime.md`. The binary sends `tracing` events to journald when run by systemd, where
//! the fields `message_id`, `event`, `version` and `detail` become `MESSAGE_ID`, `EVENT`,
//! `VERSION` and `DETAIL`.

use crate::state::{Event, EventKind};

/// One kind of event worth finding in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    JourneyStarted,
    HopStaged,
    HopBooted,
    HopFailed,
    Denylisted,
    JourneyBlocked,
    JourneyCompleted,
    JourneyCancelled,
    JourneyError,
    Rebooting,
    RebootDeferred,
    LockReleased,
}

/// Every kind with its `MESSAGE_ID` and name (the order of `docs/runtime.md`).
pub const ALL: [(Kind, &str, &str); 12] = [
    (
        Kind::JourneyStarted,
        "83121d6b258b46d89163e5f7d7a8f986",
        "journey-started",
    ),
    (
        Kind::HopStaged,
        "793edf950495424197f746769b78632b",
        "hop-staged",
    ),
    (
        Kind::HopBooted,
        "e0ea49289269462b8e7c10b62cfaa929",
        "hop-booted",
    ),
    (
        Kind::HopFailed,
        "d87fb6c0bd9440ba930296470ea7e336",
        "hop-failed",
    ),
    (
        Kind::Denylisted,
        "dd52f766675c4fe7a269dca9660d4176",
        "denylisted",
    ),
    (
        Kind::JourneyBlocked,
        "d8373837c3ad471aaee388899c66caff",
        "journey-blocked",
    ),
    (
        Kind::JourneyCompleted,
        "d5ea0a8f6ee749ea9d0051e4005c77ed",
        "journey-completed",
    ),
    (
        Kind::JourneyCancelled,
        "fcdd82875c4343119d4e4143a152f5c9",
        "journey-cancelled",
    ),
    (
        Kind::JourneyError,
        "45d676a9f4e040758dcc106279965f1e",
        "journey-error",
    ),
    (
        Kind::Rebooting,
        "3efea4d6ba0d4d66a440e4d1b49ac9a3",
        "rebooting",
    ),
    (
        Kind::RebootDeferred,
        "033a00a547bb45838e18eb98e22f16d2",
        "reboot-deferred",
    ),
    (
        Kind::LockReleased,
        "48f520f457524aacbeaf16d267ad597f",
        "lock-released",
    ),
];

impl Kind {
    pub fn message_id(self) -> &'static str {
        Self::entry(self).1
    }

    pub fn name(self) -> &'static str {
        Self::entry(self).2
    }

    fn entry(self) -> &'static (Kind, &'static str, &'static str) {
        ALL.iter()
            .find(|(k, _, _)| *k == self)
            .expect("every kind is listed")
    }
}

impl From<EventKind> for Kind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::Started => Self::JourneyStarted,
            EventKind::Staged => Self::HopStaged,
            EventKind::Booted => Self::HopBooted,
            EventKind::Failed => Self::HopFailed,
            EventKind::Denylisted => Self::Denylisted,
            EventKind::Blocked => Self::JourneyBlocked,
            EventKind::Completed => Self::JourneyCompleted,
            EventKind::Cancelled => Self::JourneyCancelled,
            EventKind::Error => Self::JourneyError,
        }
    }
}

/// Log one event with its `MESSAGE_ID`.
pub fn log(kind: Kind, version: Option<&str>, message: &str) {
    let (id, name, version) = (kind.message_id(), kind.name(), version.unwrap_or(""));
    match kind {
        Kind::HopFailed | Kind::JourneyBlocked | Kind::JourneyError | Kind::Denylisted => {
            tracing::warn!(message_id = id, event = name, version, "{message}")
        }
        _ => tracing::info!(message_id = id, event = name, version, "{message}"),
    }
}

/// The events of `after` that are not in `before` (the history only grows at its end, and
/// drops its oldest entries past its limit).
pub fn new_events<'a>(before: &[Event], after: &'a [Event]) -> &'a [Event] {
    let start = match before.last() {
        None => 0,
        Some(last) => match after.iter().rposition(|e| e == last) {
            Some(i) => i + 1,
            None => 0,
        },
    };
    &after[start..]
}

/// Log the journey events a command recorded.
pub fn log_history(events: &[Event]) {
    for e in events {
        let what = match &e.detail {
            Some(d) => format!("{}: {d}", Kind::from(e.kind).name()),
            None => Kind::from(e.kind).name().to_string(),
        };
        let message = match &e.version {
            Some(v) => format!("{what} ({v})"),
            None => what,
        };
        log(e.kind.into(), e.version.as_deref(), &message);
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    #[test]
    fn message_ids_are_distinct_128_bit_lowercase_hex() {
        let mut seen = std::collections::HashSet::new();
        for (kind, id, name) in ALL {
            assert!(
                id.len() == 32
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{kind:?} {id}"
            );
            assert!(seen.insert(id) && seen.insert(name), "{kind:?} repeats");
            assert_eq!((kind.message_id(), kind.name()), (id, name));
        }
    }

    #[test]
    fn documented_in_runtime_md() {
        let doc = include_str!("../../../docs/runtime.md");
        for (kind, id, name) in ALL {
            assert!(
                doc.contains(&format!("`{id}`")),
                "{kind:?} {id} missing from docs/runtime.md"
            );
            assert!(
                doc.contains(&format!("`{name}`")),
                "{name} missing from docs/runtime.md"
            );
        }
    }

    #[test]
    fn new_events_are_those_after_the_previous_last() {
        let ev = |s: i64, kind| Event {
            at: DateTime::from_timestamp(s, 0).unwrap(),
            kind,
            version: None,
            detail: None,
        };
        let (a, b, c) = (
            ev(1, EventKind::Started),
            ev(2, EventKind::Staged),
            ev(3, EventKind::Booted),
        );
        let table: [(Vec<Event>, Vec<Event>, usize); 4] = [
            (vec![], vec![a.clone(), b.clone()], 2),
            (vec![a.clone()], vec![a.clone(), b.clone(), c.clone()], 2),
            (vec![a.clone(), b.clone()], vec![a.clone(), b.clone()], 0),
            // The oldest entries were dropped: still only what follows the previous last.
            (vec![a.clone(), b.clone()], vec![b.clone(), c.clone()], 1),
        ];
        for (before, after, n) in table {
            assert_eq!(
                new_events(&before, &after).len(),
                n,
                "{before:?} → {after:?}"
            );
        }
    }
}
