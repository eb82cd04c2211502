//! The checkpoint journey on an rpm-ostree host, driven through a recording fake `rpm-ostree`
//! (not packaged for Debian) that answers `rpm-ostree status --json` from a real Fedora CoreOS
//! output recorded by Zincati's tests, rewritten for the test registry and updated as the
//! journey advances. Registry and images are real, as the engine checks them itself.

mod support;

use serde_json::{json, Value};
use support::fakes::{FakeHost, Journey, Tool};
use support::{TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn deploy(pin: &str) -> Vec<String> {
    argv(&[
        "rpm-ostree",
        "deploy",
        "--lock-finalization",
        "--bypass-driver",
        pin,
    ])
}

fn register() -> Vec<String> {
    argv(&[
        "rpm-ostree",
        "deploy",
        "",
        "--register-driver=bootc-checkpoint",
        "--bypass-driver",
    ])
}

fn deployments(h: &FakeHost) -> Vec<Value> {
    h.status()["deployments"].as_array().unwrap().clone()
}

fn booted(h: &FakeHost) -> Value {
    deployments(h)
        .into_iter()
        .find(|d| d["booted"] == json!(true))
        .unwrap()
}

/// Every deployment still follows the tag, and the journey remembers it.
fn assert_tag_kept(j: &Journey) {
    for d in deployments(&j.host) {
        assert_eq!(d["container-image-reference"], json!(j.tracked()), "{d:#}");
    }
    let st = j.state_file();
    if !st["journey"].is_null() {
        assert_eq!(
            st["journey"]["tracked"],
            json!({"kind": "container", "imgref": j.tracked()})
        );
    }
}

#[test]
fn rpm_ostree_journey_a_b_c_command_sequence() {
    let j = Journey::abc(Tool::RpmOstree);
    let st = j.ok("status", &[]);
    assert_eq!(st["backend"]["name"], "rpm-ostree", "{st:#}");
    assert!(
        st["backend"]["reason"]
            .as_str()
            .unwrap()
            .contains("bootc is not installed; rpm-ostree status answered"),
        "{st:#}"
    );

    let (b, c) = (j.images.digest(RELEASE_B), j.images.digest(RELEASE_C));
    let step = j.ok("upgrade", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    // Zincati was the registered driver in the recorded status: the engine takes over.
    assert_eq!(
        j.host.status()["update-driver"]["driver-name"],
        "bootc-checkpoint"
    );
    let staged = &deployments(&j.host)[0];
    assert_eq!(staged["staged"], true);
    assert_eq!(staged["finalization-locked"], true);
    assert_eq!(staged["version"], RELEASE_B);
    assert_tag_kept(&j);

    // A reboot that did not go through finalize-deployment leaves the host where it was: a
    // locked deployment is discarded at shutdown. resume stages the hop again.
    j.host.reboot(false);
    assert_eq!(booted(&j.host)["version"], RELEASE_A);
    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(j.state_file()["journey"]["attempts"], 0);

    let step = j.ok("upgrade", &["--apply"]);
    assert_eq!(step["outcome"], "waiting", "{step:#}");
    assert!(j.host.reboot_requested());
    j.host.reboot(false);
    assert_eq!(booted(&j.host)["version"], RELEASE_B);

    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_tag_kept(&j);
    j.ok("upgrade", &["--apply"]);
    j.host.reboot(false);
    assert_eq!(booted(&j.host)["version"], RELEASE_C);
    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "completed", "{step:#}");
    assert_tag_kept(&j);

    assert_eq!(
        j.host.actions(),
        [
            register(),
            deploy(&b),
            deploy(&b),
            argv(&["rpm-ostree", "finalize-deployment", &b]),
            deploy(&c),
            argv(&["rpm-ostree", "finalize-deployment", &c]),
        ]
    );
    let log = std::fs::read_to_string(j.host.dir().join("calls.jsonl")).unwrap();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["client"], "bootc-checkpoint", "{line}");
        let a = v["argv"].to_string();
        assert!(
            !a.contains("\"rebase\"") && !a.contains("\"upgrade\""),
            "{a}"
        );
    }
}

#[test]
fn rpm_ostree_failures_leave_state_and_tag_intact() {
    let j = Journey::abc(Tool::RpmOstree);
    j.host
        .fail("deploy", "error: Transaction in progress: deploy");
    let (code, _, err) = j.cli("upgrade", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("Transaction in progress"), "{err}");
    assert_eq!(j.state_file()["journey"]["phase"], "staging");
    assert_eq!(deployments(&j.host).len(), 1);
    assert_tag_kept(&j);
    j.host.heal();

    j.ok("upgrade", &[]);
    let before = std::fs::read(j.state_dir().join("state.json")).unwrap();
    j.host.fail(
        "finalize-deployment",
        "error: Deployment is not finalization-locked",
    );
    let (code, _, err) = j.cli("upgrade", &["--apply"]);
    assert_ne!(code, 0);
    assert!(err.contains("finalize-deployment"), "{err}");
    assert!(!j.host.reboot_requested());
    j.host.heal();

    j.host.garble();
    let (code, _, err) = j.cli("resume", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("rpm-ostree status was unreadable"), "{err}");
    j.host.heal();
    assert_eq!(
        std::fs::read(j.state_dir().join("state.json")).unwrap(),
        before
    );

    // The staged deployment vanished (cleaned up by hand): staged again, not a failure.
    let mut st = j.host.status();
    st["deployments"] = json!([booted(&j.host)]);
    j.host.set_status(&st);
    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(j.state_file()["journey"]["attempts"], 0);
}

#[test]
fn rpm_ostree_cancel_cleans_up_the_staged_hop() {
    let j = Journey::abc(Tool::RpmOstree);
    j.ok("upgrade", &[]);
    j.host.clear_calls();
    let step = j.ok("cancel", &[]);
    assert_eq!(step["outcome"], "cancelled", "{step:#}");
    assert_eq!(j.host.actions(), [argv(&["rpm-ostree", "cleanup", "-p"])]);
    assert_eq!(deployments(&j.host).len(), 1);
    assert_tag_kept(&j);
}

#[test]
fn rpm_ostree_ref_journey_pins_commits_and_keeps_the_ref() {
    // Fedora CoreOS before containers: an ostree ref, releases by commit. No registry needed.
    let refspec = "fedora:fedora/x86_64/coreos/stable";
    let commit = |n: u8| format!("{n:02x}").repeat(32);
    let versions = [RELEASE_A, RELEASE_B, RELEASE_C];
    let host = FakeHost::rpm_ostree_ref(refspec, &commit(1), RELEASE_A);
    host.add_image(&commit(2), RELEASE_B, &commit(2));
    host.add_image(&commit(3), RELEASE_C, &commit(3));
    let state = TempDir::new("rpm-ostree-ref");
    let graph = state.join("graph.json");
    let rels: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = json!({"version": v, "commit": commit(i as u8 + 1)});
            if *v == RELEASE_B {
                r["checkpoint"] = json!({"reason": "https://example.com/why"});
            }
            r
        })
        .collect();
    let doc = json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
        "metadata": {"stream": "stable", "serial": 1}, "releases": rels});
    std::fs::write(&graph, serde_json::to_vec(&doc).unwrap()).unwrap();
    let run = |cmd: &str, extra: &[&str]| -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"))
            .arg(cmd)
            .arg("--state-dir")
            .arg(state.join("var-lib"))
            .args(["--wariness", "0", "--format", "json", "--graph"])
            .arg(&graph)
            .arg("--config-root")
            .arg(state.path())
            .arg("--run-dir")
            .arg(state.join("run"))
            .args(extra)
            .envs(host.env())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd}: {stderr}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(run("upgrade", &["--apply"])["outcome"], "staged");
    host.reboot(false);
    assert_eq!(run("resume", &[])["outcome"], "staged");
    assert_eq!(run("upgrade", &["--apply"])["outcome"], "waiting");
    host.reboot(false);
    assert_eq!(run("resume", &[])["outcome"], "completed");
    assert_eq!(booted(&host)["checksum"], commit(3));
    for d in deployments(&host) {
        assert_eq!(d["origin"], refspec, "{d:#}");
    }
    let rev = |n| format!("revision={}", commit(n));
    let deploy_rev = |n| {
        argv(&[
            "rpm-ostree",
            "deploy",
            "--lock-finalization",
            "--bypass-driver",
            "--skip-branch-check",
            &rev(n),
        ])
    };
    // No driver was registered in this recorded status: nothing to bypass.
    let register_fresh = argv(&[
        "rpm-ostree",
        "deploy",
        "",
        "--register-driver=bootc-checkpoint",
    ]);
    assert_eq!(
        host.actions(),
        [
            register_fresh,
            deploy_rev(2),
            argv(&["rpm-ostree", "finalize-deployment", &commit(2)]),
            deploy_rev(3),
            argv(&["rpm-ostree", "finalize-deployment", &commit(3)]),
        ]
    );
}
