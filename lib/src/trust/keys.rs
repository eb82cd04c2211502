//! The trusted minisign public keys: every `*.pub` file of the configured directories
//! (`/etc/bootc-checkpoint/keys.d`, then `/usr/lib/bootc-checkpoint/keys.d`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use minisign::{PublicKey, PublicKeyBox};

/// Public keys and where they came from.
#[derive(Debug, Default)]
pub struct Keys {
    dirs: Vec<PathBuf>,
    keys: Vec<(PathBuf, PublicKey)>,
}

impl Keys {
    /// Read every `*.pub` in `dirs` (missing directories are fine); a file that is not a
    /// minisign public key is an error naming it.
    pub fn load(dirs: &[PathBuf]) -> Result<Self> {
        let mut keys = Vec::new();
        for dir in dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pub"))
                .collect();
            files.sort();
            for f in files {
                keys.push((f.clone(), read_key(&f)?));
            }
        }
        Ok(Self {
            dirs: dirs.to_vec(),
            keys,
        })
    }

    /// One key from text (the `minisign -G` `.pub` file format, or the bare base64 line).
    pub fn from_text(name: &str, text: &str) -> Result<Self> {
        Ok(Self {
            dirs: Vec::new(),
            keys: vec![(
                PathBuf::from(name),
                parse_key(text).with_context(|| name.to_string())?,
            )],
        })
    }

    pub fn find(&self, keynum: &[u8]) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|(_, k)| k.keynum() == keynum)
            .map(|(_, k)| k)
    }

    pub fn describe_dirs(&self) -> String {
        if self.dirs.is_empty() {
            return "no key directories".into();
        }
        let names: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        format!("{} key(s) in {}", self.keys.len(), names.join(", "))
    }
}

fn read_key(path: &Path) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading public key {}", path.display()))?;
    parse_key(&text).with_context(|| format!("{}: not a minisign public key", path.display()))
}

fn parse_key(text: &str) -> Result<PublicKey> {
    let parsed = if text.trim_start().starts_with("untrusted comment:") {
        PublicKeyBox::from_string(text).and_then(|b| b.into_public_key())
    } else {
        PublicKey::from_base64(text.trim())
    };
    parsed.map_err(|e| anyhow::anyhow!("{e}"))
}
