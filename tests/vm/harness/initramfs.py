"""A tiny busybox initramfs for the test OS.

Debian's dracut initramfs (ostree-boot's 98ostree module) works but costs ~7 s per boot under
TCG. This one loads the virtio block modules, mounts the root disk, runs the *real*
`/usr/lib/ostree/ostree-prepare-root` from the image (which reads `ostree=` from the kernel
command line and sets up the deployment, /sysroot and /var), moves /run and /dev into the new
root and `switch_root`s to systemd. The init script is tests/vm/guest/initramfs-init.
"""

import lzma
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .util import VM_DIR, HarnessError, file_sha256, sha256_hex

INIT = VM_DIR / "guest" / "initramfs-init"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "mount", "umount", "insmod", "switch_root", "sleep", "cat", "mkdir", "echo",
           "grep", "poweroff")
MODULES = ("virtio_pci", "virtio_blk")
PREPARE_ROOT = "usr/lib/ostree/ostree-prepare-root"


def recipe_digest() -> str:
    return sha256_hex(Path(__file__).read_text(), INIT.read_text(), file_sha256(BUSYBOX))


def build(tree: Path, kver: str, out: Path):
    """Write the initramfs (uncompressed newc cpio) for kernel `kver` of rootfs `tree`."""
    if not BUSYBOX.exists():
        raise HarnessError("busybox-static is needed on the host (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as d:
        w = Path(d)
        for sub in ("bin", "dev", "proc", "sys", "run", "sysroot", "mods"):
            (w / sub).mkdir()
        shutil.copy2(BUSYBOX, w / "bin/busybox")
        for applet in APPLETS:
            os.symlink("busybox", w / "bin" / applet)
        _copy_with_libs(tree, PREPARE_ROOT, w)
        for i, ko in enumerate(_module_load_order(tree, kver, MODULES)):
            data = (tree / ko).read_bytes()
            if ko.endswith(".xz"):
                data = lzma.decompress(data)
            name = re.sub(r"\.ko(\.xz)?$", ".ko", Path(ko).name)
            (w / "mods" / f"{i:02d}-{name}").write_bytes(data)
        shutil.copy2(INIT, w / "init")
        os.chmod(w / "init", 0o755)
        files = subprocess.run(["find", "."], cwd=w, capture_output=True, check=True).stdout
        with open(out, "wb") as f:
            r = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "--owner=0:0"], cwd=w,
                               input=files, stdout=f, stderr=subprocess.PIPE, timeout=60)
            if r.returncode != 0:
                raise HarnessError("cpio failed: " + r.stderr.decode(errors="replace"))


def _copy_with_libs(tree: Path, rel: str, dest: Path):
    """Copy `rel` and the shared libraries it needs (as resolved inside `tree`)."""
    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tree / rel, dest / rel)
    ldd = subprocess.run(["chroot", str(tree), "/usr/bin/ldd", "/" + rel], capture_output=True,
                         text=True, timeout=60)
    if ldd.returncode != 0:
        raise HarnessError(f"ldd {rel} in the rootfs failed: {ldd.stderr}")
    for lib in re.findall(r"(/\S+) \(0x", ldd.stdout):
        src = tree / lib.lstrip("/")
        dst = dest / lib.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src.resolve(), dst)  # the file, not the soname symlink


def _module_load_order(tree: Path, kver: str, names) -> list[str]:
    """Paths (relative to tree) of the modules for `names` and their dependencies,
    dependencies first; built-in modules are skipped."""
    moddir = tree / "usr/lib/modules" / kver
    deps = {}
    by_name = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
        by_name[_modname(mod)] = mod
    builtin = {_modname(l.strip()) for l in (moddir / "modules.builtin").read_text().splitlines()}
    order: list[str] = []

    def visit(mod):
        if mod in order:
            return
        for d in deps.get(mod, []):
            visit(d)
        order.append(mod)

    for n in names:
        n = n.replace("-", "_")
        if n in builtin:
            continue
        if n not in by_name:
            raise HarnessError(f"kernel {kver} has no module {n}")
        visit(by_name[n])
    return [f"usr/lib/modules/{kver}/{m}" for m in order]


def _modname(path: str) -> str:
    return re.sub(r"\.ko(\.[a-z]+)?$", "", Path(path).name).replace("-", "_")
