//! Graph diffs: named cases with their exact reports, and the properties that a graph does not
//! differ from itself and that an edit shows up as exactly that edit.

use proptest::prelude::*;

use super::*;
use crate::graph::edit::tests::{arb_edit, arb_graph, digest};
use crate::graph::edit::{edit, new_graph, Edit, Marker};

fn graph(serial: u64, versions: &[&str]) -> UpdateGraph {
    let mut g = new_graph("stable", None, serial);
    for (i, v) in versions.iter().enumerate() {
        let mut r = Release::new(*v);
        r.digest = Some(digest(i));
        g.releases.push(r);
    }
    g
}

fn marked<T>(version: &str, marker: T) -> Marked<T> {
    Marked {
        version: version.into(),
        marker,
    }
}

#[test]
fn identical_graphs_have_an_empty_diff() {
    let g = graph(3, &["A", "B"]);
    let d = diff(&g, &g);
    assert!(d.is_empty(), "{d:?}");
    assert!(d.warnings.is_empty());
}

#[test]
fn reports_every_kind_of_change() {
    let mut old = graph(3, &["A", "B", "C"]);
    old.releases[1].checkpoint = Some(Reason::new("https://b"));
    old.releases[2].rollout = Some(Rollout::default());
    let mut new = graph(3, &["A", "C", "D"]);
    new.releases[0].deadend = Some(Reason::new("eol"));
    new.releases[1].digest = Some(digest(9));
    new.releases[1].rollout = Some(Rollout {
        start_percentage: Some(0.5),
        ..Rollout::default()
    });
    new.metadata.stream = Some("next".into());
    let d = diff(&old, &new);
    assert_eq!(
        d.releases_added,
        [Aged {
            version: "D".into(),
            index: 2
        }]
    );
    assert_eq!(d.releases_removed[0].version, "B");
    assert_eq!(
        d.checkpoints_removed,
        [marked("B", Reason::new("https://b"))]
    );
    assert_eq!(d.deadends_added, [marked("A", Reason::new("eol"))]);
    assert_eq!(d.rollouts_changed[0].new.start_percentage, Some(0.5));
    assert_eq!(d.releases_changed[0].fields, ["digest"]);
    assert_eq!(d.other_changes, ["metadata.stream"]);
    let warnings = d.warnings.join("\n");
    for w in [
        "serial did not increase (3 -> 3)",
        "CHECKPOINT DROPPED: B — nodes only honour a graph that drops a checkpoint when it is signed",
        "release B removed",
    ] {
        assert!(warnings.contains(w), "{w} in {warnings}");
    }
}

#[test]
fn serial_and_order_changes() {
    let table: &[(Option<u64>, Option<u64>, bool)] = &[
        (Some(1), Some(2), true),
        (Some(2), Some(1), false),
        (None, Some(1), true),
        (Some(1), None, false),
    ];
    for &(a, b, increased) in table {
        let mut old = graph(0, &["A"]);
        let mut new = old.clone();
        (old.metadata.serial, new.metadata.serial) = (a, b);
        let d = diff(&old, &new);
        assert_eq!(d.serial.increased, increased, "{a:?} -> {b:?}");
        assert!(!d.is_empty());
        assert_eq!(
            d.warnings.len(),
            usize::from(!increased),
            "{:?}",
            d.warnings
        );
    }
    let d = diff(&graph(1, &["A", "B"]), &graph(2, &["B", "A"]));
    assert_eq!(d.other_changes, ["release order"]);
    // Same versions, different digests by position.
    assert_eq!(d.releases_changed.len(), 2);
}

/// The report an edit must produce, apart from the serial and the warnings.
fn expected(old: &UpdateGraph, e: &Edit) -> GraphDiff {
    let rel = |v: &str| old.releases.iter().find(|r| r.version == v).unwrap();
    let mut d = GraphDiff::default();
    match e {
        Edit::Add(r) => d.releases_added.push(Aged {
            version: r.version.clone(),
            index: old.releases.len(),
        }),
        Edit::Checkpoint { version, reason } | Edit::Deadend { version, reason } => {
            let is_cp = matches!(e, Edit::Checkpoint { .. });
            let cur = if is_cp {
                &rel(version).checkpoint
            } else {
                &rel(version).deadend
            };
            let (added, changed) = if is_cp {
                (&mut d.checkpoints_added, &mut d.checkpoints_changed)
            } else {
                (&mut d.deadends_added, &mut d.deadends_changed)
            };
            match cur {
                None => added.push(marked(version, Reason::new(reason.as_str()))),
                Some(old) => changed.push(Changed {
                    version: version.clone(),
                    old: old.clone(),
                    new: Reason::new(reason.as_str()),
                }),
            }
        }
        Edit::Rollout { version, rollout } => match &rel(version).rollout {
            None => d.rollouts_added.push(marked(version, rollout.clone())),
            Some(old) => d.rollouts_changed.push(Changed {
                version: version.clone(),
                old: old.clone(),
                new: rollout.clone(),
            }),
        },
        Edit::Remove { version, marker } => {
            let r = rel(version);
            match marker {
                Marker::Checkpoint => {
                    (d.checkpoints_removed).push(marked(version, r.checkpoint.clone().unwrap()))
                }
                Marker::Deadend => d
                    .deadends_removed
                    .push(marked(version, r.deadend.clone().unwrap())),
                Marker::Rollout => d
                    .rollouts_removed
                    .push(marked(version, r.rollout.clone().unwrap())),
            }
        }
    }
    d
}

proptest! {
    #[test]
    fn a_graph_does_not_differ_from_itself(g in arb_graph()) {
        let d = diff(&g, &g);
        prop_assert!(d.is_empty());
        prop_assert!(d.warnings.is_empty());
    }

    #[test]
    fn diff_reports_exactly_the_edit(g in arb_graph(), e in arb_edit()) {
        let Ok(ed) = edit(&g, &e, None) else { return Ok(()) };
        let mut d = diff(&g, &ed.graph);
        prop_assert_eq!(d.is_empty(), !ed.changed);
        if !ed.changed {
            return Ok(());
        }
        prop_assert!(d.serial.increased);
        prop_assert_eq!(d.warnings.len(), d.checkpoints_removed.len());
        d.serial = SerialChange::default();
        d.warnings.clear();
        prop_assert_eq!(d, expected(&g, &e));
    }
}
