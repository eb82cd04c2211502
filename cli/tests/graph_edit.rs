//! Publishing a graph from CI with the real binary: `graph new`, `add`, `checkpoint`,
//! `deadend`, `rollout`, `diff` and `validate` over one file, the way a pipeline chains them,
//! and every bad input refused with an error naming the file and the field, the file untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
    c.current_dir(dir).env_remove("RUST_BACKTRACE");
    c
}

/// Run the binary in `dir`; (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin(dir)
        .args(args)
        .output()
        .expect("running bootc-checkpoint");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Run and require exit 0; stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(dir, args);
    assert_eq!(code, 0, "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
    stdout
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bootc-checkpoint-graph-edit-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// The pipeline of docs/graph-format.md: new, add A, B, C, checkpoint B, rollout C.
fn publish(dir: &Path, file: &str) -> Vec<String> {
    let (a, b, c) = (digest(0xa), digest(0xb), digest(0xc));
    let steps: Vec<Vec<&str>> = vec![
        vec![
            "graph",
            "new",
            file,
            "--stream",
            "stable",
            "--image",
            "quay.io/example/os",
        ],
        vec!["graph", "add", file, "--version", "A", "--digest", &a],
        vec!["graph", "add", file, "--version", "B", "--digest", &b],
        vec!["graph", "add", file, "--version", "C", "--digest", &c],
        vec![
            "graph",
            "checkpoint",
            file,
            "--version",
            "B",
            "--reason",
            "https://example.com/b",
        ],
        vec![
            "graph",
            "rollout",
            file,
            "--version",
            "C",
            "--start",
            "2025-01-06T00:00:00Z",
            "--duration",
            "2880",
            "--start-percentage",
            "0.25",
        ],
    ];
    steps.iter().map(|s| ok(dir, s)).collect()
}

#[test]
fn pipeline_new_add_checkpoint_rollout_diff_validate() {
    let dir = tempdir("pipeline");
    let out = publish(&dir, "stable.json");
    assert_eq!(
        out.join(""),
        "stable.json: new graph for stream \"stable\" (serial 1); `graph add` its first release \
         before publishing\n\
         stable.json: add release A; serial 1 -> 2\n\
         stable.json: add release B; serial 2 -> 3\n\
         stable.json: add release C; serial 3 -> 4\n\
         stable.json: mark B as a checkpoint (\"https://example.com/b\"); serial 4 -> 5\n\
         stable.json: roll out C from 25% at 2025-01-06T00:00:00Z to 100% over 2880 minutes; \
         serial 5 -> 6\n"
    );
    let g: Value =
        serde_json::from_slice(&std::fs::read(dir.join("stable.json")).unwrap()).unwrap();
    assert_eq!(g["metadata"]["serial"], 6);
    assert_eq!(
        g["releases"][1]["checkpoint"]["reason"],
        "https://example.com/b"
    );
    assert_eq!(
        g["releases"][2]["rollout"],
        serde_json::json!({"start": "2025-01-06T00:00:00Z", "startPercentage": 0.25, "durationMinutes": 2880})
    );
    assert!(ok(&dir, &["graph", "validate", "stable.json"])
        .starts_with("stable.json: valid (3 releases, 1 checkpoints, 0 dead-ends, 1 rollouts)"));

    // Next publication: a dead-end on A, the checkpoint dropped; diff against the previous file.
    std::fs::copy(dir.join("stable.json"), dir.join("prev.json")).unwrap();
    ok(
        &dir,
        &[
            "graph",
            "deadend",
            "stable.json",
            "--version",
            "A",
            "--reason",
            "https://x/a",
        ],
    );
    ok(
        &dir,
        &[
            "graph",
            "checkpoint",
            "stable.json",
            "--version",
            "B",
            "--remove",
        ],
    );
    let (code, text, _) = run(&dir, &["graph", "diff", "prev.json", "stable.json"]);
    assert_eq!(code, 1);
    assert_eq!(
        text,
        "--- prev.json (serial 6)\n+++ stable.json (serial 8)\n\
         - checkpoint B: \"https://example.com/b\"\n\
         + dead-end A: \"https://x/a\"\n\
         warning: CHECKPOINT DROPPED: B — nodes only honour a graph that drops a checkpoint \
         when it is signed; hosts older than it may now skip it\n"
    );
    let (code, json, _) = run(
        &dir,
        &[
            "graph",
            "diff",
            "prev.json",
            "stable.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1);
    let d: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (d["apiVersion"].as_str(), d["kind"].as_str()),
        (Some("bootc-checkpoint/v1"), Some("GraphDiff"))
    );
    assert_eq!(
        d["serial"],
        serde_json::json!({"old": 6, "new": 8, "increased": true})
    );
    assert_eq!(
        d["checkpointsRemoved"],
        serde_json::json!([{"version": "B", "reason": "https://example.com/b"}])
    );
    assert_eq!(d["deadendsAdded"][0]["version"], "A");
    assert_eq!(d["identical"], false);

    // Backwards: the serial went down, C disappears.
    let (code, back, _) = run(&dir, &["graph", "diff", "stable.json", "prev.json"]);
    assert_eq!(code, 1);
    assert!(
        back.contains("warning: serial did not increase (8 -> 6)"),
        "{back}"
    );
    assert_eq!(
        run(&dir, &["graph", "diff", "stable.json", "stable.json"]),
        (
            0,
            "stable.json and stable.json are identical (serial 8)\n".into(),
            String::new()
        )
    );
    assert!(ok(&dir, &["graph", "validate", "stable.json"]).contains("valid"));
    // Trouble is 2, as with diff(1), so a gate cannot take it for "different".
    let (code, _, err) = run(&dir, &["graph", "diff", "prev.json", "missing.json"]);
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "error: reading missing.json: No such file or directory (os error 2)\n"
        )
    );
}

#[test]
fn same_edits_give_the_same_bytes_in_json_and_yaml() {
    for file in ["g.json", "g.yaml"] {
        let (one, two) = (tempdir("stable-1"), tempdir("stable-2"));
        publish(&one, file);
        publish(&two, file);
        let a = std::fs::read(one.join(file)).unwrap();
        assert_eq!(a, std::fs::read(two.join(file)).unwrap(), "{file}");
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.starts_with('{'), file.ends_with(".json"), "{text}");
        assert!(ok(&one, &["graph", "validate", file]).contains("valid (3 releases"));
    }
}

#[test]
fn unknown_fields_and_yaml_syntax_are_kept() {
    let dir = tempdir("keep");
    let doc = format!(
        "apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\nx-owner: team-os\nmetadata:\n  \
         serial: 10\n  x-build: 77\nreleases:\n  - version: A\n    digest: {}\n    x-notes: \
         keep me\n",
        digest(1)
    );
    std::fs::write(dir.join("graph"), doc).unwrap();
    let out = ok(
        &dir,
        &[
            "graph",
            "checkpoint",
            "graph",
            "--version",
            "A",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["kind"], "GraphEdit");
    assert_eq!(
        (report["previousSerial"].as_u64(), report["serial"].as_u64()),
        (Some(10), Some(11))
    );
    assert_eq!(report["changed"], true);
    let text = std::fs::read_to_string(dir.join("graph")).unwrap();
    let g: Value = serde_yaml::from_str(&text).unwrap();
    assert!(!text.starts_with('{'), "YAML in, YAML out: {text}");
    assert_eq!(g["x-owner"], "team-os");
    assert_eq!(g["metadata"]["x-build"], 77);
    assert_eq!(g["releases"][0]["x-notes"], "keep me");
    assert_eq!(g["releases"][0]["checkpoint"]["reason"], "");
}

#[test]
fn bad_input_is_refused_naming_file_and_field() {
    let dir = tempdir("bad");
    publish(&dir, "g.json");
    let before = std::fs::read(dir.join("g.json")).unwrap();
    let nine = digest(9);
    let table: &[(&[&str], &str)] = &[
        (
            &[
                "graph",
                "checkpoint",
                "g.json",
                "--version",
                "9.9",
                "--reason",
                "r",
            ],
            "error: mark 9.9 as a checkpoint (\"r\"): g.json not changed: g.json: $.releases: no \
             release has version \"9.9\" (3 releases, newest \"C\")\n",
        ),
        (
            &[
                "graph",
                "add",
                "g.json",
                "--version",
                "B",
                "--digest",
                &nine,
            ],
            "error: add release B: g.json not changed: g.json: $.releases[1].version: version \
             \"B\" is already in the graph (age 1 of 3); a release is added once, as the newest\n",
        ),
        (
            &[
                "graph",
                "add",
                "g.json",
                "--version",
                "D",
                "--digest",
                "sha256:XYZ",
            ],
            "error: add release D: g.json not changed: g.json: $.releases[3].digest: malformed \
             digest \"sha256:XYZ\": sha256 needs 64 lower-case hex digits\n",
        ),
        (
            &[
                "graph",
                "add",
                "g.json",
                "--version",
                "D",
                "--digest",
                &digest(0xa),
            ],
            "error: add release D: g.json not changed: g.json: $.releases[3].digest: digest \
             sha256:000000000000000000000000000000000000000000000000000000000000000a already \
             identifies release \"A\" ($.releases[0])\n",
        ),
        (
            &[
                "graph",
                "add",
                "g.json",
                "--version",
                "D",
                "--digest",
                &nine,
                "--serial",
                "6",
            ],
            "error: add release D: g.json not changed: g.json: $.metadata.serial: --serial 6 does \
             not increase the current serial 6: nodes that accepted serial 6 would refuse this \
             graph as a rollback\n",
        ),
        (
            &[
                "graph",
                "rollout",
                "g.json",
                "--version",
                "A",
                "--start",
                "2025-01-06T00:00:00Z",
                "--duration",
                "60",
                "--start-percentage",
                "50",
            ],
            "error: roll out A from 5000% at 2025-01-06T00:00:00Z to 100% over 60 minutes: g.json \
             not changed: g.json: $.releases[0].rollout.startPercentage: 50 is out of range: a \
             fraction of the fleet from 0.0 to 1.0\n",
        ),
        (
            &["graph", "deadend", "g.json", "--version", "A", "--remove"],
            "error: remove the dead-end of A: g.json not changed: g.json: $.releases[0].deadend: \
             release \"A\" is not a dead-end; nothing to remove\n",
        ),
        (
            &["graph", "new", "g.json", "--stream", "stable"],
            "error: g.json already exists; pass --force to replace it with an empty graph\n",
        ),
    ];
    for (args, want) in table {
        let (code, stdout, stderr) = run(&dir, args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (1, "", *want),
            "{args:?}"
        );
        assert_eq!(
            std::fs::read(dir.join("g.json")).unwrap(),
            before,
            "{args:?} wrote"
        );
    }
    // Clap refuses what cannot be an edit at all (exit 2).
    for args in [
        &["graph", "add", "g.json", "--version", "D"][..],
        &[
            "graph",
            "rollout",
            "g.json",
            "--version",
            "C",
            "--start",
            "yesterday",
            "--duration",
            "5",
        ],
        &["graph", "deadend", "g.json", "--version", "A"],
    ] {
        assert_eq!(run(&dir, args).0, 2, "{args:?}");
    }
    // A higher explicit serial is fine; --force starts over.
    assert!(ok(
        &dir,
        &[
            "graph",
            "add",
            "g.json",
            "--version",
            "D",
            "--digest",
            &nine,
            "--serial",
            "1700000000"
        ]
    )
    .ends_with("serial 6 -> 1700000000\n"));
    ok(
        &dir,
        &["graph", "new", "g.json", "--stream", "next", "--force"],
    );
    let (code, text, _) = run(&dir, &["graph", "validate", "g.json"]);
    assert_eq!(code, 1, "an empty graph is not publishable");
    assert!(text.contains("$.releases: the stream is empty"), "{text}");
}
