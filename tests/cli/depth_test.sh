#!/usr/bin/env bash
# CLI tests of the depth binary on fixture models (tests/fixtures/make_depth_fixtures.py) and,
# where present, PyDNet's real weights. One case per CTest test:
#   depth_test.sh CASE   (environment from tests/CMakeLists.txt: DEPTH FIXTURES SRC SHARED PY WORK)
set -uo pipefail
case_name=$1
W="$WORK/depth/$case_name"
rm -rf "$W" && mkdir -p "$W"
DF="$FIXTURES/depth"
export VFM_MODELS="$DF"
DPT="$DF/dpt_fixture.json"
MET="$DF/dpt_metric_fixture.json"
PYD="$DF/pydnet_fixture.json"
SKI=/usr/lib/python3/dist-packages/skimage/data

. "$(dirname "$0")/lib.sh"

# pyrun 'python code' ARGS...: fails the case when the code raises or exits non-zero
pyrun() {
  local code=$1; shift
  "$PY" - "$@" <<PYEOF || fail "python check failed"
import json, sys, numpy as np, cv2
M = (200 / 255 - 0.485) / 0.229  # channel 0 (R = 200) of the fixtures' images, ImageNet-normalised
def ramp(W, H, base):
    v, u = np.mgrid[0:H, 0:W]
    return base + 2.0 * u / max(W - 1, 1) + v / max(H - 1, 1)
$code
PYEOF
}

case "$case_name" in
dpt_exact)
  # 3 + m + 2X + Y comes back exactly on the original pixels, in every raw format
  expect_rc 0 "$DEPTH" -c "$DPT" "$DF/images" -o "$W/o" -q
  pycheck "j['image'] == 'u.png' and (j['width'], j['height'], j['kind']) == (40, 30, 'relative') and abs(j['min'] - (3 + (200/255 - 0.485)/0.229)) < 1e-5 and abs(j['max'] - j['min'] - 3) < 1e-5 and j['outputs'] == {'json': 'u.json', 'png16': 'png16/u.png', 'tiff': 'tiff/u.tiff', 'npy': 'npy/u.npy', 'pfm': 'pfm/u.pfm', 'color': 'color/u.png'} and j['png16']['normalize'] == 'per_image' and (j['png16']['lo'], j['png16']['hi']) == (j['min'], j['max'])" "$W/o/u.json"
  pyrun '
o = sys.argv[1]
for name, W, H in (("u", 40, 30), ("tall", 30, 70)):
    j = json.load(open(f"{o}/{name}.json"))
    a = np.load(f"{o}/npy/{name}.npy")
    assert a.dtype == np.float32 and a.shape == (H, W), a.shape
    assert np.abs(a - ramp(W, H, 3 + M)).max() < 1e-5, np.abs(a - ramp(W, H, 3 + M)).max()
    assert a.min() == np.float32(j["min"]) and a.max() == np.float32(j["max"])
    q = cv2.imread(f"{o}/png16/{name}.png", cv2.IMREAD_UNCHANGED)
    assert q.dtype == np.uint16 and q.shape == (H, W) and q.min() == 0 and q.max() == 65535
    lo, hi = j["png16"]["lo"], j["png16"]["hi"]
    step = (hi - lo) / 65535
    err = np.abs(lo + q * (hi - lo) / 65535 - a).max()
    assert err <= step / 2 * 1.0001, (err, step)
    t = cv2.imread(f"{o}/tiff/{name}.tiff", cv2.IMREAD_UNCHANGED)
    assert t.dtype == np.float32 and np.array_equal(t, a)
    raw = open(f"{o}/pfm/{name}.pfm", "rb").read()
    head = b"Pf\n%d %d\n-1\n" % (W, H)
    assert raw.startswith(head)
    p = np.frombuffer(raw[len(head):], "<f4").reshape(H, W)[::-1]
    assert np.array_equal(p, a)
    c = cv2.imread(f"{o}/color/{name}.png")
    assert c.shape == (H, W, 3)
    # turbo, disparity: the largest value (bottom right) is the warm end, the smallest the cool
    assert tuple(c[-1, -1]) == (3, 4, 122) and tuple(c[0, 0]) == (59, 18, 48), (c[-1, -1], c[0, 0])
' "$W/o"
  pycheck "[r['status'] for r in j] == ['ok', 'ok'] and j[1]['outputs'] == ['u.json', 'png16/u.png', 'tiff/u.tiff', 'npy/u.npy', 'pfm/u.pfm', 'color/u.png'] and j[1]['result']['kind'] == 'relative'" "$W/o/results.jsonl"
  pycheck "j['tool'] == 'depth' and j['info'] == {'family': 'dpt', 'prediction': 'disparity', 'kind': 'relative'}" "$W/o/run.json"
  no_temp_files "$W/o"
  ;;
dpt_rank3)
  # [B, H, W] output: the same maps as [B, 1, H, W]
  expect_rc 0 "$DEPTH" -c "$DPT" "$DF/images" -o "$W/a" -q
  expect_rc 0 "$DEPTH" -c "$DPT" -m "$DF/dpt_ramp3.pt" "$DF/images" -o "$W/b" -q
  cmp "$W/a/npy/u.npy" "$W/b/npy/u.npy" || fail "rank-3 output differs"
  cmp "$W/a/npy/tall.npy" "$W/b/npy/tall.npy" || fail "rank-3 output differs"
  ;;
resize_rule)
  # dpt_size returns its input's (h, w): the map's left column is h, its right column w
  expect_rc 0 "$DEPTH" -c "$DPT" -m "$DF/dpt_size.pt" --set model.input_size=518,518 --set outputs.npy=true "$DF/images_sizes" -o "$W/one" -q --batch 1
  pyrun '
o = sys.argv[1]
want = {"s640x480": (518, 686), "s480x640": (686, 518), "s1000x100": (518, 5180),
        "s500x500": (518, 518), "s1x1": (518, 518)}
for name, (h, w) in want.items():
    a = np.load(f"{o}/npy/{name}.npy")
    assert (a[0, 0], a[0, -1]) == (h, w) or (name == "s1x1" and a[0, 0] == h), (name, a[0, 0], a[0, -1])
' "$W/one"
  # rows of one shape batch together; the maps do not change
  expect_rc 0 "$DEPTH" -c "$DPT" -m "$DF/dpt_size.pt" --set model.input_size=518,518 --set outputs.npy=true "$DF/images_sizes" -o "$W/four" -q --batch 4 --threads 1
  same_tree "$W/one" "$W/four"
  # a fixed square size (upstream's batching advice): every image at 518 x 518
  expect_rc 0 "$DEPTH" -c "$DPT" -m "$DF/dpt_size.pt" --set model.input_size=518,518 --set preprocess.resize=stretch --set outputs.npy=true "$DF/images_sizes" -o "$W/sq" -q --batch 4 --threads 1
  pyrun '
import glob
for f in glob.glob(sys.argv[1] + "/npy/*.npy"):
    a = np.load(f)
    assert np.abs(a - 518).max() < 1e-3, f
' "$W/sq"
  ;;
one_pixel)
  expect_rc 0 "$DEPTH" -c "$DPT" --set outputs.preview=true "$DF/images_one" -o "$W/o" -q
  pycheck "(j['width'], j['height']) == (1, 1) and j['min'] == j['max'] and abs(j['min'] - (3 + (200/255 - 0.485)/0.229)) < 1e-5" "$W/o/one.json"
  pyrun '
o = sys.argv[1]
q = cv2.imread(f"{o}/png16/one.png", cv2.IMREAD_UNCHANGED)
assert q.shape == (1, 1) and q[0, 0] == 0
assert np.load(f"{o}/npy/one.npy").shape == (1, 1)
assert cv2.imread(f"{o}/color/one.png").shape == (1, 1, 3)
assert cv2.imread(f"{o}/preview/one.jpg").shape[:2] == (1, 2)
' "$W/o"
  ;;
nan_output)
  # NaN for the red image only: that image fails with no files, the other is written
  expect_rc 1 "$DEPTH" -c "$DPT" -m "$DF/dpt_nan.pt" "$DF/images_nan" -o "$W/o" -q
  expect_err "images_nan/red.png: model output has 3920 NaN/Inf values (of 3920); no files written for this image"
  [ -z "$(find "$W/o" -name 'red*')" ] || fail "files written for the NaN image: $(find "$W/o" -name 'red*')"
  [ -f "$W/o/good.json" ] && [ -f "$W/o/npy/good.npy" ] && [ -f "$W/o/png16/good.png" ] || fail "the good image was not written"
  pycheck "[(r['rel'], r['status'], r['outputs']) for r in j][1] == ('red.png', 'error', []) and j[0]['status'] == 'ok'" "$W/o/results.jsonl"
  pycheck "j['counts'] == {'inputs': 2, 'ok': 1, 'skipped': 0, 'failed': 1}" "$W/o/run.json"
  ;;
wrong_shape)
  expect_rc 2 "$DEPTH" -c "$DPT" -m "$DF/dpt_bad.pt" "$DF/images" -o "$W/o" -q
  expect_err "error: $DF/dpt_bad.pt: dpt export: expected output 0 [B, 1, H, W] or [B, H, W], got [1, 3, 56, 56]"
  [ "$(wc -l < "$W/err")" -eq 1 ] || fail "more than one error line"
  [ ! -e "$W/o/u.json" ] || fail "outputs written with a broken model"
  expect_rc 2 "$DEPTH" -c "$PYD" --set model.output_index=3 "$DF/images" -o "$W/p" -q
  expect_err "pydnet_fixture.pt: pydnet export: the model returned 3 output(s); model.output_index is 3"
  ;;
pydnet_layout)
  # stretched to 64x48, RGB/255; head 0; relative depth: the smallest value is the warm end
  expect_rc 0 "$DEPTH" -c "$PYD" "$DF/images" -o "$W/o" -q
  pycheck "(j['width'], j['height'], j['kind'], j['prediction']) == (40, 30, 'relative', 'relative_depth')" "$W/o/u.json"
  pyrun '
# align_corners=False (half-pixel centres) from 64x48: column u samples (u + 0.5) * 64 / 40 - 0.5
v, u = np.mgrid[0:30, 0:40]
want = 3 + 200 / 255 + 2 * ((u + 0.5) * 1.6 - 0.5) / 63 + ((v + 0.5) * 1.6 - 0.5) / 47
a = np.load(sys.argv[1] + "/npy/u.npy")
assert np.abs(a - want).max() < 1e-5, np.abs(a - want).max()
c = cv2.imread(sys.argv[1] + "/color/u.png")
assert tuple(c[0, 0]) == (164, 255, 252) and tuple(c[-1, -1]) == (4, 0, 0), (c[0, 0], c[-1, -1])
' "$W/o"
  expect_rc 0 "$DEPTH" -c "$PYD" --set model.output_index=1 --set outputs.flip=true "$DF/images" -o "$W/h1" -q
  pycheck "abs(j['min'] - 100 * (3 + 200/255 + 0.6/63 + 0.3/47)) < 1e-3" "$W/h1/u.json"
  pyrun '
c = cv2.imread(sys.argv[1] + "/color/u.png")
assert tuple(c[0, 0]) == (4, 0, 0), c[0, 0]
' "$W/h1"
  ;;
metric_ply)
  # metres = output x max_depth 5; 16-bit millimetres; a point cloud with fx = fy = 100
  expect_rc 0 "$DEPTH" -c "$MET" "$DF/images/u.png" -o "$W/o" -q
  pycheck "j['kind'] == 'metric' and j['units'] == 'm' and abs(j['min'] - 5 * (3 + (200/255 - 0.485)/0.229)) < 1e-4 and j['png16'] == {'normalize': 'metric_mm', 'lo': 0.0, 'hi': 65.535, 'decode': 'lo + v * (hi - lo) / 65535'} and j['outputs']['ply'] == 'ply/u.ply'" "$W/o/u.json"
  pyrun '
o = sys.argv[1]
a = np.load(f"{o}/npy/u.npy")
assert np.abs(a - 5 * ramp(40, 30, 3 + M)).max() < 1e-4
q = cv2.imread(f"{o}/png16/u.png", cv2.IMREAD_UNCHANGED)
assert np.abs(q.astype(np.int64) - np.round(a.astype(np.float64) * 1000)).max() <= 1
raw = open(f"{o}/ply/u.ply", "rb").read()
end = raw.index(b"end_header\n") + len(b"end_header\n")
head = raw[:end].decode()
assert "format binary_little_endian 1.0" in head and "element vertex 1200\n" in head, head
pts = np.frombuffer(raw[end:], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
assert pts.size == 1200
z = a[0, 0]
assert abs(pts["z"][0] - z) < 1e-5 and abs(pts["x"][0] - (0 - 20) / 100 * z) < 1e-4 and abs(pts["y"][0] - (0 - 15) / 100 * z) < 1e-4
k = 29 * 40 + 39  # last pixel (u = 39, v = 29)
assert abs(pts["x"][k] - (39 - 20) / 100 * a[29, 39]) < 1e-4 and abs(pts["y"][k] - (29 - 15) / 100 * a[29, 39]) < 1e-4
assert (pts["r"] == 200).all() and (pts["g"] == 100).all() and (pts["b"] == 50).all()
' "$W/o"
  # field of view instead of fx: fx = 20 / tan(45 deg) = 20 at 90 degrees
  expect_rc 0 "$DEPTH" -c "$MET" --set camera.fov=90 --set outputs.ply_stride=2 "$DF/images/u.png" -o "$W/f" -q
  pyrun '
raw = open(sys.argv[1] + "/ply/u.ply", "rb").read()
assert b"element vertex 300\n" in raw
' "$W/f"
  ;;
bad_config)
  expect_rc 2 "$DEPTH" -c "$DPT" --set outputs.normalize=metric_mm "$DF/images" -o "$W/o" -q
  expect_err "error: outputs.normalize: metric_mm needs a metric model (model.prediction metric_depth)"
  expect_rc 2 "$DEPTH" -c "$DPT" --set outputs.colormap=jet "$DF/images" -o "$W/o" -q
  expect_err 'error: outputs.colormap: expected turbo, inferno, magma, viridis or spectral, got "jet"'
  expect_rc 2 "$DEPTH" -c "$DPT" --set outputs.ply=true "$DF/images" -o "$W/o" -q
  expect_err "error: outputs.ply: a point cloud needs a metric model"
  expect_rc 2 "$DEPTH" -c "$MET" --set camera.fx=-1 "$DF/images" -o "$W/o" -q
  expect_err "error: camera.fx/fy: focal lengths must be positive"
  expect_rc 2 "$DEPTH" -c "$DPT" --set preprocess.resize=letterbox "$DF/images" -o "$W/o" -q
  expect_err 'error: preprocess.resize: expected lower_bound, upper_bound, minimal or stretch for depth, got "letterbox"'
  expect_rc 2 "$DEPTH" -c "$DPT" --set outputs.normalize=fixed "$DF/images" -o "$W/o" -q
  expect_err "error: outputs.range: normalize fixed needs outputs.range [lo, hi]"
  expect_rc 2 "$DEPTH" -c "$DPT" --set model.family=midas "$DF/images" -o "$W/o" -q
  expect_err 'error: model.family: unknown depth family "midas" (known: dpt, pydnet)'
  expect_rc 2 "$DEPTH" -c "$DPT" --set model.max_depth=20 "$DF/images" -o "$W/o" -q
  expect_err "error: model.max_depth: only for model.prediction metric_depth"
  [ ! -e "$W/o" ] || fail "an output folder was made for a bad config"
  ;;
fixed_range)
  # normalize fixed: values outside the range clip; colour uses the same range
  expect_rc 0 "$DEPTH" -c "$DPT" --set outputs.normalize=fixed --set outputs.range=4,8 "$DF/images/u.png" -o "$W/o" -q
  pycheck "j['png16'] == {'normalize': 'fixed', 'lo': 4.0, 'hi': 8.0, 'decode': 'lo + v * (hi - lo) / 65535'}" "$W/o/u.json"
  pyrun '
o = sys.argv[1]
a = np.load(f"{o}/npy/u.npy")
q = cv2.imread(f"{o}/png16/u.png", cv2.IMREAD_UNCHANGED)
assert np.abs(4 + q.astype(np.float64) * 4 / 65535 - np.clip(a, 4, 8)).max() <= 4 / 131070 * 1.0001
' "$W/o"
  ;;
real_pydnet)
  # PyDNet's real weights on Middlebury motorcycle, aligned in disparity space (measured: AbsRel
  # 0.326, delta1 0.646; a constant prediction scores 0.673 / 0.131)
  [ -f "$SHARED/models/pydnet/optimized_pydnet++.tflite" ] && [ -f "$SKI/motorcycle_left.png" ] || { echo "SKIP: PyDNet weights or skimage data absent"; exit 77; }
  export VFM_MODELS="$W/cache"
  expect_rc 0 "$SRC/scripts/vfm-models" fetch pydnet --mirror "$SHARED/models"
  expect_rc 0 "$DEPTH" -m pydnet --set outputs.npy=true "$SKI/motorcycle_left.png" -o "$W/o" -q
  pycheck "(j['width'], j['height'], j['prediction']) == (741, 500, 'relative_depth')" "$W/o/motorcycle_left.json"
  expect_rc 0 "$PY" "$SRC/scripts/eval_depth.py" "$W/o/npy/motorcycle_left.npy" --json "$W/o/motorcycle_left.json" --max-absrel 0.4 --min-delta1 0.55
  cat "$W/out"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
exit 0
