"""Small guest programs built on the host (bookworm host, bookworm guest: same libraries)."""

import shutil
from pathlib import Path

from .util import VM_DIR, HarnessError, output, run

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
