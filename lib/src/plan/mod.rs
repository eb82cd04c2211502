//! The path planner: from the booted release to the newest release this node may take, through
//! every checkpoint in order. Pure: graph, booted identity, policy and `now` in; a plan out.
//!
//! Edges follow Cincinnati's rules for Fedora CoreOS (see `docs/graph-format.md`): a target T
//! (a checkpoint, or an offered release) is reachable from every release between the last
//! checkpoint before T (inclusive) and T; a dead-end has no way out; a rollout hides T from
//! nodes warier than its throttle. Each hop takes the newest reachable target (Zincati's choice).
//! So from booted release `b`, the next hop is the newest visible target in `(b, C]`, where C is
//! the first checkpoint after `b`; the planner precomputes that in O(n) and answers each hop in
//! O(1), which keeps planning linear in the number of releases.

use std::collections::HashSet;

use serde::Serialize;

use crate::graph::{Release, UpdateGraph};
use crate::rollout::{holds_back, Wariness};

/// What the node knows about itself. Digest and commit identify a release; the version is
/// only used when neither matches (or is known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootedRef {
    pub digest: Option<String>,
    pub commit: Option<String>,
    pub version: Option<String>,
}

impl BootedRef {
    /// Interpret a user-given identifier: `ALGO:HEX` is a digest, 64 hex digits a commit,
    /// anything else a version.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        let hex64 = s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if crate::graph::check_digest(s).is_ok() {
            Self {
                digest: Some(s.to_string()),
                ..Default::default()
            }
        } else if hex64 {
            Self {
                commit: Some(s.to_ascii_lowercase()),
                ..Default::default()
            }
        } else {
            Self {
                version: Some(s.to_string()),
                ..Default::default()
            }
        }
    }

    fn label(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.commit.clone())
            .or_else(|| self.version.clone())
            .unwrap_or_else(|| "(unknown)".to_string())
    }
}

/// The node's planning policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub wariness: Wariness,
    /// Releases (version, digest or commit) never to be targeted again, e.g. rolled back from.
    pub denylist: Vec<String>,
}

impl Policy {
    pub fn new(wariness: Wariness) -> Self {
        Self {
            wariness,
            denylist: Vec::new(),
        }
    }
}

/// Overall answer of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    UpToDate,
    Path,
    Blocked,
}

/// Why a plan is blocked, or why an up-to-date node is not going further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReasonCode {
    /// The booted release is not in the graph.
    BootedUnknown,
    /// The booted release is a dead-end: it needs a manual move.
    BootedDeadend,
    /// A newer target exists but its rollout has not reached this node yet.
    RolloutPending,
    /// A newer target exists but this node rolled back from it.
    Denylisted,
    /// The path ends on a dead-end release.
    FinalDeadend,
}

/// Whether a hop stops at a checkpoint (and continues after its boot) or ends the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HopKind {
    Checkpoint,
    Final,
}

/// One deployment on the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    pub version: String,
    pub kind: HopKind,
    /// Position of the release in the graph (its age).
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The planner's answer for one booted release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Version of the booted release, or the given identifier when it is not in the graph.
    pub booted: String,
    pub status: Status,
    /// Version of the first hop, if any.
    pub next: Option<String>,
    pub hops: Vec<Hop>,
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

const NONE: usize = usize::MAX;

/// Plan once: a convenience over [`Planner`] for a single booted identity.
pub fn plan(graph: &UpdateGraph, booted: &BootedRef, policy: &Policy, now: i64) -> Plan {
    let planner = Planner::new(graph, policy, now);
    match find_booted(graph, booted) {
        Some(i) => planner.plan_index(i),
        None => planner.unknown(booted),
    }
}

/// Find the booted release: by digest (including `alsoKnownAs`) or commit, then by version.
pub fn find_booted(graph: &UpdateGraph, booted: &BootedRef) -> Option<usize> {
    let by_payload = graph.releases.iter().position(|r| {
        let digest_match = booted.digest.as_deref().is_some_and(|d| {
            r.digest.as_deref() == Some(d) || r.also_known_as.iter().any(|a| a == d)
        });
        let commit_match = booted
            .commit
            .as_deref()
            .is_some_and(|c| r.commit.as_deref() == Some(c));
        digest_match || commit_match
    });
    by_payload.or_else(|| {
        let v = booted.version.as_deref()?;
        graph.releases.iter().position(|r| r.version == v)
    })
}

/// A graph prepared for planning under one policy and clock.
#[derive(Debug)]
pub struct Planner<'g> {
    graph: &'g UpdateGraph,
    policy: &'g Policy,
    now: i64,
    /// First checkpoint strictly after `i`, or the last index when there is none.
    segment_end: Vec<usize>,
    /// Newest visible target at or before `i`, or `NONE`.
    best_upto: Vec<usize>,
}

impl<'g> Planner<'g> {
    pub fn new(graph: &'g UpdateGraph, policy: &'g Policy, now: i64) -> Self {
        let rels = &graph.releases;
        let n = rels.len();
        let denied: HashSet<&str> = policy.denylist.iter().map(String::as_str).collect();
        let mut best_upto = Vec::with_capacity(n);
        let mut best = NONE;
        for (i, r) in rels.iter().enumerate() {
            if visible_target(r, policy.wariness, now, &denied) {
                best = i;
            }
            best_upto.push(best);
        }
        let mut segment_end = vec![n.saturating_sub(1); n];
        for i in (0..n.saturating_sub(1)).rev() {
            segment_end[i] = if rels[i + 1].checkpoint.is_some() {
                i + 1
            } else {
                segment_end[i + 1]
            };
        }
        Self {
            graph,
            policy,
            now,
            segment_end,
            best_upto,
        }
    }

    /// The next hop from release `i`, if any (Zincati's choice on Cincinnati's edges).
    pub fn next_from(&self, i: usize) -> Option<usize> {
        if self.graph.releases[i].deadend.is_some() {
            return None;
        }
        let best = self.best_upto[self.segment_end[i]];
        (best != NONE && best > i).then_some(best)
    }

    /// Plan for the release at position `booted`.
    pub fn plan_index(&self, booted: usize) -> Plan {
        let rels = &self.graph.releases;
        let b = &rels[booted];
        if let Some(d) = &b.deadend {
            return Plan {
                booted: b.version.clone(),
                status: Status::Blocked,
                next: None,
                hops: Vec::new(),
                reason: Some(format!(
                    "booted release {} is a dead-end ({}): it cannot update automatically; \
                     move it to a supported release by hand",
                    b.version,
                    reason_text(&d.reason)
                )),
                reason_code: Some(ReasonCode::BootedDeadend),
            };
        }
        let mut hops = Vec::new();
        let mut cur = booted;
        while let Some(next) = self.next_from(cur) {
            let r = &rels[next];
            hops.push(Hop {
                version: r.version.clone(),
                kind: HopKind::Checkpoint,
                index: next,
                digest: r.digest.clone(),
                commit: r.commit.clone(),
            });
            cur = next;
        }
        if let Some(last) = hops.last_mut() {
            last.kind = HopKind::Final;
        }
        let (reason, reason_code) = match self.why_stopped(cur) {
            Some((code, text)) => (Some(text), Some(code)),
            None => (None, None),
        };
        Plan {
            booted: b.version.clone(),
            status: if hops.is_empty() {
                Status::UpToDate
            } else {
                Status::Path
            },
            next: hops.first().map(|h| h.version.clone()),
            hops,
            reason,
            reason_code,
        }
    }

    /// The plan for a booted identity that is not in the graph.
    pub fn unknown(&self, booted: &BootedRef) -> Plan {
        let label = booted.label();
        Plan {
            reason: Some(format!(
                "booted release {label} is not in the update graph{}",
                self.graph
                    .metadata
                    .stream
                    .as_deref()
                    .map(|s| format!(" of stream {s:?}"))
                    .unwrap_or_default()
            )),
            booted: label,
            status: Status::Blocked,
            next: None,
            hops: Vec::new(),
            reason_code: Some(ReasonCode::BootedUnknown),
        }
    }

    /// Why the path ends at `end`: a dead-end, or the newest target held back in its segment.
    fn why_stopped(&self, end: usize) -> Option<(ReasonCode, String)> {
        let rels = &self.graph.releases;
        if let Some(d) = &rels[end].deadend {
            return Some((
                ReasonCode::FinalDeadend,
                format!(
                    "{} is a dead-end ({}): hosts stay there until moved by hand",
                    rels[end].version,
                    reason_text(&d.reason)
                ),
            ));
        }
        let denied: HashSet<&str> = self.policy.denylist.iter().map(String::as_str).collect();
        let seg_end = self.segment_end[end];
        (end + 1..=seg_end).rev().find_map(|j| {
            let r = &rels[j];
            if !r.is_target() {
                return None;
            }
            if is_denied(r, &denied) {
                return Some((
                    ReasonCode::Denylisted,
                    format!(
                        "{} is denylisted on this node (it rolled back from it)",
                        r.version
                    ),
                ));
            }
            let ro = r.rollout.as_ref()?;
            holds_back(ro, self.policy.wariness, self.now).then(|| {
                (
                    ReasonCode::RolloutPending,
                    format!(
                        "{} is being rolled out ({:.0}% of the fleet so far); this node \
                         (wariness {:.3}) gets it later",
                        r.version,
                        100.0 * crate::rollout::throttle(ro, self.now).clamp(0.0, 1.0),
                        self.policy.wariness.value()
                    ),
                )
            })
        })
    }
}

fn visible_target(r: &Release, wariness: Wariness, now: i64, denied: &HashSet<&str>) -> bool {
    r.is_target()
        && !r
            .rollout
            .as_ref()
            .is_some_and(|ro| holds_back(ro, wariness, now))
        && !is_denied(r, denied)
}

fn is_denied(r: &Release, denied: &HashSet<&str>) -> bool {
    !denied.is_empty()
        && (denied.contains(r.version.as_str())
            || r.digest.as_deref().is_some_and(|d| denied.contains(d))
            || r.commit.as_deref().is_some_and(|c| denied.contains(c)))
}

/// Cincinnati shows an empty reason as "generic".
fn reason_text(reason: &str) -> &str {
    if reason.is_empty() {
        "generic"
    } else {
        reason
    }
}

#[cfg(test)]
mod tests;
