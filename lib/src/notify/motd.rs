//! The message of the day (`/run/motd.d/85-bootc-checkpoint.motd`): a few lines for whoever logs
//! in while a journey is under way, blocked or failed, or while the host sits on a dead-end
//! release. Nothing to say: no file. Pure: the state, the step and `now` in, text out.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::Snapshot;
use crate::plan::ReasonCode;
use crate::state::{Journey, Phase};

/// The motd text, or `None` when there is nothing to tell.
pub fn render(s: &Snapshot<'_>) -> Option<String> {
    let mut out = match &s.state.journey {
        Some(j) => journey_lines(j, s.now),
        None => deadend_lines(s)?,
    };
    if let Some(r) = s.reboot.filter(|r| !r.allowed) {
        let _ = writeln!(out, "  reboot: {}", r.reason);
    }
    out.push_str("  Run `bootc-checkpoint status` for details.\n");
    Some(out)
}

fn journey_lines(j: &Journey, now: DateTime<Utc>) -> String {
    let hop = j.current_hop().map(|h| h.version.as_str()).unwrap_or("?");
    let target = j.hops.last().map(|h| h.version.as_str()).unwrap_or("?");
    let of = format!("hop {} of {}", j.current + 1, j.hops.len());
    let head = match j.phase {
        Phase::Staging => format!("staging {hop} ({of}) on the way to {target}"),
        Phase::Staged => {
            format!("{hop} ({of} on the way to {target}) is staged and boots at the next reboot")
        }
        Phase::Booted => format!("booted {hop} ({of} on the way to {target})"),
        Phase::Failed => format!(
            "{hop} ({of} on the way to {target}) failed to boot ({} attempt(s)); back on the previous release",
            j.attempts
        ),
        Phase::Blocked => format!(
            "the journey to {target} is blocked at {hop}: {}",
            j.blocked_reason.as_deref().unwrap_or("see the journey state")
        ),
    };
    let mut out = format!("bootc-checkpoint: {head}.\n");
    let _ = writeln!(
        out,
        "  path: {} (started {} ago)",
        j.hop_path(),
        ago(now - j.started_at)
    );
    if let Some(e) = &j.last_error {
        let _ = writeln!(out, "  last error: {e}");
    }
    out
}

fn deadend_lines(s: &Snapshot<'_>) -> Option<String> {
    let plan = s.step.and_then(|st| st.plan.as_ref())?;
    let why = plan.reason.as_deref().unwrap_or("no reason given");
    let head = match plan.reason_code? {
        ReasonCode::BootedDeadend => format!(
            "this host runs {}, a dead-end release, and will not update by itself ({why}); move it by hand",
            plan.booted
        ),
        ReasonCode::FinalDeadend => {
            format!("the only way forward from {} ends on a dead-end release ({why})", plan.booted)
        }
        _ => return None,
    };
    Some(format!("bootc-checkpoint: {head}.\n"))
}

/// A rough duration for humans: `45s`, `12m`, `3h`, `2d`.
pub fn ago(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}
