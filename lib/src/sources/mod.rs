//! Where update graphs come from. Today: local files (`PATH` or `file:PATH`); HTTP, OCI
//! artifacts, ostree metadata and image labels come with the sources issue.

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

use crate::graph::UpdateGraph;
use crate::state::GraphIdentity;

/// A graph as fetched, with what identifies it in the journey state.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub graph: UpdateGraph,
    pub identity: GraphIdentity,
}

/// Fetch and validate the graph named by `source`.
pub fn load(source: &str) -> Result<Loaded> {
    let path = match source.split_once(':') {
        Some(("file", rest)) => rest.strip_prefix("//").unwrap_or(rest),
        Some((scheme, _)) if !scheme.contains('/') && scheme.len() > 1 => {
            bail!("graph source {source:?}: the {scheme}: scheme is not supported by this build (use a file path)")
        }
        _ => source,
    };
    let bytes = crate::fsutil::read(std::path::Path::new(path))?;
    let parsed = UpdateGraph::parse(&bytes, path)?;
    for w in &parsed.warnings {
        tracing::warn!("{path}: {w}");
    }
    let identity = GraphIdentity {
        source: source.to_string(),
        serial: parsed.graph.metadata.serial,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
    };
    Ok(Loaded {
        graph: parsed.graph,
        identity,
    })
}
