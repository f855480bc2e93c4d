#!/usr/bin/env bash
# Per-stage timings of vfm `segment` on a semantic export (scripts/export_semantic.py, random
# weights) over the first N images of ../shared/data/coco128-train/images, for each variant of
# settings given: the run's wall time and run.json's mean ms per image (decode, preprocess,
# infer, postprocess, write), label maps and JSON written, overlays off.
#
# Usage: scripts/bench/bench_semantic.sh ARCH [N] [VARIANT ...]
#   ARCH     an export_semantic.py --arch (default lraspp_mobilenet_v3_large)
#   VARIANT  comma-separated --set assignments, e.g. model.channels_last=false,runtime.workers=1;
#            "default" (the default) runs the export's config as written
# Environment: PACKAGE, MM_CONFIG (upstream checkout / mmseg config, for the archs that need
# them), BENCH_DIR (default build/bench-semantic), SEGMENT (default build/bin/segment), DATA
# (default ../shared/data/coco128-train/images).
#
# Example (TopFormer, NHWC vs NCHW; the export's config runs NCHW):
#   PACKAGE=~/src/TopFormer MM_CONFIG=~/src/TopFormer/local_configs/topformer/\
#   topformer_tiny_512x512_160k_2x8_ade20k.py scripts/bench/bench_semantic.sh topformer 20 \
#   default model.channels_last=true
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
ARCH=${1:-lraspp_mobilenet_v3_large}
N=${2:-20}
shift $(($# < 2 ? $# : 2))
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(default)
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "bench_semantic: N must be a positive integer, got '$N'" >&2; exit 2; }
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench-semantic}
SEGMENT=${SEGMENT:-$ROOT/build/bin/segment}
DATA=${DATA:-$ROOT/../shared/data/coco128-train/images}
[ -x "$SEGMENT" ] || { echo "bench_semantic: no $SEGMENT (build first)" >&2; exit 2; }
[ -d "$DATA" ] || { echo "bench_semantic: no image folder $DATA" >&2; exit 2; }

mkdir -p "$BENCH_DIR"
export_args=(--arch "$ARCH" --random-weights 0 --out "$BENCH_DIR/model")
[ -n "${PACKAGE:-}" ] && export_args+=(--package "$PACKAGE")
[ -n "${MM_CONFIG:-}" ] && export_args+=(--mm-config "$MM_CONFIG")
"$PY" "$ROOT/scripts/export_semantic.py" "${export_args[@]}" >"$BENCH_DIR/export.log" 2>&1 ||
  { tail -3 "$BENCH_DIR/export.log" >&2; exit 1; }
cfg=$BENCH_DIR/model/$ARCH.json
find "$DATA" -maxdepth 1 -type f | sort | head -n "$N" >"$BENCH_DIR/list.txt"

printf '%-48s %8s  %s\n' variant wall_s "mean ms per image"
for v in "${VARIANTS[@]}"; do
  sets=(--set outputs.overlay=false)
  if [ "$v" != default ]; then
    IFS=, read -ra kv <<<"$v"
    for a in "${kv[@]}"; do sets+=(--set "$a"); done
  fi
  out=$BENCH_DIR/out
  "$SEGMENT" -c "$cfg" @"$BENCH_DIR/list.txt" -o "$out" --overwrite -q "${sets[@]}"
  "$PY" - "$out/run.json" "$v" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
ms = " ".join(f"{k} {v:.0f}" for k, v in r["mean_ms"].items())
print(f"{sys.argv[2]:<48} {r['seconds']:8.2f}  {ms}  ({r['workers']} x {r['threads_per_worker']})")
PYEOF
done
