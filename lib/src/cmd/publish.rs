//! `graph sign|push|pull`: what a CI pipeline runs to publish a graph next to its images, and
//! what an administrator runs to look at one. Signatures are minisign's, so the stock
//! `minisign` tool can make and check them too.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::Exit;
use crate::graph::UpdateGraph;
use crate::sources::{self, signature_path};

/// Sign `file` with the minisign secret key at `key` (password from `password_file`, for
/// encrypted keys); writes `FILE.minisig`.
pub fn sign(
    out: &mut dyn Write,
    file: &Path,
    key: &Path,
    password_file: Option<&Path>,
) -> Result<Exit> {
    let bytes = crate::fsutil::read(file)?;
    // Never sign something nodes would refuse to parse.
    UpdateGraph::parse(&bytes, &file.display().to_string())?;
    let password = match password_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
        None => None,
    };
    let text = std::fs::read_to_string(key)
        .with_context(|| format!("reading secret key {}", key.display()))?;
    let sk = secret_key(&text, password).with_context(|| format!("{}", key.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let trusted = format!("file:{name}");
    let sig = minisign::sign(
        None,
        &sk,
        std::io::Cursor::new(&bytes),
        Some(&trusted),
        None,
    )
    .map_err(|e| anyhow::anyhow!("signing {}: {e}", file.display()))?;
    let sig_path = signature_path(file);
    crate::fsutil::write_atomic(&sig_path, sig.to_string().as_bytes())?;
    writeln!(out, "signed {} → {}", file.display(), sig_path.display())?;
    Ok(Exit::Success)
}

/// A minisign secret key. Unencrypted keys (`minisign -G -W`) are read as they are: minisign
/// 0.10+ leaves their checksum zeroed, which the minisign crate would take for a wrong
/// password. Never prompts (this runs in CI): an encrypted key needs its password.
fn secret_key(text: &str, password: Option<String>) -> Result<minisign::SecretKey> {
    use base64::Engine as _;
    let line = text
        .lines()
        .nth(1)
        .context("not a minisign secret key (no key line)")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .context("not a minisign secret key (bad base64)")?;
    let unencrypted = bytes.get(2..4) == Some(&[0, 0][..]);
    if unencrypted {
        return minisign::SecretKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let given = password.is_some();
    minisign::SecretKeyBox::from_string(text)
        .and_then(|b| b.into_secret_key(Some(password.unwrap_or_default())))
        .map_err(|e| {
            let hint = if given {
                ""
            } else {
                " (this key is encrypted: pass --password-file)"
            };
            anyhow::anyhow!("{e}{hint}")
        })
}

/// Push `file` (and `FILE.minisig` when present) as the graph artifact `target`
/// (`oci:REGISTRY/REPO:TAG`).
pub fn push(
    out: &mut dyn Write,
    file: &Path,
    target: &str,
    registries_conf: Option<&Path>,
) -> Result<Exit> {
    let sources::Source::Oci(name) = sources::Source::parse(target)? else {
        anyhow::bail!("{target}: graph push needs an oci:REGISTRY/REPO:TAG target");
    };
    let bytes = crate::fsutil::read(file)?;
    UpdateGraph::parse(&bytes, &file.display().to_string())?;
    let sig_path = signature_path(file);
    let signature = crate::fsutil::read_optional(&sig_path)
        .with_context(|| format!("reading {}", sig_path.display()))?;
    let rt = super::runtime::LazyRuntime::default();
    let digest = rt.get()?.block_on(sources::oci::push(
        &name,
        &bytes,
        signature.as_deref(),
        registries_conf,
    ))?;
    let signed = if signature.is_some() {
        "signed"
    } else {
        "unsigned"
    };
    writeln!(
        out,
        "pushed {} ({signed}) to {target} as {digest}",
        file.display()
    )?;
    Ok(Exit::Success)
}

/// Fetch `source` (any graph source) as a node would, verified against `keys_dirs`, and write
/// it (and its signature) to `output`.
pub fn pull(
    out: &mut dyn Write,
    source: &str,
    output: &Path,
    ctx: &sources::Context,
) -> Result<Exit> {
    let rt = super::runtime::LazyRuntime::default();
    let fetched = rt.get()?.block_on(sources::fetch_raw(ctx, source))?;
    let now = chrono::Utc::now();
    let loaded = sources::verify_raw(ctx, source, &fetched.0, fetched.1.as_deref(), now)?;
    crate::fsutil::write_atomic(output, &fetched.0)?;
    if let Some(sig) = &fetched.1 {
        crate::fsutil::write_atomic(&signature_path(output), sig)?;
    }
    let how = match &loaded.verdict {
        crate::trust::Verdict::Signed { key_id } => format!("signed by key {key_id}"),
        crate::trust::Verdict::Unsigned => "unsigned".to_string(),
    };
    writeln!(
        out,
        "{source} → {} ({how}, serial {})",
        output.display(),
        loaded
            .identity
            .serial
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into())
    )?;
    Ok(Exit::Success)
}
