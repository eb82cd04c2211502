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


def _readlink(disk: Path, path: str) -> str | None:
    """The target of a symlink on the disk, or None when `path` is not a symlink."""
    out = _debugfs(disk, f"stat {path}").decode(errors="replace")
    if "Type: symlink" not in out:
        return None
    for line in out.splitlines():
        if line.startswith("Fast link dest:"):
            return line.split(":", 1)[1].strip().strip('"')
    # a slow symlink (target > 60 bytes) keeps its target in a data block
    return _debugfs(disk, f"cat {path}").decode(errors="replace").strip()


def resolve(disk: Path, path: str) -> str:
    """`path` with every symlink on it followed (like realpath), read from the disk."""
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        cur = "/" + "/".join(done + [part])
        target = _readlink(disk, cur)
        if target is None:
            done.append(part)
            continue
        hops += 1
        if hops > 40:
            raise HarnessError(f"too many symlinks resolving {path}")
        if target.startswith("/"):
            done = []
        parts = [p for p in target.split("/") if p] + parts
    return "/" + "/".join(done)


def deployment_of(disk: Path, entry: Entry) -> str:
    """The deployment (`<commit>.<serial>`) a boot entry boots: its `ostree=` boot path is a
    symlink into /ostree/deploy/<stateroot>/deploy/."""
    return resolve(disk, entry.deployment()).rsplit("/", 1)[-1]


class Greenboot:
    """Boot counting with a fallback entry, the way GRUB + greenboot do it on Fedora IoT /
    RHEL for Edge, with the harness as GRUB.

    - greenboot-grub2-set-counter: when an update was finalized (the default entry now boots
      a deployment other than the one booted last), the counter is set to `tries`.
    - GRUB: while the counter is set, each boot of the default entry decrements it; a boot
      with the counter at 0 boots the fallback (second) entry instead and clears it, with
      `fallback_karg` on the kernel command line (greenboot's check-fallback looks at GRUB's
      environment for the same reason).
    - greenboot-grub2-set-success: a boot that reaches boot-complete.target clears the counter.
    - greenboot-rpm-ostree-grub2-check-fallback (`rpm-ostree rollback` after a fallback boot)
      is a guest unit the scenario installs (testos-greenboot-rollback.service): it makes the
      booted deployment the default again, so the failed one becomes the rollback.
    - redboot-auto-reboot (reboot a failed boot) is the scenario's `vm.reboot()`.
    """

    def __init__(self, tries: int = 1, fallback_karg: str = "testos.greenboot.fallback"):
        self.tries, self.fallback_karg = tries, fallback_karg
        self.counter: int | None = None
        self.last: str | None = None       # deployment booted last
        self.history: list[str] = []       # one line per decision, for the scenario's log

    def choose(self, disk: Path, es: list[Entry]) -> tuple[Entry, tuple[str, ...]]:
        default = default_entry(es)
        dep = deployment_of(disk, default)
        if self.counter is None and self.last is not None and dep != self.last:
            self.counter = self.tries
            self.history.append(f"new default {dep[:12]}: boot_counter={self.tries}")
        if self.counter == 0:
            self.counter = None
            if len(es) < 2:
                raise HarnessError("boot counter expired but there is no fallback entry")
            fb = es[1]
            self.history.append(f"boot_counter expired: fallback to {deployment_of(disk, fb)[:12]}")
            self._next = deployment_of(disk, fb)
            return fb, (self.fallback_karg,)
        if self.counter is not None:
            self.counter -= 1
        self.history.append(f"boot default {dep[:12]} (boot_counter={self.counter})")
        self._next = dep
        return default, ()

    def booted(self, vm, boot):
        self.last = self._next
        r = vm.sh("systemctl is-active boot-complete.target", check=False)
        boot.blessed = r.out.strip() == "active"
        if boot.blessed:
            self.counter = None
        self.history.append(f"boot {boot.n}: boot-complete.target "
                            f"{'reached' if boot.blessed else 'NOT reached'}"
                            f" (boot_counter={self.counter})")
        vm.clock.say("  greenboot: " + self.history[-1])
