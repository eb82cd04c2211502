//! Maintenance windows (`strategy = "periodic"`): whether `now` is inside one of the weekly
//! windows, and when the open window closes or the next one opens. Pure: windows, a time zone
//! and `now` in, a [`WindowDecision`] out.
//!
//! A window opens at its wall-clock `start_time` in the zone on each of its days and stays open
//! for `length_minutes` of elapsed time, so it may run past midnight and past the end of the
//! week. Around DST changes:
//! * a start time that occurs twice (fall back) opens at its first occurrence;
//! * a start time that does not exist (spring forward) is read with the offset in force before
//!   the gap, i.e. it opens as far after the gap as it was into it (02:30 → 03:30 in Berlin);
//!   this is how RFC 5545 reads such times, and the window keeps its full length.
//!
//! Windows that overlap or touch are one window: the decision reports the whole stretch.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use serde::Serialize;

use crate::config::Window;

/// One stretch of time during which rebooting is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Whether a reboot is allowed now, and the window that says so (or the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDecision {
    pub allowed: bool,
    /// `allowed`: the open window; otherwise the next one (`None`: no windows at all).
    pub window: Option<Span>,
}

/// How many days around `now` window openings are computed. A window lasts at most a week, so
/// one covering `now` opened within the last 7 days and the next one opens within 7 days; the
/// extra days absorb DST shifts and let merged stretches show their real ends.
const LOOKAROUND_DAYS: i64 = 9;

/// Decide for `now` in zone `tz`.
pub fn decide<Tz: TimeZone>(windows: &[Window], tz: &Tz, now: DateTime<Utc>) -> WindowDecision {
    let spans = merge(occurrences(windows, tz, now));
    if let Some(open) = spans.iter().find(|s| s.start <= now && now < s.end) {
        return WindowDecision {
            allowed: true,
            window: Some(*open),
        };
    }
    WindowDecision {
        allowed: false,
        window: spans.into_iter().find(|s| s.start > now),
    }
}

/// Every opening of every window within [`LOOKAROUND_DAYS`] of `now`'s local date.
fn occurrences<Tz: TimeZone>(windows: &[Window], tz: &Tz, now: DateTime<Utc>) -> Vec<Span> {
    let today = now.with_timezone(tz).date_naive();
    let mut spans = Vec::new();
    for offset in -LOOKAROUND_DAYS..=LOOKAROUND_DAYS {
        let date = today + Duration::days(offset);
        for w in windows.iter().filter(|w| w.days.contains(&date.weekday())) {
            let t = w.start_time;
            let local = date
                .and_hms_opt(t.hour().into(), t.minute().into(), 0)
                .expect("TimeOfDay is a valid time");
            let start = instant_of(tz, local);
            spans.push(Span {
                start,
                end: start + Duration::minutes(w.length_minutes.into()),
            });
        }
    }
    spans
}

/// Sort and join spans that overlap or touch.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.start);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}

/// The instant a wall-clock time in `tz` stands for (see the module comment for DST).
pub fn instant_of<Tz: TimeZone>(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        LocalResult::None => {
            // Find the offset in force just before the gap: step back until the wall time
            // exists (gaps are at most a few hours; a day is a generous bound).
            let before = (1..=96)
                .map(|k| local - Duration::minutes(15 * k))
                .find_map(|t| tz.offset_from_local_datetime(&t).earliest())
                .map(|o| o.fix().local_minus_utc())
                .unwrap_or(0);
            (local - Duration::seconds(before.into())).and_utc()
        }
    }
}

#[cfg(test)]
#[path = "periodic_tests.rs"]
mod tests;
