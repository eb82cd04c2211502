//! `bootc-checkpoint demo`: a guided run of the planner over the bundled example graph, so a
//! newcomer sees checkpoints, a dead-end and a phased rollout without any setup.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};

use super::Exit;
use crate::graph::UpdateGraph;
use crate::plan::{plan, BootedRef, Policy};
use crate::rollout::Wariness;

/// The example graph shipped in `docs/examples/demo-graph.yaml`.
pub const DEMO_GRAPH: &str = include_str!("../../../docs/examples/demo-graph.yaml");

/// 2025-04-02T00:00:00Z: half-way through the example rollout.
const DEMO_NOW: i64 = 1_743_552_000;

pub fn run(out: &mut dyn Write) -> Result<Exit> {
    let graph = UpdateGraph::parse(DEMO_GRAPH.as_bytes(), "docs/examples/demo-graph.yaml")
        .context("parsing the bundled demo graph")?
        .graph;
    let mut s = String::new();
    writeln!(
        s,
        "Update graph (docs/examples/demo-graph.yaml), oldest first:\n"
    )?;
    s.push_str(&super::graph::render_text(&graph));
    writeln!(
        s,
        "\nPlanning as of 2025-04-02T00:00:00Z (the last release is half-way through its rollout):"
    )?;
    let cases: [(&str, f64, &str); 4] = [
        ("41.20250105.3.0", 0.0, "an old host, eager (wariness 0.0)"),
        ("41.20250105.3.0", 0.9, "the same host, wary (wariness 0.9)"),
        ("41.20250215.3.0", 0.5, "a host on a dead-end release"),
        (
            "40.20241201.3.0",
            0.5,
            "a host whose release the graph does not know",
        ),
    ];
    for (booted, w, what) in cases {
        let policy = Policy::new(Wariness::new(w).map_err(anyhow::Error::msg)?);
        let p = plan(&graph, &BootedRef::parse(booted), &policy, DEMO_NOW);
        writeln!(s, "\n# {what}: plan --booted {booted} --wariness {w}")?;
        s.push_str(&super::plan::render(&p));
    }
    writeln!(
        s,
        "\nEach checkpoint is staged pinned by digest (quay.io/example/os@sha256:…) while the host \
         keeps following its tag;\nafter the checkpoint boots, the journey resumes to the next hop."
    )?;
    out.write_all(s.as_bytes())?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_runs_and_shows_every_case() {
        let mut out = Vec::new();
        super::run(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Eager host: both checkpoints, then the rolling-out release.
        assert!(
            text.contains("1. 41.20250201.3.0          checkpoint"),
            "{text}"
        );
        assert!(text.contains("3. 42.20250401.3.0          final"), "{text}");
        // Wary host stops before the rollout and is told why.
        assert!(
            text.contains("42.20250401.3.0 is being rolled out (55% of the fleet so far)"),
            "{text}"
        );
        assert!(
            text.contains("is a dead-end (https://example.com/os/issues/42"),
            "{text}"
        );
        assert!(
            text.contains("booted release 40.20241201.3.0 is not in the update graph"),
            "{text}"
        );
    }
}
