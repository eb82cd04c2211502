#!/usr/bin/env python3
"""Recording stand-ins for `bootc` and `rpm-ostree`, which Debian does not package.

Invoked as `bootc` or `rpm-ostree` (symlinks next to this file, put first on PATH by the tests),
it appends its argv to $FAKE_HOST_DIR/calls.jsonl and answers from $FAKE_HOST_DIR/status.json:
a recorded real (or upstream fixture) status document that the test rewrote for its registry.
Staging commands update that document the way the real tool would (a staged deployment that
keeps the origin's tag/ref); `fakehost.py reboot DIR` plays the next boot. Only the commands a
checkpoint journey needs are understood; anything else fails loudly so a test notices.

Knobs (files in $FAKE_HOST_DIR): images.json {digest-or-commit: {version, checksum}},
fail.json {subcommand: stderr text} (exit 1), garbage (status prints non-JSON),
no-stage (staging succeeds but stages nothing).
"""
import json
import os
import sys


def path(name):
    return os.path.join(os.environ["FAKE_HOST_DIR"], name)


def load(name, default=None):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def save(name, value):
    tmp = path(name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path(name))


def fail(msg, code=1):
    sys.stderr.write("error: " + msg + "\n")
    sys.exit(code)


def image_info(key):
    info = load("images.json", {}).get(key)
    if info is None:
        fail(f"fake: {key} is not a known image (images.json)")
    return info


def print_status():
    if os.path.exists(path("garbage")):
        sys.stdout.write('{"apiVersion": "org.containers.bootc/v1", "status": {"booted": [')
        return
    sys.stdout.write(json.dumps(load("status.json")))


# bootc -------------------------------------------------------------------------------------

def bootc(args):
    sub = args[0] if args else ""
    if sub == "status":
        if args[1:] != ["--format", "json", "--format-version", "1"]:
            fail(f"fake bootc: unexpected status arguments {args[1:]}", 2)
        return print_status()
    st = load("status.json")
    s = st["status"]
    if sub == "switch":
        opts, target = args[1:-1], args[-1]
        transport = opts[opts.index("--transport") + 1] if "--transport" in opts else "registry"
        signature = "containerPolicy" if "--enforce-container-sigpolicy" in opts else None
        spec_image = {"image": target, "transport": transport}
        if signature:
            spec_image["signature"] = signature
        if "--mutate-in-place" in opts:
            s["booted"]["image"]["image"] = dict(spec_image)
            st["spec"]["image"] = dict(spec_image)
            save("status.json", st)
            print(f"Updated {s['booted']['ostree']['checksum']}.0 to pull from {target}")
            return
        if "@" not in target:
            fail(f"fake bootc: refusing unpinned switch to {target}", 3)
        digest = target.rsplit("@", 1)[1]
        info = image_info(digest)
        st["spec"]["image"] = dict(spec_image)
        if not os.path.exists(path("no-stage")):
            s["staged"] = {
                "image": {"image": dict(spec_image), "version": info["version"],
                          "timestamp": None, "imageDigest": digest, "architecture": "amd64"},
                "cachedUpdate": None, "incompatible": False, "pinned": False,
                "downloadOnly": False, "store": None,
                "ostree": {"checksum": info["checksum"], "deploySerial": 0,
                           "stateroot": s["booted"]["ostree"]["stateroot"]},
            }
        save("status.json", st)
        return
    if sub == "upgrade" and "--apply" in args:
        if not s.get("staged"):
            fail("No staged deployment found")
        open(path("reboot-requested"), "w").close()
        return
    fail(f"fake bootc: unexpected command {args}", 2)


# rpm-ostree --------------------------------------------------------------------------------

def check_driver(args):
    driver = load("status.json").get("update-driver")
    if driver and "--bypass-driver" not in args:
        client = os.environ.get("RPMOSTREE_CLIENT_ID", "")
        if driver["driver-name"] != client:
            fail(f"Updates and deployments are driven by {driver['driver-name']} "
                 f"({driver.get('driver-sd-unit', '')})\n"
                 "Use --bypass-driver to bypass this check and perform the operation.")


def rpm_ostree(args):
    sub = args[0] if args else ""
    if sub == "status":
        if args[1:] != ["--json"]:
            fail(f"fake rpm-ostree: unexpected status arguments {args[1:]}", 2)
        return print_status()
    st = load("status.json")
    deps = st["deployments"]
    if sub == "deploy" and len(args) > 1 and args[1] == "":
        reg = [a for a in args if a.startswith("--register-driver=")]
        if not reg:
            fail(f"fake rpm-ostree: unexpected command {args}", 2)
        check_driver(args)
        st["update-driver"] = {"driver-name": reg[0].split("=", 1)[1],
                               "driver-sd-unit": "bootc-checkpoint.service"}
        save("status.json", st)
        return
    if sub == "deploy":
        check_driver(args)
        target = args[-1]
        booted = next(d for d in deps if d.get("booted"))
        new = {k: v for k, v in booted.items()}
        new.update({"booted": False, "staged": True,
                    "finalization-locked": "--lock-finalization" in args})
        if target.startswith("sha256:"):
            if not booted.get("container-image-reference"):
                fail(f"fake rpm-ostree: {target} on a host that follows no image", 2)
            info = image_info(target)
            new["container-image-reference-digest"] = target
        elif target.startswith("revision="):
            if "--skip-branch-check" not in args:
                fail("fake rpm-ostree: revision= without --skip-branch-check", 2)
            info = image_info(target.split("=", 1)[1])
        else:
            fail(f"fake rpm-ostree: deploy of an unpinned {target!r}", 3)
        new["checksum"] = info["checksum"]
        new["version"] = info["version"]
        if os.path.exists(path("no-stage")):
            return
        st["deployments"] = [new] + [d for d in deps if not d.get("staged")]
        save("status.json", st)
        return
    if sub == "finalize-deployment":
        staged = next((d for d in deps if d.get("staged")), None)
        if staged is None:
            fail("No pending staged deployment found")
        want = args[1]
        if want not in (staged["checksum"], staged.get("container-image-reference-digest")):
            fail(f"Expected staged base checksum {want}, but found {staged['checksum']}")
        staged["finalization-locked"] = False
        save("status.json", st)
        open(path("reboot-requested"), "w").close()
        return
    if sub == "cleanup" and args[1:] == ["-p"]:
        st["deployments"] = [d for d in deps if not d.get("staged")]
        save("status.json", st)
        return
    fail(f"fake rpm-ostree: unexpected command {args}", 2)


# the next boot -----------------------------------------------------------------------------

def reboot(fail_boot):
    """Shutdown finalizes an unlocked staged deployment; the boot then lands on it, or, when it
    fails (`fail-boot`), on the previous one with the new one left as rollback."""
    if os.path.exists(path("reboot-requested")):
        os.remove(path("reboot-requested"))
    st = load("status.json")
    if "deployments" in st:
        deps = st["deployments"]
        staged = next((d for d in deps if d.get("staged")), None)
        old = [d for d in deps if not d.get("staged")]
        if staged is None or staged.get("finalization-locked"):
            st["deployments"] = old  # a locked deployment is discarded at shutdown
        else:
            staged["staged"] = False
            booted = next(d for d in old if d.get("booted"))
            if fail_boot:
                st["deployments"] = [booted, staged]
            else:
                booted["booted"] = False
                staged["booted"] = True
                st["deployments"] = [staged, booted]
    else:
        s = st["status"]
        staged = s.get("staged")
        if staged:
            s["staged"] = None
            if fail_boot:
                s["rollback"] = staged
            else:
                s["rollback"] = s["booted"]
                s["booted"] = staged
        st["spec"]["image"] = dict(s["booted"]["image"]["image"]) if s["booted"].get("image") else None
    save("status.json", st)


def main():
    prog = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if prog == "fakehost.py":
        os.environ["FAKE_HOST_DIR"] = args[1]
        return reboot(fail_boot=args[0] == "fail-boot")
    with open(path("calls.jsonl"), "a") as f:
        f.write(json.dumps({"argv": [prog] + args,
                            "client": os.environ.get("RPMOSTREE_CLIENT_ID")}) + "\n")
    failing = load("fail.json", {})
    key = args[0] if args else ""
    if key in failing:
        fail(failing[key])
    if prog == "bootc":
        bootc(args)
    elif prog == "rpm-ostree":
        rpm_ostree(args)
    else:
        fail(f"fakehost: unknown program {prog}", 2)


if __name__ == "__main__":
    main()
