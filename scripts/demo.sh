#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, fetch the default detector and run
# it on sample photos from Debian's python3-skimage, writing to out/ (JSON, YOLO labels, COCO
# files, previews). Models come from $VFM_MIRROR (default ../shared/models when present).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ -z "${VFM_MIRROR:-}" ] && [ -d ../shared/models ]; then export VFM_MIRROR=$PWD/../shared/models; fi
scripts/vfm-models fetch yolox-nano >/dev/null
data=$(/usr/bin/python3 -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')
mkdir -p out
printf '%s\n' "$data"/{astronaut,chelsea,coffee,motorcycle_left,hubble_deep_field}.* > out/samples.txt
build/bin/detect -c yolox-nano @out/samples.txt -o out/detect --overwrite \
  --set outputs.preview=true --set outputs.yolo_txt=true
echo "demo: see out/detect/ (per-image JSON, labels/, preview/, coco_*.json, results.jsonl, run.json)" >&2
