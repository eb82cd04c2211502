//! The checkpoint journey for an ostree-ref host (Endless OS style): the host follows
//! `origin:os/stable` from a real archive repository served over `file://`; checkpoints are
//! deployed by commit while the origin keeps `refspec=origin:os/stable`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::images::write_tree;
use support::ostree_ext::{gio, ostree};
use support::{run, run_stdout, Sysroot, TempDir, RELEASE_A, RELEASE_B, RELEASE_C};

const REFSPEC: &str = "origin:os/stable";

struct Remote {
    dir: TempDir,
}

impl Remote {
    fn new() -> Self {
        let dir = TempDir::new("ostree-remote");
        run(Command::new("ostree")
            .args(["init", "--mode=archive", "--repo"])
            .arg(dir.join("repo")));
        Remote { dir }
    }

    fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }

    /// Commit release `version` on `os/stable`; returns the commit checksum.
    fn commit(&self, version: &str) -> String {
        let tree = self.dir.join(format!("tree-{version}"));
        write_tree(&tree, version);
        run(Command::new("ostree")
            .arg("commit")
            .arg("--repo")
            .arg(self.repo())
            .args([
                "--branch=os/stable",
                "--bootable",
                "--owner-uid=0",
                "--owner-gid=0",
            ])
            .arg(format!("--add-metadata-string=version={version}"))
            .arg(format!("--tree=dir={}", tree.display())));
        run_stdout(
            Command::new("ostree")
                .arg("rev-parse")
                .arg("--repo")
                .arg(self.repo())
                .arg("os/stable"),
        )
        .trim()
        .to_string()
    }
}

struct Host {
    sysroot: Sysroot,
    state: TempDir,
}

impl Host {
    /// A sysroot deployed from `remote`'s current `os/stable`, following `origin:os/stable`.
    fn deployed_from(remote: &Remote) -> Self {
        let sysroot = Sysroot::init();
        let repo = sysroot.path().join("ostree/repo");
        run(Command::new("ostree")
            .args(["remote", "add", "--no-gpg-verify", "--repo"])
            .arg(&repo)
            .arg("origin")
            .arg(format!("file://{}", remote.repo().display())));
        run(Command::new("ostree")
            .arg("pull")
            .arg("--repo")
            .arg(&repo)
            .args(["origin", "os/stable"]));
        run(Command::new("ostree")
            .args(["admin", "deploy", "--os", "default", "--sysroot"])
            .arg(sysroot.path())
            .arg(REFSPEC));
        Host {
            sysroot,
            state: TempDir::new("ostree-journey-state"),
        }
    }

    fn default_deployment(&self) -> (String, String) {
        let s = self.sysroot.load();
        let d = s.deployments().into_iter().next().expect("a deployment");
        let refspec = d
            .origin()
            .expect("an origin")
            .string("origin", "refspec")
            .expect("refspec")
            .to_string();
        (d.csum().to_string(), refspec)
    }

    fn assert_on(&self, commit: &str) {
        assert_eq!(
            self.default_deployment(),
            (commit.to_string(), REFSPEC.to_string())
        );
    }

    fn cli(&self, cmd: &str, graph: Option<&Path>) -> (i32, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
        c.arg(cmd)
            .arg("--sysroot")
            .arg(self.sysroot.path())
            .arg("--state-dir")
            .arg(self.state.path())
            .args(["--wariness", "0", "--format", "json"])
            // No config drop-ins from the machine running the tests.
            .arg("--config-root")
            .arg(self.state.path())
            // motd, reboot flag and metrics go here, never to the machine's /run.
            .arg("--run-dir")
            .arg(self.state.path());
        if let Some(g) = graph {
            c.arg("--graph").arg(g);
        }
        let out = c.output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap(),
            v,
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn ok(&self, cmd: &str, graph: Option<&Path>) -> Value {
        let (code, v, err) = self.cli(cmd, graph);
        assert_eq!(code, 0, "{cmd}: {err}");
        v
    }
}

fn write_graph(dir: &TempDir, releases: &[(&str, &str, bool)]) -> PathBuf {
    let rels: Vec<Value> = releases
        .iter()
        .map(|(v, commit, cp)| {
            let mut r = json!({"version": v, "commit": commit});
            if *cp {
                r["checkpoint"] = json!({"reason": "https://example.com/why"});
            }
            r
        })
        .collect();
    let path = dir.join("graph.json");
    let doc = json!({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph", "releases": rels});
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    path
}

#[test]
fn ostree_ref_checkpoint_journey() {
    let remote = Remote::new();
    let a = remote.commit(RELEASE_A);
    let host = Host::deployed_from(&remote);
    host.assert_on(&a);
    let b = remote.commit(RELEASE_B);
    let c = remote.commit(RELEASE_C);
    let graph = write_graph(
        &host.state,
        &[
            (RELEASE_A, &a, false),
            (RELEASE_B, &b, true),
            (RELEASE_C, &c, false),
        ],
    );

    let step = host.ok("upgrade", Some(&graph));
    assert_eq!(step["outcome"], "staged", "{step:#}");
    // The checkpoint commit is deployed although the ref already points at C.
    host.assert_on(&b);
    let status = host.ok("status", None);
    assert_eq!(status["host"]["current"]["version"], RELEASE_B);
    assert_eq!(
        status["host"]["current"]["origin"],
        json!({"kind": "ostree", "refspec": REFSPEC})
    );
    assert_eq!(
        status["journey"]["tracked"],
        json!({"kind": "ostree", "refspec": REFSPEC})
    );

    assert_eq!(host.ok("resume", None)["outcome"], "staged");
    host.assert_on(&c);
    assert_eq!(host.ok("resume", None)["outcome"], "completed");
    host.assert_on(&c);
}

#[test]
fn ostree_ref_missing_commit_blocks() {
    let remote = Remote::new();
    let a = remote.commit(RELEASE_A);
    let host = Host::deployed_from(&remote);
    let missing = "ab".repeat(32);
    let graph = write_graph(
        &host.state,
        &[(RELEASE_A, &a, false), (RELEASE_B, &missing, true)],
    );
    let step = host.ok("upgrade", Some(&graph));
    assert_eq!(step["outcome"], "blocked", "{step:#}");
    assert!(
        step["message"]
            .as_str()
            .unwrap()
            .contains("is not on remote origin"),
        "{step:#}"
    );
    host.assert_on(&a);
    let sysroot = ostree::Sysroot::new(Some(&gio::File::for_path(host.sysroot.path())));
    sysroot.load(gio::Cancellable::NONE).unwrap();
    assert_eq!(sysroot.deployments().len(), 1, "nothing was deployed");
}
