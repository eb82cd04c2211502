//! Small filesystem helpers over `cap_std` directory handles.

use std::path::Path;

use anyhow::{Context, Result};
use cap_std_ext::cap_std::{ambient_authority, fs::Dir};
use cap_std_ext::dirext::CapStdExtDirExt;

/// Read a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Read a file that may be absent: `None` when it does not exist, an error otherwise.
pub fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replace `path` atomically: write a temp file beside it, fsync, rename, fsync the directory.
/// A crash leaves either the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} does not name a file", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Dir::open_ambient_dir(parent, ambient_authority())
        .with_context(|| format!("opening directory {}", parent.display()))?;
    dir.atomic_write(name, contents)
        .with_context(|| format!("writing {}", path.display()))
}

/// Replace `rel` under `dir` atomically (as [`write_atomic`]) with permission bits `mode`,
/// creating its parent directories; for files other users read (motd, metrics).
pub fn write_atomic_in(dir: &Dir, rel: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir.create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    let perms =
        cap_std_ext::cap_std::fs::Permissions::from_std(std::fs::Permissions::from_mode(mode));
    dir.atomic_write_with_perms(rel, contents, perms)
        .with_context(|| format!("writing {}", rel.display()))
}
