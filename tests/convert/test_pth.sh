#!/usr/bin/env bash
# Tests the PyTorch state-dict converters in scripts/convert/ on the real upstream weights:
#   retinaface_pth.py (mnet025, slim, rfb), blazeface_pth.py (front, back), mobilefacenet_ckpt.py,
#   espnet_pth.py, sinet_pth.py.
#   1. each conversion succeeds (the converters themselves check trace == eager at two sizes
#      where the family allows it, and run the saved file on a batch of 2);
#   2. checks on real photos (tests/convert/*_check.py): RetinaFace/Slim/RFB faces vs YuNet
#      (mean matched IoU >= 0.8, >= 90 % of YuNet faces matched); BlazeFace vs the barracuda ONNX
#      files converted by onnx2ts.py (back: same weights, max|diff| <= 1e-4 of range; front:
#      different weights, same architecture/ordering -- see blazeface_check.py --transplant);
#      MobileFaceNet leave-one-out identification (>= 0.9); ESPNet class fractions on the
#      Cityscapes frame; SINet foreground fraction and COCO person IoU;
#   3. bad inputs (truncated .pth, renamed key, wrong shape, a pickle calling os.system, a
#      non-tensor entry, missing 'net_state_dict'): exit 2, one line on stderr starting with
#      "error: <tool>: ", nothing at OUT and no temporary file left, nothing executed.
# Needs the shared folder ($SHARED, default ../shared beside the repository root): exit 77 (skip)
# when it or a torch + cv2 + onnx capable Python ($PYTHON, default /usr/bin/python3) is absent.
# KEEP=DIR keeps the converted files and the check PNGs there.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
PY="${PYTHON:-/usr/bin/python3}"
CONV="$ROOT/scripts/convert"
TESTS="$ROOT/tests/convert"
M="$SHARED/models"
D="$SHARED/data"

if [[ ! -d "$M" || ! -d "$D" ]]; then
    echo "SKIP: shared folder $SHARED not found (set SHARED)"
    exit 77
fi
for f in retinaface/mobilenet0.25_Final.pth retinaface/slim_Final.pth retinaface/RBF_Final.pth \
         blazeface/blazeface.pth blazeface/blazefaceback.pth mobilefacenet/068.ckpt \
         espnet/espnet_p_2_q_8.pth sinet/SINet.pth yunet/yunet_n_320_320.onnx; do
    if [[ ! -f "$M/$f" ]]; then
        echo "SKIP: $M/$f not found"
        exit 77
    fi
done
if ! "$PY" -c "import torch, numpy, cv2, onnx" 2>/dev/null; then
    echo "SKIP: $PY lacks torch/numpy/cv2/onnx (set PYTHON)"
    exit 77
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
OUT="${KEEP:-$TMP}"
mkdir -p "$OUT"
fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# run NAME CMD...: pass/fail on exit status, output indented
run() {
    local name="$1"; shift
    local log="$TMP/log_${name//[^A-Za-z0-9_]/_}.txt" t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        pass "$name ($((SECONDS - t0)) s)"
    else
        fail "$name (exit $?)"
    fi
    sed 's/^/     /' "$log"
}

# 1. conversions --------------------------------------------------------------------------------
run "retinaface mnet025" "$PY" "$CONV/retinaface_pth.py" "$M/retinaface/mobilenet0.25_Final.pth" "$OUT/rf_mnet025.pt" --arch mnet025
run "retinaface slim" "$PY" "$CONV/retinaface_pth.py" "$M/retinaface/slim_Final.pth" "$OUT/rf_slim.pt" --arch slim
run "retinaface rfb" "$PY" "$CONV/retinaface_pth.py" "$M/retinaface/RBF_Final.pth" "$OUT/rf_rfb.pt" --arch rfb --size 320 240
run "blazeface front" "$PY" "$CONV/blazeface_pth.py" "$M/blazeface/blazeface.pth" "$OUT/bf_front.pt" --variant front
run "blazeface back" "$PY" "$CONV/blazeface_pth.py" "$M/blazeface/blazefaceback.pth" "$OUT/bf_back.pt" --variant back
run "blazeface front ONNX (onnx2ts)" "$PY" "$CONV/onnx2ts.py" "$M/blazeface/face_detection_front_128x128_barracuda.onnx" "$OUT/bf_front_onnx.pt" --input-shape 1,128,128,3 --quiet
run "blazeface back ONNX (onnx2ts)" "$PY" "$CONV/onnx2ts.py" "$M/blazeface/face_detection_back_256x256_barracuda.onnx" "$OUT/bf_back_onnx.pt" --input-shape 1,256,256,3 --quiet
run "mobilefacenet" "$PY" "$CONV/mobilefacenet_ckpt.py" "$M/mobilefacenet/068.ckpt" "$OUT/mfn.pt"
if grep -q "NO license" "$TMP/log_mobilefacenet.txt"; then pass "mobilefacenet prints the no-license warning"; else fail "mobilefacenet license warning missing"; fi
run "espnet" "$PY" "$CONV/espnet_pth.py" "$M/espnet/espnet_p_2_q_8.pth" "$OUT/espnet.pt"
run "sinet" "$PY" "$CONV/sinet_pth.py" "$M/sinet/SINet.pth" "$OUT/sinet.pt"

# 2. checks -------------------------------------------------------------------------------------
run "retinaface/slim/rfb vs YuNet" "$PY" "$TESTS/retinaface_check.py" \
    --model "mnet025=$OUT/rf_mnet025.pt" --model "slim=$OUT/rf_slim.pt" --model "rfb=$OUT/rf_rfb.pt" \
    --yunet "$M/yunet/yunet_n_320_320.onnx" --expect-min-iou 0.8 --expect-match 0.9 \
    ${KEEP:+--draw "$OUT"} "$D/photos/4faces.png" "$D/photos/1face.png" "$D"/faces/group/*
run "blazeface back == ONNX back" "$PY" "$TESTS/blazeface_check.py" --pth "$OUT/bf_back.pt" \
    --onnx "$OUT/bf_back_onnx.pt" --size 256 --anchors "$M/blazeface/anchorsback.npy" \
    --image "$D/photos/1face.png" --image "$D/photos/4faces.png" --expect same
run "blazeface front: other weights, same architecture as ONNX front" "$PY" "$TESTS/blazeface_check.py" \
    --pth "$OUT/bf_front.pt" --onnx "$OUT/bf_front_onnx.pt" --size 128 \
    --anchors "$M/blazeface/anchors.npy" --image "$D/photos/1face.png" \
    --transplant "$M/blazeface/face_detection_front_128x128_barracuda.onnx" --variant front --expect different
run "mobilefacenet leave-one-out" "$PY" "$TESTS/mobilefacenet_check.py" --model "$OUT/mfn.pt" \
    --identities "$D/faces/identities" --retinaface "$OUT/rf_mnet025.pt" --expect-acc 0.9
run "espnet cityscapes frame" "$PY" "$TESTS/seg_check.py" espnet --model "$OUT/espnet.pt" \
    ${KEEP:+--out "$OUT"} --expect road:0.2:0.4 --expect building:0.2:0.45 --expect sidewalk:0.05 \
    --expect sky:0.005 --expect vegetation:0.005 --expect car:0.005 \
    "$D/photos/frankfurt_000000_000294_leftImg8bit.png"
run "sinet portraits" "$PY" "$TESTS/seg_check.py" sinet --model "$OUT/sinet.pt" ${KEEP:+--out "$OUT"} \
    --expect fg:0.15:0.6 --coco "$D/coco128-train" --expect-coco-iou 0.45 \
    "$D/photos/1face.png" "$D"/photos/sample*.jpg

# 3. bad inputs ---------------------------------------------------------------------------------
BAD="$TMP/bad"
mkdir -p "$BAD"
if "$PY" - "$M" "$BAD" <<'EOF'
import os, sys, torch
m, bad = sys.argv[1], sys.argv[2]
src = os.path.join(m, "retinaface", "mobilenet0.25_Final.pth")
data = open(src, "rb").read()
open(os.path.join(bad, "truncated.pth"), "wb").write(data[: len(data) // 2])
sd = torch.load(src, map_location="cpu", weights_only=True)
r = dict(sd); r["fpn.merge1.0.weight_renamed"] = r.pop("fpn.merge1.0.weight")
torch.save(r, os.path.join(bad, "renamed.pth"))
s = dict(sd); s["ssh2.conv3X3.0.weight"] = torch.zeros(32, 64, 5, 5)
torch.save(s, os.path.join(bad, "shape.pth"))
n = dict(sd); n["note"] = 3
torch.save(n, os.path.join(bad, "nontensor.pth"))
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(bad, "EXECUTED"),))
torch.save({"w": Evil()}, os.path.join(bad, "evil.pth"))
e = torch.load(os.path.join(m, "espnet", "espnet_p_2_q_8.pth"), map_location="cpu", weights_only=True)
e["encoder.level3.7.d16.conv.weight"] = torch.zeros(25, 25, 3, 3, 1)
torch.save(e, os.path.join(bad, "espnet_shape.pth"))
torch.save({"epoch": 1, "state": {}}, os.path.join(bad, "mfn_nokey.ckpt"))
EOF
then pass "made bad inputs"; else fail "could not make bad inputs"; fi

expect_error() {  # name, expected stderr substring, command...
    local name="$1" want="$2"; shift 2
    local err="$TMP/err_${name//[^A-Za-z0-9_]/_}.txt" out="${!#}" rc lines
    "$@" >/dev/null 2>"$err"
    rc=$?
    lines=$(wc -l <"$err")
    local leftovers
    leftovers=$(find "$(dirname "$out")" -maxdepth 1 -name ".$(basename "$out").*" | wc -l)
    if [[ $rc -eq 2 && $lines -eq 1 && ! -e "$out" && $leftovers -eq 0 ]] && grep -q -- "$want" "$err" \
       && grep -q "^error: [a-z_0-9]*: " "$err"; then
        pass "$name: $(cat "$err")"
    else
        fail "$name: exit $rc, $lines stderr lines, out exists: $([[ -e $out ]] && echo yes || echo no), temp files: $leftovers"
        sed 's/^/     /' "$err"
    fi
}
RF=("$PY" "$CONV/retinaface_pth.py")
expect_error "truncated .pth" "truncated or corrupt" "${RF[@]}" --arch mnet025 "$BAD/truncated.pth" "$BAD/o1.pt"
expect_error "renamed key" "missing key 'fpn.merge1.0.weight'" "${RF[@]}" --arch mnet025 "$BAD/renamed.pth" "$BAD/o2.pt"
expect_error "wrong shape" "shape mismatch for key 'ssh2.conv3X3.0.weight'" "${RF[@]}" --arch mnet025 "$BAD/shape.pth" "$BAD/o3.pt"
expect_error "non-tensor entry" "'note' is a int" "${RF[@]}" --arch mnet025 "$BAD/nontensor.pth" "$BAD/o4.pt"
expect_error "os.system pickle" "refused to unpickle" "${RF[@]}" --arch mnet025 "$BAD/evil.pth" "$BAD/o5.pt"
if [[ -e "$BAD/EXECUTED" ]]; then fail "the os.system pickle was executed"; else pass "the os.system pickle was not executed"; fi
expect_error "wrong architecture" "missing key" "${RF[@]}" --arch rfb "$M/retinaface/slim_Final.pth" "$BAD/o6.pt"
expect_error "espnet wrong shape" "encoder.level3.7.d16.conv.weight" "$PY" "$CONV/espnet_pth.py" "$BAD/espnet_shape.pth" "$BAD/o7.pt"
expect_error "sinet truncated" "truncated or corrupt" "$PY" "$CONV/sinet_pth.py" "$BAD/truncated.pth" "$BAD/o8.pt"
expect_error "blazeface wrong file" "missing key" "$PY" "$CONV/blazeface_pth.py" --variant back "$M/blazeface/blazeface.pth" "$BAD/o9.pt"
expect_error "mobilefacenet no net_state_dict" "net_state_dict" "$PY" "$CONV/mobilefacenet_ckpt.py" "$BAD/mfn_nokey.ckpt" "$BAD/o10.pt"
expect_error "missing file" "no such file" "${RF[@]}" --arch slim "$BAD/nope.pth" "$BAD/o11.pt"

echo
if [[ $fails -eq 0 ]]; then
    echo "all passed"
    exit 0
fi
echo "$fails failed"
exit 1
