//! Replays the whole Fedora CoreOS update-metadata history (stable, testing, next) through our
//! importer and planner and checks every answer against an independent oracle: a
//! re-implementation of fedora-coreos-cincinnati's graph building and rollout throttling
//! (`commons/src/graph.rs`, `commons/src/policy.rs`) and of Zincati's `find_update`
//! (`src/cincinnati/mod.rs`). The oracle reads the raw documents as `serde_json::Value` and
//! shares no code with the lib. After the replay: one fixture per case of `NOTABLE-CASES.md`.

use std::collections::{BTreeSet, HashMap};

use checkpoint_engine::graph::fcos::{import, Imported, Options, Scheme};
use checkpoint_engine::graph::{Release, UpdateGraph};
use checkpoint_engine::plan::{find_booted, plan, BootedRef, HopKind, Plan, Planner, Policy};
use checkpoint_engine::plan::{ReasonCode, Status};
use checkpoint_engine::rollout::Wariness;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/fcos/");
const STREAMS: &str = "fcos-streams/";
const IMAGE: &str = "quay.io/fedora/fedora-coreos";
const ARCH: &str = "x86_64";
const WARINESSES: [f64; 3] = [0.0, 0.5, 1.0];

/// One line of `updates-<stream>.history.jsonl`; `now` is its date in Unix seconds.
#[derive(Clone, Deserialize)]
struct Row {
    commit: String,
    date: String,
    doc: Value,
    #[serde(default)]
    now: i64,
}

fn epoch(rfc3339: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339);
    t.expect("RFC 3339 date").timestamp()
}

fn read(rel: &str) -> String {
    let path = format!("{DATA}{rel}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn history(stream: &str) -> Vec<Row> {
    let text = read(&format!("{STREAMS}history/updates-{stream}.history.jsonl"));
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut row: Row = serde_json::from_str(line).expect("history line");
        row.now = epoch(&row.date);
        rows.push(row);
    }
    rows
}

/// x86_64 versions with their first-seen instant, oldest first.
fn releases(stream: &str) -> Vec<(String, i64)> {
    let text = read(&format!("{STREAMS}reconstructed-releases-{stream}.json"));
    let doc: Value = serde_json::from_str(&text).expect("releases JSON");
    let mut out = Vec::new();
    for r in doc["releases"].as_array().expect("releases[]") {
        let arches = r["architectures"].as_array().unwrap();
        if arches.iter().any(|a| a == ARCH) {
            let seen = epoch(r["first_seen_date"].as_str().unwrap());
            out.push((r["version"].as_str().unwrap().to_string(), seen));
        }
    }
    out
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The synthesized manifest digest of a version; `payload_of` is its pull spec.
fn digest_of(version: &str) -> String {
    format!("sha256:{}", sha_hex(version))
}

fn payload_of(version: &str) -> String {
    format!("{IMAGE}@{}", digest_of(version))
}

/// A `releases.json` shaped like the real one, with synthesized payloads.
fn index_doc(stream: &str, versions: &[String]) -> Value {
    let entry = |v: &String| {
        json!({
            "commits": [{"architecture": ARCH, "checksum": sha_hex(&format!("commit:{v}"))}],
            "oci-images": [{"architecture": ARCH, "image": IMAGE, "digest-ref": payload_of(v)}],
            "metadata": format!("https://example/{stream}/{v}/release.json"),
            "version": v,
        })
    };
    json!({"stream": stream, "releases": versions.iter().map(entry).collect::<Vec<_>>()})
}

fn policy(w: f64) -> Policy {
    Policy::new(Wariness::new(w).unwrap())
}

/// A booted host identified by its image digest only.
fn booted(digest: String) -> BootedRef {
    BootedRef {
        digest: Some(digest),
        ..Default::default()
    }
}

fn by_digest(version: &str) -> BootedRef {
    booted(digest_of(version))
}

/// Independent model of fedora-coreos-cincinnati (graph + policy) and Zincati (find_update).
#[path = "fcos_replay/oracle.rs"]
mod oracle;

/// One history revision, imported by the lib and built by the oracle.
struct Snap {
    row: Row,
    versions: Vec<String>,
    imported: Imported,
    oracle: oracle::Graph,
}

fn build(stream: &str, row: Row, versions: Vec<String>) -> Snap {
    let index = index_doc(stream, &versions);
    let ib = serde_json::to_vec(&index).unwrap();
    let ub = serde_json::to_vec(&row.doc).unwrap();
    let opts = Options {
        arch: ARCH.into(),
        scheme: Scheme::Both,
    };
    let imported = import(&ub, "updates.json", &ib, "releases.json", &opts);
    let imported = imported.unwrap_or_else(|e| panic!("{stream} {}: {e}", row.commit));
    let oracle = oracle::build(&index, &row.doc);
    Snap {
        row,
        versions,
        imported,
        oracle,
    }
}

/// The revision as served at its own date: the index holds the releases seen by then.
fn snap(stream: &str, row: Row, rels: &[(String, i64)]) -> Snap {
    let seen = rels.iter().filter(|(_, seen)| *seen <= row.now);
    let versions = seen.map(|(v, _)| v.clone()).collect();
    build(stream, row, versions)
}

fn snapshot(stream: &str, commit_prefix: &str) -> Snap {
    let mut rows = history(stream).into_iter();
    let row = rows.find(|r| r.commit.starts_with(commit_prefix));
    snap(stream, row.expect(commit_prefix), &releases(stream))
}

impl Snap {
    fn plan(&self, version: &str, w: f64) -> Plan {
        plan(
            &self.imported.graph,
            &by_digest(version),
            &policy(w),
            self.row.now,
        )
    }

    /// `"BOOTED w=W [at=EPOCH] [-> HOP]... [ReasonCode]"`: our whole path and reason code;
    /// Zincati, asked again after every hop, must take the same path.
    fn check(&self, spec: &str) {
        let mut t = spec.split_whitespace();
        let booted = t.next().unwrap();
        let (mut w, mut now, mut path, mut code) = (None, self.row.now, vec![], None);
        while let Some(tok) = t.next() {
            if let Some(x) = tok.strip_prefix("w=") {
                w = Some(x.parse::<f64>().unwrap());
            } else if let Some(x) = tok.strip_prefix("at=") {
                now = x.parse().unwrap();
            } else if tok == "->" {
                path.push(t.next().unwrap());
            } else {
                code = Some(tok);
            }
        }
        let w = w.expect("w=");
        let p = plan(&self.imported.graph, &by_digest(booted), &policy(w), now);
        let ours: Vec<&str> = p.hops.iter().map(|h| h.version.as_str()).collect();
        let ours_code = p.reason_code.map(|c| format!("{c:?}"));
        let ours = (ours, ours_code.as_deref());
        assert_eq!(ours, (path.clone(), code), "ours: {spec}");
        let answers = oracle::answers(&self.oracle, w, now);
        let mut cur = oracle::find(&self.oracle, &payload_of(booted));
        let mut theirs = Vec::new();
        while let Some(next) = cur.and_then(|c| answers[c]) {
            theirs.push(self.oracle.nodes[next].version.as_str());
            cur = Some(next);
        }
        assert_eq!(theirs, path, "oracle: {spec}");
    }

    fn release(&self, version: &str) -> (usize, &Release) {
        let rels = &self.imported.graph.releases;
        let i = rels.iter().position(|r| r.version == version);
        let i = i.expect(version);
        (i, &rels[i])
    }
}

/// Compare one plan with Zincati's answers hop by hop; `at` is the oracle's booted position.
fn compare(ours: &Plan, at: usize, g: &oracle::Graph, answers: &[Option<usize>]) -> Option<String> {
    let name = |i: Option<usize>| i.map(|i| g.nodes[i].version.clone());
    let theirs = name(answers[at]);
    if ours.next != theirs {
        return Some(format!("ours {:?}, oracle {theirs:?}", ours.next));
    }
    if g.nodes[at].deadend != (ours.reason_code == Some(ReasonCode::BootedDeadend)) {
        return Some(format!("dead-end mismatch, ours {:?}", ours.reason_code));
    }
    // Every hop is what Zincati answers once booted on the previous one, to the end.
    let mut cur = at;
    for h in &ours.hops {
        match answers[cur] {
            Some(next) if g.nodes[next].version == h.version => cur = next,
            other => return Some(format!("hop {} but oracle {:?}", h.version, name(other))),
        }
    }
    if let Some(more) = name(answers[cur]) {
        return Some(format!("path stops early, oracle goes on to {more}"));
    }
    let last_final = ours.hops.last().is_none_or(|h| h.kind == HopKind::Final);
    (!last_final).then(|| "last hop is not final".to_string())
}

#[test]
fn replay_full_history_against_cincinnati_and_zincati() {
    let started = std::time::Instant::now();
    let (mut revisions, mut plans, mut hops, mut bad) = (0usize, 0usize, 0usize, 0usize);
    let mut first: Vec<String> = Vec::new();
    for (stream, lines, barrier_rollouts) in
        [("stable", 204, 17), ("testing", 243, 17), ("next", 244, 18)]
    {
        let (rels, rows) = (releases(stream), history(stream));
        assert_eq!(rows.len(), lines, "{stream}: history line count");
        let (mut replayed, mut both) = (0, BTreeSet::new());
        for row in rows {
            // NOTABLE-CASES 7: releases that were barrier and rollout at once.
            let mut markers: HashMap<String, (bool, bool)> = HashMap::new();
            for (v, barrier, _, rollout) in oracle::entries(&row.doc) {
                let m = markers.entry(v).or_default();
                (m.0, m.1) = (m.0 || barrier, m.1 || rollout.is_some());
            }
            let mixed = markers.into_iter().filter(|m| m.1 .0 && m.1 .1);
            both.extend(mixed.map(|m| m.0));

            let s = snap(stream, row, &rels);
            let (g, n) = (&s.imported.graph, s.versions.len());
            let names: Vec<&str> = g.releases.iter().map(|r| r.version.as_str()).collect();
            assert_eq!(names, s.versions, "{stream} {}: graph order", s.row.commit);
            let mut at = Vec::with_capacity(n);
            for (i, v) in s.versions.iter().enumerate() {
                assert_eq!(g.releases[i].digest, Some(digest_of(v)));
                assert_eq!(find_booted(g, &by_digest(v)), Some(i), "find_booted {v}");
                at.push(oracle::find(&s.oracle, &payload_of(v)).expect("oracle finds booted"));
            }
            for w in WARINESSES {
                let pol = policy(w);
                let planner = Planner::new(g, &pol, s.row.now);
                let answers = oracle::answers(&s.oracle, w, s.row.now);
                for (i, &at) in at.iter().enumerate() {
                    let ours = planner.plan_index(i);
                    plans += 1;
                    hops += ours.hops.len();
                    if let Some(d) = compare(&ours, at, &s.oracle, &answers) {
                        bad += 1;
                        if first.len() < 20 {
                            let (c, date, v) = (&s.row.commit[..10], &s.row.date, &s.versions[i]);
                            first.push(format!("{stream} {c} {date} w={w} booted={v}: {d}"));
                        }
                    }
                }
                // The one-shot API agrees with the prepared planner.
                for i in [0, n / 2, n - 1] {
                    let one = plan(g, &by_digest(&s.versions[i]), &pol, s.row.now);
                    assert_eq!(one, planner.plan_index(i));
                }
            }
            replayed += 1;
        }
        assert_eq!(replayed, lines, "{stream}: revisions replayed");
        assert_eq!(both.len(), barrier_rollouts, "{stream}: barrier+rollouts");
        revisions += replayed;
    }
    let took = started.elapsed();
    eprintln!("replayed {revisions} revisions, {plans} plans ({hops} hops), {bad} disagreements");
    eprintln!("(in {took:.1?})");
    assert_eq!(revisions, 204 + 243 + 244);
    assert!(plans > 0);
    let first = first.join("\n");
    assert!(bad == 0, "{bad} disagreements, first:\n{first}");
}

#[test]
fn case01_age_order_not_version_order() {
    let s = snapshot("next", "b28f0f3");
    s.check("37.20230303.1.0 w=0 -> 38.20230310.1.0");
    s.check("37.20230303.1.0 w=0.5 RolloutPending");
    // Dropped from updates: no incoming edges any more.
    let s = snapshot("next", "62acba1");
    s.check("37.20230303.1.0 w=0");
    let s = snapshot("next", "9627393");
    assert_eq!(s.plan("38.20230310.1.0", 0.0).status, Status::Blocked);
    s.check("38.20230310.1.0 w=0 BootedDeadend");
    s.check("37.20230218.1.0 w=1 -> 37.20230303.1.0");
    // 37.20230303.1.1 is published after 38.20230310.1.0: newer by age, lower by version.
    let s = snapshot("next", "1004764");
    assert!("37.20230303.1.1" < "38.20230310.1.0");
    assert!(s.release("37.20230303.1.1").0 > s.release("38.20230310.1.0").0);
    s.check("37.20230303.1.0 w=0 -> 37.20230303.1.1");
    s.check("37.20230218.1.0 w=0 -> 37.20230303.1.1");
    s.check("38.20230310.1.0 w=0 BootedDeadend");
    s.check("37.20230303.1.0 w=0.5 RolloutPending");
}

#[test]
fn case02_barrier_moved_to_older_release() {
    let s = snapshot("testing", "9092371f");
    s.check("38.20231002.2.2 w=0.5 -> 38.20231027.2.0 -> 39.20231101.2.0 RolloutPending");
    let s = snapshot("testing", "2999c752");
    assert!(s.release("38.20231014.2.0").1.checkpoint.is_some());
    assert!(s.release("38.20231027.2.0").1.checkpoint.is_none());
    // Hosts before the new barrier stop there; hosts past it never go back to it.
    s.check("38.20231002.2.2 w=1 -> 38.20231014.2.0 -> 39.20231101.2.1");
    s.check("38.20231027.2.0 w=1 -> 39.20231101.2.1");
}

#[test]
fn case03_barrier_moved_forward() {
    let s = snapshot("next", "fbd35214");
    s.check("35.20220313.1.0 w=0 -> 36.20220325.1.0 -> 36.20220418.1.0");
    s.check("35.20220313.1.0 w=0.5 -> 36.20220325.1.0 -> 36.20220410.1.1 RolloutPending");
    // Same date, next commit: the barrier is now the in-progress rollout 36.20220418.1.0.
    let s = snapshot("next", "40fde3e6");
    s.check("35.20220313.1.0 w=0 -> 36.20220418.1.0");
    s.check("35.20220313.1.0 w=0.5 -> 36.20220410.1.1 RolloutPending");
    s.check("36.20220325.1.0 w=1 -> 36.20220410.1.1 RolloutPending");
    s.check("36.20220410.1.1 w=0.5 RolloutPending");
}

#[test]
fn case04_legacy_schema() {
    let s = snapshot("testing", "e4465e08");
    assert!(s.row.doc.get("updates").is_some() && s.row.doc.get("releases").is_none());
    let ro = s
        .release("30.20190801.0")
        .1
        .rollout
        .as_ref()
        .expect("rollout");
    let start = ro.start.map(|t| t.timestamp());
    let want = (Some(1_565_017_200), Some(0.0), Some(120));
    assert_eq!((start, ro.start_percentage, ro.duration_minutes), want);
    assert!(s.release("30.20190716.1").1.deadend.is_some());
    s.check("30.20190725.0 w=0 -> 30.20190801.0");
    s.check("30.20190715.0 w=0 -> 30.20190801.0");
    s.check("30.20190725.0 w=0.5 RolloutPending");
    s.check("30.20190716.1 w=0 BootedDeadend");
    // Halfway through the 120 minutes (start + 3600 s) the throttle is exactly 0.5.
    s.check("30.20190725.0 w=0.5 at=1565020800 -> 30.20190801.0");
    s.check("30.20190725.0 w=0.51 at=1565020800 RolloutPending");
}

#[test]
fn case05_start_percentage_100() {
    let s = snapshot("testing", "2e8cd6bb");
    let noted = |s: &Snap, what: &str| s.imported.notes.iter().any(|n| n.message.contains(what));
    assert!(noted(&s, "start_percentage 100"));
    let ro = s.release("30.20191002.0").1.rollout.clone().unwrap();
    assert_eq!(ro.start_percentage, Some(1.0));
    // No start, 100: every node sees it at once, the wariest too.
    let s = snapshot("testing", "35be95c1");
    s.check("30.20191002.0 w=1 -> 30.20191014.0 RolloutPending");
    s.check("30.20190905.0 w=1 -> 30.20191014.0 RolloutPending");
    s.check("30.20191014.0 w=0 -> 30.20191014.1");
    // A future start with a duration: hidden before it, fully out from it on (Cincinnati's
    // raw 100 makes the throttle fall from 100 to 1.0 over the duration).
    let mut row = s.row.clone();
    let start = row.now + 3600;
    assert_eq!(row.doc["releases"][1]["version"], "30.20191014.0");
    let rollout = json!({"start_percentage": 100, "start_epoch": start, "duration_minutes": 60});
    row.doc["releases"][1]["metadata"]["rollout"] = rollout;
    let s = build("testing", row, s.versions.clone());
    let before = start - 1;
    s.check(&format!("30.20191002.0 w=1 at={before} RolloutPending"));
    for now in [start, start + 1, start + 1800, start + 3599, start + 3601] {
        let spec = format!("30.20191002.0 w=1 at={now} -> 30.20191014.0 RolloutPending");
        s.check(&spec);
    }
}

#[test]
fn case06_three_and_four_part_versions() {
    let s = snapshot("testing", "14fca25c");
    s.check("30.20191014.1 w=0 -> 31.20191217.2.0");
    s.check("30.20191014.1 w=0.5 -> 31.20191211.1 RolloutPending");
    s.check("31.20191211.1 w=0 -> 31.20191217.2.0");
    s.check("30.20191002.0 w=0 -> 30.20191014.1 -> 31.20191217.2.0");
    s.check("30.20190716.1 w=0 BootedDeadend");
}

#[test]
fn case07_barrier_with_rollout_in_progress() {
    let s = snapshot("next", "58ad2b7");
    let (b, rel) = s.release("37.20230303.1.1");
    assert!(rel.checkpoint.is_some() && rel.rollout.is_some());
    s.check("37.20230218.1.0 w=0 -> 37.20230303.1.1");
    s.check("37.20230218.1.0 w=0.5 -> 37.20230303.1.0 RolloutPending");
    s.check("37.20230303.1.0 w=0.5 RolloutPending");
    s.check("36.20220906.1.0 w=0.5 -> 37.20221111.1.0 -> 37.20230303.1.0 RolloutPending");
    for v in &s.versions[..b] {
        for w in [0.5, 1.0] {
            let past = s.plan(v, w).hops.into_iter().find(|h| h.index >= b);
            assert_eq!(past, None, "{v} w={w} went past the barrier");
        }
    }
    // A later plain barrier only gets edges from the in-progress barrier on (Cincinnati moves
    // `start` to every barrier), so hosts before it still see nothing past it.
    let (mut row, mut versions) = (s.row.clone(), s.versions.clone());
    versions.push("38.20230322.1.0".into());
    let barrier = json!({"barrier": {"reason": "synthetic"}});
    let entry = json!({"version": "38.20230322.1.0", "metadata": barrier});
    row.doc["releases"].as_array_mut().unwrap().push(entry);
    let s = build("next", row, versions);
    s.check("37.20230218.1.0 w=0.5 -> 37.20230303.1.0 RolloutPending");
    s.check("37.20230218.1.0 w=0 -> 37.20230303.1.1 -> 38.20230322.1.0");
}

#[test]
fn case08_also_known_as_digest() {
    let text = read("fcos-cincinnati/bootimages_digests.json");
    let digests: Value = serde_json::from_str(&text).unwrap();
    let d = |v: &str, k: &str| digests[v][ARCH][k].as_str().unwrap().to_string();
    let (old, new) = ("43.20251024.2.0", "43.20251110.2.0");
    let doc = json!({
        "apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
        "metadata": {"stream": "testing", "image": IMAGE},
        "releases": [
            {"version": old, "digest": d(old, "good"), "alsoKnownAs": [d(old, "bad")]},
            {"version": new, "digest": d(new, "good")},
        ]
    });
    let parse = |doc: &Value| UpdateGraph::parse(doc.to_string().as_bytes(), "graph.json");
    let g = parse(&doc).unwrap().graph;
    assert_eq!(find_booted(&g, &booted(d(old, "bad"))), Some(0));
    let p = plan(&g, &booted(d(old, "bad")), &policy(1.0), 0);
    assert_eq!((p.booted.as_str(), p.next.as_deref()), (old, Some(new)));
    let good = Some(d(new, "good"));
    assert_eq!(p.hops[0].digest, good, "stages the good digest");
    let p = plan(&g, &booted(d(new, "good")), &policy(1.0), 0);
    assert_eq!(p.status, Status::UpToDate);
    // The alias must not identify a second release.
    let mut dup = doc.clone();
    dup["releases"][1]["alsoKnownAs"] = json!([d(old, "bad")]);
    assert!(parse(&dup).is_err());
}

#[test]
fn case09_releases_without_metadata_are_not_offered() {
    let s = snapshot("next", "62acba1");
    assert!(!s.release("38.20230310.1.0").1.offered);
    assert!(!s.release("37.20230218.1.0").1.offered);
    s.check("37.20230303.1.0 w=0");
    s.check("37.20230205.1.0 w=0 -> 37.20230303.1.0");
    let entries = oracle::entries(&s.row.doc);
    let marked: BTreeSet<String> = entries.into_iter().map(|e| e.0).collect();
    for v in &s.versions {
        for w in WARINESSES {
            for h in s.plan(v, w).hops {
                let v = &h.version;
                assert!(marked.contains(v), "offered {v}, which has no metadata");
            }
        }
    }
}

#[test]
fn case10_updates_name_a_release_missing_from_the_index() {
    let missing = "32.20200601.1.1";
    let noted = |s: &Snap| s.imported.notes.iter().any(|n| n.message.contains(missing));
    let s = snapshot("next", "3e4bbcf003");
    assert!(!s.versions.iter().any(|v| v == missing));
    assert!(noted(&s));
    for v in &s.versions {
        s.check(&format!("{v} w=0"));
    }
    // Once the release is listed, the same metadata offers it.
    let s = snapshot("next", "3e43f458");
    assert!(!noted(&s));
    s.check("32.20200601.1.0 w=0 -> 32.20200601.1.1");
}
