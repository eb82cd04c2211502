"""One test VM: a disk image, qemu under TCG, the harness as boot loader, the guest agent.

qemu runs with -no-reboot: a guest reboot makes qemu exit; `boot()` then reads the disk's boot
entries like a boot loader and starts qemu again. Each boot writes serial-<n>.log; the guest
journal of boot <n> is saved as journal-<n>.log before a reboot and again, complete with its
shutdown, from the next boot.
"""

import base64
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import bootloader
from .qga import Agent, AgentGone
from .util import Clock, HarnessError

AGENT_TIMEOUT = 180      # qemu start -> guest agent answers
RUNNING_TIMEOUT = 180    # agent answers -> systemd finished starting up
SHUTDOWN_TIMEOUT = 180   # reboot/poweroff requested -> qemu exited


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Boot:
    n: int
    entry: bootloader.Entry
    boot_id: str = ""
    agent_s: float = 0.0
    running_s: float = 0.0
    state: str = ""
    failed_units: list = field(default_factory=list)
    blessed: bool | None = None   # reached boot-complete.target (set by a Greenboot loader)


class VM:
    def __init__(self, disk: Path, run_dir: Path, clock: Clock, *, mem: int = 1024, smp: int = 2,
                 guestfwd: dict[str, int] | None = None,
                 extra_kargs: tuple[str, ...] = ("panic=-1",), loader=None):
        self.disk, self.dir, self.clock = disk, run_dir, clock
        self.mem, self.smp = mem, smp
        self.guestfwd = guestfwd or {}
        self.extra_kargs = extra_kargs
        # None: boot the default entry (or `select`'s choice); else an object with
        # choose(disk, entries) -> (entry, extra kargs) and booted(vm, boot), e.g.
        # bootloader.Greenboot (boot counting with fallback)
        self.loader = loader
        self.proc: subprocess.Popen | None = None
        self.agent: Agent | None = None
        self.boots: list[Boot] = []
        self.cmdlog = open(run_dir / "commands.log", "a", buffering=1)
        self.sock_dir = Path(tempfile.mkdtemp(prefix="bcvm-"))

    # ------------------------------------------------------------------ lifecycle

    def boot(self, select=bootloader.default_entry, wait_running: bool = True) -> Boot:
        """Act as the boot loader, start qemu and wait until the guest has finished booting
        (with `wait_running=False` only until the guest agent answers: e.g. to cut the power
        while a boot-time unit still runs)."""
        if self.proc and self.proc.poll() is None:
            raise HarnessError("boot() while qemu is still running")
        n = len(self.boots) + 1
        bootloader.replay_journal(self.disk)
        es = bootloader.entries(self.disk)
        if self.loader:
            entry, kargs = self.loader.choose(self.disk, es)
        else:
            entry, kargs = select(es), ()
        kernel, initrd = bootloader.extract(self.disk, entry, self.dir)
        b = Boot(n, entry)
        self.boots.append(b)
        sock = self.sock_dir / "qga.sock"  # short path: unix socket paths max 107 bytes
        sock.unlink(missing_ok=True)
        cmdline = " ".join([entry.options, *self.extra_kargs, *kargs])
        netdev = "user,id=n0,restrict=on"
        for addr, port in self.guestfwd.items():
            netdev += f",guestfwd=tcp:{addr}-cmd:socat STDIO TCP:127.0.0.1:{port}"
        argv = [
            "qemu-system-x86_64", "-accel", "tcg,tb-size=256", "-machine", "q35",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-m", str(self.mem), "-smp", str(self.smp),
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
            "-drive", f"file={self.disk},format=raw,if=virtio,cache=unsafe",
            "-chardev", f"socket,id=qga0,path={sock},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
            "-serial", f"file:{self.dir / f'serial-{n}.log'}",
        ]
        self.clock.say(f"boot {n}: {entry.title} ({entry.deployment()})")
        with open(self.dir / "qemu.log", "ab") as qlog:
            qlog.write(f"\n# boot {n}: {' '.join(argv)}\n".encode())
            qlog.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog,
                                         stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        self.agent = self._connect(sock, t0 + AGENT_TIMEOUT)
        try:
            self.agent.sync(max(1.0, t0 + AGENT_TIMEOUT - time.monotonic()))
        except AgentGone as e:
            self._died(f"boot {n} ({e})")
        except HarnessError as e:
            self.kill()
            raise HarnessError(f"boot {n}: {e}; {self._serial_tail()}")
        b.agent_s = time.monotonic() - t0
        b.boot_id = self.sh("cat /proc/sys/kernel/random/boot_id").out.strip()
        if any(x.boot_id == b.boot_id for x in self.boots[:-1]):
            raise HarnessError(f"boot {n}: the guest agent answered from an earlier boot")
        if n > 1:  # the previous boot's whole journal, including its shutdown
            self._save_journal(n - 1, "-b -1")
        if not wait_running:
            self.clock.say(f"boot {n}: agent after {b.agent_s:.1f}s (not waiting for startup)")
            return b
        # Startup finished => ostree-finalize-staged.path is active (a hop staged from now on
        # is finalized at shutdown) and units after boot-complete.target have run.
        r = self.sh("systemctl is-system-running --wait", timeout=RUNNING_TIMEOUT, check=False)
        b.state = r.out.strip()
        b.running_s = time.monotonic() - t0
        if b.state not in ("running", "degraded"):
            raise HarnessError(f"boot {n}: system state {b.state!r} after startup")
        if b.state == "degraded":
            b.failed_units = self.sh("systemctl list-units --failed --plain --no-legend "
                                     "| awk '{print $1}'").out.split()
        self.clock.say(f"boot {n}: agent after {b.agent_s:.1f}s, {b.state} after "
                       f"{b.running_s:.1f}s" + (f"; failed units: {b.failed_units}"
                                                if b.failed_units else ""))
        if self.loader:
            self.loader.booted(self, b)
        return b

    def _connect(self, sock: Path, deadline: float) -> Agent:
        while True:
            if self.proc.poll() is not None:
                self._died("startup")
            try:
                return Agent(sock, self.dir / "qga.log")
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise HarnessError("qemu never opened the guest agent socket; "
                                   + self._serial_tail())
                time.sleep(0.05)

    def _died(self, when: str):
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        raise HarnessError(f"qemu exited during {when} (rc={self.proc.returncode}); "
                           f"{self._serial_tail()}")

    def serial(self) -> str:
        """The current boot's serial console output so far."""
        try:
            return (self.dir / f"serial-{len(self.boots)}.log").read_text(errors="replace")
        except OSError:
            return ""

    def wait_serial(self, needle: str, timeout: float, what: str) -> float:
        """Wait until the current boot's serial console shows `needle`; when (monotonic)."""
        deadline = time.monotonic() + timeout
        while needle not in self.serial():
            if self.proc.poll() is not None:
                raise HarnessError(f"{what}: qemu exited before the console showed {needle!r}; "
                                   + self._serial_tail())
            if time.monotonic() > deadline:
                raise HarnessError(f"{what}: the console did not show {needle!r} within "
                                   f"{timeout:.0f}s; " + self._serial_tail())
            time.sleep(0.05)
        return time.monotonic()

    def _serial_tail(self, lines: int = 12) -> str:
        p = self.dir / f"serial-{len(self.boots)}.log"
        try:
            tail = p.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"no serial log ({p})"
        return f"end of {p}:\n" + "\n".join("    " + l for l in tail)

    def save_journal(self):
        """The current boot's journal so far (journal-<n>.log; completed at the next boot)."""
        self._save_journal(len(self.boots), "-b")

    def _save_journal(self, n: int, which: str):
        r = self.sh(f"journalctl {which} --no-pager -o short-monotonic", timeout=60, check=False)
        (self.dir / f"journal-{n}.log").write_text(r.out + r.err)

    def reboot(self, select=bootloader.default_entry, wait_running: bool = True) -> Boot:
        """A real reboot: systemd's shutdown runs (ostree-finalize-staged writes the new boot
        entry), qemu exits, and the harness boots the entry ostree made the default."""
        self.save_journal()
        t = time.monotonic()
        self._spawn(["systemctl", "reboot"])
        self.wait_exit(SHUTDOWN_TIMEOUT, "reboot")
        self.clock.say(f"shutdown took {time.monotonic() - t:.1f}s")
        return self.boot(select, wait_running)

    def start_reboot(self):
        """Ask the guest to reboot and return at once (e.g. to cut the power during its
        shutdown); `wait_exit` or `kill` next."""
        self.save_journal()
        self._spawn(["systemctl", "reboot"])

    def wait_exit(self, timeout: float, what: str):
        """Wait for the guest to stop (it reboots or powers off by itself)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise HarnessError(f"{what}: the guest did not shut down within {timeout:.0f}s; "
                               + self._serial_tail())
        self._drop_agent()

    def poweroff(self):
        self.save_journal()
        self._spawn(["systemctl", "poweroff"])
        self.wait_exit(SHUTDOWN_TIMEOUT, "poweroff")

    def kill(self):
        """Pull the plug."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._drop_agent()

    def _drop_agent(self):
        if self.agent:
            self.agent.close()
            self.agent = None

    # ------------------------------------------------------------------ guest commands

    def sh(self, script: str, timeout: float = 120, check: bool = True,
           stdin: bytes | None = None) -> Result:
        """Run a shell script in the guest (as root) and return its result."""
        if not self.agent:
            raise HarnessError(f"guest is not running (command: {script})")
        t = time.monotonic()
        try:
            code, out, err = self.agent.exec(["/bin/sh", "-c", script], timeout, stdin)
        except AgentGone:
            self._died(f"guest command {script!r}")
        r = Result(code, out.decode(errors="replace"), err.decode(errors="replace"))
        self.cmdlog.write(f"\n# boot {len(self.boots)}, {time.monotonic() - t:.1f}s\n"
                          f"$ {script}\n{r}\n")
        if check and r.code != 0:
            raise HarnessError(f"guest command failed: {script}\n{r}")
        return r

    def spawn_sh(self, script: str):
        """Start a shell script in the guest without waiting (e.g. one that reboots)."""
        self.cmdlog.write(f"\n# boot {len(self.boots)} (not waited for)\n$ {script}\n")
        self._spawn(["/bin/sh", "-c", script])

    def run_until_shutdown(self, script: str, what: str, timeout: float = 300,
                           grace: float = 60) -> Result | None:
        """Run a script that ends by shutting the guest down (e.g. `upgrade --apply`) and wait
        for qemu to exit. Fails early when the script fails, or when it succeeded but the guest
        is still up `grace` seconds later. Returns the script's result if it was seen."""
        self.cmdlog.write(f"\n# boot {len(self.boots)} (runs until shutdown)\n$ {script}\n")
        self.save_journal()
        pid = self.agent.call("guest-exec", path="/bin/sh", arg=["-c", script],
                              **{"capture-output": True})["pid"]
        t0 = time.monotonic()
        result, done_at = None, None
        while self.proc.poll() is None:
            now = time.monotonic()
            if now - t0 > timeout or (done_at and now - done_at > grace):
                self.kill()
                raise HarnessError(f"{what}: the guest did not shut down "
                                   f"({'script finished: ' + str(result) if result else 'script still running'})")
            if result is None and self.agent:
                try:
                    st = self.agent.call("guest-exec-status", pid=pid, timeout=5)
                except (AgentGone, HarnessError):
                    st = {}  # the agent is being stopped: shutdown under way
                    self._drop_agent()
                if st.get("exited"):
                    result = Result(st.get("exitcode", -1),
                                    base64.b64decode(st.get("out-data", "")).decode(errors="replace"),
                                    base64.b64decode(st.get("err-data", "")).decode(errors="replace"))
                    self.cmdlog.write(f"{result}\n")
                    done_at = time.monotonic()
                    if result.code != 0:
                        self.kill()
                        raise HarnessError(f"{what} failed in the guest: {result}")
            time.sleep(0.2)
        self._drop_agent()
        self.clock.say(f"{what}: guest went down {time.monotonic() - t0:.1f}s after the command")
        return result

    def _spawn(self, argv):
        try:
            self.agent.spawn(argv)
        except AgentGone:
            pass  # already going down

    def write_file(self, path: str, data: bytes, mode: str = "0644"):
        """Write a file in the guest and sync it: a scenario's fixture (e.g. the graph) must
        survive the power cuts the scenarios cause."""
        d = os.path.dirname(path)
        self.sh(f"mkdir -p '{d}' && cat > '{path}' && chmod {mode} '{path}' && sync '{path}'",
                stdin=data)

    def read_file_offline(self, path: str) -> bytes | None:
        """A file from the stopped VM's disk (sysroot paths, e.g. the stateroot's /var)."""
        bootloader.replay_journal(self.disk)
        return bootloader.read_file(self.disk, path)

    def close(self):
        if self.agent and self.proc and self.proc.poll() is None:
            try:  # a failing scenario: keep what the guest logged so far
                self.save_journal()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self.kill()
        self.cmdlog.close()
        shutil.rmtree(self.sock_dir, ignore_errors=True)
