"""Power cut *during* ostree-finalize-staged at shutdown: the host comes back on A or on the
hop, the state file is intact, and the journey converges.

The host was installed from A and follows `origin:os/stable`; graph A -> B (checkpoint) -> C,
os/stable at C.

Making the window reliable:
- A carries a drop-in for ostree-finalize-staged.service that wraps its ExecStop
  (`ostree admin finalize-staged`) between two kernel messages, "testos: finalize-staged
  begins" / "... ends", which the serial console shows (the harness watches it);
- the host's /etc gets BULK_ETC_FILES small files before staging: finalize-staged merges the
  running /etc into the new deployment (the 3-way /etc merge happens at finalization for
  staged deployments), which stretches the ~2.5 s finalization under TCG to ~11 s (measured; 3,000 files);
- the harness kills qemu a random delay (0.5 s .. KILL_MAX = 6 s; seed printed, set it with
  BOOTC_CHECKPOINT_VM_SEED) after "begins" and checks that "ends" had not been printed yet.
  (If finalization ever got faster than the delay, the scenario fails saying so rather than
  silently testing something else.)

1. boot A; fill /etc; `upgrade` (no --apply) stages B; the harness starts a reboot.
2. "begins" on the console, a random delay, power cut while finalize-staged runs.
3. offline: the state file has a valid envelope and checksum and is the state read before
   the reboot (phase `staged`, hop B); the boot entries are A's alone (the cut came before
   ostree swapped the boot loader config) or B's and A's (after).
4. boot the default entry: on A, the resume unit stages B again (not a failed boot: B never
   became a deployment); a clean reboot then boots B. On B (either way) the resume unit
   stages C.
5. reboot; power cut as soon as "ends" is on the console (finalization done, the rest of the
   shutdown cut short): offline, C's entry is the default and the state file is unchanged
   (hop C staged); boot: C, the journey completes. This is the "on the hop" outcome, made
   deterministic.
"""

import os
import random
import time

from harness import bootloader
from harness.scenario import Context
from harness.util import HarnessError
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status
from scenarios.power_cut_finalization import check_journey
from scenarios.power_cut_staging import check_completed, check_offline

NAME = "power-cut-finalizing"
SUMMARY = "ostree-ref host: power cut while ostree-finalize-staged runs at shutdown; converges"

GRAPH = "/etc/bootc-checkpoint/graph.json"
BEGIN = "testos: finalize-staged begins"
END = "testos: finalize-staged ends"
BULK_ETC_FILES = 3000
KILL_MAX = 6.0
DROPIN = f"""\
[Service]
ExecStop=
ExecStop=/bin/sh -c 'echo "{BEGIN}" > /dev/kmsg'
ExecStop=/usr/bin/ostree admin finalize-staged
ExecStop=/bin/sh -c 'echo "{END}" > /dev/kmsg'
""".encode()


def run(ctx: Context):
    step = ctx.clock.step
    seed = int(os.environ.get("BOOTC_CHECKPOINT_VM_SEED") or random.randrange(1 << 30))
    rnd = random.Random(seed)
    ctx.clock.say(f"seed {seed} (BOOTC_CHECKPOINT_VM_SEED={seed} repeats this run)")
    with step("publish A (finalize-staged console markers) and install the host from it"):
        a = ctx.publish("A", "2025.1", files={
            "usr/lib/systemd/system/ostree-finalize-staged.service.d/50-testos-markers.conf":
                (DROPIN, 0o644)})
        disk = ctx.make_disk()
    with step("publish B and C (os/stable -> C)"):
        b = ctx.publish("B", "2025.2")
        c = ctx.publish("C", "2025.3")
        graph = ctx.graph([(a, False), (b, True), (c, False)])
    g = ctx.start_vm(disk)

    with step("boot A"):
        g.vm.boot()
    with step(f"fill /etc ({BULK_ETC_FILES} files); upgrade: stage B"):
        check_booted(ctx, g, a, staged=None, rollback=None)
        g.vm.sh(f"mkdir -p /etc/testos-bulk && cd /etc/testos-bulk && "
                f"head -c {BULK_ETC_FILES * 16} /dev/urandom | split -b 16 -a 4 - f && "
                f"ls | wc -l", timeout=300)
        g.vm.write_file(GRAPH, graph)
        out = g.cli(f"upgrade --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "staged", "upgrade outcome", out)
        check_booted(ctx, g, a, staged=b, rollback=None)
        before = g.state()
        check_journey(ctx, before, phase="staged", hop=b, attempts=0)
        entries_a = [e.fields for e in bootloader.entries(disk)]

    with step("reboot; power cut while ostree-finalize-staged runs"):
        delay = rnd.uniform(0.5, KILL_MAX)
        g.vm.start_reboot()
        t0 = g.vm.wait_serial(BEGIN, 180, "shutdown")
        time.sleep(max(0.0, t0 + delay - time.monotonic()))
        g.vm.kill()
        ctx.clock.say(f"  killed {time.monotonic() - t0:.2f}s after '{BEGIN}' "
                      f"(planned {delay:.2f}s)")
        if END in g.vm.serial():
            raise HarnessError(f"finalization ended within {delay:.2f}s: the power cut came "
                               "too late (raise BULK_ETC_FILES or lower KILL_MAX)")
        ctx.clock.say("  ok: finalize-staged had not ended (no end marker on the console)")
    with step("offline checks: state file and boot entries"):
        bootloader.replay_journal(disk)
        es = bootloader.entries(disk)
        deps = [bootloader.deployment_of(disk, e) for e in es]
        on_b = deps[0].startswith(b.commit)
        ctx.clock.say(f"  boot entries: {[d[:12] for d in deps]} -> the next boot is "
                      f"{'B (the cut came after the boot loader swap)' if on_b else 'A'}")
        if not on_b:
            check_offline(ctx, g, disk, entries_a, before)
        else:
            ctx.check_eq(len(es), 2, "boot entries: B and A", deps)
            check_offline(ctx, g, disk, [e.fields for e in es], before)

    with step("boot after the power cut"):
        g.vm.boot()
    if not on_b:
        with step("checks: back on A, the resume unit staged B again"):
            check_booted(ctx, g, a, staged=b, rollback=None)
            check_resume_unit(ctx, g)
            state = g.state()
            check_journey(ctx, state, phase="staged", hop=b, attempts=0)
            ctx.check(not any(h["kind"] == "failed" for h in state["history"]),
                      "state history: no failed boot", state["history"])
            ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
            check_status(ctx, g.cli("status"), current=a, pending=b, rollback=None)
            out = g.cli("upgrade --wariness 0")
            ctx.check_eq(out["outcome"], "waiting", "upgrade: waiting for the reboot", out)
        with step("clean reboot into B"):
            g.vm.reboot()
    with step("checks on B (resume unit staged C)"):
        check_booted(ctx, g, b, staged=c, rollback=a)
        check_resume_unit(ctx, g)
        state = g.state()
        check_journey(ctx, state, phase="staged", hop=c, attempts=0)
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
        ctx.check_eq(g.vm.sh("ls /etc/testos-bulk | wc -l").out.strip(), str(BULK_ETC_FILES),
                     "B's /etc has the host's files (merged at finalization)")
        check_status(ctx, g.cli("status"), current=b, pending=c, rollback=a)

    with step("reboot; power cut right after ostree-finalize-staged finished"):
        before = g.state()
        g.vm.start_reboot()
        g.vm.wait_serial(END, 180, "shutdown")
        g.vm.kill()
        ctx.clock.say(f"  killed when the console showed '{END}' (rest of the shutdown skipped)")
    with step("offline checks: C is the default entry, state file unchanged"):
        bootloader.replay_journal(disk)
        es = bootloader.entries(disk)
        ctx.check(bootloader.deployment_of(disk, es[0]).startswith(c.commit),
                  "the default boot entry boots C (finalization completed before the cut)",
                  [e.fields for e in es])
        check_offline(ctx, g, disk, [e.fields for e in es], before)
    with step("boot C"):
        g.vm.boot()
    with step("checks on C (journey completed)"):
        check_completed(ctx, g, c, rollback=b)
    with step("poweroff"):
        g.vm.poweroff()
