"""The remote goes away mid-journey: clear errors, no state loss, the journey completes later.

The host was installed from A and follows `origin:os/stable`, an ostree remote served over HTTP
by the harness (the source the ostree-ref scenarios use); graph A -> B (checkpoint) -> C,
os/stable at C. The outage is real: the harness stops its HTTP server, so the guest's
connections to 10.0.2.100:80 are closed without an answer (socat is refused on the host).

1. boot A; `upgrade --apply` stages B and reboots.
2. the remote goes down. Boot B: the resume unit records B, then fails to pull C: the unit
   fails with an error naming the hop; the state keeps the journey (hop C, phase `staging`,
   `lastError`, an `error` event, attempts 0); motd and metrics say so.
3. still down: `resume` (a retry) fails the same way, with the same clear error on stderr
   and exit 1; the journey is still there. A reboot while down: the resume unit fails again,
   the host stays on B, nothing lost.
4. the remote is back: `upgrade --apply` (what the timer runs) stages C and reboots.
5. boot C: the journey completes.
"""

from harness.guest import BIN, RESUME_UNIT
from harness.scenario import Context
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status
from scenarios.power_cut_finalization import check_journey
from scenarios.power_cut_staging import check_completed

NAME = "registry-outage"
SUMMARY = "ostree-ref host: the remote stops serving mid-journey; retries, no loss, completes"

GRAPH = "/etc/bootc-checkpoint/graph.json"
APPLY_OUT = "/var/tmp/testos/upgrade-apply"


def run(ctx: Context):
    step = ctx.clock.step
    (a, b, c), graph, g = ctx.setup_journey([("B", "2025.2", True), ("C", "2025.3", False)])

    with step("boot A"):
        g.vm.boot()
    with step("upgrade --apply: stage B, the guest reboots itself"):
        check_booted(ctx, g, a, staged=None, rollback=None)
        g.vm.write_file(GRAPH, graph)
        g.vm.run_until_shutdown(
            f"{BIN} upgrade --apply --graph {GRAPH} --wariness 0 --format json", "upgrade --apply")

    with step("remote down; boot B"):
        ctx.server.stop()
        g.vm.boot()
    with step("checks on B: the resume unit failed to stage C, the journey is kept"):
        check_booted(ctx, g, b, staged=None, rollback=a)
        before = check_outage(ctx, g, b, c, a)
        u = g.unit(RESUME_UNIT)
        ctx.check_eq((u.get("Result"), u.get("ActiveState")), ("exit-code", "failed"),
                     f"{RESUME_UNIT} failed", u)
        ctx.check(RESUME_UNIT in g.vm.boots[-1].failed_units, "boot degraded by the resume unit",
                  g.vm.boots[-1].failed_units)
        log = g.unit_log(RESUME_UNIT)
        ctx.check(c.version in log, f"the resume unit's log names the hop {c.version}", log)
        ctx.clock.say("  resume unit: " + " | ".join(
            l for l in log.splitlines() if l.strip() and ".service" not in l))
        ctx.check(any(h["kind"] == "booted" and h.get("version") == b.version
                      for h in before["history"]), "state history: B booted", before["history"])
    with step("retry while the remote is down: resume fails clearly, nothing lost"):
        r = g.vm.sh(f"{BIN} resume", check=False)
        ctx.check_eq(r.code, 1, "resume exit status while the remote is down", str(r))
        ctx.check(c.version in r.err and "10.0.2.100" in r.err,
                  "resume's error names the hop and the remote", str(r))
        ctx.clock.say(f"  resume: {r.err.strip().splitlines()[0] if r.err.strip() else ''}")
        state = check_outage(ctx, g, b, c, a)
        ctx.check_eq({k: v for k, v in state["journey"].items() if k != "updatedAt"},
                     {k: v for k, v in before["journey"].items() if k != "updatedAt"},
                     "state: the same journey after the failed retry", state)
    with step("reboot while the remote is down"):
        g.vm.reboot()
    with step("checks: still on B, the resume unit failed again, nothing lost"):
        check_booted(ctx, g, b, staged=None, rollback=a)
        ctx.check_eq(g.unit(RESUME_UNIT).get("Result"), "exit-code", f"{RESUME_UNIT} failed")
        check_outage(ctx, g, b, c, a)

    with step("remote back; upgrade --apply (the timer's command) stages C and reboots"):
        ctx.server.start()
        g.vm.run_until_shutdown(
            f"mkdir -p /var/tmp/testos && {BIN} upgrade --apply --wariness 0 --format json "
            f"> {APPLY_OUT}.json 2> {APPLY_OUT}.err", "upgrade --apply")
    with step("boot C"):
        g.vm.boot()
    with step("checks on C (journey completed)"):
        out = g.json_file(f"{APPLY_OUT}.json", stderr_file=f"{APPLY_OUT}.err")
        ctx.check_eq(out["outcome"], "staged", "upgrade --apply after the outage", out)
        check_completed(ctx, g, c, rollback=b)
        state = g.state()
        ctx.check(any(h["kind"] == "error" and h.get("version") == c.version
                      for h in state["history"]), "state history keeps the outage's errors",
                  state["history"])
    with step("poweroff"):
        g.vm.poweroff()


def check_outage(ctx: Context, g, b, c, a) -> dict:
    """On B with the remote down: the journey waits at hop C with the error recorded."""
    state = g.state()
    j = check_journey(ctx, state, phase="staging", hop=c, attempts=0)
    ctx.check(bool(j.get("lastError")), "state: lastError recorded", state)
    ctx.clock.say(f"  lastError: {j['lastError']}")
    ctx.check(any(h["kind"] == "error" and h.get("version") == c.version
                  for h in state["history"]), "state history: error staging C",
              state["history"])
    ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
    st = g.cli("status")
    check_status(ctx, st, current=b, pending=None, rollback=a)
    ctx.check_eq(st["journey"]["phase"], "staging", "status: journey phase", st)
    motd = g.motd()
    ctx.check(motd is not None and "last error" in motd and c.version in motd,
              "motd: the journey is on its way to C and shows the last error", motd or "(none)")
    m = g.metrics()
    ctx.check_eq(m.get('bootc_checkpoint_recent_errors{kind="error"}', 0) >= 1, True,
                 "metrics: recent errors", m)
    return state
