//! Graph source URIs, as written in `graph.source` or `--graph`. Pure: text in, source out.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// Where a graph comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local file: `/path`, `file:/path`, `file:///path`. Trusted like the configuration;
    /// a `.minisig` next to it is still checked when present.
    File(PathBuf),
    /// `https://…` or `http://…`; the signature is `<url>.minisig`.
    Http(String),
    /// `oci:REGISTRY/REPO:TAG` (or `@sha256:…`): an OCI artifact holding the graph.
    Oci(String),
}

impl Source {
    pub fn parse(s: &str) -> Result<Self> {
        if s.starts_with("https://") || s.starts_with("http://") {
            let rest = s.split_once("://").map(|(_, r)| r).unwrap_or("");
            if rest.is_empty() || rest.starts_with('/') {
                bail!("graph source {s:?}: no host in the URL");
            }
            return Ok(Self::Http(s.to_string()));
        }
        if let Some(reference) = s.strip_prefix("oci:") {
            let reference = reference.strip_prefix("//").unwrap_or(reference);
            if reference.is_empty() || !reference.contains('/') {
                bail!("graph source {s:?}: expected oci:REGISTRY/REPOSITORY:TAG");
            }
            return Ok(Self::Oci(reference.to_string()));
        }
        let path = match s.split_once(':') {
            Some(("file", rest)) => rest.strip_prefix("//").unwrap_or(rest),
            Some((scheme, _)) if !scheme.contains('/') && scheme.len() > 1 => bail!(
                "graph source {s:?}: the {scheme}: scheme is not supported (use a path, file:, \
                 https://, http:// or oci:)"
            ),
            _ => s,
        };
        if !path.starts_with('/') {
            bail!("graph source {s:?}: a file source must be an absolute path");
        }
        Ok(Self::File(PathBuf::from(path)))
    }

    /// Network sources are held to the trust policy; files are local configuration.
    pub fn is_remote(&self) -> bool {
        !matches!(self, Self::File(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = [
            ("/etc/g.yaml", Source::File("/etc/g.yaml".into())),
            ("file:/etc/g.yaml", Source::File("/etc/g.yaml".into())),
            ("file:///etc/g.yaml", Source::File("/etc/g.yaml".into())),
            ("https://h/g.json", Source::Http("https://h/g.json".into())),
            (
                "http://127.0.0.1:8/g",
                Source::Http("http://127.0.0.1:8/g".into()),
            ),
            (
                "oci:q.io/os/graph:stable",
                Source::Oci("q.io/os/graph:stable".into()),
            ),
            (
                "oci://q.io/os/graph:stable",
                Source::Oci("q.io/os/graph:stable".into()),
            ),
        ];
        for (input, want) in ok {
            assert_eq!(Source::parse(input).unwrap(), want, "{input}");
        }
        let bad = [
            ("relative/g.yaml", "absolute path"),
            ("ftp://h/g", "ftp: scheme is not supported"),
            ("https://", "no host"),
            ("oci:", "oci:REGISTRY/REPOSITORY:TAG"),
            ("oci:justname", "oci:REGISTRY/REPOSITORY:TAG"),
        ];
        for (input, want) in bad {
            let e = Source::parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: {e}");
        }
    }
}
