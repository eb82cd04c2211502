//! A real `docker-registry` (distribution 2.8) on `127.0.0.1:<random port>`, plain HTTP.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;
use super::ostree_ext::container::store::ImageProxyConfig;
use super::tempdir::TempDir;

/// How long `start` waits for `GET /v2/` to answer 200.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
const REGISTRY_BIN: &str = "docker-registry";
/// Accept header for manifest requests (what skopeo sends, OCI first).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// Where the registry listens and how to talk to it; cheap to clone, stays valid across
/// [`Registry::stop`]/[`Registry::start`] (same port). [`Registry`] derefs to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    port: u16,
    registries_conf: PathBuf,
    bin_dir: PathBuf,
}

#[derive(Debug)]
pub struct Registry {
    ep: Endpoint,
    child: Option<Child>,
    starts: u32,
    config: PathBuf,
    log: PathBuf,
    // Last: dropped after the child is killed.
    dir: TempDir,
}

impl std::ops::Deref for Registry {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.ep
    }
}

impl Registry {
    /// Start a registry on a random free port with fresh storage; waits until it serves `/v2/`.
    /// If the port was taken in the meantime (the registry exits), another port is tried.
    pub fn start_new() -> Registry {
        let mut errors = Vec::new();
        for _attempt in 0..5 {
            let dir = TempDir::new("registry");
            std::fs::create_dir_all(dir.join("storage")).unwrap();
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            let mut reg = Registry {
                ep: Endpoint {
                    port: free_port(),
                    registries_conf: dir.join("registries.conf"),
                    bin_dir: dir.join("bin"),
                },
                child: None,
                starts: 0,
                config: dir.join("config.yml"),
                log: dir.join("registry.log"),
                dir,
            };
            reg.write_files();
            match reg.try_start() {
                Ok(()) => return reg,
                // Dropping `reg` kills the child and removes its temp dir.
                Err(e) => {
                    eprintln!("[fixture] registry start failed, trying another port: {e}");
                    errors.push(e);
                }
            }
        }
        panic!("could not start docker-registry:\n{}", errors.join("\n"));
    }

    fn write_files(&self) {
        let storage = self.dir.join("storage");
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: bootc-checkpoint-test-fixture\n",
            storage = storage.display(),
            port = self.ep.port
        );
        std::fs::write(&self.config, config).unwrap();
        std::fs::write(
            &self.ep.registries_conf,
            format!(
                "[[registry]]\nlocation = \"127.0.0.1:{}\"\ninsecure = true\n",
                self.ep.port
            ),
        )
        .unwrap();
        // skopeo 1.9.3 ignores CONTAINERS_REGISTRIES_CONF, so offer a `skopeo` wrapper that
        // passes the (hidden, global) --registries-conf flag, for child processes' PATH.
        let real = find_in_path("skopeo", Some(&self.ep.bin_dir))
            .expect("skopeo must be installed (in PATH)");
        let wrapper = self.ep.bin_dir.join("skopeo");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' --registries-conf '{}' \"$@\"\n",
                real.display(),
                self.ep.registries_conf.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "registry already running");
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(
            log,
            "=== fixture: start #{} on 127.0.0.1:{} ===",
            self.starts, self.ep.port
        )
        .unwrap();
        let log2: File = log.try_clone().unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("spawning {REGISTRY_BIN}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!(
                    "{REGISTRY_BIN} exited with {status} before becoming ready on port {}\n\
                     --- registry log ---\n{}",
                    self.ep.port,
                    self.log_text()
                ));
            }
            // Short timeout: something else squatting the port may accept and never answer.
            match http::request_with_timeout(
                self.ep.port,
                "GET",
                "/v2/",
                &[],
                Duration::from_millis(500),
            ) {
                Ok(r) if r.status == 200 => return Ok(()),
                _ => {}
            }
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                continue; // reported at the top of the loop
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{REGISTRY_BIN} did not answer 200 on http://127.0.0.1:{}/v2/ within {:?}\n\
                     --- registry log ---\n{}",
                    self.ep.port,
                    READY_TIMEOUT,
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Start it again on the same port and storage (after [`Registry::stop`]); waits until
    /// `/v2/` answers 200, panicking with the registry log otherwise.
    pub fn start(&mut self) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_start() {
                Ok(()) => return,
                // Exited early (e.g. the port is briefly busy): retry the same port a few times.
                Err(_) if attempt < 5 && self.child.is_none() => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    self.kill();
                    panic!("restarting registry (attempt {attempt}): {e}");
                }
            }
        }
    }

    /// Kill the registry (SIGKILL, then reap it). Storage is kept. Asserts the port no
    /// longer answers.
    pub fn stop(&mut self) {
        assert!(self.child.is_some(), "registry is not running");
        self.kill();
        assert!(
            http::request(self.ep.port, "GET", "/v2/", &[]).is_err(),
            "registry still answers on port {} after stop",
            self.ep.port
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// A clonable handle (port, registries.conf) for talking to this registry.
    pub fn endpoint(&self) -> Endpoint {
        self.ep.clone()
    }

    /// The registry's temp dir (config, log, storage, registries.conf).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry's combined stdout/stderr so far (all starts).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Endpoint {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether `GET /v2/` answers 200 right now.
    pub fn is_up(&self) -> bool {
        matches!(http::request(self.port, "GET", "/v2/", &[]), Ok(r) if r.status == 200)
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repo>`
    pub fn repo(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/{repo}", self.port)
    }

    /// A `registries.conf` (v2 TOML) marking this registry `insecure = true` (plain HTTP).
    /// NOTE: skopeo 1.9.3 does not read `CONTAINERS_REGISTRIES_CONF`; pass this with
    /// `skopeo --registries-conf <it>` (see [`Registry::skopeo`]).
    pub fn registries_conf(&self) -> PathBuf {
        self.registries_conf.clone()
    }

    /// `skopeo --registries-conf <registries_conf>`; add the subcommand and arguments.
    pub fn skopeo(&self) -> Command {
        let mut c = Command::new("skopeo");
        c.arg("--registries-conf").arg(&self.registries_conf);
        c
    }

    /// Proxy configuration for ostree-ext (`ImageImporter`, `deploy`): `--tls-verify=false`,
    /// which lets skopeo fall back to plain HTTP.
    pub fn proxy_config(&self) -> ImageProxyConfig {
        ImageProxyConfig {
            insecure_skip_tls_verification: Some(true),
            ..Default::default()
        }
    }

    /// A directory holding a `skopeo` wrapper that adds `--registries-conf`; put it first in
    /// a child process' `PATH` (see [`Registry::child_path_env`]).
    pub fn bin_dir(&self) -> PathBuf {
        self.bin_dir.clone()
    }

    /// `PATH` value for child processes: [`Endpoint::bin_dir`] then the current `PATH`.
    /// Use as `cmd.env("PATH", registry.child_path_env())` — per child, so parallel tests
    /// don't interfere.
    pub fn child_path_env(&self) -> OsString {
        let mut paths = vec![self.bin_dir.clone()];
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        std::env::join_paths(paths).unwrap()
    }

    /// Proxy configuration for ostree-ext that runs the `skopeo` wrapper of
    /// [`Endpoint::bin_dir`] (i.e. `skopeo --registries-conf …`) instead of passing
    /// `--tls-verify=false`: the same route a child process with [`Endpoint::child_path_env`]
    /// takes.
    pub fn proxy_config_via_registries_conf(&self) -> ImageProxyConfig {
        ImageProxyConfig {
            skopeo_cmd: Some(Command::new(self.bin_dir.join("skopeo"))),
            ..Default::default()
        }
    }

    /// The manifest digest `skopeo inspect` reports for `docker://127.0.0.1:PORT/<reference>`
    /// (`reference` like `os:stable` or `os@sha256:…`), or skopeo's stderr if it failed.
    pub fn skopeo_inspect_digest(&self, reference: &str) -> Result<String, String> {
        let out = self
            .skopeo()
            .arg("inspect")
            .arg(format!("docker://{}/{reference}", self.addr()))
            .output()
            .expect("spawning skopeo");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("skopeo inspect printed invalid JSON: {e}"));
        Ok(v["Digest"]
            .as_str()
            .unwrap_or_else(|| panic!("skopeo inspect JSON has no Digest: {v}"))
            .to_string())
    }

    /// The digest the registry serves for `<repo>:<tag>` or `<repo>@<digest>` (HEAD on the
    /// manifest, `Docker-Content-Digest`), `None` on 404. Panics if the registry is down.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> Option<String> {
        let r = http::request(
            self.port,
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", MANIFEST_ACCEPT)],
        )
        .unwrap_or_else(|e| panic!("HEAD manifest {repo}:{reference}: {e}"));
        match r.status {
            200 => Some(
                r.header("docker-content-digest")
                    .expect("Docker-Content-Digest header")
                    .to_string(),
            ),
            404 => None,
            s => panic!("HEAD manifest {repo}:{reference}: HTTP {s}"),
        }
    }

    /// `DELETE /v2/<repo>/manifests/<digest>`; asserts 202 Accepted. Note: distribution
    /// removes every tag that points at this manifest too.
    pub fn delete_manifest(&self, repo: &str, digest: &str) {
        let r = http::request(
            self.port,
            "DELETE",
            &format!("/v2/{repo}/manifests/{digest}"),
            &[],
        )
        .unwrap_or_else(|e| panic!("DELETE manifest {repo}@{digest}: {e}"));
        assert_eq!(
            r.status,
            202,
            "DELETE manifest {repo}@{digest}: {}\n{}",
            r.status,
            r.body_text()
        );
    }

    /// The tags of `repo` (`GET /v2/<repo>/tags/list`), sorted; empty if the repo is unknown.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let r = http::request(self.port, "GET", &format!("/v2/{repo}/tags/list"), &[])
            .unwrap_or_else(|e| panic!("GET tags of {repo}: {e}"));
        if r.status == 404 {
            return Vec::new();
        }
        assert_eq!(r.status, 200, "GET tags of {repo}: {}", r.body_text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

fn find_in_path(name: &str, skip: Option<&Path>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| Some(d.as_path()) != skip)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
