//! Man pages and shell completions generated from the command-line definitions, so they can
//! never disagree with the binary (`bootc-checkpoint internals man|completions`, run by
//! `make -C dist install`).

use std::path::Path;

use anyhow::{Context, Result};
use clap_complete::Shell;

/// One page per command: `bootc-checkpoint.8`, `bootc-checkpoint-upgrade.8`,
/// `bootc-checkpoint-graph-import-fcos.8`, … (section 8: system administration).
pub fn man_pages(cmd: clap::Command, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(cmd, dir, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<String>) -> Result<()> {
    let name = cmd.get_name().to_string();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{name}-{}", sub.get_name());
        // Sub-pages are named after the whole command line, as git's and systemd's are.
        let sub = sub.clone().name(full.clone()).display_name(full);
        write_pages(sub, dir, written)?;
    }
    let file = format!("{name}.8");
    let path = dir.join(&file);
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .render(&mut buf)
        .with_context(|| format!("rendering {file}"))?;
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    written.push(file);
    Ok(())
}

/// The completion script for `shell`, named where that shell looks for it.
pub fn completions(mut cmd: clap::Command, shell: Shell, dir: &Path) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bin = cmd.get_name().to_string();
    let path = clap_complete::generate_to(shell, &mut cmd, &bin, dir)
        .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
    Ok(path.display().to_string())
}
