"""What scenarios read from a running guest: ostree's own view, the origin files, the engine's
status and state file, the product's systemd units."""

import hashlib
import json
import re
import shlex
from dataclasses import dataclass

from .util import CheckFailed
from .vm import VM

BIN = "/usr/bin/bootc-checkpoint"
STATE_FILE = "/var/lib/bootc-checkpoint/state.json"
MARKER = "/usr/share/testos/version"
RESUME_UNIT = "bootc-checkpoint-resume.service"
MOTD = "/run/motd.d/85-bootc-checkpoint.motd"
METRICS = "/run/bootc-checkpoint/metrics.prom"


@dataclass
class OstreeDeployment:
    stateroot: str
    commit: str
    serial: int
    booted: bool
    flags: tuple  # e.g. ("staged",), ("rollback",), ("pending",)
    version: str | None
    refspec: str | None

    @property
    def name(self) -> str:
        return f"{self.commit}.{self.serial}"


_DEPLOY_LINE = re.compile(r"^([* ]) (\S+) ([0-9a-f]{64})\.(\d+)(?: \(([^)]*)\))?\s*$")


def parse_admin_status(text: str) -> list[OstreeDeployment]:
    """Parse `ostree admin status` (ostree 2022.7 text output)."""
    deployments = []
    for line in text.splitlines():
        m = _DEPLOY_LINE.match(line)
        if m:
            flags = tuple(f.strip() for f in (m.group(5) or "").split(",") if f.strip())
            deployments.append(OstreeDeployment(m.group(2), m.group(3), int(m.group(4)),
                                                m.group(1) == "*", flags, None, None))
            continue
        if not deployments:
            continue
        s = line.strip()
        if s.startswith("Version:"):
            deployments[-1].version = s.split(":", 1)[1].strip()
        elif s.startswith("origin refspec:"):
            deployments[-1].refspec = s.split(":", 1)[1].strip()
    return deployments


def parse_state_file(text: str, where: str = STATE_FILE) -> dict:
    """The `state` of a journey state file's text, envelope and checksum verified as
    docs/state.md describes them (a CheckFailed otherwise)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise CheckFailed(f"{where} is not JSON:\n{text}")
    raw = [l[len('  "state": '):] for l in text.splitlines() if l.startswith('  "state": ')]
    digest = "sha256:" + hashlib.sha256(raw[0].encode()).hexdigest() if raw else None
    if doc.get("schemaVersion") != 1 or doc.get("checksum") != digest:
        raise CheckFailed(f"{where}: bad envelope (schemaVersion "
                          f"{doc.get('schemaVersion')}, checksum {doc.get('checksum')}, "
                          f"content {digest}):\n{text}")
    return doc["state"]


class Guest:
    """Scenario-level view of a VM."""

    def __init__(self, vm: VM):
        self.vm = vm

    def marker(self) -> str:
        return self.vm.sh(f"cat {MARKER}").out.strip()

    def ostree_status(self) -> tuple[str, list[OstreeDeployment]]:
        text = self.vm.sh("ostree admin status").out
        return text, parse_admin_status(text)

    def origin_file(self, d: OstreeDeployment) -> str:
        return self.vm.sh(f"cat /ostree/deploy/{d.stateroot}/deploy/{d.name}.origin").out

    def cli(self, args: str, timeout: float = 300, check_exit: bool = True) -> dict:
        """Run bootc-checkpoint with --format json; the parsed document (or a CheckFailed)."""
        r = self.vm.sh(f"{BIN} {args} --format json", timeout=timeout, check=False)
        if check_exit and r.code != 0:
            raise CheckFailed(f"bootc-checkpoint {args}: {r}")
        try:
            return json.loads(r.out)
        except json.JSONDecodeError:
            raise CheckFailed(f"bootc-checkpoint {args}: output is not JSON: {r}")

    def json_file(self, path: str, stderr_file: str | None = None) -> dict:
        """A JSON document a guest command wrote (its stderr file is shown on failure)."""
        r = self.vm.sh(f"cat {path}" + (f"; cat {stderr_file} >&2" if stderr_file else ""),
                       check=False)
        try:
            return json.loads(r.out)
        except json.JSONDecodeError:
            raise CheckFailed(f"{path} is not JSON: {r}")

    def state(self) -> dict | None:
        """The `state` of the journey state file (envelope and checksum verified as
        docs/state.md describes them), or None when there is no file."""
        r = self.vm.sh(f"cat {STATE_FILE}", check=False)
        if r.code != 0:
            return None
        return parse_state_file(r.out)

    def unit(self, unit: str) -> dict:
        props = "Result,ExecMainStatus,ActiveState,ExecMainStartTimestampMonotonic,ConditionResult"
        out = self.vm.sh(f"systemctl show -p {props} {shlex.quote(unit)}").out
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    def unit_log(self, unit: str) -> str:
        return self.vm.sh(f"journalctl -b -u {shlex.quote(unit)} -o cat --no-pager").out

    def target_reached_at(self, target: str) -> int:
        out = self.vm.sh(f"systemctl show -p ActiveEnterTimestampMonotonic {target}").out
        return int(out.strip().split("=", 1)[1] or 0)

    def unresolved_libs(self) -> list[str]:
        out = self.vm.sh(f"ldd {BIN}").out
        return [l.strip() for l in out.splitlines() if "not found" in l]

    def motd(self) -> str | None:
        """The engine's motd snippet (docs/runtime.md), or None when there is none."""
        r = self.vm.sh(f"cat {MOTD}", check=False)
        return r.out if r.code == 0 else None

    def metrics(self) -> dict[str, float]:
        """The engine's Prometheus textfile: `name{labels}` -> value."""
        out = self.vm.sh(f"cat {METRICS}").out
        result = {}
        for line in out.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                result[key] = float(value)
        return result
