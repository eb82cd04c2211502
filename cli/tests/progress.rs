//! Image pulls show progress on a terminal and stay quiet otherwise: `upgrade` run under a
//! pseudo-terminal (util-linux `script`) prints the layers it fetches; the same run as a
//! systemd unit would see it (`INVOCATION_ID` set) or without a terminal prints none of it.

mod support;

use std::process::Command;

use support::{OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B};

fn graph(images: &OsImages, dir: &TempDir) -> std::path::PathBuf {
    let path = dir.join("graph.json");
    let doc = serde_json::json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
        "metadata": {"stream": "stable", "serial": 1},
        "releases": [{"version": RELEASE_A, "digest": images.digest(RELEASE_A)},
                     {"version": RELEASE_B, "digest": images.digest(RELEASE_B)}]});
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    path
}

/// `upgrade` on a fresh sysroot on A; `tty`: under `script`, `systemd`: with INVOCATION_ID.
fn upgrade(images: &OsImages, registry: &Registry, tty: bool, systemd: bool) -> String {
    let sysroot = Sysroot::deployed(images, RELEASE_A, "stable");
    let work = TempDir::new("progress");
    let g = graph(images, &work);
    let args = [
        env!("CARGO_BIN_EXE_bootc-checkpoint").to_string(),
        "upgrade".into(),
        "--graph".into(),
        g.display().to_string(),
        "--sysroot".into(),
        sysroot.path().display().to_string(),
        "--state-dir".into(),
        work.join("state").display().to_string(),
        "--run-dir".into(),
        work.join("run").display().to_string(),
        "--config-root".into(),
        work.path().display().to_string(),
        "--wariness".into(),
        "0".into(),
        "--registries-conf".into(),
        registry.registries_conf().display().to_string(),
    ];
    let mut cmd = if tty {
        let mut c = Command::new("script");
        c.args(["-qec", &args.join(" "), "/dev/null"]);
        c
    } else {
        let mut c = Command::new(&args[0]);
        c.args(&args[1..]);
        c
    };
    cmd.env_remove("INVOCATION_ID").env_remove("JOURNAL_STREAM");
    if systemd {
        cmd.env("INVOCATION_ID", "0123456789abcdef0123456789abcdef");
    }
    let out = cmd.output().expect("running upgrade");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(sysroot.default_deployment_version(), RELEASE_B, "{text}");
    text
}

#[test]
fn pulls_show_progress_only_on_a_terminal() {
    let registry = Registry::start_new();
    let mut images = OsImages::new(&registry);
    for v in [RELEASE_A, RELEASE_B] {
        images.release(v);
    }
    images.tag(RELEASE_B, "stable");

    let shown = upgrade(&images, &registry, true, false);
    assert!(shown.contains("layers to fetch"), "{shown}");
    assert!(shown.contains(": done ("), "{shown}");

    for (tty, systemd) in [(true, true), (false, false)] {
        let quiet = upgrade(&images, &registry, tty, systemd);
        assert!(
            !quiet.contains("layers to fetch"),
            "tty {tty}, systemd {systemd}: {quiet}"
        );
        assert!(
            !quiet.contains("\r  layer"),
            "tty {tty}, systemd {systemd}: {quiet}"
        );
    }
}
