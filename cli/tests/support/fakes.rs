//! Recording stand-ins for `bootc` and `rpm-ostree` (tests/fakes/fakehost.py), which cannot be
//! installed on Debian. A [`FakeHost`] owns the directory the fake reads and writes: the status
//! document (built from a recorded real or upstream fixture answer, rewritten for the test
//! registry), the images it may stage, the log of every command line, and failure knobs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::TempDir;

/// Which tool the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Bootc,
    RpmOstree,
}

impl Tool {
    pub fn program(self) -> &'static str {
        match self {
            Tool::Bootc => "bootc",
            Tool::RpmOstree => "rpm-ostree",
        }
    }
}

pub struct FakeHost {
    dir: TempDir,
    pub tool: Tool,
}

fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes")
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel)
}

fn read_fixture(rel: &str) -> Value {
    let p = shared(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_yaml::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl FakeHost {
    fn new(tool: Tool, status: Value) -> FakeHost {
        let dir = TempDir::new(&format!("fake-{}", tool.program()));
        std::fs::create_dir(dir.join("bin")).unwrap();
        std::os::unix::fs::symlink(
            fakes_dir().join("fakehost.py"),
            dir.join("bin").join(tool.program()),
        )
        .unwrap();
        let host = FakeHost { dir, tool };
        host.write("status.json", &status);
        host.write("images.json", &json!({}));
        host
    }

    /// A bootc host booted on `digest` (`version`), following `image` (`registry/repo:tag`):
    /// bootc's upstream `spec-only-booted.yaml` fixture with the test's image in it.
    pub fn bootc(image: &str, digest: &str, version: &str, checksum: &str) -> FakeHost {
        let mut st = read_fixture("bootc/spec-only-booted.yaml");
        st["apiVersion"] = json!("org.containers.bootc/v1");
        st["spec"]["image"]["image"] = json!(image);
        let booted = &mut st["status"]["booted"];
        booted["image"]["image"]["image"] = json!(image);
        booted["image"]["imageDigest"] = json!(digest);
        booted["image"]["version"] = json!(version);
        booted["ostree"]["checksum"] = json!(checksum);
        let host = FakeHost::new(Tool::Bootc, st);
        host.add_image(digest, version, checksum);
        host
    }

    /// An rpm-ostree host booted on `digest` (`version`), following `imgref` (an ostree-ext
    /// reference): the booted deployment of a real Fedora CoreOS `rpm-ostree status --json`
    /// (Zincati's recorded output, Zincati registered as driver) with the test's image.
    pub fn rpm_ostree_container(
        imgref: &str,
        digest: &str,
        version: &str,
        checksum: &str,
    ) -> FakeHost {
        let mut st = read_fixture("fcos/zincati/rpm-ostree-status.json");
        let mut booted = st["deployments"][0].clone();
        booted["container-image-reference"] = json!(imgref);
        booted["container-image-reference-digest"] = json!(digest);
        booted["checksum"] = json!(checksum);
        booted["version"] = json!(version);
        // The recorded base commit metadata describes the real FCOS image, not the test's.
        booted.as_object_mut().unwrap().remove("base-commit-meta");
        st["deployments"] = json!([booted]);
        let host = FakeHost::new(Tool::RpmOstree, st);
        host.add_image(digest, version, checksum);
        host
    }

    /// An rpm-ostree host on an ostree ref (`remote:ref`), booted on `commit`: the booted
    /// deployment of Zincati's recorded `rpm-ostree-staged.json` (Fedora CoreOS 31).
    pub fn rpm_ostree_ref(refspec: &str, commit: &str, version: &str) -> FakeHost {
        let mut st = read_fixture("fcos/zincati/rpm-ostree-staged.json");
        let deployments = st["deployments"].as_array().unwrap();
        let mut booted = deployments
            .iter()
            .find(|d| d["booted"] == json!(true))
            .unwrap()
            .clone();
        booted["origin"] = json!(refspec);
        booted["checksum"] = json!(commit);
        booted["version"] = json!(version);
        st["deployments"] = json!([booted]);
        let host = FakeHost::new(Tool::RpmOstree, st);
        host.add_image(commit, version, commit);
        host
    }

    fn write(&self, name: &str, v: &Value) {
        std::fs::write(self.dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    fn read(&self, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join(name)).unwrap()).unwrap()
    }

    /// Let the fake stage `key` (a manifest digest or an ostree commit).
    pub fn add_image(&self, key: &str, version: &str, checksum: &str) {
        let mut images = self.read("images.json");
        images[key] = json!({"version": version, "checksum": checksum});
        self.write("images.json", &images);
    }

    /// The current status document.
    pub fn status(&self) -> Value {
        self.read("status.json")
    }

    pub fn set_status(&self, v: &Value) {
        self.write("status.json", v);
    }

    /// Every command line the fake saw, in order (`["bootc", "switch", …]`).
    pub fn calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.dir.join("calls.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }

    /// The calls other than `status` (what changed the host).
    pub fn actions(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c.get(1).map(String::as_str) != Some("status"))
            .collect()
    }

    /// Forget the recorded calls.
    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.dir.join("calls.jsonl"));
    }

    /// Make `subcommand` fail with `stderr`.
    pub fn fail(&self, subcommand: &str, stderr: &str) {
        let mut f = if self.dir.join("fail.json").exists() {
            self.read("fail.json")
        } else {
            json!({})
        };
        f[subcommand] = json!(stderr);
        self.write("fail.json", &f);
    }

    pub fn heal(&self) {
        let _ = std::fs::remove_file(self.dir.join("fail.json"));
        let _ = std::fs::remove_file(self.dir.join("garbage"));
        let _ = std::fs::remove_file(self.dir.join("no-stage"));
    }

    /// `status` prints a truncated document.
    pub fn garble(&self) {
        std::fs::write(self.dir.join("garbage"), "").unwrap();
    }

    /// Staging commands succeed but stage nothing.
    pub fn stage_nothing(&self) {
        std::fs::write(self.dir.join("no-stage"), "").unwrap();
    }

    /// Whether the engine asked the tool to reboot into the staged deployment.
    pub fn reboot_requested(&self) -> bool {
        self.dir.join("reboot-requested").exists()
    }

    /// The next boot: the staged deployment becomes the booted one (`fail_boot`: the boot
    /// fails and the host comes back on the previous deployment).
    pub fn reboot(&self, fail_boot: bool) {
        let out = Command::new(fakes_dir().join("fakehost.py"))
            .arg(if fail_boot { "fail-boot" } else { "reboot" })
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Environment for the CLI: the fake first on PATH, its state directory.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut path = OsString::from(self.dir.join("bin"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        vec![
            ("PATH", path),
            ("FAKE_HOST_DIR", self.dir.path().as_os_str().to_owned()),
        ]
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A journey on a fake-tool host: real registry and images (the engine checks pinned images
/// and resolves tags itself), the fake tool, a state directory, a graph and the real CLI.
pub struct Journey {
    pub registry: super::Registry,
    pub images: super::OsImages,
    pub host: FakeHost,
    pub state: TempDir,
    pub graph: PathBuf,
}

impl Journey {
    /// Releases A, B (checkpoint), C pushed, `stable` at C, the host on A following `stable`.
    pub fn abc(tool: Tool) -> Journey {
        use super::{RELEASE_A, RELEASE_B, RELEASE_C};
        let registry = super::Registry::start_new();
        let mut images = super::OsImages::new(&registry);
        for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
            images.release(v);
        }
        images.tag(RELEASE_C, "stable");
        let (digest, commit) = (images.digest(RELEASE_A), images.commit(RELEASE_A));
        let host = match tool {
            Tool::Bootc => FakeHost::bootc(&images.image("stable"), &digest, RELEASE_A, &commit),
            Tool::RpmOstree => FakeHost::rpm_ostree_container(
                &format!("ostree-unverified-registry:{}", images.image("stable")),
                &digest,
                RELEASE_A,
                &commit,
            ),
        };
        for v in [RELEASE_B, RELEASE_C] {
            host.add_image(&images.digest(v), v, &images.commit(v));
        }
        let state = TempDir::new("fake-journey-state");
        let graph = state.join("graph.json");
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
        std::fs::write(&graph, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        Journey {
            registry,
            images,
            host,
            state,
            graph,
        }
    }

    /// `ostree-unverified-registry:…/os:stable`, as the journey records it.
    pub fn tracked(&self) -> String {
        format!("ostree-unverified-registry:{}", self.images.image("stable"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.state.join("var-lib")
    }

    /// The state file's `state`, or Null when there is none.
    pub fn state_file(&self) -> Value {
        match std::fs::read_to_string(self.state_dir().join("state.json")) {
            Ok(text) => serde_json::from_str::<Value>(&text).unwrap()["state"].clone(),
            Err(_) => Value::Null,
        }
    }

    /// Write a config drop-in under the test's config root.
    pub fn config(&self, name: &str, toml: &str) {
        let dir = self.state.join("etc/bootc-checkpoint/config.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), toml).unwrap();
    }

    /// Run the CLI against the fake host; (exit code, JSON stdout or Null, stderr).
    pub fn cli(&self, cmd: &str, extra: &[&str]) -> (i32, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
        c.arg(cmd)
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(["--wariness", "0", "--format", "json"])
            .arg("--config-root")
            .arg(self.state.path())
            .arg("--registries-conf")
            .arg(self.registry.registries_conf())
            // motd, reboot-required and metrics go here, never to the machine's /run.
            .arg("--run-dir")
            .arg(self.state.join("run"))
            .args(extra)
            .envs(self.host.env());
        if cmd == "upgrade" {
            c.arg("--graph").arg(&self.graph);
        }
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

    pub fn ok(&self, cmd: &str, extra: &[&str]) -> Value {
        let (code, v, err) = self.cli(cmd, extra);
        assert_eq!(code, 0, "{cmd} {extra:?} failed: {err}\n{v:#}");
        v
    }
}
