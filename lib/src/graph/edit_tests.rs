//! Publishing edits: a table of edits on one graph with their exact outcomes, and properties
//! over random graphs (inputs never change, markers round-trip, output always validates).

use proptest::prelude::*;

use super::*;
use crate::graph::draft::{parse_draft, render, Syntax};

pub(crate) fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

fn pinned(version: &str, n: usize) -> Release {
    let mut r = Release::new(version);
    r.digest = Some(digest(n));
    r
}

/// A, B (checkpoint), C (dead-end), D (not offered); serial 5.
fn base() -> UpdateGraph {
    let mut g = new_graph("stable", Some("quay.io/example/os"), 5);
    g.releases = vec![
        pinned("A", 0),
        pinned("B", 1),
        pinned("C", 2),
        pinned("D", 3),
    ];
    g.releases[1].checkpoint = Some(Reason::new("https://b"));
    g.releases[2].deadend = Some(Reason::new("gone"));
    g.releases[3].offered = false;
    g
}

/// Releases with their markers: `B+c` checkpoint, `+d` dead-end, `+r` rollout, `-` not offered.
fn marks(g: &UpdateGraph) -> String {
    let one = |r: &Release| {
        let mut s = r.version.clone();
        for (on, tag) in [
            (r.checkpoint.is_some(), "+c"),
            (r.deadend.is_some(), "+d"),
            (r.rollout.is_some(), "+r"),
            (!r.offered, "-"),
        ] {
            if on {
                s.push_str(tag);
            }
        }
        s
    };
    g.releases.iter().map(one).collect::<Vec<_>>().join(" ")
}

fn cp(v: &str, reason: &str) -> Edit {
    Edit::Checkpoint {
        version: v.into(),
        reason: reason.into(),
    }
}

fn remove(v: &str, marker: Marker) -> Edit {
    Edit::Remove {
        version: v.into(),
        marker,
    }
}

fn rollout(v: &str, pct: f64) -> Edit {
    Edit::Rollout {
        version: v.into(),
        rollout: Rollout {
            start: Some("2025-01-06T00:00:00Z".parse().unwrap()),
            start_percentage: Some(pct),
            duration_minutes: Some(60),
            ..Rollout::default()
        },
    }
}

#[test]
fn edits() {
    let with = |f: fn(&mut Release)| {
        let mut r = pinned("E", 9);
        f(&mut r);
        Edit::Add(Box::new(r))
    };
    // (edit, requested serial, Ok((marks, serial)) or Err(exact "path: message" prefix))
    type Want = Result<(&'static str, u64), &'static str>;
    let table: Vec<(Edit, Option<u64>, Want)> = vec![
        (Edit::Add(Box::new(pinned("E", 9))), None, Ok(("A B+c C+d D- E", 6))),
        (Edit::Add(Box::new(pinned("E", 9))), Some(100), Ok(("A B+c C+d D- E", 100))),
        (
            Edit::Add(Box::new(pinned("E", 9))),
            Some(5),
            Err("$.metadata.serial: --serial 5 does not increase the current serial 5: nodes \
                 that accepted serial 5 would refuse this graph as a rollback"),
        ),
        (
            Edit::Add(Box::new(pinned("B", 9))),
            None,
            Err("$.releases[1].version: version \"B\" is already in the graph (age 1 of 4); a \
                 release is added once, as the newest"),
        ),
        (
            with(|r| r.digest = Some("sha256:xyz".into())),
            None,
            Err("$.releases[4].digest: malformed digest \"sha256:xyz\": sha256 needs 64 \
                 lower-case hex digits"),
        ),
        (
            with(|r| r.digest = Some(digest(0))),
            None,
            Err("$.releases[4].digest: digest sha256:0000000000000000000000000000000000000000000000000000000000000000 already identifies release \"A\" ($.releases[0])"),
        ),
        (
            with(|r| r.commit = Some("abc".into())),
            None,
            Err("$.releases[4].commit: malformed ostree commit \"abc\""),
        ),
        (with(|r| r.version = " ".into()), None, Err("$.releases[4].version: empty version")),
        (cp("A", "https://a"), None, Ok(("A+c B+c C+d D-", 6))),
        (cp("B", "https://b"), None, Ok(("A B+c C+d D-", 5))),
        (cp("B", "https://b2"), Some(9), Ok(("A B+c C+d D-", 9))),
        (
            cp("X", "r"),
            None,
            Err("$.releases: no release has version \"X\" (4 releases, newest \"D\")"),
        ),
        (
            cp("D", "r"),
            None,
            Err("$.releases[3].offered: a checkpoint is always an update target"),
        ),
        (remove("B", Marker::Checkpoint), None, Ok(("A B C+d D-", 6))),
        (
            remove("A", Marker::Checkpoint),
            None,
            Err("$.releases[0].checkpoint: release \"A\" is not a checkpoint; nothing to remove"),
        ),
        (
            Edit::Deadend {
                version: "A".into(),
                reason: "r".into(),
            },
            None,
            Ok(("A+d B+c C+d D-", 6)),
        ),
        (remove("C", Marker::Deadend), None, Ok(("A B+c C D-", 6))),
        (rollout("A", 0.5), None, Ok(("A+r B+c C+d D-", 6))),
        (
            rollout("A", 1.5),
            None,
            Err("$.releases[0].rollout.startPercentage: 1.5 is out of range"),
        ),
        (
            remove("A", Marker::Rollout),
            None,
            Err("$.releases[0].rollout: release \"A\" is not being rolled out; nothing to remove"),
        ),
    ];
    for (e, serial, want) in table {
        let g = base();
        let got = edit(&g, &e, serial);
        assert_eq!(g, base(), "{e:?}: the input changed");
        match (got, want) {
            (Ok(ed), Ok((m, s))) => {
                assert_eq!(
                    (marks(&ed.graph).as_str(), ed.graph.metadata.serial),
                    (m, Some(s))
                );
                assert_eq!(ed.changed, s != 5, "{e:?}");
                assert_eq!(ed.previous_serial, Some(5));
            }
            (Err(problems), Err(w)) => {
                let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                assert!(
                    text.iter().any(|t| t.starts_with(w)),
                    "{e:?}: want {w}\ngot {text:#?}"
                );
            }
            (got, want) => panic!("{e:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn serials() {
    let table: &[(Option<u64>, Option<u64>, Option<u64>)] = &[
        (None, None, Some(1)),
        (Some(5), None, Some(6)),
        (Some(5), Some(9), Some(9)),
        (None, Some(0), Some(0)),
        (Some(5), Some(5), None),
        (Some(5), Some(4), None),
        (Some(u64::MAX), None, None),
    ];
    for &(current, requested, want) in table {
        assert_eq!(
            next_serial(current, requested).ok(),
            want,
            "{current:?} {requested:?}"
        );
    }
}

#[test]
fn markers_keep_unknown_fields_and_image_only_when_different() {
    let mut g = base();
    let mut reason = Reason::new("https://b");
    reason.extra.insert("x-ticket".into(), "OPS-1".into());
    g.releases[1].checkpoint = Some(reason);
    let e = edit(&g, &cp("B", "https://b2"), None).unwrap().graph;
    let c = e.releases[1].checkpoint.as_ref().unwrap();
    assert_eq!(
        (c.reason.as_str(), &c.extra["x-ticket"]),
        ("https://b2", &"OPS-1".into())
    );

    let mut same = pinned("E", 9);
    same.image = Some("quay.io/example/os".into());
    let mut other = pinned("F", 10);
    other.image = Some("quay.io/other/os".into());
    let g = edit(&base(), &Edit::Add(Box::new(same)), None)
        .unwrap()
        .graph;
    let g = edit(&g, &Edit::Add(Box::new(other)), None).unwrap().graph;
    assert_eq!(g.releases[4].image, None);
    assert_eq!(g.releases[5].image.as_deref(), Some("quay.io/other/os"));
}

#[test]
fn empty_graph_takes_a_first_release_only() {
    let g = new_graph("stable", None, 1);
    let err = edit(&g, &cp("A", "r"), None).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "$.releases: no release has version \"A\": the graph is empty"
    );
    let ed = edit(&g, &Edit::Add(Box::new(pinned("A", 0))), None).unwrap();
    assert_eq!(
        (marks(&ed.graph).as_str(), ed.graph.metadata.serial),
        ("A", Some(2))
    );
    assert!(UpdateGraph::parse(ed.graph.to_json().as_bytes(), "g").is_ok());
}

/// Random valid graphs: unique versions, distinct digests, any mix of markers.
pub(crate) fn arb_graph() -> impl Strategy<Value = UpdateGraph> {
    let release = (
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["https://r1", "https://r2"])),
        prop::option::of(prop::sample::select(vec!["eol", "broken"])),
        prop::option::of((0u8..=4, 0u64..5000)),
        any::<bool>(),
    );
    (
        prop::collection::vec(release, 0..7),
        prop::option::of(0u64..1000),
    )
        .prop_map(|(rels, serial)| {
            let mut g = new_graph("s", None, 0);
            g.metadata.serial = serial;
            for (i, (offered, c, d, ro, by_commit)) in rels.into_iter().enumerate() {
                let mut r = Release::new(format!("{}.{i}", 40 - i));
                if by_commit {
                    r.commit = Some(format!("{i:064x}"));
                } else {
                    r.digest = Some(digest(i));
                }
                r.checkpoint = c.map(Reason::new);
                r.deadend = d.map(Reason::new);
                r.offered = offered || r.checkpoint.is_some();
                r.rollout = ro.map(|(p, m)| Rollout {
                    start_percentage: Some(f64::from(p) / 4.0),
                    duration_minutes: Some(m),
                    ..Rollout::default()
                });
                g.releases.push(r);
            }
            g
        })
}

/// Random edits on versions a graph of up to 7 releases may or may not have.
pub(crate) fn arb_edit() -> impl Strategy<Value = Edit> {
    let version = (0usize..8).prop_map(|i| format!("{}.{i}", 40 - i));
    let marker = prop::sample::select(vec![Marker::Checkpoint, Marker::Deadend, Marker::Rollout]);
    prop_oneof![
        (0usize..8).prop_map(|i| Edit::Add(Box::new(pinned(&format!("{}.{i}", 40 - i), 100 + i)))),
        (
            version.clone(),
            prop::sample::select(vec!["https://r1", "https://r3"])
        )
            .prop_map(|(v, r)| cp(&v, r)),
        version.clone().prop_map(|version| Edit::Deadend {
            version,
            reason: "eol".into()
        }),
        (version.clone(), 0u8..=4).prop_map(|(v, p)| rollout(&v, f64::from(p) / 4.0)),
        (version, marker).prop_map(|(version, marker)| Edit::Remove { version, marker }),
    ]
}

proptest! {
    #[test]
    fn checkpoint_round_trips(g in arb_graph(), i in any::<prop::sample::Index>()) {
        if g.releases.is_empty() {
            return Ok(());
        }
        let rel = &g.releases[i.index(g.releases.len())];
        let v = rel.version.clone();
        // Set then remove, or remove then set again: either way back to the start, two
        // publications later.
        let (first, second) = match &rel.checkpoint {
            None => (cp(&v, "https://x"), remove(&v, Marker::Checkpoint)),
            Some(r) => (remove(&v, Marker::Checkpoint), cp(&v, &r.reason)),
        };
        let once = edit(&g, &first, None);
        if !rel.offered {
            prop_assert!(once.is_err());
            return Ok(());
        }
        let back = edit(&once.unwrap().graph, &second, None).unwrap().graph;
        let mut want = g.clone();
        want.metadata.serial = Some(g.metadata.serial.map_or(2, |s| s + 2));
        prop_assert_eq!(back, want);
    }

    #[test]
    fn edits_validate_bump_and_render_stably(g in arb_graph(), e in arb_edit()) {
        let before = g.clone();
        if let Ok(ed) = edit(&g, &e, None) {
            prop_assert_eq!(&g, &before);
            prop_assert_eq!(ed.changed, ed.graph != g);
            if ed.changed {
                prop_assert!(ed.graph.metadata.serial > g.metadata.serial);
            }
            for syntax in [Syntax::Json, Syntax::Yaml] {
                let text = render(&ed.graph, syntax);
                let again = parse_draft(text.as_bytes(), "g").unwrap().graph;
                prop_assert_eq!(&again, &ed.graph);
                prop_assert_eq!(render(&again, syntax), text);
            }
        }
    }
}
