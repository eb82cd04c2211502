//! Planner benchmarks with fixed inputs:
//! - `plan/N`: one full plan from the oldest release over N synthetic releases with a checkpoint
//!   every 20 (so the path has N/20 hops): cost must grow linearly with N;
//! - `plan_all/N`: `plan --all` (one plan per release) over the same graph for N = 1k;
//! - `fcos_history_replay`: import every revision of the real FCOS update metadata (3 streams)
//!   and plan every release at wariness 0, 0.5 and 1, as `lib/tests/fcos_replay.rs` does.

use std::hint::black_box;
use std::path::Path;

use checkpoint_engine::graph::{fcos, Reason, Release, Rollout, UpdateGraph};
use checkpoint_engine::plan::{plan, BootedRef, Planner, Policy};
use checkpoint_engine::rollout::Wariness;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::Value;

/// N releases, a checkpoint every 20, a dead-end every 97 (not offered), a rollout every 50.
fn synthetic(n: usize) -> UpdateGraph {
    let releases = (0..n)
        .map(|i| {
            let mut r = Release::new(format!("1.{i}"));
            r.digest = Some(format!("sha256:{i:064x}"));
            if i % 20 == 19 {
                r.checkpoint = Some(Reason::new("https://example.com/cp"));
            } else if i % 97 == 96 {
                r.deadend = Some(Reason::new("https://example.com/de"));
                r.offered = false;
            } else if i % 50 == 49 {
                r.rollout = Some(Rollout {
                    start: chrono::DateTime::from_timestamp(1_700_000_000, 0),
                    start_percentage: Some(0.2),
                    duration_minutes: Some(1440),
                    ..Default::default()
                });
            }
            r
        })
        .collect();
    UpdateGraph::new(releases)
}

const NOW: i64 = 1_700_040_000;

fn bench_plan(c: &mut Criterion) {
    let policy = Policy::new(Wariness::new(0.5).unwrap());
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    for n in [1_000usize, 100_000, 1_000_000] {
        let graph = synthetic(n);
        let booted = BootedRef::parse(&format!("sha256:{:064x}", 0));
        let p = plan(&graph, &booted, &policy, NOW);
        assert_eq!(p.hops.len(), n / 20, "a hop per checkpoint");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &graph, |b, g| {
            b.iter(|| plan(black_box(g), black_box(&booted), &policy, NOW))
        });
    }
    group.finish();

    let graph = synthetic(1_000);
    c.bench_function("plan_all/1000", |b| {
        b.iter(|| {
            let planner = Planner::new(&graph, &policy, NOW);
            (0..graph.releases.len())
                .map(|i| planner.plan_index(i).hops.len())
                .sum::<usize>()
        })
    });
}

/// Every (stream, revision): its updates bytes, its date, and the release index of that date.
fn history() -> Vec<(Vec<u8>, i64, Vec<u8>)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fcos/fcos-streams");
    let mut out = Vec::new();
    for stream in ["stable", "testing", "next"] {
        let index: Value = serde_json::from_slice(
            &std::fs::read(data.join(format!("reconstructed-releases-{stream}.json"))).unwrap(),
        )
        .unwrap();
        let releases = index["releases"].as_array().unwrap();
        let text =
            std::fs::read_to_string(data.join(format!("history/updates-{stream}.history.jsonl")))
                .unwrap();
        for line in text.lines() {
            let row: Value = serde_json::from_str(line).unwrap();
            let date = epoch(row["date"].as_str().unwrap());
            let known: Vec<&Value> = releases
                .iter()
                .filter(|r| epoch(r["first_seen_date"].as_str().unwrap()) <= date)
                .collect();
            let index = serde_json::json!({ "stream": stream, "releases": known });
            out.push((
                serde_json::to_vec(&row["doc"]).unwrap(),
                date,
                serde_json::to_vec(&index).unwrap(),
            ));
        }
    }
    out
}

fn epoch(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn bench_replay(c: &mut Criterion) {
    let revisions = history();
    assert_eq!(revisions.len(), 691);
    let opts = fcos::Options {
        arch: "x86_64".into(),
        scheme: fcos::Scheme::Both,
    };
    let policies: Vec<Policy> = [0.0, 0.5, 1.0]
        .map(|w| Policy::new(Wariness::new(w).unwrap()))
        .to_vec();
    let mut group = c.benchmark_group("fcos_history_replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(revisions.len() as u64));
    group.bench_function("691_revisions_x3_wariness", |b| {
        b.iter(|| {
            let mut hops = 0usize;
            for (updates, now, index) in &revisions {
                let g = fcos::import(updates, "updates.json", index, "releases.json", &opts)
                    .unwrap()
                    .graph;
                for policy in &policies {
                    let planner = Planner::new(&g, policy, *now);
                    hops += (0..g.releases.len())
                        .map(|i| planner.plan_index(i).hops.len())
                        .sum::<usize>();
                }
            }
            hops
        })
    });
    group.finish();
}

criterion_group!(benches, bench_plan, bench_replay);
criterion_main!(benches);
