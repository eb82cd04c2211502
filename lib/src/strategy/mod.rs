//! Reboot strategies (`updates.strategy`): whether `upgrade --apply` may reboot into a staged
//! hop now. `immediate` always may; `periodic` only inside a maintenance window
//! ([`periodic`]); `fleet_lock` only with a slot from a FleetLock server ([`fleet_lock`]).
//!
//! The decisions here are pure; talking to the lock server and rebooting happen in
//! `crate::cmd::reboot`. A decision is printed with the step (JSON field `reboot`) and its
//! `reason` is appended to the step's message.

pub mod backoff;
pub mod fleet_lock;
pub mod node_id;
pub mod periodic;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::config::{Strategy, Window};
use fleet_lock::Answer;
use periodic::Span;

/// What the strategy said about rebooting now (JSON field `reboot` of a `Step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebootDecision {
    pub strategy: Strategy,
    pub allowed: bool,
    /// Why, in words.
    pub reason: String,
    /// `periodic`: the open window, or the next one when not allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    /// `periodic`: the zone the windows are read in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `fleet_lock`: the server's answer to `pre-reboot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockAnswer>,
}

/// A FleetLock answer with who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockAnswer {
    pub url: String,
    pub group: String,
    pub node_uuid: String,
    #[serde(flatten)]
    pub answer: Answer,
}

/// `immediate`.
pub fn immediate() -> RebootDecision {
    RebootDecision {
        strategy: Strategy::Immediate,
        allowed: true,
        reason: "strategy immediate: rebooting now".into(),
        window: None,
        time_zone: None,
        lock: None,
    }
}

/// `periodic` in zone `tz` (shown as `zone_name`).
pub fn periodic<Tz: TimeZone>(
    windows: &[Window],
    tz: &Tz,
    zone_name: &str,
    now: DateTime<Utc>,
) -> RebootDecision
where
    Tz::Offset: std::fmt::Display,
{
    let d = periodic::decide(windows, tz, now);
    let local = |t: DateTime<Utc>| t.with_timezone(tz).format("%Y-%m-%d %H:%M %Z").to_string();
    let reason = match (d.allowed, d.window) {
        (true, Some(w)) => format!(
            "inside the maintenance window until {} ({zone_name}): rebooting now",
            local(w.end)
        ),
        (false, Some(w)) => format!(
            "outside the maintenance windows ({zone_name}): not rebooting now; the next window \
             opens {} and closes {}",
            local(w.start),
            local(w.end)
        ),
        _ => "no maintenance window is configured: not rebooting".into(),
    };
    RebootDecision {
        strategy: Strategy::Periodic,
        allowed: d.allowed,
        reason,
        window: d.window,
        time_zone: Some(zone_name.to_string()),
        lock: None,
    }
}

/// `fleet_lock`, once the server answered `pre-reboot`.
pub fn fleet_lock(lock: LockAnswer) -> RebootDecision {
    let (allowed, reason) = match &lock.answer {
        Answer::Granted => (
            true,
            format!(
                "FleetLock slot taken at {} (group {}): rebooting now",
                lock.url, lock.group
            ),
        ),
        refused => (
            false,
            format!(
                "not rebooting: the FleetLock server {} refused a reboot slot for group {} \
                 (the lock is held elsewhere: {}); the next run asks again",
                lock.url,
                lock.group,
                refused.describe()
            ),
        ),
    };
    RebootDecision {
        strategy: Strategy::FleetLock,
        allowed,
        reason,
        window: None,
        time_zone: None,
        lock: Some(lock),
    }
}

/// A configured time zone, ready for window math.
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    Utc,
    /// The system's zone (`TZ`, else `/etc/localtime`).
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn resolve(tz: &crate::config::TimeZone) -> Result<Self> {
        use crate::config::TimeZone as Cfg;
        Ok(match tz {
            Cfg::Utc => Self::Utc,
            Cfg::Localtime => Self::Local,
            Cfg::Named(name) => Self::Named(
                name.parse::<chrono_tz::Tz>()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{name:?} is not a known IANA time zone"))?,
            ),
        })
    }

    /// [`periodic()`] in this zone.
    pub fn periodic(self, windows: &[Window], name: &str, now: DateTime<Utc>) -> RebootDecision {
        match self {
            Self::Utc => periodic(windows, &Utc, name, now),
            Self::Local => periodic(windows, &chrono::Local, name, now),
            Self::Named(tz) => periodic(windows, &tz, name, now),
        }
    }
}

#[cfg(test)]
mod tests;
