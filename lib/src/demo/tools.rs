//! The programs the journey demo runs besides the engine — `docker-registry`, `skopeo`,
//! `ostree` — found on `PATH` before anything starts, plus the root check; and one way to run
//! them that names the command and its stderr when it fails.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The external programs, resolved to absolute paths.
#[derive(Debug, Clone)]
pub struct Tools {
    pub docker_registry: PathBuf,
    pub skopeo: PathBuf,
    pub ostree: PathBuf,
}

/// (program, Debian package) for everything the demo runs.
const NEEDED: [(&str, &str); 3] = [
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    ("ostree", "ostree"),
];

impl Tools {
    /// Find the programs and check for root; the errors say what to install or how to run.
    pub fn check() -> Result<Tools> {
        let found = NEEDED.map(|(prog, _)| find_in_path(prog));
        let missing: Vec<(&str, &str)> = NEEDED
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            let progs: Vec<&str> = missing.iter().map(|(p, _)| *p).collect();
            let pkgs: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
            bail!(
                "the journey demo needs {} (not found in PATH): install {} (Debian: \
                 `apt-get install {}`, or `bash .ci/install-deps` for everything), or run \
                 `bootc-checkpoint demo --plan-only` for the planner alone",
                progs.join(", "),
                if pkgs.len() == 1 { "it" } else { "them" },
                pkgs.join(" ")
            );
        }
        if !is_root() {
            bail!(
                "the journey demo needs root (ostree sets file ownership and immutable bits in \
                 its sysroot): run it as root, or use `bootc-checkpoint demo --plan-only`"
            );
        }
        let [Some(docker_registry), Some(skopeo), Some(ostree)] = found else {
            bail!("looking up the demo's tools on PATH");
        };
        Ok(Tools {
            docker_registry,
            skopeo,
            ostree,
        })
    }

    /// `ostree <args…>`
    pub fn ostree(&self) -> Command {
        Command::new(&self.ostree)
    }
}

/// Whether this process runs as root. `/proc/self` belongs to the effective user; without
/// `/proc` the answer is "yes" and ostree itself reports what it cannot do.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").map_or(true, |m| m.uid() == 0)
}

/// The first executable file `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// Run `cmd` to completion; its stdout on success, otherwise an error with the command line,
/// the exit status and stderr.
pub fn run(cmd: &mut Command) -> Result<String> {
    let line = describe(cmd);
    let out = cmd.output().with_context(|| format!("running `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{line}` printed non-UTF-8"))
}

/// `program arg arg …`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
