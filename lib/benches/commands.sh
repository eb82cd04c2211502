#!/usr/bin/env bash
# Whole-process costs side by side in one run (issue 9, item 2): `resume` with no journey (what
# every boot pays) and `status`, against `ostree admin status` on the same real sysroot (the
# demo's). Wall time from hyperfine, peak RSS from GNU time. Needs root, hyperfine and time
# (apt-get install hyperfine time). Usage: bash lib/benches/commands.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p bootc-checkpoint
bin=$PWD/target/release/bootc-checkpoint
demo=$("$bin" demo --keep | sed -n 's/^\$DEMO = \(.*\) (kept at the end)$/\1/p')
scratch=$(mktemp -d)
# ostree marks deployment roots immutable; lift that before removing the scratch sysroot.
cleanup() {
  chattr -i "$demo"/sysroot/ostree/deploy/*/deploy/*.0 2>/dev/null || true
  rm -rf "$demo" "$scratch"
}
trap cleanup EXIT
sysroot=$demo/sysroot
mkdir -p "$scratch/run"
common=(--sysroot "$sysroot" --state-dir "$scratch/state" --run-dir "$scratch/run" --config-root "$scratch")
resume="$bin resume ${common[*]}"
status="$bin status ${common[*]}"
ostree_status="ostree admin status --sysroot=$sysroot"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 3 --runs 40 "$resume" "$status" "$ostree_status"
for c in "$resume" "$status" "$ostree_status"; do
  # shellcheck disable=SC2086 # the command lines are word-split on purpose
  /usr/bin/time -f "peak RSS %M KiB  ${c%% --*}" $c >/dev/null
done
