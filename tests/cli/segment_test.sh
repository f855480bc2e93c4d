#!/usr/bin/env bash
# CLI tests of the segment binary on fixture models (tests/fixtures/make_segment_fixtures.py,
# make_sam_fixtures.py) and, where ../shared has them, real weights. One case per CTest test:
#   segment_test.sh CASE   (environment from tests/CMakeLists.txt: SEGMENT DETECT FIXTURES SRC
#   SHARED PY WORK)
set -uo pipefail
case_name=$1
W="$WORK/segment/$case_name"
rm -rf "$W" && mkdir -p "$W"
SF="$FIXTURES/segment"
SAM="$FIXTURES/sam"

. "$(dirname "$0")/lib.sh"

# pyrun 'python code' ARGS...: fails the case when the code raises or exits non-zero. rle_decode
# is scripts/parity_sam.py's pycocotools-compatible decoder (compressed counts, column-major).
pyrun() {
  local code=$1; shift
  "$PY" - "$@" <<PYEOF || fail "python check failed"
import json, sys, os, numpy as np, cv2
sys.path.insert(0, os.path.join("$SRC", "scripts"))
from parity_sam import rle_decode
def mask_of(m):
    return rle_decode(m["segmentation"]).astype(bool)
def rect(h, w, x0, y0, x1, y1):
    a = np.zeros((h, w), bool); a[y0:y1, x0:x1] = True; return a
def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())
$code
PYEOF
}

case "$case_name" in
semantic_labels)
  # colour fixture: label map, per-class records with RLE masks, COCO, YOLO polygons, masks,
  # instance map and overlay; the letterbox is undone on a non-square image
  expect_rc 0 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/o" -q --masks --yolo \
    --instance-map --overlay
  pyrun '
o = sys.argv[1]
j = json.load(open(f"{o}/shapes.json"))
assert (j["image"], j["width"], j["height"], j["family"]) == ("shapes.png", 100, 80, "semantic"), j
assert [m["label"] for m in j["masks"]] == ["red", "green"], j["masks"]   # blue = background
red, green = (mask_of(m) for m in j["masks"])
assert iou(red, rect(80, 100, 20, 10, 60, 50)) > 0.95, iou(red, rect(80, 100, 20, 10, 60, 50))
assert iou(green, rect(80, 100, 70, 50, 90, 70)) > 0.8
assert j["masks"][0]["area"] == red.sum() and "predicted_iou" not in j["masks"][0]
assert [c["label"] for c in j["classes"]] == ["red", "green", "blue"]
lab = cv2.imread(f"{o}/labels/shapes.png", cv2.IMREAD_UNCHANGED)
assert lab.dtype == np.uint8 and lab.shape == (80, 100)
assert (lab[red] == 0).all() and (lab[green] == 1).all() and (lab[~(red | green)] == 2).all()
t = cv2.imread(f"{o}/labels/tall.png", cv2.IMREAD_UNCHANGED)
assert (t[:44] == 0).all() and (t[46:] == 2).all(), "letterbox not undone"
assert cv2.imread(f"{o}/labels_color/shapes.png").shape == (80, 100, 3)
m0 = cv2.imread(f"{o}/masks/shapes/0.png", cv2.IMREAD_UNCHANGED)
assert set(np.unique(m0)) == {0, 255} and ((m0 > 0) == red).all()
ids = cv2.imread(f"{o}/instances/shapes.png", cv2.IMREAD_UNCHANGED)
assert ids.dtype == np.uint16 and (ids[red] == 1).all() and (ids[green] == 2).all()
ov = cv2.imread(f"{o}/overlay/shapes.jpg")
assert ov.shape == (80, 100, 3)
lines = open(f"{o}/yolo/shapes.txt").read().split("\n")
c, *xy = lines[0].split()
pts = np.rint(np.array(xy, float).reshape(-1, 2) * [100, 80])  # 6-decimal text: back to pixels
assert c == "0" and abs(pts[:, 0].min() - 20) <= 1 and abs(pts[:, 0].max() - 59) <= 1, pts
assert lines[1].startswith("1 ")
coco = json.load(open(f"{o}/coco.json"))
assert [i["file_name"] for i in coco["images"]] == ["shapes.png", "tall.png"]
assert [c["name"] for c in coco["categories"]] == ["red", "green"], coco["categories"]
a = coco["annotations"][0]
assert a["image_id"] == 1 and a["category_id"] == 1 and a["iscrowd"] == 0
assert (mask_of(a) == red).all()
' "$W/o"
  no_temp_files "$W/o"
  ;;
semantic_nhwc_sigmoid)
  # one NHWC channel through a sigmoid threshold; background 0 carries no record
  expect_rc 0 "$SEGMENT" -c "$SF/red_nhwc.json" "$SF/images/shapes.png" -o "$W/o" -q
  pyrun '
j = json.load(open(sys.argv[1] + "/shapes.json"))
assert [m["label"] for m in j["masks"]] == ["red"], j["masks"]
assert iou(mask_of(j["masks"][0]), rect(80, 100, 20, 10, 60, 50)) > 0.95
' "$W/o"
  ;;
semantic_gate)
  # a gate output masks the arg-max and shifts labels by one (BodyPix parts under its person mask)
  expect_rc 0 "$SEGMENT" -c "$SF/gated.json" "$SF/images/shapes.png" -o "$W/o" -q
  pyrun '
o = sys.argv[1]
j = json.load(open(o + "/shapes.json"))
assert [m["label"] for m in j["masks"]] == ["red", "green"], j["masks"]
lab = cv2.imread(o + "/labels/shapes.png", cv2.IMREAD_UNCHANGED)
assert lab[30, 40] == 1 and lab[60, 80] == 2 and lab[5, 5] == 0, (lab[30, 40], lab[60, 80], lab[5, 5])
' "$W/o"
  ;;
semantic_bad_model)
  # no spatial map: a contract error naming the layout, exit 2, nothing written
  expect_rc 2 "$SEGMENT" -c "$SF/colour.json" -m "$SF/bad.pt" "$SF/images" -o "$W/o"
  expect_err "expected a per-pixel output [B, C, h, w]"
  [ "$(wc -l <"$W/err")" -eq 1 ] || fail "expected a one-line error"
  # too few label names for the model's classes
  expect_rc 2 "$SEGMENT" -c "$SF/colour.json" --set 'labels=["a","b"]' "$SF/images" -o "$W/o2"
  expect_err "labels: 2 names for a model with 3 classes"
  ;;
semantic_lower_bound)
  # preprocess.resize lower_bound: every image gets its own input size (shorter side to the input
  # size, sides to a multiple of 4); the label map still lands on the rectangles, tall.png's
  # halves split where they are
  expect_rc 0 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/o" -q \
    --set preprocess.resize=lower_bound --set 'model.input_size=[40,40]' --set model.multiple_of=4
  pyrun '
o = sys.argv[1]
lab = cv2.imread(f"{o}/labels/shapes.png", cv2.IMREAD_UNCHANGED)
red, green = lab == 0, lab == 1
assert iou(red, rect(80, 100, 20, 10, 60, 50)) > 0.9, iou(red, rect(80, 100, 20, 10, 60, 50))
assert iou(green, rect(80, 100, 70, 50, 90, 70)) > 0.7, iou(green, rect(80, 100, 70, 50, 90, 70))
t = cv2.imread(f"{o}/labels/tall.png", cv2.IMREAD_UNCHANGED)
assert t.shape == (90, 40) and (t[:43] == 0).all() and (t[47:] == 2).all()
' "$W/o"
  expect_rc 2 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/b" \
    --set preprocess.resize=lower_bound --set model.multiple_of=0
  expect_err "model.multiple_of: must be at least 1"
  # the sam family sizes its input itself
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" "$SAM/shapes.png" -o "$W/b2" \
    --set preprocess.resize=lower_bound
  expect_err "preprocess.resize: expected letterbox or stretch"
  ;;
semantic_fixed_input)
  # OneFormer's kind of export: a fixed input the image is fitted into top-left, padded with the
  # mean (0 after normalising), one image per forward pass (model.batch 1). The label map is cut
  # from the letterbox back onto the rectangles; a larger --batch is a config error.
  fixed=(--set preprocess.resize=letterbox --set preprocess.letterbox_centre=false
    --set preprocess.pad_mean=true --set preprocess.letterbox_rounding=nearest
    --set 'model.input_size=[64,64]' --set model.batch=1)
  expect_rc 0 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/o" -q "${fixed[@]}"
  pyrun '
o = sys.argv[1]
lab = cv2.imread(f"{o}/labels/shapes.png", cv2.IMREAD_UNCHANGED)
red, green = lab == 0, lab == 1
assert lab.shape == (80, 100), lab.shape
assert iou(red, rect(80, 100, 20, 10, 60, 50)) > 0.9, iou(red, rect(80, 100, 20, 10, 60, 50))
assert iou(green, rect(80, 100, 70, 50, 90, 70)) > 0.7, iou(green, rect(80, 100, 70, 50, 90, 70))
t = cv2.imread(f"{o}/labels/tall.png", cv2.IMREAD_UNCHANGED)
assert t.shape == (90, 40) and (t[:43] == 0).all() and (t[47:] == 2).all()
' "$W/o"
  expect_rc 2 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/b" -q "${fixed[@]}" --batch 2
  expect_err "runtime.batch 2: this model file takes at most 1 image(s) per forward pass (model.batch)"
  expect_rc 2 "$SEGMENT" -c "$SF/colour.json" "$SF/images" -o "$W/b2" -q "${fixed[@]}" \
    --set preprocess.letterbox_rounding=up
  expect_err 'preprocess.letterbox_rounding: expected auto, nearest or truncate, got "up"'
  ;;
semantic_torchvision)
  # torchvision's LR-ASPP MobileNetV3 (upstream code through scripts/export_semantic.py, random
  # weights) on three photos at their own aspect (lower_bound 520): vfm's label maps against the
  # eager model run by scripts/parity_semantic.py; a wrong channel order is caught; checkpoints
  # are checked by torchvision's hash suffix and by architecture
  "$PY" -c 'import torchvision' 2>/dev/null || { echo "SKIP: no torchvision for $PY"; exit 77; }
  data=$("$PY" -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')
  imgs=("$data/chelsea.png" "$data/astronaut.png" "$data/coffee.png")
  arch=lraspp_mobilenet_v3_large
  expect_rc 0 "$PY" "$SRC/scripts/export_semantic.py" --arch $arch --random-weights 0 --out "$W/m"
  cfg="$W/m/$arch.json"
  expect_rc 0 "$SEGMENT" -c "$cfg" "${imgs[@]}" -o "$W/o" -q
  parity() {
    "$PY" "$SRC/scripts/parity_semantic.py" --arch $arch --random-weights 0 --config "$cfg" \
      --vfm-labels "$1/labels" --image "${imgs[0]}" --image "${imgs[1]}" --image "${imgs[2]}" \
      --min-agreement 0.999 >"$W/parity" 2>&1
  }
  parity "$W/o" || { cat "$W/parity"; fail "label maps differ from the eager model"; }
  cat "$W/parity"
  pyrun '
o = sys.argv[1]
j = json.load(open(o + "/chelsea.json"))
assert j["family"] == "semantic" and (j["width"], j["height"]) == (451, 300), j
assert j["classes"] and all(c["label"] for c in j["classes"]), j["classes"]
r = json.load(open(o + "/run.json"))
assert r["info"]["labels"][15] == "person" and len(r["info"]["labels"]) == 21
' "$W/o"
  expect_rc 0 "$SEGMENT" -c "$cfg" "${imgs[0]}" -o "$W/bgr" -q --set preprocess.color=bgr
  "$PY" "$SRC/scripts/parity_semantic.py" --arch $arch --random-weights 0 --config "$cfg" \
    --vfm-labels "$W/bgr/labels" --image "${imgs[0]}" --min-agreement 0.999 >"$W/p2" 2>&1 &&
    fail "parity_semantic missed a BGR/RGB swap"
  # checkpoints: the same weights saved as torchvision names them (NAME-<sha256 prefix>.pth)
  "$PY" - "$SRC/scripts" "$W/ck.pth" <<'PYEOF' || fail "cannot save a checkpoint"
import sys, torch
sys.path.insert(0, sys.argv[1])
from export_semantic import build
torch.save(build("lraspp_mobilenet_v3_large", random_seed=0)[0].state_dict(), sys.argv[2])
PYEOF
  sha=$(sha256sum "$W/ck.pth" | cut -c1-8)
  cp "$W/ck.pth" "$W/$arch-$sha.pth" && cp "$W/ck.pth" "$W/$arch-00000000.pth"
  expect_rc 0 "$PY" "$SRC/scripts/export_semantic.py" --arch $arch --checkpoint "$W/$arch-$sha.pth" \
    --out "$W/m2"
  grep -q "\"checkpoint_sha256\": \"$sha" "$W/out" || fail "checkpoint sha256 not reported"
  expect_rc 0 "$SEGMENT" -c "$W/m2/$arch.json" "${imgs[@]}" -o "$W/o2" -q
  cmp "$W/o/labels/chelsea.png" "$W/o2/labels/chelsea.png" || fail "checkpoint export differs"
  expect_rc 2 "$PY" "$SRC/scripts/export_semantic.py" --arch $arch --checkpoint "$W/$arch-00000000.pth" \
    --out "$W/m3"
  expect_err "does not start with the file name's 00000000"
  expect_rc 2 "$PY" "$SRC/scripts/export_semantic.py" --arch deeplabv3_mobilenet_v3_large \
    --checkpoint "$W/ck.pth" --out "$W/m3"
  expect_err "not a deeplabv3_mobilenet_v3_large checkpoint"
  ;;
bodypix_person_iou)
  # real weights: BodyPix (../shared/models, converted by onnx2ts) person IoU on COCO images where
  # people cover >= 5 % of the frame (measured: mean 0.649, pooled 0.729 over 36 images)
  [ -f "$SHARED/models/bodypix/MobileNetV1-x050-stride16.onnx" ] || { echo "SKIP: no BodyPix in $SHARED"; exit 77; }
  export VFM_MODELS="$WORK/segment-models"
  expect_rc 0 "$SRC/scripts/vfm-models" fetch bodypix-mnv1-050 --mirror "$SHARED/models"
  expect_rc 0 "$SEGMENT" -m bodypix-mnv1-050 "$SHARED/data/coco128-train/images" -o "$W/o" -q \
    --set outputs.overlay=false
  "$PY" "$SRC/scripts/eval_segment.py" "$W/o" "$SHARED/data/coco128-train/masks-semantic" \
    --min-iou 0.62 >"$W/eval" || { cat "$W/eval"; fail "BodyPix person IoU below 0.62"; }
  tail -n1 "$W/eval"
  pycheck "j['info']['family'] == 'semantic' and len(j['info']['labels']) == 25" "$W/o/run.json"
  ;;
sam_prompts)
  # prompts file: one mask per box (in order) then one for the points; each on its shape
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --prompts "$SAM/prompts.json" "$SAM/shapes.png" \
    -o "$W/o" -q --overlay --masks --instance-map
  pyrun '
o, sam = sys.argv[1:3]
j = json.load(open(o + "/shapes.json"))
truth = cv2.imread(sam + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert (j["family"], j["mode"], len(j["masks"])) == ("sam", "prompts", 4), j
assert [m["prompt"] for m in j["masks"]] == [0, 1, 2, 3]
for m, shape in zip(j["masks"], [1, 2, 3, 1]):
    v = iou(mask_of(m), truth == shape)
    assert v > 0.9, (m["prompt"], v)
# boxes: the single-mask token (fixture IoU 0.90); a lone point: the best of 1..3 (0.95)
assert [m["predicted_iou"] for m in j["masks"]] == [0.9, 0.9, 0.9, 0.95], j["masks"]
assert j["masks"][3]["point_coords"] == [[159.0, 149.0]] and j["masks"][0]["crop_box"] == [0, 0, 640, 480]
assert os.path.exists(o + "/overlay/shapes.jpg") and os.path.exists(o + "/masks/shapes/3.png")
coco = json.load(open(o + "/coco.json"))
assert len(coco["annotations"]) == 4 and coco["categories"] == [{"id": 1, "name": "object"}]
' "$W/o" "$SAM"
  pycheck "j['info'] == {'family': 'sam', 'labels': [], 'mode': 'prompts'} and [s['section'] for s in j['stage_models']] == ['decoder']" "$W/o/run.json"
  no_temp_files "$W/o"
  ;;
sam_cli_prompts)
  # --box and --point for every image; a point outside the image is clipped with a warning
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --box 300,330,359,389 --point 450,170 \
    --point 2000,170,0 "$SAM/shapes.png" -o "$W/o"
  expect_err "warning: $SAM/shapes.png: 1 prompt(s) outside the 640x480 image clipped to it"
  pyrun '
j = json.load(open(sys.argv[1] + "/shapes.json"))
truth = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert len(j["masks"]) == 2 and j["warnings"] == ["1 prompt(s) outside the 640x480 image clipped to it"]
assert iou(mask_of(j["masks"][0]), truth == 3) > 0.9 and iou(mask_of(j["masks"][1]), truth == 2) > 0.9
# two points (one background): the single-mask token under sam.multimask auto
assert j["masks"][1]["predicted_iou"] == 0.9
' "$W/o" "$SAM"
  # a malformed --box is a usage error
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" --box 1,2,3 "$SAM/shapes.png" -o "$W/o2"
  expect_err "--box \"1,2,3\": a box is [x1, y1, x2, y2]"
  ;;
sam_everything)
  # segment-everything: the three shapes and the background, each once (NMS), amg.py metadata
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --everything --set everything.points_per_side=16 \
    "$SAM/shapes.png" -o "$W/o" -q
  pyrun '
j = json.load(open(sys.argv[1] + "/shapes.json"))
truth = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert j["mode"] == "everything" and j["crops"] == 1 and len(j["masks"]) == 4, len(j["masks"])
best = sorted(max(iou(mask_of(m), truth == s) for m in j["masks"]) for s in (0, 1, 2, 3))
assert best[0] > 0.9, best
for m in j["masks"]:
    assert m["predicted_iou"] > 0.88 and m["stability_score"] >= 0.95 and len(m["point_coords"]) == 1
    assert m["area"] == mask_of(m).sum()
' "$W/o" "$SAM"
  # memory budget: two workers asked for by default (2 threads), each needing a decoder batch's
  # memory; 1 MB fits one, which runs alone with both threads and finds the same masks
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --everything --set everything.points_per_side=16 \
    --set runtime.threads=2 --set runtime.memory_mb=1 "$SAM/shapes.png" -o "$W/m"
  expect_err "note: 1 worker(s) instead of 2"
  pyrun '
r = json.load(open(sys.argv[1] + "/run.json"))
assert r["workers"] == 1 and r["threads_per_worker"] == 2, (r["workers"], r["threads_per_worker"])
assert r["memory"]["budget_mb"] == 1 and r["memory"]["task_extra_mb"] > 0, r["memory"]
a = json.load(open(sys.argv[1] + "/shapes.json"))["masks"]
b = json.load(open(sys.argv[2] + "/shapes.json"))["masks"]
assert [m["segmentation"] for m in a] == [m["segmentation"] for m in b]
' "$W/m" "$W/o"
  # crop layers: more crops, the same shapes found
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --everything --set everything.points_per_side=16 \
    --set everything.crop_n_layers=1 "$SAM/shapes.png" -o "$W/c" -q
  pyrun '
j = json.load(open(sys.argv[1] + "/shapes.json"))
truth = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert j["crops"] == 5, j["crops"]
for s in (1, 2, 3):
    assert max(iou(mask_of(m), truth == s) for m in j["masks"]) > 0.9, s
' "$W/c" "$SAM"
  # prompts and --everything together are a usage error
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" --everything --point 1,1 "$SAM/shapes.png" -o "$W/x"
  ;;
sam_boxes_from)
  # Grounded-SAM seam: detect's per-image JSON -> box prompts, class filter, labels kept
  mkdir -p "$W/det" "$W/img"
  cp "$SAM/shapes.png" "$W/img/a.png"
  cp "$SAM/shapes.png" "$W/img/b.png"
  cat >"$W/det/a.json" <<'JEOF'
{"image": "a.png", "width": 640, "height": 480, "detections": [
 {"box": [60, 80, 259, 219], "score": 0.9, "class_id": 2, "label": "car"},
 {"box": [370, 90, 530, 250], "score": 0.8, "class_id": 0, "label": "person"},
 {"box": [300, 330, 359, 389], "score": 0.2, "class_id": 0, "label": "person"}]}
JEOF
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --boxes-from "$W/det" --classes person \
    --set prompt.min_score=0.5 "$W/img" -o "$W/o"
  expect_err "warning: $W/img/b.png: no detections file"
  pyrun '
o, sam = sys.argv[1:3]
j = json.load(open(o + "/a.json"))
truth = cv2.imread(sam + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert [(m["label"], m["class_id"], m["score"]) for m in j["masks"]] == [("person", 0, 0.8)], j["masks"]
assert iou(mask_of(j["masks"][0]), truth == 2) > 0.9
b = json.load(open(o + "/b.json"))
assert b["masks"] == [] and len(b["warnings"]) == 2, b
coco = json.load(open(o + "/coco.json"))
assert coco["categories"] == [{"id": 1, "name": "0"}] or coco["categories"][0]["name"] in ("person", "0"), coco["categories"]
' "$W/o" "$SAM"
  ;;
sam_embeddings_reuse)
  # --save-embeddings: a second run with new prompts reuses the saved embedding (decoder only)
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --point 159,149 --save-embeddings "$SAM/shapes.png" -o "$W/o" -q
  [ -f "$W/o/embeddings/shapes.npy" ] && [ -f "$W/o/embeddings/shapes.key.json" ] || fail "no embedding saved"
  pycheck "'embedding_reused' not in j" "$W/o/shapes.json"
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --point 450,170 --save-embeddings "$SAM/shapes.png" -o "$W/o" -q --resume
  pyrun '
j = json.load(open(sys.argv[1] + "/shapes.json"))
truth = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert j["embedding_reused"] is True and iou(mask_of(j["masks"][0]), truth == 2) > 0.9, j.get("embedding_reused")
a = np.load(sys.argv[1] + "/embeddings/shapes.npy")
assert a.shape == (1, 256, 64, 64) and a.dtype == np.float32
' "$W/o" "$SAM"
  ;;
sam_contract)
  # encoder/decoder pairs that do not fit: one-line contract errors, exit 2
  expect_rc 2 "$SEGMENT" -c "$SAM/bad-decoder.json" --point 10,10 "$SAM/shapes.png" -o "$W/a"
  expect_err "decoder: low-res masks are 128x128, expected 256x256"
  expect_rc 2 "$SEGMENT" -c "$SAM/bad-encoder.json" --point 10,10 "$SAM/shapes.png" -o "$W/b"
  expect_err "decoder: does not accept the encoder's embedding [1, 128, 64, 64]"
  [ "$(wc -l <"$W/err")" -eq 1 ] || fail "expected a one-line error"
  # no decoder at all
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" --set decoder.file= --point 10,10 "$SAM/shapes.png" -o "$W/c"
  ;;
sam_prompts_bad)
  # a prompts file naming a missing image: warned, the rest runs; a malformed one: usage error
  printf '{"shapes.png": {"points": [[159, 149]]}, "nope.png": {"boxes": [[0, 0, 5, 5]]}}' >"$W/p.json"
  expect_rc 0 "$SEGMENT" -c "$SAM/fixture.json" --prompts "$W/p.json" "$SAM/shapes.png" -o "$W/o"
  expect_err 'warning: prompts for "nope.png" match no input image'
  pycheck "len(j['masks']) == 1" "$W/o/shapes.json"
  printf '{"shapes.png": {"points": [[1, 2, 7]]}}' >"$W/bad.json"
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" --prompts "$W/bad.json" "$SAM/shapes.png" -o "$W/o2"
  expect_err "point label must be 1 (foreground) or 0 (background)"
  ;;
sam_detector)
  # --detector: a detector run in the same process prompts SAM with its boxes (Grounded SAM);
  # the yolov8 fixture reports the white rectangle as classes alpha (0.9) and beta (0.7)
  mkdir -p "$W/img"
  "$PY" -c 'import cv2, sys; a = cv2.imread(sys.argv[1]); a[80:220, 60:260] = 255; cv2.imwrite(sys.argv[2], a)' \
    "$SAM/shapes.png" "$W/img/white.png"
  expect_rc 0 env VFM_MODELS="$FIXTURES" "$SEGMENT" -c "$SAM/fixture.json" \
    --detector "$SRC/tests/fixtures/yolov8_fixture.json" \
    --classes alpha "$W/img" -o "$W/o" -q
  pyrun '
j = json.load(open(sys.argv[1] + "/white.json"))
truth = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
assert [(m["label"], m["class_id"], m["score"]) for m in j["masks"]] == [("alpha", 0, 0.9)], j["masks"]
assert iou(mask_of(j["masks"][0]), truth == 1) > 0.9
' "$W/o" "$SAM"
  pycheck "'detector' in j['config']['prompt'] and j['info']['mode'] == 'prompts'" "$W/o/run.json"
  # a detector config that does not exist: a usage error naming it
  expect_rc 2 "$SEGMENT" -c "$SAM/fixture.json" --detector "$W/none.json" "$W/img" -o "$W/o2"
  expect_err "--detector: $W/none.json"
  ;;
yolov8_seg)
  # Ultralytics segmentation layout: detect's yolov8 boxes + NMS, masks from prototypes cropped
  # to the box, letterbox undone (the white square x 30..69, y 10..49 of a 120x60 image)
  expect_rc 0 "$SEGMENT" -c "$SF/yolov8seg.json" "$SF/white" -o "$W/o" -q --yolo --label-map
  pyrun '
o = sys.argv[1]
j = json.load(open(o + "/white.json"))
assert [(m["label"], m["class_id"], m["score"]) for m in j["masks"]] == [("beta", 1, 0.9)], j["masks"]
x, y, w, h = j["masks"][0]["bbox"]
assert abs(x - 30) <= 1 and abs(y - 10) <= 1 and abs(w - 40) <= 1.5 and abs(h - 40) <= 1.5, j["masks"][0]["bbox"]
m = mask_of(j["masks"][0])
assert iou(m, rect(60, 120, 30, 10, 70, 50)) > 0.75 and not m[:, :25].any() and not m[:, 75:].any()
assert open(o + "/yolo/white.txt").read().startswith("1 ")
lab = cv2.imread(o + "/labels/white.png", cv2.IMREAD_UNCHANGED)
assert lab[30, 50] == 1 and lab[30, 100] == 0
' "$W/o"
  # a model in another layout: a contract error naming it
  expect_rc 2 "$SEGMENT" -c "$SF/yolov8seg.json" -m "$SF/colour.pt" "$SF/white" -o "$W/b"
  expect_err "yolov8-seg export: expected two outputs"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok: $case_name"
