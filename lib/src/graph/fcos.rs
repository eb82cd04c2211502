//! Importer for Fedora CoreOS update metadata (`updates/<stream>.json`, current and 2019 legacy
//! schema) plus a release index (`releases.json`: `releases[].version`, oldest first).
//!
//! The result plans exactly like fedora-coreos-cincinnati's graph for the same inputs:
//! barriers become checkpoints, only barriers and rollouts are offered, and rollout parameters
//! are carried over unchanged so throttling matches to the bit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::error::{deserialize, from_value, GraphError, Lenient, Problem};
use super::model::{GraphMetadata, Reason, Release, Rollout, UpdateGraph};
use super::validate::{check_commit, check_digest, validate};

/// Which payloads of the release index to use, like Cincinnati's `oci` graph scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// ostree commits only (Cincinnati's default graph): releases without one are skipped.
    Checksum,
    /// OCI image digests only (Cincinnati's `oci=true` graph): releases without one are skipped.
    Oci,
    /// Both where present: a release is kept when it has either.
    #[default]
    Both,
}

/// Importer options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base architecture whose payloads are used, e.g. `x86_64`.
    pub arch: String,
    pub scheme: Scheme,
}

/// An imported graph with notes about what was adjusted or ignored.
#[derive(Debug, Clone)]
pub struct Imported {
    pub graph: UpdateGraph,
    pub notes: Vec<Problem>,
}

#[derive(Debug, Deserialize)]
struct UpdatesDoc {
    stream: Option<String>,
    #[serde(default)]
    metadata: Option<UpdatesMeta>,
    releases: Vec<UpdateEntry>,
}

#[derive(Debug, Deserialize)]
struct UpdatesMeta {
    #[serde(rename = "last-modified")]
    last_modified: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UpdateEntry {
    version: String,
    metadata: UpdateMetadata,
}

#[derive(Debug, Deserialize)]
struct UpdateMetadata {
    barrier: Option<ReasonIn>,
    deadend: Option<ReasonIn>,
    rollout: Option<RolloutIn>,
}

#[derive(Debug, Deserialize)]
struct ReasonIn {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
struct RolloutIn {
    start_epoch: Option<Lenient<i64>>,
    /// `start_value` in the 2019 schema.
    #[serde(alias = "start_value")]
    start_percentage: Option<Lenient<f64>>,
    duration_minutes: Option<Lenient<u64>>,
}

impl RolloutIn {
    /// The rollout's numbers, parsing the 2019 schema's strings; `at` locates the object.
    fn numbers(self, at: &str) -> Result<RawRollout, Problem> {
        let field = |f: &str| format!("{at}.{f}");
        Ok(RawRollout {
            start_epoch: self
                .start_epoch
                .map(|v| v.get(&field("start_epoch")))
                .transpose()?,
            start_value: (self.start_percentage)
                .map(|v| v.get(&field("start_percentage")))
                .transpose()?,
            duration_minutes: (self.duration_minutes)
                .map(|v| v.get(&field("duration_minutes")))
                .transpose()?,
        })
    }
}

/// The 2019 schema: `{"updates":{"barriers":[…],"deadends":[…],"rollouts":[…]}}`, numbers as
/// strings and `start_value` for `start_percentage`.
#[derive(Debug, Deserialize)]
struct LegacyDoc {
    updates: LegacyUpdates,
}

#[derive(Debug, Deserialize)]
struct LegacyUpdates {
    #[serde(default)]
    barriers: Vec<LegacyMarker>,
    #[serde(default)]
    deadends: Vec<LegacyMarker>,
    #[serde(default)]
    rollouts: Vec<LegacyRollout>,
}

#[derive(Debug, Deserialize)]
struct LegacyMarker {
    version: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
struct LegacyRollout {
    version: String,
    #[serde(flatten)]
    rollout: RolloutIn,
}

#[derive(Debug, Deserialize)]
struct IndexDoc {
    stream: Option<String>,
    releases: Vec<IndexEntry>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    version: String,
    commits: Option<Vec<IndexCommit>>,
    #[serde(rename = "oci-images")]
    oci_images: Option<Vec<IndexOci>>,
    /// Present in version-only indexes (reconstructed lists) to say which arches exist.
    architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct IndexCommit {
    architecture: String,
    checksum: String,
}

#[derive(Debug, Deserialize)]
struct IndexOci {
    architecture: String,
    #[serde(rename = "digest-ref")]
    digest_ref: String,
}

/// Update markers of one version, merged over every entry naming it (Cincinnati applies each
/// entry in turn, later fields overriding earlier ones).
#[derive(Debug, Default)]
struct Markers {
    barrier: Option<String>,
    deadend: Option<String>,
    rollout: Option<RawRollout>,
}

#[derive(Debug, Default)]
struct RawRollout {
    start_epoch: Option<i64>,
    start_value: Option<f64>,
    duration_minutes: Option<u64>,
}

/// Parsed updates metadata: stream, last-modified and markers by version (first-seen order).
struct Updates {
    stream: Option<String>,
    last_modified: Option<String>,
    markers: BTreeMap<String, Markers>,
}

/// Import FCOS updates metadata and a release index into a native graph.
pub fn import(
    updates: &[u8],
    updates_file: &str,
    index: &[u8],
    index_file: &str,
    opts: &Options,
) -> Result<Imported, GraphError> {
    let updates = parse_updates(updates, updates_file)?;
    let index: IndexDoc = deserialize(index, index_file)?;
    let mut notes = Vec::new();
    let mut releases = Vec::with_capacity(index.releases.len());
    let mut images = Vec::new();
    let invalid = |problems: Vec<Problem>| GraphError::Invalid {
        file: index_file.to_string(),
        problems,
    };
    for (i, entry) in index.releases.iter().enumerate() {
        let Some((mut rel, image)) =
            payload_release(entry, i, opts).map_err(|p| invalid(vec![p]))?
        else {
            continue;
        };
        // Cincinnati offers only barriers and rollouts as targets.
        rel.offered = false;
        if let Some(m) = updates.markers.get(&entry.version) {
            apply_markers(&mut rel, m, &mut notes).map_err(|p| invalid(vec![p]))?;
        }
        images.push(image);
        releases.push(rel);
    }
    for version in updates.markers.keys() {
        if !releases.iter().any(|r| r.version == *version) {
            notes.push(Problem::new(
                "$.releases",
                format!(
                    "{updates_file}: {version} is not in the release index for {}; ignored",
                    opts.arch
                ),
            ));
        }
    }
    let mut graph = UpdateGraph::new(releases);
    graph.metadata = GraphMetadata {
        stream: updates.stream.or(index.stream),
        serial: updates.last_modified.as_deref().and_then(epoch_of),
        ..Default::default()
    };
    graph.set_images(images);
    let report = validate(&mut graph);
    if !report.errors.is_empty() {
        return Err(invalid(report.errors));
    }
    Ok(Imported { graph, notes })
}

fn parse_updates(bytes: &[u8], file: &str) -> Result<Updates, GraphError> {
    let value: Value = deserialize(bytes, file)?;
    let legacy = value.get("updates").is_some() && value.get("releases").is_none();
    let bad = |p: Problem| GraphError::Syntax {
        file: file.to_string(),
        problem: p,
    };
    let mut markers: BTreeMap<String, Markers> = BTreeMap::new();
    if legacy {
        let doc: LegacyDoc = from_value(value, file)?;
        for b in doc.updates.barriers {
            markers.entry(b.version).or_default().barrier = Some(b.reason);
        }
        for d in doc.updates.deadends {
            markers.entry(d.version).or_default().deadend = Some(d.reason);
        }
        for (i, r) in doc.updates.rollouts.into_iter().enumerate() {
            let raw = r
                .rollout
                .numbers(&format!("$.updates.rollouts[{i}]"))
                .map_err(bad)?;
            merge_rollout(&mut markers.entry(r.version).or_default().rollout, raw);
        }
        return Ok(Updates {
            stream: None,
            last_modified: None,
            markers,
        });
    }
    let doc: UpdatesDoc = from_value(value, file)?;
    for (i, e) in doc.releases.into_iter().enumerate() {
        if e.version.trim().is_empty() {
            return Err(bad(Problem::new(
                format!("$.releases[{i}].version"),
                "empty version",
            )));
        }
        let m = markers.entry(e.version).or_default();
        if let Some(b) = e.metadata.barrier {
            m.barrier = Some(b.reason);
        }
        if let Some(d) = e.metadata.deadend {
            m.deadend = Some(d.reason);
        }
        if let Some(r) = e.metadata.rollout {
            let raw = r
                .numbers(&format!("$.releases[{i}].metadata.rollout"))
                .map_err(bad)?;
            merge_rollout(&mut m.rollout, raw);
        }
    }
    Ok(Updates {
        stream: doc.stream,
        last_modified: doc.metadata.and_then(|m| m.last_modified),
        markers,
    })
}

fn merge_rollout(slot: &mut Option<RawRollout>, new: RawRollout) {
    let cur = slot.get_or_insert_with(RawRollout::default);
    cur.start_epoch = new.start_epoch.or(cur.start_epoch);
    cur.start_value = new.start_value.or(cur.start_value);
    cur.duration_minutes = new.duration_minutes.or(cur.duration_minutes);
}

/// The release for an index entry with this arch's payloads, or `None` when Cincinnati would
/// skip it. Entries with no payload lists at all (version-only indexes) are kept unpinned.
fn payload_release(
    entry: &IndexEntry,
    i: usize,
    opts: &Options,
) -> Result<Option<(Release, Option<String>)>, Problem> {
    if entry.version.trim().is_empty() {
        return Err(Problem::new(
            format!("$.releases[{i}].version"),
            "empty version",
        ));
    }
    let version_only = entry.commits.is_none() && entry.oci_images.is_none();
    if version_only {
        let has_arch = entry
            .architectures
            .as_ref()
            .is_none_or(|a| a.contains(&opts.arch));
        return Ok(has_arch.then(|| (Release::new(&entry.version), None)));
    }
    let mut commit = None;
    for (k, c) in entry.commits.iter().flatten().enumerate() {
        if c.architecture == opts.arch && !c.checksum.is_empty() {
            check_commit(&c.checksum)
                .map_err(|m| Problem::new(format!("$.releases[{i}].commits[{k}].checksum"), m))?;
            commit = Some(c.checksum.clone());
        }
    }
    let mut oci = None;
    for (k, o) in entry.oci_images.iter().flatten().enumerate() {
        if o.architecture == opts.arch && !o.digest_ref.is_empty() {
            let at = format!("$.releases[{i}].oci-images[{k}].digest-ref");
            oci = Some(split_digest_ref(&o.digest_ref).map_err(|m| Problem::new(at, m))?);
        }
    }
    let (commit, oci) = match opts.scheme {
        Scheme::Checksum => (commit, None),
        Scheme::Oci => (None, oci),
        Scheme::Both => (commit, oci),
    };
    if commit.is_none() && oci.is_none() {
        return Ok(None);
    }
    let mut rel = Release::new(&entry.version);
    rel.commit = commit;
    let image = oci.map(|(image, digest)| {
        rel.digest = Some(digest);
        image
    });
    Ok(Some((rel, image)))
}

/// Split `registry/repo@sha256:…` into repository and digest.
pub(super) fn split_digest_ref(s: &str) -> Result<(String, String), String> {
    let (image, digest) = s
        .rsplit_once('@')
        .ok_or_else(|| format!("{s:?} is not pinned: expected IMAGE@sha256:DIGEST"))?;
    check_digest(digest)?;
    Ok((image.to_string(), digest.to_string()))
}

fn apply_markers(rel: &mut Release, m: &Markers, notes: &mut Vec<Problem>) -> Result<(), Problem> {
    rel.checkpoint = m.barrier.clone().map(Reason::new);
    rel.deadend = m.deadend.clone().map(Reason::new);
    rel.offered = m.barrier.is_some() || m.rollout.is_some();
    if let Some(r) = &m.rollout {
        let start = r
            .start_epoch
            .map(|e| {
                DateTime::<Utc>::from_timestamp(e, 0).ok_or_else(|| {
                    Problem::new(
                        format!("version {}", rel.version),
                        format!("rollout start_epoch {e} is out of range"),
                    )
                })
            })
            .transpose()?;
        let pct = match r.start_value {
            Some(p) if p < 0.0 || p.is_nan() => {
                return Err(Problem::new(
                    format!("version {}", rel.version),
                    format!("rollout start_percentage {p} is negative"),
                ))
            }
            // The tracker schema allows 0..100 and 100 occurs in real data; Cincinnati then
            // shows the release to every node once started, exactly as 1.0 does.
            Some(p) if p > 1.0 => {
                notes.push(Problem::new(
                    format!("version {}", rel.version),
                    format!("rollout start_percentage {p} is above 1.0; imported as 1.0 (fully rolled out once started)"),
                ));
                Some(1.0)
            }
            other => other,
        };
        rel.rollout = Some(Rollout {
            start,
            start_percentage: pct,
            duration_minutes: r.duration_minutes,
            ..Default::default()
        });
    }
    Ok(())
}

fn epoch_of(rfc3339: &str) -> Option<u64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            arch: "x86_64".into(),
            scheme: Scheme::Both,
        }
    }

    const INDEX: &str = r#"{"releases":[
        {"version":"1","commits":[{"architecture":"x86_64","checksum":"1111111111111111111111111111111111111111111111111111111111111111"}]},
        {"version":"2","commits":[{"architecture":"aarch64","checksum":"2222222222222222222222222222222222222222222222222222222222222222"}]},
        {"version":"3","oci-images":[{"architecture":"x86_64","image":"quay.io/x/os","digest-ref":"quay.io/x/os@sha256:3333333333333333333333333333333333333333333333333333333333333333"}]}]}"#;

    #[test]
    fn payloads_markers_and_arch_filter() {
        let updates = r#"{"stream":"s","metadata":{"last-modified":"2024-01-01T00:00:00Z"},"releases":[
            {"version":"3","metadata":{"barrier":{"reason":"r"}}},
            {"version":"9","metadata":{"rollout":{}}}]}"#;
        let imp = import(
            updates.as_bytes(),
            "u.json",
            INDEX.as_bytes(),
            "r.json",
            &opts(),
        )
        .unwrap();
        let g = imp.graph;
        let versions: Vec<_> = g.releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1", "3"], "release 2 has no x86_64 payload");
        assert!(!g.releases[0].offered && g.releases[0].commit.is_some());
        assert_eq!(g.releases[1].checkpoint.as_ref().unwrap().reason, "r");
        assert_eq!(g.metadata.image.as_deref(), Some("quay.io/x/os"));
        assert_eq!(g.metadata.serial, Some(1_704_067_200));
        assert!(imp
            .notes
            .iter()
            .any(|n| n.message.contains("9 is not in the release index")));
        let checksum_only = Options {
            scheme: Scheme::Checksum,
            ..opts()
        };
        let g = import(
            updates.as_bytes(),
            "u.json",
            INDEX.as_bytes(),
            "r.json",
            &checksum_only,
        )
        .unwrap()
        .graph;
        assert_eq!(
            g.releases.len(),
            1,
            "Cincinnati's checksum scope drops OCI-only releases"
        );
    }

    #[test]
    fn legacy_numbers_as_strings_and_errors_with_paths() {
        let legacy = r#"{"updates":{"barriers":[],"deadends":[{"version":"1","reason":"x"}],
            "rollouts":[{"version":"3","start_epoch":"1565017200","start_value":"0.5","duration_minutes":"120"}]}}"#;
        let g = import(
            legacy.as_bytes(),
            "u.json",
            INDEX.as_bytes(),
            "r.json",
            &opts(),
        )
        .unwrap()
        .graph;
        let ro = g.releases[1].rollout.as_ref().unwrap();
        assert_eq!(ro.start.unwrap().timestamp(), 1_565_017_200);
        assert_eq!(
            (ro.start_percentage, ro.duration_minutes),
            (Some(0.5), Some(120))
        );
        assert!(g.releases[0].deadend.is_some());

        let bad = legacy.replace("\"120\"", "\"two hours\"");
        let err = import(
            bad.as_bytes(),
            "u.json",
            INDEX.as_bytes(),
            "r.json",
            &opts(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "u.json: $.updates.rollouts[0].duration_minutes: \"two hours\" is not a valid number here"
        );
        let negative = r#"{"stream":"s","releases":[{"version":"3","metadata":{"rollout":{"start_percentage":-0.5}}}]}"#;
        let err = import(
            negative.as_bytes(),
            "u.json",
            INDEX.as_bytes(),
            "r.json",
            &opts(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("start_percentage -0.5 is negative"),
            "{err}"
        );
        let unpinned = INDEX.replace("quay.io/x/os@sha256", "quay.io/x/os:sha256");
        let err = import(
            b"{\"stream\":\"s\",\"releases\":[]}",
            "u.json",
            unpinned.as_bytes(),
            "r.json",
            &opts(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("$.releases[2].oci-images[0].digest-ref"),
            "{err}"
        );
    }
}
