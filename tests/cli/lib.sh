# Helpers the CLI test scripts share (sourced; $W is the case's work folder, $PY Debian's python3).
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc WANT CMD...: run, keep stderr in $W/err, stdout in $W/out
expect_rc() {
  local want=$1; shift
  "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  [ "$rc" -eq "$want" ] || { cat "$W/err" >&2; fail "exit $rc, expected $want: $*"; }
}
expect_err() { grep -qF -- "$1" "$W/err" || { cat "$W/err" >&2; fail "stderr lacks: $1"; }; }
# pycheck 'python expression over j (the parsed JSON file)' FILE
pycheck() {
  "$PY" - "$2" "$1" <<'PYEOF' || fail "check failed: $1 on $2"
import json, sys
path, expr = sys.argv[1], sys.argv[2]
text = open(path).read()
j = json.loads(text) if not path.endswith(".jsonl") else [json.loads(l) for l in text.splitlines()]
if not eval(expr):
    print(text[:2000], file=sys.stderr)
    sys.exit(1)
PYEOF
}
no_temp_files() {
  local t; t=$(find "$1" -name '*.vfm-tmp' | head -1)
  [ -z "$t" ] || fail "temp file left: $t"
}
same_tree() {  # same per-image outputs and COCO files
  diff -r -x results.jsonl -x 'run*.json' "$1" "$2" >/dev/null || { diff -r -x results.jsonl -x 'run*.json' "$1" "$2" | head -20 >&2; fail "outputs differ: $1 $2"; }
}
