//! `bootc-checkpoint graph …`: import, validate and show update graphs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use super::{emit, load_graph, Exit, Format};
use crate::graph::{cincinnati, edges, fcos, UpdateGraph};
use crate::spec::{Finding, ValidationReport, Versioned};

/// `graph import-fcos`: FCOS updates metadata + release index → native graph.
pub fn import_fcos(
    out: &mut dyn Write,
    updates: &Path,
    releases: &Path,
    opts: &fcos::Options,
    output: Option<&Path>,
) -> Result<Exit> {
    let imported = fcos::import(
        &crate::fsutil::read(updates)?,
        &updates.display().to_string(),
        &crate::fsutil::read(releases)?,
        &releases.display().to_string(),
        opts,
    )?;
    for note in &imported.notes {
        tracing::warn!("{note}");
    }
    emit(out, output, &imported.graph.to_json())?;
    Ok(Exit::Success)
}

/// `graph import-cincinnati`: a `/v1/graph` response → native graph.
pub fn import_cincinnati(out: &mut dyn Write, input: &Path, output: Option<&Path>) -> Result<Exit> {
    let graph = cincinnati::import(&crate::fsutil::read(input)?, &input.display().to_string())?;
    emit(out, output, &graph.to_json())?;
    Ok(Exit::Success)
}

/// `graph validate`: exit 0 when valid, 1 with the list of problems when not.
pub fn validate(out: &mut dyn Write, path: &Path, format: Format) -> Result<Exit> {
    let file = path.display().to_string();
    let bytes = crate::fsutil::read(path)?;
    let (errors, warnings, summary) = match UpdateGraph::parse(&bytes, &file) {
        Ok(p) => (Vec::new(), p.warnings, Some(summarize(&p.graph))),
        Err(e) => (
            e.problems().into_iter().cloned().collect(),
            Vec::new(),
            None,
        ),
    };
    let valid = errors.is_empty();
    match format {
        Format::Json | Format::Yaml => {
            let report = ValidationReport {
                file: file.clone(),
                valid,
                errors: errors.iter().map(Finding::from).collect(),
                warnings: warnings.iter().map(Finding::from).collect(),
            };
            out.write_all(
                Versioned::new("ValidationReport", report)
                    .render(format)
                    .as_bytes(),
            )?;
        }
        Format::Text => {
            let mut s = String::new();
            match &summary {
                Some(sum) => writeln!(s, "{file}: valid ({sum})")?,
                None => writeln!(
                    s,
                    "{file}: invalid ({} problem{})",
                    errors.len(),
                    plural(errors.len())
                )?,
            }
            for e in &errors {
                writeln!(s, "  error: {e}")?;
            }
            for w in &warnings {
                writeln!(s, "  warning: {w}")?;
            }
            out.write_all(s.as_bytes())?;
        }
    }
    Ok(if valid { Exit::Success } else { Exit::Failure })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn summarize(g: &UpdateGraph) -> String {
    let count =
        |f: &dyn Fn(&crate::graph::Release) -> bool| g.releases.iter().filter(|r| f(r)).count();
    format!(
        "{} releases, {} checkpoints, {} dead-ends, {} rollouts",
        g.releases.len(),
        count(&|r| r.checkpoint.is_some()),
        count(&|r| r.deadend.is_some()),
        count(&|r| r.rollout.is_some()),
    )
}

/// How `graph show` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowFormat {
    Text,
    Dot,
}

/// `graph show`: a table of releases, or a Graphviz digraph of the update edges.
pub fn show(out: &mut dyn Write, path: &Path, format: ShowFormat) -> Result<Exit> {
    let graph = load_graph(path)?;
    let text = match format {
        ShowFormat::Text => render_text(&graph),
        ShowFormat::Dot => render_dot(&graph),
    };
    out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}

pub(super) fn render_text(g: &UpdateGraph) -> String {
    let mut s = String::new();
    let m = &g.metadata;
    let _ = writeln!(
        s,
        "stream: {}  serial: {}  image: {}",
        m.stream.as_deref().unwrap_or("-"),
        m.serial
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        m.image.as_deref().unwrap_or("-")
    );
    let _ = writeln!(s, "{:>5}  {:<24} {:<34} PAYLOAD", "AGE", "VERSION", "MARKS");
    for (i, r) in g.releases.iter().enumerate() {
        let _ = writeln!(
            s,
            "{i:>5}  {:<24} {:<34} {}",
            r.version,
            marks(r),
            payload(r)
        );
    }
    s
}

fn marks(r: &crate::graph::Release) -> String {
    let mut m = Vec::new();
    if r.checkpoint.is_some() {
        m.push("checkpoint".to_string());
    }
    if r.deadend.is_some() {
        m.push("dead-end".to_string());
    }
    if let Some(ro) = &r.rollout {
        m.push(format!("rollout({})", rollout_label(ro)));
    }
    if !r.is_target() {
        m.push("not-offered".to_string());
    }
    if m.is_empty() {
        "-".to_string()
    } else {
        m.join(",")
    }
}

fn rollout_label(ro: &crate::graph::Rollout) -> String {
    let start = ro
        .start
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|| "epoch".into());
    let pct = 100.0 * ro.start_percentage.unwrap_or(0.0);
    match ro.duration_minutes {
        Some(d) => format!("{pct:.0}% at {start} +{d}m"),
        None => format!("{pct:.0}% from {start}"),
    }
}

fn payload(r: &crate::graph::Release) -> String {
    match (&r.digest, &r.commit) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => format!("commit {c}"),
        (None, None) => "(unpinned)".to_string(),
    }
}

/// Checkpoints are red double octagons, dead-ends grey crossed boxes, rollouts dashed blue with
/// dashed incoming edges; releases that are not offered are dotted.
fn render_dot(g: &UpdateGraph) -> String {
    let mut s = String::from(
        "digraph updates {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for (i, r) in g.releases.iter().enumerate() {
        let mut attrs = vec![format!(
            "label=\"{}\\n{}\"",
            esc(&r.version),
            esc(&marks(r))
        )];
        if r.checkpoint.is_some() {
            attrs.push("shape=doubleoctagon, color=red, penwidth=2".into());
        }
        if r.deadend.is_some() {
            attrs.push("shape=Msquare, style=filled, fillcolor=gray80".into());
        } else if r.rollout.is_some() {
            attrs.push("style=dashed, color=blue".into());
        } else if !r.is_target() {
            attrs.push("style=dotted".into());
        }
        let _ = writeln!(s, "  n{i} [{}];", attrs.join(", "));
    }
    for (a, b) in edges(g) {
        let style = if g.releases[b].rollout.is_some() {
            " [style=dashed, color=blue]"
        } else if g.releases[b].checkpoint.is_some() {
            " [color=red]"
        } else {
            ""
        };
        let _ = writeln!(s, "  n{a} -> n{b}{style};");
    }
    s.push_str("}\n");
    s
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
