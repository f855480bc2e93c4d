#!/usr/bin/env bash
# Measures YOLOX-Nano's COCO box mAP on the labelled coco128-train images from ../shared.
#
#   scripts/eval_detect.sh [MODEL.onnx] [extra detect options...]
#
# MODEL defaults to ../shared/models/yolox/yolox_nano.onnx (from the repository root); the data
# root is ${VFM_DATA:-../shared/data}. Runs detect at YOLOX's evaluation settings (conf 0.001,
# NMS IoU 0.65, 100 detections per image) into out/eval-yolox-nano/, then scores it with
# scripts/eval_detect.py; the metrics JSON goes to stdout and to out/eval-yolox-nano.json.
# Exits 77 (skipped) when the model or the data are absent. Needs build/bin/detect.
set -euo pipefail

here=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd)

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$2/$1" ;; esac; }

if [ $# -ge 1 ]; then model=$(abspath "$1" "$here"); shift
else model=$repo/../shared/models/yolox/yolox_nano.onnx; fi
if [ -n "${VFM_DATA:-}" ]; then data=$(abspath "$VFM_DATA" "$here")
else data=$repo/../shared/data; fi
images=$data/coco128-train/images
labels=$data/coco128-train/labels-det

if [ ! -f "$model" ]; then
  echo "eval_detect: skipped: model $model not found" >&2; exit 77
fi
if [ ! -d "$images" ] || [ ! -d "$labels" ]; then
  echo "eval_detect: skipped: data $data/coco128-train/{images,labels-det} not found" >&2; exit 77
fi

cd "$repo"
if [ ! -x build/bin/detect ]; then
  echo "eval_detect: build/bin/detect is missing; run scripts/build.sh first" >&2; exit 1
fi

out=out/eval-yolox-nano
mkdir -p out
build/bin/detect -c yolox-nano -m "$model" "$images" -o "$out" --overwrite -q \
  --set postprocess.conf=0.001 --set postprocess.max_det=100 --set postprocess.iou=0.65 "$@"
/usr/bin/python3 scripts/eval_detect.py --pred "$out" --labels "$labels" --images "$images" \
  | tee "$out.json"
