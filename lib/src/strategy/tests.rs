//! The decisions as printed: reasons in the window's zone, the JSON field, FleetLock answers.

use chrono::{DateTime, Utc, Weekday};

use super::*;
use crate::config::{TimeOfDay, TimeZone};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn sunday_0230() -> Vec<Window> {
    vec![Window {
        days: vec![Weekday::Sun],
        start_time: TimeOfDay::parse("02:30").unwrap(),
        length_minutes: 60,
    }]
}

#[test]
fn periodic_reasons_name_local_times() {
    let berlin = Zone::resolve(&TimeZone::Named("Europe/Berlin".into())).unwrap();
    let table = [
        (
            "2026-03-29T01:00:00Z",
            false,
            "outside the maintenance windows (Europe/Berlin): not rebooting now; the next window \
             opens 2026-03-29 03:30 CEST and closes 2026-03-29 04:30 CEST",
        ),
        (
            "2026-03-29T02:00:00Z",
            true,
            "inside the maintenance window until 2026-03-29 04:30 CEST (Europe/Berlin): rebooting now",
        ),
    ];
    for (now, allowed, reason) in table {
        let d = berlin.periodic(&sunday_0230(), "Europe/Berlin", t(now));
        assert_eq!((d.allowed, d.reason.as_str()), (allowed, reason), "{now}");
        assert_eq!(d.strategy, Strategy::Periodic);
    }
}

#[test]
fn periodic_json_carries_the_next_window() {
    let d = Zone::Utc.periodic(&sunday_0230(), "UTC", t("2026-03-09T00:00:00Z"));
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "strategy": "periodic",
            "allowed": false,
            "reason": d.reason,
            "window": {"start": "2026-03-15T02:30:00Z", "end": "2026-03-15T03:30:00Z"},
            "timeZone": "UTC",
        })
    );
}

#[test]
fn unknown_zones_are_errors() {
    let e = Zone::resolve(&TimeZone::Named("Mars/Olympus_Mons".into())).unwrap_err();
    assert!(
        format!("{e:#}").contains("\"Mars/Olympus_Mons\" is not a known IANA time zone"),
        "{e:#}"
    );
    assert!(Zone::resolve(&TimeZone::Localtime).is_ok());
}

#[test]
fn fleet_lock_answers() {
    let lock = |answer| LockAnswer {
        url: "http://lock:8080".into(),
        group: "workers".into(),
        node_uuid: "2f1e83a8eda0401987166e65011b9b67".into(),
        answer,
    };
    let granted = fleet_lock(lock(Answer::Granted));
    assert!(granted.allowed);
    assert_eq!(
        granted.reason,
        "FleetLock slot taken at http://lock:8080 (group workers): rebooting now"
    );
    let refused = fleet_lock(lock(Answer::Refused {
        status: 409,
        kind: Some("failed_lock".into()),
        value: Some("semaphore full".into()),
    }));
    assert!(!refused.allowed);
    assert_eq!(
        refused.reason,
        "not rebooting: the FleetLock server http://lock:8080 refused a reboot slot for group \
         workers (the lock is held elsewhere: HTTP 409, failed_lock: semaphore full); the next \
         run asks again"
    );
    let v = serde_json::to_value(&refused).unwrap();
    assert_eq!(
        v["lock"],
        serde_json::json!({"url": "http://lock:8080", "group": "workers",
            "nodeUuid": "2f1e83a8eda0401987166e65011b9b67", "answer": "refused",
            "status": 409, "kind": "failed_lock", "value": "semaphore full"})
    );
    assert!(immediate().allowed);
}
