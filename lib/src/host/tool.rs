//! Running the host's own tools (`bootc`, `rpm-ostree`): the command line is logged, stdout is
//! captured for JSON, and a failure names the command and carries its stderr.

use std::ffi::OsString;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// One external program, found on `PATH`.
#[derive(Debug, Clone)]
pub struct Tool {
    program: OsString,
    env: Vec<(&'static str, &'static str)>,
}

impl Tool {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            env: Vec::new(),
        }
    }

    /// Set an environment variable for every invocation (e.g. `RPMOSTREE_CLIENT_ID`).
    pub fn with_env(mut self, key: &'static str, value: &'static str) -> Self {
        self.env.push((key, value));
        self
    }

    fn command_line(&self, args: &[&str]) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in args {
            s.push(' ');
            if a.is_empty() || a.contains(char::is_whitespace) {
                s.push_str(&format!("{a:?}"));
            } else {
                s.push_str(a);
            }
        }
        s
    }

    /// Run to completion; stdout on success, an error with stderr otherwise.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>> {
        let line = self.command_line(args);
        tracing::debug!(command = %line, "running");
        let mut cmd = Command::new(&self.program);
        cmd.args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().with_context(|| format!("running {line}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!("{line} failed ({}): {}", out.status, stderr.trim());
        }
        Ok(out.stdout)
    }

    /// Run for backend detection: a program that is not installed is an answer, not an error.
    pub fn probe(&self, args: &[&str]) -> Probe {
        match self.run(args) {
            Ok(out) => Probe::Answered(out),
            Err(e) => {
                let missing = e.chain().any(|c| {
                    c.downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
                });
                if missing {
                    Probe::Missing
                } else {
                    Probe::Failed(format!("{e:#}"))
                }
            }
        }
    }
}

/// What running a tool for detection showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Not installed.
    Missing,
    /// Installed, but it failed (daemon not running, not a booted ostree system, …).
    Failed(String),
    /// It answered; its stdout.
    Answered(Vec<u8>),
}
