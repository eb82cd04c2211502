//! `bootc-checkpoint demo`: the checkpoint journey for real ([`crate::demo`]: a scratch
//! registry and sysroot, upgrade and resume through a checkpoint), followed by a short look at
//! the planner; `demo --plan-only` is the planner's full walk-through over the bundled example
//! graph (checkpoints, a dead-end, a phased rollout), which needs no setup at all.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};

use super::Exit;
use crate::graph::UpdateGraph;
use crate::plan::{plan, BootedRef, HopKind, Plan, Policy, Status};
use crate::rollout::Wariness;

/// The example graph shipped in `docs/examples/demo-graph.yaml`.
pub const DEMO_GRAPH: &str = include_str!("../../../docs/examples/demo-graph.yaml");

/// 2025-04-02T00:00:00Z: half-way through the example rollout.
const DEMO_NOW: i64 = 1_743_552_000;

/// The planner cases: booted release, wariness, who that is.
const CASES: [(&str, f64, &str); 4] = [
    ("41.20250105.3.0", 0.0, "an old host, eager (wariness 0.0)"),
    ("41.20250105.3.0", 0.9, "the same host, wary (wariness 0.9)"),
    ("41.20250215.3.0", 0.5, "a host on a dead-end release"),
    (
        "40.20241201.3.0",
        0.5,
        "a host whose release the graph does not know",
    ),
];

/// What `demo` was asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Args {
    /// Only the planner walk-through (no registry, no sysroot, no root).
    pub plan_only: bool,
    /// Keep the journey's scratch directory.
    pub keep: bool,
}

pub fn run(out: &mut dyn Write, args: &Args) -> Result<Exit> {
    if args.plan_only {
        return planner(out);
    }
    let mut demo = crate::demo::Demo::set_up(out, args.keep)?;
    demo.run_journey(out)?;
    out.write_all(planner_brief()?.as_bytes())?;
    demo.finish(out)?;
    Ok(Exit::Success)
}

fn example_graph() -> Result<UpdateGraph> {
    Ok(
        UpdateGraph::parse(DEMO_GRAPH.as_bytes(), "docs/examples/demo-graph.yaml")
            .context("parsing the bundled demo graph")?
            .graph,
    )
}

/// Each case with its plan.
fn plans(graph: &UpdateGraph) -> Result<Vec<(&'static str, f64, &'static str, Plan)>> {
    CASES
        .iter()
        .map(|&(booted, w, what)| {
            let policy = Policy::new(Wariness::new(w).map_err(anyhow::Error::msg)?);
            let p = plan(graph, &BootedRef::parse(booted), &policy, DEMO_NOW);
            Ok((booted, w, what, p))
        })
        .collect()
}

/// The planner walk-through (`demo --plan-only`).
pub fn planner(out: &mut dyn Write) -> Result<Exit> {
    let graph = example_graph()?;
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
    for (booted, w, what, p) in plans(&graph)? {
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

/// One line per planner case, printed after the journey.
fn planner_brief() -> Result<String> {
    let graph = example_graph()?;
    let mut s = String::from(
        "\nThe planner behind it, on the bundled example graph with a dead-end and a phased \
         rollout\n(full walk-through: `bootc-checkpoint demo --plan-only`):\n",
    );
    for (_, _, what, p) in plans(&graph)? {
        let answer = match p.status {
            Status::Path => {
                let hops: Vec<String> = p
                    .hops
                    .iter()
                    .map(|h| match h.kind {
                        HopKind::Checkpoint => format!("{} (checkpoint)", h.version),
                        HopKind::Final => h.version.clone(),
                    })
                    .collect();
                format!("{} -> {}", p.booted, hops.join(" -> "))
            }
            Status::UpToDate => "up to date".to_string(),
            Status::Blocked => "blocked".to_string(),
        };
        match &p.reason {
            Some(r) => writeln!(s, "  - {what}: {answer}; {r}")?,
            None => writeln!(s, "  - {what}: {answer}")?,
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn planner_demo_shows_every_case() {
        let mut out = Vec::new();
        super::planner(&mut out).unwrap();
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

    #[test]
    fn plan_only_runs_the_planner_alone() {
        let mut out = Vec::new();
        let args = super::Args {
            plan_only: true,
            keep: false,
        };
        super::run(&mut out, &args).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Update graph (docs/examples/demo-graph.yaml)"));
        assert!(!text.contains("$DEMO"), "{text}");
    }

    #[test]
    fn planner_brief_has_one_line_per_case() {
        let text = super::planner_brief().unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  - ")).collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].ends_with(
                "41.20250105.3.0 -> 41.20250201.3.0 (checkpoint) -> 42.20250301.3.0 \
                 (checkpoint) -> 42.20250401.3.0"
            ),
            "{text}"
        );
        assert!(lines[1].contains("is being rolled out"), "{text}");
        assert!(lines[2].contains(": blocked; booted release 41.20250215.3.0 is a dead-end"));
        assert!(lines[3].contains(": blocked; booted release 40.20241201.3.0 is not in"));
    }
}
