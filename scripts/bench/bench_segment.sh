#!/usr/bin/env bash
# Benchmark of vfm `segment --everything` against upstream MobileSAM's own `scripts/amg.py`
# (run unchanged by scripts/bench/amg_upstream.py) driving the same weights: a MobileSAM (vit_t,
# TinyViT) network with random weights, exported by scripts/export_sam.py.
#
# Usage: SAM_PACKAGE=~/src/MobileSAM scripts/bench/bench_segment.sh [N]   (default: 4 images)
#
# N synthetic JPEGs of SIZE (default 1024x768). Two settings, the same knobs on both sides:
#   a  "defaults": amg.py's defaults (points_per_side 32, pred_iou_thresh 0.88,
#      stability_score_thresh 0.95, box_nms_thresh 0.7). With random weights few masks survive
#      the filters, so this mostly measures encoder + decoder + filtering.
#   b  "keep all": pred_iou_thresh 0, stability_score_thresh 0, box_nms_thresh 1 (points per
#      side PPS_B): every candidate mask (3 per point) is upscaled, thresholded, RLE-encoded and
#      written, the heavy post-processing path.
# Per setting, REPEAT times each, in turn:
#   vfm       build/bin/segment -c EXPORT.json --everything DIR --masks (default worker split;
#             per-mask PNGs, plus the per-image JSON with RLE and coco.json that it writes by
#             default)
#   upstream  amg_upstream.py -> PACKAGE/scripts/amg.py --device cpu (one PNG per mask +
#             metadata.csv per image), torch threads = all cores (see amg_upstream.py: Debian's
#             torch may default to 1 thread, amg.py does not set it), eval() after loading the
#             checkpoint (see amg_upstream.py: MobileSAM's builder calls it before, which leaves
#             TinyViT's cached attention-bias table at its constructor value).
# s/img = wall time of the whole process (start-up and model load included) / N, median of the
# REPEAT runs. /usr/bin/time -v gives peak RSS, user and system CPU seconds and page faults (max
# over the runs for RSS, last run for the rest). Mask counts per image come from both sides'
# outputs (vfm: <stem>.json; upstream: metadata.csv) and should be equal. With PARITY=1 (default)
# scripts/parity_sam.py then compares vfm's setting-b masks on the first image with upstream's
# SamAutomaticMaskGenerator, mask by mask (matched IoU), untimed.
#
# Environment:
#   SAM_PACKAGE  MobileSAM checkout (imports mobile_sam; has scripts/amg.py); needed for the
#                upstream runs and to make the export
#   AMG          amg.py to run (default: $SAM_PACKAGE/scripts/amg.py)
#   BENCH_DIR    export, checkpoint, images, outputs, logs, results.md (default: build/bench-segment)
#   SEGMENT      the segment binary (default: build/bin/segment)
#   SEED         random-weight seed of the export (default: 0); the export
#                ($BENCH_DIR/mobilesam_rand.json + encoder/decoder .pt + mobilesam_rand.pth, the
#                same state_dict for upstream) is made once and kept; delete it to remake
#   SIZE         image size (default: 1024x768)
#   SETTINGS     which settings to run (default: "a b")
#   PPS_A PPS_B  points per side of settings a and b (default: 32 and 16: keep-all at 16 is
#                768 masks per image, about 150 s per image for upstream on 2 cores; at 32 it
#                is 3072 masks, roughly four times that, and too big for PARITY)
#   THREADS      compute threads for both (default: 0, all cores)
#   REPEAT       runs per side and setting (default: 1)
#   VFM_W1       1: also time vfm with --set runtime.workers=1 (one image at a time, all
#                threads in one worker, as upstream) (default: 0)
#   SIDES        which sides to time (default: "vfm upstream", plus vfm_w1 with VFM_W1=1);
#                the figures of sides not named are kept from the previous run in BENCH_DIR
#                (when made with the same N, SIZE and points per side) and marked with their time
#                upstream_malloc: upstream with glibc malloc tuned through its environment
#                variables the way vfm tunes it with mallopt (lib/src/runtime.cpp tune_malloc:
#                no mmap'ed blocks, one arena, 32 MB mmap threshold, no trimming: a 2^62 threshold), to
#                tell how much of the difference is the allocator (not in the default SIDES)
#   PARITY       1: run parity_sam.py on the first image for setting b (default: 1); it holds
#                every mask of both sides as float32 at once (2 x 3 x PPS_B^2 x W x H x 4 bytes:
#                19 GB at PPS_B 32 and 1024x768), so it is skipped when that exceeds 3/4 of
#                MemAvailable
#   CHECK_MASKS  1: compare the two sides' mask PNGs index by index (IoU, identical count)
#                after the runs, untimed (default: 1)
# Results: stdout and $BENCH_DIR/results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/scripts/bench
PY=/usr/bin/python3  # Debian's, with torch and cv2 (not whatever python3 is first on PATH)
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench-segment}
SEGMENT=${SEGMENT:-$ROOT/build/bin/segment}
SAM_PACKAGE=${SAM_PACKAGE:-}
AMG=${AMG:-${SAM_PACKAGE:+$SAM_PACKAGE/scripts/amg.py}}
SEED=${SEED:-0}
SIZE=${SIZE:-1024x768}
SETTINGS=${SETTINGS:-a b}
PPS_A=${PPS_A:-32}
PPS_B=${PPS_B:-16}
THREADS=${THREADS:-0}
REPEAT=${REPEAT:-1}
VFM_W1=${VFM_W1:-0}
SIDES=${SIDES:-vfm $([ "$VFM_W1" = 1 ] && echo vfm_w1) upstream}
PARITY=${PARITY:-1}
CHECK_MASKS=${CHECK_MASKS:-1}
N=${1:-4}
die() { echo "bench_segment: $*" >&2; exit 2; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
[[ "$PPS_A" =~ ^[1-9][0-9]*$ && "$PPS_B" =~ ^[1-9][0-9]*$ ]] || die "PPS_A / PPS_B must be positive integers"
for s in $SETTINGS; do [[ "$s" == a || "$s" == b ]] || die "SETTINGS: a and/or b, got '$s'"; done
for s in $SIDES; do
  [[ "$s" =~ ^(vfm|vfm_w1|upstream|upstream_malloc)$ ]] || die "SIDES: vfm, vfm_w1, upstream, upstream_malloc; got '$s'"
done
[ -x "$SEGMENT" ] || die "$SEGMENT not found or not executable (build it first)"
[ -n "$SAM_PACKAGE" ] && [ -d "$SAM_PACKAGE/mobile_sam" ] ||
  die "set SAM_PACKAGE to a MobileSAM checkout (https://github.com/ChaoningZhang/MobileSAM)"
[ -f "$AMG" ] || die "$AMG not found (set AMG to upstream's scripts/amg.py)"
"$PY" -c 'import torch, cv2, numpy, PIL' 2>/dev/null ||
  die "$PY lacks torch/cv2/numpy/PIL (Debian: python3-torch python3-opencv python3-pil)"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed for peak RSS (Debian: time)"

mkdir -p "$BENCH_DIR/logs"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
SAM_PACKAGE=$(cd "$SAM_PACKAGE" && pwd)
LOGS=$BENCH_DIR/logs
EXPORT=$BENCH_DIR/mobilesam_rand.json
CKPT=$BENCH_DIR/mobilesam_rand.pth
if [ ! -s "$EXPORT" ] || [ ! -s "$CKPT" ]; then
  echo "== export: MobileSAM vit_t, random weights (seed $SEED) -> $BENCH_DIR" >&2
  "$PY" "$ROOT/scripts/export_sam.py" --package "$SAM_PACKAGE" --model-type vit_t \
    --random-weights "$SEED" --save-random-checkpoint "$CKPT" --out "$BENCH_DIR" \
    --name mobilesam_rand >"$LOGS/export.log" 2>&1 ||
    { tail -n 20 "$LOGS/export.log" >&2; die "export failed (log: $LOGS/export.log)"; }
fi
IMG=$BENCH_DIR/images_${SIZE}_$N
"$PY" "$HERE/make_images.py" "$IMG" "$N" --size "$SIZE" >&2
cat "$IMG"/*.jpg >/dev/null

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD0%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench_segment: warning: load average is $LOAD0 at start; timings will be noisy" >&2
fi

# Busy CPU jiffies of the whole machine (user nice system irq softirq steal), to tell how much
# CPU other processes (or other guests: steal) took while a side ran.
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
# timed LOG -- cmd...: wall seconds on stdout; /usr/bin/time -v report in LOG.time; the
# machine's busy CPU seconds during the run and the load average at its start in LOG.machine.
timed() {
  local log=$1; shift
  local t0 t1 j0 j1 l0
  l0=$(cut -d' ' -f1 /proc/loadavg)
  j0=$(busy_jiffies)
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>"$log.err" ||
    { echo "bench_segment: failed: $*" >&2; tail -n 20 "$log.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  j1=$(busy_jiffies)
  echo "load_start $l0 busy_s $(awk -v a="$j0" -v b="$j1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')" >"$log.machine"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

knobs() {  # setting -> "pps iou stab nms"
  case $1 in
    a) echo "$PPS_A 0.88 0.95 0.7" ;;
    b) echo "$PPS_B 0 0 1" ;;
  esac
}

# One line per timed run in walls.txt: side setting wall N SIZE points_per_side git binary-stamp
# clock. A side re-timed (SIDES) replaces its earlier lines for that setting; lines of sides not
# re-timed are kept, and the summary uses those made with the current N, SIZE and points.
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- lib apps 2>/dev/null || GIT_REV+="+local"
BIN_STAMP=$(date -r "$SEGMENT" +%Y-%m-%dT%H:%M:%S)
touch "$LOGS/walls.txt"
for s in $SETTINGS; do
  for side in $SIDES; do
    awk -v a="$side" -v b="$s" '!($1 == a && $2 == b)' "$LOGS/walls.txt" >"$LOGS/walls.tmp"
    mv "$LOGS/walls.tmp" "$LOGS/walls.txt"
    rm -f "$LOGS/${side}_$s".time.* "$LOGS/${side}_$s".machine.*
  done
done
for s in $SETTINGS; do
  read -r pps iou stab nms <<<"$(knobs "$s")"
  vfm_args=(-c "$EXPORT" --everything "$IMG" --masks --overwrite -v --progress none
    --set "everything.points_per_side=$pps" --set "everything.pred_iou_thresh=$iou"
    --set "everything.stability_score_thresh=$stab" --set "everything.box_nms_thresh=$nms")
  [ "$THREADS" = 0 ] || vfm_args+=(--threads "$THREADS")
  amg_args=(--checkpoint "$CKPT" --model-type vit_t --input "$IMG" --device cpu
    --points-per-side "$pps" --pred-iou-thresh "$iou" --stability-score-thresh "$stab"
    --box-nms-thresh "$nms")
  for ((r = 1; r <= REPEAT; r++)); do
    for side in $SIDES; do
      echo "== setting $s (points_per_side $pps, pred_iou $iou, stability $stab, box_nms $nms), run $r/$REPEAT: $side" >&2
      log=$LOGS/${side}_$s
      case $side in
        vfm) w=$(timed "$log" "$SEGMENT" "${vfm_args[@]}" -o "$BENCH_DIR/out/vfm_$s") ;;
        vfm_w1) w=$(timed "$log" "$SEGMENT" "${vfm_args[@]}" -o "$BENCH_DIR/out/vfm_w1_$s" \
          --set runtime.workers=1) ;;
        upstream | upstream_malloc)
          menv=()
          [ "$side" = upstream ] || menv=(env MALLOC_MMAP_MAX_=0 MALLOC_ARENA_MAX=1
            MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4611686018427387904)
          rm -rf "$BENCH_DIR/out/${side}_$s"
          w=$(timed "$log" "${menv[@]}" "$PY" "$HERE/amg_upstream.py" --package "$SAM_PACKAGE" \
            --amg "$AMG" --threads "$THREADS" --stats "$log.stats.json" -- \
            "${amg_args[@]}" --output "$BENCH_DIR/out/${side}_$s") ;;
      esac
      echo "$side $s $w $N $SIZE $pps $GIT_REV $BIN_STAMP $(date +%H:%M)" >>"$LOGS/walls.txt"
      cp "$log.time" "$log.time.$r"
      cp "$log.machine" "$log.machine.$r"
    done
  done
done

W=${SIZE%x*} H=${SIZE#*x}
need_kb=$((2 * 3 * PPS_B * PPS_B * W * H * 4 / 1024))
avail_kb=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
if [ "$PARITY" = 1 ] && [[ " $SETTINGS " == *" b "* ]]; then rm -f "$LOGS/parity.log"; fi
if [ "$PARITY" = 1 ] && [[ " $SETTINGS " == *" b "* ]] && ((need_kb > avail_kb * 3 / 4)); then
  echo "parity_sam.py skipped: it would need about $((need_kb / 1048576)) GB for PPS_B $PPS_B at $SIZE ($((avail_kb / 1048576)) GB available); run with PPS_B=16" >"$LOGS/parity.log"
  echo "bench_segment: $(cat "$LOGS/parity.log")" >&2
elif [ "$PARITY" = 1 ] && [[ " $SETTINGS " == *" b "* ]]; then
  first=$(ls "$IMG"/*.jpg | head -n1)
  echo "== parity (setting b, $(basename "$first")): parity_sam.py, untimed" >&2
  read -r pps iou stab nms <<<"$(knobs b)"
  "$PY" "$ROOT/scripts/parity_sam.py" --package "$SAM_PACKAGE" --model-type vit_t \
    --checkpoint "$CKPT" --image "$first" --everything --points-per-side "$pps" \
    --pred-iou-thresh "$iou" --stability-score-thresh "$stab" --box-nms-thresh "$nms" \
    --upstream-out "$BENCH_DIR/out/parity_upstream" --vfm-everything "$BENCH_DIR/out/vfm_b" \
    --threads "$THREADS" >"$LOGS/parity.log" 2>&1 && echo "parity rc 0" >>"$LOGS/parity.log" ||
    echo "parity rc $?" >>"$LOGS/parity.log"
fi

"$PY" - "$BENCH_DIR" "$N" "$SIZE" "$REPEAT" "$LOAD0" \
  "$GIT_REV" \
  "$SETTINGS" "$PPS_A" "$PPS_B" "$IMG" "$CHECK_MASKS" <<'PYEOF' | tee "$BENCH_DIR/results.md"
import glob, json, os, re, statistics, sys
bench, n, size, repeat, load0, git, settings, pps_a, pps_b, img, check_masks = sys.argv[1:12]
check_masks = check_masks == "1"
n = int(n)
logs = os.path.join(bench, "logs")
walls, made = {}, {}
for line in open(os.path.join(logs, "walls.txt")):
    f = line.split()
    side, s, w = f[:3]
    ppsx = pps_a if s == "a" else pps_b
    if len(f) < 9 or f[3] != str(n) or f[4] != size or f[5] != ppsx:
        continue  # made with other images or points
    walls.setdefault((side, s), []).append(float(w))
    made[(side, s)] = f"git {f[6]}, segment built {f[7]}, run at {f[8]}"

def tv(path):
    """The fields of a /usr/bin/time -v report we use."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        k, _, v = line.strip().rpartition(": ")
        out[k] = v
    return out

def rss_max(side, s):
    rs = [int(tv(p).get("Maximum resident set size (kbytes)", 0))
          for p in glob.glob(os.path.join(logs, f"{side}_{s}.time.*"))]
    return max(rs) if rs else 0

def vfm_counts(d):
    c = {}
    for p in glob.glob(os.path.join(d, "**", "*.json"), recursive=True):
        stem = os.path.splitext(os.path.basename(p))[0]
        try:
            j = json.load(open(p))
        except Exception:
            continue
        if isinstance(j, dict) and isinstance(j.get("masks"), list):
            c[stem] = len(j["masks"])
    return c

def up_counts(d):
    c = {}
    for p in glob.glob(os.path.join(d, "*", "metadata.csv")):
        with open(p) as f:
            c[os.path.basename(os.path.dirname(p))] = max(0, len(f.read().splitlines()) - 1)
    return c

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
knob = {"a": (pps_a, 0.88, 0.95, 0.7), "b": (pps_b, 0, 0, 1)}
print("# vfm segment --everything vs upstream MobileSAM scripts/amg.py "
      "(vit_t / TinyViT, random weights, same state_dict)\n")
print(f"- git {git} (at summary time); {cpu}, {os.cpu_count()} cores; load at start {load0}; runs per side {repeat}")
print(f"- {n} synthetic {size} JPEGs; outputs: vfm per-mask PNGs + per-image JSON (RLE) + coco.json,"
      " upstream per-mask PNGs + metadata.csv")
print("- s/img = wall time of the whole process (start-up, model load included) / N, median; "
      "CPU s/img = (user + sys) / N; user/sys CPU s, page faults and peak RSS from /usr/bin/time -v; "
      "others' CPU = cores' worth of CPU the rest of the machine used during the run\n")
print("| setting | side | s/img | upstream / this | CPU s/img | user s | sys s | major faults | minor faults | peak RSS MB | masks per image | others' CPU (cores) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
notes = []
for s in sorted({k[1] for k in walls}):  # every setting with figures, re-timed now or not
    pps, iou, stab, nms = knob[s]
    label = (f"{s}: pps {pps}, iou {iou}, stab {stab}, nms {nms}")
    up_w = statistics.median(walls.get(("upstream", s), [float("nan")]))
    counts = {"vfm": vfm_counts(os.path.join(bench, "out", f"vfm_{s}")),
              "vfm_w1": vfm_counts(os.path.join(bench, "out", f"vfm_w1_{s}")),
              "upstream": up_counts(os.path.join(bench, "out", f"upstream_{s}")),
              "upstream_malloc": up_counts(os.path.join(bench, "out", f"upstream_malloc_{s}"))}
    for side in ("vfm", "vfm_w1", "upstream", "upstream_malloc"):
        if (side, s) not in walls:
            continue
        w = statistics.median(walls[(side, s)])
        t = tv(os.path.join(logs, f"{side}_{s}.time"))
        c = counts[side]
        cs = " ".join(str(c[k]) for k in sorted(c))
        name = {"vfm": "vfm", "vfm_w1": "vfm workers=1", "upstream": "upstream amg.py",
                "upstream_malloc": "upstream amg.py, malloc tuned as vfm"}[side]
        # Others' CPU: the machine's busy CPU seconds during the run minus this process's
        # user + sys, over the wall time (0: the machine was ours; 1: a core was taken).
        other = "?"
        mp = os.path.join(logs, f"{side}_{s}.machine")
        if os.path.exists(mp):
            mf = open(mp).read().split()
            busy = float(mf[mf.index("busy_s") + 1])
            own = float(t.get("User time (seconds)", 0)) + float(t.get("System time (seconds)", 0))
            wl = float(walls[(side, s)][-1])
            other = f"{max(0.0, busy - own) / wl:.2f} (load {mf[mf.index('load_start') + 1]})"
        cpu_s = (float(t.get("User time (seconds)", "nan")) + float(t.get("System time (seconds)", "nan"))) / n
        print(f"| {label} | {name} | {w / n:.2f} | {up_w / w:.2f}x | {cpu_s:.1f} | {t.get('User time (seconds)', '?')} | "
              f"{t.get('System time (seconds)', '?')} | {t.get('Major (requiring I/O) page faults', '?')} | "
              f"{t.get('Minor (reclaiming a frame) page faults', '?')} | {rss_max(side, s) / 1024:.0f} | {cs} | {other} |")
    if counts["vfm"] and counts["upstream"]:
        same = counts["vfm"] == counts["upstream"]
        notes.append(f"- setting {s}: mask counts per image {'equal' if same else 'DIFFER'} "
                     f"(vfm {counts['vfm']}, upstream {counts['upstream']})")
    # Mask by mask, in output order: upstream's i.png against vfm's masks/<stem>/i.png.
    if check_masks and counts["vfm"] and counts["upstream"]:
        import cv2, numpy as np
        ious, runs, exact, total, missing = [], [], 0, 0, 0
        for stem in sorted(counts["upstream"]):
            for i in range(counts["upstream"][stem]):
                pa = os.path.join(bench, "out", f"upstream_{s}", stem, f"{i}.png")
                pb = os.path.join(bench, "out", f"vfm_{s}", "masks", stem, f"{i}.png")
                a = cv2.imread(pa, cv2.IMREAD_GRAYSCALE)
                b = cv2.imread(pb, cv2.IMREAD_GRAYSCALE)
                if a is None or b is None or a.shape != b.shape:
                    missing += 1
                    continue
                a, b = a > 127, b > 127
                col = a.T.ravel()  # column-major, as COCO RLE
                runs.append(1 + int(np.count_nonzero(col[1:] != col[:-1])))
                total += 1
                inter, union = np.count_nonzero(a & b), np.count_nonzero(a | b)
                ious.append(inter / union if union else 1.0)
                exact += union == inter
        if ious:
            notes.append(f"- setting {s}: masks compared by index (upstream i.png vs vfm "
                         f"masks/<stem>/i.png): {total} pairs, {exact} pixel-identical, IoU min "
                         f"{min(ious):.4f} mean {sum(ious) / len(ious):.6f}; RLE runs per mask "
                         f"mean {sum(runs) / len(runs):.0f}, max {max(runs)}"
                         + (f", {missing} missing or of another size" if missing else ""))
    rj = os.path.join(bench, "out", f"vfm_{s}", "run.json")
    if os.path.exists(rj):
        run = json.load(open(rj))
        notes.append(f"- setting {s}: vfm stage means (ms/img, per worker): {json.dumps(run.get('mean_ms'))}; "
                     f"workers {run.get('workers')} x {run.get('threads_per_worker')} thread(s); "
                     f"run {run.get('seconds')} s from the first image")
    for side in ("upstream", "upstream_malloc"):
        sj = os.path.join(logs, f"{side}_{s}.stats.json")
        if (side, s) not in walls or not os.path.exists(sj):
            continue
        st = json.load(open(sj))
        k = max(1, st.get("images", 1))
        per = {key: round(v / k, 2) for key, v in st["stage_s"].items()}
        notes.append(f"- setting {s}: {side} seconds per image by function (nested: "
                     f"generate > process_batch > decoder, upscale, ...): {json.dumps(per)}; "
                     f"load {st['load_s']} s; torch threads {st['threads']} (torch's default "
                     f"{st['torch_default_threads']}); torchvision {st['torchvision']}")
for key in sorted(made):
    notes.append(f"- {key[0]} {key[1]}: {made[key]}")
print()
print("\n".join(notes))
pl = os.path.join(logs, "parity.log")
if os.path.exists(pl):
    lines = [l.rstrip() for l in open(pl)
             if re.search(r"match|IoU|iou|count|rc \d|passed|FAIL|skipped", l)]
    print(f"- parity (setting b, first image; scripts/parity_sam.py, log {pl}):")
    for l in lines[-8:]:
        print(f"    {l}")
PYEOF
