"""Power cut before the staged hop is finalized: the journey converges anyway.

The host was installed from A and follows `origin:os/stable`; graph A -> B (checkpoint) -> C,
os/stable at C.

1. boot A; `upgrade` (no --apply) stages B pinned by commit.
2. power cut: the harness kills qemu. systemd's shutdown never runs, so
   `ostree-finalize-staged.service` never writes B's boot entry.
3. offline, before the guest runs again: the disk's only boot entry is A's; the state file (in
   the stateroot's shared /var) has a valid envelope and checksum and still holds the journey:
   tracked `origin:os/stable`, hop B pinned by commit, phase `staged`.
4. boot: A again (the harness boots the default entry, like a boot loader). The resume unit
   finds the journey's hop not booted and not staged (the staged deployment lived in /run) and
   stages B again. `upgrade` / `resume` then report `waiting`.
5. clean reboot: B boots; the resume unit stages C. Reboot: C boots; the journey completes.
"""

from harness import bootloader, image
from harness.guest import STATE_FILE, Guest, parse_state_file
from harness.scenario import REFSPEC, Context, Release
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status

NAME = "power-cut-finalization"
SUMMARY = "ostree-ref host: upgrade stages B, power cut before finalization, back on A, converges"

GRAPH = "/etc/bootc-checkpoint/graph.json"
OFFLINE_STATE = bootloader.STATEROOT_VAR.format(stateroot=image.STATEROOT) + \
    STATE_FILE[len("/var"):]


def run(ctx: Context):
    step = ctx.clock.step
    (a, b, c), graph, g = ctx.setup_journey([("B", "2025.2", True), ("C", "2025.3", False)])
    disk = g.vm.disk  # read offline after each power cut

    with step("boot A"):
        g.vm.boot()
    with step("upgrade: stage B"):
        check_booted(ctx, g, a, staged=None, rollback=None)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        g.vm.write_file(GRAPH, graph)
        out = g.cli(f"upgrade --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "staged", "upgrade outcome", out)
        ctx.check_eq(out["rebootRequired"], True, "upgrade: reboot required", out)
        check_booted(ctx, g, a, staged=b, rollback=None)
        before = g.state()
        check_journey(ctx, before, phase="staged", hop=b, attempts=0)
        entries = bootloader_entries_in_guest(g)
        ctx.check_eq(len(entries), 1, "one boot entry before the power cut (B is only staged)",
                     entries)

    with step("power cut (kill qemu)"):
        g.vm.save_journal()
        g.vm.kill()
    with step("offline checks: boot entries and state file"):
        bootloader.replay_journal(disk)  # as mounting the filesystem would
        es = bootloader.entries(disk)
        ctx.check_eq([e.fields for e in es], [g.vm.boots[0].entry.fields],
                     "boot entries after the power cut: only A's (B never finalized)")
        raw = g.vm.read_file_offline(OFFLINE_STATE)
        ctx.check(raw is not None, f"state file {OFFLINE_STATE} survived the power cut")
        state = parse_state_file(raw.decode(errors="replace"), OFFLINE_STATE)
        ctx.clock.say("  ok: state file: valid envelope and checksum")
        ctx.check_eq(state, before, "state file unchanged by the power cut", state)

    with step("boot after the power cut"):
        g.vm.boot()
    with step("checks: back on A, the resume unit staged B again"):
        check_booted(ctx, g, a, staged=b, rollback=None)
        check_resume_unit(ctx, g)
        log = g.unit_log("bootc-checkpoint-resume.service")
        state = g.state()
        j = check_journey(ctx, state, phase="staged", hop=b, attempts=None)
        # B never became a deployment, so the engine does not count a failed boot: it records
        # the lost hop and stages it again.
        ctx.check_eq(j["attempts"], 0, "state: the power cut is not a failed boot", state)
        ctx.check_eq(j["hops"], before["journey"]["hops"], "state: same planned hops", state)
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
        staged = [h for h in state["history"] if h["kind"] == "staged"
                  and h.get("version") == b.version]
        ctx.check_eq(len(staged), 2, "state history: B staged twice", state["history"])
        ctx.check(not any(h["kind"] == "failed" for h in state["history"]),
                  "state history: no failed boot", state["history"])
        ctx.check(any(h["kind"] == "error" and h.get("version") == b.version
                      for h in state["history"]),
                  "state history: the lost hop is recorded", state["history"])
        said = [l for l in log.splitlines() if l.strip() and ".service" not in l]
        ctx.clock.say(f"  resume unit after the power cut (attempts={j['attempts']}): "
                      + (" | ".join(said) or "(no output)"))
        st = g.cli("status")
        check_status(ctx, st, current=a, pending=b, rollback=None)
        out = g.cli("upgrade --wariness 0")
        ctx.check_eq(out["outcome"], "waiting", "upgrade after the power cut: waiting", out)
        out = g.cli("resume")
        ctx.check_eq(out["outcome"], "waiting", "resume after the power cut: waiting", out)
        check_booted(ctx, g, a, staged=b, rollback=None)

    with step("clean reboot into B"):
        g.vm.reboot()
    with step("checks on B (resume unit staged C)"):
        check_booted(ctx, g, b, staged=c, rollback=a)
        check_resume_unit(ctx, g)
        state = g.state()
        check_journey(ctx, state, phase="staged", hop=c, attempts=0)
        ctx.check(any(h["kind"] == "booted" and h.get("version") == b.version
                      for h in state["history"]), "state history: B booted", state["history"])
        st = g.cli("status")
        check_status(ctx, st, current=b, pending=c, rollback=a)

    with step("reboot into C"):
        g.vm.reboot()
    with step("checks on C (journey completed)"):
        check_booted(ctx, g, c, staged=None, rollback=b)
        check_resume_unit(ctx, g)
        state = g.state()
        ctx.check_eq(state["journey"], None, "state: journey ended", state)
        ctx.check_eq((state["history"][-1]["kind"], state["history"][-1].get("version")),
                     ("completed", c.version), "state history ends with completed on C",
                     state["history"])
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted", state)
        st = g.cli("status")
        check_status(ctx, st, current=c, pending=None, rollback=b)
        ctx.check_eq(st["journey"], None, "status: no journey", st)
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0")
        ctx.check_eq(out["outcome"], "upToDate", "upgrade --check on C", out)
    with step("poweroff"):
        g.vm.poweroff()


def bootloader_entries_in_guest(g: Guest) -> list[str]:
    return g.vm.sh("ls /boot/loader/entries/").out.split()


def check_journey(ctx: Context, state: dict | None, *, phase: str, hop: Release,
                  attempts: int | None) -> dict:
    """A journey following REFSPEC whose current hop is `hop` (pinned by commit)."""
    j = state and state["journey"]
    ctx.check(j is not None, "state: journey in progress", state)
    cur = j["hops"][j["current"]]
    ctx.check_eq((j["phase"], cur["version"], cur.get("commit")),
                 (phase, hop.version, hop.commit), f"state: hop {hop.name} {phase}", state)
    ctx.check_eq(j["tracked"], {"kind": "ostree", "refspec": REFSPEC}, "state: tracked ref",
                 state)
    if attempts is not None:
        ctx.check_eq(j["attempts"], attempts, "state: attempts", state)
    return j
