//! The oracle: an independent model of fedora-coreos-cincinnati's graph building and rollout
//! throttling (`commons/src/graph.rs` `Graph::from_metadata`, `commons/src/policy.rs`
//! `filter_deadends` / `throttle_rollouts`) and of Zincati's `find_update`
//! (`src/cincinnati/mod.rs`). It reads the raw documents as `serde_json::Value` and shares no
//! code with checkpoint-engine.

use std::collections::BTreeSet;

use serde_json::Value;

use super::ARCH;

/// Rollout `[start_epoch, start_value, duration_minutes]`, as the strings Cincinnati keeps
/// in node metadata.
pub type Params = [Option<String>; 3];

/// A Cincinnati node.
#[derive(Debug, Default)]
pub struct Node {
    pub version: String,
    pub payload: String,
    pub age_index: u64,
    pub deadend: bool,
    pub barrier: bool,
    pub rollout: Option<Params>,
}

#[derive(Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<(u64, u64)>,
}

/// An update entry: version, barrier, deadend, rollout.
pub type Entry = (String, bool, bool, Option<Params>);

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn params(r: &Value, value_key: &str) -> Option<Params> {
    let keys = ["start_epoch", value_key, "duration_minutes"];
    (!r.is_null()).then(|| keys.map(|k| scalar(&r[k])))
}

/// Update entries in document order, from the current or the 2019 legacy schema.
pub fn entries(doc: &Value) -> Vec<Entry> {
    let ver = |x: &Value| x["version"].as_str().expect("version").to_string();
    let mut out = Vec::new();
    if let Some(rels) = doc.get("releases").and_then(Value::as_array) {
        for e in rels {
            let m = &e["metadata"];
            let (b, d) = (!m["barrier"].is_null(), !m["deadend"].is_null());
            out.push((ver(e), b, d, params(&m["rollout"], "start_percentage")));
        }
    } else {
        let u = &doc["updates"];
        assert!(u.is_object(), "unknown updates schema: {doc}");
        let list = |k: &str| u[k].as_array().cloned().unwrap_or_default();
        out.extend(list("barriers").iter().map(|b| (ver(b), true, false, None)));
        out.extend(list("deadends").iter().map(|d| (ver(d), false, true, None)));
        for r in list("rollouts") {
            out.push((ver(&r), false, false, params(&r, "start_value")));
        }
    }
    out
}

/// `Graph::from_metadata` (OCI scope, x86_64), then `filter_deadends`.
pub fn build(index: &Value, updates: &Value) -> Graph {
    let entries = entries(updates);
    let mut nodes = Vec::new();
    for (age, rel) in index["releases"].as_array().unwrap().iter().enumerate() {
        let Some(images) = rel.get("oci-images").and_then(Value::as_array) else {
            continue;
        };
        let mut node = Node {
            version: rel["version"].as_str().unwrap().to_string(),
            age_index: age as u64,
            ..Default::default()
        };
        for img in images {
            let dref = img["digest-ref"].as_str().unwrap_or("");
            if img["architecture"] == ARCH && !dref.is_empty() {
                node.payload = dref.to_string();
            }
        }
        if node.payload.is_empty() {
            continue;
        }
        // Every entry naming the version applies in turn; later keys override.
        for (_, barrier, deadend, rollout) in entries.iter().filter(|e| e.0 == node.version) {
            node.deadend |= deadend;
            node.barrier |= barrier;
            if let Some(new) = rollout {
                let cur = node.rollout.get_or_insert_with(Default::default);
                for (c, n) in cur.iter_mut().zip(new).filter(|(_, n)| n.is_some()) {
                    *c = n.clone();
                }
            }
        }
        nodes.push(node);
    }
    let set = |f: fn(&Node) -> bool| -> BTreeSet<u64> {
        let on = nodes.iter().enumerate().filter(|(_, n)| f(n));
        on.map(|(i, _)| i as u64).collect()
    };
    let (rollouts, barriers) = (set(|n| n.rollout.is_some()), set(|n| n.barrier));
    let mut edges = Vec::new();
    for &age in rollouts.iter().rev() {
        let prev = barriers.range(..age).next_back().copied().unwrap_or(0);
        edges.extend((prev..age).map(|i| (i, age)));
    }
    let mut start = 0;
    for &target in &barriers {
        if !rollouts.contains(&target) {
            edges.extend((start..target).map(|i| (i, target)));
        }
        start = target;
    }
    edges.retain(|&(from, _)| !nodes[from as usize].deadend);
    Graph { nodes, edges }
}

/// `throttle_rollouts`' throttling of a rollout node at `now`.
pub fn throttling(params: &Params, now: i64) -> f64 {
    let [start, value, minutes] = params;
    let start: i64 = start.as_ref().map_or(0, |s| s.parse().unwrap_or(0));
    let value: f64 = value.as_ref().map_or(0.0, |s| s.parse().unwrap_or(0.0));
    let minutes = minutes.as_ref().and_then(|s| s.parse::<u64>().ok());
    match minutes.map(|m| m.max(1)) {
        Some(m) => {
            let end = start + m.saturating_mul(60) as i64;
            let rate = (1.0 - value) / end.saturating_sub(start) as f64;
            if now < start {
                0.0
            } else if now > end {
                1.0
            } else {
                value + rate * (now - start) as f64
            }
        }
        None if now < start => 0.0,
        None => value,
    }
}

/// Zincati's answer for every node position after `throttle_rollouts`: the highest
/// (age_index, version, payload) destination of an edge out of it, if newer than it
/// (no downgrades). A dead-end has no edges left after `filter_deadends`, so no answer.
pub fn answers(g: &Graph, wariness: f64, now: i64) -> Vec<Option<usize>> {
    let hide = |n: &Node| {
        n.rollout
            .as_ref()
            .is_some_and(|p| wariness > throttling(p, now))
    };
    let hidden: Vec<bool> = g.nodes.iter().map(hide).collect();
    let key = |i: usize| {
        let n = &g.nodes[i];
        (n.age_index, &n.version, &n.payload)
    };
    let mut best: Vec<Option<usize>> = vec![None; g.nodes.len()];
    for (from, to) in g.edges.iter().map(|&(f, t)| (f as usize, t as usize)) {
        if !hidden[to] && best[from].is_none_or(|b| key(to) > key(b)) {
            best[from] = Some(to);
        }
    }
    let newer = |cur: usize| best[cur].filter(|&next| key(next) > key(cur));
    (0..g.nodes.len()).map(newer).collect()
}

/// Position of the booted node: the first whose payload matches.
pub fn find(g: &Graph, payload: &str) -> Option<usize> {
    g.nodes.iter().position(|n| n.payload == payload)
}
