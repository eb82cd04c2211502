//! Which drop-ins apply, systemd style, from a listing of the directories (no I/O here).
//!
//! Only `*.toml` regular files (or symlinks to them) count. A file in a later directory replaces
//! every file of the same name in earlier ones; when it is a symlink to `/dev/null`, the name is
//! masked and nothing of that name applies. What remains applies in lexical order of file name,
//! whatever directory each file is in. Everything else in the directories is skipped with a
//! warning.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::model::{Overridden, Warning};

/// What a directory entry turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file, or a symlink to one.
    File,
    /// A symlink to `/dev/null`.
    Mask,
    /// Anything else (a directory, a dangling symlink, …), with why it is skipped.
    Other(String),
}

/// One entry of one drop-in directory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index into the directory list, lowest priority first.
    pub dir: usize,
    pub name: OsString,
    pub kind: Kind,
}

/// A drop-in file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropIn {
    pub dir: usize,
    pub name: String,
}

/// The outcome of [`select`].
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The files to apply, in order.
    pub apply: Vec<DropIn>,
    /// `/dev/null` symlinks in effect.
    pub masks: Vec<PathBuf>,
    pub overridden: Vec<Overridden>,
    pub warnings: Vec<Warning>,
}

/// The suffix of drop-ins.
pub const SUFFIX: &str = ".toml";

/// Decide which entries apply; `dirs` names the directories (for paths in the results).
pub fn select(dirs: &[PathBuf], mut entries: Vec<Entry>) -> Selection {
    entries.sort_by(|a, b| (a.dir, &a.name).cmp(&(b.dir, &b.name)));
    let mut sel = Selection::default();
    let path = |dir: usize, name: &Path| dirs[dir].join(name);
    let mut by_name: BTreeMap<String, Vec<(usize, bool)>> = BTreeMap::new();
    for e in entries {
        let skip = |message: String| Warning {
            file: path(e.dir, Path::new(&e.name)),
            key: None,
            message,
        };
        let Some(name) = e.name.to_str() else {
            sel.warnings
                .push(skip("ignored: the file name is not valid UTF-8".into()));
            continue;
        };
        if !name.ends_with(SUFFIX) {
            sel.warnings
                .push(skip(format!("ignored: only *{SUFFIX} files are read")));
            continue;
        }
        match e.kind {
            Kind::File => by_name
                .entry(name.to_string())
                .or_default()
                .push((e.dir, false)),
            Kind::Mask => by_name
                .entry(name.to_string())
                .or_default()
                .push((e.dir, true)),
            Kind::Other(why) => sel.warnings.push(skip(format!("ignored: {why}"))),
        }
    }
    for (name, mut found) in by_name {
        found.sort();
        let (dir, masked) = found.pop().expect("every name was found at least once");
        let winner = path(dir, Path::new(&name));
        for (lower, _) in found {
            sel.overridden.push(Overridden {
                file: path(lower, Path::new(&name)),
                by: winner.clone(),
                masked,
            });
        }
        if masked {
            sel.masks.push(winner);
        } else {
            sel.apply.push(DropIn { dir, name });
        }
    }
    sel
}
