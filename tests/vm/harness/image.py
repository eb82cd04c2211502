"""The test OS: a Debian bookworm ostree image built from Debian packages.

Three layers, each cached by a digest of everything that goes into it:

1. rootfs tarball  ($CACHE/rootfs-<key>.tar): mmdebstrap of PACKAGES. Key: the bootstrap recipe
   (suite, sources, packages, dpkg filters, purged packages, RECIPE_VERSION). Downloaded .debs
   are kept in $CACHE/debs and reused even when the key changes.
2. base commit     ($CACHE/repo, archive mode, ref base/<key>): the rootfs turned into the ostree
   layout, the VM configuration from tests/vm/guest/base/ and a small busybox initramfs. Key:
   the rootfs key, the source of the functions below that shape the tree, the initramfs recipe
   and the guest/base files.
3. releases (per run, cheap): A = base + bootc-checkpoint + dist/ units + a version marker;
   B, C = the previous release + a new marker, committed on `os/stable` in the run's archive repo.
"""

import fcntl
import inspect
import json
import os
import shlex
import shutil
from pathlib import Path

from . import initramfs
from .util import (VM_DIR, Clock, HarnessError, cache_dir, output, remove_tree, run,
                   sha256_hex, tree_digest)

RECIPE_VERSION = 1
SUITE = "bookworm"
SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
PACKAGES = (
    "usr-is-merged", "systemd", "systemd-sysv", "udev", "dbus", "ostree", "ostree-boot",
    "linux-image-cloud-amd64", "qemu-guest-agent", "iproute2", "procps", "ca-certificates",
    # what the bootc-checkpoint binary links against beyond libostree's dependencies
    "libssl3",
    # container-image hosts (future scenarios): ostree-ext pulls through skopeo
    "skopeo",
)
# mmdebstrap pulls these in for the merged-/usr conversion; nothing needs them afterwards and
# they cost ~2,000 files per deployment.
PURGE = ("usrmerge", "libfile-find-rule-perl", "libnumber-compare-perl", "libtext-glob-perl",
         "perl", "libperl5.36", "perl-modules-5.36")
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
STATEROOT = "debian"
KARGS = ("root=/dev/vda", "rw", "console=ttyS0,115200")
GUEST_BASE = VM_DIR / "guest" / "base"
# Units in the test image that only cost boot time in a throw-away VM.
MASKED_UNITS = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
    "fstrim.timer", "e2scrub_reap.service", "systemd-pstore.service", "getty@tty1.service",
    "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service",
)


# ---------------------------------------------------------------- layer 1: rootfs tarball

def bootstrap_key() -> str:
    recipe = {"version": RECIPE_VERSION, "suite": SUITE, "sources": SOURCES,
              "packages": PACKAGES, "purge": PURGE, "dpkg": DPKG_OPTS}
    return sha256_hex(json.dumps(recipe, sort_keys=True))[:16]


def rootfs_tarball(clock: Clock, log: Path) -> Path:
    cache = cache_dir()
    out = cache / f"rootfs-{bootstrap_key()}.tar"
    if out.exists():
        clock.say(f"rootfs: cached {out.name}")
        return out
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.tar")
    tmp.unlink(missing_ok=True)
    archives = '"$1"/var/cache/apt/archives'
    argv = ["mmdebstrap", "--mode=root", "--variant=minbase", "--include=" + ",".join(PACKAGES),
            "--aptopt=Acquire::Languages \"none\"", "--skip=download/empty"]
    argv += [f"--dpkgopt={o}" for o in DPKG_OPTS]
    argv += [
        # reuse the packages downloaded by earlier builds
        f"--setup-hook=mkdir -p {archives} && "
        f"find {shlex.quote(str(debs))} -name '*.deb' -exec cp -t {archives} {{}} +",
        "--customize-hook=chroot \"$1\" dpkg --purge " + " ".join(PURGE),
        # keep what was downloaded, then drop it from the image
        f"--customize-hook=cp -n {archives}/*.deb {shlex.quote(str(debs))}/ ; "
        f"rm -f {archives}/*.deb",
        SUITE, str(tmp), *SOURCES,
    ]
    with clock.step("rootfs: mmdebstrap (cold: downloads ~85 MB)"):
        run(argv, timeout=1200, log=log)
    tmp.rename(out)
    for stale in cache.glob("rootfs-*.tar"):
        if stale != out:
            stale.unlink()
    return out


# ---------------------------------------------------------------- layer 2: base commit

def _install_guest_config(tree: Path):
    """VM configuration: files from tests/vm/guest/base/ plus what can't be a plain file."""
    run(["cp", "-r", "--preserve=mode,links", "--no-target-directory", GUEST_BASE, tree],
        timeout=60)
    etc = tree / "etc"
    (etc / "machine-id").write_text("")  # generated on first boot
    shadow = etc / "shadow"  # root without password: autologin on the serial console
    shadow.write_text("".join(
        ("root::" + line.split(":", 2)[2]) if line.startswith("root:") else line
        for line in shadow.read_text().splitlines(keepends=True)))
    wants = etc / "systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    _symlink("/lib/systemd/system/systemd-networkd.service",
             wants / "systemd-networkd.service")
    # network-online.target (the product's units want it) means "address configured"
    _symlink("/lib/systemd/system/systemd-networkd-wait-online.service",
             etc / "systemd/system/network-online.target.wants"
             / "systemd-networkd-wait-online.service")
    for unit in MASKED_UNITS:
        for w in (etc / "systemd/system").glob(f"*.wants/{unit}"):
            w.unlink()
        _symlink("/dev/null", etc / "systemd/system" / unit)


def _to_ostree_layout(tree: Path):
    """ostree 2022.7 expectations: kernel + initramfs in usr/lib/modules/$kver, /etc in
    usr/etc, empty /var (the stateroot's /var is shared), the toplevel dirs that live in
    /var as symlinks, an empty /sysroot."""
    kver = _kernel_version(tree)
    mod = tree / "usr/lib/modules" / kver
    shutil.copy2(tree / "boot" / f"vmlinuz-{kver}", mod / "vmlinuz")
    initramfs.build(tree, kver, mod / "initramfs.img")
    os.chmod(mod / "initramfs.img", 0o644)
    for p in list((tree / "boot").iterdir()) + [tree / n for n in
                                                ("vmlinuz", "vmlinuz.old", "initrd.img",
                                                 "initrd.img.old")]:
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
    (tree / "etc").rename(tree / "usr/etc")
    for d in ("var", "dev", "proc", "sys", "run", "tmp"):
        shutil.rmtree(tree / d)
        (tree / d).mkdir()
    os.chmod(tree / "tmp", 0o1777)
    for d in ("home", "root", "opt", "srv", "mnt", "media", "usr/local"):
        p = tree / d
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.exists():
            shutil.rmtree(p)
    for name, target in (("home", "var/home"), ("root", "var/roothome"), ("opt", "var/opt"),
                         ("srv", "var/srv"), ("mnt", "var/mnt"), ("media", "run/media"),
                         ("usr/local", "../var/usrlocal"), ("ostree", "sysroot/ostree")):
        _symlink(target, tree / name)
    (tree / "sysroot").mkdir()


def _kernel_version(tree: Path) -> str:
    kvers = [p.name for p in (tree / "usr/lib/modules").iterdir() if p.is_dir()]
    if len(kvers) != 1:
        raise HarnessError(f"expected one kernel in the rootfs, found {kvers}")
    return kvers[0]


def _symlink(target: str, link: Path):
    if link.is_symlink() or link.exists():
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def base_key() -> str:
    return sha256_hex(
        bootstrap_key(),
        inspect.getsource(_install_guest_config),
        inspect.getsource(_to_ostree_layout),
        repr(MASKED_UNITS),
        initramfs.recipe_digest(),
        tree_digest(GUEST_BASE),
    )[:16]


def cache_repo() -> Path:
    return cache_dir() / "repo"


def base_commit(clock: Clock, log: Path, work: Path) -> str:
    """The base tree's ref in the cache repo, building it (and the rootfs) when missing."""
    repo = cache_repo()
    ref = f"base/{base_key()}"
    with open(cache_dir() / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time per cache dir
        if not (repo / "config").exists():
            run(["ostree", "init", "--mode=archive", f"--repo={repo}"], timeout=30)
        if run(["ostree", "rev-parse", f"--repo={repo}", ref], timeout=30, capture=True,
               check=False).returncode == 0:
            clock.say(f"base: cached {ref}")
            return ref
        tarball = rootfs_tarball(clock, log)
        tree = work / "base-tree"
        remove_tree(tree)
        tree.mkdir(parents=True)
        with clock.step("base: unpack rootfs, ostree layout, initramfs"):
            run(["tar", "-C", tree, "--numeric-owner", "--xattrs", "--xattrs-include=*",
                 "-xf", tarball], timeout=300, log=log)
            _install_guest_config(tree)
            _to_ostree_layout(tree)
        with clock.step("base: ostree commit into the cache repo"):
            run(["ostree", "commit", f"--repo={repo}", "-b", ref, f"--tree=dir={tree}",
                 f"--subject=bootc-checkpoint VM base {base_key()}", "--bootable"],
                timeout=900, log=log)
        remove_tree(tree)
        # keep one base: drop the refs of older recipes and their objects
        for old in output(["ostree", "refs", f"--repo={repo}", "base"], timeout=30).split():
            if f"base/{old}" != ref:
                run(["ostree", "refs", f"--repo={repo}", "--delete", f"base/{old}"], timeout=30)
        run(["ostree", "prune", f"--repo={repo}", "--refs-only"], timeout=600, log=log)
        return ref


# ---------------------------------------------------------------- layer 3: releases

class HostRepo:
    """The run's archive repository: what the guest's remote `origin` serves."""

    BRANCH = "os/stable"

    def __init__(self, path: Path, log: Path):
        self.path, self.log = path, log

    def create_from_cache(self, base_ref: str):
        run(["ostree", "init", "--mode=archive", f"--repo={self.path}"], timeout=30)
        # same mode, same filesystem: objects are hardlinked, not copied
        run(["ostree", "pull-local", f"--repo={self.path}", cache_repo(), base_ref],
            timeout=600, log=self.log)
        self.base_ref = base_ref

    def commit(self, parent: str, overlay: Path, version: str, subject: str,
               branch: str = BRANCH) -> str:
        """Commit `overlay` on top of `parent` (a ref or checksum) as `branch`."""
        run(["ostree", "commit", f"--repo={self.path}", "-b", branch,
             f"--tree=ref={parent}", f"--tree=dir={overlay}", "--bootable",
             f"--add-metadata-string=version={version}", f"--subject={subject}"],
            timeout=300, log=self.log)
        # (no --owner-uid/--owner-gid: a commit modifier makes ostree rewrite every file of
        # the parent tree, 17 s instead of 0.1 s; the overlay is root-owned anyway)
        return self.rev_parse(branch)

    def rev_parse(self, ref: str) -> str:
        return output(["ostree", "rev-parse", f"--repo={self.path}", ref], timeout=30)

    def set_ref(self, branch: str, commit: str):
        run(["ostree", "refs", f"--repo={self.path}", "--force", f"--create={branch}", commit],
            timeout=30, log=self.log)
        run(["ostree", "summary", f"--repo={self.path}", "-u"], timeout=60, log=self.log)


def release_overlay(dest: Path, version_marker: str, *, binary: Path | None = None,
                    dist: Path | None = None, enable: tuple[str, ...] = (),
                    files: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """A directory to commit on top of a release: the marker /usr/share/testos/version and,
    for the first release, the product (binary + dist/usr units, `enable`d units); `files`
    adds scenario files (path relative to / -> (content, mode)), e.g. test units in
    /usr/lib/systemd/system."""
    remove_tree(dest)
    (dest / "usr/share/testos").mkdir(parents=True, mode=0o755)
    (dest / "usr/share/testos/version").write_text(version_marker + "\n")
    for rel, (content, mode) in (files or {}).items():
        f = dest / rel.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):  # a symlink's target, e.g. a unit's .wants/ link
            _symlink(content, f)
            continue
        if isinstance(content, Path):
            shutil.copy(content, f)
        else:
            f.write_bytes(content)
        os.chmod(f, mode)
    if binary:
        (dest / "usr/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy(binary, dest / "usr/bin/bootc-checkpoint")
        os.chmod(dest / "usr/bin/bootc-checkpoint", 0o755)
    if dist and (dist / "usr").is_dir():
        run(["cp", "-r", "--preserve=mode,links", "--no-target-directory", dist / "usr",
             dest / "usr"], timeout=60)
    for unit in enable:
        for target in _wanted_by(dest / "usr/lib/systemd/system" / unit):
            _symlink(f"/usr/lib/systemd/system/{unit}",
                     dest / "usr/etc/systemd/system" / f"{target}.wants" / unit)
    for d in [dest, *dest.rglob("*")]:
        if d.is_dir() and not d.is_symlink():
            os.chmod(d, 0o755)
    return dest


def _wanted_by(unit: Path) -> list[str]:
    if not unit.exists():
        raise HarnessError(f"cannot enable {unit.name}: {unit} does not exist (dist/ units?)")
    targets = []
    for line in unit.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "WantedBy":
            targets += value.split()
    if not targets:
        raise HarnessError(f"cannot enable {unit}: no WantedBy= in [Install]")
    return targets


# ---------------------------------------------------------------- sysroot + disk image

def make_disk(host_repo: HostRepo, remote_url: str, work: Path, disk: Path, log: Path,
              size: str = "4G", kargs=KARGS, stateroot: str = STATEROOT):
    """A physical sysroot following `origin:os/stable` (remote `origin` = `remote_url`, the
    host repo as the guest sees it), deployed from the repo's current os/stable, as a raw
    whole-disk ext4 image (no partition table, no boot loader: the harness boots it)."""
    s = work / "sysroot"
    remove_tree(s)
    s.mkdir(parents=True)
    repo = s / "ostree/repo"
    run(["ostree", "admin", "init-fs", s], timeout=60, log=log)
    run(["ostree", "admin", f"--sysroot={s}", "os-init", stateroot], timeout=60, log=log)
    run(["ostree", "config", f"--repo={repo}", "set", "sysroot.bootloader", "none"],
        timeout=30, log=log)
    run(["ostree", "remote", "add", f"--repo={repo}", "--no-gpg-verify", "origin", remote_url],
        timeout=30, log=log)
    run(["ostree", "pull-local", f"--repo={repo}", "--remote=origin", host_repo.path,
         HostRepo.BRANCH], timeout=600, log=log)
    run(["ostree", "admin", "deploy", f"--sysroot={s}", f"--os={stateroot}",
         *[f"--karg={k}" for k in kargs], f"origin:{HostRepo.BRANCH}"], timeout=600, log=log)
    disk.unlink(missing_ok=True)
    run(["truncate", "-s", size, disk], timeout=30)
    run(["mkfs.ext4", "-q", "-F", "-L", "testos-root", "-d", s, disk], timeout=600, log=log)
    remove_tree(s)


def make_container_disk(helper: Path, source: str, target: str,
                        work: Path, disk: Path, log: Path, size: str = "4G", kargs=KARGS,
                        stateroot: str = STATEROOT):
    """Like `make_disk`, for a container-image host: the sysroot is deployed with ostree-ext
    from image `source` (the host's registry, pinned by digest) and its origin follows
    `target` (`container-image-reference=…`, the registry as the guest sees it)."""
    s = work / "sysroot"
    remove_tree(s)
    s.mkdir(parents=True)
    run(["ostree", "admin", "init-fs", s], timeout=60, log=log)
    run(["ostree", "admin", f"--sysroot={s}", "os-init", stateroot], timeout=60, log=log)
    run(["ostree", "config", f"--repo={s / 'ostree/repo'}", "set", "sysroot.bootloader", "none"],
        timeout=30, log=log)
    run([helper, "deploy", s, stateroot, source, target, *kargs],
        timeout=900, log=log)
    disk.unlink(missing_ok=True)
    run(["truncate", "-s", size, disk], timeout=30)
    run(["mkfs.ext4", "-q", "-F", "-L", "testos-root", "-d", s, disk], timeout=600, log=log)
    remove_tree(s)
