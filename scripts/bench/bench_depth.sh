#!/usr/bin/env bash
# Benchmark of vfm `depth` against a plain Python loop (scripts/bench/python_loop_depth.py, Depth
# Anything V2's own infer_image steps) over the same TorchScript model: a Depth-Anything-V2-Small
# sized network with random weights (scripts/bench/make_dpt_small.py), input side 518.
#
# Usage: scripts/bench/bench_depth.sh [N]        (default: 40 images)
#
# N synthetic JPEGs of SIZE (default 1280x720, run at 924x518 by the lower-bound resize rule);
# REPEAT times each: vfm (default worker split), vfm with one worker, python loop, and the python
# loop given vfm's malloc settings through glibc's environment variables. All write a
# per-image 16-bit PNG (per-image normalised) and JSON. img/s = N / wall time of the whole
# process (start-up and model load included), median over REPEAT; peak RSS from /usr/bin/time.
# Then vfm's and python's 16-bit maps are compared (parity): mean and max absolute difference
# in 16-bit steps, from an extra vfm run with full-size JPEG decode.
#
# Environment: BENCH_DIR (default build/bench-depth), DEPTH (default build/bin/depth),
# THREADS (default all cores), REPEAT (default 1), SIZE (default 1280x720).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/scripts/bench
PY=/usr/bin/python3  # Debian's, with torch and cv2
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench-depth}
DEPTH=${DEPTH:-$ROOT/build/bin/depth}
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-0}
SIZE=${SIZE:-1280x720}
N=${1:-40}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "bench_depth: N must be a positive integer, got '$N'" >&2; exit 2; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "bench_depth: REPEAT must be a positive integer" >&2; exit 2; }
[ -x "$DEPTH" ] || { echo "bench_depth: $DEPTH not found or not executable (build it first)" >&2; exit 2; }
"$PY" -c 'import torch, cv2, numpy' 2>/dev/null ||
  { echo "bench_depth: $PY lacks torch/cv2/numpy (Debian: python3-torch python3-opencv)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_depth: /usr/bin/time is needed for peak RSS (Debian: time)" >&2; exit 2; }

mkdir -p "$BENCH_DIR/logs"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
LOGS=$BENCH_DIR/logs
MODEL=$BENCH_DIR/dpt-small-random.pt
if [ ! -s "$MODEL" ] || [ "$HERE/make_dpt_small.py" -nt "$MODEL" ]; then
  "$PY" "$HERE/make_dpt_small.py" "$MODEL" >&2
fi
IMG=$BENCH_DIR/images_${SIZE}_$N
"$PY" "$HERE/make_images.py" "$IMG" "$N" --size "$SIZE" >&2
cat "$IMG"/*.jpg >/dev/null

# vfm's bench config: the shipped Depth Anything V2 config, 16-bit PNG + JSON only.
CONFIG=$BENCH_DIR/bench.json
"$PY" - "$ROOT/configs/depth/depth-anything-v2-small.json" "$CONFIG" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["outputs"] = {"json": True, "png16": True, "normalize": "per_image", "color": False}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PYEOF

thread_args=() py_thread_args=()
if [ "$THREADS" != 0 ]; then thread_args=(--threads "$THREADS"); py_thread_args=(--threads "$THREADS"); fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD0%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench_depth: warning: load average is $LOAD0 at start; timings will be noisy" >&2
fi

# timed LOG -- cmd...: wall seconds on stdout; peak RSS (KB) in LOG.rss.
timed() {
  local log=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$log.rss" "$@" >"$log.out" 2>"$log.err" ||
    { echo "bench_depth: failed: $*" >&2; tail -n 20 "$log.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# lib/src/runtime.cpp tune_malloc() as glibc environment variables: the same allocator settings
# for the Python loop, to separate them from the rest of vfm's gain.
VFM_MALLOC_ENV=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4611686018427387904 MALLOC_MMAP_MAX_=0
  MALLOC_ARENA_MAX=1)
declare -A walls=() rss=()
for ((r = 1; r <= REPEAT; r++)); do
  echo "== run $r/$REPEAT: vfm" >&2
  walls[vfm]+=" $(timed "$LOGS/vfm" "$DEPTH" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$BENCH_DIR/out/vfm" \
    --overwrite -v --progress none "${thread_args[@]}")"
  rss[vfm]+=" $(cat "$LOGS/vfm.rss")"
  echo "== run $r/$REPEAT: vfm workers=1" >&2
  walls[w1]+=" $(timed "$LOGS/vfm_w1" "$DEPTH" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$BENCH_DIR/out/vfm_w1" \
    --overwrite -v --progress none --set runtime.workers=1 "${thread_args[@]}")"
  rss[w1]+=" $(cat "$LOGS/vfm_w1.rss")"
  echo "== run $r/$REPEAT: python loop" >&2
  rm -rf "$BENCH_DIR/out/python"
  walls[py]+=" $(timed "$LOGS/python" "$PY" "$HERE/python_loop_depth.py" "$MODEL" "$IMG" \
    "$BENCH_DIR/out/python" "${py_thread_args[@]}")"
  rss[py]+=" $(cat "$LOGS/python.rss")"
  echo "== run $r/$REPEAT: python loop with vfm's malloc settings" >&2
  rm -rf "$BENCH_DIR/out/python_malloc"
  walls[pym]+=" $(timed "$LOGS/python_malloc" env "${VFM_MALLOC_ENV[@]}" "$PY" \
    "$HERE/python_loop_depth.py" "$MODEL" "$IMG" "$BENCH_DIR/out/python_malloc" "${py_thread_args[@]}")"
  rss[pym]+=" $(cat "$LOGS/python_malloc.rss")"
done
echo "== parity run (full-size decode)" >&2
"$DEPTH" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$BENCH_DIR/out/vfm_exact" --overwrite -q \
  --set input.reduced_decode=false "${thread_args[@]}"

"$PY" - "$BENCH_DIR" "$N" "$SIZE" "$REPEAT" "$LOAD0" "$(git -C "$ROOT" rev-parse --short HEAD)" \
  "$(echo "${walls[vfm]}" | median)" "$(echo "${walls[w1]}" | median)" "$(echo "${walls[py]}" | median)" \
  "$(echo "${walls[pym]}" | median)" \
  "$(echo "${rss[vfm]}" | tr ' ' '\n' | sort -g | tail -n1)" "$(echo "${rss[w1]}" | tr ' ' '\n' | sort -g | tail -n1)" \
  "$(echo "${rss[py]}" | tr ' ' '\n' | sort -g | tail -n1)" "$(echo "${rss[pym]}" | tr ' ' '\n' | sort -g | tail -n1)" \
  <<'PYEOF' | tee "$BENCH_DIR/results.md"
import glob, json, os, sys
import cv2, numpy as np
bench, n, size, repeat, load0, git = sys.argv[1:7]
wv, ww, wp, wm = map(float, sys.argv[7:11])
rv, rw, rp, rm = map(int, sys.argv[11:15])
n = int(n)
run = json.load(open(os.path.join(bench, "out", "vfm", "run.json")))
py = json.loads(open(os.path.join(bench, "logs", "python.out")).read().strip().splitlines()[-1])
diffs = []
for p in sorted(glob.glob(os.path.join(bench, "out", "python", "*.png"))):
    stem = os.path.splitext(os.path.basename(p))[0]
    v = glob.glob(os.path.join(bench, "out", "vfm_exact", "**", stem + "*.png"), recursive=True)
    v = [x for x in v if cv2.imread(x, cv2.IMREAD_UNCHANGED).dtype == np.uint16]
    if v:
        a = cv2.imread(p, cv2.IMREAD_UNCHANGED).astype(np.int64)
        b = cv2.imread(v[0], cv2.IMREAD_UNCHANGED).astype(np.int64)
        diffs.append(np.abs(a - b))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# vfm depth vs a plain Python loop (Depth-Anything-V2-Small-sized TorchScript, random weights)\n")
print(f"- git {git}; {cpu}, {os.cpu_count()} cores; load at start {load0}; runs per variant {repeat}")
print(f"- {n} synthetic {size} JPEGs, input 518 (lower bound, multiple of 14); outputs: 16-bit PNG + JSON")
print("- img/s = N / wall time of the whole process (start-up and model load included)\n")
print("| variant | img/s | vs python | peak RSS MB |")
print("|---|---|---|---|")
for name, w, r in (("vfm (default workers)", wv, rv), ("vfm workers=1", ww, rw), ("python loop", wp, rp),
                   ("python loop, vfm's malloc settings", wm, rm)):
    print(f"| {name} | {n / w:.2f} | {wp / w:.2f}x | {r / 1024:.0f} |")
print(f"\n- vfm stage means (ms/img): {json.dumps(run.get('mean_ms', run.get('stages', {})))}")
print(f"- python stage means (ms/img): {json.dumps(py['mean_ms'])}; model load {py['load_s']} s")
if diffs:
    d = np.concatenate([x.ravel() for x in diffs])
    print(f"- parity (16-bit steps, {len(diffs)} maps): mean |diff| {d.mean():.2f}, max {d.max()}")
else:
    print("- parity: no matching maps found")
PYEOF
