#!/usr/bin/env bash
# Benchmark of closed-form matting, vfm::closed_form_alpha (lib/src/matte/closed_form.cpp), on
# realistic trimaps: an unknown band of B px around a subject.
#
# What it measures: the wall time of one closed_form_alpha call (trimap split, ordering of the
# unknown pixels, statistics of the windows touching them, their Laplacian rows, the
# preconditioner and the conjugate gradient down to |r| <= 1e-7 |b|), the best of REPEAT runs, in
# seconds per megapixel of the whole image, with the part spent building and solving, the CG
# iterations and the final relative residual. For synthetic cases (ground truth known) also
# SAD/1000 of the result and of the binary mask it was made from, and the MSE over the unknown
# pixels. Last column: estimate_foreground_ml on that alpha (seconds, best of REPEAT).
# pymatting's estimate_alpha_cf (whole-image Laplacian, ichol-preconditioned CG) takes
# about 0.6 s for a typical 1 MP image; it is not run here.
# Measured on the 2-core development VM (Xeon 2.8 GHz, OpenCV 4.6 with TBB, 10 cases of 0.75 to
# 1.9 MP): incomplete Cholesky (default) 0.09 s/MP at B=10 and 0.28 s/MP at B=20, 3 to 6 CG
# iterations (one thread: 0.10 and 0.36); with EXTRA="--precond jacobi" 0.36 and 1.7 s/MP, 150
# to 1500 iterations.
#
# Cases (tests/bench/bench_closed_form.cpp builds them):
#   synthetic  SIZES (default "1024x1024 1600x1200"): a person-like silhouette (torso, head, arms)
#              with a soft edge of about 3 px, composited from two photos (PHOTOS/sample1.jpg over
#              PHOTOS/sample2.jpg; procedural colour noise where they are absent); the trimap
#              comes from the binarised true alpha.
#   coco       the first LIMIT (default 8) images of COCO/ (coco128-train: images/*.jpg and
#              masks-semantic/*.png) whose person mask covers >= 5% of the image, scaled by
#              COCO_SCALE (default 2: 1280x960, 1.2 MP); skipped when COCO is absent.
# For each case and each band B in BANDS (default "10 20"): trimap_from_mask(mask, B/2, B - B/2).
# The last table gives s/MP over all cases (total time / total megapixels) per band.
#
# It builds nothing. Build, then run (from anywhere):
#   cmake --build build -j2 --target bench_closed_form
#   scripts/bench/bench_matting.sh
#   BANDS="10 20 40" SIZES=2048x1536 REPEAT=5 THREADS=1 scripts/bench/bench_matting.sh
# Environment:
#   BENCH    the benchmark binary (default: build/bin/bench_closed_form)
#   SHARED   data folder (default: ../shared next to the repository); PHOTOS defaults to
#            $SHARED/data/photos, COCO to $SHARED/data/coco128-train
#   SIZES BANDS LIMIT COCO_SCALE REPEAT (default 3)
#   THREADS  OpenCV threads (default: all cores)
#   EXTRA    more options for bench_closed_form (e.g. "--precond jacobi", "--eps 1e-6 --radius 2")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH:-$ROOT/build/bin/bench_closed_form}
SHARED=${SHARED:-$ROOT/../shared}
PHOTOS=${PHOTOS:-$SHARED/data/photos}
COCO=${COCO:-$SHARED/data/coco128-train}
SIZES=${SIZES:-1024x1024 1600x1200}
BANDS=${BANDS:-10 20}
LIMIT=${LIMIT:-8}
COCO_SCALE=${COCO_SCALE:-2}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-}
EXTRA=${EXTRA:-}
die() { echo "bench_matting: $*" >&2; exit 2; }
[ -x "$BENCH" ] || die "$BENCH not found (cmake --build build -j2 --target bench_closed_form)"

read -ra band_list <<<"$BANDS"
args=(--bands "$(IFS=,; echo "${band_list[*]}")" --repeat "$REPEAT")
for s in $SIZES; do args+=(--synthetic "$s"); done
if [ -f "$PHOTOS/sample1.jpg" ] && [ -f "$PHOTOS/sample2.jpg" ]; then
  args+=(--textures "$PHOTOS/sample1.jpg,$PHOTOS/sample2.jpg")
else
  echo "bench_matting: no photos in $PHOTOS, synthetic cases use procedural textures" >&2
fi
if [ -d "$COCO/masks-semantic" ]; then
  args+=(--coco "$COCO" --limit "$LIMIT" --scale "$COCO_SCALE")
else
  echo "bench_matting: $COCO absent, no COCO cases" >&2
fi
[ -n "$THREADS" ] && args+=(--threads "$THREADS")

LOAD=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; then
  echo "bench_matting: warning: load average $LOAD at start; timings will be noisy" >&2
fi
echo "# bench_matting $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
# shellcheck disable=SC2086
"$BENCH" "${args[@]}" $EXTRA
