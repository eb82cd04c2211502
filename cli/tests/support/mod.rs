//! Real (no mocks) end-to-end fixture for tests of the checkpoint engine.
//!
//! * [`Registry`]: a private `docker-registry` on `127.0.0.1:<random port>`, plain HTTP, with
//!   deletes enabled; it can be stopped and restarted on the same port and storage.
//! * [`OsImages`]: bootable ostree commits, encapsulated into OCI images with ostree-ext and
//!   pushed with the real `skopeo`; tags and manifest deletion.
//! * [`Sysroot`]: a temp-dir ostree sysroot with stateroot `default`, deployed from the
//!   registry as a container host (pinned by digest, tracking a tag), exactly as
//!   `ostree container image deploy --imgref ...@sha256:… --target-imgref …:stable` would.
//!
//! Everything lives in temp dirs removed on drop (set `BOOTC_CHECKPOINT_KEEP_TMP=1` to keep
//! them for debugging). All helpers panic with a descriptive message on failure: they are
//! test fixtures.
//!
//! Note on skopeo 1.9.3: it does NOT honour `CONTAINERS_REGISTRIES_CONF` (that arrived with a
//! later containers/image). Use [`Endpoint::skopeo`] (adds the hidden global flag
//! `--registries-conf`), pass `--tls-verify=false`, configure ostree-ext with
//! [`Endpoint::proxy_config`], or start child processes with [`Endpoint::child_path_env`] so
//! that `skopeo` on their `PATH` is a wrapper that adds `--registries-conf` itself.

#![allow(dead_code, unused_imports)]

pub mod fakes;
pub mod fleetlock;
pub mod http;
pub mod images;
pub mod registry;
pub mod sysroot;
pub mod tempdir;

use std::process::{Command, Output};
use std::time::Instant;

pub use images::{OsImages, Release};
pub use registry::{Endpoint, Registry};
pub use sysroot::{DeploymentInfo, Sysroot};
pub use tempdir::TempDir;

/// The ostree-ext (and its ostree/gio/glib) and tokio the engine itself uses.
pub use checkpoint_engine::ostree_ext;
pub use checkpoint_engine::tokio;

/// Three releases used across the end-to-end tests: A, B and C.
pub const RELEASE_A: &str = "41.20250105.3.0";
pub const RELEASE_B: &str = "41.20250201.3.0";
pub const RELEASE_C: &str = "42.20250301.3.0";

/// A tokio current-thread runtime for the async ostree-ext calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a current-thread tokio runtime")
}

/// Describe a command for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run a command; panic (with its stdout and stderr) unless it exits 0.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning `{}`: {e}", describe(cmd)));
    if !out.status.success() {
        panic!(
            "`{}` failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Run a command and return its stdout as UTF-8 (panics unless it exits 0).
pub fn run_stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("stdout is UTF-8")
}

/// Prints how long each step of a test took (`[timing] step: 1.234s`) to stderr.
#[derive(Debug)]
pub struct Timings {
    start: Instant,
    last: Instant,
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    pub fn new() -> Self {
        let now = Instant::now();
        Timings {
            start: now,
            last: now,
        }
    }

    /// Report the time since the previous step (or creation).
    pub fn step(&mut self, what: &str) {
        let now = Instant::now();
        eprintln!(
            "[timing] {what}: {:.3}s (total {:.3}s)",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }

    pub fn total(&self) -> std::time::Duration {
        self.start.elapsed()
    }
}
