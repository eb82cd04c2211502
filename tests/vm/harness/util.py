"""Small helpers shared by the harness: errors, timed steps, subprocesses with hard limits."""

import hashlib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
VM_DIR = REPO_ROOT / "tests" / "vm"


class HarnessError(Exception):
    """The harness itself failed (build, qemu, guest agent): not a verdict on the product."""


class CheckFailed(Exception):
    """A scenario assertion failed: the product misbehaved (or the scenario is wrong)."""


def cache_dir() -> Path:
    d = os.environ.get("BOOTC_CHECKPOINT_VM_CACHE")
    p = Path(d) if d else Path.home() / ".cache" / "bootc-checkpoint-vm"
    p.mkdir(parents=True, exist_ok=True)
    return p


def sha256_hex(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """Digest of a directory's paths, modes, link targets and file contents."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        st = p.lstat()
        h.update(f"{rel}\0{st.st_mode:o}\0".encode())
        if p.is_symlink():
            h.update(os.readlink(p).encode())
        elif p.is_file():
            h.update(file_sha256(p).encode())
    return h.hexdigest()


class Clock:
    """Prints progress lines with the elapsed time and remembers each step's duration."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.timings: list[tuple[str, float]] = []

    def say(self, msg: str):
        print(f"[{time.monotonic() - self.t0:7.1f}s] {msg}", flush=True)

    def step(self, name: str):
        return _Step(self, name)


class _Step:
    def __init__(self, clock: Clock, name: str):
        self.clock, self.name = clock, name

    def __enter__(self):
        self.t = time.monotonic()
        self.clock.say(f"{self.name} ...")
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.monotonic() - self.t
        self.clock.timings.append((self.name, dt))
        verdict = "done" if exc_type is None else "FAILED"
        self.clock.say(f"{self.name}: {verdict} in {dt:.1f}s")
        return False


def run(argv, *, timeout: float, log: Path | None = None, check=True, capture=False,
        cwd=None, env=None, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run a host command with a hard time limit. Output goes to `log` (appended) unless
    `capture`; on failure the error names the command and shows the end of its output."""
    argv = [str(a) for a in argv]
    cmdline = shlex.join(argv)
    out_f = None
    try:
        if capture:
            stdout, stderr = subprocess.PIPE, subprocess.PIPE
        else:
            out_f = open(log, "ab") if log else None
            if out_f:
                out_f.write(f"\n$ {cmdline}\n".encode())
                out_f.flush()
            stdout = out_f or subprocess.DEVNULL
            stderr = subprocess.STDOUT if out_f else subprocess.PIPE
        try:
            r = subprocess.run(argv, stdout=stdout, stderr=stderr, cwd=cwd, env=env,
                               input=input, timeout=timeout,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"timed out after {timeout:.0f}s: {cmdline}"
                               + (f" (log: {log})" if log else ""))
    finally:
        if out_f:
            out_f.close()
    if check and r.returncode != 0:
        tail = ""
        if capture or not log:
            tail = (r.stderr or b"").decode(errors="replace")[-3000:]
        elif log:
            tail = Path(log).read_bytes()[-3000:].decode(errors="replace")
        raise HarnessError(f"exit {r.returncode}: {cmdline}\n{tail}")
    return r


def output(argv, *, timeout: float, **kw) -> str:
    return run(argv, timeout=timeout, capture=True, **kw).stdout.decode().strip()


def need_tools(*names):
    import shutil
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise HarnessError("missing host tools: " + " ".join(missing)
                           + " (see tests/vm/README.md, 'Host requirements')")


def remove_tree(path: Path):
    """rm -rf that also copes with ostree's immutable deployment directories."""
    if not path.exists() and not path.is_symlink():
        return
    # Only deployment roots carry the immutable bit; don't walk whole repositories for it.
    subprocess.run(["find", str(path), "-maxdepth", "8", "-path", "*/ostree/deploy/*/deploy/*",
                    "-prune", "-exec", "chattr", "-i", "{}", "+"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True, timeout=300)


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
