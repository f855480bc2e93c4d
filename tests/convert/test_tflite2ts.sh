#!/usr/bin/env bash
# Tests for scripts/convert/tflite2ts.py (TFLite -> TorchScript) on PyDNet.
#
#   scripts/convert/test_tflite2ts.sh          # SHARED defaults to <repo>/../shared
#
# 0. op-level cases (test_tflite2ts_ops.py: torch path vs NumPy interpreter on tiny graphs);
# 1. convert optimized_pydnet++.tflite with --check (parity vs the NumPy interpreter on a
#    random input and on a real image; every JSON line must pass);
# 2. a truncated model and a non-TFLite file: one-line error, exit 2, no output written;
# 3. a copy whose MAXIMUM opcode is patched (located through the converter's own flatbuffer
#    reader) to LSH_PROJECTION: "unsupported TFLite op LSH_PROJECTION", exit 2;
# 4. depth sanity of the converted model on Middlebury motorcycle (eval_pydnet.py).
# Exit 77 (skip) when the shared model folder or the Python deps are missing (step 0 still
# runs without the shared folder).
set -u

tests=$(cd "$(dirname "$0")" && pwd)
here=$(cd "$tests/../../scripts/convert" && pwd)
root=$(cd "$here/../.." && pwd)
SHARED=${SHARED:-$root/../shared}
PY=${PYTHON:-/usr/bin/python3}
model=$SHARED/models/pydnet/optimized_pydnet++.tflite
conv=$here/tflite2ts.py

if ! "$PY" -c "import torch, numpy, cv2" 2>/dev/null; then
    echo "SKIP: $PY lacks torch/numpy/cv2"
    exit 77
fi
# 0. op-level agreement of the torch path and the NumPy interpreter (no model file needed)
if ! "$PY" "$tests/test_tflite2ts_ops.py" >/tmp/tflite2ts_ops.$$ 2>&1; then
    cat /tmp/tflite2ts_ops.$$; rm -f /tmp/tflite2ts_ops.$$
    echo "FAIL: op-level cases (test_tflite2ts_ops.py)"
    exit 1
fi
echo "PASS: $(grep -c '^ok' /tmp/tflite2ts_ops.$$) op-level cases (test_tflite2ts_ops.py)"
rm -f /tmp/tflite2ts_ops.$$
if [ ! -f "$model" ]; then
    echo "SKIP: $model not found (set SHARED=...)"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error NAME FILE REGEX: exit 2, exactly one stderr line matching REGEX, nothing written
expect_error() {
    local name=$1 file=$2 regex=$3 out="$tmp/out_$1" rc
    mkdir -p "$out"
    "$PY" "$conv" "$file" "$out/model.pt" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    local lines
    lines=$(wc -l <"$tmp/$name.err")
    if [ "$rc" -ne 2 ]; then
        fail "$name: exit $rc, expected 2"; cat "$tmp/$name.err"
    elif [ "$lines" -ne 1 ] || ! grep -Eq "$regex" "$tmp/$name.err"; then
        fail "$name: stderr is not one line matching /$regex/:"; cat "$tmp/$name.err"
    elif [ -n "$(ls -A "$out")" ]; then
        fail "$name: files left in the output folder: $(ls -A "$out")"
    else
        pass "$name: $(cat "$tmp/$name.err")"
    fi
}

# 1. conversion + parity
start=$(date +%s.%N)
"$PY" "$conv" "$model" "$tmp/pydnet.pt" --check >"$tmp/check.jsonl" 2>"$tmp/check.err"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
cat "$tmp/check.jsonl"
npass=$(grep -c '"pass": true' "$tmp/check.jsonl")
nfail=$(grep -c '"pass": false' "$tmp/check.jsonl")
if [ "$rc" -eq 0 ] && [ -s "$tmp/pydnet.pt" ] && [ "$npass" -eq 6 ] && [ "$nfail" -eq 0 ]; then
    pass "convert --check: 6/6 parity lines pass (${secs}s)"
else
    fail "convert --check: rc=$rc pass=$npass fail=$nfail"; cat "$tmp/check.err"
fi

# 2. corrupt inputs
head -c 100000 "$model" >"$tmp/truncated.tflite"
expect_error truncated "$tmp/truncated.tflite" '^error: tflite2ts: .*truncated\.tflite: .*(truncated|corrupt)'
yes "this is not a flatbuffer" | head -c 100000 >"$tmp/garbage.tflite"
expect_error garbage "$tmp/garbage.tflite" '^error: tflite2ts: .*garbage\.tflite: '
printf 'TFL' >"$tmp/tiny.tflite"
expect_error tiny "$tmp/tiny.tflite" '^error: tflite2ts: .*tiny\.tflite: .*too short'
expect_error missing "$tmp/does_not_exist.tflite" '^error: tflite2ts: .*does_not_exist\.tflite: cannot read'

# 3. unsupported op: patch MAXIMUM (55) -> LSH_PROJECTION (15) in the operator_codes table
if "$PY" - "$model" "$tmp/unsupported.tflite" "$here" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
import tflite2ts as t
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
fb = t.FlatBuffer(bytes(data))
patched = 0
for oc in fb.root().tables(1):                       # Model.operator_codes
    dep, ext = oc.field_pos(0), oc.field_pos(3)      # deprecated_builtin_code, builtin_code
    code = max(oc.scalar(0, "b", 0), oc.scalar(3, "i", 0))
    if code == t.OP["MAXIMUM"]:
        if dep is not None:
            data[dep] = t.OP["LSH_PROJECTION"]
        if ext is not None:
            data[ext:ext + 4] = t.OP["LSH_PROJECTION"].to_bytes(4, "little")
        patched += 1
open(dst, "wb").write(data)
sys.exit(0 if patched == 1 else 1)
EOF
then
    expect_error unsupported "$tmp/unsupported.tflite" \
        '^error: tflite2ts: .*unsupported\.tflite: unsupported TFLite op LSH_PROJECTION$'
else
    fail "unsupported: could not patch the MAXIMUM opcode"
fi

# 4. depth sanity (thresholds well below the measured 0.153 / 0.83, well above the constant baseline)
if [ -s "$tmp/pydnet.pt" ]; then
    if "$PY" "$here/eval_pydnet.py" "$tmp/pydnet.pt" --max-absrel 0.20 --min-delta1 0.75 \
            >"$tmp/eval.json" 2>"$tmp/eval.err"; then
        pass "eval_pydnet: $(cut -c1-200 "$tmp/eval.json")"
    else
        fail "eval_pydnet: $(cat "$tmp/eval.json" "$tmp/eval.err")"
    fi
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails test(s) failed"
    exit 1
fi
echo "all tflite2ts tests passed"
