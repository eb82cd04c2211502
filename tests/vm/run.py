#!/usr/bin/env python3
"""Run the VM scenarios: real ostree boots under QEMU (see tests/vm/README.md).

    python3 tests/vm/run.py                      # every scenario
    python3 tests/vm/run.py --scenario NAME      # one (repeatable)
    python3 tests/vm/run.py --keep               # keep run dirs (disk, logs) even on success
    python3 tests/vm/run.py --boot RUNDIR        # boot a kept disk, serial console on this tty
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bootloader, image  # noqa: E402
from harness.httpserve import Server  # noqa: E402
from harness.scenario import GUEST_REPO_ADDR, Context  # noqa: E402
from harness.util import (REPO_ROOT, CheckFailed, Clock, HarnessError, need_tools,  # noqa: E402
                          remove_tree, run)
from scenarios import (container_image_journey, health_check_fails,  # noqa: E402
                       ostree_ref_journey, power_cut_finalization, power_cut_finalizing,
                       power_cut_staging, registry_outage, two_checkpoints)

SCENARIOS = {s.NAME: s for s in (ostree_ref_journey, two_checkpoints, power_cut_finalization,
                                 power_cut_staging, power_cut_finalizing, health_check_fails,
                                 registry_outage, container_image_journey)}
SCENARIO_TIME_LIMIT = 900  # seconds, on top of every step's own limit
HOST_TOOLS = ("mmdebstrap", "qemu-system-x86_64", "socat", "ostree", "debugfs", "e2fsck",
              "mkfs.ext4", "cpio", "chattr", "gcc", "pkg-config", "skopeo", "docker-registry")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                   help="run only this scenario (repeatable)")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("--keep", action="store_true",
                   help="keep each scenario's run dir (disk image, repo, logs) after success")
    p.add_argument("--binary", type=Path, default=os.environ.get("BOOTC_CHECKPOINT_VM_BINARY"),
                   help="bootc-checkpoint binary to install (default: cargo build --release)")
    p.add_argument("--runs-dir", type=Path, default=os.environ.get("BOOTC_CHECKPOINT_VM_RUNS"),
                   help="where run dirs go (default: target/vm-runs)")
    p.add_argument("--boot", type=Path, metavar="RUNDIR",
                   help="boot the disk of a kept run dir with the serial console attached")
    args = p.parse_args()

    if args.list:
        for name, s in SCENARIOS.items():
            print(f"{name:24} {s.SUMMARY}")
        return 0
    if args.boot:
        return boot_interactive(args.boot)
    if os.geteuid() != 0:
        print("vm: the harness needs root (mmdebstrap, ostree admin, chattr)", file=sys.stderr)
        return 2
    need_tools(*HOST_TOOLS)

    clock = Clock()
    runs = args.runs_dir or (REPO_ROOT / "target" / "vm-runs")
    top = runs / time.strftime("%Y%m%d-%H%M%S")
    top.mkdir(parents=True)
    names = args.scenario or list(SCENARIOS)
    passed, failed = [], []
    try:
        with clock.step("bootc-checkpoint binary"):
            binary = (args.binary or build_binary(top / "cargo.log")).resolve()
            if not binary.is_file():
                raise HarnessError(f"no bootc-checkpoint binary at {binary}")
            clock.say(f"binary: {binary}")
        with clock.step("base image (cached by recipe)"):
            base_ref = image.base_commit(clock, top / "build.log", top)
    except HarnessError as e:
        print(f"\nvm: image build failed: {e}\nlogs: {top}", file=sys.stderr)
        print(f"vm: 0 passed, {len(names)} failed")
        return 1

    totals = []
    for name in names:
        ok, total = run_scenario(SCENARIOS[name], top / name, base_ref, binary, args.keep)
        (passed if ok else failed).append(name)
        totals.append((f"scenario {name} ({'passed' if ok else 'FAILED'})", total))

    print("\ntimings:")
    for step, dt in clock.timings + totals:
        print(f"  {dt:7.1f}s  {step}")
    print(f"  {time.monotonic() - clock.t0:7.1f}s  total")
    if failed:
        print(f"\nvm: failed: {', '.join(failed)} (run dirs under {top})")
    elif not args.keep:
        shutil.rmtree(top, ignore_errors=True)
    print(f"vm: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def build_binary(log: Path) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    run(["cargo", "build", "--release", "-p", "bootc-checkpoint"], cwd=REPO_ROOT, timeout=3600,
        log=log)
    return target / "release" / "bootc-checkpoint"


class _TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise _TimeLimit()


def run_scenario(scenario, run_dir: Path, base_ref: str, binary: Path, keep: bool) -> bool:
    clock = Clock()
    run_dir.mkdir(parents=True)
    print(f"\n=== {scenario.NAME}: {scenario.SUMMARY}", flush=True)
    ctx = Context(scenario.NAME, run_dir, clock, base_ref, binary)
    error = None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SCENARIO_TIME_LIMIT)
    try:
        scenario.run(ctx)
    except CheckFailed as e:
        error = f"check failed: {e}"
    except HarnessError as e:
        error = f"harness error: {e}"
    except _TimeLimit:
        error = f"time limit: the scenario ran longer than {SCENARIO_TIME_LIMIT}s"
    except Exception:  # a bug in the scenario or harness: show where
        error = "unexpected error:\n" + traceback.format_exc()
    finally:
        signal.alarm(0)
        ctx.close()
    total = time.monotonic() - clock.t0
    lines = [f"{dt:7.1f}s  {step}" for step, dt in clock.timings]
    lines += [f"boot {b.n} ({b.entry.title}): guest agent after {b.agent_s:.1f}s, startup "
              f"finished after {b.running_s:.1f}s" for b in (ctx.vm.boots if ctx.vm else [])]
    lines.append(f"{total:7.1f}s  {scenario.NAME} total")
    print(f"\n--- {scenario.NAME} timings\n" + "\n".join(lines))
    (run_dir / "timings.txt").write_text("\n".join(lines) + "\n")
    if error:
        print(f"\nFAIL {scenario.NAME} after {total:.0f}s: {error}\n"
              f"     logs, disk and repo kept in {run_dir}\n"
              f"     (serial-N.log, journal-N.log, commands.log, qga.log, http.log, build.log;"
              f" boot it: tests/vm/run.py --boot {run_dir})", flush=True)
        return False, total
    print(f"PASS {scenario.NAME} in {total:.0f}s", flush=True)
    if not keep:
        remove_tree(run_dir)
    return True, total


def boot_interactive(run_dir: Path) -> int:
    """Boot a kept run dir's disk (default boot entry) with the serial console on stdio; the
    host repo is served again so the guest's remote works. Quit with Ctrl-a x."""
    disk = run_dir / "disk.img"
    if not disk.exists():
        print(f"vm: no disk.img in {run_dir}", file=sys.stderr)
        return 2
    bootloader.replay_journal(disk)
    entry = bootloader.default_entry(bootloader.entries(disk))
    kernel, initrd = bootloader.extract(disk, entry, run_dir)
    server = Server(run_dir / "repo", run_dir / "http-interactive.log")
    print(f"booting {entry.title}: {entry.options}\n(root autologin; quit with Ctrl-a x)")
    try:
        return subprocess.call([
            "qemu-system-x86_64", "-accel", "tcg,tb-size=256", "-machine", "q35", "-nodefaults",
            "-no-user-config", "-display", "none", "-m", "1024", "-smp", "2", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", entry.options,
            "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe",
            "-netdev", f"user,id=n0,restrict=on,guestfwd=tcp:{GUEST_REPO_ADDR}-cmd:socat STDIO "
                       f"TCP:127.0.0.1:{server.port}",
            "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci",
            "-serial", "mon:stdio"])
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
