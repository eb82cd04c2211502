//! The `graph` subcommands a CI pipeline uses to publish a graph (new, add, checkpoint,
//! deadend, rollout, diff): argument parsing only; the work is in
//! `checkpoint_engine::cmd::graph_edit`.

use std::io::Write;
use std::path::PathBuf;

use checkpoint_engine::cmd::graph_edit::{self, NewArgs};
use checkpoint_engine::cmd::Exit;
use checkpoint_engine::graph::{Edit, Marker, Release, Rollout};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::FormatArg;

#[derive(Debug, Subcommand)]
pub(crate) enum PublishCommand {
    /// Create a graph with no releases yet (JSON, or YAML for .yaml/.yml); an existing file is
    /// only replaced with --force.
    New {
        file: PathBuf,
        /// `metadata.stream`.
        #[arg(long)]
        stream: String,
        /// `metadata.image`: the repository the releases' digests belong to.
        #[arg(long)]
        image: Option<String>,
        /// `metadata.serial` to start from; every edit increases it.
        #[arg(long, default_value_t = 1)]
        serial: u64,
        #[arg(long)]
        force: bool,
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Append a release as the newest (releases are ordered by age, never by version string).
    #[command(
        disable_version_flag = true,
        group = clap::ArgGroup::new("pin").required(true).multiple(true).args(["digest", "commit"])
    )]
    Add {
        file: PathBuf,
        #[arg(long)]
        version: String,
        /// Manifest digest (sha256:<64 hex>), what container hosts stage.
        #[arg(long)]
        digest: Option<String>,
        /// ostree commit (64 hex), what ostree-ref hosts stage.
        #[arg(long)]
        commit: Option<String>,
        /// Repository of this release, when it differs from `metadata.image`.
        #[arg(long)]
        image: Option<String>,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Make a release a mandatory checkpoint (or change its reason), or --remove it.
    #[command(disable_version_flag = true)]
    Checkpoint {
        file: PathBuf,
        #[arg(long)]
        version: String,
        /// Why (usually a URL); empty when not given.
        #[arg(long, conflicts_with = "remove")]
        reason: Option<String>,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Make a release a dead-end (hosts on it get no automatic update), or --remove it.
    #[command(disable_version_flag = true)]
    Deadend {
        file: PathBuf,
        #[arg(long)]
        version: String,
        /// Why, shown to hosts on the release.
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        reason: Option<String>,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Give a release a phased rollout (or change it), or --remove it.
    #[command(disable_version_flag = true)]
    Rollout {
        file: PathBuf,
        #[arg(long)]
        version: String,
        /// `rollout.start` (RFC 3339).
        #[arg(long, value_parser = rfc3339, required_unless_present = "remove", conflicts_with = "remove")]
        start: Option<DateTime<Utc>>,
        /// `rollout.durationMinutes`: minutes from the start until the whole fleet sees it.
        #[arg(
            long,
            value_name = "MINUTES",
            required_unless_present = "remove",
            conflicts_with = "remove"
        )]
        duration: Option<u64>,
        /// `rollout.startPercentage`: fraction of the fleet (0.0 to 1.0) that sees it at the
        /// start; default 0.
        #[arg(long, value_name = "FRACTION", conflicts_with = "remove")]
        start_percentage: Option<f64>,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Compare two graphs: exit 0 when identical, 1 when they differ, 2 when one cannot be read
    /// (like diff).
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
}

/// Options every edit takes.
#[derive(Debug, clap::Args)]
pub(crate) struct EditArgs {
    /// Set `metadata.serial` to N (must be greater than the current one) instead of adding 1.
    #[arg(long, value_name = "N")]
    serial: Option<u64>,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
}

fn rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2025-01-06T00:00:00Z)"))
}

pub(crate) fn run(out: &mut dyn Write, c: PublishCommand) -> anyhow::Result<Exit> {
    let marked = |version: String, marker| Edit::Remove { version, marker };
    let (file, e, edit) = match c {
        PublishCommand::New {
            file,
            stream,
            image,
            serial,
            force,
            format,
        } => {
            let args = NewArgs {
                file,
                stream,
                image,
                serial,
                force,
                format: format.into(),
            };
            return graph_edit::new(out, &args);
        }
        PublishCommand::Diff { old, new, format } => {
            // Like diff(1): 1 means "different", so trouble (a missing or invalid graph) exits 2
            // and a CI gate cannot mistake one for the other.
            return graph_edit::diff(out, &old, &new, format.into()).or_else(|e| {
                eprintln!("error: {e:#}");
                std::process::exit(2)
            });
        }
        PublishCommand::Add {
            file,
            version,
            digest,
            commit,
            image,
            edit,
        } => {
            let mut r = Release::new(version);
            (r.digest, r.commit, r.image) = (digest, commit, image);
            (file, Edit::Add(Box::new(r)), edit)
        }
        PublishCommand::Checkpoint {
            file,
            version,
            remove: true,
            edit,
            ..
        } => (file, marked(version, Marker::Checkpoint), edit),
        PublishCommand::Checkpoint {
            file,
            version,
            reason,
            edit,
            ..
        } => {
            let reason = reason.unwrap_or_default();
            (file, Edit::Checkpoint { version, reason }, edit)
        }
        PublishCommand::Deadend {
            file,
            version,
            remove: true,
            edit,
            ..
        } => (file, marked(version, Marker::Deadend), edit),
        PublishCommand::Deadend {
            file,
            version,
            reason,
            edit,
            ..
        } => {
            let reason = reason.unwrap_or_default();
            (file, Edit::Deadend { version, reason }, edit)
        }
        PublishCommand::Rollout {
            file,
            version,
            remove: true,
            edit,
            ..
        } => (file, marked(version, Marker::Rollout), edit),
        PublishCommand::Rollout {
            file,
            version,
            start,
            duration,
            start_percentage,
            edit,
            ..
        } => {
            let rollout = Rollout {
                start,
                start_percentage,
                duration_minutes: duration,
                ..Rollout::default()
            };
            (file, Edit::Rollout { version, rollout }, edit)
        }
    };
    graph_edit::edit(out, &file, &e, edit.serial, edit.format.into())
}
