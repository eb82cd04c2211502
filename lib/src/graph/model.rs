//! The native update graph document (`apiVersion: bootc-checkpoint/v1`, `kind: UpdateGraph`).
//!
//! These types mirror the file format one to one. Every object keeps the fields this version
//! does not know in `extra`, so tooling can read and write graphs produced by newer publishers
//! without losing anything.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only `apiVersion` this build reads and writes.
pub const API_VERSION: &str = "bootc-checkpoint/v1";
/// The `kind` of an update graph document.
pub const KIND: &str = "UpdateGraph";

/// Fields of an object that this version does not interpret, kept for round trips.
pub type Extra = Map<String, Value>;

/// An update graph: releases oldest first, with checkpoints, dead-ends and rollouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateGraph {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "GraphMetadata::is_empty")]
    pub metadata: GraphMetadata,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit: Vec<Inherit>,
    /// Releases in age order, oldest first. Position is age; version strings are never compared.
    pub releases: Vec<Release>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Identity and freshness of a graph publication.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Strictly increases with every publication (anti-rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// Nodes refuse the graph after this instant (anti-freeze).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// Image repository the releases' digests belong to, e.g. `quay.io/example/os`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl GraphMetadata {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A reference to an upstream graph whose checkpoints and dead-ends a derived graph inherits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inherit {
    pub source: String,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One release of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub version: String,
    /// Manifest digest (`sha256:…`) of the release image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// ostree commit checksum of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Image repository of this release when it differs from `metadata.image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Other digests a booted host of this release may report (mis-built images, re-pushes).
    /// They identify the release; they are never staged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// Mandatory stop: older hosts must boot this release before going further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Reason>,
    /// Hosts on this release cannot update automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadend: Option<Reason>,
    /// Phased rollout of this release as an update target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Whether the release is an update target at all (FCOS: only barriers and rollouts are).
    #[serde(default = "default_offered", skip_serializing_if = "is_true")]
    pub offered: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_offered() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Release {
    /// A bare release with only a version, offered, with no markers.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            digest: None,
            commit: None,
            image: None,
            also_known_as: Vec::new(),
            checkpoint: None,
            deadend: None,
            rollout: None,
            offered: true,
            extra: Extra::new(),
        }
    }

    /// Checkpoints are always update targets, whatever `offered` says.
    pub fn is_target(&self) -> bool {
        self.offered || self.checkpoint.is_some()
    }

    /// Whether this release can be staged pinned (by digest or commit).
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some() || self.commit.is_some()
    }
}

/// Why a release is a checkpoint or a dead-end (usually a URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub reason: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Reason {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            extra: Extra::new(),
        }
    }
}

/// A phased rollout, with Cincinnati's semantics (see `crate::rollout`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Start of the rollout; absent means the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Fraction of the fleet (0.0 ..= 1.0) that sees the release at `start`; absent means 0.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_percentage: Option<f64>,
    /// Minutes from `start` until the whole fleet sees it; absent means no progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u64>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl UpdateGraph {
    /// An empty graph document of this version.
    pub fn new(releases: Vec<Release>) -> Self {
        Self {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            metadata: GraphMetadata::default(),
            inherit: Vec::new(),
            releases,
            extra: Extra::new(),
        }
    }
}

impl UpdateGraph {
    /// Record each release's image repository (parallel to `releases`): in `metadata.image`
    /// when all pinned releases share one, else per release.
    pub(crate) fn set_images(&mut self, images: Vec<Option<String>>) {
        let first = images.iter().flatten().next().cloned();
        match first {
            Some(img) if images.iter().flatten().all(|i| *i == img) => {
                self.metadata.image = Some(img)
            }
            _ => {
                for (rel, image) in self.releases.iter_mut().zip(images) {
                    rel.image = image;
                }
            }
        }
    }
}
