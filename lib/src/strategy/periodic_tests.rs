//! Window math against fixed clocks (DST in Berlin and New York, wraps past midnight and past
//! the end of the week, merged windows), and properties over random windows and zones.

use chrono::{DateTime, Duration, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::config::TimeOfDay;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn w(days: &[Weekday], start: &str, minutes: u32) -> Window {
    Window {
        days: days.to_vec(),
        start_time: TimeOfDay::parse(start).unwrap(),
        length_minutes: minutes,
    }
}

fn span(start: &str, end: &str) -> Option<Span> {
    Some(Span {
        start: t(start),
        end: t(end),
    })
}

use Weekday::{Mon, Sat, Sun};

/// (what, windows, zone, now, allowed, window)
type Case = (
    &'static str,
    Vec<Window>,
    Tz,
    &'static str,
    bool,
    Option<Span>,
);

#[test]
fn fixed_clocks() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let new_york: Tz = "America/New_York".parse().unwrap();
    let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
    let utc: Tz = "UTC".parse().unwrap();
    let table: Vec<Case> = vec![
        (
            "Berlin spring forward: 02:30 does not exist, the window opens at 03:30 CEST",
            vec![w(&[Sun], "02:30", 60)],
            berlin,
            "2026-03-29T01:00:00Z",
            false,
            span("2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"),
        ),
        (
            "Berlin spring forward: inside the shifted window",
            vec![w(&[Sun], "02:30", 60)],
            berlin,
            "2026-03-29T01:45:00Z",
            true,
            span("2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"),
        ),
        (
            "Berlin fall back: 02:30 happens twice, the window opened at the first one",
            vec![w(&[Sun], "02:30", 60)],
            berlin,
            "2026-10-25T01:35:00Z",
            false,
            span("2026-11-01T01:30:00Z", "2026-11-01T02:30:00Z"),
        ),
        (
            "Berlin fall back: inside the first 02:30",
            vec![w(&[Sun], "02:30", 60)],
            berlin,
            "2026-10-25T00:45:00Z",
            true,
            span("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
        ),
        (
            "New York spring forward: a 3-hour window keeps 3 hours of elapsed time",
            vec![w(&[Sun], "01:00", 180)],
            new_york,
            "2026-03-08T08:30:00Z",
            true,
            span("2026-03-08T06:00:00Z", "2026-03-08T09:00:00Z"),
        ),
        (
            "New York fall back: the second 01:45 is after the window (first 01:30 + 30 min)",
            vec![w(&[Sun], "01:30", 30)],
            new_york,
            "2026-11-01T06:45:00Z",
            false,
            span("2026-11-08T06:30:00Z", "2026-11-08T07:00:00Z"),
        ),
        (
            "wraps past midnight",
            vec![w(&[Sat], "23:00", 120)],
            utc,
            "2026-03-08T00:30:00Z",
            true,
            span("2026-03-07T23:00:00Z", "2026-03-08T01:00:00Z"),
        ),
        (
            "wraps past the end of the week (Sunday into Monday)",
            vec![w(&[Sun], "23:00", 180)],
            utc,
            "2026-03-09T01:59:00Z",
            true,
            span("2026-03-08T23:00:00Z", "2026-03-09T02:00:00Z"),
        ),
        (
            "the end is exclusive; the next opening is a week later",
            vec![w(&[Sun], "23:00", 180)],
            utc,
            "2026-03-09T02:00:00Z",
            false,
            span("2026-03-15T23:00:00Z", "2026-03-16T02:00:00Z"),
        ),
        (
            "the start is inclusive",
            vec![w(&[Mon], "10:00", 60)],
            utc,
            "2026-03-09T10:00:00Z",
            true,
            span("2026-03-09T10:00:00Z", "2026-03-09T11:00:00Z"),
        ),
        (
            "later the same day",
            vec![w(&[Mon], "10:00", 60)],
            utc,
            "2026-03-09T09:00:00Z",
            false,
            span("2026-03-09T10:00:00Z", "2026-03-09T11:00:00Z"),
        ),
        (
            "overlapping windows are one stretch",
            vec![w(&[Mon], "10:00", 120), w(&[Mon], "11:00", 120)],
            utc,
            "2026-03-09T12:30:00Z",
            true,
            span("2026-03-09T10:00:00Z", "2026-03-09T13:00:00Z"),
        ),
        (
            "touching windows are one stretch",
            vec![w(&[Mon], "10:00", 60), w(&[Mon], "11:00", 60)],
            utc,
            "2026-03-09T09:00:00Z",
            false,
            span("2026-03-09T10:00:00Z", "2026-03-09T12:00:00Z"),
        ),
        (
            "a zone with a half-hour offset",
            vec![w(&[Mon], "03:00", 60)],
            kolkata,
            "2026-03-08T21:00:00Z",
            false,
            span("2026-03-08T21:30:00Z", "2026-03-08T22:30:00Z"),
        ),
        (
            "no windows at all",
            vec![],
            utc,
            "2026-03-09T10:00:00Z",
            false,
            None,
        ),
    ];
    for (what, windows, tz, now, allowed, window) in table {
        let d = decide(&windows, &tz, t(now));
        assert_eq!(
            d,
            WindowDecision { allowed, window },
            "{what} (now {now}, {tz})"
        );
    }
}

#[test]
fn a_week_long_window_is_always_open() {
    let windows = [w(&[Mon], "00:00", crate::config::MAX_WINDOW_MINUTES)];
    for now in [
        "2026-03-09T00:00:00Z",
        "2026-03-15T23:59:59Z",
        "2026-07-01T12:00:00Z",
    ] {
        assert!(decide(&windows, &Utc, t(now)).allowed, "{now}");
    }
}

const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
];

fn window_strategy() -> impl Strategy<Value = Window> {
    (
        proptest::sample::subsequence(
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            1..=3,
        ),
        0u32..24,
        0u32..60,
        prop_oneof![1u32..=240, 1u32..=crate::config::MAX_WINDOW_MINUTES],
    )
        .prop_map(|(days, h, m, len)| w(&days, &format!("{h:02}:{m:02}"), len))
}

/// Minutes since Monday 00:00 (UTC).
fn minute_of_week(t: DateTime<Utc>) -> i64 {
    use chrono::{Datelike, Timelike};
    i64::from(t.weekday().num_days_from_monday()) * 1440
        + i64::from(t.hour()) * 60
        + i64::from(t.minute())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// In UTC (no DST) a window is plain minute-of-week arithmetic: an independent oracle.
    #[test]
    fn utc_matches_minute_of_week_arithmetic(
        windows in proptest::collection::vec(window_strategy(), 1..4),
        secs in 1_577_836_800i64..1_893_456_000,
    ) {
        let now = DateTime::from_timestamp(secs - secs % 60, 0).unwrap();
        let mow = minute_of_week(now);
        let oracle = windows.iter().any(|w| {
            w.days.iter().any(|d| {
                let start = i64::from(d.num_days_from_monday()) * 1440 + i64::from(w.start_time.minutes());
                (mow - start).rem_euclid(7 * 1440) < i64::from(w.length_minutes)
            })
        });
        prop_assert_eq!(decide(&windows, &Utc, now).allowed, oracle);
    }

    /// In any zone: allowed ⇔ inside the reported window; otherwise the next window starts
    /// after now, within a week (plus DST slack), is open at its start, and nothing between
    /// now and then is open.
    #[test]
    fn decision_is_consistent_in_every_zone(
        windows in proptest::collection::vec(window_strategy(), 1..4),
        zone in proptest::sample::select(ZONES.to_vec()),
        secs in 1_577_836_800i64..1_893_456_000,
    ) {
        let tz: Tz = zone.parse().unwrap();
        let now = DateTime::from_timestamp(secs, 0).unwrap();
        let d = decide(&windows, &tz, now);
        let s = d.window.expect("at least one window, so always an open or a next one");
        if d.allowed {
            prop_assert!(s.start <= now && now < s.end, "{:?} {}", s, now);
            prop_assert!(decide(&windows, &tz, s.start).allowed);
        } else {
            prop_assert!(s.start > now, "next {:?} not after {}", s, now);
            prop_assert!(s.start - now <= Duration::days(8));
            prop_assert!(decide(&windows, &tz, s.start).allowed);
            let gap = s.start - now;
            for k in 0..16 {
                let probe = now + gap * k / 16;
                prop_assert!(!decide(&windows, &tz, probe).allowed, "open at {} before {:?}", probe, s);
            }
            let just_before = s.start - Duration::seconds(1);
            prop_assert!(!decide(&windows, &tz, just_before).allowed);
        }
    }
}
