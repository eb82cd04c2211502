#!/usr/bin/env python3
"""Writes the hostile-input corpus next to this script: graph documents (and .minisig files)
that a node must refuse, and expected.tsv naming, for each, the trust mode, an optional graph
accepted first, and a fragment of the error it must produce. Run it again only to change the
corpus; the files are checked in. Signatures come from the stock `minisign` tool with the test
keys in keys/ (made once with `minisign -G -W`; they sign nothing but this corpus)."""
import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
KEYS = os.path.join(HERE, "keys")


def digest(c):
    return "sha256:" + c * 64


def base(serial=10, checkpoint=True, expires=None):
    rels = [
        {"version": "1.0", "digest": digest("1")},
        {"version": "2.0", "digest": digest("2")},
        {"version": "3.0", "digest": digest("3")},
    ]
    if checkpoint:
        rels[1]["checkpoint"] = {"reason": "https://example.com/2.0"}
    meta = {"stream": "stable", "serial": serial}
    if expires:
        meta["expires"] = expires
    return {"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph", "metadata": meta,
            "releases": rels}


def dump(doc):
    return (json.dumps(doc, indent=1) + "\n").encode()


rows = []
n = 0


def add(category, data, want, mode="allow", prior=None, sig=None, ext="json"):
    global n
    n += 1
    name = f"{n:03d}-{category}.{ext}"
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    if sig is not None:
        with open(os.path.join(OUT, name + ".minisig"), "wb") as f:
            f.write(sig)
    rows.append((name, mode, prior or "-", want))


def sign(data, key):
    tmp = os.path.join(OUT, ".to-sign")
    with open(tmp, "wb") as f:
        f.write(data)
    subprocess.run(["minisign", "-S", "-s", os.path.join(KEYS, key + ".key"), "-m", tmp],
                   check=True, capture_output=True)
    with open(tmp + ".minisig", "rb") as f:
        s = f.read()
    os.remove(tmp)
    os.remove(tmp + ".minisig")
    return s


def mutate(f):
    d = base()
    f(d)
    return dump(d)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    good = dump(base())
    with open(os.path.join(OUT, "prior-serial10.json"), "wb") as f:
        f.write(good)
    with open(os.path.join(OUT, "prior-serial10.json.minisig"), "wb") as f:
        f.write(sign(good, "trusted"))

    # Truncated JSON at 80 offsets spread over the document.
    for i in range(80):
        cut = 1 + i * (len(good) - 3) // 80
        add("truncated", good[:cut], "EOF while parsing")

    wrong_types = [
        ("serial-string", lambda d: d["metadata"].__setitem__("serial", "ten"), "invalid type"),
        ("serial-negative", lambda d: d["metadata"].__setitem__("serial", -1), "invalid value"),
        ("serial-float", lambda d: d["metadata"].__setitem__("serial", 1.5), "invalid type"),
        ("releases-object", lambda d: d.__setitem__("releases", {"a": 1}), "invalid type"),
        ("releases-string", lambda d: d.__setitem__("releases", "1.0"), "invalid type"),
        ("release-number", lambda d: d["releases"].__setitem__(0, 7), "invalid type"),
        ("version-number", lambda d: d["releases"][0].__setitem__("version", 1.0), "invalid type"),
        ("version-null", lambda d: d["releases"][0].__setitem__("version", None), "invalid type"),
        ("version-missing", lambda d: d["releases"][0].pop("version"), "missing field `version`"),
        ("digest-number", lambda d: d["releases"][0].__setitem__("digest", 5), "invalid type"),
        ("digest-list", lambda d: d["releases"][0].__setitem__("digest", [digest("1")]), "invalid type"),
        ("checkpoint-string", lambda d: d["releases"][1].__setitem__("checkpoint", "yes"), "invalid type"),
        ("checkpoint-true", lambda d: d["releases"][1].__setitem__("checkpoint", True), "invalid type"),
        ("reason-number", lambda d: d["releases"][1]["checkpoint"].__setitem__("reason", 3), "invalid type"),
        ("deadend-list", lambda d: d["releases"][2].__setitem__("deadend", []), "invalid type"),
        ("rollout-string", lambda d: d["releases"][2].__setitem__("rollout", "50%"), "invalid type"),
        ("rollout-start-number", lambda d: d["releases"][2].__setitem__("rollout", {"start": 5}), "invalid type"),
        ("rollout-duration-string", lambda d: d["releases"][2].__setitem__("rollout", {"start": "2026-01-01T00:00:00Z", "durationMinutes": "60"}), "invalid type"),
        ("offered-string", lambda d: d["releases"][2].__setitem__("offered", "no"), "invalid type"),
        ("metadata-list", lambda d: d.__setitem__("metadata", [1]), "invalid type"),
        ("expires-garbage", lambda d: d["metadata"].__setitem__("expires", "tomorrow"), "input contains invalid characters"),
        ("expires-number", lambda d: d["metadata"].__setitem__("expires", 1700000000), "invalid type"),
        ("stream-number", lambda d: d["metadata"].__setitem__("stream", 4), "invalid type"),
        ("apiversion-number", lambda d: d.__setitem__("apiVersion", 1), "invalid type"),
        ("inherit-string", lambda d: d.__setitem__("inherit", "upstream"), "invalid type"),
    ]
    for name, f, want in wrong_types:
        add("type-" + name, mutate(f), want)

    for i, blob in enumerate([b"\xff\xfe{}", good[:40] + b"\xc3\x28" + good[40:],
                              good.replace(b"1.0", b"1.\x80"), b"\xc0\xaf" * 32,
                              "\ufeff".encode("utf-16") + good]):
        add(f"non-utf8-{i}", blob, "not UTF-8")
    add("nul-bytes", b"\x00" * 64, "control characters are not allowed", ext="yaml")

    depth = 100_000
    add("deep-arrays", b'{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","x":' + b"[" * depth + b"]" * depth + b"}", "recursion limit exceeded")
    add("deep-objects", b'{"apiVersion":"bootc-checkpoint/v1","x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}", "recursion limit exceeded")
    add("deep-yaml-flow", b"apiVersion: bootc-checkpoint/v1\nx: " + b"[" * depth + b"]" * depth + b"\n", "recursion limit exceeded", ext="yaml")
    add("deep-in-release", b'{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","releases":[{"version":"1","x":' + b"[" * depth + b"]" * depth + b"}]}", "recursion limit exceeded")

    text = good.decode()
    dups = [
        ("serial", text.replace('"serial": 10', '"serial": 10, "serial": 11'), "duplicate field `serial`"),
        ("apiversion", text.replace('"kind"', '"apiVersion": "bootc-checkpoint/v1", "kind"', 1), "duplicate field `apiVersion`"),
        ("version", text.replace('"version": "1.0"', '"version": "1.0", "version": "9.0"', 1), "duplicate field `version`"),
        ("digest", text.replace('"digest": "' + digest("1") + '"', '"digest": "' + digest("1") + '", "digest": "' + digest("9") + '"', 1), "duplicate field `digest`"),
        ("releases", text.replace('"releases"', '"releases": [], "releases"', 1), "duplicate field `releases`"),
    ]
    for name, t, want in dups:
        add("duplicate-" + name, t.encode(), want)
    add("duplicate-yaml", b"apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\nkind: UpdateGraph\nreleases: []\n", "duplicate", ext="yaml")

    big = "v" * (1024 * 1024)
    add("huge-version", mutate(lambda d: d["releases"][0].__setitem__("version", big)), "more than the limit of 256")
    add("huge-reason", mutate(lambda d: d["releases"][1]["checkpoint"].__setitem__("reason", big)), "more than the limit of 4096")
    add("huge-document", mutate(lambda d: d["metadata"].__setitem__("padding", "p" * (2200 * 1024))), "larger than the limit of 2097152 bytes")

    bad_digests = [
        ("short", "sha256:" + "a" * 63), ("long", "sha256:" + "a" * 65), ("upper", "sha256:" + "A" * 64),
        ("md5", "md5:" + "a" * 32), ("no-prefix", "a" * 64), ("non-hex", "sha256:" + "g" * 64),
        ("empty", ""), ("spaces", "sha256: " + "a" * 63), ("colon-only", "sha256:"),
    ]
    for name, d in bad_digests:
        add("digest-" + name, mutate(lambda g, d=d: g["releases"][0].__setitem__("digest", d)), "digest")
    add("digest-reused", mutate(lambda g: g["releases"][2].__setitem__("digest", digest("1"))), "already identifies release")
    add("commit-short", mutate(lambda g: g["releases"][0].__setitem__("commit", "ab" * 10)), "commit")
    add("commit-reused", mutate(lambda g: [g["releases"][i].__setitem__("commit", "c" * 64) for i in (0, 1)]), "already identifies release")

    semantic = [
        ("empty-releases", lambda d: d.__setitem__("releases", []), "the stream is empty"),
        ("api-version", lambda d: d.__setitem__("apiVersion", "bootc-checkpoint/v9"), "unsupported apiVersion"),
        ("kind", lambda d: d.__setitem__("kind", "Graph"), "expected kind"),
        ("checkpoint-not-offered", lambda d: d["releases"][1].__setitem__("offered", False), "contradicts"),
        ("rollout-percentage", lambda d: d["releases"][2].__setitem__("rollout", {"start": "2026-01-01T00:00:00Z", "durationMinutes": 60, "startPercentage": 1.5}), "startPercentage"),
    ]
    for name, f, want in semantic:
        add("semantic-" + name, mutate(f), want)

    # Trust: signatures, keys, freshness.
    serial11 = dump(base(serial=11))
    add("unsigned-required", serial11, "is not signed", mode="require")
    add("signed-by-other-key", serial11, "not among the trusted keys", mode="require", sig=sign(serial11, "other"))
    add("signed-by-other-key-allow", serial11, "not among the trusted keys", sig=sign(serial11, "other"))
    add("tampered", dump(base(serial=12)), "signature is not valid", mode="require", sig=sign(serial11, "trusted"))
    add("signature-garbage", serial11, "not a minisign signature", mode="require", sig=b"hello\n")
    add("signature-empty", serial11, "not a minisign signature", mode="require", sig=b"")
    add("signature-non-utf8", serial11, "not UTF-8", mode="require", sig=b"\xff\xfe\xfd")
    s = sign(serial11, "trusted")
    add("signature-truncated", serial11, "not a minisign signature", mode="require", sig=s[: len(s) // 2])
    expired = dump(base(serial=11, expires="2020-01-01T00:00:00Z"))
    add("expired", expired, "expired at 2020-01-01", mode="require", sig=sign(expired, "trusted"))
    rolled = dump(base(serial=9))
    add("rolled-back", rolled, "serial 9 is below 10", mode="require", prior="prior-serial10.json", sig=sign(rolled, "trusted"))
    reused = dump(base(serial=10, checkpoint=True, expires="2099-01-01T00:00:00Z"))
    add("serial-reused", reused, "already accepted", mode="require", prior="prior-serial10.json", sig=sign(reused, "trusted"))
    dropped = dump(base(serial=11, checkpoint=False))
    add("dropped-checkpoint-unsigned", dropped, "drops checkpoint(s) 2.0", prior="prior-serial10.json")
    no_serial = base()
    del no_serial["metadata"]["serial"]
    no_serial = dump(no_serial)
    add("serial-removed", no_serial, "serial (none) is below 10", mode="require", prior="prior-serial10.json", sig=sign(no_serial, "trusted"))

    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("# file\tmode\tprior\texpected error fragment\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"{len(rows)} hostile inputs")


if __name__ == "__main__":
    main()
