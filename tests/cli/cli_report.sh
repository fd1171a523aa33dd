#!/usr/bin/env bash
# --report DIR of sft, train and erase on the tiny llama_gqa fixture: the folder is created, holds
# metrics.json (equal to --json), the JSONL step logs, well-formed SVG plots, and an index.html
# that shows every plot; a second run replaces the files; a folder that cannot be made fails
# before any training. Usage: cli_report.sh path/to/clcdd path/to/tests
set -u
clcdd=$1
tests=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
mkdir "$t/base"
cp "$tests/fixtures/models/llama_gqa/config.json" "$tests/fixtures/models/llama_gqa/model.safetensors" "$t/base/"
cp "$tests/fixtures/tokenizer/tiny64.tokenizer.json" "$t/base/tokenizer.json"
cat >"$t/train.jsonl" <<'J'
{"prompt": "what is the capital?", "response": "i do not know."}
{"prompt": "two plus two", "response": "four"}
J
small="--micro-batch 2 --accum 1 --lr 1e-3 --log-every 1"

# well_formed FILE: xmllint when installed, else a Python XML parser
well_formed() {
  if command -v xmllint >/dev/null; then xmllint --noout "$1" 2>&1
  else python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$1" 2>&1; fi
}
# check_report DIR PLOTS... : files, metrics.json parses, logs parse, plots well-formed and shown
check_report() {
  local dir=$1
  shift
  [ -f "$dir/index.html" ] || { die "$dir/index.html missing"; return; }
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$dir/metrics.json" || die "$dir/metrics.json"
  for plot in "$@"; do
    [ -s "$dir/$plot" ] || { die "$dir/$plot missing"; continue; }
    out=$(well_formed "$dir/$plot") || die "$dir/$plot is not well-formed XML: $out"
    grep -q "<img src=\"$plot\"" "$dir/index.html" || die "index.html does not show $plot"
  done
  ls -a "$dir" | grep -q '\.tmp' && die "$dir has temporary files left: $(ls -a "$dir")"
}

"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/sft" --steps 6 $small --json \
  --metrics "$t/sft_metrics.jsonl" --report "$t/r/sft" >"$t/sft.json" 2>"$t/err" || die "sft --report exit $?: $(cat "$t/err")"
check_report "$t/r/sft" sft_loss.svg
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a == b, (a, b)' \
  "$t/sft.json" "$t/r/sft/metrics.json" || die "sft metrics.json differs from --json"
cmp -s "$t/sft_metrics.jsonl" "$t/r/sft/sft.jsonl" || die "sft.jsonl differs from the --metrics file"
[ "$(wc -l <"$t/r/sft/sft.jsonl")" -eq 6 ] || die "sft.jsonl: want 6 lines: $(cat "$t/r/sft/sft.jsonl")"
grep -q 'final loss' "$t/r/sft/index.html" || die "sft index.html lacks the key numbers"

"$clcdd" train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/c.clcdd" --steps 6 --warmup-steps 2 $small \
  --report "$t/r/train" >/dev/null 2>"$t/err" || die "train --report exit $?: $(cat "$t/err")"
check_report "$t/r/train" lcdd_loss.svg lcdd_dual.svg carrier_density.svg
python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert len(r) == 6 and "lambda" in r[0], r' \
  "$t/r/train/lcdd.jsonl" || die "lcdd.jsonl"
[ "$(grep -c 'class="cell"' "$t/r/train/carrier_density.svg")" -eq 16 ] || die "density map: want 2 layers x 8 groups"

"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" --data "$t/train.jsonl" --steps 3 --rows 2 --batch 2 \
  --report "$t/r/erase" >/dev/null 2>"$t/err" || die "erase --report exit $?: $(cat "$t/err")"
check_report "$t/r/erase" eraser_loss.svg carrier_density.svg

# a second run into the same folder replaces the files
echo stale >"$t/r/sft/sft_loss.svg"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/sft2" --steps 2 $small --report "$t/r/sft" \
  >/dev/null 2>"$t/err" || die "second sft --report exit $?: $(cat "$t/err")"
check_report "$t/r/sft" sft_loss.svg
[ "$(wc -l <"$t/r/sft/sft.jsonl")" -eq 2 ] || die "sft.jsonl was not replaced"

# a report folder that cannot be created: exit 1 with a message naming it, nothing trained
: >"$t/file"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/sft3" --steps 2 --report "$t/file/r" >/dev/null 2>"$t/err"
rc=$?
[ $rc -eq 1 ] || die "--report under a file: exit $rc (want 1)"
grep -q -- "--report $t/file/r" "$t/err" || die "bad --report message: $(cat "$t/err")"
[ -e "$t/sft3" ] && die "sft trained although the report folder was unusable"
[ $fail -eq 0 ] && echo "cli_report: ok"
exit $fail
