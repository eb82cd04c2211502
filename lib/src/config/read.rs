//! Reading the drop-in directories under a root directory: listing entries (telling files,
//! `/dev/null` masks and everything else apart) and reading the selected files.
//!
//! The root is opened as a [`RootDir`], so symlinks resolve inside it (an absolute symlink in
//! `ROOT/etc/…` points into `ROOT`, like `systemd --root`); a missing directory is simply empty.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cap_std_ext::cap_std::fs::Dir;
use cap_std_ext::RootDir;

use super::dropins::{DropIn, Entry, Kind};

/// The target of a masking symlink.
const DEV_NULL: &str = "/dev/null";

/// List the entries of `dirs` (paths relative to `root`, lowest priority first); `shown` are
/// the same directories as shown in messages.
pub fn list(root: &RootDir, dirs: &[&str], shown: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (i, rel) in dirs.iter().enumerate() {
        let dir = match root.open(rel) {
            Ok(f) => Dir::from_std_file(f),
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("opening {}", shown[i].display()));
            }
        };
        let listing = dir
            .entries()
            .with_context(|| format!("listing {}", shown[i].display()))?;
        for entry in listing {
            let entry = entry.with_context(|| format!("listing {}", shown[i].display()))?;
            let name = entry.file_name();
            let shown_file = || shown[i].join(&name);
            let ft = entry
                .file_type()
                .with_context(|| format!("inspecting {}", shown_file().display()))?;
            let kind = if ft.is_file() {
                Kind::File
            } else if ft.is_symlink() {
                let target = dir
                    .read_link_contents(&name)
                    .with_context(|| format!("reading the symlink {}", shown_file().display()))?;
                if target == Path::new(DEV_NULL) {
                    Kind::Mask
                } else {
                    follow(root, &Path::new(rel).join(&name))
                }
            } else if ft.is_dir() {
                Kind::Other("a directory".into())
            } else {
                Kind::Other("not a regular file".into())
            };
            entries.push(Entry { dir: i, name, kind });
        }
    }
    Ok(entries)
}

/// What a symlink (other than a mask) leads to, resolved inside the root.
fn follow(root: &RootDir, rel: &Path) -> Kind {
    match root.open(rel).and_then(|f| f.metadata()) {
        Ok(m) if m.is_file() => Kind::File,
        Ok(_) => Kind::Other("a symlink to something other than a regular file".into()),
        Err(e) if e.kind() == ErrorKind::NotFound => Kind::Other("a dangling symlink".into()),
        Err(e) => Kind::Other(format!("a symlink that cannot be followed ({e})")),
    }
}

/// Read the drop-ins to apply: (path as shown, contents).
pub fn read(
    root: &RootDir,
    dirs: &[&str],
    shown: &[PathBuf],
    apply: &[DropIn],
) -> Result<Vec<(PathBuf, String)>> {
    apply
        .iter()
        .map(|d| {
            let path = shown[d.dir].join(&d.name);
            let text = root
                .read_to_string(Path::new(dirs[d.dir]).join(&d.name))
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((path, text))
        })
        .collect()
}
