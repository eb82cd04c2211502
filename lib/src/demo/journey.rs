//! The journey itself: the engine driven through status → upgrade → resume → resume → status,
//! each step as the CLI command runs it (a fresh host and state store, wariness 0), printed for
//! a human together with the deployment it leaves current. Each step's outcome and resulting
//! deployment are checked, so the demo fails loudly rather than show a wrong journey.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde::Serialize;

use super::images::Release;
use crate::engine::{Engine, Outcome, Settings, DEFAULT_MAX_ATTEMPTS};
use crate::host::ostree::OstreeHost;
use crate::host::{Deployment, Host, Origin};
use crate::plan::{HopKind, Plan};
use crate::rollout::Wariness;
use crate::state::{Journey, StateStore};

/// Where the host, its state and the graph are, and what it should end up running.
#[derive(Debug)]
pub struct Scene<'a> {
    pub sysroot: &'a Path,
    pub state_dir: &'a Path,
    pub graph: &'a Path,
    /// A, B, C.
    pub releases: &'a [Release],
    /// The image reference the host follows (`ostree-unverified-registry:…/os:stable`).
    pub tracked: &'a str,
    /// The scratch registry's `registries.conf` (plain HTTP).
    pub registries_conf: &'a Path,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Status,
    Upgrade,
    Resume,
}

/// One step: the command, whether it is given `--graph`, what it stands for, what it must
/// yield, and which release (index into A, B, C) is current afterwards.
#[derive(Debug)]
struct StepSpec {
    command: Command,
    graph: bool,
    meaning: &'static str,
    outcome: Option<Outcome>,
    current: usize,
}

const STEPS: [StepSpec; 5] = [
    StepSpec {
        command: Command::Status,
        graph: true,
        meaning: "Where the host is and where it would go; changes nothing.",
        outcome: None,
        current: 0,
    },
    StepSpec {
        command: Command::Upgrade,
        graph: true,
        meaning: "What bootc-checkpoint.timer runs: plan from A through every checkpoint, record \
                  the tag the host follows, stage the first hop pinned by digest.",
        outcome: Some(Outcome::Staged),
        current: 1,
    },
    StepSpec {
        command: Command::Resume,
        graph: false,
        meaning: "After the reboot into B (offline sysroot: the new default deployment counts \
                  as booted), bootc-checkpoint-resume.service runs: record B, stage the next hop.",
        outcome: Some(Outcome::Staged),
        current: 2,
    },
    StepSpec {
        command: Command::Resume,
        graph: false,
        meaning: "After the reboot into C: the last hop booted, so the journey ends and the host \
                  follows its tag again.",
        outcome: Some(Outcome::Completed),
        current: 2,
    },
    StepSpec {
        command: Command::Status,
        graph: true,
        meaning: "Back to normal: the next run (or a plain `bootc upgrade`) follows the tag.",
        outcome: None,
        current: 2,
    },
];

/// What a step printed about itself, besides the deployment.
#[derive(Debug)]
struct Done {
    outcome: Option<String>,
    next: Option<String>,
    plan: Option<Plan>,
    journey: Option<Journey>,
}

/// Run every step, printing as it goes; returns the time spent in the engine.
pub fn run(out: &mut dyn Write, rt: &tokio::runtime::Runtime, scene: &Scene) -> Result<Duration> {
    writeln!(out, "\nThe journey, as the CLI runs it ($ lines):")?;
    let mut total = Duration::ZERO;
    for (n, spec) in STEPS.iter().enumerate() {
        let started = Instant::now();
        let done = step(rt, scene, spec)
            .with_context(|| format!("demo step {}: {}", n + 1, command_word(spec.command)))?;
        let took = started.elapsed();
        total += took;
        let current = current(scene.sysroot)?;
        out.write_all(render(n + 1, spec, took, &done, &current).as_bytes())?;
        check(scene, spec, &done, &current)
            .with_context(|| format!("demo step {} went wrong", n + 1))?;
    }
    Ok(total)
}

/// Run one command through the engine, exactly as `cmd::journey` does.
fn step(rt: &tokio::runtime::Runtime, scene: &Scene, spec: &StepSpec) -> Result<Done> {
    let ostree = OstreeHost::open(Some(scene.sysroot))?
        .with_registries_conf(Some(scene.registries_conf.to_path_buf()));
    let store = StateStore::open(scene.state_dir)?;
    let graph = scene
        .graph
        .to_str()
        .with_context(|| format!("{} is not UTF-8", scene.graph.display()))?;
    let settings = Settings {
        graph: spec.graph.then(|| graph.to_string()),
        wariness: Wariness::new(0.0).map_err(anyhow::Error::msg)?,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        sources: crate::sources::Context {
            state_dir: Some(scene.state_dir.to_path_buf()),
            ..Default::default()
        },
    };
    let engine = Engine {
        host: &ostree,
        store: &store,
        settings: &settings,
        now: chrono::Utc::now(),
    };
    let step = match spec.command {
        Command::Status => {
            let st = rt.block_on(engine.status())?;
            return Ok(Done {
                outcome: None,
                next: Some(st.next),
                plan: st.plan,
                journey: st.journey,
            });
        }
        Command::Upgrade => rt.block_on(engine.upgrade(false))?,
        Command::Resume => rt.block_on(engine.resume())?,
    };
    Ok(Done {
        outcome: Some(format!("{}: {}", word(&step.outcome), step.message)),
        next: None,
        plan: step.plan,
        journey: step.journey,
    })
}

/// The deployment the host runs now (offline: the default one), read afresh.
fn current(sysroot: &Path) -> Result<Deployment> {
    OstreeHost::open(Some(sysroot))?
        .status()?
        .current
        .context("the sysroot has no deployment")
}

fn check(scene: &Scene, spec: &StepSpec, done: &Done, current: &Deployment) -> Result<()> {
    if let Some(want) = spec.outcome {
        let got = done.outcome.as_deref().unwrap_or("");
        ensure!(
            got.starts_with(&format!("{}:", word(&want))),
            "expected outcome {}, got {got}",
            word(&want)
        );
    }
    let want = &scene.releases[spec.current];
    ensure!(
        current.version.as_deref() == Some(want.version.as_str())
            && current.digest.as_deref() == Some(want.digest.as_str()),
        "expected {} ({}) to be current, found {:?} ({:?})",
        want.version,
        want.digest,
        current.version,
        current.digest
    );
    ensure!(
        current.origin
            == Origin::Container {
                imgref: scene.tracked.to_string()
            },
        "the current deployment should follow {}, its origin is {:?}",
        scene.tracked,
        current.origin
    );
    Ok(())
}

fn render(n: usize, spec: &StepSpec, took: Duration, done: &Done, current: &Deployment) -> String {
    let mut s = String::new();
    let cmd = command_word(spec.command);
    let _ = writeln!(s, "\n{n}. {cmd}  [{:.2}s]", took.as_secs_f64());
    let _ = writeln!(
        s,
        "   $ bootc-checkpoint {cmd} --sysroot $DEMO/sysroot --state-dir $DEMO/state{} \
         --wariness 0",
        if spec.graph {
            " --graph $DEMO/graph.json"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "   {}", spec.meaning);
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(s, "   {name:<8} {value}");
    };
    if let Some(o) = &done.outcome {
        field("outcome", o);
    }
    if let Some(next) = &done.next {
        field("next", next);
    }
    if let Some(p) = done.plan.as_ref().filter(|p| !p.hops.is_empty()) {
        field("plan", &plan_line(p));
    }
    field(
        "current",
        &format!(
            "{}  {}",
            current.version.as_deref().unwrap_or("(no version)"),
            current.digest.as_deref().unwrap_or(&current.commit)
        ),
    );
    field("origin", &origin_line(&current.origin));
    field(
        "journey",
        &done
            .journey
            .as_ref()
            .map(journey_line)
            .unwrap_or_else(|| "none".into()),
    );
    s
}

fn plan_line(p: &Plan) -> String {
    let hops: Vec<String> = p
        .hops
        .iter()
        .map(|h| {
            let kind = match h.kind {
                HopKind::Checkpoint => "checkpoint",
                HopKind::Final => "final",
            };
            format!("{} ({kind})", h.version)
        })
        .collect();
    format!("{} -> {}", p.booted, hops.join(" -> "))
}

fn journey_line(j: &Journey) -> String {
    format!("{}, phase {}", j.hop_path(), word(&j.phase))
}

fn origin_line(o: &Origin) -> String {
    match o {
        Origin::Container { imgref } => imgref.clone(),
        Origin::Ostree { refspec, .. } => refspec.clone(),
        Origin::Unknown => "(none)".into(),
    }
}

fn command_word(c: Command) -> &'static str {
    match c {
        Command::Status => "status",
        Command::Upgrade => "upgrade",
        Command::Resume => "resume",
    }
}

/// A unit enum value as its JSON name (`staged`, `upToDate`, …), as the JSON output spells it.
fn word<T: Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}
