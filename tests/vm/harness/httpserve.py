"""Serve a directory (the run's ostree archive repo) over HTTP on 127.0.0.1.

The guest reaches it as http://10.0.2.100/ through QEMU's user-net `guestfwd` (one socat per
connection); nothing else on the host is reachable from the guest (`restrict=on`).

Scenarios can take the server down and bring it back on the same port (`stop`, `start`: a
registry outage; while it is down, socat's connection is refused and the guest's TCP connection
closes without an answer), and can `hold` object downloads: from the n-th request for an
object under /objects/ on, every such request blocks until `release` (the guest is then
reliably in the middle of a pull, e.g. for a power cut while staging).
"""

import functools
import http.server
import threading
import time
from pathlib import Path

from .util import HarnessError


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        self.server.log.write(f"{self.log_date_time_string()} {fmt % args}\n")

    def do_GET(self):
        self.server.owner._maybe_hold(self.path)
        super().do_GET()


class Server:
    def __init__(self, root: Path, log_path: Path):
        self.root = root
        self.log = open(log_path, "a", buffering=1)
        self.port = 0
        self.httpd = None
        self._lock = threading.Lock()
        self._hold_from: int | None = None   # hold object requests from this count on
        self._objects = 0                     # object requests seen since hold() was armed
        self._held = threading.Event()        # a request is being held
        self._release = threading.Event()
        self.held_paths: list[str] = []
        self.start()

    def start(self):
        """(Re)start serving; after a `stop` it binds the same port again, so the guest's
        guestfwd (fixed when qemu started) reaches it."""
        if self.httpd:
            return
        handler = functools.partial(_Handler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.httpd.daemon_threads = True
        self.httpd.log = self.log
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.log.write(f"--- serving on 127.0.0.1:{self.port}\n")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Stop serving: new connections are refused (a registry/remote outage)."""
        if not self.httpd:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None
        self.log.write("--- stopped\n")

    # ------------------------------------------------------------ holding downloads

    def hold(self, after: int = 0):
        """Hold every request for an object under /objects/ once `after` of them have been
        served (counted from now)."""
        with self._lock:
            self._hold_from, self._objects = after, 0
            self._held.clear()
            self._release.clear()
            self.held_paths = []
        self.log.write(f"--- holding object requests after {after} more\n")

    def wait_held(self, timeout: float) -> str:
        """Wait until a request is being held; the first held path."""
        if not self._held.wait(timeout):
            raise HarnessError(f"no object request reached the hold within {timeout:.0f}s")
        return self.held_paths[0]

    def release(self):
        with self._lock:
            self._hold_from = None
        self._release.set()
        self.log.write("--- released held requests\n")

    def _maybe_hold(self, path: str):
        if not path.startswith("/objects/"):
            return
        with self._lock:
            if self._hold_from is None:
                return
            self._objects += 1
            if self._objects <= self._hold_from:
                return
            self.held_paths.append(path)
            self.log.write(f"{time.strftime('%H:%M:%S')} holding {path}\n")
        self._held.set()
        self._release.wait(600)

    def close(self):
        self.release()
        self.stop()
        self.log.close()
