"""Serve a directory (the run's ostree archive repo) over HTTP on 127.0.0.1.

The guest reaches it as http://10.0.2.100/ through QEMU's user-net `guestfwd` (one socat per
connection); nothing else on the host is reachable from the guest (`restrict=on`).
"""

import functools
import http.server
import threading
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        self.server.log.write(f"{self.log_date_time_string()} {fmt % args}\n")


class Server:
    def __init__(self, root: Path, log_path: Path):
        handler = functools.partial(_Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.log = open(log_path, "a", buffering=1)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.log.close()
