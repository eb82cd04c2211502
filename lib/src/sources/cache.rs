//! The last good graph of each source, under `<state dir>/graph-cache/`: what a node falls back
//! to when its source is down, what conditional requests compare with, and what freshness
//! checks compare against. One JSON file per source, replaced atomically, so graph, signature
//! and validators always belong together.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Validators;
use crate::trust::Previous;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub source: String,
    pub graph: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub validators: Validators,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// `sha256:…` of `graph`'s bytes.
    pub digest: String,
    pub checkpoints: Vec<String>,
    pub accepted_at: DateTime<Utc>,
}

impl Entry {
    /// The cached graph bytes and signature, as they were fetched.
    pub fn contents(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        (
            self.graph.clone().into_bytes(),
            self.signature.clone().map(String::into_bytes),
        )
    }

    pub fn previous(&self) -> Previous {
        Previous {
            serial: self.serial,
            digest: self.digest.clone(),
            checkpoints: self.checkpoints.clone(),
        }
    }
}

/// The cache file of one source.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
}

impl Cache {
    pub fn new(state_dir: &Path, source: &str) -> Self {
        let key = hex::encode(&Sha256::digest(source.as_bytes())[..12]);
        Self {
            path: state_dir.join("graph-cache").join(format!("{key}.json")),
        }
    }

    /// The cached entry; a missing file is `None`, an unreadable one is ignored with a warning
    /// (it is only a cache; the next good fetch replaces it).
    pub fn load(&self) -> Option<Entry> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("ignoring graph cache {}: {e}", self.path.display());
                return None;
            }
        };
        match serde_json::from_slice::<Entry>(&bytes) {
            Ok(entry) => Some(entry),
            Err(e) => {
                tracing::warn!("ignoring graph cache {}: {e}", self.path.display());
                None
            }
        }
    }

    pub fn store(&self, entry: &Entry) -> Result<()> {
        let dir = self.path.parent().expect("cache files live in a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes = serde_json::to_vec_pretty(entry).context("serializing the graph cache")?;
        crate::fsutil::write_atomic(&self.path, &bytes)
    }
}
