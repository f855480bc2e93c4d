#!/usr/bin/env bash
# Benchmark of vfm `detect` against a plain Python loop (scripts/bench/python_loop.py) over the
# same TorchScript model (a YOLOv8n-sized network with random weights) and the same images.
#
# Usage: scripts/bench/bench_detect.sh [N...]        (default: 100 1000)
#
# For each N: N synthetic 1920x1080 JPEGs; then, REPEAT times each, in turn:
#   vfm        build/bin/detect with the default worker split (one worker per core, 1 thread each)
#   vfm w=1    the same with --set runtime.workers=1 (one worker using all threads)
#   python     python_loop.py (one image at a time, torch using all threads)
# Throughput is N / wall time of the whole process (start-up and model load included), the
# median of the REPEAT runs; peak RSS is from /usr/bin/time (max over the runs). Stage means
# come from vfm's OUT/run.json ("mean_ms") and python_loop's JSON line, for the last run.
# Finally vfm's and python's per-image JSON files are compared (parity check), from an extra
# untimed vfm run with input.reduced_decode=false (full-size decode, as the Python loop does).
#
# Environment:
#   BENCH_DIR  where the model, images, outputs and results go (default: build/bench)
#   DETECT     the detect binary (default: build/bin/detect)
#   THREADS    compute threads for both (default: all cores)
#   REPEAT     runs per variant (default: 1)
#   SEED       model seed for make_yolov8n.py (default: 0)
# Results: stdout and $BENCH_DIR/results.md. The model and image folders are cached in
# $BENCH_DIR; delete them to rebuild (the model is rebuilt when make_yolov8n.py is newer).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/scripts/bench
PY=/usr/bin/python3  # Debian's, with torch and cv2 (not whatever python3 is first on PATH)
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench}
DETECT=${DETECT:-$ROOT/build/bin/detect}
CONFIG=$HERE/yolov8n-bench.json
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-0}
SEED=${SEED:-0}

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(100 1000)
for n in "${counts[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench_detect: N must be a positive integer, got '$n'" >&2; exit 2; }
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "bench_detect: REPEAT must be a positive integer" >&2; exit 2; }
[ -x "$DETECT" ] || { echo "bench_detect: $DETECT not found or not executable (build it first)" >&2; exit 2; }
[ -x "$PY" ] || { echo "bench_detect: $PY not found" >&2; exit 2; }
"$PY" -c 'import torch, cv2, numpy' 2>/dev/null ||
  { echo "bench_detect: $PY lacks torch/cv2/numpy (Debian: python3-torch python3-opencv)" >&2; exit 2; }
HAVE_TIME=0
[ -x /usr/bin/time ] && HAVE_TIME=1

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
LOGS=$BENCH_DIR/logs
mkdir -p "$LOGS"

# --- model (cached) ---
MODEL=$BENCH_DIR/yolov8n-random-s$SEED.pt
if [ ! -s "$MODEL" ] || [ "$HERE/make_yolov8n.py" -nt "$MODEL" ] || [ "$HERE/make_images.py" -nt "$MODEL" ]; then
  echo "== making $MODEL" >&2
  "$PY" "$HERE/make_yolov8n.py" "$MODEL" --seed "$SEED" >&2
fi

thread_args=()
py_thread_args=()
if [ "$THREADS" != 0 ]; then
  thread_args=(--threads "$THREADS")
  py_thread_args=(--threads "$THREADS")
fi

now() { date +%s.%N; }

# run NAME LOGFILE TIMEFILE -- cmd...: runs cmd under /usr/bin/time (when present), stdout to
# LOGFILE.out, stderr to LOGFILE.err; prints the wall seconds.
run_timed() {
  local log=$1 tfile=$2
  shift 2
  local t0 t1 rc=0
  t0=$(now)
  if [ "$HAVE_TIME" = 1 ]; then
    /usr/bin/time -f '%M' -o "$tfile" "$@" >"$log.out" 2>"$log.err" || rc=$?
  else
    "$@" >"$log.out" 2>"$log.err" || rc=$?
  fi
  t1=$(now)
  if [ $rc -ne 0 ]; then
    echo "bench_detect: command failed (exit $rc): $*" >&2
    tail -n 20 "$log.err" >&2
    exit 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# JSON field helper: json_get FILE EXPR (EXPR on the parsed object `d`).
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
NCORES=$(nproc)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
TORCH=$("$PY" -c 'import torch; print(torch.__version__)')
VFMV=$("$DETECT" --version 2>&1 | head -n1)
if awk -v l="${LOAD0%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench_detect: warning: load average is $LOAD0 at start; timings will be noisy" >&2
fi

# Per-N results, as lines "N key value".
RES=$LOGS/results.txt
: >"$RES"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -n1; }

for n in "${counts[@]}"; do
  IMG=$BENCH_DIR/images_$n
  echo "== images: $IMG" >&2
  "$PY" "$HERE/make_images.py" "$IMG" "$n" >&2
  actual=$(find "$IMG" -maxdepth 1 -name '*.jpg' | wc -l)
  [ "$actual" -eq "$n" ] || { echo "bench_detect: $IMG holds $actual images, expected $n (delete it)" >&2; exit 1; }
  # Warm the page cache so neither side pays for the first read from disk.
  cat "$IMG"/*.jpg >/dev/null

  OUT_V=$BENCH_DIR/out/vfm_$n
  OUT_W=$BENCH_DIR/out/vfm_w1_$n
  OUT_P=$BENCH_DIR/out/python_$n
  declare -A walls=() rss=()
  for ((r = 1; r <= REPEAT; r++)); do
    echo "== N=$n run $r/$REPEAT: vfm" >&2
    w=$(run_timed "$LOGS/vfm_$n" "$LOGS/vfm_$n.time" \
        "$DETECT" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$OUT_V" --overwrite -v --progress none "${thread_args[@]}")
    walls[vfm]+=" $w"
    rss[vfm]+=" $( [ "$HAVE_TIME" = 1 ] && cat "$LOGS/vfm_$n.time" || json_get "$OUT_V/run.json" 'd["peak_rss_kb"]')"

    echo "== N=$n run $r/$REPEAT: vfm workers=1" >&2
    w=$(run_timed "$LOGS/vfm_w1_$n" "$LOGS/vfm_w1_$n.time" \
        "$DETECT" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$OUT_W" --overwrite -v --progress none \
        --set runtime.workers=1 "${thread_args[@]}")
    walls[w1]+=" $w"
    rss[w1]+=" $( [ "$HAVE_TIME" = 1 ] && cat "$LOGS/vfm_w1_$n.time" || json_get "$OUT_W/run.json" 'd["peak_rss_kb"]')"

    echo "== N=$n run $r/$REPEAT: python loop" >&2
    rm -rf "$OUT_P"
    w=$(run_timed "$LOGS/python_$n" "$LOGS/python_$n.time" \
        "$PY" "$HERE/python_loop.py" "$MODEL" "$IMG" "$OUT_P" "${py_thread_args[@]}")
    walls[py]+=" $w"
    tail -n1 "$LOGS/python_$n.out" >"$LOGS/python_$n.json"
    rss[py]+=" $( [ "$HAVE_TIME" = 1 ] && cat "$LOGS/python_$n.time" || json_get "$LOGS/python_$n.json" 'd["peak_rss_kb"]')"
  done
  # Parity run (untimed): full-size JPEG decode, as the Python loop does. The timed vfm runs
  # decode 1920x1080 JPEGs at half size (input.reduced_decode), which changes pixels slightly.
  echo "== N=$n parity run: vfm with input.reduced_decode=false" >&2
  "$DETECT" -c "$CONFIG" -m "$MODEL" "$IMG" -o "$BENCH_DIR/out/vfm_exact_$n" --overwrite -q \
    --set input.reduced_decode=false "${thread_args[@]}"
  for k in vfm w1 py; do
    echo "$n wall_$k $(echo "${walls[$k]}" | median)" >>"$RES"
    echo "$n rss_$k $(echo "${rss[$k]}" | maxof)" >>"$RES"
  done
  unset walls rss
  grep -h -i 'warning' "$LOGS/vfm_$n.err" "$LOGS/vfm_w1_$n.err" >&2 || true
done

# --- report ---
REPORT=$BENCH_DIR/results.md
"$PY" - "$RES" "$BENCH_DIR" "$REPEAT" "$STAMP" "$CPU" "$NCORES" "$LOAD0" "$GIT" "$TORCH" "$VFMV" \
  "$MODEL" "$THREADS" "$HAVE_TIME" "${counts[@]}" >"$REPORT" <<'PYEOF'
import json, os, sys

(res, bench, repeat, stamp, cpu, ncores, load0, git, torch_v, vfm_v, model, threads,
 have_time), counts = sys.argv[1:14], sys.argv[14:]
vals = {}
for line in open(res):
    n, k, v = line.split()
    vals[(n, k)] = float(v)
logs = os.path.join(bench, "logs")
out = os.path.join(bench, "out")

def run_json(d):
    with open(os.path.join(out, d, "run.json")) as f:
        return json.load(f)

def py_json(n):
    with open(os.path.join(logs, f"python_{n}.json")) as f:
        return json.load(f)

def mb(kb):
    return f"{kb / 1024:.0f}"

p = print
p("# vfm detect vs a plain Python loop (YOLOv8n-sized TorchScript, random weights)")
p()
p(f"- date: {stamp}; git {git}; {vfm_v}; torch {torch_v} (python side)")
p(f"- machine: {cpu}, {ncores} cores; load average at start: {load0}")
p(f"- threads: {'all cores' if threads == '0' else threads}; runs per variant: {repeat} "
  f"(median wall time{', max peak RSS' if int(repeat) > 1 else ''})")
p(f"- model: {model} (640x640, [B, 84, 8400] output); images: 1920x1080 JPEG q90, synthetic")
p("- img/s = N / wall time of the whole process (start-up, model load and warm-up included); "
  "'vfm' = default worker split (one worker per core, 1 thread each), "
  "'vfm w=1' = --set runtime.workers=1 (one worker, all threads)")
p(f"- peak RSS: {'/usr/bin/time %M' if have_time == '1' else 'run.json peak_rss_kb / ru_maxrss'}")
p()
p("| N | vfm img/s | vfm w=1 img/s | python img/s | vfm / python | vfm w=1 / python "
  "| vfm peak RSS MB | vfm w=1 peak RSS MB | python peak RSS MB |")
p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in counts:
    k = int(n)
    v, w, y = (k / vals[(n, f"wall_{s}")] for s in ("vfm", "w1", "py"))
    p(f"| {n} | {v:.2f} | {w:.2f} | {y:.2f} | {v / y:.2f}x | {w / y:.2f}x "
      f"| {mb(vals[(n, 'rss_vfm')])} | {mb(vals[(n, 'rss_w1')])} | {mb(vals[(n, 'rss_py')])} |")
p()
p("Mean milliseconds per image by stage (last run). vfm's stages run concurrently in a pipeline "
  "(decode thread, workers, writer), so they do not add up to the wall time; python's run one "
  "after another.")
p()
p("| N | run | decode | preprocess | infer | postprocess | write | in-process img/s | workers x threads |")
p("|---:|---|---:|---:|---:|---:|---:|---:|---|")
stages = ("decode", "preprocess", "infer", "postprocess", "write")
for n in counts:
    for label, d in (("vfm", f"vfm_{n}"), ("vfm w=1", f"vfm_w1_{n}")):
        r = run_json(d)
        m = r["mean_ms"]
        ips = r["counts"]["ok"] / r["seconds"] if r["seconds"] else 0
        p(f"| {n} | {label} | " + " | ".join(f"{m[s]:.1f}" for s in stages) +
          f" | {ips:.2f} | {r['workers']} x {r['threads_per_worker']} |")
    j = py_json(n)
    m = j["mean_ms"]
    p(f"| {n} | python | " + " | ".join(f"{m[s]:.1f}" for s in stages) +
      f" | {j['images_per_s']:.2f} (loop only) | 1 x {j['threads']} |")
p()

# Parity: vfm's per-image JSON against python's, detection by detection in output order.
p("Parity (vfm with input.reduced_decode=false vs python loop, per-image JSON, detections in score order):")
p()
for n in counts:
    vdir, pdir = os.path.join(out, f"vfm_exact_{n}"), os.path.join(out, f"python_{n}")
    files = sorted(f for f in os.listdir(pdir) if f.endswith(".json"))
    same_count = same_all = 0
    max_box = max_score = 0.0
    dets_v = dets_p = 0
    bad = []
    for f in files:
        with open(os.path.join(pdir, f)) as fh:
            a = json.load(fh)["detections"]
        with open(os.path.join(vdir, f)) as fh:
            b = json.load(fh)["detections"]
        dets_p += len(a)
        dets_v += len(b)
        if len(a) != len(b):
            bad.append(f"{f}: {len(b)} vs {len(a)} boxes")
            continue
        same_count += 1
        ok = True
        for x, y in zip(a, b):
            if x["class_id"] != y["class_id"]:
                ok = False
            db = max(abs(u - v) for u, v in zip(x["box"], y["box"]))
            max_box = max(max_box, db)
            max_score = max(max_score, abs(x["score"] - y["score"]))
            if db > 1.0:
                ok = False
        if ok:
            same_all += 1
        else:
            bad.append(f"{f}: same count, a class differs or a box moved > 1 px")
    p(f"- N={n}: {len(files)} images; detections vfm {dets_v}, python {dets_p}; "
      f"same box count on {same_count}/{len(files)}; same classes and boxes within 1 px on "
      f"{same_all}/{len(files)}; max |box diff| {max_box:.2f} px, max |score diff| {max_score:.5f}"
      + ("" if not bad else "; mismatches: " + "; ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")))
PYEOF
cat "$REPORT"
echo "(written to $REPORT; logs and outputs under $BENCH_DIR)" >&2
