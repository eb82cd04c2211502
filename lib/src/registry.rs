//! Lookups the engine makes itself against container registries — does a pinned image exist,
//! where does a tag point — over the OCI distribution API (oci-client), so "not found" is a
//! typed answer and not a guess from another tool's message. Registry settings follow
//! containers-registries.conf(5): `$CONTAINERS_REGISTRIES_CONF`, else
//! `/etc/containers/registries.conf` and `/etc/containers/registries.conf.d/*.conf`; a
//! `[[registry]]` with `insecure = true` is reached over plain HTTP.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;

/// Registry settings relevant to the engine's own lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Registries (host[:port]) reached over plain HTTP.
    pub insecure: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ConfFile {
    #[serde(default)]
    registry: Vec<ConfRegistry>,
}

#[derive(Debug, Deserialize)]
struct ConfRegistry {
    #[serde(default)]
    location: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    insecure: bool,
}

impl RegistryConfig {
    /// Read the host's registries configuration; missing files mean defaults.
    pub fn load() -> Result<Self> {
        Self::load_from(None)
    }

    /// Read `file` alone when given (like skopeo's `--registries-conf`), else the host's
    /// configuration.
    pub fn load_from(file: Option<&Path>) -> Result<Self> {
        let from_env = std::env::var_os("CONTAINERS_REGISTRIES_CONF").map(PathBuf::from);
        let files: Vec<PathBuf> = match file.map(Path::to_path_buf).or(from_env) {
            Some(p) => vec![p],
            None => {
                let mut v = vec![PathBuf::from("/etc/containers/registries.conf")];
                if let Ok(rd) = std::fs::read_dir("/etc/containers/registries.conf.d") {
                    let mut extra: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                        .collect();
                    extra.sort();
                    v.extend(extra);
                }
                v
            }
        };
        let mut cfg = Self::default();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => cfg.merge(&text, &f)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
            }
        }
        Ok(cfg)
    }

    /// Add the `[[registry]]` entries of one file.
    pub fn merge(&mut self, text: &str, file: &Path) -> Result<()> {
        let conf: ConfFile =
            toml::from_str(text).with_context(|| format!("parsing {}", file.display()))?;
        for r in conf.registry {
            let loc = if r.location.is_empty() {
                &r.prefix
            } else {
                &r.location
            };
            let host = loc.split('/').next().unwrap_or_default();
            if r.insecure && !host.is_empty() && !self.insecure.iter().any(|h| h == host) {
                self.insecure.push(host.to_string());
            }
        }
        Ok(())
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(self.insecure.clone()),
            ..Default::default()
        })
    }

    /// The manifest digest `name` (`registry/repo:tag` or `registry/repo@digest`) resolves to,
    /// or `None` when the registry says the manifest or repository does not exist.
    pub async fn manifest_digest(&self, name: &str) -> Result<Option<String>> {
        let reference: Reference = name
            .parse()
            .with_context(|| format!("parsing image reference {name:?}"))?;
        match self
            .client()
            .fetch_manifest_digest(&reference, &RegistryAuth::Anonymous)
            .await
        {
            Ok(d) => Ok(Some(d)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("looking up {name}")),
        }
    }
}

/// Credentials for `registry` from the containers auth files, as podman, skopeo and bootc read
/// them: `$REGISTRY_AUTH_FILE`, `/run/containers/0/auth.json`, `/etc/ostree/auth.json` (bootc),
/// `~/.docker/config.json`; the first file naming the registry wins. Anonymous otherwise.
pub fn auth_for(registry: &str) -> Result<RegistryAuth> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(f.into());
    }
    files.push("/run/containers/0/auth.json".into());
    files.push("/etc/ostree/auth.json".into());
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".docker/config.json"));
    }
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
        };
        if let Some(auth) = parse_auth_file(&text, registry)
            .with_context(|| format!("reading registry credentials from {}", f.display()))?
        {
            return Ok(auth);
        }
    }
    Ok(RegistryAuth::Anonymous)
}

/// `{"auths": {"registry": {"auth": base64("user:password")}}}`.
fn parse_auth_file(text: &str, registry: &str) -> Result<Option<RegistryAuth>> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        auths: std::collections::BTreeMap<String, Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        auth: Option<String>,
    }
    let file: File = serde_json::from_str(text).context("not a containers auth file")?;
    let Some(entry) = file.auths.get(registry).and_then(|e| e.auth.as_ref()) else {
        return Ok(None);
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.trim())
        .with_context(|| format!("auths[{registry:?}].auth is not base64"))?;
    let decoded = String::from_utf8(decoded)
        .with_context(|| format!("auths[{registry:?}].auth is not UTF-8"))?;
    let (user, password) = decoded
        .split_once(':')
        .with_context(|| format!("auths[{registry:?}].auth is not user:password"))?;
    Ok(Some(RegistryAuth::Basic(user.into(), password.into())))
}

/// Registry errors that mean "no such manifest or repository", not "the registry is down".
pub(crate) fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
            )
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_auth_files() {
        // base64("user:pa:ss")
        let text = r#"{"auths": {"q.io": {"auth": "dXNlcjpwYTpzcw=="}, "other": {}}}"#;
        match parse_auth_file(text, "q.io").unwrap() {
            Some(RegistryAuth::Basic(u, p)) => {
                assert_eq!((u.as_str(), p.as_str()), ("user", "pa:ss"))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_auth_file(text, "other").unwrap().is_none());
        assert!(parse_auth_file(text, "nowhere").unwrap().is_none());
        let bad = r#"{"auths": {"q.io": {"auth": "%%%"}}}"#;
        assert!(format!("{:#}", parse_auth_file(bad, "q.io").unwrap_err()).contains("not base64"));
    }

    #[test]
    fn insecure_registries_from_conf() {
        let mut c = RegistryConfig::default();
        let text = r#"
unqualified-search-registries = ["quay.io"]
[[registry]]
location = "127.0.0.1:5000"
insecure = true
[[registry]]
prefix = "lab.example/ns"
location = "mirror.example/ns"
[[registry]]
location = "10.0.0.1/team"
insecure = true
"#;
        c.merge(text, Path::new("r.conf")).unwrap();
        assert_eq!(c.insecure, ["127.0.0.1:5000", "10.0.0.1"]);
        let err = c.merge("[[registry]\n", Path::new("bad.conf")).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("parsing bad.conf"),
            "{err:#}"
        );
    }
}
