"""ostree-ref checkpoint journey across real reboots.

The host was installed from release A and follows `origin:os/stable` (the host repo, over
HTTP). B (a checkpoint) and C were published afterwards; os/stable points at C. Graph:
A -> B (checkpoint) -> C.

1. boot A: nothing to do (the resume unit finds no journey); `upgrade --check` offers B.
2. `upgrade --apply` stages B pinned by commit and reboots the guest by itself; ostree finalizes
   the staged deployment at shutdown and the harness boots the entry ostree made the default.
3. boot B: the resume unit (after boot-complete.target) records B and stages C.
4. harness reboot -> boot C: the resume unit ends the journey. Origin still origin:os/stable.

After every boot: the guest's own `ostree admin status`, the booted origin file, the engine's
`status --format json`, the state file and the resume unit's result.
"""

from harness.guest import BIN, RESUME_UNIT, Guest
from harness.scenario import REFSPEC, Context, Release

NAME = "ostree-ref-journey"
SUMMARY = "ostree-ref host A -> B (checkpoint) -> C: upgrade --apply, resume unit, reboots"

GRAPH = "/etc/bootc-checkpoint/graph.json"
APPLY_OUT = "/var/tmp/testos/upgrade-apply"


def run(ctx: Context):
    step = ctx.clock.step
    (a, b, c), graph, g = ctx.setup_journey([("B", "2025.2", True), ("C", "2025.3", False)])

    with step("boot A"):
        g.vm.boot()
    with step("checks on A"):
        ctx.check_eq(g.unresolved_libs(), [], "bootc-checkpoint's libraries in the image")
        check_booted(ctx, g, a, staged=None, rollback=None)
        check_resume_unit(ctx, g)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        st = g.cli("status")
        ctx.check_eq(st["journey"], None, "status: no journey", st)
    with step("upgrade --check"):
        g.vm.write_file(GRAPH, graph)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "available", "upgrade --check outcome", out)
        ctx.check_eq(out["plan"]["next"], b.version, "upgrade --check: next hop is B", out)
        ctx.check_eq(g.state(), None, "upgrade --check wrote no state")

    with step("upgrade --apply: stage B, the guest reboots itself"):
        g.vm.run_until_shutdown(
            f"mkdir -p /var/tmp/testos && {BIN} upgrade --apply --graph {GRAPH} --wariness 0 "
            f"--format json > {APPLY_OUT}.json 2> {APPLY_OUT}.err",
            "upgrade --apply")
    with step("boot B"):
        g.vm.boot()
    with step("checks on B (resume unit staged C)"):
        apply = g.json_file(f"{APPLY_OUT}.json", stderr_file=f"{APPLY_OUT}.err")
        ctx.check_eq(apply["outcome"], "staged", "upgrade --apply outcome (before the reboot)",
                     apply)
        ctx.check_eq(apply["rebootRequired"], True, "upgrade --apply: reboot required", apply)
        ctx.check_eq([(h["version"], h["kind"]) for h in apply["journey"]["hops"]],
                     [(b.version, "checkpoint"), (c.version, "final")], "planned hops", apply)
        ctx.check_eq(apply["journey"]["hops"][0].get("commit"), b.commit,
                     "the checkpoint hop is pinned by commit", apply)
        check_booted(ctx, g, b, staged=c, rollback=a)
        check_resume_unit(ctx, g)
        state = g.state()
        j = state and state["journey"]
        ctx.check(j is not None, "state: journey in progress", state)
        # (the engine re-plans from each booted hop: hops is now [C])
        hop = j["hops"][j["current"]]
        ctx.check_eq((j["phase"], hop["version"], hop.get("commit")),
                     ("staged", c.version, c.commit), "state: hop C staged", state)
        ctx.check_eq(j["tracked"], {"kind": "ostree", "refspec": REFSPEC}, "state: tracked ref",
                     state)
        booted_b = [h for h in state["history"] if h["kind"] == "booted"]
        ctx.check(any(h.get("version") == b.version for h in booted_b),
                  "state history: B recorded as booted", state["history"])
        st = g.cli("status")
        check_status(ctx, st, current=b, pending=c, rollback=a)
        ctx.check_eq(st["journey"]["phase"], "staged", "status: journey phase", st)

    with step("reboot into C"):
        g.vm.reboot()
    with step("checks on C (journey completed)"):
        check_booted(ctx, g, c, staged=None, rollback=b)
        check_resume_unit(ctx, g)
        state = g.state()
        ctx.check_eq(state["journey"], None, "state: journey ended", state)
        ctx.check_eq(state["history"][-1]["kind"], "completed", "state history ends with "
                     "completed", state["history"])
        st = g.cli("status")
        check_status(ctx, st, current=c, pending=None, rollback=b)
        ctx.check_eq(st["journey"], None, "status: no journey", st)
        out = g.cli("resume")
        ctx.check_eq(out["outcome"], "idle", "resume after the journey", out)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "upToDate", "upgrade --check on C", out)
    with step("poweroff"):
        g.vm.poweroff()


def check_booted(ctx: Context, g: Guest, release: Release, *, staged: Release | None,
                 rollback: Release | None):
    """The guest runs `release`, per its marker, ostree and the origin file."""
    ctx.check_eq(g.marker(), release.name, "booted release marker")
    text, ds = g.ostree_status()
    booted = [d for d in ds if d.booted]
    ctx.check(len(booted) == 1, "ostree admin status shows one booted deployment", text)
    d = booted[0]
    ctx.check_eq(d.commit, release.commit, f"ostree: booted commit is {release.name}", text)
    ctx.check_eq(d.refspec, REFSPEC, "ostree: booted origin refspec", text)
    ctx.check_eq(d.version, release.version, "ostree: booted version", text)
    origin = g.origin_file(d)
    ctx.check("refspec=" + REFSPEC in origin.splitlines(), "origin file keeps refspec=" + REFSPEC,
              origin)
    st = [x for x in ds if "staged" in x.flags]
    if staged:
        ctx.check(len(st) == 1 and st[0].commit == staged.commit,
                  f"ostree: {staged.name} staged", text)
        ctx.check_eq(st[0].refspec, REFSPEC, f"ostree: staged {staged.name} origin refspec", text)
    else:
        ctx.check_eq(st, [], "ostree: nothing staged", text)
    rb = [x for x in ds if not x.booted and "staged" not in x.flags]
    if rollback:
        ctx.check(bool(rb) and rb[0].commit == rollback.commit,
                  f"ostree: rollback is {rollback.name}", text)


def check_resume_unit(ctx: Context, g: Guest):
    u = g.unit(RESUME_UNIT)
    log = g.unit_log(RESUME_UNIT)
    ctx.check_eq((u.get("Result"), u.get("ExecMainStatus")), ("success", "0"),
                 f"{RESUME_UNIT} result", f"{u}\n{log}")
    started = int(u.get("ExecMainStartTimestampMonotonic") or 0)
    complete = g.target_reached_at("boot-complete.target")
    ctx.check(0 < complete <= started, f"{RESUME_UNIT} ran after boot-complete.target",
              f"boot-complete.target at {complete}, resume started at {started}")


def check_status(ctx: Context, st: dict, *, current: Release, pending: Release | None,
                 rollback: Release | None):
    host = st["host"]
    ctx.check_eq(host["mode"], "booted", "status: mode", st)
    ctx.check_eq(host["current"]["commit"], current.commit, f"status: current is {current.name}",
                 st)
    origin = host["current"]["origin"]
    ctx.check_eq((origin.get("kind"), origin.get("refspec")), ("ostree", REFSPEC),
                 "status: current origin", st)
    if pending:
        ctx.check(host["pending"] is not None and host["pending"]["commit"] == pending.commit
                  and host["pending"]["staged"], f"status: {pending.name} pending (staged)", st)
    else:
        ctx.check_eq(host["pending"], None, "status: nothing pending", st)
    if rollback:
        ctx.check(host["rollback"] is not None and host["rollback"]["commit"] == rollback.commit,
                  f"status: rollback is {rollback.name}", st)
