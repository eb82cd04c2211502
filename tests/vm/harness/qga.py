"""qemu-guest-agent client: JSON over the virtio-serial port's unix socket.

Rules learned the hard way (tests/vm/README.md, "Guest control"):
- Keep ONE connection per qemu process. While the guest side of the port is closed (early
  boot, agent restarting) qemu stops reading the socket; a reconnect then stalls, and stale
  connections pile up in the listen backlog.
- Synchronise with `guest-sync-delimited` (the agent answers with 0xFF + the id, flushing any
  half-read input), re-sent every second until answered, then a plain `guest-sync` as a FIFO
  marker so every late answer to an earlier sync is drained before real commands.
Every message is appended to a log file (the run dir's qga.log).
"""

import base64
import json
import random
import socket
import time
from pathlib import Path

from .util import HarnessError


class AgentGone(HarnessError):
    """The socket closed: qemu exited (or is exiting)."""


class Agent:
    def __init__(self, sock_path: Path, log_path: Path):
        self.log = open(log_path, "a", buffering=1)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(sock_path))
        self.buf = b""
        self.stale_ids: set[int] = set()

    def close(self):
        try:
            self.sock.close()
        finally:
            self.log.close()

    # ------------------------------------------------------------ wire

    def _send(self, msg: dict, prefix: bytes = b"", timeout: float = 30):
        """Send one message; socket.timeout when qemu does not take it within `timeout` (while
        the guest side of the port is closed qemu stops reading, and the socket's buffer fills
        up during a long boot)."""
        text = json.dumps(msg)
        self.log.write(f"{time.strftime('%H:%M:%S')} > {text[:500]}\n")
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(prefix + text.encode())
        except socket.timeout:
            self.log.write(f"{time.strftime('%H:%M:%S')} (send timed out: nobody reading)\n")
            raise
        except OSError as e:
            raise AgentGone(f"guest agent socket: {e}") from e

    def _recv(self, deadline: float) -> dict:
        """Next JSON message, or socket.timeout at `deadline`."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise
            except OSError as e:
                raise AgentGone(f"guest agent socket: {e}") from e
            if not data:
                raise AgentGone("guest agent socket closed (qemu exited?)")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.lstrip(b"\xff").strip()
        if not line:
            return {}
        self.log.write(f"{time.strftime('%H:%M:%S')} < {line[:500].decode(errors='replace')}\n")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"garbage": line.decode(errors="replace")}

    # ------------------------------------------------------------ protocol

    def sync(self, timeout: float):
        """Wait until the agent answers on this connection, then drain everything queued."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sid = random.randint(1, 2**31)
            self.stale_ids.add(sid)
            try:
                # (a message cut short by the timeout is harmless: the next one's 0xFF prefix
                # makes the agent drop partial input)
                self._send({"execute": "guest-sync-delimited", "arguments": {"id": sid}},
                           prefix=b"\xff", timeout=1.0)
            except socket.timeout:
                continue
            try:
                t = min(deadline, time.monotonic() + 1.0)
                while True:
                    if self._recv(t).get("return") in self.stale_ids:
                        break
            except socket.timeout:
                continue
            marker = random.randint(1, 2**31)
            self._send({"execute": "guest-sync", "arguments": {"id": marker}})
            t = time.monotonic() + 10
            try:
                while self._recv(t).get("return") != marker:
                    pass
            except socket.timeout:
                continue
            return
        raise HarnessError(f"guest agent did not answer within {timeout:.0f}s")

    def call(self, name: str, timeout: float = 30, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        try:
            self._send(msg, timeout=timeout)
        except socket.timeout:
            raise HarnessError(f"guest agent: {name} not taken within {timeout:.0f}s")
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self._recv(deadline)
            except socket.timeout:
                raise HarnessError(f"guest agent: no answer to {name} within {timeout:.0f}s")
            ret = r.get("return")
            if isinstance(ret, int) and ret in self.stale_ids:
                continue  # a late answer to an earlier sync
            if "error" in r:
                raise HarnessError(f"guest agent: {name}: {r['error']}")
            if "return" in r:
                return ret

    def exec(self, argv: list[str], timeout: float, stdin: bytes | None = None):
        """Run argv in the guest; returns (exit code, stdout, stderr) as bytes."""
        args = {"path": argv[0], "arg": argv[1:], "capture-output": True}
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin).decode()
        pid = self.call("guest-exec", **args)["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            st = self.call("guest-exec-status", pid=pid)
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", ""))
                err = base64.b64decode(st.get("err-data", ""))
                code = st.get("exitcode", 128 + st.get("signal", 0))
                return code, out, err
            if time.monotonic() > deadline:
                raise HarnessError(f"guest command timed out after {timeout:.0f}s: {argv}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def spawn(self, argv: list[str]):
        """Start argv in the guest without waiting for it (e.g. a command that reboots)."""
        self.call("guest-exec", path=argv[0], arg=argv[1:])
