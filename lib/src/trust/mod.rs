//! Whether a fetched graph may be acted on: a minisign signature over the exact bytes by one of
//! the configured keys (policy `require` or `allow-unsigned`), and freshness against the last
//! graph accepted from the same source — no lower serial (rollback), nothing past `expires`
//! (freeze), no checkpoint silently dropped by an unsigned graph. Pure except for reading keys.

mod keys;

use std::io::Cursor;

use chrono::{DateTime, Utc};
use thiserror::Error;

pub use keys::Keys;

use crate::graph::UpdateGraph;

/// Why a graph is refused. Each names the source; nothing is staged after any of them.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("{source_name}: the graph is not signed and trust.policy = \"require\" (publish {source_name}.minisig or sign the artifact)")]
    Unsigned { source_name: String },
    #[error("{source_name}: the signature is not valid: {reason}")]
    BadSignature { source_name: String, reason: String },
    #[error(
        "{source_name}: signed with key {key_id}, which is not among the trusted keys ({dirs})"
    )]
    UnknownKey {
        source_name: String,
        key_id: String,
        dirs: String,
    },
    #[error("{source_name}: serial {serial} is below {last}, the serial of the last graph accepted from it (rollback refused)")]
    Rollback {
        source_name: String,
        serial: String,
        last: u64,
    },
    #[error("{source_name}: serial {serial} was already accepted with different content (the publisher must raise the serial)")]
    SerialReused { source_name: String, serial: u64 },
    #[error("{source_name}: the graph expired at {expires} (now {now}); refusing a stale graph")]
    Expired {
        source_name: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("{source_name}: the graph drops checkpoint(s) {versions} and is not signed; only a signed graph may remove a checkpoint")]
    DroppedCheckpoint {
        source_name: String,
        versions: String,
    },
}

/// What verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by the key with this id (16 hex digits, as `minisign` prints it).
    Signed {
        key_id: String,
    },
    Unsigned,
}

impl Verdict {
    pub fn is_signed(&self) -> bool {
        matches!(self, Self::Signed { .. })
    }
}

/// The last graph accepted from a source, as far as freshness checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub serial: Option<u64>,
    /// `sha256:…` of its bytes.
    pub digest: String,
    pub checkpoints: Vec<String>,
}

fn key_id(keynum: &[u8]) -> String {
    // minisign prints the little-endian u64 in upper-case hex.
    let mut n = [0u8; 8];
    n.copy_from_slice(&keynum[..8.min(keynum.len())]);
    format!("{:016X}", u64::from_le_bytes(n))
}

/// Check `signature` over `bytes`. `require`: an unsigned graph is refused. A signature that is
/// present is always checked, whatever the policy.
pub fn verify(
    source_name: &str,
    bytes: &[u8],
    signature: Option<&[u8]>,
    keys: &Keys,
    require: bool,
) -> Result<Verdict, TrustError> {
    let Some(sig) = signature else {
        return if require {
            Err(TrustError::Unsigned {
                source_name: source_name.into(),
            })
        } else {
            Ok(Verdict::Unsigned)
        };
    };
    let bad = |reason: String| TrustError::BadSignature {
        source_name: source_name.into(),
        reason,
    };
    let text =
        std::str::from_utf8(sig).map_err(|_| bad("not a minisign signature (not UTF-8)".into()))?;
    let sigbox = minisign::SignatureBox::from_string(text)
        .map_err(|e| bad(format!("not a minisign signature ({e})")))?;
    let id = key_id(sigbox.keynum());
    let Some(pk) = keys.find(sigbox.keynum()) else {
        return Err(TrustError::UnknownKey {
            source_name: source_name.into(),
            key_id: id,
            dirs: keys.describe_dirs(),
        });
    };
    minisign::verify(pk, &sigbox, Cursor::new(bytes), true, false, false)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Verdict::Signed { key_id: id })
}

/// The versions marked as checkpoints in `graph`.
pub fn checkpoints(graph: &UpdateGraph) -> Vec<String> {
    graph
        .releases
        .iter()
        .filter(|r| r.checkpoint.is_some())
        .map(|r| r.version.clone())
        .collect()
}

/// Freshness of `graph` (whose bytes hash to `digest`) against the last accepted one.
pub fn check_fresh(
    source_name: &str,
    graph: &UpdateGraph,
    digest: &str,
    verdict: &Verdict,
    previous: Option<&Previous>,
    now: DateTime<Utc>,
) -> Result<(), TrustError> {
    if let Some(expires) = graph.metadata.expires {
        if expires <= now {
            return Err(TrustError::Expired {
                source_name: source_name.into(),
                expires,
                now,
            });
        }
    }
    let Some(prev) = previous else {
        return Ok(());
    };
    if prev.digest == digest {
        return Ok(());
    }
    if let Some(last) = prev.serial {
        match graph.metadata.serial {
            None => {
                return Err(TrustError::Rollback {
                    source_name: source_name.into(),
                    serial: "(none)".into(),
                    last,
                })
            }
            Some(s) if s < last => {
                return Err(TrustError::Rollback {
                    source_name: source_name.into(),
                    serial: s.to_string(),
                    last,
                })
            }
            Some(s) if s == last => {
                return Err(TrustError::SerialReused {
                    source_name: source_name.into(),
                    serial: s,
                })
            }
            Some(_) => {}
        }
    }
    if !verdict.is_signed() {
        let now_marked = checkpoints(graph);
        let dropped: Vec<&str> = prev
            .checkpoints
            .iter()
            .filter(|v| !now_marked.contains(v))
            .map(String::as_str)
            .collect();
        if !dropped.is_empty() {
            return Err(TrustError::DroppedCheckpoint {
                source_name: source_name.into(),
                versions: dropped.join(", "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
