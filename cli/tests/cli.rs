//! The command line as scripts use it: exit codes, JSON shapes, files written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared(rel: &str) -> PathBuf {
    root().join("../shared/data").join(rel)
}

fn demo_graph() -> PathBuf {
    root().join("docs/examples/demo-graph.yaml")
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("running bootc-checkpoint");
    (
        status.code().expect("exited"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bootc-checkpoint-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn plan_json_is_versioned_and_stable() {
    let (code, out, err) = run(bin().args(["plan", "--graph"]).arg(demo_graph()).args([
        "--booted",
        "41.20250105.3.0",
        "--wariness",
        "0.9",
        "--now",
        "1743552000",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["apiVersion"], "bootc-checkpoint/v1");
    assert_eq!(v["kind"], "Plan");
    assert_eq!(v["booted"], "41.20250105.3.0");
    assert_eq!(v["status"], "path");
    assert_eq!(v["next"], "41.20250201.3.0");
    let hops: Vec<(&str, &str)> = v["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["version"].as_str().unwrap(), h["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        hops,
        [
            ("41.20250201.3.0", "checkpoint"),
            ("42.20250301.3.0", "checkpoint"),
            ("42.20250315.3.0", "final")
        ]
    );
    assert_eq!(v["reasonCode"], "rolloutPending");
}

#[test]
fn plan_by_digest_and_all() {
    let digest = "sha256:beac9cf265165d229dce794418bb22823983f4abf68eb6328ade5655981555ee";
    let (code, out, _) = run(bin().args(["plan", "--graph"]).arg(demo_graph()).args([
        "--booted",
        digest,
        "--wariness",
        "0",
        "--now",
        "1743552000",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["booted"], "42.20250301.3.0");
    assert_eq!(v["next"], "42.20250401.3.0");

    let (code, out, _) = run(bin().args(["plan", "--graph"]).arg(demo_graph()).args([
        "--all",
        "--wariness",
        "1",
        "--now",
        "1743552000",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "PlanTable");
    let plans = v["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 7);
    let statuses: Vec<&str> = plans
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["path", "path", "path", "blocked", "path", "upToDate", "upToDate"]
    );
    assert!(plans.iter().all(|p| p["apiVersion"].is_null()));
}

#[test]
fn plan_without_wariness_uses_machine_id() {
    let dir = tempdir();
    let id = dir.join("machine-id");
    std::fs::write(&id, "0123456789abcdef0123456789abcdef\n").unwrap();
    // This machine id hashes to wariness 0.3603… (see rollout.rs), below the rollout's 55%
    // throttle at that instant, so the rolling-out release is visible.
    let (code, out, err) = run(bin()
        .args(["plan", "--graph"])
        .arg(demo_graph())
        .args([
            "--booted",
            "42.20250315.3.0",
            "--now",
            "1743552000",
            "--machine-id",
        ])
        .arg(&id)
        .args(["--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["next"], "42.20250401.3.0");
    let (code, _, err) = run(bin()
        .args(["plan", "--graph"])
        .arg(demo_graph())
        .args(["--booted", "42.20250315.3.0", "--machine-id"])
        .arg(dir.join("missing")));
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: deriving rollout wariness from"),
        "{err}"
    );
    assert!(err.contains("pass --wariness"), "{err}");
}

#[test]
fn validate_exit_codes_and_error_list() {
    let (code, out, _) = run(bin().args(["graph", "validate"]).arg(demo_graph()));
    assert_eq!(code, 0);
    assert!(
        out.contains("valid (7 releases, 2 checkpoints, 1 dead-ends, 1 rollouts)"),
        "{out}"
    );

    let dir = tempdir();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","releases":[
          {"version":"1","digest":"sha1:abcd"},
          {"version":"2","rollout":{"startPercentage":7}}]}"#,
    )
    .unwrap();
    let (code, out, _) = run(bin().args(["graph", "validate"]).arg(&bad));
    assert_eq!(code, 1);
    assert!(out.contains("invalid (2 problems)"), "{out}");
    assert!(
        out.contains("error: $.releases[0].digest: unknown digest algorithm \"sha1\""),
        "{out}"
    );
    assert!(
        out.contains("error: $.releases[1].rollout.startPercentage: 7 is out of range"),
        "{out}"
    );

    let (code, out, _) = run(bin()
        .args(["graph", "validate", "--format", "json"])
        .arg(&bad));
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "ValidationReport");
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["path"], "$.releases[0].digest");

    let (code, _, err) = run(bin()
        .args(["graph", "validate"])
        .arg(dir.join("absent.json")));
    assert_eq!(code, 1);
    assert!(err.starts_with("error: reading "), "{err}");
}

#[test]
fn import_fcos_then_plan() {
    let dir = tempdir();
    let out_path = dir.join("stable.json");
    let (code, _, err) = run(bin()
        .args(["graph", "import-fcos", "--arch", "x86_64", "--updates"])
        .arg(shared("fcos/fcos-streams/updates/stable.json"))
        .arg("--releases")
        .arg(shared(
            "fcos/fcos-streams/reconstructed-releases-stable.json",
        ))
        .arg("-o")
        .arg(&out_path));
    assert_eq!(code, 0, "{err}");
    let g: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(g["kind"], "UpdateGraph");
    assert_eq!(g["metadata"]["stream"], "stable");
    let releases = g["releases"].as_array().unwrap();
    let barriers = releases
        .iter()
        .filter(|r| !r["checkpoint"].is_null())
        .count();
    assert_eq!(barriers, 19);
    // Releases without update metadata are not offered (no incoming edges in Cincinnati).
    assert_eq!(releases[0]["version"], "31.20200108.3.0");
    assert_eq!(releases[0]["offered"], false);

    // A 2020 host must stop at the first barrier, 31.20200517.3.0.
    let (code, out, _) = run(bin().args(["plan", "--graph"]).arg(&out_path).args([
        "--booted",
        "31.20200108.3.0",
        "--wariness",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["next"], "31.20200517.3.0");
    assert!(v["hops"].as_array().unwrap().len() >= 19);
}

#[test]
fn import_cincinnati_and_show_dot() {
    let dir = tempdir();
    let out_path = dir.join("g.json");
    let (code, _, err) = run(bin()
        .args(["graph", "import-cincinnati"])
        .arg(shared("fcos/zincati/cincinnati-response.json"))
        .arg("-o")
        .arg(&out_path));
    assert_eq!(code, 0, "{err}");
    let (code, dot, _) = run(bin()
        .args(["graph", "show", "--format", "dot"])
        .arg(&out_path));
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph updates {"));
    assert!(
        dot.contains("n0 -> n2 [style=dashed, color=blue];"),
        "{dot}"
    );
    assert!(
        dot.contains("n1 -> n2 [style=dashed, color=blue];"),
        "{dot}"
    );
    assert!(!dot.contains("-> n1"), "{dot}");

    let (code, dot, _) = run(bin()
        .args(["graph", "show", "--format", "dot"])
        .arg(demo_graph()));
    assert_eq!(code, 0);
    assert!(
        dot.contains("shape=doubleoctagon, color=red"),
        "checkpoints stand out: {dot}"
    );
    assert!(dot.contains("shape=Msquare"), "dead-ends stand out: {dot}");
    assert!(
        dot.contains("style=dashed, color=blue"),
        "rollouts stand out: {dot}"
    );
    // No edge leaves the dead-end (n3).
    assert!(!dot.contains("n3 ->"), "{dot}");
}

#[test]
fn demo_runs() {
    // The planner walk-through alone; the real journey is `tests/demo.rs`.
    let (code, out, err) = run(bin().args(["demo", "--plan-only"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checkpoint sha256:1430e38e"), "{out}");
    assert!(!out.contains("$DEMO"), "{out}");
}
