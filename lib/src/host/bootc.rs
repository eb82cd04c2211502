//! The bootc backend: the host is driven through the `bootc` CLI and read through
//! `bootc status --format json --format-version 1`.
//!
//! A hop is staged with `bootc switch <repo>:<tag>@sha256:…`: the digest decides what is
//! pulled, the tag stays in the spec so the tracked reference is never lost. Once the last hop
//! has booted, `bootc switch --mutate-in-place <repo>:<tag>` drops the digest from the booted
//! deployment's spec without a new deployment, so a plain `bootc upgrade` follows the tag again.
//! (Staging the tag itself would pull whatever it points at by then — maybe past a new
//! checkpoint — so even the last hop is staged pinned.)

use std::cell::RefCell;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use ostree_ext::container::{OstreeImageReference, SignatureSource};

use super::bootc_status::{self, BootcStatus};
use super::images::{parse_tracked, pinned_with_tag, require_pinned};
use super::tool::Tool;
use super::{same_image, BackendInfo, Deployment, Host, HostStatus, Pin, StageError, Staged};
use crate::state::Tracked;

const STATUS_ARGS: &[&str] = &["status", "--format", "json", "--format-version", "1"];

/// A host managed by bootc.
#[derive(Debug)]
pub struct BootcHost {
    bootc: Tool,
    registries_conf: Option<PathBuf>,
    reason: String,
    /// Detection's status answer, used once instead of asking the tool again.
    first_status: RefCell<Option<Vec<u8>>>,
}

impl BootcHost {
    /// `reason`: why this backend drives the host (shown by `status`).
    pub fn new(registries_conf: Option<PathBuf>, reason: String) -> Self {
        Self {
            bootc: Tool::new("bootc"),
            registries_conf,
            reason,
            first_status: RefCell::new(None),
        }
    }

    /// Answer the first status query with `answer` (what detection already read).
    pub fn with_first_status(self, answer: Option<Vec<u8>>) -> Self {
        self.first_status.replace(answer);
        self
    }

    /// Parse a `bootc status` answer obtained elsewhere (detection already ran it).
    pub fn parse_status(stdout: &[u8]) -> Result<BootcStatus> {
        bootc_status::parse(stdout, "bootc status")
    }

    fn read_status(&self) -> Result<BootcStatus> {
        let out = match self.first_status.borrow_mut().take() {
            Some(answer) => answer,
            None => self.bootc.run(STATUS_ARGS)?,
        };
        Self::parse_status(&out)
    }

    /// `--transport T` and, for signed images, `--enforce-container-sigpolicy`: bootc builds
    /// the new spec from these flags, so they must say what the tracked reference says.
    fn switch_flags(target: &OstreeImageReference) -> Result<Vec<String>, StageError> {
        let mut flags = vec![
            "--transport".to_string(),
            super::images::transport_name(target.imgref.transport).to_string(),
        ];
        match &target.sigverify {
            SignatureSource::ContainerPolicy => flags.push("--enforce-container-sigpolicy".into()),
            SignatureSource::ContainerPolicyAllowInsecure => {}
            SignatureSource::OstreeRemote(remote) => {
                return Err(StageError::Blocked(format!(
                    "{target} verifies signatures through the ostree remote {remote:?}, which \
                     `bootc switch` cannot express (it would drop the verification): set \
                     host.backend = \"ostree\" or \"rpm-ostree\" for this host"
                )))
            }
        }
        Ok(flags)
    }

    fn switch(&self, flags: &[String], extra: &[&str], image: &str) -> Result<()> {
        let mut args: Vec<&str> = vec!["switch", "--quiet"];
        args.extend(extra);
        args.extend(flags.iter().map(String::as_str));
        args.push(image);
        self.bootc.run(&args).map(drop)
    }
}

impl Host for BootcHost {
    fn status(&self) -> Result<HostStatus> {
        Ok(self.read_status()?.host)
    }

    async fn resolve(&self, tracked: &Tracked) -> Result<Option<String>> {
        super::images::resolve(self.registries_conf.as_deref(), tracked).await
    }

    async fn stage(&self, pin: &Pin, tracked: &Tracked) -> Result<Staged, StageError> {
        let (Pin::Digest(digest), Tracked::Container { imgref }) = (pin, tracked) else {
            return Err(StageError::Failed(anyhow!(
                "bootc hosts follow container images; cannot stage {pin:?} for {tracked:?}"
            )));
        };
        let before = self.read_status()?;
        if before.incompatible {
            return Err(StageError::Blocked(
                "bootc reports the booted deployment as incompatible (local rpm-ostree changes): \
                 set host.backend = \"rpm-ostree\" for this host"
                    .into(),
            ));
        }
        let target = parse_tracked(imgref)?;
        let flags = Self::switch_flags(&target)?;
        let spec = pinned_with_tag(&target.imgref.name, digest)?;
        require_pinned(self.registries_conf.as_deref(), &target.imgref.name, digest).await?;
        self.switch(&flags, &[], &spec)?;
        let after = self.read_status()?;
        let staged = after
            .host
            .pending
            .filter(|p| p.digest.as_deref() == Some(digest.as_str()))
            .ok_or_else(|| {
                anyhow!("`bootc switch {spec}` succeeded but bootc shows no staged {digest}")
            })?;
        check_follows(&staged, imgref)?;
        Ok(Staged {
            commit: staged.commit,
            digest: staged.digest,
            version: staged.version,
        })
    }

    fn cleanup_pending(&self) -> Result<()> {
        // bootc has no verb that drops a staged deployment and leaves the boot order alone
        // (`bootc rollback` also swaps in the rollback deployment); do what it would do
        // internally, through libostree on the booted sysroot.
        super::ostree::OstreeHost::open(None)?.cleanup_pending()
    }

    fn apply(&self, _pending: &Deployment) -> Result<()> {
        // bootc's own reboot verb: the spec is pinned by digest, so `upgrade` finds the staged
        // deployment unchanged and reboots into it without fetching anything new.
        self.bootc.run(&["upgrade", "--apply", "--quiet"]).map(drop)
    }

    fn restore_tracked(&self, tracked: &Tracked) -> Result<()> {
        let Tracked::Container { imgref } = tracked else {
            return Ok(());
        };
        let status = self.read_status()?;
        if status
            .spec_imgref
            .as_deref()
            .is_some_and(|spec| same_image(spec, imgref))
        {
            return Ok(());
        }
        let target = parse_tracked(imgref)?;
        let flags = Self::switch_flags(&target).map_err(|e| match e {
            StageError::Blocked(m) => anyhow!(m),
            StageError::Failed(e) => e,
        })?;
        self.switch(&flags, &["--mutate-in-place"], &target.imgref.name)
            .with_context(|| format!("making the booted deployment follow {imgref} again"))?;
        let after = self.read_status()?;
        let spec = after.spec_imgref.unwrap_or_default();
        anyhow::ensure!(
            same_image(&spec, imgref),
            "after `bootc switch --mutate-in-place`, bootc's spec is {spec:?}, not {imgref}"
        );
        Ok(())
    }

    fn backend(&self) -> BackendInfo {
        BackendInfo {
            name: "bootc",
            reason: self.reason.clone(),
        }
    }
}

/// A staged deployment must still follow the tracked tag; anything else would lose it.
fn check_follows(staged: &Deployment, imgref: &str) -> Result<()> {
    let follows = staged.tracked().is_some_and(|t| match t {
        Tracked::Container { imgref: got } => same_image(&got, imgref),
        Tracked::Ostree { .. } => false,
    });
    anyhow::ensure!(
        follows,
        "the staged deployment {} follows {:?}, not {imgref}: refusing to go on",
        staged.commit,
        staged.origin
    );
    Ok(())
}
