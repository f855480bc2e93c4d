#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, fetch the default models and run
# each binary on sample photos from Debian's python3-skimage, writing to out/: detect (JSON, YOLO
# labels, COCO files, previews), segment (BodyPix person and body parts: label maps, overlays,
# COCO RLE), depth (PyDNet: 16-bit PNG, colour maps), face (RetinaFace: landmarks, previews) and
# matte (Robust Video Matting: alpha PNGs, RGBA cutouts).
# Models come from $VFM_MIRROR (default ../shared/models when present).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ -z "${VFM_MIRROR:-}" ] && [ -d ../shared/models ]; then export VFM_MIRROR=$PWD/../shared/models; fi
scripts/vfm-models fetch yolox-nano bodypix-mnv1-050 pydnet retinaface-mnet025 rvm >/dev/null
data=$(/usr/bin/python3 -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')
mkdir -p out
printf '%s\n' "$data"/{astronaut,chelsea,coffee,motorcycle_left,hubble_deep_field}.* > out/samples.txt
build/bin/detect -c yolox-nano @out/samples.txt -o out/detect --overwrite \
  --set outputs.preview=true --set outputs.yolo_txt=true
build/bin/segment -m bodypix-mnv1-050 @out/samples.txt -o out/segment --overwrite
build/bin/depth -m pydnet @out/samples.txt -o out/depth --overwrite --set outputs.preview=true
build/bin/face -m retinaface-mnet025 @out/samples.txt -o out/face --overwrite --preview
build/bin/matte -m rvm @out/samples.txt -o out/matte --overwrite
echo "demo: see out/detect/, out/segment/, out/depth/, out/face/ and out/matte/ (per-image JSON and files," \
  "results.jsonl, run.json)" >&2
