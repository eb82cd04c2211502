//! `upgrade`, `resume`, `status`, `cancel`: the journey commands on the native ostree backend.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use serde::Serialize;

use super::runtime::{LazyRuntime, Runtime};
use super::{Exit, Format};
use crate::config::Config;
use crate::engine::{Engine, Outcome, Settings, Status, Step};
use crate::host::detect;
use crate::host::{AnyHost, Deployment, Host, Origin};
use crate::rollout::Wariness;
use crate::spec::Versioned;
use crate::state::StateStore;
use crate::strategy::RebootDecision;

/// Options shared by the journey commands. Those left unset fall back to the configuration
/// drop-ins (`crate::config`), then to the built-in defaults.
#[derive(Debug, Clone)]
pub struct Common {
    /// A sysroot other than the running system's (offline mode).
    pub sysroot: Option<PathBuf>,
    /// Default: `host.state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Default: `graph.source`, else the journey's own source.
    pub graph: Option<String>,
    /// Default: `identity.rollout_wariness`, else derived from `machine_id`.
    pub wariness: Option<f64>,
    pub machine_id: PathBuf,
    /// Unix seconds; default: the system clock.
    pub now: Option<i64>,
    /// A registries.conf to use instead of the host's.
    pub registries_conf: Option<PathBuf>,
    /// Where the config.d directories are looked up: `/` on a host.
    pub config_root: PathBuf,
    pub format: Format,
    /// Where the motd, reboot flag and metrics go: `/run` on a host (see `crate::notify`).
    pub run_dir: PathBuf,
    /// Test and diagnostic seam: run this program instead of `systemctl reboot` (and let an
    /// offline sysroot's freshly deployed hop count as waiting for a reboot).
    pub reboot_command: Option<PathBuf>,
    /// Seconds to keep retrying an unreachable FleetLock server (default: two minutes).
    pub fleet_lock_deadline: Option<u64>,
}

/// The options in effect once the command line, the configuration and the defaults are merged.
#[derive(Debug, Clone, PartialEq)]
struct Effective {
    state_dir: PathBuf,
    graph: Option<String>,
    /// `None`: derive it from the machine id.
    wariness: Option<f64>,
}

impl Effective {
    /// Flags win over the configuration, the configuration over the defaults (which `config`
    /// already holds for keys that have one).
    fn new(common: &Common, config: &Config) -> Result<Self> {
        let state_dir = match &common.state_dir {
            Some(d) => d.clone(),
            None => {
                let d = &config.host.state_dir;
                tracing::debug!("state directory {} ({})", d.value.display(), d.origin());
                d.value.clone()
            }
        };
        let graph = common.graph.clone().or_else(|| {
            let src = config.graph.source.as_ref()?;
            tracing::debug!("graph source {} ({})", src.value, src.origin());
            Some(src.value.clone())
        });
        let wariness = common.wariness.or_else(|| {
            let w = config.identity.rollout_wariness.as_ref()?;
            tracing::debug!("rollout wariness {} ({})", w.value, w.origin());
            Some(w.value)
        });
        Ok(Self {
            state_dir,
            graph,
            wariness,
        })
    }
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
    let config = crate::config::load(&common.config_root)?.config;
    let effective = Effective::new(common, &config)?;
    let store = StateStore::open(&effective.state_dir)?;
    let before = store.load()?;
    let now = match common.now {
        Some(t) => chrono::DateTime::from_timestamp(t, 0).context("--now is out of range")?,
        None => chrono::Utc::now(),
    };
    let runtime = Runtime {
        common,
        config: &config,
        state_dir: effective.state_dir.clone(),
        history_before: before.history,
        now,
        dry_run: matches!(action, Action::Upgrade { check: true, .. }),
    };
    let rt = LazyRuntime::default();
    // Resume runs at every boot: with no journey it must cost nothing, not even the sysroot.
    if action == Action::Resume && before.journey.is_none() {
        let step = Step {
            outcome: Outcome::Idle,
            message: "no journey in progress; nothing to do".into(),
            reboot_required: false,
            plan: None,
            journey: None,
        };
        let unlocked = runtime.steady_state(&rt);
        let exit = print_step(out, common.format, &step, None)?;
        runtime.publish(&store, Some(&step), None, None);
        return unlocked.map(|()| exit);
    }
    let backend = &config.host.backend;
    let choice = detect::choose(
        backend.value,
        &backend.origin(),
        common.sysroot.is_some(),
        &detect::SystemProbes,
    )?;
    tracing::debug!(backend = ?choice.kind, reason = %choice.reason, "backend");
    let host = AnyHost::open(
        choice,
        common.sysroot.as_deref(),
        common.registries_conf.clone(),
    )?;
    let wariness = match effective.wariness {
        Some(w) => Wariness::new(w).map_err(anyhow::Error::msg)?,
        None => super::plan::machine_wariness(&common.machine_id)?,
    };
    let settings = Settings {
        graph: effective.graph,
        wariness,
        max_attempts: crate::engine::DEFAULT_MAX_ATTEMPTS,
        sources: crate::sources::Context {
            state_dir: Some(effective.state_dir.clone()),
            require_signature: config.trust.policy.value == crate::config::TrustPolicy::Require,
            keys_dirs: config.trust.keys_dirs.value.clone(),
            registries_conf: common.registries_conf.clone(),
            limits: crate::sources::Limits::default(),
        },
    };
    let engine = Engine {
        host: &host,
        store: &store,
        settings: &settings,
        now,
    };
    // The graph a check looks at (for the metrics' graph serial and age).
    let checked_graph = (settings.graph.clone())
        .or_else(|| before.journey.as_ref().map(|j| j.graph.source.clone()));
    match action {
        Action::Upgrade { check, apply } => {
            let step = rt.get()?.block_on(engine.upgrade(check));
            let step = settled(&runtime, &store, step, checked_graph.as_deref())?;
            // A hop staged earlier whose reboot never happened (`waiting`) reboots too.
            let decision = (apply && runtime.wants_reboot(&step)).then(|| runtime.decide(&rt));
            let (reboot, failure) = match decision {
                None => (None, None),
                Some(Ok(d)) => (Some(d), None),
                Some(Err(e)) => (Some(not_rebooting(&config, &e)), Some(e)),
            };
            let mut step = step;
            if let Some(r) = &reboot {
                step.message = format!("{}; {}", step.message, r.reason);
            }
            let exit = print_step(out, common.format, &step, reboot.as_ref())?;
            runtime.publish(
                &store,
                Some(&step),
                reboot.as_ref(),
                checked_graph.as_deref(),
            );
            if let Some(e) = failure {
                return Err(e.context("not rebooting into the staged hop"));
            }
            if reboot.is_some_and(|r| r.allowed) {
                runtime.reboot(|| {
                    let pending = host
                        .status()?
                        .pending
                        .context("no staged deployment to reboot into")?;
                    host.apply(&pending)
                })?;
            }
            Ok(exit)
        }
        Action::Resume => {
            let step = rt.get()?.block_on(engine.resume());
            // The boot is good whatever resume found: give the reboot slot back first.
            let unlocked = runtime.steady_state(&rt);
            let step = settled(&runtime, &store, step, checked_graph.as_deref())?;
            let exit = print_step(out, common.format, &step, None)?;
            runtime.publish(&store, Some(&step), None, checked_graph.as_deref());
            unlocked.map(|()| exit)
        }
        Action::Cancel => {
            let step = settled(&runtime, &store, engine.cancel(), None)?;
            let exit = print_step(out, common.format, &step, None)?;
            runtime.publish(&store, Some(&step), None, None);
            Ok(exit)
        }
        Action::Status => {
            let status = rt.get()?.block_on(engine.status())?;
            let text = match common.format {
                Format::Json | Format::Yaml => {
                    Versioned::new("Status", &status).render(common.format)
                }
                Format::Text => render_status(&status),
            };
            out.write_all(text.as_bytes())?;
            Ok(Exit::Success)
        }
    }
}

/// Answer `gate`: a journey holds other updaters back. A state that cannot be read holds them
/// back too (the error exits 1 as well), since it may hide a journey.
pub fn gate(out: &mut dyn Write, common: &Common) -> Result<Exit> {
    let config = crate::config::load(&common.config_root)?.config;
    let effective = Effective::new(common, &config)?;
    let state = StateStore::open(&effective.state_dir)?.load()?;
    let format = common.format;
    let (exit, message) = match &state.journey {
        Some(j) => (
            Exit::Failure,
            format!(
                "a checkpoint journey is active ({}, phase {:?}): other updaters wait until it \
                 completes",
                j.hop_path(),
                j.phase
            ),
        ),
        None => (
            Exit::Success,
            "no checkpoint journey is active: other updaters may run".to_string(),
        ),
    };
    let text = match format {
        Format::Json | Format::Yaml => {
            let body = serde_json::json!({
                "active": state.journey.is_some(),
                "message": message,
            });
            Versioned::new("Gate", &body).render(format)
        }
        Format::Text => format!("{message}\n"),
    };
    out.write_all(text.as_bytes())?;
    Ok(exit)
}

/// A failed command still refreshes the runtime files (the state may hold a new error).
fn settled(
    runtime: &Runtime,
    store: &StateStore,
    step: Result<Step>,
    graph: Option<&str>,
) -> Result<Step> {
    if step.is_err() {
        runtime.publish(store, None, None, graph);
    }
    step
}

/// The decision printed when the strategy could not decide (e.g. no FleetLock server).
fn not_rebooting(config: &Config, e: &anyhow::Error) -> RebootDecision {
    RebootDecision {
        strategy: config.updates.strategy.value,
        allowed: false,
        reason: format!("not rebooting: {e:#}"),
        window: None,
        time_zone: None,
        lock: None,
    }
}

/// A `Step` with the reboot decision, when there was one (JSON kind `Step`).
#[derive(Serialize)]
struct StepDoc<'a> {
    #[serde(flatten)]
    step: &'a Step,
    #[serde(skip_serializing_if = "Option::is_none")]
    reboot: Option<&'a RebootDecision>,
}

fn print_step(
    out: &mut dyn Write,
    format: Format,
    step: &Step,
    reboot: Option<&RebootDecision>,
) -> Result<Exit> {
    let text = match format {
        Format::Json | Format::Yaml => {
            Versioned::new("Step", StepDoc { step, reboot }).render(format)
        }
        Format::Text => {
            let mut s = format!("{}\n", step.message);
            if let Some(j) = &step.journey {
                let _ = writeln!(s, "journey: {} (phase {:?})", j.hop_path(), j.phase);
            }
            s
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}

fn render_status(st: &Status) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "  backend: {} ({})", st.backend.name, st.backend.reason);
    let _ = writeln!(s, "     mode: {:?}", st.host.mode);
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
            let _ = writeln!(
                s,
                "  journey: {} (phase {:?}, attempts {})",
                j.hop_path(),
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Sourced;

    fn common(state_dir: Option<&str>, graph: Option<&str>, wariness: Option<f64>) -> Common {
        Common {
            sysroot: None,
            state_dir: state_dir.map(PathBuf::from),
            graph: graph.map(String::from),
            wariness,
            machine_id: "/etc/machine-id".into(),
            now: None,
            registries_conf: None,
            config_root: "/".into(),
            format: Format::Text,
            run_dir: "/run".into(),
            reboot_command: None,
            fleet_lock_deadline: None,
        }
    }

    fn configured() -> Config {
        let f = Path::new("/etc/bootc-checkpoint/config.d/50-x.toml");
        let mut c = Config::default();
        c.graph.source = Some(Sourced::from_file("/cfg/graph.json".into(), f));
        c.identity.rollout_wariness = Some(Sourced::from_file(0.75, f));
        c.host.state_dir = Sourced::from_file("/cfg/state".into(), f);
        c
    }

    #[test]
    fn flags_win_over_config_and_config_over_defaults() {
        let eff = |c: &Common, cfg: &Config| Effective::new(c, cfg).unwrap();
        let e = |state: &str, graph: Option<&str>, wariness: Option<f64>| Effective {
            state_dir: state.into(),
            graph: graph.map(String::from),
            wariness,
        };
        let table = [
            // (flags, config, effective)
            (
                common(None, None, None),
                Config::default(),
                e(crate::state::DEFAULT_STATE_DIR, None, None),
            ),
            (
                common(None, None, None),
                configured(),
                e("/cfg/state", Some("/cfg/graph.json"), Some(0.75)),
            ),
            (
                common(Some("/flag/state"), Some("/flag/g.json"), Some(0.0)),
                configured(),
                e("/flag/state", Some("/flag/g.json"), Some(0.0)),
            ),
            (
                common(Some("/flag/state"), None, None),
                Config::default(),
                e("/flag/state", None, None),
            ),
        ];
        for (flags, cfg, want) in table {
            assert_eq!(eff(&flags, &cfg), want, "{flags:?}");
        }
    }
}
