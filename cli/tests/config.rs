//! Configuration drop-ins through the real binary: `config show --root DIR` and the journey
//! commands with `--config-root DIR`, always on temp dirs standing in for `/`. The last test
//! runs a journey configured only by drop-ins, against the real registry/image/sysroot fixture.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::{OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

const USR: &str = "usr/lib/bootc-checkpoint/config.d";
const RUN: &str = "run/bootc-checkpoint/config.d";
const ETC: &str = "etc/bootc-checkpoint/config.d";

/// A temp dir laid out like `/` with the three drop-in directories.
struct Root(TempDir);

impl Root {
    fn new() -> Self {
        let t = TempDir::new("config-root");
        for d in [USR, RUN, ETC] {
            std::fs::create_dir_all(t.join(d)).unwrap();
        }
        Root(t)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Write a drop-in; returns its path (as the binary shows it).
    fn write(&self, dir: &str, name: &str, text: &str) -> String {
        let p = self.0.join(dir).join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn mask(&self, dir: &str, name: &str) -> String {
        let p = self.0.join(dir).join(name);
        std::os::unix::fs::symlink("/dev/null", &p).unwrap();
        p.to_str().unwrap().to_string()
    }
}

/// Run the binary: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"))
        .args(args)
        .env("BOOTC_CHECKPOINT_LOG", "warn")
        .output()
        .expect("running bootc-checkpoint");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn show_json(root: &Root) -> (Value, String) {
    let (code, out, err) = run(&[
        "config",
        "show",
        "--format",
        "json",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    (serde_json::from_str(&out).unwrap(), err)
}

#[test]
fn show_json_values_and_their_files() {
    let r = Root::new();
    let vendor = r.write(
        USR,
        "10-vendor.toml",
        r#"
[graph]
source = "/usr/share/bootc-checkpoint/graph.json"

[identity]
group = "vendor"

[updates]
strategy = "periodic"

[[updates.periodic.window]]
days = ["Sat", "Sun"]
start_time = "23:30"
length_minutes = 60
"#,
    );
    let masked = r.write(USR, "20-backend.toml", "[host]\nbackend = \"bootc\"\n");
    let mask = r.mask(ETC, "20-backend.toml");
    let replaced = r.write(USR, "30-wariness.toml", "identity.rollout_wariness = 0.9\n");
    let runtime = r.write(RUN, "30-wariness.toml", "identity.rollout_wariness = 0.2\n");
    let admin = r.write(
        ETC,
        "50-admin.toml",
        "[graph]\nsource = \"file:/etc/bootc-checkpoint/graph.json\"\n\
         [updates.periodic]\ntime_zone = \"Europe/Berlin\"\n",
    );
    let ignored = r.write(ETC, "60-old.yaml", "graph: {}\n");

    let (v, err) = show_json(&r);
    assert_eq!(v["apiVersion"], "bootc-checkpoint/v1");
    assert_eq!(v["kind"], "Config");
    assert_eq!(v["files"], json!([vendor, runtime, admin]));
    assert_eq!(v["masks"], json!([mask]));
    assert_eq!(
        v["overridden"],
        json!([
            {"file": masked, "by": mask, "masked": true},
            {"file": replaced, "by": runtime, "masked": false},
        ])
    );
    assert_eq!(
        v["graph"]["source"],
        json!({"value": "file:/etc/bootc-checkpoint/graph.json", "file": admin})
    );
    assert_eq!(
        v["identity"],
        json!({
            "rolloutWariness": {"value": 0.2, "file": runtime},
            "group": {"value": "vendor", "file": vendor},
        })
    );
    assert_eq!(v["host"]["backend"], json!({"value": "auto", "file": null}));
    assert_eq!(
        v["host"]["stateDir"],
        json!({"value": "/var/lib/bootc-checkpoint", "file": null})
    );
    assert_eq!(
        v["trust"]["policy"],
        json!({"value": "require", "file": null})
    );
    assert_eq!(
        v["updates"]["strategy"],
        json!({"value": "periodic", "file": vendor})
    );
    assert_eq!(
        v["updates"]["periodic"],
        json!({
            "timeZone": {"value": "Europe/Berlin", "file": admin},
            "window": [{"value": {"days": ["Sat", "Sun"], "startTime": "23:30", "lengthMinutes": 60}, "file": vendor}],
        })
    );
    let warning = format!("{ignored}: ignored: only *.toml files are read");
    assert_eq!(
        v["warnings"],
        json!([{"file": ignored, "message": "ignored: only *.toml files are read"}])
    );
    assert!(err.contains(&warning), "the warning is logged too: {err}");
}

#[test]
fn show_text_names_the_file_of_every_value() {
    let r = Root::new();
    let f = r.write(ETC, "50-x.toml", "[identity]\ngroup = \"canary\"\n");
    let (code, out, err) = run(&["config", "show", "--root", r.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in\n{out}"))
            .to_string()
    };
    let group = line("group = ");
    assert!(group.starts_with("group = \"canary\""), "{group}");
    assert!(group.ends_with(&format!("# {f}")), "{group}");
    assert!(line("backend = ").ends_with("# default"));
    assert!(out.contains("# rollout_wariness is not set"), "{out}");
    assert!(out.contains(&format!("#   {f}\n")), "{out}");
}

#[test]
fn show_without_drop_ins_is_the_defaults() {
    let r = Root::new();
    let (v, err) = show_json(&r);
    assert!(err.is_empty(), "{err}");
    assert_eq!(v["files"], json!([]));
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(v["graph"]["source"], Value::Null);
    assert_eq!(
        v["updates"]["strategy"],
        json!({"value": "immediate", "file": null})
    );
}

#[test]
fn invalid_value_exits_1_naming_file_and_key() {
    let r = Root::new();
    let f = r.write(ETC, "50-graph.toml", "[identity]\nrollout_wariness = 1.5\n");
    let want = format!("{f}: identity.rollout_wariness: 1.5 is out of range 0.0..=1.0");
    let root = r.path().to_str().unwrap();
    let (code, out, err) = run(&["config", "show", "--root", root]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains(&format!("error: {want}")), "{err}");
    // The journey commands refuse to act on it too, before touching anything.
    for cmd in ["upgrade", "resume", "status", "cancel"] {
        let (code, _, err) = run(&[cmd, "--config-root", root, "--sysroot", "/nonexistent"]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(err.contains(&want), "{cmd}: {err}");
    }
}

#[test]
fn fleet_lock_without_url_is_an_error() {
    let r = Root::new();
    let f = r.write(
        ETC,
        "50-strategy.toml",
        "updates.strategy = \"fleet_lock\"\n",
    );
    let (code, _, err) = run(&["config", "show", "--root", r.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{f}: updates.strategy: \"fleet_lock\" needs updates.fleet_lock_url"
        )),
        "{err}"
    );
    r.write(
        RUN,
        "40-lock.toml",
        "updates.fleet_lock_url = \"http://127.0.0.1:9/\"\n",
    );
    let (v, _) = show_json(&r);
    assert_eq!(v["updates"]["fleetLockUrl"]["value"], "http://127.0.0.1:9/");
}

#[test]
fn unknown_keys_and_ignored_files_are_warnings() {
    let r = Root::new();
    let f = r.write(
        ETC,
        "50-x.toml",
        "[graph]\nsorce = \"/g.json\"\n[colour]\nname = \"blue\"\n",
    );
    let conf = r.write(RUN, "10-x.conf", "");
    let (v, err) = show_json(&r);
    for w in [
        format!("{f}: graph.sorce: unknown key, ignored"),
        format!("{f}: colour: unknown key, ignored"),
        format!("{conf}: ignored: only *.toml files are read"),
    ] {
        assert!(err.contains(&w), "{w} not in {err}");
    }
    assert_eq!(v["warnings"].as_array().unwrap().len(), 3, "{v:#}");
    assert_eq!(v["graph"]["source"], Value::Null);
}

#[test]
fn configured_backend_is_the_one_used() {
    let r = Root::new();
    let root = r.path().to_str().unwrap();
    let state = TempDir::new("config-state");
    let state_dir = state.path().to_str().unwrap();
    for backend in ["bootc", "rpm-ostree"] {
        let f = r.write(
            ETC,
            "50-backend.toml",
            &format!("host.backend = \"{backend}\"\n"),
        );
        // A CLI backend cannot drive an offline sysroot: refused, naming the file.
        let (code, _, err) = run(&[
            "status",
            "--config-root",
            root,
            "--state-dir",
            state_dir,
            "--run-dir",
            state_dir,
            "--sysroot",
            state_dir,
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("drives the running system") && err.contains(&f),
            "{err}"
        );
        // On the running system it is used without probing: here the tool is not installed.
        let (code, _, err) = run(&["status", "--config-root", root, "--state-dir", state_dir]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("running {backend} status")), "{err}");
    }
    r.write(ETC, "50-backend.toml", "host.backend = \"ostree\"\n");
    let (code, out, err) = run(&[
        "resume",
        "--config-root",
        root,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--run-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no journey in progress"), "{out}");
}

/// A graph A -> B (checkpoint) -> C over the fixture's images.
fn write_graph(images: &OsImages, path: &Path) {
    let rels: Vec<Value> = [RELEASE_A, RELEASE_B, RELEASE_C]
        .iter()
        .map(|v| {
            let mut r = json!({"version": v, "digest": images.digest(v)});
            if *v == RELEASE_B {
                r["checkpoint"] = json!({"reason": "https://example.com/why"});
            }
            r
        })
        .collect();
    let doc = json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
        "metadata": {"stream": "stable", "serial": 1, "image": images.repository()},
        "releases": rels});
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// Graph source, wariness and state directory from drop-ins alone; flags still win.
#[test]
fn drop_ins_configure_the_journey() {
    let registry = Registry::start_new();
    let mut images = OsImages::new(&registry);
    for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
        images.release(v);
    }
    images.tag(RELEASE_C, "stable");
    let sysroot = Sysroot::deployed(&images, RELEASE_A, "stable");
    let work = TempDir::new("config-journey");
    let graph = work.join("graph.json");
    write_graph(&images, &graph);
    let state: PathBuf = work.join("configured-state");

    let r = Root::new();
    r.write(
        USR,
        "10-graph.toml",
        &format!("[graph]\nsource = {:?}\n", graph.to_str().unwrap()),
    );
    r.write(
        ETC,
        "50-host.toml",
        &format!(
            "[identity]\nrollout_wariness = 0.0\n[host]\nstate_dir = {:?}\n",
            state.to_str().unwrap()
        ),
    );

    let registries_conf = registry.registries_conf();
    let cli = |cmd: &str, extra: &[&str]| {
        let mut args = vec![
            cmd,
            "--sysroot",
            sysroot.path().to_str().unwrap(),
            "--config-root",
            r.path().to_str().unwrap(),
            "--run-dir",
            r.path().to_str().unwrap(),
            // No wariness flag: a missing machine id proves the configured one is used.
            "--machine-id",
            "/nonexistent/machine-id",
            "--registries-conf",
            registries_conf.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        let v = if out.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out).unwrap()
        };
        (code, v, err)
    };

    // status plans from the configured graph, without --graph, --wariness or --state-dir.
    let (code, status, err) = cli("status", &[]);
    assert_eq!(code, 0, "{err}");
    let hops: Vec<&str> = status["plan"]["hops"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {status:#}"))
        .iter()
        .map(|h| h["version"].as_str().unwrap())
        .collect();
    assert_eq!(hops, [RELEASE_B, RELEASE_C], "{status:#}");

    // upgrade stages B and keeps its state in the configured directory.
    let (code, step, err) = cli("upgrade", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert!(state.join("state.json").exists());
    let (_, status, _) = cli("status", &[]);
    assert_eq!(status["journey"]["phase"], "staged", "{status:#}");

    // Flags win over the configuration.
    let other_state = work.join("flag-state");
    let (code, status, err) = cli("status", &["--state-dir", other_state.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(status["journey"].is_null(), "{status:#}");
    let (code, _, err) = cli("status", &["--graph", "/nonexistent/graph.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/graph.json"), "{err}");

    // Without the configured wariness, the (missing) machine id is needed again.
    r.write(
        ETC,
        "50-host.toml",
        &format!("[host]\nstate_dir = {:?}\n", state.to_str().unwrap()),
    );
    let (code, _, err) = cli("status", &[]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/machine-id"), "{err}");
    let (code, _, err) = cli("status", &["--wariness", "0"]);
    assert_eq!(code, 0, "{err}");
}

/// The example drop-in shipped in dist/ is valid as written (all comments: nothing set) and
/// with every commented setting switched on (each key known, each value accepted).
#[test]
fn shipped_example_is_valid_commented_and_uncommented() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dist/usr/share/doc/bootc-checkpoint/examples/config.d/50-example.toml"
    ))
    .unwrap();
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        uncommented.contains("\nstrategy = \"periodic\"\n"),
        "{uncommented}"
    );
    for (text, sets_strategy) in [(example.as_str(), false), (uncommented.as_str(), true)] {
        let r = Root::new();
        let f = r.write(ETC, "50-example.toml", text);
        let (code, out, err) = run(&[
            "config",
            "show",
            "--format",
            "json",
            "--root",
            r.path().to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["warnings"], json!([]), "{v:#}");
        let strategy = &v["updates"]["strategy"];
        if sets_strategy {
            assert_eq!(strategy["value"], "periodic", "{v:#}");
            assert_eq!(strategy["file"], json!(f), "{v:#}");
        } else {
            assert_eq!(strategy["value"], "immediate", "{v:#}");
        }
    }
}
