//! Named, table-driven planner cases over hand-built graphs.

use super::*;

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
