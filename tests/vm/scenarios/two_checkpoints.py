"""Two checkpoints in a row, across real reboots: A -> B (checkpoint) -> C (checkpoint) -> D.

The host was installed from A and follows `origin:os/stable`; B, C and D were published
afterwards, os/stable points at D. Graph: A -> B (checkpoint) -> C (checkpoint) -> D.

1. boot A: no journey; `upgrade --check` offers B.
2. `upgrade` (no --apply) stages B pinned by commit; the harness reboots the guest.
3. boot B: the resume unit records B and stages C (the engine re-plans from B: [C, D]).
4. reboot -> boot C: the resume unit records C and stages D (plan [D]).
5. reboot -> boot D: the resume unit ends the journey; the host follows os/stable as before.

After every boot: marker, `ostree admin status` (booted / staged / rollback, origin refspec),
the booted origin file, the state file (phase, hops, tracked ref, history), `status --format
json` and the resume unit's result and ordering.
"""

from harness.guest import Guest
from harness.scenario import REFSPEC, Context, Release
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status

NAME = "two-checkpoints"
SUMMARY = "ostree-ref host A -> B (checkpoint) -> C (checkpoint) -> D: resume unit, reboots"

GRAPH = "/etc/bootc-checkpoint/graph.json"


def run(ctx: Context):
    step = ctx.clock.step
    (a, b, c, d), graph, g = ctx.setup_journey(
        [("B", "2025.2", True), ("C", "2025.3", True), ("D", "2025.4", False)])

    with step("boot A"):
        g.vm.boot()
    with step("checks on A"):
        check_booted(ctx, g, a, staged=None, rollback=None)
        check_resume_unit(ctx, g)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        st = g.cli("status")
        ctx.check_eq(st["journey"], None, "status: no journey", st)
    with step("upgrade --check, upgrade: stage B"):
        g.vm.write_file(GRAPH, graph)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "available", "upgrade --check outcome", out)
        ctx.check_eq(out["plan"]["next"], b.version, "upgrade --check: next hop is B", out)
        out = g.cli(f"upgrade --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "staged", "upgrade outcome", out)
        ctx.check_eq(out["rebootRequired"], True, "upgrade: reboot required", out)
        ctx.check_eq(hops(out["journey"]), [(b.version, "checkpoint", b.commit),
                                            (c.version, "checkpoint", c.commit),
                                            (d.version, "final", d.commit)],
                     "planned hops B, C (checkpoints), D (final), pinned by commit", out)
        check_booted(ctx, g, a, staged=b, rollback=None)
        check_journey(ctx, g, staged=b, hops_left=[b, c, d])
        st = g.cli("status")
        check_status(ctx, st, current=a, pending=b, rollback=None)
        ctx.check_eq(st["journey"]["phase"], "staged", "status: journey phase", st)
        out = g.cli("upgrade --wariness 0")
        ctx.check_eq(out["outcome"], "waiting", "a second upgrade waits for the reboot", out)

    for prev, cur, nxt, left in ((a, b, c, [c, d]), (b, c, d, [d])):
        with step(f"reboot into {cur.name}"):
            g.vm.reboot()
        with step(f"checks on {cur.name} (resume unit staged {nxt.name})"):
            check_booted(ctx, g, cur, staged=nxt, rollback=prev)
            check_resume_unit(ctx, g)
            state = check_journey(ctx, g, staged=nxt, hops_left=left)
            booted = [h.get("version") for h in state["history"] if h["kind"] == "booted"]
            ctx.check(cur.version in booted, f"state history: {cur.name} recorded as booted",
                      state["history"])
            st = g.cli("status")
            check_status(ctx, st, current=cur, pending=nxt, rollback=prev)
            ctx.check_eq(st["journey"]["phase"], "staged", "status: journey phase", st)
            ctx.check_eq(hops(st["journey"]), [(h.version, kind(h, d), h.commit) for h in left],
                         "status: journey hops", st)

    with step("reboot into D"):
        g.vm.reboot()
    with step("checks on D (journey completed)"):
        check_booted(ctx, g, d, staged=None, rollback=c)
        check_resume_unit(ctx, g)
        state = g.state()
        ctx.check_eq(state["journey"], None, "state: journey ended", state)
        ctx.check_eq(state["history"][-1]["kind"], "completed",
                     "state history ends with completed", state["history"])
        ctx.check_eq(state["history"][-1].get("version"), d.version, "completed on D",
                     state["history"])
        events = [(h["kind"], h.get("version")) for h in state["history"]]
        for v in (b, c, d):
            ctx.check(("staged", v.version) in events and ("booted", v.version) in events,
                      f"state history: {v.name} staged and booted", events)
        ctx.check(not any(k in ("failed", "error", "blocked") for k, _ in events),
                  "state history: no failure, error or block", events)
        st = g.cli("status")
        check_status(ctx, st, current=d, pending=None, rollback=c)
        ctx.check_eq(st["journey"], None, "status: no journey", st)
        out = g.cli("resume")
        ctx.check_eq(out["outcome"], "idle", "resume after the journey", out)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "upToDate", "upgrade --check on D", out)
    with step("poweroff"):
        g.vm.poweroff()


def hops(journey: dict) -> list[tuple]:
    return [(h["version"], h["kind"], h.get("commit")) for h in journey["hops"]]


def kind(r: Release, final: Release) -> str:
    return "final" if r is final else "checkpoint"


def check_journey(ctx: Context, g: Guest, *, staged: Release, hops_left: list[Release]) -> dict:
    """The state file: a journey following REFSPEC, `staged` staged, planned `hops_left`."""
    state = g.state()
    j = state and state["journey"]
    ctx.check(j is not None, "state: journey in progress", state)
    hop = j["hops"][j["current"]]
    ctx.check_eq((j["phase"], hop["version"], hop.get("commit")),
                 ("staged", staged.version, staged.commit), f"state: hop {staged.name} staged",
                 state)
    final = hops_left[-1]
    ctx.check_eq(hops(j), [(h.version, kind(h, final), h.commit) for h in hops_left],
                 "state: hops " + " -> ".join(h.name for h in hops_left), state)
    ctx.check_eq(j["tracked"], {"kind": "ostree", "refspec": REFSPEC}, "state: tracked ref",
                 state)
    ctx.check_eq(j["attempts"], 0, "state: no failed attempts", state)
    return state
