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

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// The generator only makes graphs the validator accepts.
    #[test]
    fn generated_graphs_are_valid(c in arb_case()) {
        let mut g = c.graph.clone();
        let report = crate::graph::validate(&mut g);
        prop_assert!(report.errors.is_empty(), "{:?}", report.errors);
        prop_assert_eq!(g, c.graph);
    }

    /// Along [booted] ++ hops, no checkpoint lies strictly between two consecutive positions.
    #[test]
    fn never_skips_a_checkpoint(c in arb_case()) {
        let p = c.plan();
        let mut positions = vec![c.booted];
        positions.extend(hop_indices(&p));
        for w in positions.windows(2) {
            let skipped = (w[0] + 1..w[1]).find(|&k| c.graph.releases[k].checkpoint.is_some());
            prop_assert!(skipped.is_none(), "hop {} -> {} skips checkpoint {:?}", w[0], w[1], skipped);
        }
    }

    /// Hops go strictly forward in age, stay in the graph, and there are at most
    /// (checkpoints after booted) + 1 of them.
    #[test]
    fn hops_increase_and_are_bounded(c in arb_case()) {
        let p = c.plan();
        let n = c.graph.releases.len();
        let mut prev = c.booted;
        for h in &p.hops {
            prop_assert!(h.index < n);
            prop_assert!(h.index > prev, "downgrade or repeat: {} after {}", h.index, prev);
            prev = h.index;
            let r = &c.graph.releases[h.index];
            prop_assert_eq!(&h.version, &r.version);
            prop_assert_eq!(&h.digest, &r.digest);
            prop_assert_eq!(&h.commit, &r.commit);
        }
        prop_assert!(p.hops.len() <= checkpoints_after(&c.graph, c.booted) + 1);
    }

    /// Every hop but the last stops at a checkpoint release; the last is Final.
    #[test]
    fn hop_kinds(c in arb_case()) {
        let p = c.plan();
        if let Some((last, init)) = p.hops.split_last() {
            prop_assert_eq!(last.kind, HopKind::Final);
            for h in init {
                prop_assert_eq!(h.kind, HopKind::Checkpoint);
                prop_assert!(c.graph.releases[h.index].checkpoint.is_some());
            }
        }
    }

    /// No hop targets a denylisted release (by version, digest or commit).
    #[test]
    fn never_targets_denylisted(c in arb_case()) {
        let p = c.plan();
        for h in &p.hops {
            let r = &c.graph.releases[h.index];
            prop_assert!(!ref_denied(r, &c.denylist), "hop to denylisted {}", r.version);
            prop_assert!(!c.denylist.contains(&h.version));
        }
    }

    /// A booted dead-end is Blocked with no hops; no hop departs from a dead-end.
    #[test]
    fn deadends(c in arb_case()) {
        let p = c.plan();
        if c.graph.releases[c.booted].deadend.is_some() {
            prop_assert_eq!(p.status, Status::Blocked);
            prop_assert_eq!(p.reason_code, Some(ReasonCode::BootedDeadend));
            prop_assert!(p.hops.is_empty());
            prop_assert!(p.next.is_none());
            prop_assert!(p.reason.is_some());
        }
        if let Some((_, init)) = p.hops.split_last() {
            for h in init {
                prop_assert!(c.graph.releases[h.index].deadend.is_none(),
                    "hop departs from dead-end {}", h.version);
            }
        }
        if p.hops.last().is_some_and(|h| c.graph.releases[h.index].deadend.is_some()) {
            prop_assert_eq!(p.reason_code, Some(ReasonCode::FinalDeadend));
        }
    }

    /// Every hop is a target the node can see: offered (or a checkpoint), not held back.
    #[test]
    fn hops_are_visible_targets(c in arb_case()) {
        let p = c.plan();
        let w = Wariness::new(c.wariness).unwrap();
        for h in &p.hops {
            let r = &c.graph.releases[h.index];
            prop_assert!(r.is_target(), "{} is not a target", r.version);
            if let Some(ro) = &r.rollout {
                prop_assert!(!crate::rollout::holds_back(ro, w, c.now),
                    "{} is held back by its rollout", r.version);
            }
        }
    }

    /// The plan is exactly Zincati's walk over a naive Cincinnati edge list, and the reason the
    /// path stops matches the reference's.
    #[test]
    fn agrees_with_brute_force(c in arb_case()) {
        let p = c.plan();
        let want = reference_path(&c);
        let want_versions: Vec<&str> =
            want.iter().map(|&i| c.graph.releases[i].version.as_str()).collect();
        let got_versions: Vec<&str> = p.hops.iter().map(|h| h.version.as_str()).collect();
        prop_assert_eq!(&got_versions, &want_versions);
        prop_assert_eq!(hop_indices(&p), want.clone());
        let end = want.last().copied().unwrap_or(c.booted);
        prop_assert_eq!(p.reason_code, reference_reason(&c, end, !want.is_empty()));
        prop_assert_eq!(p.reason.is_some(), p.reason_code.is_some());
        // `next_from` is the reference's one-step choice.
        let policy = c.policy();
        let planner = Planner::new(&c.graph, &policy, c.now);
        let mut cur = c.booted;
        for &h in &want {
            prop_assert_eq!(planner.next_from(cur), Some(h));
            cur = h;
        }
        prop_assert_eq!(planner.next_from(cur), None);
    }

    /// With wariness 0 and no denylist, the reference sees the unthrottled edge list exactly as
    /// `graph::edges` computes it (cross-checks the reference itself).
    #[test]
    fn reference_matches_graph_edges(mut c in arb_case()) {
        c.wariness = 0.0;
        c.denylist.clear();
        let mut want = reference_edges(&c);
        want.sort_unstable();
        prop_assert_eq!(want, crate::graph::edges(&c.graph));
    }

    /// Planning is deterministic and independent of how the booted release is named.
    #[test]
    fn deterministic_and_identity_independent(c in arb_case()) {
        let policy = c.policy();
        let r = &c.graph.releases[c.booted];
        let first = c.plan();
        prop_assert_eq!(&c.plan(), &first);
        let planner = Planner::new(&c.graph, &policy, c.now);
        prop_assert_eq!(&planner.plan_index(c.booted), &first);
        prop_assert_eq!(&planner.plan_index(c.booted), &first);
        // The version of another release if there is one ("v-stale" otherwise).
        let n = c.graph.releases.len();
        let other = if n > 1 {
            c.graph.releases[(c.booted + 1) % n].version.clone()
        } else {
            "v-stale".to_string()
        };
        let mut refs = vec![BootedRef { version: Some(r.version.clone()), ..Default::default() },
                            BootedRef::parse(&r.version)];
        if let Some(d) = &r.digest {
            refs.push(BootedRef { digest: Some(d.clone()), ..Default::default() });
            refs.push(BootedRef::parse(d));
            // A digest match wins over a stale version, even one naming another release.
            refs.push(BootedRef { digest: Some(d.clone()), version: Some(other.clone()), ..Default::default() });
        }
        if let Some(cm) = &r.commit {
            refs.push(BootedRef { commit: Some(cm.clone()), ..Default::default() });
            refs.push(BootedRef::parse(cm));
            refs.push(BootedRef { commit: Some(cm.clone()), version: Some(other.clone()), ..Default::default() });
        }
        for b in refs {
            prop_assert_eq!(find_booted(&c.graph, &b), Some(c.booted), "{:?}", b);
            prop_assert_eq!(&plan(&c.graph, &b, &policy, c.now), &first, "{:?}", b);
        }
        // A planner shared by every booted release answers like fresh ones.
        for i in 0..c.graph.releases.len() {
            let fresh = Planner::new(&c.graph, &policy, c.now).plan_index(i);
            prop_assert_eq!(planner.plan_index(i), fresh);
        }
    }

    /// Status is UpToDate iff there are no hops and booted is not a dead-end; `next` is the
    /// first hop.
    #[test]
    fn status_and_next(c in arb_case()) {
        let p = c.plan();
        let booted_dead = c.graph.releases[c.booted].deadend.is_some();
        prop_assert_eq!(&p.booted, &c.graph.releases[c.booted].version);
        prop_assert_eq!(p.status == Status::UpToDate, p.hops.is_empty() && !booted_dead);
        prop_assert_eq!(p.status == Status::Path, !p.hops.is_empty());
        prop_assert_eq!(p.status == Status::Blocked, booted_dead);
        prop_assert_eq!(p.next.as_deref(), p.hops.first().map(|h| h.version.as_str()));
        // The JSON form always serializes.
        prop_assert!(serde_json::to_string(&p).is_ok());
    }

    /// A booted release that is not in the graph is a status, never a panic.
    #[test]
    fn unknown_booted_is_blocked(c in arb_case(), which in 0u8..5) {
        let policy = c.policy();
        let b = match which {
            0 => BootedRef { digest: Some(format!("sha256:{}", "e".repeat(64))), ..Default::default() },
            1 => BootedRef { commit: Some("d".repeat(64)), ..Default::default() },
            2 => BootedRef { version: Some("v-unknown".into()), ..Default::default() },
            3 => BootedRef::default(),
            _ => BootedRef::parse("sha512:not-a-digest"),
        };
        for g in [c.graph.clone(), UpdateGraph::new(Vec::new())] {
            prop_assert_eq!(find_booted(&g, &b), None);
            let p = plan(&g, &b, &policy, c.now);
            prop_assert_eq!(p.status, Status::Blocked);
            prop_assert_eq!(p.reason_code, Some(ReasonCode::BootedUnknown));
            prop_assert!(p.hops.is_empty());
            prop_assert!(p.next.is_none());
            prop_assert!(p.reason.is_some());
        }
    }

    /// Before any rollout starts, wariness 0.0 sees every rollout target (as if there were no
    /// rollouts), while any higher wariness sees none of them.
    #[test]
    fn zero_wariness_sees_rollouts_before_start(
        c in arb_case(),
        all_rollouts in any::<bool>(),
        before in 1i64..100_000,
        w in prop_oneof![Just(f64::MIN_POSITIVE), 1e-9f64..=1.0],
    ) {
        let mut c = c;
        c.now = BASE - before;
        // Give every target (or every existing rollout) a start in the future.
        for (i, r) in c.graph.releases.iter_mut().enumerate() {
            if all_rollouts && r.is_target() && r.rollout.is_none() {
                r.rollout = Some(Rollout {
                    start_percentage: Some(0.0),
                    duration_minutes: Some(60),
                    ..Default::default()
                });
            }
            if let Some(ro) = &mut r.rollout {
                ro.start = Some(ts(BASE + (i as i64 % 7) * 60));
            }
        }
        c.wariness = 0.0;
        let policy = c.policy();
        let zero = Planner::new(&c.graph, &policy, c.now);
        for r in &c.graph.releases {
            if let Some(ro) = &r.rollout {
                prop_assert!(!holds_back(ro, policy.wariness, c.now));
            }
        }
        let mut stripped = c.graph.clone();
        for r in &mut stripped.releases {
            r.rollout = None;
        }
        let bare = Planner::new(&stripped, &policy, c.now);
        for i in 0..c.graph.releases.len() {
            prop_assert_eq!(zero.plan_index(i), bare.plan_index(i));
        }

        // Any positive wariness sees no release whose rollout has not started.
        let warier = Policy { wariness: Wariness::new(w).unwrap(), denylist: c.denylist.clone() };
        let p = plan(&c.graph, &booted_ref(&c.graph.releases[c.booted]), &warier, c.now);
        for h in &p.hops {
            prop_assert!(c.graph.releases[h.index].rollout.is_none());
        }
        if all_rollouts {
            prop_assert!(p.hops.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Named cases
// ---------------------------------------------------------------------------------------------

/// Builders for hand-written releases; every release is pinned by a digest derived from its
/// version unless made `unpinned`.
trait RelExt {
    fn cp(self) -> Self;
    fn dead(self) -> Self;
    fn hidden(self) -> Self;
    fn unpinned(self) -> Self;
    fn roll(self, start: i64, pct: f64, minutes: u64) -> Self;
}

impl RelExt for Release {
    fn cp(mut self) -> Self {
        self.checkpoint = Some(Reason::new("https://example.com/checkpoint"));
        self
    }
    fn dead(mut self) -> Self {
        self.deadend = Some(Reason::new(""));
        self
    }
    fn hidden(mut self) -> Self {
        self.offered = false;
        self
    }
    fn unpinned(mut self) -> Self {
        self.digest = None;
        self.commit = None;
        self
    }
    fn roll(mut self, start: i64, pct: f64, minutes: u64) -> Self {
        self.rollout = Some(Rollout {
            start: Some(ts(start)),
            start_percentage: Some(pct),
            duration_minutes: Some(minutes),
            ..Default::default()
        });
        self
    }
}

fn named_digest(v: &str) -> String {
    // FNV-1a: distinct for the short names used here.
    let h = v.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("sha256:{h:064x}")
}

fn rel(v: &str) -> Release {
    let mut r = Release::new(v);
    r.digest = Some(named_digest(v));
    r
}

/// Named cases run at `NOW`: a rollout from `BASE` lasting 60 minutes is at 50 %.
const NOW: i64 = BASE + 30 * 60;

struct Named {
    name: &'static str,
    releases: Vec<Release>,
    booted: &'static str,
    wariness: f64,
    denylist: Vec<String>,
    hops: &'static [(&'static str, HopKind)],
    status: Status,
    code: Option<ReasonCode>,
}

fn named_cases() -> Vec<Named> {
    use HopKind::{Checkpoint as Cp, Final};
    let abc = || vec![rel("A"), rel("B").cp(), rel("C")];
    let two = || vec![rel("A"), rel("B").cp(), rel("C"), rel("D").cp(), rel("E")];
    let throttled = || {
        vec![
            rel("A"),
            rel("B"),
            rel("C").cp().roll(BASE, 0.0, 60),
            rel("D"),
        ]
    };
    let n = |name, releases, booted, hops, status, code| Named {
        name,
        releases,
        booted,
        wariness: 0.5,
        denylist: Vec::new(),
        hops,
        status,
        code,
    };
    vec![
        n(
            "A -> B(cp) -> C",
            abc(),
            "A",
            &[("B", Cp), ("C", Final)],
            Status::Path,
            None,
        ),
        n(
            "booted on the checkpoint",
            abc(),
            "B",
            &[("C", Final)],
            Status::Path,
            None,
        ),
        n("newest already", abc(), "C", &[], Status::UpToDate, None),
        n(
            "two checkpoints",
            two(),
            "A",
            &[("B", Cp), ("D", Cp), ("E", Final)],
            Status::Path,
            None,
        ),
        n(
            "two checkpoints, booted between",
            two(),
            "C",
            &[("D", Cp), ("E", Final)],
            Status::Path,
            None,
        ),
        n(
            "newest release is a checkpoint: one Final hop",
            vec![rel("A"), rel("B"), rel("C").cp()],
            "A",
            &[("C", Final)],
            Status::Path,
            None,
        ),
        n(
            "adjacent checkpoints",
            vec![rel("A"), rel("B").cp(), rel("C").cp(), rel("D")],
            "A",
            &[("B", Cp), ("C", Cp), ("D", Final)],
            Status::Path,
            None,
        ),
        Named {
            wariness: 0.9,
            ..n(
                "throttled checkpoint stops the path before it",
                throttled(),
                "A",
                &[("B", Final)],
                Status::Path,
                Some(ReasonCode::RolloutPending),
            )
        },
        Named {
            wariness: 0.9,
            ..n(
                "throttled checkpoint right after booted",
                vec![rel("A"), rel("C").cp().roll(BASE, 0.0, 60), rel("D")],
                "A",
                &[],
                Status::UpToDate,
                Some(ReasonCode::RolloutPending),
            )
        },
        Named {
            wariness: 0.3,
            ..n(
                "throttled checkpoint already reached this node",
                throttled(),
                "A",
                &[("C", Cp), ("D", Final)],
                Status::Path,
                None,
            )
        },
        Named {
            wariness: 0.0,
            ..n(
                "wariness 0 sees a rollout before it starts",
                vec![rel("A"), rel("B").roll(BASE + 86_400, 0.0, 60)],
                "A",
                &[("B", Final)],
                Status::Path,
                None,
            )
        },
        Named {
            wariness: 0.01,
            ..n(
                "wariness above 0 waits for the rollout to start",
                vec![rel("A"), rel("B").roll(BASE + 86_400, 0.0, 60)],
                "A",
                &[],
                Status::UpToDate,
                Some(ReasonCode::RolloutPending),
            )
        },
        Named {
            denylist: vec!["B".into()],
            ..n(
                "denylisted checkpoint",
                abc(),
                "A",
                &[],
                Status::UpToDate,
                Some(ReasonCode::Denylisted),
            )
        },
        Named {
            denylist: vec![named_digest("B")],
            ..n(
                "denylisted checkpoint, by digest",
                abc(),
                "A",
                &[],
                Status::UpToDate,
                Some(ReasonCode::Denylisted),
            )
        },
        Named {
            denylist: vec!["B".into()],
            ..n(
                "denylisted checkpoint, offered release before it",
                vec![rel("A"), rel("X"), rel("B").cp(), rel("C")],
                "A",
                &[("X", Final)],
                Status::Path,
                Some(ReasonCode::Denylisted),
            )
        },
        Named {
            denylist: vec!["C".into()],
            ..n(
                "denylisted newest falls back to the one before",
                vec![rel("A"), rel("B"), rel("C")],
                "A",
                &[("B", Final)],
                Status::Path,
                Some(ReasonCode::Denylisted),
            )
        },
        n(
            "booted dead-end",
            vec![rel("A").dead(), rel("B")],
            "A",
            &[],
            Status::Blocked,
            Some(ReasonCode::BootedDeadend),
        ),
        n(
            "dead-end passed over",
            vec![rel("A"), rel("B").dead(), rel("C")],
            "A",
            &[("C", Final)],
            Status::Path,
            None,
        ),
        n(
            "path ends on a dead-end",
            vec![rel("A"), rel("B").cp(), rel("C").dead()],
            "A",
            &[("B", Cp), ("C", Final)],
            Status::Path,
            Some(ReasonCode::FinalDeadend),
        ),
        n(
            "checkpoint that is a dead-end: the journey stops there",
            vec![rel("A"), rel("B").cp().dead(), rel("C")],
            "A",
            &[("B", Final)],
            Status::Path,
            Some(ReasonCode::FinalDeadend),
        ),
        n(
            "checkpoint with offered: false is still a target",
            vec![rel("A"), rel("B").cp().hidden(), rel("C")],
            "A",
            &[("B", Cp), ("C", Final)],
            Status::Path,
            None,
        ),
        n(
            "not offered is no target",
            vec![rel("A"), rel("B").hidden()],
            "A",
            &[],
            Status::UpToDate,
            None,
        ),
        n(
            "not offered skipped for an older offered one",
            vec![rel("A"), rel("B"), rel("C").hidden()],
            "A",
            &[("B", Final)],
            Status::Path,
            None,
        ),
        n(
            "unknown booted",
            abc(),
            "Z",
            &[],
            Status::Blocked,
            Some(ReasonCode::BootedUnknown),
        ),
        n(
            "unpinned final hop",
            vec![rel("A"), rel("B").unpinned()],
            "A",
            &[("B", Final)],
            Status::Path,
            None,
        ),
        n(
            "unpinned checkpoint",
            vec![rel("A"), rel("B").cp().unpinned(), rel("C")],
            "A",
            &[("B", Cp), ("C", Final)],
            Status::Path,
            None,
        ),
    ]
}

#[test]
fn named() {
    for case in named_cases() {
        let graph = UpdateGraph::new(case.releases);
        let policy = Policy {
            wariness: Wariness::new(case.wariness).unwrap(),
            denylist: case.denylist,
        };
        let p = plan(&graph, &BootedRef::parse(case.booted), &policy, NOW);
        let got: Vec<(&str, HopKind)> = p
            .hops
            .iter()
            .map(|h| (h.version.as_str(), h.kind))
            .collect();
        assert_eq!(got, case.hops, "{}: hops ({p:?})", case.name);
        assert_eq!(p.status, case.status, "{}: status ({p:?})", case.name);
        assert_eq!(
            p.reason_code, case.code,
            "{}: reason code ({p:?})",
            case.name
        );
        assert_eq!(
            p.reason.is_some(),
            case.code.is_some(),
            "{}: reason ({p:?})",
            case.name
        );
        assert_eq!(
            p.next.as_deref(),
            case.hops.first().map(|h| h.0),
            "{}: next",
            case.name
        );
        // Hops carry the release's pin, or none.
        for h in &p.hops {
            let r = &graph.releases[h.index];
            assert_eq!(h.digest, r.digest, "{}: {} digest", case.name, h.version);
            assert_eq!(h.commit, r.commit, "{}: {} commit", case.name, h.version);
        }
    }
}

#[test]
fn unpinned_hops_have_no_digest() {
    let graph = UpdateGraph::new(vec![
        rel("A"),
        rel("B").cp().unpinned(),
        rel("C").unpinned(),
    ]);
    let p = plan(
        &graph,
        &BootedRef::parse("A"),
        &Policy::new(Wariness::new(0.5).unwrap()),
        NOW,
    );
    assert_eq!(p.hops.len(), 2);
    assert!(p
        .hops
        .iter()
        .all(|h| h.digest.is_none() && h.commit.is_none()));
    let json = serde_json::to_value(&p).unwrap();
    assert!(json["hops"][0].get("digest").is_none(), "{json}");
    assert_eq!(json["hops"][0]["kind"], "checkpoint");
    assert_eq!(json["hops"][1]["kind"], "final");
}

#[test]
fn booted_by_commit_and_digest() {
    let mut a = rel("A");
    a.commit = Some(commit_of(1));
    let graph = UpdateGraph::new(vec![a, rel("B").cp(), rel("C")]);
    let policy = Policy::new(Wariness::new(1.0).unwrap());
    let want: Vec<&str> = vec!["B", "C"];
    for s in [commit_of(1), named_digest("A"), "A".to_string()] {
        let p = plan(&graph, &BootedRef::parse(&s), &policy, NOW);
        let got: Vec<&str> = p.hops.iter().map(|h| h.version.as_str()).collect();
        assert_eq!(got, want, "booted as {s}");
        assert_eq!(p.booted, "A");
    }
    // Digest, then commit, then version: a payload match wins over a version naming another
    // release.
    let stale = BootedRef {
        digest: Some(named_digest("A")),
        version: Some("B".into()),
        ..Default::default()
    };
    assert_eq!(find_booted(&graph, &stale), Some(0));
    let stale = BootedRef {
        commit: Some(commit_of(1)),
        version: Some("C".into()),
        ..Default::default()
    };
    assert_eq!(find_booted(&graph, &stale), Some(0));
    let unknown_digest = BootedRef {
        digest: Some(named_digest("Z")),
        version: Some("B".into()),
        ..Default::default()
    };
    assert_eq!(find_booted(&graph, &unknown_digest), Some(1));
    let p = plan(&graph, &BootedRef::parse(&commit_of(2)), &policy, NOW);
    assert_eq!(p.reason_code, Some(ReasonCode::BootedUnknown));
    assert_eq!(p.booted, commit_of(2));
}

#[test]
fn dead_end_reason_text_is_generic_when_empty() {
    let graph = UpdateGraph::new(vec![rel("A").dead(), rel("B")]);
    let p = plan(
        &graph,
        &BootedRef::parse("A"),
        &Policy::new(Wariness::new(0.5).unwrap()),
        NOW,
    );
    assert!(p.reason.as_deref().unwrap().contains("generic"), "{p:?}");
}
