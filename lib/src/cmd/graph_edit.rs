//! `bootc-checkpoint graph new|add|checkpoint|deadend|rollout|diff`: the publishing side of
//! update graphs, as a CI pipeline drives it. Each edit reads the file, applies one pure edit
//! (`crate::graph::edit`, which bumps the serial and re-validates the whole graph) and replaces
//! the file atomically, in its own syntax, or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::{Exit, Format};
use crate::graph::{self, Edit, GraphDiff, Marker, Problem, Rollout, Syntax, UpdateGraph};
use crate::spec::{Finding, Versioned};

/// `graph new`.
#[derive(Debug, Clone)]
pub struct NewArgs {
    pub file: PathBuf,
    pub stream: String,
    pub image: Option<String>,
    pub serial: u64,
    pub force: bool,
    pub format: Format,
}

/// `kind: GraphEdit`: what an edit did to a graph file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EditReport {
    file: String,
    /// What was asked, in words.
    edit: String,
    /// False when the file already said so (nothing written).
    changed: bool,
    previous_serial: Option<u64>,
    serial: Option<u64>,
    warnings: Vec<Finding>,
}

/// `graph new`: write a graph with no releases yet; an existing file is only replaced with
/// `force` (it may be the published history).
pub fn new(out: &mut dyn Write, a: &NewArgs) -> Result<Exit> {
    let file = a.file.display().to_string();
    if !a.force && a.file.symlink_metadata().is_ok() {
        bail!("{file} already exists; pass --force to replace it with an empty graph");
    }
    let g = graph::new_graph(&a.stream, a.image.as_deref(), a.serial);
    let syntax = Syntax::detect(&file, None);
    crate::fsutil::write_atomic(&a.file, graph::render(&g, syntax).as_bytes())?;
    let report = EditReport {
        file: file.clone(),
        edit: format!("new graph for stream {:?}", a.stream),
        changed: true,
        previous_serial: None,
        serial: g.metadata.serial,
        warnings: Vec::new(),
    };
    let text = format!(
        "{file}: new graph for stream {:?} (serial {}); `graph add` its first release before \
         publishing\n",
        a.stream, a.serial
    );
    print(out, a.format, &report, &text)
}

/// `graph add|checkpoint|deadend|rollout`: apply one edit with the serial bumped (or set to
/// `serial`, which must be greater), re-validate and write atomically.
pub fn edit(
    out: &mut dyn Write,
    path: &Path,
    e: &Edit,
    serial: Option<u64>,
    format: Format,
) -> Result<Exit> {
    let file = path.display().to_string();
    let what = describe(e);
    let bytes = crate::fsutil::read(path)?;
    let syntax = Syntax::detect(&file, Some(&bytes));
    let edited = graph::parse_draft(&bytes, &file)
        .map_err(anyhow::Error::from)
        .and_then(|p| graph::edit(&p.graph, e, serial).map_err(|ps| problems(&file, &ps)))
        .with_context(|| format!("{what}: {file} not changed"))?;
    for w in &edited.warnings {
        tracing::warn!("{file}: {w}");
    }
    if edited.changed {
        let text = graph::render(&edited.graph, syntax);
        crate::fsutil::write_atomic(path, text.as_bytes())?;
    }
    let (old, new) = (edited.previous_serial, edited.graph.metadata.serial);
    let text = if edited.changed {
        format!("{file}: {what}; serial {} -> {}\n", show(old), show(new))
    } else {
        format!(
            "{file}: {what}: already so, unchanged (serial {})\n",
            show(new)
        )
    };
    let report = EditReport {
        file,
        edit: what,
        changed: edited.changed,
        previous_serial: old,
        serial: new,
        warnings: edited.warnings.iter().map(Finding::from).collect(),
    };
    print(out, format, &report, &text)
}

/// `kind: GraphDiff`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiffReport<'d> {
    old: String,
    new: String,
    identical: bool,
    #[serde(flatten)]
    diff: &'d GraphDiff,
}

/// `graph diff OLD NEW`: exit 0 when the graphs are identical, 1 when they differ (diff(1)).
pub fn diff(out: &mut dyn Write, old: &Path, new: &Path, format: Format) -> Result<Exit> {
    let load = |p: &Path| -> Result<UpdateGraph> {
        let file = p.display().to_string();
        Ok(graph::parse_draft(&crate::fsutil::read(p)?, &file)?.graph)
    };
    let d = graph::diff(&load(old)?, &load(new)?);
    let (old, new) = (old.display().to_string(), new.display().to_string());
    let identical = d.is_empty();
    match format {
        Format::Json | Format::Yaml => {
            let body = DiffReport {
                old,
                new,
                identical,
                diff: &d,
            };
            out.write_all(Versioned::new("GraphDiff", body).render(format).as_bytes())?;
        }
        Format::Text => out.write_all(render_diff(&old, &new, &d).as_bytes())?,
    }
    Ok(if identical {
        Exit::Success
    } else {
        Exit::Failure
    })
}

fn render_diff(old: &str, new: &str, d: &GraphDiff) -> String {
    let s = &d.serial;
    if d.is_empty() {
        return format!("{old} and {new} are identical (serial {})\n", show(s.new));
    }
    let mut o = format!(
        "--- {old} (serial {})\n+++ {new} (serial {})\n",
        show(s.old),
        show(s.new)
    );
    let mut line = |l: String| {
        o.push_str(&l);
        o.push('\n');
    };
    d.releases_added
        .iter()
        .for_each(|r| line(format!("+ release {} (age {})", r.version, r.index)));
    d.releases_removed
        .iter()
        .for_each(|r| line(format!("- release {} (was age {})", r.version, r.index)));
    for r in &d.releases_changed {
        line(format!(
            "~ release {}: {} changed",
            r.version,
            r.fields.join(", ")
        ));
    }
    let reasons = [
        (
            "checkpoint",
            &d.checkpoints_added,
            &d.checkpoints_removed,
            &d.checkpoints_changed,
        ),
        (
            "dead-end",
            &d.deadends_added,
            &d.deadends_removed,
            &d.deadends_changed,
        ),
    ];
    for (name, added, removed, changed) in reasons {
        added
            .iter()
            .for_each(|m| line(format!("+ {name} {}: {:?}", m.version, m.marker.reason)));
        removed
            .iter()
            .for_each(|m| line(format!("- {name} {}: {:?}", m.version, m.marker.reason)));
        for c in changed {
            line(format!(
                "~ {name} {}: {:?} -> {:?}",
                c.version, c.old.reason, c.new.reason
            ));
        }
    }
    d.rollouts_added
        .iter()
        .for_each(|m| line(format!("+ rollout {}: {}", m.version, rollout(&m.marker))));
    d.rollouts_removed
        .iter()
        .for_each(|m| line(format!("- rollout {}: {}", m.version, rollout(&m.marker))));
    for c in &d.rollouts_changed {
        line(format!(
            "~ rollout {}: {} -> {}",
            c.version,
            rollout(&c.old),
            rollout(&c.new)
        ));
    }
    d.other_changes.iter().for_each(|c| line(format!("~ {c}")));
    for w in &d.warnings {
        line(format!("warning: {w}"));
    }
    o
}

/// What an edit does, in words, for output and error context.
fn describe(e: &Edit) -> String {
    match e {
        Edit::Add(r) => format!("add release {}", r.version),
        Edit::Checkpoint { version, reason } => {
            format!("mark {version} as a checkpoint ({reason:?})")
        }
        Edit::Deadend { version, reason } => format!("mark {version} as a dead-end ({reason:?})"),
        Edit::Rollout {
            version,
            rollout: r,
        } => format!("roll out {version} {}", rollout(r)),
        Edit::Remove { version, marker } => {
            let noun = match marker {
                Marker::Checkpoint => "checkpoint",
                Marker::Deadend => "dead-end",
                Marker::Rollout => "rollout",
            };
            format!("remove the {noun} of {version}")
        }
    }
}

fn rollout(r: &Rollout) -> String {
    let start = (r.start).map_or_else(
        || "the epoch".to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    );
    let pct = 100.0 * r.start_percentage.unwrap_or(0.0);
    match r.duration_minutes {
        Some(m) => format!("from {pct}% at {start} to 100% over {m} minutes"),
        None => format!("to {pct}% from {start}"),
    }
}

fn show(serial: Option<u64>) -> String {
    serial.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// Located problems of `file` as one error, one `FILE: PATH: MESSAGE` line each.
fn problems(file: &str, ps: &[Problem]) -> anyhow::Error {
    let lines: Vec<String> = ps.iter().map(|p| format!("{file}: {p}")).collect();
    anyhow!("{}", lines.join("\n"))
}

fn print<T: Serialize>(out: &mut dyn Write, format: Format, body: &T, text: &str) -> Result<Exit> {
    let doc = match format {
        Format::Json | Format::Yaml => Versioned::new("GraphEdit", body).render(format),
        Format::Text => text.to_string(),
    };
    out.write_all(doc.as_bytes()).context("writing to stdout")?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn descriptions() {
        let ro = Rollout {
            start: Some(Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap()),
            start_percentage: Some(0.25),
            duration_minutes: Some(2880),
            ..Rollout::default()
        };
        let table: &[(Edit, &str)] = &[
            (
                Edit::Rollout {
                    version: "C".into(),
                    rollout: ro,
                },
                "roll out C from 25% at 2025-01-06T00:00:00Z to 100% over 2880 minutes",
            ),
            (
                Edit::Rollout {
                    version: "C".into(),
                    rollout: Rollout::default(),
                },
                "roll out C to 0% from the epoch",
            ),
            (
                Edit::Remove {
                    version: "B".into(),
                    marker: Marker::Checkpoint,
                },
                "remove the checkpoint of B",
            ),
        ];
        for (e, want) in table {
            assert_eq!(describe(e), *want);
        }
    }
}
