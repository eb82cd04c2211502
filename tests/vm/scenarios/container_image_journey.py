"""Container-image host: the guest follows `10.0.2.100:5000/os:stable` in a docker-registry on
the host; the engine stages digests with ostree-ext (and skopeo) in the guest.

Images: A = the release-A ostree commit (base + product) encapsulated with ostree-ext and pushed
with skopeo; B and C are derived images (A + a marker layer, B + a marker layer), like
`FROM …` + `COPY`, so the guest fetches only a small layer per hop. `os:stable` points at C;
graph A -> B (checkpoint) -> C with manifest digests. The host is installed by deploying
`…/os@<A digest>` with ostree-ext (origin: `…/os:stable`).

1. boot A; `upgrade --check` offers B; `upgrade --apply` stages B pinned by digest (origin still
   the tag) and reboots.
2. boot B: the resume unit stages C by digest.
3. reboot: C; the journey completes; the origin follows `…/os:stable`.

After every boot: marker, `ostree admin status` (booted / staged / rollback), the booted origin
file (`container-image-reference=ostree-unverified-registry:10.0.2.100:5000/os:stable`), the
engine's `status --format json` (backend, digest, version, origin) and the state file.
"""

import json
from dataclasses import dataclass

from harness import image, tools
from harness.guest import BIN, Guest
from harness.registry import Registry
from harness.scenario import GUEST_REGISTRY_ADDR, Context
from scenarios.ostree_ref_journey import check_resume_unit

NAME = "container-image-journey"
SUMMARY = "container-image host on 10.0.2.100:5000/os:stable, A -> B (checkpoint) -> C by digest"

GRAPH = "/etc/bootc-checkpoint/graph.json"
APPLY_OUT = "/var/tmp/testos/upgrade-apply"
TRACKED = f"ostree-unverified-registry:{GUEST_REGISTRY_ADDR}/os:stable"
MARKER = "usr/share/testos/version"


@dataclass
class Image:
    name: str
    version: str
    digest: str


def run(ctx: Context):
    step = ctx.clock.step
    with step("image helper (cargo build --example vm_container_image)"):
        helper = tools.image_helper(ctx.dir / "cargo.log")
    with step("registry; A encapsulated and pushed; host installed from A by digest"):
        ctx.registry = reg = Registry(ctx.dir, ctx.dir / "registry.log")
        a_rel = ctx.publish("A", "2025.1")
        a = Image("A", a_rel.version, reg.push_encapsulated(
            helper, ctx.repo.path, a_rel.commit, a_rel.version, ctx.dir, ctx.log))
        ctx.clock.say(f"pushed A = {a.digest}")
        disk = ctx.dir / "disk.img"
        image.make_container_disk(helper, f"ostree-unverified-registry:{reg.addr}/os@{a.digest}",
                                  TRACKED, ctx.dir, disk, ctx.log)
    with step("derived images B, C; os:stable -> C"):
        b = Image("B", "2025.2", reg.push_derived("2025.1", "2025.2", {MARKER: b"B\n"}))
        c = Image("C", "2025.3", reg.push_derived("2025.2", "2025.3", {MARKER: b"C\n"}))
        reg.tag("2025.3", "stable")
        ctx.clock.say(f"pushed B = {b.digest}, C = {c.digest}")
        graph = graph_doc(ctx, [(a, False), (b, True), (c, False)])
    g = ctx.start_vm(disk)

    with step("boot A"):
        g.vm.boot()
    with step("checks on A; upgrade --check"):
        check_on(ctx, g, a, staged=None, rollback=None)
        check_resume_unit(ctx, g)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        st = g.cli("status")
        ctx.check("ostree" in json.dumps(st["backend"]), "status: the native ostree backend",
                  st["backend"])
        g.vm.write_file(GRAPH, graph)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "available", "upgrade --check outcome", out)
        ctx.check_eq(out["plan"]["next"], b.version, "upgrade --check: next hop is B", out)
    with step("upgrade --apply: stage B by digest, the guest reboots itself"):
        g.vm.run_until_shutdown(
            f"mkdir -p /var/tmp/testos && {BIN} upgrade --apply --graph {GRAPH} --wariness 0 "
            f"--format json > {APPLY_OUT}.json 2> {APPLY_OUT}.err", "upgrade --apply",
            timeout=600)
    with step("boot B"):
        g.vm.boot()
    with step("checks on B (resume unit staged C)"):
        out = g.json_file(f"{APPLY_OUT}.json", stderr_file=f"{APPLY_OUT}.err")
        ctx.check_eq(out["outcome"], "staged", "upgrade --apply outcome", out)
        ctx.check_eq(out["journey"]["hops"][0].get("digest"), b.digest,
                     "the checkpoint hop is pinned by digest", out)
        check_on(ctx, g, b, staged=c, rollback=a)
        check_resume_unit(ctx, g)
        state = g.state()
        j = state["journey"]
        ctx.check_eq(j["tracked"], {"kind": "container", "imgref": TRACKED}, "state: tracked",
                     state)
        hop = j["hops"][j["current"]]
        ctx.check_eq((j["phase"], hop["version"], hop.get("digest")),
                     ("staged", c.version, c.digest), "state: hop C staged", state)
    with step("reboot into C"):
        g.vm.reboot()
    with step("checks on C (journey completed)"):
        check_on(ctx, g, c, staged=None, rollback=b)
        check_resume_unit(ctx, g)
        state = g.state()
        ctx.check_eq(state["journey"], None, "state: journey ended", state)
        ctx.check_eq(state["history"][-1]["kind"], "completed", "state history ends with "
                     "completed", state["history"])
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "upToDate", "upgrade --check on C", out)
    with step("poweroff"):
        g.vm.poweroff()


def graph_doc(ctx: Context, entries) -> bytes:
    releases = []
    for r, checkpoint in entries:
        rel = {"version": r.version, "digest": r.digest}
        if checkpoint:
            rel["checkpoint"] = {"reason": f"https://example.com/testos/{r.name}"}
        releases.append(rel)
    return json.dumps({"apiVersion": "bootc-checkpoint/v1", "kind": "UpdateGraph",
                       "metadata": {"stream": "stable", "serial": 1},
                       "releases": releases}, indent=2).encode()


def check_on(ctx: Context, g: Guest, img: Image, *, staged: Image | None,
             rollback: Image | None):
    """The guest runs image `img`, per its marker, ostree, the origin file and the engine."""
    ctx.check_eq(g.marker(), img.name, "booted release marker")
    text, ds = g.ostree_status()
    booted = [d for d in ds if d.booted]
    ctx.check(len(booted) == 1, "ostree admin status shows one booted deployment", text)
    origin = g.origin_file(booted[0])
    ctx.check(f"container-image-reference={TRACKED}" in origin.splitlines(),
              f"origin file follows {TRACKED}", origin)
    ctx.check_eq(len([d for d in ds if "staged" in d.flags]), 1 if staged else 0,
                 "ostree: staged deployments", text)
    st = g.cli("status")
    host = st["host"]
    cur = host["current"]
    ctx.check_eq((cur.get("digest"), cur.get("version")), (img.digest, img.version),
                 f"status: current is {img.name} (digest, version)", st)
    ctx.check_eq(cur["origin"], {"kind": "container", "imgref": TRACKED},
                 "status: current origin", st)
    if staged:
        p = host["pending"]
        ctx.check(p is not None and p.get("digest") == staged.digest and p["staged"],
                  f"status: {staged.name} pending (staged) by digest", st)
        ctx.check_eq(p["origin"], {"kind": "container", "imgref": TRACKED},
                     f"status: staged {staged.name} keeps the tag in its origin", st)
    else:
        ctx.check_eq(host["pending"], None, "status: nothing pending", st)
    if rollback:
        r = host["rollback"]
        ctx.check(r is not None and r.get("digest") == rollback.digest,
                  f"status: rollback is {rollback.name}", st)
