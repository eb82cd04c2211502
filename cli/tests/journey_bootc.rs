//! The checkpoint journey on a bootc host, driven through a recording fake `bootc` (bootc is not
//! packaged for Debian) that answers `bootc status` from bootc's own fixture, rewritten for the
//! test registry and updated as the journey advances. The registry and images are real: the
//! engine checks pinned images and resolves the tag itself.

mod support;

use serde_json::{json, Value};
use support::fakes::{Journey, Tool};
use support::{RELEASE_A, RELEASE_B, RELEASE_C};

fn switch_to(j: &Journey, version: &str) -> Vec<String> {
    let target = format!("{}@{}", j.images.image("stable"), j.images.digest(version));
    [
        "bootc",
        "switch",
        "--quiet",
        "--transport",
        "registry",
        &target,
    ]
    .map(String::from)
    .to_vec()
}

fn spec_image(j: &Journey) -> String {
    j.host.status()["spec"]["image"]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The journey remembers the tag, and bootc's spec still names it.
fn assert_tag_kept(j: &Journey) {
    let spec = spec_image(j);
    assert!(
        spec == j.images.image("stable")
            || spec.starts_with(&format!("{}@", j.images.image("stable"))),
        "bootc spec lost the tag: {spec}"
    );
    let st = j.state_file();
    if !st["journey"].is_null() {
        assert_eq!(
            st["journey"]["tracked"],
            json!({"kind": "container", "imgref": j.tracked()})
        );
    }
}

fn booted_version(j: &Journey) -> String {
    j.host.status()["status"]["booted"]["image"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn bootc_journey_a_b_c_command_sequence() {
    let j = Journey::abc(Tool::Bootc);

    let st = j.ok("status", &[]);
    assert_eq!(st["backend"]["name"], "bootc", "{st:#}");
    assert!(
        st["backend"]["reason"]
            .as_str()
            .unwrap()
            .contains("bootc status answered"),
        "{st:#}"
    );
    assert_eq!(st["host"]["current"]["version"], RELEASE_A);
    // Detection's `bootc status` answer serves the host's first status: asked once.
    assert_eq!(j.host.calls().len(), 1, "{:?}", j.host.calls());
    j.host.clear_calls();

    let step = j.ok("upgrade", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(step["rebootRequired"], true);
    assert_eq!(j.host.actions(), [switch_to(&j, RELEASE_B)]);
    assert_eq!(
        j.host.status()["status"]["staged"]["image"]["version"],
        RELEASE_B
    );
    assert_tag_kept(&j);

    // `--apply` on the waiting hop: bootc's own reboot verb, nothing restaged.
    // Other updaters' ExecCondition=: held back while the journey is active.
    let (code, gate, _) = j.cli("gate", &[]);
    assert_eq!(
        (code, &gate["kind"], &gate["active"]),
        (1, &json!("Gate"), &json!(true))
    );

    let step = j.ok("upgrade", &["--apply"]);
    assert_eq!(step["outcome"], "waiting", "{step:#}");
    assert!(j.host.reboot_requested());
    j.host.reboot(false);
    assert_eq!(booted_version(&j), RELEASE_B);

    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(
        j.host.status()["status"]["staged"]["image"]["version"],
        RELEASE_C
    );
    assert_tag_kept(&j);
    j.host.reboot(false);
    assert_eq!(booted_version(&j), RELEASE_C);

    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "completed", "{step:#}");
    // The last hop was staged pinned; now the booted spec follows the plain tag again.
    assert_eq!(spec_image(&j), j.images.image("stable"));
    assert_eq!(
        j.host.status()["status"]["booted"]["image"]["image"]["image"],
        j.images.image("stable")
    );
    assert!(j.state_file()["journey"].is_null());
    let (code, gate, _) = j.cli("gate", &[]);
    assert_eq!((code, &gate["active"]), (0, &json!(false)), "{gate:#}");

    let stable = j.images.image("stable");
    let mut want = vec![switch_to(&j, RELEASE_B)];
    want.push(
        ["bootc", "upgrade", "--apply", "--quiet"]
            .map(String::from)
            .to_vec(),
    );
    want.push(switch_to(&j, RELEASE_C));
    want.push(
        [
            "bootc",
            "switch",
            "--quiet",
            "--mutate-in-place",
            "--transport",
            "registry",
            &stable,
        ]
        .map(String::from)
        .to_vec(),
    );
    assert_eq!(j.host.actions(), want);
    // Every staging command named a digest.
    for call in j.host.actions() {
        if call[1] == "switch" && !call.contains(&"--mutate-in-place".to_string()) {
            assert!(call.last().unwrap().contains("@sha256:"), "{call:?}");
        }
    }

    // Once the journey is over, a plain `upgrade` finds nothing and changes nothing.
    j.host.clear_calls();
    let step = j.ok("upgrade", &[]);
    assert_eq!(step["outcome"], "upToDate", "{step:#}");
    assert!(j.host.actions().is_empty(), "{:?}", j.host.actions());
}

#[test]
fn bootc_switch_failure_keeps_the_journey_and_retries() {
    let j = Journey::abc(Tool::Bootc);
    j.host
        .fail("switch", "error: Switching: pulling: connection refused");
    let (code, _, err) = j.cli("upgrade", &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("connection refused") && err.contains("bootc switch"),
        "{err}"
    );
    let st = j.state_file();
    assert_eq!(st["journey"]["phase"], "staging");
    assert!(st["journey"]["lastError"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    assert!(j.host.status()["status"]["staged"].is_null());
    assert_tag_kept(&j);

    j.host.heal();
    let step = j.ok("upgrade", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(
        j.host.status()["status"]["staged"]["image"]["version"],
        RELEASE_B
    );
}

#[test]
fn bootc_unreadable_status_is_an_error_that_changes_nothing() {
    let j = Journey::abc(Tool::Bootc);
    j.config("10-backend.toml", "[host]\nbackend = \"bootc\"\n");
    j.ok("upgrade", &[]);
    let before = std::fs::read(j.state_dir().join("state.json")).unwrap();
    let status_before = j.host.status();

    j.host.garble();
    let (code, _, err) = j.cli("resume", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("bootc status"), "{err}");

    j.host.heal();
    let mut missing = status_before.clone();
    missing["status"]["booted"]
        .as_object_mut()
        .unwrap()
        .remove("ostree");
    j.host.set_status(&missing);
    let (code, _, err) = j.cli("resume", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("without ostree details"), "{err}");

    j.host.fail(
        "status",
        "error: Initializing storage: not a booted ostree system",
    );
    let (code, _, err) = j.cli("upgrade", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("not a booted ostree system"), "{err}");

    assert_eq!(
        std::fs::read(j.state_dir().join("state.json")).unwrap(),
        before
    );
    assert!(j
        .host
        .actions()
        .iter()
        .all(|c| c == &switch_to(&j, RELEASE_B)));
}

#[test]
fn bootc_switch_that_stages_nothing_is_not_recorded_as_staged() {
    let j = Journey::abc(Tool::Bootc);
    j.host.stage_nothing();
    let (code, _, err) = j.cli("upgrade", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("shows no staged"), "{err}");
    assert_eq!(j.state_file()["journey"]["phase"], "staging");
}

#[test]
fn bootc_staged_hop_that_disappears_is_staged_again() {
    let j = Journey::abc(Tool::Bootc);
    j.ok("upgrade", &[]);
    // Power lost before shutdown finalized it: the staged deployment is gone, A still boots.
    let mut st = j.host.status();
    st["status"]["staged"] = Value::Null;
    st["spec"]["image"]["image"] = json!(j.images.image("stable"));
    j.host.set_status(&st);
    j.host.clear_calls();

    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(j.host.actions(), [switch_to(&j, RELEASE_B)]);
    let state = j.state_file();
    assert_eq!(state["journey"]["attempts"], 0);
    assert_tag_kept(&j);
}

#[test]
fn bootc_failed_boot_counts_an_attempt_and_retries() {
    let j = Journey::abc(Tool::Bootc);
    j.ok("upgrade", &[]);
    j.host.reboot(true);
    assert_eq!(booted_version(&j), RELEASE_A);
    let step = j.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    let state = j.state_file();
    assert_eq!(state["journey"]["attempts"], 1, "{state:#}");
    assert_eq!(
        j.host.status()["status"]["staged"]["image"]["version"],
        RELEASE_B
    );
}

#[test]
fn bootc_missing_checkpoint_image_blocks_without_switching() {
    let j = Journey::abc(Tool::Bootc);
    j.images.delete(RELEASE_B);
    let step = j.ok("upgrade", &[]);
    assert_eq!(step["outcome"], "blocked", "{step:#}");
    assert!(
        step["message"]
            .as_str()
            .unwrap()
            .contains("not in the registry"),
        "{step:#}"
    );
    assert!(j.host.actions().is_empty(), "{:?}", j.host.actions());
    assert_tag_kept(&j);
}
