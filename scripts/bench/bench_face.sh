#!/usr/bin/env bash
# Benchmark of vfm `face` on real photos: images/s and faces/s for detection alone, detection +
# embeddings, and detection + mesh + iris. Models come from the registry (scripts/vfm-models
# fetch; $VFM_MIRROR for the mirror), images from a folder (default: ../shared/data/photos plus
# ../shared/data/faces/group).
#
# Usage: scripts/bench/bench_face.sh [IMAGE_DIR...]
# Environment: VFM_MODELS (model cache), FACE (default build/bin/face), DETECTOR (default
#   retinaface-mnet025), EMBEDDER (default faceapi-recognition), REPEAT (default 3: the median
#   wall time is kept), OUT (default build/bench-face).
# Throughput is counted over the whole process (start-up and model load included), the median of
# REPEAT runs; per-image stage means come from run.json. Detection alone may decode JPEGs at
# reduced size (input.reduced_decode), the other runs need full-size pixels, so face counts can
# differ slightly. Results: stdout and $OUT/results.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
FACE=${FACE:-$ROOT/build/bin/face}
DETECTOR=${DETECTOR:-retinaface-mnet025}
EMBEDDER=${EMBEDDER:-faceapi-recognition}
REPEAT=${REPEAT:-3}
OUT=${OUT:-$ROOT/build/bench-face}
SHARED=$(cd "$ROOT/.." && pwd)/shared
if [ $# -eq 0 ]; then set -- "$SHARED/data/photos" "$SHARED/data/faces/group"; fi
"$ROOT/scripts/vfm-models" fetch "$DETECTOR" "$EMBEDDER" facemesh iris >/dev/null
mkdir -p "$OUT"
run() {  # name, extra args...
  local name=$1; shift
  local times=()
  for r in $(seq "$REPEAT"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$FACE" -m "$DETECTOR" "$@" -o "$OUT/$name" -q --overwrite
    t1=$(date +%s.%N)
    times+=("$($PY -c "print($t1 - $t0)")")
  done
  "$PY" - "$OUT/$name" "$name" "${times[@]}" <<'PYEOF'
import json, os, statistics, sys
out, name, times = sys.argv[1], sys.argv[2], [float(t) for t in sys.argv[3:]]
run = json.load(open(os.path.join(out, "run.json")))
recs = [json.loads(l) for l in open(os.path.join(out, "results.jsonl"))]
faces = sum(len(r["result"]["faces"]) for r in recs if r.get("status") == "ok")
n = run["counts"]["ok"]
wall = statistics.median(times)
m = run["mean_ms"]
line = (f"| {name} | {n} | {faces} | {n / wall:.2f} | {faces / wall:.2f} | "
        f"{m['infer']:.0f} | {m['postprocess']:.0f} | {run['peak_rss_kb'] // 1024} |")
print(line)
with open(os.path.join(os.path.dirname(out), "results.md"), "a") as f:
    f.write(line + "\n")
PYEOF
}
HDR="| run | images | faces | images/s | faces/s | detect ms/img | post ms/img (embed, mesh) | peak RSS MB |"
echo "$HDR" | tee "$OUT/results.md"
echo "|---|---|---|---|---|---|---|---|" | tee -a "$OUT/results.md"
run detect "$@"
run detect+embed --embed "$EMBEDDER" --embeddings "$@"
run detect+mesh+iris --mesh facemesh --iris iris "$@"
