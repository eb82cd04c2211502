//! A private `docker-registry` on `127.0.0.1:<free port>`, plain HTTP, storage in the scratch
//! directory; killed when dropped.
//!
//! Reaching it needs a `registries.conf` that marks it `insecure = true`. skopeo 1.9.3 ignores
//! `$CONTAINERS_REGISTRIES_CONF`, so the demo runs skopeo as `skopeo --registries-conf FILE …`
//! and hands the same file to the engine (`OstreeHost::with_registries_conf`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::tools::{find_in_path, Tools};

/// How long to wait for `GET /v2/` to answer 200 after starting.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried before giving up (a free port can be taken between choosing and binding it).
const START_ATTEMPTS: usize = 3;

/// The running registry.
#[derive(Debug)]
pub struct Registry {
    port: u16,
    child: Child,
    dir: PathBuf,
    skopeo: PathBuf,
}

impl Registry {
    /// Start `docker-registry serve` with its files in `dir` (created) and wait until it
    /// answers.
    pub fn start(tools: &Tools, dir: &Path) -> Result<Registry> {
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage)
            .with_context(|| format!("creating {}", storage.display()))?;
        let mut errors = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            write_files(dir, port)?;
            match spawn_and_wait(tools, dir, port) {
                Ok(child) => {
                    return Ok(Registry {
                        port,
                        child,
                        dir: dir.to_path_buf(),
                        skopeo: tools.skopeo.clone(),
                    })
                }
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        bail!("could not start docker-registry:\n{}", errors.join("\n"))
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's `config.yml`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.yml")
    }

    /// The `registries.conf` marking the registry insecure (plain HTTP).
    pub fn registries_conf(&self) -> PathBuf {
        self.dir.join("registries.conf")
    }

    /// The real skopeo with `--registries-conf`; add the subcommand and its arguments (or hand
    /// it to ostree-ext's image proxy, which adds its own).
    pub fn skopeo(&self) -> Command {
        let mut c = Command::new(&self.skopeo);
        c.arg("--registries-conf").arg(self.registries_conf());
        c
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the registry (tied to this process with `setpriv --pdeathsig` where available, so an
/// interrupted demo does not leave it running) and wait for `GET /v2/` to answer 200.
fn spawn_and_wait(tools: &Tools, dir: &Path, port: u16) -> Result<Child> {
    let log_path = dir.join("registry.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let log2 = log.try_clone().context("duplicating the log file handle")?;
    let mut cmd = match find_in_path("setpriv") {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"])
                .arg(&tools.docker_registry);
            c
        }
        None => Command::new(&tools.docker_registry),
    };
    cmd.arg("serve")
        .arg(dir.join("config.yml"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", tools.docker_registry.display()))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().context("waiting for docker-registry")? {
            bail!(
                "docker-registry on port {port} exited ({status}): {}",
                std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .trim()
            );
        }
        if answers_v2(port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "docker-registry did not answer on http://127.0.0.1:{port}/v2/ within {:?}: {}",
                READY_TIMEOUT,
                std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .trim()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `GET http://127.0.0.1:PORT/v2/` answers 200 (the registry API is up).
fn answers_v2(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let timeout = Duration::from_millis(500);
        let mut s = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        write!(s, "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        // "HTTP/1.x 200"
        Ok(&head[9..12] == b"200")
    };
    probe().unwrap_or(false)
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr().context("reading the bound port")?.port())
}

/// `config.yml` (filesystem storage in `dir/storage`, deletes enabled, HTTP on `port`) and the
/// `registries.conf` that marks the registry insecure.
fn write_files(dir: &Path, port: u16) -> Result<()> {
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    };
    write(
        "config.yml",
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: bootc-checkpoint-demo\n",
            dir.join("storage").display()
        ),
    )?;
    write(
        "registries.conf",
        format!("[[registry]]\nlocation = \"127.0.0.1:{port}\"\ninsecure = true\n"),
    )
}
