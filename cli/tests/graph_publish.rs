//! Publishing a signed graph next to the images and following it from a node, with real parts:
//! keys and signatures from the stock `minisign` tool and from `graph sign`, the artifact pushed
//! by `graph push` to a `docker-registry` on 127.0.0.1, a node whose configuration trusts the
//! key, staging a checkpoint from the `oci:` source, and the polling cost read from the
//! registry's own access log.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::{run_stdout, OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"))
}

/// `minisign -G` without a password; the public key lands in `keys_dir`.
fn keypair(dir: &Path, keys_dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(keys_dir).unwrap();
    let secret = dir.join(format!("{name}.key"));
    run_stdout(
        Command::new("minisign")
            .args(["-G", "-W", "-f", "-p"])
            .arg(keys_dir.join(format!("{name}.pub")))
            .arg("-s")
            .arg(&secret),
    );
    secret
}

fn write_graph(images: &OsImages, path: &Path, serial: u64) {
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
        "metadata": {"stream": "stable", "serial": serial, "image": images.repository()},
        "releases": rels});
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// Requests for the graph repository in the registry's access log: (method, path).
fn graph_requests(registry: &Registry) -> Vec<(String, String)> {
    registry
        .log_text()
        .lines()
        .filter_map(|l| {
            let start = l
                .find("\"HEAD /v2/os/graph")
                .or_else(|| l.find("\"GET /v2/os/graph"))?;
            let mut parts = l[start + 1..].split_whitespace();
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

#[test]
fn signed_graph_artifact_drives_a_journey_and_polls_cheaply() {
    let mut registry = Registry::start_new();
    let mut images = OsImages::new(&registry);
    for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
        images.release(v);
    }
    images.tag(RELEASE_C, "stable");
    let sysroot = Sysroot::deployed(&images, RELEASE_A, "stable");
    let work = TempDir::new("publish");
    let keys_dir = work.join("node-keys.d");
    let secret = keypair(work.path(), &keys_dir, "ci");
    let graph = work.join("graph.json");
    write_graph(&images, &graph, 1);
    let conf = registry.registries_conf();

    // CI: sign with our tool, check with the stock one, push next to the images.
    run_stdout(
        bin()
            .args(["graph", "sign"])
            .arg(&graph)
            .arg("--key")
            .arg(&secret),
    );
    run_stdout(
        Command::new("minisign")
            .arg("-V")
            .arg("-p")
            .arg(keys_dir.join("ci.pub"))
            .arg("-m")
            .arg(&graph),
    );
    let target = format!("oci:{}:{}/os/graph:stable", "127.0.0.1", registry.port());
    let out = run_stdout(
        bin()
            .args(["graph", "push"])
            .arg(&graph)
            .arg(&target)
            .arg("--registries-conf")
            .arg(&conf),
    );
    assert!(out.contains("(signed)"), "{out}");

    // Anyone: pull it back, verified.
    let pulled = work.join("pulled.json");
    let out = run_stdout(
        bin()
            .args(["graph", "pull", &target, "-o"])
            .arg(&pulled)
            .arg("--keys-dir")
            .arg(&keys_dir)
            .arg("--registries-conf")
            .arg(&conf),
    );
    assert!(out.contains("signed by key"), "{out}");
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&graph).unwrap()
    );

    // The node trusts the key through its configuration (policy "require" by default).
    let root = work.join("root");
    let dropins = root.join("etc/bootc-checkpoint/config.d");
    std::fs::create_dir_all(&dropins).unwrap();
    std::fs::write(
        dropins.join("50-graph.toml"),
        format!(
            "[graph]\nsource = \"{target}\"\n[trust]\nkeys_dirs = [\"{}\"]\n",
            keys_dir.display()
        ),
    )
    .unwrap();
    let node = |cmd: &str| -> Value {
        let out = run_stdout(&mut node_cmd(
            &work,
            &sysroot,
            &root,
            &conf,
            &[cmd, "--format", "json"],
        ));
        serde_json::from_str(&out).unwrap()
    };
    let step = node("upgrade");
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(step["journey"]["graph"]["source"], target);
    assert_eq!(step["journey"]["graph"]["serial"], 1);
    assert_eq!(sysroot.default_deployment_version(), RELEASE_B);

    // Polling an unchanged artifact: one manifest HEAD, no manifest or blob GET.
    let before = graph_requests(&registry).len();
    let status = node("status");
    assert_eq!(status["plan"]["booted"], RELEASE_B, "{status:#}");
    let polled: Vec<_> = graph_requests(&registry).split_off(before);
    assert_eq!(polled.len(), 1, "{polled:?}");
    assert_eq!(polled[0].0, "HEAD", "{polled:?}");
    assert!(polled[0].1.ends_with("/manifests/stable"), "{polled:?}");

    // The registry goes down: the node still plans from the last good graph, and says so.
    registry.stop();
    let check = node("upgrade --check");
    assert_eq!(check["outcome"], "available", "{check:#}");
    let msg = check["message"].as_str().unwrap();
    assert!(
        msg.contains("graph source down") && msg.contains(&target),
        "{msg}"
    );
    registry.start();

    // A republished graph with a lower serial is refused; nothing is staged.
    write_graph(&images, &graph, 0);
    run_stdout(
        bin()
            .args(["graph", "sign"])
            .arg(&graph)
            .arg("--key")
            .arg(&secret),
    );
    run_stdout(
        bin()
            .args(["graph", "push"])
            .arg(&graph)
            .arg(&target)
            .arg("--registries-conf")
            .arg(&conf),
    );
    let state_before = std::fs::read(work.join("state/state.json")).unwrap();
    let out = node_cmd(&work, &sysroot, &root, &conf, &["status"])
        .output()
        .unwrap();
    let (code, err) = (out.status.code(), String::from_utf8_lossy(&out.stderr));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("serial 0 is below 1"), "{err}");
    assert_eq!(sysroot.default_deployment_version(), RELEASE_B);
    let state_after = std::fs::read(work.join("state/state.json")).unwrap();
    assert_eq!(state_before, state_after);
}

/// The node's command line: `args` (words split on blanks) against the test sysroot, with the
/// test's state, runtime and config directories and registries.conf.
fn node_cmd(work: &TempDir, sysroot: &Sysroot, root: &Path, conf: &Path, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args.iter().flat_map(|a| a.split(' ')))
        .arg("--sysroot")
        .arg(sysroot.path())
        .arg("--state-dir")
        .arg(work.join("state"))
        .arg("--run-dir")
        .arg(work.join("run"))
        .arg("--config-root")
        .arg(root)
        .args(["--wariness", "0"])
        .arg("--registries-conf")
        .arg(conf);
    c
}
