"""The harness is the VM's boot loader.

The disk is one ext4 filesystem holding the ostree sysroot (no partition table, no boot loader
installed; `sysroot.bootloader=none`, so ostree only writes Boot Loader Specification entries in
/boot/loader/entries). Between two qemu runs the harness reads those entries from the image
with `debugfs` (no mount, no root-only loop devices), picks one like a BLS boot loader would
(highest `version` = ostree's default deployment), extracts its kernel and initramfs and hands
them to qemu with the entry's `options` as kernel command line. Because ostree finalizes a
staged deployment at shutdown by writing a new entry, this follows exactly the deployment
ostree chose across reboots.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .util import HarnessError, run

STATEROOT_VAR = "/ostree/deploy/{stateroot}/var"


@dataclass
class Entry:
    file: str
    fields: dict

    @property
    def version(self) -> int:
        return int(self.fields.get("version", "0"))

    @property
    def options(self) -> str:
        return self.fields.get("options", "")

    @property
    def title(self) -> str:
        return self.fields.get("title", self.file)

    def deployment(self) -> str:
        """The `ostree=` boot path, e.g. /ostree/boot.1/debian/<bootcsum>/0."""
        for arg in self.options.split():
            if arg.startswith("ostree="):
                return arg[len("ostree="):]
        return "?"


def _debugfs(disk: Path, request: str, timeout: float = 60) -> bytes:
    r = subprocess.run(["debugfs", "-R", request, str(disk)], capture_output=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise HarnessError(f"debugfs -R {request!r} {disk}: {r.stderr.decode(errors='replace')}")
    return r.stdout


def replay_journal(disk: Path):
    """debugfs does not replay the ext4 journal; the guest may not have unmounted cleanly."""
    r = subprocess.run(["e2fsck", "-E", "journal_only", "-p", str(disk)], capture_output=True,
                       timeout=120)
    if r.returncode not in (0, 1):  # 1 = errors corrected
        raise HarnessError(f"e2fsck -E journal_only {disk}: exit {r.returncode}: "
                           f"{(r.stdout + r.stderr).decode(errors='replace')}")


def read_file(disk: Path, path: str) -> bytes | None:
    """A file from the (stopped) VM's disk, e.g. the state file for a failure report."""
    listing = _debugfs(disk, f"stat {path}")
    if not listing:
        return None
    return _debugfs(disk, f"cat {path}")


def entries(disk: Path) -> list[Entry]:
    out = _debugfs(disk, "ls -p /boot/loader/entries").decode()
    result = []
    for line in out.splitlines():
        parts = line.split("/")
        # /inode/mode/uid/gid/name/size/
        if len(parts) >= 7 and parts[5].endswith(".conf"):
            text = _debugfs(disk, f"cat /boot/loader/entries/{parts[5]}").decode()
            fields = {}
            for l in text.splitlines():
                key, _, value = l.strip().partition(" ")
                if key and not key.startswith("#"):
                    fields[key] = value.strip()
            result.append(Entry(parts[5], fields))
    return sorted(result, key=lambda e: e.version, reverse=True)


def default_entry(es: list[Entry]) -> Entry:
    if not es:
        raise HarnessError("no boot loader entries on the disk: nothing to boot")
    return es[0]


def extract(disk: Path, entry: Entry, outdir: Path) -> tuple[Path, Path]:
    """Dump the entry's kernel and initramfs (paths are relative to /boot, which lives on the
    same filesystem)."""
    kernel, initrd = outdir / "vmlinuz", outdir / "initrd"
    for src, dst in ((entry.fields.get("linux"), kernel), (entry.fields.get("initrd"), initrd)):
        if not src:
            raise HarnessError(f"boot entry {entry.file} lacks linux/initrd: {entry.fields}")
        dst.unlink(missing_ok=True)
        run(["debugfs", "-R", f"dump /boot{src} {dst}", disk], timeout=60, capture=True)
        if not dst.exists() or dst.stat().st_size == 0:
            raise HarnessError(f"could not extract /boot{src} from {disk}")
    return kernel, initrd
