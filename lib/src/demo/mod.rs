//! The journey demo behind `bootc-checkpoint demo`: the real checkpoint journey in a scratch
//! directory, in a few seconds.
//!
//! It sets up what a fleet has — a registry holding releases A → B → C of a bootable OS image
//! with `os:stable` at C, and an update graph in which B is a mandatory checkpoint — and a host
//! on A that follows `os:stable`. Then it drives the engine through status → upgrade → resume →
//! resume → status exactly as those commands do, printing each step. The host is an offline
//! ostree sysroot, so a "reboot" is a no-op: the new default deployment counts as booted.
//!
//! | module | holds |
//! |---|---|
//! | [`tools`] | finding `docker-registry`, `skopeo`, `ostree`; the root check; running them |
//! | [`scratch`] | the scratch directory, removed at the end unless kept |
//! | [`registry`] | the registry process and how skopeo and the engine reach it |
//! | [`images`] | releases: ostree commits encapsulated with ostree-ext, pushed with skopeo |
//! | [`sysroot`] | the host: an ostree sysroot deployed on A, following `os:stable` |
//! | [`journey`] | the engine, step by step, printed |
//!
//! The engine runs in this process, pointed at the scratch registry's `registries.conf` with
//! `OstreeHost::with_registries_conf` (what `--registries-conf` does on the command line).

pub mod images;
pub mod journey;
pub mod registry;
pub mod scratch;
pub mod sysroot;
pub mod tools;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use images::{unverified, Images, Release};
use registry::Registry;
use scratch::Scratch;
use sysroot::Sysroot;
use tools::Tools;

/// The three releases, oldest first; B is the checkpoint, `os:stable` points at C.
pub const RELEASES: [(&str, &str); 3] = [
    ("A", "41.20250105.3.0"),
    ("B", "41.20250201.3.0"),
    ("C", "42.20250301.3.0"),
];
/// The tag the host follows.
pub const TAG: &str = "stable";

/// A set-up demo. Field order is drop order: the sysroot is made removable, the runtime stops,
/// the environment is restored, the registry is killed, and only then the scratch directory
/// goes.
#[derive(Debug)]
pub struct Demo {
    sysroot: Sysroot,
    rt: tokio::runtime::Runtime,
    registry: Registry,
    scratch: Scratch,
    releases: Vec<Release>,
    tracked: String,
    started: Instant,
    setup: Duration,
    journey: Duration,
}

impl Demo {
    /// Check the tools, then build everything, printing one line per part with its time.
    /// `keep` keeps the scratch directory at the end.
    pub fn set_up(out: &mut dyn Write, keep: bool) -> Result<Demo> {
        let tools = Tools::check()?;
        let started = Instant::now();
        let scratch = Scratch::create(keep)?;
        writeln!(
            out,
            "Checkpoint journey demo: a registry with releases A -> B -> C of an OS image, B a \
             mandatory checkpoint,\nand a host on A following os:{TAG} (which points at C).\n\n\
             $DEMO = {} ({})\n\nSetup:",
            scratch.path().display(),
            if keep {
                "kept at the end"
            } else {
                "removed at the end; --keep keeps it"
            }
        )?;
        let mut lap = Lap::new();

        let registry = Registry::start(&tools, &scratch.join("registry"))?;
        lap.line(
            out,
            "registry",
            &format!(
                "docker-registry on {}, plain HTTP (insecure in $DEMO/registry/registries.conf)",
                registry.addr()
            ),
        )?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;

        let images = Images::create(&tools, &registry, &scratch.join("images"))?;
        let mut releases = Vec::new();
        for (letter, version) in RELEASES {
            let r = rt
                .block_on(images.publish(version))
                .with_context(|| format!("publishing release {letter} ({version})"))?;
            lap.line(
                out,
                &format!("release {letter}"),
                &format!("{}  {}", images.image(version), r.digest),
            )?;
            releases.push(r);
        }
        let (c, _) = RELEASES[2];
        rt.block_on(images.tag(&releases[2], TAG))
            .with_context(|| format!("tagging {TAG}"))?;
        lap.line(out, "tag", &format!("{} -> {c}", images.image(TAG)))?;

        let target = unverified(images.image(TAG));
        let source = unverified(format!("{}@{}", images.repository(), releases[0].digest));
        let sysroot = rt
            .block_on(Sysroot::provision(
                &tools,
                &scratch.join("sysroot"),
                &releases[0],
                &source,
                &target,
                registry.skopeo(),
                keep,
            ))
            .context("provisioning the host")?;
        lap.line(
            out,
            "host",
            &format!(
                "$DEMO/sysroot: A deployed pinned by digest, following {}",
                target
            ),
        )?;

        write_graph(&scratch.join("graph.json"), &images.repository(), &releases)?;
        lap.line(
            out,
            "update graph",
            "$DEMO/graph.json: A -> B (checkpoint) -> C",
        )?;
        Ok(Demo {
            sysroot,
            rt,
            registry,
            scratch,
            releases,
            tracked: target.to_string(),
            started,
            setup: started.elapsed(),
            journey: Duration::ZERO,
        })
    }

    /// Drive the engine through the journey, printing each step.
    pub fn run_journey(&mut self, out: &mut dyn Write) -> Result<()> {
        let state_dir = self.scratch.join("state");
        let graph = self.scratch.join("graph.json");
        let scene = journey::Scene {
            sysroot: self.sysroot.path(),
            state_dir: &state_dir,
            graph: &graph,
            releases: &self.releases,
            tracked: &self.tracked,
            registries_conf: &self.registry.registries_conf(),
        };
        self.journey = journey::run(out, &self.rt, &scene)?;
        Ok(())
    }

    /// Stop the registry, remove (or keep) the scratch directory, print the times.
    pub fn finish(self, out: &mut dyn Write) -> Result<()> {
        let Demo {
            sysroot,
            rt,
            registry,
            scratch,
            started,
            setup,
            journey,
            ..
        } = self;
        let cleanup = Instant::now();
        let config = registry.config_file();
        drop(sysroot);
        drop(rt);
        drop(registry);
        let dir = scratch.path().to_path_buf();
        let keep = scratch.keep();
        scratch.close()?;
        if keep {
            writeln!(
                out,
                "\nKept $DEMO = {dir}: sysroot/, state/, graph.json, images/, registry/.\n\
                 The registry is stopped; restart it with `docker-registry serve {}`.\n\
                 ostree made the deployments immutable; to remove it all:\n  \
                 chattr -i {dir}/sysroot/ostree/deploy/*/deploy/*.0 && rm -rf {dir}",
                config.display(),
                dir = dir.display(),
            )?;
        }
        writeln!(
            out,
            "\nDone in {:.1}s (setup {:.1}s, journey {:.1}s, cleanup {:.1}s).",
            started.elapsed().as_secs_f64(),
            setup.as_secs_f64(),
            journey.as_secs_f64(),
            cleanup.elapsed().as_secs_f64()
        )?;
        Ok(())
    }
}

/// The native update graph: A, B (a checkpoint), C, each pinned by digest.
fn write_graph(path: &Path, repository: &str, releases: &[Release]) -> Result<()> {
    let rels: Vec<serde_json::Value> = releases
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = json!({"version": r.version, "digest": r.digest});
            if i == 1 {
                v["checkpoint"] = json!({"reason": "https://example.com/os/rotate-signing-key"});
            }
            v
        })
        .collect();
    let doc = json!({
        "apiVersion": "bootc-checkpoint/v1",
        "kind": "UpdateGraph",
        "metadata": {"stream": TAG, "serial": 1, "image": repository},
        "releases": rels,
    });
    let text = serde_json::to_vec_pretty(&doc).context("serializing the demo graph")?;
    crate::fsutil::write_atomic(path, &text)
}

/// Times the parts of the setup.
#[derive(Debug)]
struct Lap(Instant);

impl Lap {
    fn new() -> Self {
        Lap(Instant::now())
    }

    /// Print `  [1.23s] what  text` with the time since the previous line.
    fn line(&mut self, out: &mut dyn Write, what: &str, text: &str) -> Result<()> {
        let now = Instant::now();
        writeln!(
            out,
            "  [{:.2}s] {what:<12} {text}",
            (now - self.0).as_secs_f64()
        )?;
        self.0 = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_graph_is_valid_with_b_as_its_checkpoint() {
        let dir = std::env::temp_dir().join(format!("demo-graph-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("graph.json");
        let releases: Vec<Release> = RELEASES
            .iter()
            .enumerate()
            .map(|(i, (_, v))| Release {
                version: v.to_string(),
                commit: format!("{i}").repeat(64),
                digest: format!("sha256:{}", format!("{i}").repeat(64)),
            })
            .collect();
        write_graph(&path, "127.0.0.1:5000/os", &releases).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let loaded = crate::graph::UpdateGraph::parse(&bytes, "demo graph").unwrap();
        let versions: Vec<&str> = loaded
            .graph
            .releases
            .iter()
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(versions, RELEASES.map(|(_, v)| v));
        let checkpoints: Vec<bool> = loaded
            .graph
            .releases
            .iter()
            .map(|r| r.checkpoint.is_some())
            .collect();
        assert_eq!(checkpoints, [false, true, false]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
