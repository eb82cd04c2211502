//! What changed between two publications of a graph (`graph diff OLD NEW`): releases,
//! checkpoints, dead-ends, rollouts and the serial, with warnings for the changes nodes treat
//! specially (a dropped checkpoint is only honoured from a signed graph; a serial that did not
//! increase is refused). Pure: two graphs in, a serializable report out.

use serde::Serialize;

use super::model::{Reason, Release, Rollout, UpdateGraph};

/// Every difference between two graphs; empty exactly when the graphs are equal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphDiff {
    pub serial: SerialChange,
    pub releases_added: Vec<Aged>,
    pub releases_removed: Vec<Aged>,
    /// Releases in both whose payload or other fields changed (markers are listed below).
    pub releases_changed: Vec<FieldsChanged>,
    pub checkpoints_added: Vec<Marked<Reason>>,
    pub checkpoints_removed: Vec<Marked<Reason>>,
    pub checkpoints_changed: Vec<Changed<Reason>>,
    pub deadends_added: Vec<Marked<Reason>>,
    pub deadends_removed: Vec<Marked<Reason>>,
    pub deadends_changed: Vec<Changed<Reason>>,
    pub rollouts_added: Vec<Marked<Rollout>>,
    pub rollouts_removed: Vec<Marked<Rollout>>,
    pub rollouts_changed: Vec<Changed<Rollout>>,
    /// Document-level changes: `metadata.stream`, `inherit`, `release order`, …
    pub other_changes: Vec<String>,
    /// Changes nodes treat specially, for humans and CI gates.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SerialChange {
    pub old: Option<u64>,
    pub new: Option<u64>,
    /// Whether nodes that accepted the old graph accept the new one's serial.
    pub increased: bool,
}

/// A release and its age (position, oldest 0) in the graph it is in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aged {
    pub version: String,
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldsChanged {
    pub version: String,
    pub fields: Vec<&'static str>,
}

/// A marker as set on one release.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Marked<T> {
    pub version: String,
    #[serde(flatten)]
    pub marker: T,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed<T> {
    pub version: String,
    pub old: T,
    pub new: T,
}

impl GraphDiff {
    /// No difference at all (the serial included).
    pub fn is_empty(&self) -> bool {
        let empty = GraphDiff {
            serial: self.serial.clone(),
            ..GraphDiff::default()
        };
        *self == empty && self.serial.old == self.serial.new
    }
}

/// Compare two graphs; releases are matched by version.
pub fn diff(old: &UpdateGraph, new: &UpdateGraph) -> GraphDiff {
    let (o, n) = (&old.metadata, &new.metadata);
    let mut d = GraphDiff {
        serial: SerialChange {
            old: o.serial,
            new: n.serial,
            increased: match (o.serial, n.serial) {
                (Some(a), Some(b)) => b > a,
                (None, Some(_)) => true,
                _ => false,
            },
        },
        ..GraphDiff::default()
    };
    let find = |g: &'_ UpdateGraph, v: &str| g.releases.iter().position(|r| r.version == v);
    for (i, r) in new.releases.iter().enumerate() {
        if find(old, &r.version).is_none() {
            d.releases_added.push(aged(r, i));
        }
    }
    for (i, r) in old.releases.iter().enumerate() {
        if find(new, &r.version).is_none() {
            d.releases_removed.push(aged(r, i));
        }
    }
    if old == new {
        return d;
    }
    let empty = Release::new("");
    // Every version in either graph, old ones first, so removed releases report their markers.
    let mut versions: Vec<String> = old.releases.iter().map(|r| r.version.clone()).collect();
    versions.extend(d.releases_added.iter().map(|a| a.version.clone()));
    for v in versions {
        let a = find(old, &v).map_or(&empty, |i| &old.releases[i]);
        let b = find(new, &v).map_or(&empty, |i| &new.releases[i]);
        let rc = |r: &Release| r.checkpoint.clone();
        let rd = |r: &Release| r.deadend.clone();
        let rr = |r: &Release| r.rollout.clone();
        let cps = (&mut d.checkpoints_added, &mut d.checkpoints_removed);
        marker(&v, a, b, rc, (cps.0, cps.1, &mut d.checkpoints_changed));
        let des = (&mut d.deadends_added, &mut d.deadends_removed);
        marker(&v, a, b, rd, (des.0, des.1, &mut d.deadends_changed));
        let ros = (&mut d.rollouts_added, &mut d.rollouts_removed);
        marker(&v, a, b, rr, (ros.0, ros.1, &mut d.rollouts_changed));
        if !std::ptr::eq(a, &empty) && !std::ptr::eq(b, &empty) {
            let fields = payload_fields(a, b);
            if !fields.is_empty() {
                d.releases_changed
                    .push(FieldsChanged { version: v, fields });
            }
        }
    }
    d.other_changes = document_changes(old, new);
    d.warnings = warnings(&d);
    d
}

fn aged(r: &Release, index: usize) -> Aged {
    Aged {
        version: r.version.clone(),
        index,
    }
}

type Lists<'d, T> = (
    &'d mut Vec<Marked<T>>,
    &'d mut Vec<Marked<T>>,
    &'d mut Vec<Changed<T>>,
);

fn marker<T: PartialEq>(
    version: &str,
    a: &Release,
    b: &Release,
    get: impl Fn(&Release) -> Option<T>,
    (added, removed, changed): Lists<'_, T>,
) {
    let version = version.to_string();
    match (get(a), get(b)) {
        (None, Some(marker)) => added.push(Marked { version, marker }),
        (Some(marker), None) => removed.push(Marked { version, marker }),
        (Some(old), Some(new)) if old != new => changed.push(Changed { version, old, new }),
        _ => {}
    }
}

fn payload_fields(a: &Release, b: &Release) -> Vec<&'static str> {
    let checks: [(&'static str, bool); 6] = [
        ("digest", a.digest != b.digest),
        ("commit", a.commit != b.commit),
        ("image", a.image != b.image),
        ("alsoKnownAs", a.also_known_as != b.also_known_as),
        ("offered", a.offered != b.offered),
        ("other fields", a.extra != b.extra),
    ];
    checks.iter().filter(|(_, d)| *d).map(|(f, _)| *f).collect()
}

fn document_changes(old: &UpdateGraph, new: &UpdateGraph) -> Vec<String> {
    let (o, n) = (&old.metadata, &new.metadata);
    let checks: [(&str, bool); 8] = [
        ("apiVersion", old.api_version != new.api_version),
        ("kind", old.kind != new.kind),
        ("metadata.stream", o.stream != n.stream),
        ("metadata.expires", o.expires != n.expires),
        ("metadata.image", o.image != n.image),
        ("metadata (other fields)", o.extra != n.extra),
        ("inherit", old.inherit != new.inherit),
        ("other fields", old.extra != new.extra),
    ];
    let mut out: Vec<String> = (checks.iter().filter(|(_, d)| *d))
        .map(|(f, _)| f.to_string())
        .collect();
    let common = |g: &UpdateGraph, other: &UpdateGraph| -> Vec<String> {
        (g.releases.iter())
            .filter(|r| other.releases.iter().any(|o| o.version == r.version))
            .map(|r| r.version.clone())
            .collect()
    };
    if common(old, new) != common(new, old) {
        out.push("release order".to_string());
    }
    out
}

fn warnings(d: &GraphDiff) -> Vec<String> {
    let mut w = Vec::new();
    let s = &d.serial;
    let show = |n: Option<u64>| n.map_or_else(|| "none".to_string(), |n| n.to_string());
    if !s.increased {
        w.push(format!(
            "serial did not increase ({} -> {}): nodes that accepted the old graph refuse the \
             new one as a rollback",
            show(s.old),
            show(s.new)
        ));
    }
    for c in &d.checkpoints_removed {
        w.push(format!(
            "CHECKPOINT DROPPED: {} — nodes only honour a graph that drops a checkpoint when \
             it is signed; hosts older than it may now skip it",
            c.version
        ));
    }
    for r in &d.releases_removed {
        w.push(format!(
            "release {} removed: hosts booted on it no longer find it in the graph",
            r.version
        ));
    }
    if d.other_changes.iter().any(|c| c == "release order") {
        w.push(
            "the age order of releases in both graphs changed: the edges between them change \
             (position is age)"
                .to_string(),
        );
    }
    w
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
