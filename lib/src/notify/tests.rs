//! motd and metrics rendered for every phase, the exposition format checked line by line, and
//! the files appearing and disappearing in a temp directory.

use cap_std_ext::cap_std::ambient_authority;
use cap_std_ext::cap_tempfile::TempDir;
use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::engine::{Outcome, Step};
use crate::plan::{Plan, ReasonCode, Status};
use crate::state::{Journey, JourneyHop, JourneyHopKind, Payload, Phase, Tracked};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-09T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn journey(phase: Phase, current: usize) -> Journey {
    let hop = |v: &str, kind| JourneyHop {
        version: v.into(),
        kind,
        digest: Some(format!("sha256:{v}")),
        commit: None,
    };
    Journey {
        tracked: Tracked::Container {
            imgref: "ostree-unverified-registry:example/os:stable".into(),
        },
        graph: GraphIdentity {
            source: "/etc/graph.json".into(),
            serial: Some(7),
            digest: "sha256:g".into(),
        },
        hops: vec![
            hop("B", JourneyHopKind::Checkpoint),
            hop("C", JourneyHopKind::Final),
        ],
        current,
        phase,
        from: Payload::default(),
        attempts: u32::from(phase == Phase::Failed),
        started_at: now() - Duration::hours(3),
        updated_at: now(),
        last_error: None,
        blocked_reason: (phase == Phase::Blocked).then(|| "image B is missing".into()),
    }
}

fn state(j: Option<Journey>) -> State {
    State {
        journey: j,
        ..State::default()
    }
}

fn deadend_step() -> Step {
    Step {
        outcome: Outcome::UpToDate,
        message: "dead-end".into(),
        reboot_required: false,
        plan: Some(Plan {
            booted: "A".into(),
            status: Status::Blocked,
            next: None,
            hops: vec![],
            reason: Some("https://example.com/deadend".into()),
            reason_code: Some(ReasonCode::BootedDeadend),
        }),
        journey: None,
    }
}

fn snap<'a>(state: &'a State, step: Option<&'a Step>) -> Snapshot<'a> {
    Snapshot {
        state,
        step,
        reboot: None,
        last_check: None,
        now: now(),
    }
}

#[test]
fn motd_per_phase() {
    let deadend = deadend_step();
    let tail = "  Run `bootc-checkpoint status` for details.\n";
    let path = |p: &str| format!("  path: {p} (started 3h ago)\n");
    let table: Vec<(State, Option<&Step>, Option<String>)> = vec![
        (state(None), None, None),
        (
            state(Some(journey(Phase::Staged, 0))),
            None,
            Some(format!(
                "bootc-checkpoint: B (hop 1 of 2 on the way to C) is staged and boots at the next reboot.\n{}{tail}",
                path("[B] -> C")
            )),
        ),
        (
            state(Some(journey(Phase::Staging, 1))),
            None,
            Some(format!(
                "bootc-checkpoint: staging C (hop 2 of 2) on the way to C.\n{}{tail}",
                path("B -> [C]")
            )),
        ),
        (
            state(Some(journey(Phase::Booted, 0))),
            None,
            Some(format!(
                "bootc-checkpoint: booted B (hop 1 of 2 on the way to C).\n{}{tail}",
                path("[B] -> C")
            )),
        ),
        (
            state(Some(journey(Phase::Failed, 0))),
            None,
            Some(format!(
                "bootc-checkpoint: B (hop 1 of 2 on the way to C) failed to boot (1 attempt(s)); back on the previous release.\n{}{tail}",
                path("[B] -> C")
            )),
        ),
        (
            state(Some(journey(Phase::Blocked, 0))),
            None,
            Some(format!(
                "bootc-checkpoint: the journey to C is blocked at B: image B is missing.\n{}{tail}",
                path("[B] -> C")
            )),
        ),
        (
            state(None),
            Some(&deadend),
            Some(format!(
                "bootc-checkpoint: this host runs A, a dead-end release, and will not update by itself (https://example.com/deadend); move it by hand.\n{tail}"
            )),
        ),
    ];
    for (st, step, want) in table {
        assert_eq!(
            motd::render(&snap(&st, step)),
            want,
            "{:?}",
            st.journey.map(|j| j.phase)
        );
    }
}

#[test]
fn motd_says_why_there_is_no_reboot() {
    let st = state(Some(journey(Phase::Staged, 0)));
    let deferred = crate::strategy::Zone::Utc.periodic(
        &[crate::config::Window {
            days: vec![chrono::Weekday::Sun],
            start_time: crate::config::TimeOfDay::parse("02:00").unwrap(),
            length_minutes: 60,
        }],
        "UTC",
        now(),
    );
    let s = Snapshot {
        reboot: Some(&deferred),
        ..snap(&st, None)
    };
    let text = motd::render(&s).unwrap();
    assert!(
        text.contains("  reboot: outside the maintenance windows (UTC): not rebooting now; the next window opens 2026-03-15 02:00 UTC"),
        "{text}"
    );
}

/// Every line is a comment (`# HELP name text` / `# TYPE name kind`) or a sample of a family
/// announced just before, `name{labels} value` with a numeric value.
fn assert_exposition_format(text: &str) {
    let mut family: Option<String> = None;
    let mut typed = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(!help.is_empty(), "{line}");
            family = Some(name.to_string());
            typed = false;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(
                Some(name),
                family.as_deref(),
                "TYPE right after its HELP: {line}"
            );
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            typed = true;
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let name = series.split('{').next().unwrap();
            assert_eq!(
                Some(name),
                family.as_deref(),
                "sample of the announced family: {line}"
            );
            assert!(typed, "{line}");
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{line}"
            );
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("numeric value: {line}"));
        }
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn metrics_per_phase() {
    let check = LastCheck {
        checked_at: now() - Duration::minutes(5),
        graph: Some(GraphSeen {
            source: "/etc/graph.json".into(),
            serial: Some(7),
            digest: "sha256:g".into(),
            first_seen_at: now() - Duration::days(2),
        }),
    };
    // (journey, phase label set to 1, hops remaining, reboot required)
    let table = [
        (None, "idle", 0, 0),
        (Some(journey(Phase::Staged, 0)), "staged", 2, 1),
        (Some(journey(Phase::Booted, 0)), "booted", 1, 0),
        (Some(journey(Phase::Failed, 1)), "failed", 1, 0),
        (Some(journey(Phase::Blocked, 0)), "blocked", 2, 0),
    ];
    for (j, phase, hops, reboot) in table {
        let mut st = state(j);
        st.record(
            now(),
            crate::state::EventKind::Error,
            None,
            Some("registry down".into()),
        );
        let s = Snapshot {
            last_check: Some(&check),
            ..snap(&st, None)
        };
        let text = metrics::render(&s);
        assert_exposition_format(&text);
        let want = [
            format!("bootc_checkpoint_journey_phase{{phase=\"{phase}\"}} 1"),
            format!("bootc_checkpoint_journey_hops_remaining {hops}"),
            format!("bootc_checkpoint_reboot_required {reboot}"),
            "bootc_checkpoint_graph_serial 7".into(),
            "bootc_checkpoint_graph_age_seconds 172800".into(),
            format!(
                "bootc_checkpoint_last_check_timestamp_seconds {}",
                check.checked_at.timestamp()
            ),
            "bootc_checkpoint_recent_errors{kind=\"error\"} 1".into(),
            "bootc_checkpoint_recent_errors{kind=\"failed_boot\"} 0".into(),
        ];
        for w in want {
            assert!(
                text.lines().any(|l| l == w),
                "{phase}: missing {w:?} in\n{text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("bootc_checkpoint_journey_phase{") && l.ends_with(" 1"))
                .count(),
            1
        );
    }
}

#[test]
fn graph_age_counts_from_the_first_sighting_of_a_digest() {
    let id = |digest: &str| GraphIdentity {
        source: "/g.json".into(),
        serial: Some(1),
        digest: digest.into(),
    };
    let t0 = now();
    let first = LastCheck::after(None, Some(&id("sha256:a")), t0);
    let same = LastCheck::after(Some(&first), Some(&id("sha256:a")), t0 + Duration::hours(1));
    let newer = LastCheck::after(Some(&same), Some(&id("sha256:b")), t0 + Duration::hours(2));
    let none = LastCheck::after(Some(&newer), None, t0 + Duration::hours(3));
    let seen = |c: &LastCheck| c.graph.as_ref().map(|g| g.first_seen_at);
    let table = [
        (&first, Some(t0), t0),
        (&same, Some(t0), t0 + Duration::hours(1)),
        (
            &newer,
            Some(t0 + Duration::hours(2)),
            t0 + Duration::hours(2),
        ),
        (&none, None, t0 + Duration::hours(3)),
    ];
    for (c, want_seen, want_checked) in table {
        assert_eq!((seen(c), c.checked_at), (want_seen, want_checked));
    }
}

#[test]
fn files_come_and_go() {
    let tmp = TempDir::new(ambient_authority()).unwrap();
    let shown = Path::new("/run");
    let staged = state(Some(journey(Phase::Staged, 0)));
    publish_in(&tmp, shown, &snap(&staged, None)).unwrap();
    assert!(tmp.read_to_string(MOTD).unwrap().contains("is staged"));
    assert_eq!(
        tmp.read_to_string(REBOOT_REQUIRED).unwrap(),
        REBOOT_REQUIRED_TEXT
    );
    assert!(tmp
        .read_to_string(METRICS)
        .unwrap()
        .contains("phase=\"staged\"} 1"));
    let mode = |rel: &str| {
        use cap_std_ext::cap_std::fs::PermissionsExt;
        tmp.metadata(rel).unwrap().permissions().mode() & 0o777
    };
    assert_eq!((mode(MOTD), mode(METRICS)), (0o644, 0o644));

    let idle = state(None);
    publish_in(&tmp, shown, &snap(&idle, None)).unwrap();
    assert!(!tmp.exists(MOTD) && !tmp.exists(REBOOT_REQUIRED));
    assert!(tmp
        .read_to_string(METRICS)
        .unwrap()
        .contains("phase=\"idle\"} 1"));

    // Someone else's reboot flag stays.
    tmp.write(REBOOT_REQUIRED, "kernel update\n").unwrap();
    publish_in(&tmp, shown, &snap(&idle, None)).unwrap();
    assert_eq!(
        tmp.read_to_string(REBOOT_REQUIRED).unwrap(),
        "kernel update\n"
    );
}
