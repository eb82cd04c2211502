"""Power cuts while a hop is being staged (the pull): the state survives, the journey converges.

The host was installed from A and follows `origin:os/stable`; graph A -> B (checkpoint) -> C,
os/stable at C.

The window is made reliable by the host's HTTP server (the guest's ostree remote): it *holds*
object downloads from the n-th one on, so when qemu is killed the guest is provably in the
middle of the pull (the journey already saved with phase `staging`, the commit partially
fetched). n is random (1..HOLD_MAX of the ~7 objects a hop's pull fetches; seed printed, set it
with BOOTC_CHECKPOINT_VM_SEED). The deploy that follows the pull (checkout, /run/ostree staged
deployment) has no network traffic to hold and is not targeted here.

1. boot A; `upgrade` (no --apply) runs in the background and hangs in B's pull. While it hangs
   the state file (read through the agent) already holds the journey: tracked ref, hop B pinned
   by commit, phase `staging`. Power cut.
2. offline: the only boot entry is A's; the state file has a valid envelope and checksum and is
   the one read while staging.
3. boot: A. The resume unit restages B (not a failed boot: attempts 0, no `failed` event).
4. reboot into B with C's pull held: the boot is not waited for; the resume unit (after
   boot-complete.target) hangs pulling C. State: phase `staging`, hop C. Power cut.
5. offline: boot entries B (default) and A; the state file is valid and unchanged.
6. boot: B. The resume unit restages C.
7. reboot: C; the journey completes.

After every boot: `ostree admin status`, the origin file, `status --format json`, the state file.
"""

import os
import random

from harness import bootloader
from harness.guest import BIN, parse_state_file
from harness.scenario import Context
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status
from scenarios.power_cut_finalization import OFFLINE_STATE, check_journey

NAME = "power-cut-staging"
SUMMARY = "ostree-ref host: power cut in the middle of staging B (upgrade) and C (resume unit)"

GRAPH = "/etc/bootc-checkpoint/graph.json"
OUT = "/var/tmp/testos/upgrade"
HOLD_MAX = 5   # a hop's pull fetches 7 objects here (.commitmeta, .commit, 4 dirtrees, a file)
HOLD_TIMEOUT = 180


def run(ctx: Context):
    step = ctx.clock.step
    seed = int(os.environ.get("BOOTC_CHECKPOINT_VM_SEED") or random.randrange(1 << 30))
    rnd = random.Random(seed)
    ctx.clock.say(f"seed {seed} (BOOTC_CHECKPOINT_VM_SEED={seed} repeats this run)")
    (a, b, c), graph, g = ctx.setup_journey([("B", "2025.2", True), ("C", "2025.3", False)])
    disk = g.vm.disk  # read offline after each power cut

    with step("boot A"):
        g.vm.boot()
    with step("upgrade in the background, B's pull held"):
        check_booted(ctx, g, a, staged=None, rollback=None)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        g.vm.write_file(GRAPH, graph)
        n = rnd.randint(0, HOLD_MAX)
        ctx.server.hold(after=n)
        g.vm.spawn_sh(f"mkdir -p /var/tmp/testos && {BIN} upgrade --graph {GRAPH} --wariness 0 "
                      f"--format json > {OUT}.json 2> {OUT}.err")
        held = ctx.server.wait_held(HOLD_TIMEOUT)
        ctx.clock.say(f"  pull held after {n} object(s), at {held}")
        staging = g.state()
        check_journey(ctx, staging, phase="staging", hop=b, attempts=0)
        check_booted(ctx, g, a, staged=None, rollback=None)
    with step("power cut while staging B (kill qemu)"):
        g.vm.save_journal()
        g.vm.kill()
        ctx.server.release()
    with step("offline checks: boot entries and state file"):
        check_offline(ctx, g, disk, [g.vm.boots[0].entry.fields], staging)

    with step("boot after the power cut"):
        g.vm.boot()
    with step("checks: back on A, the resume unit staged B"):
        check_booted(ctx, g, a, staged=b, rollback=None)
        check_resume_unit(ctx, g)
        state = g.state()
        check_journey(ctx, state, phase="staged", hop=b, attempts=0)
        ctx.check_eq(state["journey"]["hops"], staging["journey"]["hops"],
                     "state: same planned hops", state)
        ctx.check(not any(h["kind"] == "failed" for h in state["history"]),
                  "state history: no failed boot", state["history"])
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
        check_status(ctx, g.cli("status"), current=a, pending=b, rollback=None)

    with step("reboot into B, C's pull held (boot not waited for)"):
        n = rnd.randint(0, HOLD_MAX)
        ctx.server.hold(after=n)
        g.vm.reboot(wait_running=False)
        held = ctx.server.wait_held(HOLD_TIMEOUT)
        ctx.clock.say(f"  the resume unit's pull held after {n} object(s), at {held}")
        ctx.check_eq(g.marker(), "B", "booted release marker")
        staging = g.state()
        check_journey(ctx, staging, phase="staging", hop=c, attempts=0)
        ctx.check(any(h["kind"] == "booted" and h.get("version") == b.version
                      for h in staging["history"]), "state history: B booted",
                  staging["history"])
        entries_b = [e.fields for e in bootloader.entries(disk)]
    with step("power cut while the resume unit stages C (kill qemu)"):
        g.vm.save_journal()
        g.vm.kill()
        ctx.server.release()
    with step("offline checks: boot entries and state file"):
        check_offline(ctx, g, disk, entries_b, staging)

    with step("boot after the power cut"):
        g.vm.boot()
    with step("checks: on B, the resume unit staged C"):
        check_booted(ctx, g, b, staged=c, rollback=a)
        check_resume_unit(ctx, g)
        state = g.state()
        check_journey(ctx, state, phase="staged", hop=c, attempts=0)
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
        check_status(ctx, g.cli("status"), current=b, pending=c, rollback=a)

    with step("reboot into C"):
        g.vm.reboot()
    with step("checks on C (journey completed)"):
        check_completed(ctx, g, c, rollback=b)
    with step("poweroff"):
        g.vm.poweroff()


def check_offline(ctx: Context, g, disk, entries: list[dict], before: dict):
    """After a power cut: the boot entries and the state file on the disk."""
    bootloader.replay_journal(disk)  # as mounting the filesystem would
    ctx.check_eq([e.fields for e in bootloader.entries(disk)], entries,
                 "boot entries after the power cut: unchanged")
    raw = g.vm.read_file_offline(OFFLINE_STATE)
    ctx.check(raw is not None, f"state file {OFFLINE_STATE} survived the power cut")
    state = parse_state_file(raw.decode(errors="replace"), OFFLINE_STATE)
    ctx.clock.say("  ok: state file: valid envelope and checksum")
    ctx.check_eq(state, before, "state file: the state read before the power cut", state)


def check_completed(ctx: Context, g, final, *, rollback):
    check_booted(ctx, g, final, staged=None, rollback=rollback)
    check_resume_unit(ctx, g)
    state = g.state()
    ctx.check_eq(state["journey"], None, "state: journey ended", state)
    ctx.check_eq((state["history"][-1]["kind"], state["history"][-1].get("version")),
                 ("completed", final.version), f"state history ends with completed on "
                 f"{final.name}", state["history"])
    ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
    st = g.cli("status")
    check_status(ctx, st, current=final, pending=None, rollback=rollback)
    ctx.check_eq(st["journey"], None, "status: no journey", st)
    ctx.check_eq(g.motd(), None, "no motd once the journey is over")
    out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
    ctx.check_eq(out["outcome"], "upToDate", f"upgrade --check on {final.name}", out)
