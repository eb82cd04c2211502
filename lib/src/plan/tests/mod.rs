//! Planner tests: named cases and proptest properties over random graphs.
//!
//! The properties check the planner against DESIGN §4's invariants and against a brute-force
//! reference written here from Cincinnati's rules (explicit O(n²) edge list, then Zincati's
//! choice of the newest destination, hop after hop).

use super::*;

use chrono::DateTime;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::graph::{Reason, Rollout};

/// Every property runs this many cases (the brief asks for at least 2,000).
const CASES: u32 = 2000;

/// Rollouts start in `[BASE, BASE + WINDOW)` (or at the epoch); `now` is drawn around that.
const BASE: i64 = 1_700_000_000;
const WINDOW: i64 = 4 * 3600;
/// The longest generated rollout is 199 minutes.
const MAX_DURATION_MINUTES: u64 = 200;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// One random planning problem.
#[derive(Debug, Clone)]
struct Case {
    graph: UpdateGraph,
    wariness: f64,
    now: i64,
    denylist: Vec<String>,
    booted: usize,
}

impl Case {
    fn policy(&self) -> Policy {
        Policy {
            wariness: Wariness::new(self.wariness).unwrap(),
            denylist: self.denylist.clone(),
        }
    }

    fn plan(&self) -> Plan {
        let policy = self.policy();
        plan(
            &self.graph,
            &booted_ref(&self.graph.releases[self.booted]),
            &policy,
            self.now,
        )
    }
}

fn digest_of(i: usize) -> String {
    format!("sha256:{i:064x}")
}

/// A commit checksum distinct from every digest's hex part.
fn commit_of(i: usize) -> String {
    format!("{:064x}", (u128::from(i as u64) << 64) | 0xc0)
}

fn ts(secs: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

/// The identity a booted host of `r` reports: digest if it has one, else commit, else version.
fn booted_ref(r: &Release) -> BootedRef {
    if let Some(d) = &r.digest {
        BootedRef {
            digest: Some(d.clone()),
            ..Default::default()
        }
    } else if let Some(c) = &r.commit {
        BootedRef {
            commit: Some(c.clone()),
            ..Default::default()
        }
    } else {
        BootedRef {
            version: Some(r.version.clone()),
            ..Default::default()
        }
    }
}

fn arb_rollout() -> impl Strategy<Value = Rollout> {
    (
        prop_oneof![
            1 => Just(None),
            9 => (0..WINDOW).prop_map(|s| Some(BASE + s)),
        ],
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(0.0)),
            1 => Just(Some(1.0)),
            4 => (0.0f64..=1.0).prop_map(Some),
        ],
        prop::option::of(0u64..MAX_DURATION_MINUTES),
    )
        .prop_map(|(start, pct, minutes)| Rollout {
            start: start.map(ts),
            start_percentage: pct,
            duration_minutes: minutes,
            ..Default::default()
        })
}

/// Per-release random choices; turned into a `Release` once its position is known.
#[derive(Debug, Clone)]
struct RelSpec {
    checkpoint: bool,
    deadend: bool,
    offered: bool,
    digest: bool,
    commit: bool,
    rollout: Option<Rollout>,
    /// Whether, and how (0 version, 1 digest, 2 commit), the release is denylisted.
    deny: Option<u8>,
}

fn arb_rel_spec() -> impl Strategy<Value = RelSpec> {
    (
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.10),
        prop::bool::weighted(0.70),
        prop::bool::weighted(0.90),
        prop::bool::weighted(0.50),
        prop::option::weighted(0.30, arb_rollout()),
        prop::option::weighted(0.10, 0u8..3),
    )
        .prop_map(
            |(checkpoint, deadend, offered, digest, commit, rollout, deny)| RelSpec {
                checkpoint,
                deadend,
                offered,
                digest,
                commit,
                rollout,
                deny,
            },
        )
}

fn build(specs: &[RelSpec]) -> (UpdateGraph, Vec<String>) {
    let mut denylist = Vec::new();
    let releases = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut r = Release::new(format!("v{i}"));
            r.digest = s.digest.then(|| digest_of(i));
            r.commit = s.commit.then(|| commit_of(i));
            r.checkpoint = s
                .checkpoint
                .then(|| Reason::new(format!("https://example.com/cp/{i}")));
            // Every other dead-end has an empty reason (shown as "generic").
            r.deadend = s.deadend.then(|| {
                Reason::new(if i % 2 == 0 {
                    String::new()
                } else {
                    format!("bug {i}")
                })
            });
            r.offered = s.offered || s.checkpoint;
            r.rollout = s.rollout.clone();
            if let Some(form) = s.deny {
                denylist.push(match form {
                    1 => r.digest.clone().unwrap_or_else(|| r.version.clone()),
                    2 => r.commit.clone().unwrap_or_else(|| r.version.clone()),
                    _ => r.version.clone(),
                });
            }
            r
        })
        .collect();
    (UpdateGraph::new(releases), denylist)
}

fn arb_wariness() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(0.5),
        4 => 0.0f64..=1.0,
    ]
}

fn arb_now() -> impl Strategy<Value = i64> {
    let end = BASE + WINDOW + 60 * MAX_DURATION_MINUTES as i64;
    prop_oneof![
        1 => Just(0),
        1 => Just(BASE - 1),
        1 => Just(end + 1),
        8 => (BASE - 600)..(end + 600),
    ]
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(arb_rel_spec(), 1..60),
        arb_wariness(),
        arb_now(),
        any::<Index>(),
        // Denylist entries naming nothing in the graph must be harmless.
        prop::bool::weighted(0.2),
    )
        .prop_map(|(specs, wariness, now, booted, junk)| {
            let (graph, mut denylist) = build(&specs);
            if junk {
                denylist.push("v-not-in-graph".to_string());
                denylist.push(format!("sha256:{}", "f".repeat(64)));
            }
            let booted = booted.index(graph.releases.len());
            Case {
                graph,
                wariness,
                now,
                denylist,
                booted,
            }
        })
}

// ---------------------------------------------------------------------------------------------
// Brute-force reference (Cincinnati's edges, Zincati's choice)
// ---------------------------------------------------------------------------------------------

fn ref_denied(r: &Release, denylist: &[String]) -> bool {
    denylist.iter().any(|d| {
        *d == r.version || r.digest.as_deref() == Some(d) || r.commit.as_deref() == Some(d)
    })
}

fn ref_held_back(r: &Release, c: &Case) -> bool {
    let w = Wariness::new(c.wariness).unwrap();
    r.rollout
        .as_ref()
        .is_some_and(|ro| holds_back(ro, w, c.now))
}

/// The edges this node sees, computed naively: into each target T from the last checkpoint
/// strictly before T (inclusive, or 0) up to T-1; none out of dead-ends; none into releases
/// whose rollout holds this node back or that are denylisted.
fn reference_edges(c: &Case) -> Vec<(usize, usize)> {
    let rels = &c.graph.releases;
    let mut out = Vec::new();
    for t in 0..rels.len() {
        let target = &rels[t];
        if !target.is_target() || ref_held_back(target, c) || ref_denied(target, &c.denylist) {
            continue;
        }
        let from = (0..t)
            .rev()
            .find(|&k| rels[k].checkpoint.is_some())
            .unwrap_or(0);
        out.extend(
            (from..t)
                .filter(|&f| rels[f].deadend.is_none())
                .map(|f| (f, t)),
        );
    }
    out
}

/// Zincati: from the booted release, repeatedly take the edge to the newest destination.
fn reference_path(c: &Case) -> Vec<usize> {
    let edges = reference_edges(c);
    let mut path = Vec::new();
    let mut cur = c.booted;
    while let Some(next) = edges
        .iter()
        .filter(|&&(f, _)| f == cur)
        .map(|&(_, t)| t)
        .max()
    {
        assert!(next > cur, "reference edge goes backwards");
        path.push(next);
        cur = next;
    }
    path
}

/// Why the reference path stops at `end`: the booted or final dead-end, else the newest target
/// the node could have reached from `end` with no throttling and no denylist.
fn reference_reason(c: &Case, end: usize, hops: bool) -> Option<ReasonCode> {
    let rels = &c.graph.releases;
    if rels[end].deadend.is_some() {
        return Some(if hops {
            ReasonCode::FinalDeadend
        } else {
            ReasonCode::BootedDeadend
        });
    }
    let seg_end = (end + 1..rels.len())
        .find(|&k| rels[k].checkpoint.is_some())
        .unwrap_or(rels.len() - 1);
    let j = (end + 1..=seg_end).rev().find(|&j| rels[j].is_target())?;
    if ref_denied(&rels[j], &c.denylist) {
        Some(ReasonCode::Denylisted)
    } else if ref_held_back(&rels[j], c) {
        Some(ReasonCode::RolloutPending)
    } else {
        // A visible target: the reference path would have taken it. Never returned in practice.
        None
    }
}

fn hop_indices(p: &Plan) -> Vec<usize> {
    p.hops.iter().map(|h| h.index).collect()
}

fn checkpoints_after(g: &UpdateGraph, i: usize) -> usize {
    g.releases[i + 1..]
        .iter()
        .filter(|r| r.checkpoint.is_some())
        .count()
}

mod named;
mod properties;
