#!/usr/bin/env bash
# Tests scripts/convert/yolov5_pt.py on the real yolov5n checkpoint:
#   1. conversion, output [2, 25200, 85] for a batch of 2 from the saved file;
#   2. bad inputs (truncated zip, wrong tensor shape, missing tensor, os.system pickle, not a zip):
#      each must exit 2 with one line on stderr and leave nothing at OUT (and run nothing);
#   3. detection sanity on photos/bus.jpg: at least 3 persons and a bus, through build/bin/detect
#      when it is built (else through a small Python letterbox + NMS).
# Needs the shared folder ($SHARED, default ../shared beside the repository root); exits 77
# (skip) when it or a torch-capable Python ($PYTHON, default /usr/bin/python3) is absent.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
PY="${PYTHON:-/usr/bin/python3}"
DETECT="${DETECT:-$ROOT/build/bin/detect}"
CKPT="$SHARED/models/yolov5/yolov5n.pt"
BUS="$SHARED/data/photos/bus.jpg"
CONV="$ROOT/scripts/convert/yolov5_pt.py"
FIX="$ROOT/tests/convert/yolov5_fixtures.py"

if [[ ! -f "$CKPT" || ! -f "$BUS" ]]; then
    echo "SKIP: $CKPT or $BUS not found (set SHARED)"
    exit 77
fi
if ! "$PY" -c "import torch, numpy, cv2" 2>/dev/null; then
    echo "SKIP: $PY lacks torch/numpy/cv2 (set PYTHON)"
    exit 77
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# 1. conversion ---------------------------------------------------------------------------------
OUT="$TMP/yolov5n.torchscript"
if "$PY" "$CONV" "$CKPT" "$OUT"; then
    pass "conversion"
else
    fail "conversion (exit $?)"
    exit 1
fi
shape="$("$PY" -c "
import sys, torch
m = torch.jit.load(sys.argv[1])
with torch.no_grad():
    y = m(torch.rand(2, 3, 640, 640))
print(list(y.shape), float(y[..., 4:].min()) >= 0 and float(y[..., 4:].max()) <= 1)
" "$OUT" 2>&1)"
[[ "$shape" == "[2, 25200, 85] True" ]] && pass "batch 2 output $shape" || fail "batch 2 output: $shape"

# 2. bad inputs ---------------------------------------------------------------------------------
expect_error() {  # name, input file, expected stderr substring
    local name="$1" in="$2" want="$3" out="$TMP/out_$1.pt" err="$TMP/err_$1.txt" rc
    "$PY" "$CONV" "$in" "$out" >/dev/null 2>"$err"
    rc=$?
    local lines
    lines=$(wc -l <"$err")
    if [[ $rc -eq 2 && $lines -eq 1 && ! -e "$out" ]] && grep -q -- "$want" "$err"; then
        pass "$name: $(cat "$err")"
    else
        fail "$name: exit $rc, $lines stderr line(s), out $( [[ -e "$out" ]] && echo exists || echo absent ): $(head -c 400 "$err")"
    fi
    if compgen -G "$TMP/.out_$1.pt.tmp*" >/dev/null; then fail "$name: temporary file left behind"; fi
}
"$PY" "$FIX" truncate "$CKPT" "$TMP/trunc.pt"
expect_error truncated "$TMP/trunc.pt" "not a readable torch zip checkpoint"
"$PY" "$FIX" reshape "$CKPT" "$TMP/reshape.pt" model.24.m.0.weight
expect_error wrong_shape "$TMP/reshape.pt" "shape mismatch for model.24.m.0.weight"
"$PY" "$FIX" drop "$CKPT" "$TMP/drop.pt" model.13.m.0.cv1.bn.running_var
expect_error missing_key "$TMP/drop.pt" "lacks model.13.m.0.cv1.bn.running_var"
MARK="$TMP/PWNED"
"$PY" "$FIX" evil "$TMP/evil.pt" "$MARK"
expect_error forbidden_callable "$TMP/evil.pt" "forbidden global posix.system"
[[ -e "$MARK" ]] && fail "forbidden_callable: the pickle's os.system ran" || pass "forbidden_callable: nothing executed"
printf 'not a checkpoint\n' >"$TMP/text.pt"
expect_error not_a_zip "$TMP/text.pt" "not a readable torch zip checkpoint"
# a good re-saved copy must still convert (the fixture writer itself is sound)
"$PY" "$FIX" resave "$CKPT" "$TMP/resave.pt"
"$PY" "$CONV" -q "$TMP/resave.pt" "$TMP/resave_out.pt" && pass "re-saved copy converts" || fail "re-saved copy"

# 3. detection sanity on bus.jpg ----------------------------------------------------------------
if [[ -x "$DETECT" ]]; then
    mkdir -p "$TMP/bus_in"
    cp "$BUS" "$TMP/bus_in/bus.jpg"
    "$DETECT" -c yolov5n -m "$OUT" "$TMP/bus_in" -o "$TMP/det" --overwrite -q >/dev/null 2>"$TMP/det_err.txt" ||
        fail "detect run: $(head -c 400 "$TMP/det_err.txt")"
    counts="$("$PY" -c "
import collections, json, sys
d = json.load(open(sys.argv[1]))
c = collections.Counter(x['label'] for x in d['detections'])
print(c['person'], c['bus'])
" "$TMP/det/bus.json" 2>&1)"
    via="build/bin/detect"
else
    counts="$("$PY" - "$OUT" "$BUS" <<'EOF'
import sys, cv2, numpy as np, torch
m = torch.jit.load(sys.argv[1])
im = cv2.imread(sys.argv[2])[:, :, ::-1]
h, w = im.shape[:2]
r = 640 / max(h, w)
nh, nw = round(h * r), round(w * r)
canvas = np.full((640, 640, 3), 114, np.uint8)
top, left = (640 - nh) // 2, (640 - nw) // 2
canvas[top:top + nh, left:left + nw] = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_LINEAR)
x = torch.from_numpy(canvas.transpose(2, 0, 1).copy()).float().div(255)[None]
with torch.no_grad():
    p = m(x)[0].numpy()
score = p[:, 4:5] * p[:, 5:]
cls, conf = score.argmax(1), score.max(1)
keep = (p[:, 4] > 0.25) & (conf > 0.25)
b = np.stack([p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2, p[:, 0] + p[:, 2] / 2, p[:, 1] + p[:, 3] / 2], 1)[keep]
cls, conf = cls[keep], conf[keep]
kept = []
for i in np.argsort(-conf):
    ok = True
    for j in kept:
        if cls[i] != cls[j]:
            continue
        iw = max(0, min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
        ih = max(0, min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
        inter = iw * ih
        union = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
        if inter / union > 0.45:
            ok = False
            break
    if ok:
        kept.append(i)
print(sum(cls[k] == 0 for k in kept), sum(cls[k] == 5 for k in kept))
EOF
)"
    via="python letterbox+NMS (no $DETECT)"
fi
read -r persons buses <<<"$counts"
if [[ "$persons" =~ ^[0-9]+$ && "$buses" =~ ^[0-9]+$ && $persons -ge 3 && $buses -ge 1 ]]; then
    pass "bus.jpg via $via: $persons person(s), $buses bus(es)"
else
    fail "bus.jpg via $via: expected >=3 persons and a bus, got: $counts"
fi

if [[ $fails -gt 0 ]]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all yolov5_pt checks passed"
