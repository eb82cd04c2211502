//! Publishing edits on a native graph (`graph new|add|checkpoint|deadend|rollout`): pure
//! functions from a document and one edit to the next document, with `metadata.serial` bumped
//! and the whole graph re-validated, so a CI pipeline can only ever write a graph that nodes
//! accept and that they can tell apart from every earlier publication.

use super::error::Problem;
use super::model::{GraphMetadata, Reason, Release, Rollout, UpdateGraph};
use super::validate::{validate, Report};

/// One change a publisher makes to a graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Append a release as the newest: position is age, version strings are never compared.
    Add(Box<Release>),
    /// Make a release a checkpoint, or change its reason.
    Checkpoint { version: String, reason: String },
    /// Make a release a dead-end, or change its reason.
    Deadend { version: String, reason: String },
    /// Give a release a phased rollout, or change it.
    Rollout { version: String, rollout: Rollout },
    /// Take a marker off a release.
    Remove { version: String, marker: Marker },
}

/// The per-release markers a publisher sets and removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Checkpoint,
    Deadend,
    Rollout,
}

impl Marker {
    /// The field of `releases[]` that holds it.
    pub fn field(self) -> &'static str {
        match self {
            Marker::Checkpoint => "checkpoint",
            Marker::Deadend => "deadend",
            Marker::Rollout => "rollout",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Marker::Checkpoint => "a checkpoint",
            Marker::Deadend => "a dead-end",
            Marker::Rollout => "being rolled out",
        }
    }
}

/// A graph after an edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    pub graph: UpdateGraph,
    /// False when the graph already said exactly this: nothing to write, serial unchanged
    /// (so re-running a pipeline step is harmless).
    pub changed: bool,
    pub previous_serial: Option<u64>,
    pub warnings: Vec<Problem>,
}

/// A new graph with no releases yet (`graph new`); the first `add` makes it publishable.
pub fn new_graph(stream: &str, image: Option<&str>, serial: u64) -> UpdateGraph {
    let mut g = UpdateGraph::new(Vec::new());
    g.metadata = GraphMetadata {
        stream: Some(stream.to_string()),
        serial: Some(serial),
        image: image.map(str::to_string),
        ..GraphMetadata::default()
    };
    g
}

/// Validate a graph that may still be a draft: everything `validate` checks, except that a
/// freshly created graph may have no releases yet.
pub fn check_draft(graph: &mut UpdateGraph) -> Report {
    let mut report = validate(graph);
    if graph.releases.is_empty() {
        report.errors.retain(|p| p.path != "$.releases");
    }
    report
}

/// Apply `edit`, set the serial (`serial`, or one more than the current one) and re-validate
/// the whole result. Errors locate the offending field; the input is never modified.
pub fn edit(graph: &UpdateGraph, edit: &Edit, serial: Option<u64>) -> Result<Edited, Vec<Problem>> {
    let previous_serial = graph.metadata.serial;
    let mut next = graph.clone();
    let changed = apply(&mut next, edit).map_err(|p| vec![p])?;
    if changed {
        next.metadata.serial = Some(next_serial(previous_serial, serial).map_err(|p| vec![p])?);
    }
    let Report { errors, warnings } = check_draft(&mut next);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Edited {
        graph: next,
        changed,
        previous_serial,
        warnings,
    })
}

/// The serial of the next publication: the requested one if it increases, else current + 1
/// (1 for a graph that had none). Nodes refuse a graph whose serial went down.
pub fn next_serial(current: Option<u64>, requested: Option<u64>) -> Result<u64, Problem> {
    let at = "$.metadata.serial";
    match (current, requested) {
        (Some(c), Some(r)) if r <= c => Err(Problem::new(
            at,
            format!(
                "--serial {r} does not increase the current serial {c}: nodes that accepted \
                 serial {c} would refuse this graph as a rollback"
            ),
        )),
        (_, Some(r)) => Ok(r),
        (Some(c), None) => c.checked_add(1).ok_or_else(|| {
            Problem::new(
                at,
                format!("serial {c} is the largest possible; it cannot increase"),
            )
        }),
        (None, None) => Ok(1),
    }
}

/// Apply one edit in place; `Ok(false)` when the graph already says exactly this.
pub fn apply(graph: &mut UpdateGraph, edit: &Edit) -> Result<bool, Problem> {
    match edit {
        Edit::Add(release) => add(graph, release).map(|()| true),
        Edit::Checkpoint { version, reason } => {
            let rel = find(graph, version)?;
            Ok(set_reason(&mut rel.checkpoint, reason))
        }
        Edit::Deadend { version, reason } => {
            let rel = find(graph, version)?;
            Ok(set_reason(&mut rel.deadend, reason))
        }
        Edit::Rollout { version, rollout } => {
            let rel = find(graph, version)?;
            Ok(set_rollout(&mut rel.rollout, rollout))
        }
        Edit::Remove { version, marker } => {
            let i = index(graph, version)?;
            let rel = &mut graph.releases[i];
            let removed = match marker {
                Marker::Checkpoint => rel.checkpoint.take().is_some(),
                Marker::Deadend => rel.deadend.take().is_some(),
                Marker::Rollout => rel.rollout.take().is_some(),
            };
            if removed {
                Ok(true)
            } else {
                Err(Problem::new(
                    format!("$.releases[{i}].{}", marker.field()),
                    format!(
                        "release {version:?} is not {}; nothing to remove",
                        marker.noun()
                    ),
                ))
            }
        }
    }
}

fn add(graph: &mut UpdateGraph, release: &Release) -> Result<(), Problem> {
    if let Ok(i) = index(graph, &release.version) {
        return Err(Problem::new(
            format!("$.releases[{i}].version"),
            format!(
                "version {:?} is already in the graph (age {i} of {}); a release is added once, \
                 as the newest",
                release.version,
                graph.releases.len()
            ),
        ));
    }
    let mut release = release.clone();
    // The per-release image only records a repository other than the graph's.
    if release.image.is_some() && release.image == graph.metadata.image {
        release.image = None;
    }
    graph.releases.push(release);
    Ok(())
}

fn index(graph: &UpdateGraph, version: &str) -> Result<usize, Problem> {
    graph
        .releases
        .iter()
        .position(|r| r.version == version)
        .ok_or_else(|| {
            let newest = graph.releases.last().map(|r| r.version.as_str());
            Problem::new(
                "$.releases",
                match newest {
                    Some(n) => format!(
                        "no release has version {version:?} ({} releases, newest {n:?})",
                        graph.releases.len()
                    ),
                    None => format!("no release has version {version:?}: the graph is empty"),
                },
            )
        })
}

fn find<'g>(graph: &'g mut UpdateGraph, version: &str) -> Result<&'g mut Release, Problem> {
    let i = index(graph, version)?;
    Ok(&mut graph.releases[i])
}

/// Set a reason, keeping unknown fields of an existing marker; false when already equal.
fn set_reason(slot: &mut Option<Reason>, reason: &str) -> bool {
    match slot {
        Some(r) if r.reason == reason => false,
        Some(r) => {
            r.reason = reason.to_string();
            true
        }
        None => {
            *slot = Some(Reason::new(reason));
            true
        }
    }
}

/// Set a rollout's parameters, keeping unknown fields of an existing one; false when equal.
fn set_rollout(slot: &mut Option<Rollout>, new: &Rollout) -> bool {
    let mut next = new.clone();
    if let Some(old) = slot.as_ref() {
        let mut extra = old.extra.clone();
        extra.extend(new.extra.clone());
        next.extra = extra;
    }
    if slot.as_ref() == Some(&next) {
        return false;
    }
    *slot = Some(next);
    true
}

#[cfg(test)]
#[path = "edit_tests.rs"]
pub(crate) mod tests;
