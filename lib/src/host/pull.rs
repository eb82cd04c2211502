//! Pulling a container image into the sysroot's repository and deploying it, the way
//! `ostree_ext::container::deploy::deploy` does (importer with the tracked tag as target,
//! origin `container-image-reference=<target>`, staged on a booted system, written directly
//! offline), with what `deploy` cannot give: progress on a terminal while layers download.
//! Under systemd (or without a terminal) it stays quiet and logs one line per layer instead.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use ostree_ext::container::deploy::ORIGIN_CONTAINER;
use ostree_ext::container::store::{
    ImageImporter, ImageProxyConfig, ImportProgress, LayeredImageState, PrepareResult,
};
use ostree_ext::container::OstreeImageReference;
use ostree_ext::ostree;
use ostree_ext::ostree::{gio, glib};

/// Whether to draw progress: a terminal on stderr, and not a systemd unit.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("INVOCATION_ID").is_none()
        && std::env::var_os("JOURNAL_STREAM").is_none()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Import `source` (pinned by digest) recording `target` (the tracked tag) as its reference,
/// then stage (booted) or deploy (offline) it in `stateroot`.
pub async fn deploy(
    sysroot: &ostree::Sysroot,
    stateroot: &str,
    source: &OstreeImageReference,
    target: &OstreeImageReference,
    proxy_cfg: ImageProxyConfig,
) -> Result<Box<LayeredImageState>> {
    let cancellable = gio::Cancellable::NONE;
    let repo = &sysroot.repo();
    let merge_deployment = sysroot.merge_deployment(Some(stateroot));
    let mut imp = ImageImporter::new(repo, source, proxy_cfg)
        .await
        .with_context(|| format!("opening {source}"))?;
    imp.require_bootable();
    imp.set_target(target);
    let show = interactive();
    let layer_events = imp.request_progress();
    let bytes = imp.request_layer_progress();
    let state = match imp
        .prepare()
        .await
        .with_context(|| format!("fetching the manifest of {source}"))?
    {
        PrepareResult::AlreadyPresent(state) => {
            tracing::info!(image = %source, "already in the repository");
            state
        }
        PrepareResult::Ready(prep) => {
            let all = prep.all_layers().count();
            let mut need = 0usize;
            let mut need_bytes = 0u64;
            for l in prep.layers_to_fetch() {
                let (l, _) = l?;
                need += 1;
                need_bytes += l.layer().size();
            }
            let line = format!(
                "pulling {source}: {need} of {all} layers to fetch ({})",
                mib(need_bytes)
            );
            if show {
                eprintln!("{line}");
            } else {
                tracing::info!("{line}");
            }
            let reporter = tokio::spawn(report(layer_events, bytes, show));
            let r = imp.import(prep).await;
            // The importer dropped its senders: the reporter ends by itself.
            let _ = reporter.await;
            r.with_context(|| format!("importing {source}"))?
        }
    };
    let origin = glib::KeyFile::new();
    origin.set_string("origin", ORIGIN_CONTAINER, &target.to_string());
    let opts = ostree::SysrootDeployTreeOpts::default();
    let commit = state.merge_commit.as_str();
    if sysroot.booted_deployment().is_some() {
        sysroot
            .stage_tree_with_options(
                Some(stateroot),
                commit,
                Some(&origin),
                merge_deployment.as_ref(),
                &opts,
                cancellable,
            )
            .context("staging the deployment")?;
    } else {
        let deployment = sysroot
            .deploy_tree_with_options(
                Some(stateroot),
                commit,
                Some(&origin),
                merge_deployment.as_ref(),
                Some(&opts),
                cancellable,
            )
            .context("writing the deployment")?;
        // No cleanup here: libostree's prints to stdout; the caller prunes explicitly.
        sysroot
            .simple_write_deployment(
                Some(stateroot),
                &deployment,
                merge_deployment.as_ref(),
                ostree::SysrootSimpleWriteDeploymentFlags::NO_CLEAN,
                cancellable,
            )
            .context("making it the default deployment")?;
    }
    Ok(state)
}

/// Drain the importer's progress channels (it waits on them), drawing a line per layer on a
/// terminal or logging each finished layer otherwise.
async fn report(
    mut events: tokio::sync::mpsc::Receiver<ImportProgress>,
    mut bytes: tokio::sync::watch::Receiver<Option<ostree_ext::container::store::LayerProgress>>,
    show: bool,
) {
    let mut err = std::io::stderr();
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                let (done, d) = match &ev {
                    ImportProgress::OstreeChunkStarted(d) | ImportProgress::DerivedLayerStarted(d) => (false, d),
                    ImportProgress::OstreeChunkCompleted(d) | ImportProgress::DerivedLayerCompleted(d) => (true, d),
                };
                let short = d.digest().to_string();
                let short = short.get(7..19).unwrap_or(&short).to_string();
                if done {
                    if show {
                        let _ = writeln!(err, "\r  layer {short}: done ({})          ", mib(d.size()));
                    } else {
                        tracing::info!(layer = %d.digest(), size = d.size(), "layer fetched");
                    }
                }
            }
            changed = bytes.changed() => {
                if changed.is_err() {
                    // The byte counter is gone; finish draining the events.
                    while events.recv().await.is_some() {}
                    break;
                }
                if show {
                    let now = bytes
                        .borrow_and_update()
                        .as_ref()
                        .map(|p| (p.layer_index, p.fetched, p.total));
                    if let Some((i, fetched, total)) = now {
                        let _ = write!(err, "\r  layer {i}: {} of {}", mib(fetched), mib(total));
                        let _ = err.flush();
                    }
                }
            }
        }
    }
}
