//! The commands behind the `bootc-checkpoint` binary. Each takes already-parsed arguments,
//! does its I/O, writes human or JSON output to `out`, and returns the process exit status;
//! errors bubble up to the binary, which prints them once.

pub mod config;
pub mod demo;
pub mod graph;
pub mod graph_edit;
pub mod journey;
pub mod plan;
pub mod publish;
mod runtime;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::graph::UpdateGraph;

/// Output format of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// The same document as JSON, in YAML.
    Yaml,
}

/// Exit status of a command that ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// The command's answer is "no" (e.g. an invalid graph); its output says why.
    Failure,
}

/// Load and validate a native graph file, logging its warnings.
pub fn load_graph(path: &Path) -> Result<UpdateGraph> {
    let bytes = crate::fsutil::read(path)?;
    let parsed = UpdateGraph::parse(&bytes, &path.display().to_string())?;
    for w in &parsed.warnings {
        tracing::warn!("{}: {w}", path.display());
    }
    Ok(parsed.graph)
}

/// Write `text` to `out_path` atomically, or to `out` when no path is given.
fn emit(out: &mut dyn Write, out_path: Option<&Path>, text: &str) -> Result<()> {
    match out_path {
        Some(p) => crate::fsutil::write_atomic(p, text.as_bytes()),
        None => out.write_all(text.as_bytes()).context("writing to stdout"),
    }
}
