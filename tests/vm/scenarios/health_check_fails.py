"""The checkpoint fails its health check: boot counting falls back to A, the engine counts the
attempts and denylists the hop after the limit (3).

The host was installed from A and follows `origin:os/stable`; graph A -> B (checkpoint) -> C,
os/stable at C. B carries a *required* health check, `testos-health-check.service`
(`RequiredBy=boot-complete.target`, `Before=boot-complete.target`), that exits 1 on B (it
passes on every other release). On B, boot-complete.target therefore fails and
bootc-checkpoint-resume.service (Requires= and After= it) never runs.

What the harness emulates (`harness.bootloader.Greenboot`): GRUB + greenboot boot counting as
on Fedora IoT / RHEL for Edge, with the harness as GRUB and boot_counter = 1 (greenboot's
default is 3; 1 keeps the scenario short and exercises the same path):
- a newly finalized default deployment arms the counter (greenboot-grub2-set-counter); each boot
  of the default entry decrements it; boot-complete.target reached clears it (set-success);
- a boot that failed its health checks is rebooted (greenboot's redboot-auto-reboot; here the
  harness's clean `systemctl reboot`); with the counter at 0 the harness boots the fallback
  (second) entry, A, with `testos.greenboot.fallback` on the kernel command line;
- on that boot `testos-greenboot-rollback.service` (in A, Before=boot-complete.target) makes
  the booted deployment the default again, as greenboot's check-fallback does with
  `rpm-ostree rollback` (a small libostree program: Debian's ostree 2022.7 has no
  `ostree admin set-default`). B stays on disk as the rollback deployment.

1. boot A; `upgrade --apply` stages B and reboots.
2. attempt k = 1, 2, 3:
   - boot B (counter armed): the health check failed, boot-complete.target not reached, the
     resume unit never ran; the state is as A left it (hop B staged, attempts k-1);
   - reboot -> fallback to A, rollback unit: A is the default, B the rollback. The resume unit
     counts the failed boot (attempts k, a `failed` event "attempt k of 3");
     k < 3: it stages B again (a new deployment); `upgrade --apply` (the timer) reboots;
     k = 3: B is denylisted, the journey stops (phase `failed`), nothing staged; the motd says
     B failed to boot 3 times; metrics show 3 attempts and 1 denylisted release; `upgrade`
     no longer offers B.
"""

from harness import tools
from harness.bootloader import Greenboot
from harness.guest import BIN, RESUME_UNIT
from harness.scenario import Context
from scenarios.ostree_ref_journey import check_booted, check_resume_unit, check_status
from scenarios.power_cut_finalization import check_journey

NAME = "health-check-fails"
SUMMARY = "ostree-ref host: B fails a required health check; greenboot-style fallback to A, " \
          "3 attempts, denylisted"

GRAPH = "/etc/bootc-checkpoint/graph.json"
APPLY_OUT = "/var/tmp/testos/upgrade-apply"
HEALTH_UNIT = "testos-health-check.service"
ROLLBACK_UNIT = "testos-greenboot-rollback.service"
MAX_ATTEMPTS = 3  # the engine's default (DEFAULT_MAX_ATTEMPTS); the CLI has no option for it
UNITS = "usr/lib/systemd/system"

ROLLBACK_SERVICE = b"""\
[Unit]
Description=testos: greenboot fell back to the previous entry: make it the default again
ConditionKernelCommandLine=testos.greenboot.fallback
ConditionPathExists=/run/ostree-booted
RequiresMountsFor=/sysroot /boot
Before=boot-complete.target bootc-checkpoint-resume.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/libexec/testos/ostree-rollback

[Install]
WantedBy=multi-user.target
"""

HEALTH_SERVICE = b"""\
[Unit]
Description=testos: required health check (fails on release B)
Before=boot-complete.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'if grep -qx B /usr/share/testos/version; then echo "health check: release B is broken" >&2; exit 1; fi; echo "health check: ok"'

[Install]
RequiredBy=boot-complete.target
"""


def run(ctx: Context):
    step = ctx.clock.step
    with step("publish A (with the greenboot rollback unit) and install the host from it"):
        rollback = tools.build_c("ostree-rollback", ctx.dir, ctx.log)
        a = ctx.publish("A", "2025.1", files={
            "usr/libexec/testos/ostree-rollback": (rollback, 0o755),
            f"{UNITS}/{ROLLBACK_UNIT}": (ROLLBACK_SERVICE, 0o644),
            f"{UNITS}/multi-user.target.wants/{ROLLBACK_UNIT}": (f"../{ROLLBACK_UNIT}", 0),
        })
        disk = ctx.make_disk()
    with step("publish B (with a failing required health check) and C (os/stable -> C)"):
        b = ctx.publish("B", "2025.2", files={
            f"{UNITS}/{HEALTH_UNIT}": (HEALTH_SERVICE, 0o644),
            f"{UNITS}/boot-complete.target.requires/{HEALTH_UNIT}": (f"../{HEALTH_UNIT}", 0),
        })
        c = ctx.publish("C", "2025.3")
        graph = ctx.graph([(a, False), (b, True), (c, False)])
    loader = Greenboot(tries=1)
    g = ctx.start_vm(disk, loader=loader)

    with step("boot A"):
        boot = g.vm.boot()
    with step("checks on A"):
        ctx.check_eq(boot.blessed, True, "A reached boot-complete.target")
        check_booted(ctx, g, a, staged=None, rollback=None)
        check_resume_unit(ctx, g)
        ctx.check_eq(g.state(), None, "no state file before any journey")
        g.vm.write_file(GRAPH, graph)

    for k in range(1, MAX_ATTEMPTS + 1):
        with step(f"attempt {k}: upgrade --apply reboots into B"):
            g.vm.run_until_shutdown(
                f"mkdir -p /var/tmp/testos && {BIN} upgrade --apply --graph {GRAPH} "
                f"--wariness 0 --format json > {APPLY_OUT}.json 2> {APPLY_OUT}.err",
                "upgrade --apply")
            boot = g.vm.boot()
        with step(f"attempt {k}: checks on B (health check failed, resume unit not run)"):
            out = g.json_file(f"{APPLY_OUT}.json", stderr_file=f"{APPLY_OUT}.err")
            ctx.check_eq(out["outcome"], "staged" if k == 1 else "waiting",
                         "upgrade --apply outcome (before the reboot)", out)
            check_failed_b(ctx, g, boot, a, b, attempts=k - 1)
        with step(f"attempt {k}: reboot (redboot); the boot loader falls back to A"):
            boot = g.vm.reboot()
        with step(f"attempt {k}: checks on A (failed boot counted)"):
            ctx.check_eq(boot.blessed, True, "A reached boot-complete.target")
            ctx.check("testos.greenboot.fallback" in g.vm.sh("cat /proc/cmdline").out,
                      "booted as the fallback entry")
            ru = g.unit(ROLLBACK_UNIT)
            ctx.check_eq((ru.get("Result"), ru.get("ConditionResult")), ("success", "yes"),
                         f"{ROLLBACK_UNIT} made A the default again",
                         f"{ru}\n{g.unit_log(ROLLBACK_UNIT)}")
            check_back_on_a(ctx, g, a, b, attempts=k)

    with step("after the last attempt: B denylisted, the journey stopped"):
        state = g.state()
        out = g.cli(f"upgrade --check --graph {GRAPH} --wariness 0", check_exit=False)
        ctx.clock.say(f"  upgrade --check: {out.get('outcome')}: {out.get('message')}")
        ctx.check(out.get("outcome") != "available" or
                  out.get("plan", {}).get("next") != b.version,
                  "upgrade --check does not offer B again", out)
        out = g.cli(f"upgrade --graph {GRAPH} --wariness 0", check_exit=False)
        ctx.clock.say(f"  upgrade: {out.get('outcome')}: {out.get('message')}")
        ctx.check(out.get("outcome") in ("blocked", "upToDate"),
                  "upgrade stages nothing after the denylisting", out)
        check_booted(ctx, g, a, staged=None, rollback=b)
        after = g.state()
        ctx.check_eq(after["denylist"], state["denylist"], "state: denylist unchanged", after)
        ctx.clock.say("  boot loader: " + "; ".join(loader.history))
    with step("poweroff"):
        g.vm.poweroff()


def check_failed_b(ctx: Context, g, boot, a, b, *, attempts: int):
    ctx.check_eq(boot.blessed, False, "B did not reach boot-complete.target")
    check_booted(ctx, g, b, staged=None, rollback=a)
    h = g.unit(HEALTH_UNIT)
    ctx.check_eq((h.get("Result"), h.get("ExecMainStatus")), ("exit-code", "1"),
                 f"{HEALTH_UNIT} failed", f"{h}\n{g.unit_log(HEALTH_UNIT)}")
    ctx.check(HEALTH_UNIT in boot.failed_units, "boot degraded by the health check",
              boot.failed_units)
    ctx.check(g.vm.sh("systemctl is-active boot-complete.target", check=False).out.strip()
              != "active", "boot-complete.target is not active")
    u = g.unit(RESUME_UNIT)
    ctx.check_eq((u.get("ActiveState"), u.get("ExecMainStartTimestampMonotonic")),
                 ("inactive", "0"), f"{RESUME_UNIT} never ran on B", u)
    state = g.state()
    check_journey(ctx, state, phase="staged", hop=b, attempts=attempts)
    st = g.cli("status")
    check_status(ctx, st, current=b, pending=None, rollback=a)
    ctx.check_eq((st["journey"]["phase"], st["journey"]["attempts"]), ("staged", attempts),
                 "status: journey as A left it", st)


def check_back_on_a(ctx: Context, g, a, b, *, attempts: int):
    last = attempts == MAX_ATTEMPTS
    check_booted(ctx, g, a, staged=None if last else b, rollback=b)
    check_resume_unit(ctx, g)
    state = g.state()
    log = g.unit_log(RESUME_UNIT)
    ctx.clock.say("  resume unit: " + " | ".join(
        l for l in log.splitlines() if l.strip() and ".service" not in l))
    check_journey(ctx, state, phase="failed" if last else "staged", hop=b, attempts=attempts)
    failed = [h for h in state["history"] if h["kind"] == "failed"]
    ctx.check_eq(len(failed), attempts, "state history: one failed event per attempt",
                 state["history"])
    ctx.check(f"attempt {attempts} of {MAX_ATTEMPTS}" in failed[-1].get("detail", ""),
              f"the failed event says attempt {attempts} of {MAX_ATTEMPTS}", failed[-1])
    st = g.cli("status")
    check_status(ctx, st, current=a, pending=None if last else b, rollback=b)
    motd = g.motd()
    m = g.metrics()
    ctx.check_eq(m.get("bootc_checkpoint_journey_attempts"), float(attempts),
                 "metrics: journey attempts", m)
    if not last:
        ctx.check_eq(state["denylist"], [], "state: nothing denylisted yet", state)
        ctx.check(motd is not None and "staged" in motd, "motd: B staged again", motd or "")
        return
    ctx.check_eq([(d["version"], d.get("commit")) for d in state["denylist"]],
                 [(b.version, b.commit)], "state: B denylisted", state)
    ctx.check(any(h["kind"] == "denylisted" and h.get("version") == b.version
                  for h in state["history"]), "state history: B denylisted", state["history"])
    ctx.check_eq([d["version"] for d in st.get("denylist", [])], [b.version],
                 "status: denylist", st)
    ctx.check(motd is not None and "failed to boot" in motd
              and f"{MAX_ATTEMPTS} attempt" in motd and b.version in motd,
              "motd: B failed to boot 3 times", motd or "(none)")
    ctx.clock.say("  motd: " + " | ".join((motd or "").splitlines()))
    ctx.check_eq(m.get("bootc_checkpoint_denylisted_releases"), 1.0,
                 "metrics: one denylisted release", m)
    ctx.check_eq(m.get('bootc_checkpoint_journey_phase{phase="failed"}'), 1.0,
                 "metrics: phase failed", m)
