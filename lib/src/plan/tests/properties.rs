//! Proptest properties of the planner over random graphs (DESIGN §4 invariants and agreement
//! with the brute-force reference).

use super::*;

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
