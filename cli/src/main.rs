//! `bootc-checkpoint`: parse the command line, call the engine, print errors once.

mod generate;
mod graph_edit;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use checkpoint_engine::cmd::{self, graph::ShowFormat, Exit, Format};
use checkpoint_engine::graph::fcos;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// Mandatory checkpoints, dead-ends and phased rollouts for image-based hosts.
#[derive(Debug, Parser)]
#[command(name = "bootc-checkpoint", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import, validate, inspect, edit and compare update graphs.
    #[command(subcommand)]
    Graph(GraphCommand),
    /// Plan the path from a booted release through every checkpoint.
    Plan(PlanArgs),
    /// Inspect the configuration drop-ins (config.d/*.toml in /usr/lib, /run and /etc).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the checkpoint journey for real in a scratch directory (or only the planner).
    ///
    /// A local registry with releases A -> B -> C (B a checkpoint, `os:stable` at C), a host on
    /// A following `os:stable`; then status, upgrade, resume, resume, status through the engine.
    /// Needs root, docker-registry, skopeo and ostree (not with --plan-only).
    Demo {
        /// Only walk through the planner over the bundled example graph (no setup, no root).
        #[arg(long)]
        plan_only: bool,
        /// Keep the scratch directory (sysroot, state, graph, registry storage).
        #[arg(long, conflicts_with = "plan_only")]
        keep: bool,
    },
    /// Plan and stage the next hop of the journey (a checkpoint pinned by digest, or the final
    /// target).
    Upgrade {
        /// Only report what would be staged.
        #[arg(long, conflicts_with = "apply")]
        check: bool,
        /// Reboot into the staged hop on the running system, the backend's way (systemctl
        /// reboot, bootc upgrade --apply, rpm-ostree finalize-deployment).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        common: JourneyArgs,
    },
    /// After a boot: record the booted hop and stage the next one.
    Resume {
        #[command(flatten)]
        common: JourneyArgs,
    },
    /// Deployments, the journey and what happens next.
    Status {
        #[command(flatten)]
        common: JourneyArgs,
    },
    /// End the journey; the host keeps following its tracked reference.
    Cancel {
        #[command(flatten)]
        common: JourneyArgs,
    },
    /// For other updaters' `ExecCondition=` (bootc-fetch-apply-updates, Zincati): exit 0 when
    /// no journey is active, 1 while one is (or the state cannot be read), so they cannot move
    /// the host past a checkpoint.
    Gate {
        #[command(flatten)]
        common: JourneyArgs,
    },
    /// Build-time helpers (man pages, shell completions) used by the install.
    #[command(subcommand, hide = true)]
    Internals(InternalsCommand),
}

#[derive(Debug, Subcommand)]
enum InternalsCommand {
    /// Write a section-8 man page for every command into DIR.
    Man { dir: PathBuf },
    /// Print the JSON Schema of `status --format json`.
    Schema,
    /// Write the completion script for SHELL into DIR.
    Completions {
        shell: clap_complete::Shell,
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum GraphCommand {
    /// Convert Fedora CoreOS updates metadata plus a release index into a native graph.
    ImportFcos {
        /// `updates/<stream>.json` (current or 2019 legacy schema).
        #[arg(long)]
        updates: PathBuf,
        /// Release index (`releases.json`: releases[].version, oldest first).
        #[arg(long)]
        releases: PathBuf,
        /// Base architecture whose payloads are used.
        #[arg(long, default_value = default_arch())]
        arch: String,
        /// Which payloads to carry: ostree commits, OCI digests, or both.
        #[arg(long, value_enum, default_value_t = SchemeArg::Both)]
        scheme: SchemeArg,
        /// Write here (atomically) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Convert a Cincinnati `/v1/graph` response into a native graph.
    ImportCincinnati {
        input: PathBuf,
        /// Write here (atomically) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    #[command(flatten)]
    Publish(graph_edit::PublishCommand),
    /// Check a graph; exit 0 when valid, 1 with the list of problems when not.
    Validate {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Show a graph as a table, or as Graphviz dot.
    Show {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = ShowArg::Text)]
        format: ShowArg,
    },
    /// Sign a graph file with a minisign secret key; writes FILE.minisig.
    Sign {
        file: PathBuf,
        /// minisign secret key (`minisign -G` makes one).
        #[arg(long)]
        key: PathBuf,
        /// File holding the key's password, for encrypted keys.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Push a graph file (and FILE.minisig) as an OCI artifact, e.g. next to the images.
    Push {
        file: PathBuf,
        /// `oci:REGISTRY/REPO:TAG`.
        target: String,
        /// A registries.conf to use instead of the host's.
        #[arg(long)]
        registries_conf: Option<PathBuf>,
    },
    /// Fetch a graph from any source as a node would, verify it, and write it to a file.
    Pull {
        /// `oci:…`, `https://…`, `http://…` or a path.
        source: String,
        #[arg(short, long)]
        output: PathBuf,
        /// Directories of trusted minisign public keys (`*.pub`).
        #[arg(long = "keys-dir", value_name = "DIR")]
        keys_dirs: Vec<PathBuf>,
        /// Accept an unsigned graph (a signature present is still checked).
        #[arg(long)]
        allow_unsigned: bool,
        #[arg(long)]
        registries_conf: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the merged configuration and the drop-in each value came from.
    Show {
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Look up the config.d directories under DIR instead of / (tests, image builds).
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["booted", "all"]))]
struct PlanArgs {
    /// Native update graph (JSON or YAML).
    #[arg(long)]
    graph: PathBuf,
    /// Booted release: a digest (sha256:…), an ostree commit, or a version.
    #[arg(long)]
    booted: Option<String>,
    /// Plan for every release of the graph (kind PlanTable).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    rollout: RolloutArgs,
    /// Never target this release (version, digest or commit); repeatable.
    #[arg(long = "deny")]
    deny: Vec<String>,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
}

/// Who this node is for rollouts, and when it plans.
#[derive(Debug, clap::Args)]
struct RolloutArgs {
    /// Rollout wariness in [0, 1]; default: identity.rollout_wariness from the configuration
    /// (journey commands), else derived from the machine id.
    #[arg(long)]
    wariness: Option<f64>,
    /// Machine id file used when no wariness is given.
    #[arg(long, default_value = "/etc/machine-id")]
    machine_id: PathBuf,
    /// Act as of this Unix time (seconds); default: now.
    #[arg(long, allow_negative_numbers = true)]
    now: Option<i64>,
}

#[derive(Debug, clap::Args)]
struct JourneyArgs {
    /// Act on this sysroot instead of the running system. An offline sysroot (tests, image
    /// builds) is deployed to directly and its default deployment counts as the current one.
    #[arg(long)]
    sysroot: Option<PathBuf>,
    /// Where the journey state lives; default: host.state_dir from the configuration, else
    /// /var/lib/bootc-checkpoint.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Update graph source (a file path or file:PATH); default: graph.source from the
    /// configuration, else the journey's.
    #[arg(long)]
    graph: Option<String>,
    #[command(flatten)]
    rollout: RolloutArgs,
    /// Use this registries.conf instead of the host's (like skopeo --registries-conf).
    #[arg(long)]
    registries_conf: Option<PathBuf>,
    /// Look up the config.d directories under DIR instead of / (tests, image builds).
    #[arg(long, value_name = "DIR", default_value = "/")]
    config_root: PathBuf,
    /// Where upgrade, resume and cancel keep the motd (motd.d/85-bootc-checkpoint.motd), the
    /// reboot flag (reboot-required) and the metrics (bootc-checkpoint/metrics.prom).
    #[arg(long, value_name = "DIR", default_value = "/run")]
    run_dir: PathBuf,
    /// Test and diagnostic seam: run PROGRAM instead of `systemctl reboot`; an offline
    /// sysroot's freshly deployed hop then counts as waiting for a reboot.
    #[arg(long, value_name = "PROGRAM", hide = true)]
    reboot_command: Option<PathBuf>,
    /// Give up on an unreachable FleetLock server after SECONDS (default 120).
    #[arg(long, value_name = "SECONDS", hide = true)]
    fleet_lock_deadline: Option<u64>,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
}

impl From<JourneyArgs> for cmd::journey::Common {
    fn from(a: JourneyArgs) -> Self {
        Self {
            sysroot: a.sysroot,
            state_dir: a.state_dir,
            graph: a.graph,
            wariness: a.rollout.wariness,
            machine_id: a.rollout.machine_id,
            now: a.rollout.now,
            registries_conf: a.registries_conf,
            config_root: a.config_root,
            format: a.format.into(),
            run_dir: a.run_dir,
            reboot_command: a.reboot_command,
            fleet_lock_deadline: a.fleet_lock_deadline,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShowArg {
    Text,
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemeArg {
    Checksum,
    Oci,
    Both,
}

fn default_arch() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Yaml => Format::Yaml,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Graph(GraphCommand::ImportFcos {
            updates,
            releases,
            arch,
            scheme,
            output,
        }) => {
            let scheme = match scheme {
                SchemeArg::Checksum => fcos::Scheme::Checksum,
                SchemeArg::Oci => fcos::Scheme::Oci,
                SchemeArg::Both => fcos::Scheme::Both,
            };
            let opts = fcos::Options { arch, scheme };
            cmd::graph::import_fcos(out, &updates, &releases, &opts, output.as_deref())
        }
        Command::Graph(GraphCommand::ImportCincinnati { input, output }) => {
            cmd::graph::import_cincinnati(out, &input, output.as_deref())
        }
        Command::Graph(GraphCommand::Validate { file, format }) => {
            cmd::graph::validate(out, &file, format.into())
        }
        Command::Graph(GraphCommand::Sign {
            file,
            key,
            password_file,
        }) => cmd::publish::sign(out, &file, &key, password_file.as_deref()),
        Command::Graph(GraphCommand::Push {
            file,
            target,
            registries_conf,
        }) => cmd::publish::push(out, &file, &target, registries_conf.as_deref()),
        Command::Graph(GraphCommand::Pull {
            source,
            output,
            keys_dirs,
            allow_unsigned,
            registries_conf,
        }) => {
            let ctx = checkpoint_engine::sources::Context {
                require_signature: !allow_unsigned,
                keys_dirs,
                registries_conf,
                ..Default::default()
            };
            cmd::publish::pull(out, &source, &output, &ctx)
        }
        Command::Graph(GraphCommand::Show { file, format }) => {
            let format = match format {
                ShowArg::Text => ShowFormat::Text,
                ShowArg::Dot => ShowFormat::Dot,
            };
            cmd::graph::show(out, &file, format)
        }
        Command::Graph(GraphCommand::Publish(c)) => graph_edit::run(out, c),
        Command::Config(ConfigCommand::Show { format, root }) => {
            cmd::config::show(out, &root, format.into())
        }
        Command::Demo { plan_only, keep } => {
            cmd::demo::run(out, &cmd::demo::Args { plan_only, keep })
        }
        Command::Upgrade {
            check,
            apply,
            common,
        } => cmd::journey::run(
            out,
            &common.into(),
            cmd::journey::Action::Upgrade { check, apply },
        ),
        Command::Resume { common } => {
            cmd::journey::run(out, &common.into(), cmd::journey::Action::Resume)
        }
        Command::Status { common } => {
            cmd::journey::run(out, &common.into(), cmd::journey::Action::Status)
        }
        Command::Cancel { common } => {
            cmd::journey::run(out, &common.into(), cmd::journey::Action::Cancel)
        }
        Command::Gate { common } => cmd::journey::gate(out, &common.into()),
        Command::Internals(InternalsCommand::Man { dir }) => {
            for page in generate::man_pages(Cli::command(), &dir)? {
                writeln!(out, "{}", dir.join(page).display())?;
            }
            Ok(Exit::Success)
        }
        Command::Internals(InternalsCommand::Schema) => {
            out.write_all(checkpoint_engine::schema::status_schema().as_bytes())?;
            Ok(Exit::Success)
        }
        Command::Internals(InternalsCommand::Completions { shell, dir }) => {
            let path = generate::completions(Cli::command(), shell, &dir)?;
            writeln!(out, "{path}")?;
            Ok(Exit::Success)
        }
        Command::Plan(a) => {
            let target = match a.booted {
                Some(b) => cmd::plan::Target::Booted(b),
                None => cmd::plan::Target::All,
            };
            let args = cmd::plan::Args {
                graph: a.graph,
                target,
                wariness: a.rollout.wariness,
                machine_id: a.rollout.machine_id,
                now: a.rollout.now,
                denylist: a.deny,
                format: a.format.into(),
            };
            cmd::plan::run(out, &args)
        }
    }
}

/// Logs go to stderr; run by systemd (stderr connected to the journal) they go to journald
/// natively instead, so that structured fields such as `MESSAGE_ID` survive (docs/runtime.md).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = |default: &str| {
        tracing_subscriber::EnvFilter::try_from_env("BOOTC_CHECKPOINT_LOG")
            .unwrap_or_else(|_| default.into())
    };
    let journald = std::env::var_os("JOURNAL_STREAM")
        .and_then(|_| tracing_journald::layer().ok())
        .map(|l| {
            l.with_field_prefix(None)
                .with_syslog_identifier("bootc-checkpoint".into())
        });
    if let Some(layer) = journald {
        tracing_subscriber::registry()
            .with(layer)
            .with(filter("info"))
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // The key events (MESSAGE_IDs) repeat what the output already says on a terminal.
        .with_env_filter(filter("warn,checkpoint_engine::notify::events=error"))
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    init_logging();
    match run(Cli::parse()) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failure) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
