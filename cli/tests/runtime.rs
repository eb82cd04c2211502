//! Reboot strategies and the runtime files through the real binary: a journey A → B
//! (checkpoint) → C on a temp-dir ostree sysroot fed by a docker-registry on 127.0.0.1, with a
//! FleetLock server from `support::fleetlock` or maintenance windows against fixed clocks. The
//! sysroot is offline, so `--reboot-command` stands in for `systemctl reboot`: a script that
//! counts reboots and snapshots who held the lock at that moment.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use support::fleetlock::{FleetLockServer, Seen};
use support::{OsImages, Registry, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

/// A machine id and its node_uuid, as `systemd-id128 machine-id --app-specific=
/// baf8d1dcbf854344a7de7cef18a4c275` prints it on a host with that machine id.
const MACHINE_ID: &str = "3d1219c7c4c5404aaa1f6d2a48adfda4";
const NODE_UUID: &str = "2f1e83a8eda0401987166e65011b9b67";
const GROUP: &str = "workers";

struct Host {
    registry: Registry,
    /// Kept for the life of the test: it owns the repository the images were built in.
    _images: OsImages,
    sysroot: Sysroot,
    dir: TempDir,
}

impl Host {
    /// On A following `os:stable` (at C); the graph has B as a checkpoint; `config` is the
    /// only drop-in.
    fn new(config: &str) -> Self {
        let registry = Registry::start_new();
        let mut images = OsImages::new(&registry);
        for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
            images.release(v);
        }
        images.tag(RELEASE_C, "stable");
        let sysroot = Sysroot::deployed(&images, RELEASE_A, "stable");
        let dir = TempDir::new("runtime");
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
        let graph = json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
            "metadata": {"stream": "stable", "serial": 5, "image": images.repository()},
            "releases": rels});
        std::fs::write(dir.join("graph.json"), serde_json::to_vec(&graph).unwrap()).unwrap();
        std::fs::write(dir.join("machine-id"), format!("{MACHINE_ID}\n")).unwrap();
        for d in ["etc/bootc-checkpoint/config.d", "run", "var"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let script = dir.join("reboot");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncp {holders} {at}\necho reboot >> {log}\n",
                holders = dir.join("holders").display(),
                at = dir.join("holders-at-reboot").display(),
                log = dir.join("reboots").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let host = Host {
            registry,
            _images: images,
            sysroot,
            dir,
        };
        host.configure(config);
        host
    }

    fn configure(&self, config: &str) {
        let f = self.dir.join("etc/bootc-checkpoint/config.d/50-test.toml");
        std::fs::write(f, config).unwrap();
    }

    /// A one-slot FleetLock server mirroring its holders where the reboot script looks, and
    /// this host configured to use it.
    fn fleet_lock_server(&self) -> FleetLockServer {
        let server = FleetLockServer::start(1, self.dir.join("holders"));
        self.configure(&fleet_lock_config(&server.url()));
        server
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// Run the CLI; returns (exit code, parsed JSON stdout or Null, stderr).
    fn cli(&self, cmd: &str, extra: &[&str]) -> (i32, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
        c.arg(cmd)
            .arg("--sysroot")
            .arg(self.sysroot.path())
            .arg("--state-dir")
            .arg(self.dir.join("var"))
            .arg("--graph")
            .arg(self.dir.join("graph.json"))
            .arg("--machine-id")
            .arg(self.dir.join("machine-id"))
            .args(["--wariness", "0", "--format", "json"])
            .arg("--config-root")
            .arg(self.dir.path())
            .arg("--run-dir")
            .arg(self.run_dir())
            .arg("--reboot-command")
            .arg(self.dir.join("reboot"))
            .arg("--registries-conf")
            .arg(self.registry.registries_conf())
            .args(extra);
        // The lock server is on 127.0.0.1: no proxy from the environment may stand between.
        for v in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(v);
        }
        let out = c.output().expect("running bootc-checkpoint");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap(), v, stderr)
    }

    fn ok(&self, cmd: &str, extra: &[&str]) -> Value {
        let (code, v, err) = self.cli(cmd, extra);
        assert_eq!(code, 0, "{cmd} {extra:?} failed: {err}\n{v:#}");
        v
    }

    fn reboots(&self) -> usize {
        std::fs::read_to_string(self.dir.join("reboots")).map_or(0, |s| s.lines().count())
    }

    fn holders_at_reboot(&self) -> String {
        std::fs::read_to_string(self.dir.join("holders-at-reboot")).unwrap()
    }

    /// A runtime file's content, `None` when absent.
    fn run_file(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.run_dir().join(rel)).ok()
    }

    fn metric(&self, line_prefix: &str) -> String {
        let text = self
            .run_file("bootc-checkpoint/metrics.prom")
            .expect("metrics written");
        text.lines()
            .find(|l| l.starts_with(line_prefix))
            .unwrap_or_else(|| panic!("no {line_prefix} in\n{text}"))
            .to_string()
    }
}

fn fleet_lock_config(url: &str) -> String {
    format!("[updates]\nstrategy = \"fleet_lock\"\nfleet_lock_url = \"{url}\"\n[identity]\ngroup = \"{GROUP}\"\n")
}

fn seen(op: &str, status: u16) -> Seen {
    Seen {
        op: op.into(),
        node_uuid: NODE_UUID.into(),
        group: GROUP.into(),
        protocol_header: true,
        status,
    }
}

#[test]
fn fleet_lock_is_held_across_the_reboot_and_released_by_resume() {
    let host = Host::new("");
    let server = host.fleet_lock_server();

    let step = host.ok("upgrade", &["--apply"]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(step["reboot"]["allowed"], true, "{step:#}");
    assert_eq!(step["reboot"]["lock"]["nodeUuid"], NODE_UUID);
    assert_eq!(host.reboots(), 1);
    assert_eq!(host.holders_at_reboot(), format!("{GROUP} {NODE_UUID}\n"));
    assert_eq!(server.log(), [seen("pre-reboot", 200)]);
    // While the hop waits for its boot, people are told.
    let motd = host
        .run_file("motd.d/85-bootc-checkpoint.motd")
        .expect("motd");
    assert!(
        motd.contains(&format!(
            "{RELEASE_B} (hop 1 of 2 on the way to {RELEASE_C}) is staged"
        )),
        "{motd}"
    );
    assert!(host.run_file("reboot-required").is_some());
    assert_eq!(
        host.metric("bootc_checkpoint_journey_phase{phase=\"staged\"}"),
        "bootc_checkpoint_journey_phase{phase=\"staged\"} 1"
    );
    assert_eq!(
        host.metric("bootc_checkpoint_graph_serial"),
        "bootc_checkpoint_graph_serial 5"
    );

    // The boot into B is good: resume records it, stages C and gives the slot back.
    let step = host.ok("resume", &[]);
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert_eq!(
        server.log(),
        [seen("pre-reboot", 200), seen("steady-state", 200)]
    );
    assert!(server.holders(GROUP).is_empty());
    assert_eq!(
        host.metric("bootc_checkpoint_journey_hops_remaining"),
        "bootc_checkpoint_journey_hops_remaining 1"
    );

    // C booted: the journey completes; nothing left to say.
    assert_eq!(host.ok("resume", &[])["outcome"], "completed");
    assert_eq!(host.run_file("motd.d/85-bootc-checkpoint.motd"), None);
    assert_eq!(host.run_file("reboot-required"), None);
    assert_eq!(
        host.metric("bootc_checkpoint_journey_phase{phase=\"idle\"}"),
        "bootc_checkpoint_journey_phase{phase=\"idle\"} 1"
    );
    // Like Zincati at every start, resume with nothing to do still says steady-state.
    assert_eq!(host.ok("resume", &[])["outcome"], "idle");
    let ops: Vec<String> = server.log().into_iter().map(|s| s.op).collect();
    assert_eq!(
        ops,
        ["pre-reboot", "steady-state", "steady-state", "steady-state"]
    );
    assert!(server
        .log()
        .iter()
        .all(|s| s.protocol_header && s.status == 200));
    assert_eq!(host.reboots(), 1);
}

#[test]
fn fleet_lock_refused_means_no_reboot_until_a_slot_frees() {
    let host = Host::new("");
    let server = host.fleet_lock_server();
    server.hold(GROUP, "another-node");

    let step = host.ok("upgrade", &["--apply"]);
    assert_eq!(step["outcome"], "staged");
    assert_eq!(step["reboot"]["allowed"], false, "{step:#}");
    assert_eq!(step["reboot"]["lock"]["kind"], "failed_lock");
    let msg = step["message"].as_str().unwrap();
    assert!(msg.contains("the lock is held elsewhere"), "{msg}");
    assert_eq!(host.reboots(), 0);
    assert_eq!(server.log(), [seen("pre-reboot", 409)]);
    let motd = host.run_file("motd.d/85-bootc-checkpoint.motd").unwrap();
    assert!(
        motd.contains("reboot: not rebooting: the FleetLock server"),
        "{motd}"
    );

    // The other node is done; this node's next try (a new plan from B, after a cancel, on
    // this offline sysroot) gets the slot and reboots.
    server.release(GROUP, "another-node");
    assert_eq!(host.ok("cancel", &[])["outcome"], "cancelled");
    let step = host.ok("upgrade", &["--apply"]);
    assert_eq!(step["reboot"]["allowed"], true, "{step:#}");
    assert_eq!(host.reboots(), 1);
    assert_eq!(server.holders(GROUP), [NODE_UUID]);
}

#[test]
fn fleet_lock_server_down_retries_then_gives_up_without_rebooting() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = Host::new(&fleet_lock_config(&format!("http://127.0.0.1:{port}")));

    let (code, step, err) = host.cli("upgrade", &["--apply", "--fleet-lock-deadline", "3"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        step["outcome"], "staged",
        "the hop is staged all the same: {step:#}"
    );
    assert_eq!(step["reboot"]["allowed"], false);
    assert!(
        err.contains(&format!(
            "FleetLock server http://127.0.0.1:{port}/v1/pre-reboot did not answer: gave up after"
        )) && err.contains("not rebooting into the staged hop"),
        "{err}"
    );
    let attempts: u32 = err
        .split("gave up after ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(attempts >= 2, "retried: {err}");
    assert_eq!(host.reboots(), 0);

    // resume still records the boot and stages the next hop, then reports the unlock failure.
    let (code, step, err) = host.cli("resume", &["--fleet-lock-deadline", "1"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(step["outcome"], "staged", "{step:#}");
    assert!(err.contains("/v1/steady-state did not answer"), "{err}");
}

#[test]
fn maintenance_windows_gate_the_reboot() {
    let host = Host::new(
        "[updates]\nstrategy = \"periodic\"\n[updates.periodic]\ntime_zone = \"Europe/Berlin\"\n\
         [[updates.periodic.window]]\ndays = [\"Sun\"]\nstart_time = \"02:30\"\nlength_minutes = 60\n",
    );
    // 03:00 CEST on the night Berlin springs forward: 02:30 never happens, the window opens
    // at 03:30 CEST (01:30 UTC).
    let outside = "1774746000"; // 2026-03-29T01:00:00Z
                                // A dry run writes nothing, not even the runtime files.
    assert_eq!(
        host.ok("upgrade", &["--check", "--now", outside])["outcome"],
        "available"
    );
    assert_eq!(host.run_file("bootc-checkpoint/metrics.prom"), None);
    let step = host.ok("upgrade", &["--apply", "--now", outside]);
    assert_eq!(step["outcome"], "staged");
    assert_eq!(step["reboot"]["allowed"], false, "{step:#}");
    assert_eq!(
        step["reboot"]["window"],
        json!({"start": "2026-03-29T01:30:00Z", "end": "2026-03-29T02:30:00Z"})
    );
    let msg = step["message"].as_str().unwrap();
    assert!(
        msg.contains(
            "the next window opens 2026-03-29 03:30 CEST and closes 2026-03-29 04:30 CEST"
        ),
        "{msg}"
    );
    assert_eq!(host.reboots(), 0);
    let motd = host.run_file("motd.d/85-bootc-checkpoint.motd").unwrap();
    assert!(
        motd.contains("the next window opens 2026-03-29 03:30 CEST"),
        "{motd}"
    );

    assert_eq!(
        host.ok("cancel", &["--now", outside])["outcome"],
        "cancelled"
    );
    let inside = "1774748700"; // 2026-03-29T01:45:00Z
    let step = host.ok("upgrade", &["--apply", "--now", inside]);
    assert_eq!(step["reboot"]["allowed"], true, "{step:#}");
    assert_eq!(host.reboots(), 1);
}
