"""A container registry on the host (Debian's `docker-registry`, distribution 2.x) for the
container-image scenarios, and images made the way a build pipeline makes them:

- the first release is an ostree commit encapsulated with ostree-ext (the helper
  `lib/examples/vm_container_image.rs`), pushed with skopeo;
- later releases are *derived* images, like `FROM previous` + `COPY marker`: the previous
  image's layers plus one small tar layer, pushed through the registry API here (no container
  tooling needed). A guest that has the previous image fetches only the new layer.

The guest reaches the registry as 10.0.2.100:5000 (guestfwd); images are named
`10.0.2.100:5000/os:<tag>` there and `127.0.0.1:<port>/os:<tag>` on the host.
"""

import gzip
import hashlib
import io
import json
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

from .util import HarnessError, run

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
NAME = "os"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, work: Path, log: Path):
        self.dir = work / "registry"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        cfg = self.dir / "config.yml"
        cfg.write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            "log:\n  level: warn\n")
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/v2/", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise HarnessError(f"docker-registry did not start (see {log})")
                time.sleep(0.1)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.addr}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    # ------------------------------------------------------------ registry API

    def _req(self, method: str, url: str, data: bytes | None = None,
             headers: dict | None = None):
        req = urllib.request.Request(url if url.startswith("http") else self.base + url,
                                     data=data, method=method, headers=headers or {})
        try:
            return urllib.request.urlopen(req, timeout=120)
        except urllib.error.HTTPError as e:
            raise HarnessError(f"registry {method} {url}: {e.code} {e.read()[:500]!r}")

    def manifest(self, ref: str) -> tuple[dict, str]:
        r = self._req("GET", f"/v2/{NAME}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        body = r.read()
        return json.loads(body), "sha256:" + hashlib.sha256(body).hexdigest()

    def blob(self, digest: str) -> bytes:
        return self._req("GET", f"/v2/{NAME}/blobs/{digest}").read()

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self._req("POST", f"/v2/{NAME}/blobs/uploads/", data=b"")
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        self._req("PUT", f"{loc}{sep}digest={digest}", data=data,
                  headers={"Content-Type": "application/octet-stream"})
        return digest

    def put_manifest(self, tag: str, body: bytes) -> str:
        self._req("PUT", f"/v2/{NAME}/manifests/{tag}", data=body,
                  headers={"Content-Type": OCI_MANIFEST})
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def tag(self, src: str, tag: str) -> str:
        body = self._req("GET", f"/v2/{NAME}/manifests/{src}",
                         headers={"Accept": OCI_MANIFEST}).read()
        return self.put_manifest(tag, body)

    # ------------------------------------------------------------ images

    def push_encapsulated(self, helper: Path, repo: Path, commit: str, version: str,
                          work: Path, log: Path) -> str:
        """Release `version` = ostree `commit` encapsulated with ostree-ext, pushed as
        os:<version>; returns the manifest digest."""
        oci = work / f"oci-{version}"
        run([helper, "encapsulate", repo, commit, version, oci], timeout=900, log=log)
        digestfile = work / f"digest-{version}"
        run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--digestfile", digestfile,
             f"oci:{oci}", f"docker://{self.addr}/{NAME}:{version}"], timeout=900, log=log)
        run(["rm", "-rf", oci], timeout=120)
        return digestfile.read_text().strip()

    def push_derived(self, parent: str, version: str, files: dict[str, bytes]) -> str:
        """Release `version` = image `parent` (a tag) + one layer holding `files`
        ({path: content}), with the version label set; pushed as os:<version>."""
        manifest, _ = self.manifest(parent)
        config = json.loads(self.blob(manifest["config"]["digest"]))
        raw = _tar(files)
        layer = gzip.compress(raw, mtime=0)
        layer_digest = self.put_blob(layer)
        config.setdefault("config", {}).setdefault("Labels", {})[
            "org.opencontainers.image.version"] = version
        if "version" in config["config"]["Labels"]:
            config["config"]["Labels"]["version"] = version
        config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
        config.setdefault("history", []).append(
            {"created_by": f"testos: release {version} (" + ", ".join(files) + ")"})
        cbytes = json.dumps(config, sort_keys=True).encode()
        manifest["config"] = {"mediaType": manifest["config"]["mediaType"],
                              "digest": self.put_blob(cbytes), "size": len(cbytes)}
        manifest["layers"].append({"mediaType": OCI_LAYER_GZIP, "digest": layer_digest,
                                   "size": len(layer)})
        manifest.setdefault("annotations", {})["org.opencontainers.image.version"] = version
        return self.put_manifest(version, json.dumps(manifest, sort_keys=True).encode())


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        dirs = set()
        for path in files:
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(info)
        for path, content in files.items():
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            t.addfile(info, io.BytesIO(content))
    return buf.getvalue()
