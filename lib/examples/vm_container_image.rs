//! Host-side helper of the VM tests (`tests/vm`, scenario `container-image-journey`): what a
//! container-image host's build pipeline and installer do, with ostree-ext.
//!
//! ```text
//! vm_container_image encapsulate REPO COMMIT VERSION OCI_DIR
//!     encapsulate ostree commit COMMIT of REPO into an OCI image layout (labels: version,
//!     containers.bootc=1); prints the manifest digest
//! vm_container_image deploy SYSROOT STATEROOT SOURCE TARGET KARG...
//!     deploy image SOURCE (e.g. ostree-unverified-registry:127.0.0.1:5000/os@sha256:…) into
//!     the initialized SYSROOT, its origin following TARGET (e.g.
//!     ostree-unverified-registry:10.0.2.100:5000/os:stable); the registry is plain HTTP
//! ```

// A command-line helper: what it prints on stdout is its answer.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use ostree_ext::container::deploy::{self, DeployOpts};
use ostree_ext::container::store::ImageProxyConfig;
use ostree_ext::container::{self as container, Config, ExportOpts, ImageReference};
use ostree_ext::container::{OstreeImageReference, Transport};
use ostree_ext::gio;
use ostree_ext::ostree;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("encapsulate") if args.len() == 5 => {
            rt.block_on(encapsulate(&args[1], &args[2], &args[3], &args[4]))
        }
        Some("deploy") if args.len() >= 5 => {
            rt.block_on(deploy(&args[1], &args[2], &args[3], &args[4], &args[5..]))
        }
        _ => bail!("usage: see the top of lib/examples/vm_container_image.rs"),
    }
}

async fn encapsulate(repo: &str, commit: &str, version: &str, oci_dir: &str) -> Result<()> {
    let repo_path = repo;
    let repo = ostree::Repo::new_for_path(repo_path);
    repo.open(gio::Cancellable::NONE)
        .with_context(|| format!("opening {repo_path}"))?;
    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.version".to_string(),
            version.to_string(),
        ),
        ("containers.bootc".to_string(), "1".to_string()),
    ]);
    let config = Config {
        labels: Some(labels),
        ..Default::default()
    };
    let mut opts = ExportOpts::default();
    opts.legacy_version_label = true;
    let dest = ImageReference {
        transport: Transport::OciDir,
        name: oci_dir.to_string(),
    };
    let digest = container::encapsulate(&repo, commit, &config, Some(opts), &dest)
        .await
        .with_context(|| format!("encapsulating {commit}"))?;
    println!("{digest}");
    Ok(())
}

async fn deploy(
    sysroot: &str,
    stateroot: &str,
    source: &str,
    target: &str,
    kargs: &[String],
) -> Result<()> {
    let source: OstreeImageReference = source.try_into()?;
    let target: OstreeImageReference = target.try_into()?;
    let path = gio::File::for_path(sysroot);
    let sysroot = ostree::Sysroot::new(Some(&path));
    sysroot.load(gio::Cancellable::NONE)?;
    let lock = ostree_ext::sysroot::SysrootLock::new_from_sysroot(&sysroot).await?;
    let kargs: Vec<&str> = kargs.iter().map(String::as_str).collect();
    let mut opts = DeployOpts::default();
    opts.target_imgref = Some(&target);
    opts.kargs = Some(&kargs);
    opts.proxy_cfg = Some(ImageProxyConfig {
        insecure_skip_tls_verification: Some(true),
        ..Default::default()
    });
    // libostree's cleanup prints to stdout; a first deployment has nothing to clean.
    opts.no_clean = true;
    let state = deploy::deploy(&lock, stateroot, &source, Some(opts))
        .await
        .with_context(|| format!("deploying {source}"))?;
    println!("{}", state.manifest_digest);
    Ok(())
}
