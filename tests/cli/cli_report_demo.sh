#!/usr/bin/env bash
# clcdd demo --quick --report DIR (with fewer prompts than --quick's): every plot of the demo's
# report is there, well-formed and shown by index.html; metrics.json is the --json table; the
# step logs of SFT, LCDD and the four eraser runs parse. Usage: cli_report_demo.sh path/to/clcdd
set -u
clcdd=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
"$clcdd" demo --quick --eval 8 --pool 32 --json --report "$t/r" >"$t/out.json" 2>"$t/err" \
  || { echo "FAIL demo --report exit $?: $(tail -5 "$t/err")"; exit 1; }
for plot in behaviour.svg kl.svg sft_loss.svg lcdd_loss.svg lcdd_dual.svg carrier_density.svg \
            eraser_loss.svg eraser_terms.svg; do
  [ -s "$t/r/$plot" ] || { die "$plot missing"; continue; }
  if command -v xmllint >/dev/null; then
    out=$(xmllint --noout "$t/r/$plot" 2>&1) || die "$plot is not well-formed: $out"
  else
    python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$t/r/$plot" || die "$plot is not well-formed"
  fi
  grep -q "<img src=\"$plot\"" "$t/r/index.html" || die "index.html does not show $plot"
done
python3 - "$t/out.json" "$t/r" <<'P' || die "metrics.json or the step logs"
import json, sys, glob, os
out, r = sys.argv[1], sys.argv[2]
a, b = json.load(open(out)), json.load(open(os.path.join(r, "metrics.json")))
assert a == b and len(b["rows"]) == 7, (a, b)
sft = [json.loads(l) for l in open(os.path.join(r, "sft.jsonl"))]
lcdd = [json.loads(l) for l in open(os.path.join(r, "lcdd.jsonl"))]
assert len(sft) == 30 and sft[-1]["step"] == 30, sft[-1]
assert len(lcdd) == 20 and "lambda" in lcdd[0] and lcdd[0]["total"] == 4448, lcdd[0]
er = sorted(glob.glob(os.path.join(r, "eraser-*.jsonl")))
assert len(er) == 4, er
for f in er:
    rows = [json.loads(l) for l in open(f)]
    assert len(rows) == 10 and rows[-1]["step"] == 10, (f, rows)
P
grep -q '<td>LCDD + eraser</td>' "$t/r/index.html" || die "index.html lacks the result table"
# --other-carrier-row: a second LCDD run (seed + 1) and one more row, the eraser on the first LCDD
# model with the second carrier's channels; every other row is unchanged (same seeds, same order)
"$clcdd" demo --quick --eval 8 --pool 32 --json --other-carrier-row >"$t/other.json" 2>"$t/err2" \
  || die "demo --other-carrier-row exit $?: $(tail -5 "$t/err2")"
grep -q '^lcdd-2 ' "$t/err2" || die "no progress of the second LCDD run: $(tail -5 "$t/err2")"
python3 - "$t/out.json" "$t/other.json" <<'P' || die "--other-carrier-row rows"
import json, sys
a, b = (json.load(open(f))["rows"] for f in sys.argv[1:3])
strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}
assert len(b) == 8 and [strip(r) for r in b[:7]] == [strip(r) for r in a], (a, b)
assert b[7]["name"] == "LCDD + eraser (other carrier)" and b[7]["sparsity"] == a[2]["sparsity"], b[7]
P
[ $fail -eq 0 ] && echo "cli_report_demo: ok"
exit $fail
