//! `upgrade`, `resume`, `status`, `cancel`: the journey commands on the native ostree backend.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{Exit, Format};
use crate::engine::{Engine, Outcome, Settings, Status, Step};
use crate::host::ostree::OstreeHost;
use crate::host::{Deployment, Origin};
use crate::rollout::Wariness;
use crate::spec::Versioned;
use crate::state::StateStore;

/// Options shared by the journey commands.
#[derive(Debug, Clone)]
pub struct Common {
    /// A sysroot other than the running system's (offline mode).
    pub sysroot: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub graph: Option<String>,
    pub wariness: Option<f64>,
    pub machine_id: PathBuf,
    /// Unix seconds; default: the system clock.
    pub now: Option<i64>,
    /// A registries.conf to use instead of the host's.
    pub registries_conf: Option<PathBuf>,
    pub format: Format,
}

/// Which journey command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Upgrade { check: bool, apply: bool },
    Resume,
    Status,
    Cancel,
}

pub fn run(out: &mut dyn Write, common: &Common, action: Action) -> Result<Exit> {
    let store = StateStore::open(&common.state_dir)?;
    // Resume runs at every boot: with no journey it must cost nothing, not even the sysroot.
    if action == Action::Resume && store.load()?.journey.is_none() {
        let step = Step {
            outcome: Outcome::Idle,
            message: "no journey in progress; nothing to do".into(),
            reboot_required: false,
            plan: None,
            journey: None,
        };
        return print_step(out, common.format, &step);
    }
    let host = OstreeHost::open(common.sysroot.as_deref())?
        .with_registries_conf(common.registries_conf.clone());
    let wariness = match common.wariness {
        Some(w) => Wariness::new(w).map_err(anyhow::Error::msg)?,
        None => super::plan::machine_wariness(&common.machine_id)?,
    };
    let settings = Settings {
        graph: common.graph.clone(),
        wariness,
        max_attempts: crate::engine::DEFAULT_MAX_ATTEMPTS,
    };
    let now = match common.now {
        Some(t) => chrono::DateTime::from_timestamp(t, 0).context("--now is out of range")?,
        None => chrono::Utc::now(),
    };
    let engine = Engine {
        host: &host,
        store: &store,
        settings: &settings,
        now,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match action {
        Action::Upgrade { check, apply } => {
            let step = rt.block_on(engine.upgrade(check))?;
            let exit = print_step(out, common.format, &step)?;
            if apply && step.outcome == Outcome::Staged && step.reboot_required {
                reboot()?;
            }
            Ok(exit)
        }
        Action::Resume => {
            let step = rt.block_on(engine.resume())?;
            print_step(out, common.format, &step)
        }
        Action::Cancel => print_step(out, common.format, &engine.cancel()?),
        Action::Status => {
            let status = engine.status()?;
            let text = match common.format {
                Format::Json => Versioned::new("Status", &status).to_json(),
                Format::Text => render_status(&status),
            };
            out.write_all(text.as_bytes())?;
            Ok(Exit::Success)
        }
    }
}

fn reboot() -> Result<()> {
    tracing::info!("rebooting into the staged hop");
    let status = std::process::Command::new("systemctl")
        .arg("reboot")
        .status()
        .context("running systemctl reboot")?;
    anyhow::ensure!(status.success(), "systemctl reboot failed: {status}");
    Ok(())
}

fn print_step(out: &mut dyn Write, format: Format, step: &Step) -> Result<Exit> {
    let text = match format {
        Format::Json => Versioned::new("Step", step).to_json(),
        Format::Text => {
            let mut s = format!("{}\n", step.message);
            if let Some(j) = &step.journey {
                let hops: Vec<&str> = j.hops.iter().map(|h| h.version.as_str()).collect();
                let _ = writeln!(s, "journey: {} (phase {:?})", hops.join(" -> "), j.phase);
            }
            s
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}

fn render_status(st: &Status) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "mode: {:?}", st.host.mode);
    let roles = [
        ("current", st.host.current.as_ref()),
        ("pending", st.host.pending.as_ref()),
        ("rollback", st.host.rollback.as_ref()),
    ];
    for (role, d) in roles {
        if let Some(d) = d {
            let _ = writeln!(s, "{role:>9}: {}", deployment_line(d));
        }
    }
    for d in &st.host.other {
        let _ = writeln!(s, "{:>9}: {}", "other", deployment_line(d));
    }
    match &st.journey {
        Some(j) => {
            let hops: Vec<String> = j
                .hops
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    if i == j.current {
                        format!("[{}]", h.version)
                    } else {
                        h.version.clone()
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "  journey: {} (phase {:?}, attempts {})",
                hops.join(" -> "),
                j.phase,
                j.attempts
            );
            if let Some(e) = &j.last_error {
                let _ = writeln!(s, "last error: {e}");
            }
        }
        None => s.push_str("  journey: none\n"),
    }
    for d in &st.denylist {
        let _ = writeln!(s, " denylist: {} ({})", d.version, d.reason);
    }
    let _ = writeln!(s, "     next: {}", st.next);
    s
}

fn deployment_line(d: &Deployment) -> String {
    let follows = match &d.origin {
        Origin::Container { imgref } => imgref.clone(),
        Origin::Ostree { refspec, .. } => refspec.clone(),
        Origin::Unknown => "(no origin)".into(),
    };
    format!(
        "{} {} following {}",
        d.version.as_deref().unwrap_or("(no version)"),
        d.digest.as_deref().unwrap_or(&d.commit),
        follows
    )
}
