#!/usr/bin/env bash
# clcdd sft -> train -> carrier inspect/export on the tiny llama_gqa fixture with the 64-token
# tokenizer (tests/fixtures/make_tiny_tokenizer.py), plus file:line errors for bad data.
# Usage: cli_train.sh path/to/clcdd path/to/tests
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

{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi."}]}
{"prompt": "two plus two", "response": "four"}
J
printf '{"prompt": "a", "response": "b"}\n\n{"prompt": "a", "response": \n' >"$t/bad.jsonl"
small="--micro-batch 2 --accum 1 --lr 1e-3 --log-every 2"

out=$("$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/sft" --steps 4 $small \
      --metrics "$t/sft_metrics.jsonl" --json 2>"$t/err") || die "sft exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["examples"] == 3, d' "$out" || die "sft --json: $out"
[ -f "$t/sft/model.safetensors" ] && [ -f "$t/sft/tokenizer.json" ] || die "sft checkpoint incomplete"
python3 -c 'import json,sys; [json.loads(l)["loss"] for l in open(sys.argv[1])]' "$t/sft_metrics.jsonl" || die "sft metrics"

"$clcdd" train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/c.clcdd" --steps 4 --warmup-steps 2 \
  $small --metrics "$t/lcdd_metrics.jsonl" >"$t/out" 2>"$t/err" || die "train exit $?: $(cat "$t/err")"
grep -q 'sparsity' "$t/out" || die "train summary: $(cat "$t/out")"
python3 -c 'import json,sys; [json.loads(l)["lambda"] for l in open(sys.argv[1])]' "$t/lcdd_metrics.jsonl" || die "train metrics"

"$clcdd" carrier inspect "$t/c.clcdd" --json >"$t/inspect.json" || die "carrier inspect exit $?"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["masks"] == 480 and len(d["density"]) == 2, d' \
  "$t/inspect.json" || die "carrier inspect --json"
"$clcdd" carrier export "$t/c.clcdd" --base "$t/base" --out "$t/lcdd" >/dev/null 2>"$t/err" || die "carrier export: $(cat "$t/err")"
"$clcdd" info "$t/lcdd" >/dev/null 2>"$t/err" || die "info on the exported model: $(cat "$t/err")"

"$clcdd" sft "$t/base" --data "$t/bad.jsonl" --out "$t/x" --steps 1 2>"$t/err"
rc=$?
[ $rc -eq 1 ] || die "bad data: exit $rc (want 1)"
grep -q 'bad.jsonl:3: malformed JSON' "$t/err" || die "bad data message: $(cat "$t/err")"
"$clcdd" sft "$t/base" --out "$t/x" 2>/dev/null
[ $? -eq 2 ] || die "sft without --data should be a usage error"
[ $fail -eq 0 ] && echo "cli_train: ok"
exit $fail
