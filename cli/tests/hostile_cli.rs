//! The hostile-input corpus through the real binary on a real sysroot: `upgrade` with each
//! document as the graph must fail with its expected error, stage nothing, and start no
//! journey (no state file appears). Documents that need a prior graph or the `require` policy
//! (which applies to network sources) are covered by `lib/tests/hostile.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lib/tests/hostile/corpus")
}

#[test]
fn hostile_graphs_stage_nothing_and_start_no_journey() {
    let registry = Registry::start_new();
    let mut images = OsImages::new(&registry);
    for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
        images.release(v);
    }
    images.tag(RELEASE_C, "stable");
    let sysroot = Sysroot::deployed(&images, RELEASE_A, "stable");
    let work = TempDir::new("hostile-cli");
    std::fs::create_dir_all(work.join("run")).unwrap();
    let before = sysroot.status();
    let text = std::fs::read_to_string(corpus().join("expected.tsv")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let (file, mode, prior, want) = (f[0], f[1], f[2], f[3]);
        // The size cap of this corpus (2 MiB) is the library test's; the CLI's default is 16 MiB.
        if mode == "require" || prior != "-" || want.contains("larger than the limit") {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"))
            .arg("upgrade")
            .arg("--graph")
            .arg(corpus().join(file))
            .arg("--sysroot")
            .arg(sysroot.path())
            .arg("--state-dir")
            .arg(work.join("state"))
            .arg("--run-dir")
            .arg(work.join("run"))
            .arg("--config-root")
            .arg(work.path())
            .args(["--wariness", "0"])
            .arg("--registries-conf")
            .arg(registry.registries_conf())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        checked += 1;
        if out.status.code() != Some(1) || !err.contains(want) {
            failures.push(format!(
                "{file}: exit {:?}, {err:?} (want {want:?})",
                out.status.code()
            ));
        }
        if work.join("state/state.json").exists() {
            failures.push(format!("{file}: a journey state appeared"));
            let _ = std::fs::remove_file(work.join("state/state.json"));
        }
    }
    assert!(checked >= 130, "only {checked} documents checked");
    assert_eq!(sysroot.status(), before, "nothing may be deployed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
