"""Small guest programs built on the host (bookworm host, bookworm guest: same libraries)."""

import os
import shutil
from pathlib import Path

from .util import REPO_ROOT, VM_DIR, HarnessError, output, run

TOOLS = VM_DIR / "guest" / "tools"


def build_c(name: str, out_dir: Path, log: Path, pkgs: tuple[str, ...] = ("ostree-1",)) -> Path:
    """Compile tests/vm/guest/tools/<name>.c (gcc, pkg-config; e.g. libostree-dev)."""
    for tool in ("gcc", "pkg-config"):
        if not shutil.which(tool):
            raise HarnessError(f"{tool} is needed to build the guest tool {name} "
                               "(.ci/install-deps installs build-essential, libostree-dev)")
    flags = output(["pkg-config", "--cflags", "--libs", *pkgs], timeout=30).split()
    out = out_dir / name
    run(["gcc", "-O2", "-Wall", "-Werror", "-o", out, TOOLS / f"{name}.c", *flags], timeout=120,
        log=log)
    return out


def image_helper(log: Path) -> Path:
    """The host-side ostree-ext helper (lib/examples/vm_container_image.rs): encapsulate a
    commit, deploy an image into a sysroot. `BOOTC_CHECKPOINT_VM_IMAGE_HELPER` names a built
    one; else `cargo build --release --example` (a no-op when up to date)."""
    given = os.environ.get("BOOTC_CHECKPOINT_VM_IMAGE_HELPER")
    if given:
        return Path(given)
    run(["cargo", "build", "--release", "-p", "checkpoint-engine", "--example",
         "vm_container_image"], cwd=REPO_ROOT, timeout=3600, log=log)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "release" / "examples" / "vm_container_image"
