//! `bootc-checkpoint plan`: the planner over a graph file, for one booted release or all.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{load_graph, Exit, Format};
use crate::plan::{find_booted, BootedRef, HopKind, Plan, Planner, Policy, Status};
use crate::rollout::Wariness;
use crate::spec::{plan_doc, plan_table_doc};

/// Which release(s) to plan for.
#[derive(Debug, Clone)]
pub enum Target {
    Booted(String),
    All,
}

/// Arguments of `plan`.
#[derive(Debug, Clone)]
pub struct Args {
    pub graph: PathBuf,
    pub target: Target,
    /// Configured wariness; when absent it is derived from `machine_id`.
    pub wariness: Option<f64>,
    pub machine_id: PathBuf,
    /// Unix seconds; when absent, the system clock.
    pub now: Option<i64>,
    pub denylist: Vec<String>,
    pub format: Format,
}

pub fn run(out: &mut dyn Write, args: &Args) -> Result<Exit> {
    let graph = load_graph(&args.graph)?;
    let wariness = match args.wariness {
        Some(w) => Wariness::new(w).map_err(anyhow::Error::msg)?,
        None => machine_wariness(&args.machine_id)?,
    };
    let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let policy = Policy {
        wariness,
        denylist: args.denylist.clone(),
    };
    let planner = Planner::new(&graph, &policy, now);
    let text = match &args.target {
        Target::Booted(id) => {
            let booted = BootedRef::parse(id);
            let plan = match find_booted(&graph, &booted) {
                Some(i) => planner.plan_index(i),
                None => planner.unknown(&booted),
            };
            match args.format {
                Format::Json | Format::Yaml => plan_doc(&plan).render(args.format),
                Format::Text => render(&plan),
            }
        }
        Target::All => {
            let plans: Vec<Plan> = (0..graph.releases.len())
                .map(|i| planner.plan_index(i))
                .collect();
            match args.format {
                Format::Json | Format::Yaml => plan_table_doc(plans).render(args.format),
                Format::Text => plans.iter().map(render_line).collect(),
            }
        }
    };
    out.write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(Exit::Success)
}

pub(super) fn machine_wariness(path: &Path) -> Result<Wariness> {
    let id = std::fs::read_to_string(path).with_context(|| {
        format!(
            "deriving rollout wariness from {} (or pass --wariness)",
            path.display()
        )
    })?;
    anyhow::ensure!(
        !id.trim().is_empty(),
        "{} is empty; pass --wariness",
        path.display()
    );
    Ok(Wariness::from_machine_id(&id))
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::UpToDate => "up to date",
        Status::Path => "update available",
        Status::Blocked => "blocked",
    }
}

pub(super) fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "booted:  {}", plan.booted);
    let _ = writeln!(s, "status:  {}", status_word(plan.status));
    for (n, hop) in plan.hops.iter().enumerate() {
        let kind = match hop.kind {
            HopKind::Checkpoint => "checkpoint",
            HopKind::Final => "final",
        };
        let pin = hop
            .digest
            .clone()
            .or_else(|| hop.commit.as_ref().map(|c| format!("commit {c}")))
            .unwrap_or_else(|| "(unpinned: will not be staged)".into());
        let _ = writeln!(s, "  {}. {:<24} {:<10} {pin}", n + 1, hop.version, kind);
    }
    if let Some(r) = &plan.reason {
        let _ = writeln!(s, "reason:  {r}");
    }
    s
}

fn render_line(plan: &Plan) -> String {
    let hops: Vec<&str> = plan.hops.iter().map(|h| h.version.as_str()).collect();
    match plan.status {
        Status::Path => format!("{} -> {}\n", plan.booted, hops.join(" -> ")),
        other => format!(
            "{}: {}{}\n",
            plan.booted,
            status_word(other),
            plan.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    }
}
