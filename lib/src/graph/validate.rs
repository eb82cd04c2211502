//! Rules of the native graph format beyond its JSON types: identifiers, digests, ranges,
//! duplicates. Pure: data in, problems out.

use std::collections::HashMap;

use super::error::Problem;
use super::model::{Release, UpdateGraph, API_VERSION, KIND};

/// Digest algorithms a release digest may use, with their hex length.
const DIGEST_ALGORITHMS: &[(&str, usize)] = &[("sha256", 64), ("sha512", 128)];

/// Longest rollout accepted: 100 years, far beyond any real one, far below overflow.
const MAX_ROLLOUT_MINUTES: u64 = 100 * 365 * 24 * 60;

/// What validation found: errors make the graph unusable; warnings are worth a look.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// Check a graph; identical duplicate releases are removed (with a warning) so that every
/// version names exactly one release.
pub fn validate(graph: &mut UpdateGraph) -> Report {
    let mut r = Report::default();
    if graph.api_version != API_VERSION {
        r.errors.push(Problem::new(
            "$.apiVersion",
            format!(
                "unsupported apiVersion {:?}; this build reads {API_VERSION:?}",
                graph.api_version
            ),
        ));
    }
    if graph.kind != KIND {
        r.errors.push(Problem::new(
            "$.kind",
            format!("expected kind {KIND:?}, found {:?}", graph.kind),
        ));
    }
    if graph.releases.is_empty() {
        r.errors.push(Problem::new(
            "$.releases",
            "the stream is empty: an update graph lists at least one release",
        ));
    }
    for (i, inherit) in graph.inherit.iter().enumerate() {
        if inherit.source.trim().is_empty() {
            r.errors.push(Problem::new(
                format!("$.inherit[{i}].source"),
                "empty source",
            ));
        }
    }
    dedupe_identical(graph, &mut r);
    let unpinned: Vec<usize> = (graph.releases.iter().enumerate())
        .filter(|(_, r)| r.is_target() && !r.is_pinned())
        .map(|(i, _)| i)
        .collect();
    if let Some(&first) = unpinned.first() {
        r.warnings.push(Problem::new(
            format!("$.releases[{first}]"),
            format!(
                "{} update target(s) have no digest or commit, starting with {:?}: nodes \
                 never stage a release until it is pinned",
                unpinned.len(),
                graph.releases[first].version
            ),
        ));
    }
    let mut by_digest: HashMap<&str, usize> = HashMap::new();
    let mut by_commit: HashMap<&str, usize> = HashMap::new();
    for (i, rel) in graph.releases.iter().enumerate() {
        let at = |field: &str| format!("$.releases[{i}].{field}");
        check_release(rel, i, &mut r);
        let digests = rel.digest.iter().chain(rel.also_known_as.iter());
        for d in digests {
            if let Some(first) = by_digest.insert(d.as_str(), i) {
                if first != i {
                    r.errors.push(Problem::new(
                        at("digest"),
                        format!(
                            "digest {d} already identifies release {:?} ($.releases[{first}])",
                            graph.releases[first].version
                        ),
                    ));
                }
            }
        }
        if let Some(c) = rel.commit.as_deref() {
            if let Some(first) = by_commit.insert(c, i) {
                r.errors.push(Problem::new(
                    at("commit"),
                    format!(
                        "commit {c} already identifies release {:?} ($.releases[{first}])",
                        graph.releases[first].version
                    ),
                ));
            }
        }
    }
    r
}

/// Longest accepted version string: real ones are tens of bytes; a megabyte is an attack.
const MAX_VERSION_BYTES: usize = 256;
/// Longest accepted reason (a URL or a sentence).
const MAX_REASON_BYTES: usize = 4096;

fn check_release(rel: &Release, i: usize, r: &mut Report) {
    let at = |field: &str| format!("$.releases[{i}].{field}");
    if rel.version.trim().is_empty() {
        r.errors.push(Problem::new(at("version"), "empty version"));
    }
    if rel.version.len() > MAX_VERSION_BYTES {
        r.errors.push(Problem::new(
            at("version"),
            format!(
                "{} bytes long, more than the limit of {MAX_VERSION_BYTES}",
                rel.version.len()
            ),
        ));
    }
    let reasons = [("checkpoint", &rel.checkpoint), ("deadend", &rel.deadend)];
    for (field, reason) in reasons {
        if let Some(reason) = reason {
            if reason.reason.len() > MAX_REASON_BYTES {
                r.errors.push(Problem::new(
                    format!("$.releases[{i}].{field}.reason"),
                    format!(
                        "{} bytes long, more than the limit of {MAX_REASON_BYTES}",
                        reason.reason.len()
                    ),
                ));
            }
        }
    }
    if let Some(d) = &rel.digest {
        if let Err(m) = check_digest(d) {
            r.errors.push(Problem::new(at("digest"), m));
        }
    }
    for (k, d) in rel.also_known_as.iter().enumerate() {
        if let Err(m) = check_digest(d) {
            r.errors
                .push(Problem::new(format!("$.releases[{i}].alsoKnownAs[{k}]"), m));
        }
    }
    if let Some(c) = &rel.commit {
        if let Err(m) = check_commit(c) {
            r.errors.push(Problem::new(at("commit"), m));
        }
    }
    if rel.checkpoint.is_some() && !rel.offered {
        r.errors.push(Problem::new(
            at("offered"),
            "a checkpoint is always an update target; `offered: false` contradicts it",
        ));
    }
    if let Some(ro) = &rel.rollout {
        if let Some(p) = ro.start_percentage {
            if !(0.0..=1.0).contains(&p) {
                r.errors.push(Problem::new(
                    at("rollout.startPercentage"),
                    format!("{p} is out of range: a fraction of the fleet from 0.0 to 1.0"),
                ));
            }
        }
        if ro.duration_minutes.is_some_and(|m| m > MAX_ROLLOUT_MINUTES) {
            r.errors.push(Problem::new(
                at("rollout.durationMinutes"),
                format!(
                    "{} minutes is out of range (at most {MAX_ROLLOUT_MINUTES}, 100 years)",
                    ro.duration_minutes.unwrap_or_default()
                ),
            ));
        }
        if !rel.offered {
            r.warnings.push(Problem::new(
                at("rollout"),
                "rollout on a release that is not offered has no effect",
            ));
        }
    }
}

/// Remove later copies of a release that are identical to an earlier one; report conflicting
/// ones as errors.
fn dedupe_identical(graph: &mut UpdateGraph, r: &mut Report) {
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut drop = Vec::new();
    for (i, rel) in graph.releases.iter().enumerate() {
        match first.get(&rel.version) {
            None => {
                first.insert(rel.version.clone(), i);
            }
            Some(&j) if graph.releases[j] == *rel => {
                r.warnings.push(Problem::new(
                    format!("$.releases[{i}]"),
                    format!(
                        "duplicate of $.releases[{j}] (version {:?}, same data); ignored",
                        rel.version
                    ),
                ));
                drop.push(i);
            }
            Some(&j) => r.errors.push(Problem::new(
                format!("$.releases[{i}].version"),
                format!(
                    "duplicate version {:?} with conflicting data (first at $.releases[{j}]: {})",
                    rel.version,
                    differing_fields(&graph.releases[j], rel).join(", ")
                ),
            )),
        }
    }
    for i in drop.into_iter().rev() {
        graph.releases.remove(i);
    }
}

fn differing_fields(a: &Release, b: &Release) -> Vec<&'static str> {
    let mut out = Vec::new();
    let checks: [(&'static str, bool); 9] = [
        ("digest", a.digest != b.digest),
        ("commit", a.commit != b.commit),
        ("image", a.image != b.image),
        ("alsoKnownAs", a.also_known_as != b.also_known_as),
        ("checkpoint", a.checkpoint != b.checkpoint),
        ("deadend", a.deadend != b.deadend),
        ("rollout", a.rollout != b.rollout),
        ("offered", a.offered != b.offered),
        ("other fields", a.extra != b.extra),
    ];
    for (name, differs) in checks {
        if differs {
            out.push(name);
        }
    }
    out
}

/// Check an OCI content digest: `algorithm:hex`, a known algorithm, lower-case hex of the
/// algorithm's length.
pub fn check_digest(d: &str) -> Result<(), String> {
    let Some((algo, hex)) = d.split_once(':') else {
        return Err(format!(
            "malformed digest {d:?}: expected ALGORITHM:HEX such as sha256:<64 hex digits>"
        ));
    };
    let Some(&(_, len)) = DIGEST_ALGORITHMS.iter().find(|(a, _)| *a == algo) else {
        let known: Vec<_> = DIGEST_ALGORITHMS.iter().map(|(a, _)| *a).collect();
        return Err(format!(
            "unknown digest algorithm {algo:?} in {d:?} (known: {})",
            known.join(", ")
        ));
    };
    if hex.len() != len || !is_lower_hex(hex) {
        return Err(format!(
            "malformed digest {d:?}: {algo} needs {len} lower-case hex digits"
        ));
    }
    Ok(())
}

/// Check an ostree commit checksum: 64 lower-case hex digits (SHA-256).
pub fn check_commit(c: &str) -> Result<(), String> {
    if c.len() != 64 || !is_lower_hex(c) {
        return Err(format!(
            "malformed ostree commit {c:?}: expected 64 lower-case hex digits"
        ));
    }
    Ok(())
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let good = format!("sha256:{}", "a".repeat(64));
        let table: &[(&str, Option<&str>)] = &[
            (&good, None),
            ("sha256:abc", Some("needs 64")),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                Some("unknown digest algorithm"),
            ),
            ("nocolon", Some("malformed digest")),
            (
                "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                Some("lower-case"),
            ),
        ];
        for (d, want) in table {
            match (check_digest(d), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{d}: {e}"),
                (got, want) => panic!("{d}: got {got:?}, want {want:?}"),
            }
        }
        let sha512 = format!("sha512:{}", "0".repeat(128));
        assert!(check_digest(&sha512).is_ok());
    }

    #[test]
    fn commits() {
        assert!(check_commit(&"f".repeat(64)).is_ok());
        assert!(check_commit(&"f".repeat(63)).is_err());
        assert!(check_commit(&"g".repeat(64)).is_err());
    }
}
