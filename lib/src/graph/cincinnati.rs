//! Importer for Cincinnati `/v1/graph` responses (nodes, edges, `org.fedoraproject.coreos.*`
//! metadata), as served by fedora-coreos-cincinnati.
//!
//! The native format has no explicit edges: they follow from checkpoints, offered releases and
//! rollouts. The importer maps the node metadata and then checks that the given edges are
//! exactly what those rules produce, minus the edges into rollouts that the server hid from the
//! requesting client (throttling). A graph whose edges cannot be expressed that way is refused
//! rather than silently changed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::{deserialize, GraphError, Problem};
use super::fcos::split_digest_ref;
use super::model::{Reason, Release, Rollout, UpdateGraph};
use super::validate::{check_commit, validate};

const KEY: &str = "org.fedoraproject.coreos.";

#[derive(Debug, Deserialize)]
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<(u64, u64)>,
}

#[derive(Debug, Deserialize)]
struct Node {
    version: String,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

impl Node {
    fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(&format!("{KEY}{key}"))
            .map(String::as_str)
    }
}

/// Import a Cincinnati graph into a native graph.
pub fn import(bytes: &[u8], file: &str) -> Result<UpdateGraph, GraphError> {
    let g: Graph = deserialize(bytes, file)?;
    let invalid = |problems: Vec<Problem>| GraphError::Invalid {
        file: file.to_string(),
        problems,
    };
    let n = g.nodes.len();
    for (k, &(a, b)) in g.edges.iter().enumerate() {
        if a as usize >= n || b as usize >= n {
            return Err(invalid(vec![Problem::new(
                format!("$.edges[{k}]"),
                format!("edge [{a}, {b}] names a node outside 0..{n}"),
            )]));
        }
    }
    let order = age_order(&g.nodes).map_err(|p| invalid(vec![p]))?;
    let mut position = vec![0usize; n];
    for (pos, &node) in order.iter().enumerate() {
        position[node] = pos;
    }
    let has_incoming: HashSet<usize> = g.edges.iter().map(|&(_, b)| position[b as usize]).collect();
    let mut releases = Vec::with_capacity(n);
    let mut images = Vec::with_capacity(n);
    for (pos, &idx) in order.iter().enumerate() {
        let (rel, image) = node_release(&g.nodes[idx], idx, has_incoming.contains(&pos))
            .map_err(|p| invalid(vec![p]))?;
        releases.push(rel);
        images.push(image);
    }
    let mut graph = UpdateGraph::new(releases);
    graph.set_images(images);
    let report = validate(&mut graph);
    if !report.errors.is_empty() {
        return Err(invalid(report.errors));
    }
    let given: HashSet<(usize, usize)> = g
        .edges
        .iter()
        .map(|&(a, b)| (position[a as usize], position[b as usize]))
        .collect();
    check_edges(&graph, &given, &order).map_err(invalid)?;
    Ok(graph)
}

/// Node indices sorted by `age_index` when every node has one, else in array order.
fn age_order(nodes: &[Node]) -> Result<Vec<usize>, Problem> {
    let mut ages = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        match node.meta("releases.age_index") {
            Some(a) => ages.push((
                a.parse::<u64>().map_err(|_| {
                    Problem::new(
                        format!("$.nodes[{i}].metadata[\"{KEY}releases.age_index\"]"),
                        format!("{a:?} is not a non-negative integer"),
                    )
                })?,
                i,
            )),
            None => return Ok((0..nodes.len()).collect()),
        }
    }
    ages.sort_unstable();
    if let Some(w) = ages.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Problem::new(
            format!("$.nodes[{}]", w[1].1),
            format!("age_index {} is also used by $.nodes[{}]", w[1].0, w[0].1),
        ));
    }
    Ok(ages.into_iter().map(|(_, i)| i).collect())
}

fn node_release(
    node: &Node,
    i: usize,
    has_incoming: bool,
) -> Result<(Release, Option<String>), Problem> {
    let at = |key: &str| format!("$.nodes[{i}].metadata[\"{KEY}{key}\"]");
    let mut rel = Release::new(&node.version);
    let mut image = None;
    if !node.payload.is_empty() {
        match node.meta("scheme") {
            Some("checksum") => {
                check_commit(&node.payload)
                    .map_err(|m| Problem::new(format!("$.nodes[{i}].payload"), m))?;
                rel.commit = Some(node.payload.clone());
            }
            Some("oci") => {
                let (img, digest) = split_digest_ref(&node.payload)
                    .map_err(|m| Problem::new(format!("$.nodes[{i}].payload"), m))?;
                rel.digest = Some(digest);
                image = Some(img);
            }
            other => {
                return Err(Problem::new(
                    at("scheme"),
                    format!("payload scheme {other:?} is not \"checksum\" or \"oci\""),
                ))
            }
        }
    }
    // Key presence marks barriers and rollouts; dead-ends need the value "true" (as in
    // fedora-coreos-cincinnati and Zincati).
    if node.meta("updates.barrier").is_some() {
        rel.checkpoint = Some(Reason::new(
            node.meta("updates.barrier_reason").unwrap_or_default(),
        ));
    }
    if node.meta("updates.deadend") == Some("true") {
        rel.deadend = Some(Reason::new(
            node.meta("updates.deadend_reason").unwrap_or_default(),
        ));
    }
    if node.meta("updates.rollout").is_some() {
        let start = match node.meta("updates.start_epoch") {
            Some(s) => {
                let e: i64 = s.parse().map_err(|_| {
                    Problem::new(
                        at("updates.start_epoch"),
                        format!("{s:?} is not an integer"),
                    )
                })?;
                Some(DateTime::<Utc>::from_timestamp(e, 0).ok_or_else(|| {
                    Problem::new(at("updates.start_epoch"), format!("{e} is out of range"))
                })?)
            }
            None => None,
        };
        let start_percentage = match node.meta("updates.start_value") {
            Some(s) => {
                let v: f64 = s.parse().ok().filter(|v: &f64| *v >= 0.0).ok_or_else(|| {
                    Problem::new(
                        at("updates.start_value"),
                        format!("{s:?} is not a number >= 0"),
                    )
                })?;
                // Above 1.0 means fully rolled out once started, exactly like 1.0.
                Some(v.min(1.0))
            }
            None => None,
        };
        let duration_minutes = match node.meta("updates.duration_minutes") {
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                Problem::new(
                    at("updates.duration_minutes"),
                    format!("{s:?} is not a non-negative integer"),
                )
            })?),
            None => None,
        };
        rel.rollout = Some(Rollout {
            start,
            start_percentage,
            duration_minutes,
            ..Default::default()
        });
    }
    rel.offered = rel.checkpoint.is_some() || rel.rollout.is_some() || has_incoming;
    Ok((rel, image))
}

/// The given edges must equal the rule-derived ones, except that every edge into a rollout may
/// be missing (the server throttled it for the requesting client).
fn check_edges(
    graph: &UpdateGraph,
    given: &HashSet<(usize, usize)>,
    order: &[usize],
) -> Result<(), Vec<Problem>> {
    let derived = super::edges(graph);
    let derived_set: HashSet<(usize, usize)> = derived.iter().copied().collect();
    let name = |pos: usize| format!("{} (node {})", graph.releases[pos].version, order[pos]);
    let mut problems = Vec::new();
    let mut extra: Vec<_> = given.difference(&derived_set).copied().collect();
    extra.sort_unstable();
    for (a, b) in extra {
        problems.push(Problem::new(
            "$.edges",
            format!(
                "edge {} -> {} does not follow from checkpoints and rollouts \
                 (a target is reachable only from releases since the previous checkpoint, and \
                 never from a dead-end)",
                name(a),
                name(b)
            ),
        ));
    }
    let throttled: HashSet<usize> = derived
        .iter()
        .filter(|e| !given.contains(e))
        .map(|&(_, b)| b)
        .collect();
    let mut throttled: Vec<_> = throttled.into_iter().collect();
    throttled.sort_unstable();
    for b in throttled {
        let partial = given.iter().any(|&(_, t)| t == b);
        if graph.releases[b].rollout.is_none() || partial {
            problems.push(Problem::new(
                "$.edges",
                format!(
                    "some edges into {} are missing; only a throttled rollout hides its edges, \
                     and then all of them",
                    name(b)
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: &str, age: u32, extra: &str) -> String {
        format!(
            r#"{{"version":"{v}","payload":"{:064x}","metadata":{{"org.fedoraproject.coreos.scheme":"checksum","org.fedoraproject.coreos.releases.age_index":"{age}"{extra}}}}}"#,
            age + 1
        )
    }

    #[test]
    fn orders_by_age_and_maps_metadata() {
        let barrier = r#","org.fedoraproject.coreos.updates.barrier":"true","org.fedoraproject.coreos.updates.barrier_reason":"why""#;
        let doc = format!(
            r#"{{"nodes":[{},{},{}],"edges":[[1,0],[0,2]]}}"#,
            node("b", 1, barrier),
            node("a", 0, ""),
            node("c", 2, "")
        );
        let g = import(doc.as_bytes(), "g.json").unwrap();
        let versions: Vec<_> = g.releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["a", "b", "c"]);
        assert_eq!(g.releases[1].checkpoint.as_ref().unwrap().reason, "why");
        assert!(!g.releases[0].offered && g.releases[2].offered);
    }

    #[test]
    fn refuses_edges_the_rules_cannot_express() {
        let barrier = r#","org.fedoraproject.coreos.updates.barrier":"true""#;
        // a -> c skips the checkpoint b.
        let doc = format!(
            r#"{{"nodes":[{},{},{}],"edges":[[0,1],[0,2],[1,2]]}}"#,
            node("a", 0, ""),
            node("b", 1, barrier),
            node("c", 2, "")
        );
        let err = import(doc.as_bytes(), "g.json").unwrap_err().to_string();
        assert!(
            err.contains("edge a (node 0) -> c (node 2) does not follow"),
            "{err}"
        );
        let out_of_range = r#"{"nodes":[],"edges":[[0,1]]}"#;
        let err = import(out_of_range.as_bytes(), "g.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$.edges[0]: edge [0, 1] names a node outside 0..0"),
            "{err}"
        );
    }
}
