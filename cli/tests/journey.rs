//! The checkpoint journey end to end with real parts: a libostree sysroot in a temp dir, OS
//! images made with ostree-ext and pushed with skopeo to a docker-registry on 127.0.0.1, and the
//! real `bootc-checkpoint` binary. The sysroot is offline, so a "reboot" is a no-op and the
//! default deployment is the current one.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use support::ostree_ext::gio;
use support::{OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

const RELEASE_D: &str = "42.20250315.3.0";

struct Scenario {
    registry: Registry,
    images: OsImages,
    sysroot: Sysroot,
    state: TempDir,
    graph: PathBuf,
}

impl Scenario {
    /// Releases pushed, `stable` tagged at `tag_at`, the host deployed on `booted` following
    /// `…/os:stable`, and a graph listing `releases` with the given checkpoints.
    fn new(releases: &[&str], checkpoints: &[&str], tag_at: &str, booted: &str) -> Self {
        let registry = Registry::start_new();
        let mut images = OsImages::new(&registry);
        for v in releases {
            images.release(v);
        }
        images.tag(tag_at, "stable");
        let sysroot = Sysroot::deployed(&images, booted, "stable");
        let state = TempDir::new("journey-state");
        let graph = state.join("graph.json");
        let s = Scenario {
            registry,
            images,
            sysroot,
            state,
            graph,
        };
        s.write_graph(releases, checkpoints);
        s
    }

    /// The common case: A → B (checkpoint) → C, `stable` at C, the host on A.
    fn abc() -> Self {
        Self::new(
            &[RELEASE_A, RELEASE_B, RELEASE_C],
            &[RELEASE_B],
            RELEASE_C,
            RELEASE_A,
        )
    }

    fn write_graph(&self, releases: &[&str], checkpoints: &[&str]) {
        let rels: Vec<Value> = releases
            .iter()
            .map(|v| {
                let mut r = json!({"version": v, "digest": self.images.digest(v)});
                if checkpoints.contains(v) {
                    r["checkpoint"] = json!({"reason": "https://example.com/why"});
                }
                r
            })
            .collect();
        let doc = json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
            "metadata": {"stream": "stable", "serial": 1, "image": self.images.repository()},
            "releases": rels});
        std::fs::write(&self.graph, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }

    fn state_dir(&self) -> PathBuf {
        self.state.join("var-lib")
    }

    /// Run the CLI; returns (exit code, parsed JSON stdout or Null, stderr).
    fn cli(&self, cmd: &str, extra: &[&str]) -> (i32, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
        c.arg(cmd)
            .arg("--sysroot")
            .arg(self.sysroot.path())
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(["--wariness", "0", "--format", "json"])
            // No config drop-ins from the machine running the tests.
            .arg("--config-root")
            .arg(self.state.path())
            // motd, reboot flag and metrics go here, never to the machine's /run.
            .arg("--run-dir")
            .arg(self.state.path())
            .args(extra)
            // skopeo 1.9.3 ignores CONTAINERS_REGISTRIES_CONF: the engine hands this file to
            // skopeo (and uses it for its own lookups) so the test registry is plain HTTP.
            .arg("--registries-conf")
            .arg(self.registry.registries_conf());
        let out = c.output().expect("running bootc-checkpoint");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let v = if stdout.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{cmd}: stdout is not JSON ({e}): {stdout:?}\n{stderr}"))
        };
        (out.status.code().unwrap(), v, stderr)
    }

    fn ok(&self, cmd: &str, extra: &[&str]) -> Value {
        let (code, v, err) = self.cli(cmd, extra);
        assert_eq!(code, 0, "{cmd} {extra:?} failed: {err}\n{v:#}");
        v
    }

    fn upgrade(&self) -> Value {
        let graph = self.graph.to_str().unwrap().to_string();
        self.ok("upgrade", &["--graph", &graph])
    }

    fn tracked(&self) -> String {
        format!("ostree-unverified-registry:{}", self.images.image("stable"))
    }

    /// The host runs `version`, pinned content, and still follows the tag.
    fn assert_on(&self, version: &str) {
        assert_eq!(
            self.sysroot.default_deployment_version(),
            version,
            "{}",
            self.sysroot.status()
        );
        assert_eq!(
            self.sysroot.default_deployment_digest(),
            self.images.digest(version)
        );
        assert_eq!(self.sysroot.default_deployment_origin(), self.tracked());
    }

    /// Like a boot that failed and fell back: the previous deployment becomes the default
    /// again and the failed one stays in the list (as ostree's rollback does).
    fn roll_back(&self) {
        let sysroot = self.sysroot.load();
        sysroot.lock().unwrap();
        let mut deployments = sysroot.deployments();
        deployments.swap(0, 1);
        sysroot
            .write_deployments(&deployments, gio::Cancellable::NONE)
            .unwrap();
        sysroot.unlock();
    }

    fn state_file(&self) -> Value {
        let text = std::fs::read_to_string(self.state_dir().join("state.json")).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["state"].clone()
    }
}

#[test]
fn checkpoint_journey_a_b_c() {
    let s = Scenario::abc();
    s.assert_on(RELEASE_A);

    let check = s.ok(
        "upgrade",
        &["--check", "--graph", s.graph.to_str().unwrap()],
    );
    assert_eq!(check["outcome"], "available");
    assert!(
        !s.state_dir().join("state.json").exists(),
        "--check writes nothing"
    );
    s.assert_on(RELEASE_A);

    let step = s.upgrade();
    assert_eq!(step["apiVersion"], "bootc-checkpoint/v1");
    assert_eq!(step["kind"], "Step");
    assert_eq!(step["outcome"], "staged", "{step:#}");
    // B is deployed pinned by digest while the origin keeps following the tag.
    s.assert_on(RELEASE_B);
    let st = s.state_file();
    assert_eq!(
        st["journey"]["tracked"],
        json!({"kind": "container", "imgref": s.tracked()})
    );
    assert_eq!(st["journey"]["phase"], "staged");
    let hops: Vec<&str> = st["journey"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["version"].as_str().unwrap())
        .collect();
    assert_eq!(hops, [RELEASE_B, RELEASE_C]);

    let status = s.ok("status", &[]);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["host"]["mode"], "offline");
    assert_eq!(status["host"]["current"]["version"], RELEASE_B);
    assert_eq!(status["host"]["current"]["image"], s.images.image("stable"));
    assert_eq!(status["host"]["current"]["transport"], "registry");
    assert_eq!(
        status["host"]["current"]["digest"],
        s.images.digest(RELEASE_B)
    );
    assert_eq!(status["host"]["rollback"]["version"], RELEASE_A);
    assert_eq!(status["journey"]["phase"], "staged");

    // "Reboot" into B, then resume: C is deployed, pinned, still following the tag.
    let step = s.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    s.assert_on(RELEASE_C);
    assert_eq!(s.state_file()["journey"]["hops"][0]["version"], RELEASE_C);

    let step = s.ok("resume", &[]);
    assert_eq!(step["outcome"], "completed", "{step:#}");
    s.assert_on(RELEASE_C);
    let st = s.state_file();
    assert!(st["journey"].is_null());
    let events: Vec<&str> = st["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "started",
            "staged",
            "booted",
            "staged",
            "booted",
            "completed"
        ]
    );

    // Nothing more to do: resume is idle, upgrade is up to date.
    assert_eq!(s.ok("resume", &[])["outcome"], "idle");
    assert_eq!(s.upgrade()["outcome"], "upToDate");
}

#[test]
fn no_checkpoint_goes_straight_to_the_tag() {
    let s = Scenario::new(
        &[RELEASE_A, RELEASE_B, RELEASE_C],
        &[],
        RELEASE_C,
        RELEASE_A,
    );
    let step = s.upgrade();
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(step["plan"]["hops"].as_array().unwrap().len(), 1);
    s.assert_on(RELEASE_C);
    assert_eq!(s.ok("resume", &[])["outcome"], "completed");
}

#[test]
fn newest_host_does_nothing() {
    let s = Scenario::new(&[RELEASE_A, RELEASE_B], &[RELEASE_B], RELEASE_B, RELEASE_B);
    let before = s.sysroot.deployments().len();
    let step = s.upgrade();
    assert_eq!(step["outcome"], "upToDate", "{step:#}");
    assert_eq!(s.sysroot.deployments().len(), before);
    s.assert_on(RELEASE_B);
}

#[test]
fn registry_down_mid_journey_keeps_state_and_recovers() {
    let mut s = Scenario::abc();
    assert_eq!(s.upgrade()["outcome"], "staged");
    s.assert_on(RELEASE_B);
    s.registry.stop();
    let (code, _, err) = s.cli("resume", &[]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: staging 42.20250301.3.0"), "{err}");
    let st = s.state_file();
    assert_eq!(
        st["journey"]["tracked"]["imgref"],
        s.tracked(),
        "tracked reference kept"
    );
    assert!(
        st["journey"]["lastError"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{st:#}"
    );
    s.assert_on(RELEASE_B);

    s.registry.start();
    assert_eq!(s.ok("resume", &[])["outcome"], "staged");
    s.assert_on(RELEASE_C);
    assert_eq!(s.ok("resume", &[])["outcome"], "completed");
}

#[test]
fn missing_checkpoint_image_blocks_then_recovers() {
    let s = Scenario::abc();
    s.images.delete(RELEASE_B);
    let step = s.upgrade();
    assert_eq!(step["outcome"], "blocked", "{step:#}");
    assert!(
        step["message"]
            .as_str()
            .unwrap()
            .contains("is not in the registry"),
        "{step:#}"
    );
    let st = s.state_file();
    assert_eq!(st["journey"]["phase"], "blocked");
    assert_eq!(st["journey"]["tracked"]["imgref"], s.tracked());
    s.assert_on(RELEASE_A);

    s.images.push(RELEASE_B);
    assert_eq!(s.upgrade()["outcome"], "staged");
    s.assert_on(RELEASE_B);
}

#[test]
fn two_checkpoints_in_a_row() {
    let rels = [RELEASE_A, RELEASE_B, RELEASE_C, RELEASE_D];
    let s = Scenario::new(&rels, &[RELEASE_B, RELEASE_C], RELEASE_D, RELEASE_A);
    assert_eq!(s.upgrade()["outcome"], "staged");
    s.assert_on(RELEASE_B);
    assert_eq!(s.ok("resume", &[])["outcome"], "staged");
    s.assert_on(RELEASE_C);
    // The timer's upgrade may run before resume after a boot: it records the hop the same way.
    assert_eq!(s.upgrade()["outcome"], "staged");
    s.assert_on(RELEASE_D);
    let booted: Vec<Value> = s.state_file()["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "booted")
        .map(|e| e["version"].clone())
        .collect();
    assert_eq!(booted, [json!(RELEASE_B), json!(RELEASE_C)]);
    assert_eq!(s.ok("resume", &[])["outcome"], "completed");
}

#[test]
fn failed_boots_are_counted_then_denylisted() {
    let s = Scenario::abc();
    for attempt in 1..=3 {
        assert_eq!(s.upgrade()["outcome"], "staged", "attempt {attempt}");
        s.assert_on(RELEASE_B);
        // The hop "fails to boot": the host comes back on A, B stays as a deployment.
        s.roll_back();
        s.assert_on(RELEASE_A);
        let step = s.ok("resume", &[]);
        let st = s.state_file();
        assert_eq!(st["journey"]["attempts"], attempt, "{st:#}");
        if attempt < 3 {
            // Below the limit, resume stages the hop again.
            assert_eq!(step["outcome"], "staged", "{step:#}");
            s.assert_on(RELEASE_B);
            s.roll_back();
        } else {
            assert_eq!(step["outcome"], "blocked", "{step:#}");
            assert_eq!(st["denylist"][0]["version"], RELEASE_B);
            assert_eq!(st["journey"]["phase"], "failed");
            s.assert_on(RELEASE_A);
        }
    }
}

#[test]
fn corrupt_state_refuses_to_act_and_keeps_the_file() {
    let s = Scenario::new(&[RELEASE_A, RELEASE_B], &[RELEASE_B], RELEASE_B, RELEASE_A);
    std::fs::create_dir_all(s.state_dir()).unwrap();
    let path = s.state_dir().join("state.json");
    let garbage = b"{\"schemaVersion\": 1, \"checksum\": \"sha256:00\", \"state\": {\"jour";
    std::fs::write(&path, garbage).unwrap();
    for cmd in ["upgrade", "resume", "status", "cancel"] {
        let graph = s.graph.to_str().unwrap().to_string();
        let extra: &[&str] = if cmd == "upgrade" {
            &["--graph", &graph]
        } else {
            &[]
        };
        let (code, _, err) = s.cli(cmd, extra);
        assert_eq!(code, 1, "{cmd}");
        assert!(err.contains("refusing to act"), "{cmd}: {err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            garbage,
            "{cmd} kept the file"
        );
    }
    s.assert_on(RELEASE_A);
}

#[test]
fn cancel_ends_the_journey_and_keeps_the_tag() {
    let s = Scenario::abc();
    assert_eq!(s.upgrade()["outcome"], "staged");
    let step = s.ok("cancel", &[]);
    assert_eq!(step["outcome"], "cancelled", "{step:#}");
    let st = s.state_file();
    assert!(st["journey"].is_null());
    assert_eq!(
        st["history"].as_array().unwrap().last().unwrap()["kind"],
        "cancelled"
    );
    // Offline, B is already the default; the origin never stopped following the tag.
    s.assert_on(RELEASE_B);
    assert_eq!(s.ok("cancel", &[])["outcome"], "idle");
    assert_eq!(s.ok("resume", &[])["outcome"], "idle");
}

#[test]
fn a_staged_hop_that_vanished_is_restaged_without_counting() {
    let s = Scenario::abc();
    assert_eq!(s.upgrade()["outcome"], "staged");
    // B never became a deployment (power cut before finalization): it is gone entirely.
    support::run(
        Command::new("ostree")
            .args(["admin", "undeploy", "0", "--sysroot"])
            .arg(s.sysroot.path()),
    );
    s.assert_on(RELEASE_A);
    let step = s.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    s.assert_on(RELEASE_B);
    let st = s.state_file();
    assert_eq!(st["journey"]["attempts"], 0, "{st:#}");
    assert!(st["denylist"].as_array().unwrap().is_empty());
    let kinds: Vec<&str> = st["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started", "staged", "error", "staged"]);
}
