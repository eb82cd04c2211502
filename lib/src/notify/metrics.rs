//! The Prometheus textfile (`/run/bootc-checkpoint/metrics.prom`, for node_exporter's textfile
//! collector): the journey's phase, hops left, failed attempts, the graph's serial and age, the
//! last check, and recent errors by kind, in the text exposition format with `HELP` and `TYPE`
//! for every family. Pure: a [`Snapshot`] in, text out.

use std::fmt::Write as _;

use super::Snapshot;
use crate::plan::ReasonCode;
use crate::state::{EventKind, Phase};

/// Phases as label values (`idle`: no journey).
const PHASES: [(&str, Option<Phase>); 6] = [
    ("idle", None),
    ("staging", Some(Phase::Staging)),
    ("staged", Some(Phase::Staged)),
    ("booted", Some(Phase::Booted)),
    ("failed", Some(Phase::Failed)),
    ("blocked", Some(Phase::Blocked)),
];

/// Event kinds counted as errors, with their label values.
const ERROR_KINDS: [(&str, EventKind); 4] = [
    ("error", EventKind::Error),
    ("failed_boot", EventKind::Failed),
    ("blocked", EventKind::Blocked),
    ("denylisted", EventKind::Denylisted),
];

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP bootc_checkpoint_{name} {help}");
        let _ = writeln!(self.0, "# TYPE bootc_checkpoint_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "bootc_checkpoint_{name}{labels} {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, "gauge", help);
        self.sample(name, "", value);
    }
}

/// The whole textfile.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut o = Out(String::new());
    let journey = s.state.journey.as_ref();
    let phase = journey.map(|j| j.phase);
    o.family(
        "journey_phase",
        "gauge",
        "Phase of the checkpoint journey: 1 for the current one (idle: no journey).",
    );
    for (label, p) in PHASES {
        o.sample(
            "journey_phase",
            &format!("{{phase=\"{label}\"}}"),
            u8::from(p == phase),
        );
    }
    let hops_left = journey.map_or(0, |j| {
        let booted = usize::from(j.phase == Phase::Booted);
        j.hops.len().saturating_sub(j.current + booted)
    });
    o.gauge(
        "journey_hops_remaining",
        "Hops of the journey not booted yet (0 when idle).",
        hops_left,
    );
    o.gauge(
        "journey_attempts",
        "Failed boots of the current hop.",
        journey.map_or(0, |j| j.attempts),
    );
    o.gauge(
        "reboot_required",
        "1 while a hop is staged and waits for a reboot.",
        u8::from(phase == Some(Phase::Staged)),
    );
    let deadend = s.step.and_then(|st| st.plan.as_ref()).is_some_and(|p| {
        matches!(
            p.reason_code,
            Some(ReasonCode::BootedDeadend | ReasonCode::FinalDeadend)
        )
    });
    o.gauge(
        "deadend",
        "1 when the last check found the host on (or headed for) a dead-end release.",
        u8::from(deadend),
    );
    o.gauge(
        "denylisted_releases",
        "Releases this node will not take again.",
        s.state.denylist.len(),
    );
    if let Some(c) = s.last_check {
        o.gauge(
            "last_check_timestamp_seconds",
            "When the update graph was last checked (Unix time).",
            c.checked_at.timestamp(),
        );
        if let Some(g) = &c.graph {
            if let Some(serial) = g.serial {
                o.gauge(
                    "graph_serial",
                    "metadata.serial of the update graph last checked.",
                    serial,
                );
            }
            o.gauge(
                "graph_age_seconds",
                "Seconds since this node first saw the update graph it last checked (a stale \
                 graph stops changing).",
                (s.now - g.first_seen_at).num_seconds().max(0),
            );
        }
    }
    o.family(
        "recent_errors",
        "gauge",
        "Problems in the retained journey history (its last 200 events), by kind.",
    );
    for (label, kind) in ERROR_KINDS {
        let n = s.state.history.iter().filter(|e| e.kind == kind).count();
        o.sample("recent_errors", &format!("{{kind=\"{label}\"}}"), n);
    }
    o.0
}
