//! Graphs as OCI 1.1 artifacts next to the images: `artifactType`
//! `application/vnd.bootc-checkpoint.graph.v1`, the empty config, the graph as one layer and
//! its minisign signature as an optional second layer. Polling compares the manifest digest
//! (one HEAD request) with the cached one, so an unchanged graph transfers no body.

use std::path::Path;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::Reference;
use sha2::{Digest, Sha256};

use super::error::FetchError;
use super::{Fetched, Limits, Validators};
use crate::registry::{auth_for, is_not_found, RegistryConfig};

pub const ARTIFACT_TYPE: &str = "application/vnd.bootc-checkpoint.graph.v1";
/// The graph layer; `+json` or `+yaml` after it says which.
pub const GRAPH_MEDIA_TYPE: &str = "application/vnd.bootc-checkpoint.graph.v1";
pub const SIGNATURE_MEDIA_TYPE: &str =
    "application/vnd.bootc-checkpoint.graph.signature.v1+minisign";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

fn refused(name: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Refused {
        source_name: format!("oci:{name}"),
        reason: reason.into(),
    }
}

fn unavailable(name: &str, e: impl std::fmt::Display) -> FetchError {
    FetchError::Unavailable {
        source_name: format!("oci:{name}"),
        reason: e.to_string(),
    }
}

async fn within<T>(
    name: &str,
    limits: &Limits,
    fut: impl std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
) -> Result<T, FetchError> {
    match tokio::time::timeout(limits.deadline, fut).await {
        Err(_) => Err(unavailable(
            name,
            format!("no answer within {:?}", limits.deadline),
        )),
        Ok(Err(e)) if is_not_found(&e) => Err(refused(name, format!("no such artifact ({e})"))),
        Ok(Err(e)) => Err(unavailable(name, e)),
        Ok(Ok(v)) => Ok(v),
    }
}

/// Fetch the graph artifact `name`, or learn that the cached one is current.
pub async fn fetch(
    name: &str,
    cached: Option<&Validators>,
    limits: &Limits,
    registries_conf: Option<&Path>,
) -> Result<Fetched, FetchError> {
    let reference: Reference = name
        .parse()
        .map_err(|e| refused(name, format!("not an image reference: {e}")))?;
    let reg =
        RegistryConfig::load_from(registries_conf).map_err(|e| refused(name, format!("{e:#}")))?;
    let auth =
        auth_for(reference.resolve_registry()).map_err(|e| refused(name, format!("{e:#}")))?;
    let client = reg.client();
    let digest = within(
        name,
        limits,
        client.fetch_manifest_digest(&reference, &auth),
    )
    .await?;
    if cached.and_then(|c| c.manifest_digest.as_deref()) == Some(digest.as_str()) {
        return Ok(Fetched::NotModified);
    }
    // Pull exactly the manifest just looked up, even if the tag moves meanwhile.
    let pinned = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        digest.clone(),
    );
    let (manifest, _) = within(name, limits, client.pull_image_manifest(&pinned, &auth)).await?;
    let kind = manifest
        .artifact_type
        .clone()
        .unwrap_or_else(|| manifest.config.media_type.clone());
    if kind != ARTIFACT_TYPE {
        return Err(refused(
            name,
            format!("not a bootc-checkpoint graph artifact (artifactType {kind:?}, want {ARTIFACT_TYPE:?})"),
        ));
    }
    let graphs: Vec<_> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type.starts_with(GRAPH_MEDIA_TYPE))
        .collect();
    let [graph] = graphs.as_slice() else {
        return Err(refused(
            name,
            format!(
                "expected exactly one {GRAPH_MEDIA_TYPE} layer, found {}",
                graphs.len()
            ),
        ));
    };
    let bytes = pull_layer(&client, &pinned, name, graph, limits.max_bytes, limits).await?;
    let signature = match manifest
        .layers
        .iter()
        .find(|l| l.media_type == SIGNATURE_MEDIA_TYPE)
    {
        Some(l) => Some(pull_layer(&client, &pinned, name, l, MAX_SIGNATURE_BYTES, limits).await?),
        None => None,
    };
    Ok(Fetched::New {
        bytes,
        signature,
        validators: Validators {
            etag: None,
            last_modified: None,
            manifest_digest: Some(digest),
        },
    })
}

async fn pull_layer(
    client: &oci_client::Client,
    reference: &Reference,
    name: &str,
    layer: &oci_client::manifest::OciDescriptor,
    cap: u64,
    limits: &Limits,
) -> Result<Vec<u8>, FetchError> {
    if layer.size < 0 || layer.size as u64 > cap {
        return Err(FetchError::TooLarge {
            source_name: format!("oci:{name}"),
            limit: cap,
        });
    }
    let mut out = Vec::with_capacity(layer.size as usize);
    within(name, limits, client.pull_blob(reference, layer, &mut out)).await?;
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&out)));
    if got != layer.digest || out.len() as i64 != layer.size {
        return Err(refused(
            name,
            format!(
                "layer {} arrived as {got} ({} bytes)",
                layer.digest,
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Push `graph` (and its signature) as the artifact `name`; returns the manifest digest.
pub async fn push(
    name: &str,
    graph: &[u8],
    signature: Option<&[u8]>,
    registries_conf: Option<&Path>,
) -> anyhow::Result<String> {
    use anyhow::Context;
    let reference: Reference = name
        .parse()
        .with_context(|| format!("parsing artifact reference {name:?}"))?;
    let reg = RegistryConfig::load_from(registries_conf)?;
    let auth = auth_for(reference.resolve_registry())?;
    let client = reg.client();
    let flavour = if graph.trim_ascii_start().starts_with(b"{") {
        "+json"
    } else {
        "+yaml"
    };
    let mut layers = vec![ImageLayer::new(
        graph.to_vec(),
        format!("{GRAPH_MEDIA_TYPE}{flavour}"),
        None,
    )];
    if let Some(sig) = signature {
        layers.push(ImageLayer::new(
            sig.to_vec(),
            SIGNATURE_MEDIA_TYPE.into(),
            None,
        ));
    }
    let config = Config::new(b"{}".to_vec(), EMPTY_MEDIA_TYPE.into(), None);
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.artifact_type = Some(ARTIFACT_TYPE.into());
    client
        .push(&reference, &layers, config, &auth, Some(manifest))
        .await
        .with_context(|| format!("pushing the graph to {name}"))?;
    client
        .fetch_manifest_digest(&reference, &auth)
        .await
        .with_context(|| format!("looking up {name} after pushing"))
}
