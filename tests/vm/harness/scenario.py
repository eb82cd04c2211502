"""What a scenario gets: its run directory, the host-side release repository served to the
guest, the VM, and `check` for assertions."""

import json
from dataclasses import dataclass
from pathlib import Path

from . import image
from .guest import Guest
from .httpserve import Server
from .util import CheckFailed, Clock, REPO_ROOT
from .vm import VM

GUEST_REPO_ADDR = "10.0.2.100:80"          # guestfwd -> the host repo's HTTP server
GUEST_REPO_URL = "http://10.0.2.100/"
REFSPEC = f"origin:{image.HostRepo.BRANCH}"
GUEST_REGISTRY_ADDR = "10.0.2.100:5000"   # guestfwd -> the host's docker-registry


@dataclass
class Release:
    name: str       # marker in /usr/share/testos/version
    version: str    # ostree commit metadata `version`
    commit: str


class Context:
    def __init__(self, name: str, run_dir: Path, clock: Clock, base_ref: str, binary: Path):
        self.name, self.dir, self.clock = name, run_dir, clock
        self.base_ref, self.binary = base_ref, binary
        self.log = run_dir / "build.log"
        self.repo = image.HostRepo(run_dir / "repo", self.log)
        self.server: Server | None = None
        self.registry = None  # harness.registry.Registry, for container-image hosts
        self.vm: VM | None = None
        self.releases: dict[str, Release] = {}

    # ------------------------------------------------------------ host side

    def publish(self, name: str, version: str, files: dict | None = None) -> Release:
        """Commit release `name` on os/stable: the first one is the base plus the product
        (bootc-checkpoint, dist/ units, resume unit enabled), later ones add a new marker;
        `files` ({path: (bytes, a host Path or a symlink target str, mode)}) adds scenario
        files to this release (and so to the ones built on it)."""
        first = not self.releases
        if first:
            self.repo.create_from_cache(self.base_ref)
        overlay = image.release_overlay(
            self.dir / f"overlay-{name}", name,
            binary=self.binary if first else None,
            dist=REPO_ROOT / "dist" if first else None,
            enable=("bootc-checkpoint-resume.service",) if first else (), files=files)
        parent = self.base_ref if first else self.repo.BRANCH
        commit = self.repo.commit(parent, overlay, version, f"release {name} ({version})")
        image.remove_tree(overlay)
        r = Release(name, version, commit)
        self.releases[name] = r
        self.clock.say(f"published {name} = {version} = {commit[:12]} on {self.repo.BRANCH}")
        return r

    def make_disk(self) -> Path:
        """Install the host from the current os/stable (following origin:os/stable)."""
        disk = self.dir / "disk.img"
        image.make_disk(self.repo, GUEST_REPO_URL, self.dir, disk, self.log)
        return disk

    def graph(self, entries: list[tuple[Release, bool]]) -> bytes:
        """A native graph over `entries` (release, is_checkpoint), oldest first."""
        releases = []
        for r, checkpoint in entries:
            rel = {"version": r.version, "commit": r.commit}
            if checkpoint:
                rel["checkpoint"] = {"reason": f"https://example.com/testos/{r.name}"}
            releases.append(rel)
        doc = {"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
               "metadata": {"stream": "stable", "serial": 1}, "releases": releases}
        return json.dumps(doc, indent=2).encode()

    def setup_journey(self, later: list[tuple[str, str, bool]]) -> tuple[list[Release], bytes, Guest]:
        """The common start of a journey scenario: publish A (2025.1) and install the host
        from it, publish `later` releases (name, version, is_checkpoint) on os/stable, and
        start the VM (not booted yet). Returns (releases, A first; the graph; the guest)."""
        step = self.clock.step
        with step("publish A and install the host from it"):
            a = self.publish("A", "2025.1")
            disk = self.make_disk()
        names = [n for n, _, _ in later]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        with step(f"publish {listed} (os/stable -> {names[-1]})"):
            rels = [a] + [self.publish(n, v) for n, v, _ in later]
            graph = self.graph([(a, False)] + [(r, cp) for r, (_, _, cp) in zip(rels[1:], later)])
        return rels, graph, self.start_vm(disk)

    # ------------------------------------------------------------ the VM

    def start_vm(self, disk: Path, loader=None) -> Guest:
        self.server = Server(self.repo.path, self.dir / "http.log")
        fwd = {GUEST_REPO_ADDR: self.server.port}
        if self.registry:
            fwd[GUEST_REGISTRY_ADDR] = self.registry.port
        self.vm = VM(disk, self.dir, self.clock, guestfwd=fwd, loader=loader)
        return Guest(self.vm)

    def close(self):
        if self.vm:
            self.vm.close()
        if self.server:
            self.server.close()
        if self.registry:
            self.registry.close()

    # ------------------------------------------------------------ assertions

    def check(self, ok: bool, what: str, detail=""):
        if not ok:
            if not isinstance(detail, str):
                detail = json.dumps(detail, indent=2, default=str)
            raise CheckFailed(f"{what}\n{detail}".rstrip())
        self.clock.say(f"  ok: {what}")

    def check_eq(self, actual, expected, what: str, detail=""):
        if actual != expected:
            extra = detail if isinstance(detail, str) else json.dumps(detail, indent=2,
                                                                      default=str)
            raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}\n{extra}".rstrip())
        self.clock.say(f"  ok: {what} = {actual!r}" if len(repr(actual)) < 70 else
                       f"  ok: {what}")
