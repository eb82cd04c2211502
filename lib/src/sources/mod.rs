//! Where update graphs come from, and whether they may be acted on: local files, HTTP(S) and
//! OCI artifacts (`uri`), fetched with a size cap, a deadline and bounded redirects, polled
//! cheaply (conditional requests, manifest digests), verified (`crate::trust`) and cached as the
//! last good graph, which is used with a warning while the source is down.

mod cache;
mod error;
mod http;
pub mod oci;
mod uri;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use error::FetchError;
pub use uri::Source;

use crate::graph::UpdateGraph;
use crate::state::GraphIdentity;
use crate::trust::{self, Keys, Verdict};

/// Bounds on every fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub deadline: Duration,
    pub max_redirects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            deadline: Duration::from_secs(60),
            max_redirects: 5,
        }
    }
}

/// What a fetch is held to.
#[derive(Debug, Clone)]
pub struct Context {
    /// The cache lives in `<state_dir>/graph-cache`; `None`: no cache (one-off commands).
    pub state_dir: Option<PathBuf>,
    /// `trust.policy = "require"`.
    pub require_signature: bool,
    pub keys_dirs: Vec<PathBuf>,
    pub registries_conf: Option<PathBuf>,
    pub limits: Limits,
}

impl Default for Context {
    fn default() -> Self {
        Self {
            state_dir: None,
            require_signature: true,
            keys_dirs: Vec::new(),
            registries_conf: None,
            limits: Limits::default(),
        }
    }
}

/// What makes a repeated fetch cheap: HTTP validators or the artifact's manifest digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
}

/// A fetch's answer.
#[derive(Debug)]
pub enum Fetched {
    /// The cached copy is current.
    NotModified,
    New {
        bytes: Vec<u8>,
        signature: Option<Vec<u8>>,
        validators: Validators,
    },
}

/// A graph as fetched and accepted, with what identifies it in the journey state.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub graph: UpdateGraph,
    pub identity: GraphIdentity,
    pub verdict: Verdict,
    /// Served from the cache because the source was down (the warning says why).
    pub stale: Option<String>,
}

/// The identity of the last graph accepted from `source`, from the cache alone (no fetch).
pub fn cached_identity(state_dir: &std::path::Path, source: &str) -> Option<GraphIdentity> {
    let entry = cache::Cache::new(state_dir, source).load()?;
    Some(GraphIdentity {
        source: entry.source,
        serial: entry.serial,
        digest: entry.digest,
    })
}

/// Fetch, verify and cache the graph named by `source`.
pub async fn load(ctx: &Context, source: &str, now: DateTime<Utc>) -> Result<Loaded> {
    let src = Source::parse(source)?;
    let cache = ctx.state_dir.as_ref().map(|d| cache::Cache::new(d, source));
    let cached = cache.as_ref().and_then(|c| c.load());
    let fetched = fetch(ctx, &src, cached.as_ref().map(|c| &c.validators)).await;
    let (bytes, signature, validators, stale) = match (fetched, &cached) {
        (
            Ok(Fetched::New {
                bytes,
                signature,
                validators,
            }),
            _,
        ) => (bytes, signature, validators, None),
        (Ok(Fetched::NotModified), Some(c)) => {
            let (bytes, signature) = c.contents();
            (bytes, signature, c.validators.clone(), None)
        }
        (Ok(Fetched::NotModified), None) => {
            anyhow::bail!("{source}: the source says the graph is unchanged, but none is cached")
        }
        (Err(e), Some(c)) if e.is_unavailable() => {
            let why = format!("{e}; using the graph accepted at {}", c.accepted_at);
            tracing::warn!("{why}");
            let (bytes, signature) = c.contents();
            (bytes, signature, c.validators.clone(), Some(why))
        }
        (Err(e), _) => return Err(e.into()),
    };
    let previous = cached.as_ref().map(cache::Entry::previous);
    let mut loaded = verify(
        ctx,
        source,
        &src,
        &bytes,
        signature.as_deref(),
        previous.as_ref(),
        now,
    )?;
    loaded.stale = stale;
    if let Some(cache) = &cache {
        let unchanged = cached
            .as_ref()
            .is_some_and(|c| c.digest == loaded.identity.digest && c.validators == validators);
        if !unchanged {
            cache.store(&cache::Entry {
                source: source.to_string(),
                graph: String::from_utf8(bytes).context("the graph is not UTF-8")?,
                signature: signature
                    .map(String::from_utf8)
                    .transpose()
                    .context("the signature is not UTF-8")?,
                validators,
                serial: loaded.identity.serial,
                digest: loaded.identity.digest.clone(),
                checkpoints: trust::checkpoints(&loaded.graph),
                accepted_at: now,
            })?;
        }
    }
    Ok(loaded)
}

/// `FILE.minisig`: where a file's detached signature lives.
pub fn signature_path(file: &std::path::Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".minisig");
    PathBuf::from(p)
}

/// One fetch of `src`, conditional on `validators` where the source supports it.
async fn fetch(
    ctx: &Context,
    src: &Source,
    validators: Option<&Validators>,
) -> Result<Fetched, FetchError> {
    match src {
        Source::File(path) => {
            let refused = |e: std::io::Error, p: &std::path::Path| FetchError::Refused {
                source_name: p.display().to_string(),
                reason: format!("reading it: {e}"),
            };
            let size = std::fs::metadata(path).map_err(|e| refused(e, path))?.len();
            if size > ctx.limits.max_bytes {
                return Err(FetchError::TooLarge {
                    source_name: path.display().to_string(),
                    limit: ctx.limits.max_bytes,
                });
            }
            let bytes = std::fs::read(path).map_err(|e| refused(e, path))?;
            let sig_path = signature_path(path);
            let signature =
                crate::fsutil::read_optional(&sig_path).map_err(|e| refused(e, &sig_path))?;
            Ok(Fetched::New {
                bytes,
                signature,
                validators: Validators::default(),
            })
        }
        Source::Http(url) => http::fetch(url, validators, &ctx.limits).await,
        Source::Oci(name) => {
            oci::fetch(
                name,
                validators,
                &ctx.limits,
                ctx.registries_conf.as_deref(),
            )
            .await
        }
    }
}

/// Fetch `source` unconditionally, without the cache: the graph bytes and signature.
pub async fn fetch_raw(ctx: &Context, source: &str) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let src = Source::parse(source)?;
    match fetch(ctx, &src, None).await? {
        Fetched::New {
            bytes, signature, ..
        } => Ok((bytes, signature)),
        Fetched::NotModified => anyhow::bail!("{source}: unexpected \"not modified\""),
    }
}

/// Parse and verify fetched bytes against the policy and keys (no cache, no rollback check).
pub fn verify_raw(
    ctx: &Context,
    source: &str,
    bytes: &[u8],
    signature: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<Loaded> {
    verify(
        ctx,
        source,
        &Source::parse(source)?,
        bytes,
        signature,
        None,
        now,
    )
}

/// Parse and verify `bytes` (signature, policy, keys) and check their freshness against the
/// last graph accepted from the same source.
fn verify(
    ctx: &Context,
    source: &str,
    src: &Source,
    bytes: &[u8],
    signature: Option<&[u8]>,
    previous: Option<&trust::Previous>,
    now: DateTime<Utc>,
) -> Result<Loaded> {
    let parsed = UpdateGraph::parse(bytes, source)?;
    for w in &parsed.warnings {
        tracing::warn!("{source}: {w}");
    }
    let keys = Keys::load(&ctx.keys_dirs)?;
    let require = ctx.require_signature && src.is_remote();
    let verdict = trust::verify(source, bytes, signature, &keys, require)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    trust::check_fresh(source, &parsed.graph, &digest, &verdict, previous, now)?;
    Ok(Loaded {
        identity: GraphIdentity {
            source: source.to_string(),
            serial: parsed.graph.metadata.serial,
            digest,
        },
        graph: parsed.graph,
        verdict,
        stale: None,
    })
}
