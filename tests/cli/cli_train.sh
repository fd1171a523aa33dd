#!/usr/bin/env bash
# clcdd sft -> train -> erase -> generate --erase -> carrier inspect/export on the tiny llama_gqa
# fixture with the 64-token tokenizer (tests/fixtures/make_tiny_tokenizer.py), plus file:line
# errors for bad data.
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
# the KL-to-SFT task loss and the early stop: accepted, reported in the JSON summary; the KL of
# the first step is near 0 (the masks start almost all on, so the LCDD model starts at SFT) while
# the cross-entropy of the run above is not
"$clcdd" train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/ckl.clcdd" --steps 4 --warmup-steps 2 \
  $small --kl-loss --early-stop --metrics "$t/kl_metrics.jsonl" --json >"$t/kl.json" 2>"$t/err" \
  || die "train --kl-loss --early-stop exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["steps_done"] == 4 and d["early_stop"] is None, d' \
  "$t/kl.json" || die "train --kl-loss --json: $(cat "$t/kl.json")"
python3 -c '
import json,sys
kl=[json.loads(l) for l in open(sys.argv[1])]
ce=[json.loads(l) for l in open(sys.argv[2])]
assert abs(kl[0]["task_loss"]) < 0.05 and ce[0]["task_loss"] > 1.0, (kl[0], ce[0])
' "$t/kl_metrics.jsonl" "$t/lcdd_metrics.jsonl" || die "train --kl-loss metrics: $(head -2 "$t/kl_metrics.jsonl")"

"$clcdd" carrier inspect "$t/c.clcdd" --json >"$t/inspect.json" || die "carrier inspect exit $?"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["masks"] == 480 and len(d["density"]) == 2, d' \
  "$t/inspect.json" || die "carrier inspect --json"
# eraser: a few steps store a named prompt; generate uses it; a missing name lists the stored ones
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" --data "$t/train.jsonl" --name quiet --steps 3 --rows 2 \
  --batch 2 --metrics "$t/erase_metrics.jsonl" --json >"$t/erase.json" 2>"$t/err" || die "erase exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"] == "quiet" and d["rows"] == 2 and d["prompts"] == 3, d' \
  "$t/erase.json" || die "erase --json: $(cat "$t/erase.json")"
python3 -c 'import json,sys; [json.loads(l)["loss"] for l in open(sys.argv[1])]' "$t/erase_metrics.jsonl" || die "erase metrics"
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" --data "$t/train.jsonl" --name resp --preset resp --steps 2 \
  --rows 2 --batch 2 --answer-max 4 --model sft --sft "$t/sft" --random-channels --act 0.5 --metrics "$t/resp_metrics.jsonl" \
  >/dev/null 2>"$t/err" || die "erase --preset resp --model sft: $(cat "$t/err")"
# the base answers' progress comes before step 1 and stays out of the step metrics
grep -q '^base answers 0/3 ' "$t/err" && [ "$(grep -n '^base answers' "$t/err" | head -1 | cut -d: -f1)" -lt \
  "$(grep -n '^step 1/2' "$t/err" | cut -d: -f1)" ] || die "no base-answer progress before step 1: $(cat "$t/err")"
python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert [x["step"] for x in r] == [1, 2] and all(x["act"] > 0 for x in r), r' \
  "$t/resp_metrics.jsonl" || die "resp erase metrics: $(cat "$t/resp_metrics.jsonl")"
# the activation match needs channels: with --no-mse it is refused, naming the term
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" --data "$t/train.jsonl" --name x --preset resp --steps 1 \
  --rows 2 --batch 2 --answer-max 4 --no-mse --act 0.5 >/dev/null 2>"$t/err"
[ $? -eq 1 ] && grep -q 'activation match (w_act) needs' "$t/err" || die "--act with --no-mse: $(cat "$t/err")"
# --channels-from: the channel terms on another carrier's write channels. A sparser carrier of the
# same base (40 steps with a fast mask-logit rate) gives the channel set; erasing in c.clcdd with it
# must use exactly the channels that carrier's own eraser uses, fewer than c.clcdd's own.
"$clcdd" train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/sp.clcdd" --steps 40 --warmup-steps 10 \
  --micro-batch 2 --accum 1 --lr 1e-3 --lambda-init 0.2 --theta-lr 1 --json >"$t/sp.json" 2>"$t/err" \
  || die "sparse carrier: $(cat "$t/err")"
ech="--data $t/train.jsonl --steps 2 --rows 2 --batch 2 --json"
"$clcdd" erase "$t/base" --carrier "$t/sp.clcdd" $ech --name own >"$t/own.json" 2>"$t/err" || die "erase sp: $(cat "$t/err")"
cp "$t/c.clcdd" "$t/cf.clcdd"  # c.clcdd's prompt list is checked below
"$clcdd" erase "$t/base" --carrier "$t/cf.clcdd" $ech --name from --channels-from "$t/sp.clcdd" >"$t/from.json" 2>"$t/err" \
  || die "erase --channels-from: $(cat "$t/err")"
python3 -c '
import json,sys
own, frm, c = (json.load(open(f)) for f in sys.argv[1:4])
assert 0 < frm["channels"] == own["channels"] < c["channels"], (own["channels"], frm["channels"], c["channels"])
' "$t/own.json" "$t/from.json" "$t/erase.json" || die "--channels-from channel count: $(cat "$t/sp.json" "$t/own.json" "$t/from.json")"
# refused: a carrier of another base (here the SFT model as base), a file that is no carrier, and
# --channels-from together with --no-mse
"$clcdd" train "$t/sft" "$t/sft" --data "$t/train.jsonl" --out "$t/other.clcdd" --steps 2 --warmup-steps 1 \
  --micro-batch 2 --accum 1 >/dev/null 2>"$t/err" || die "carrier of another base: $(cat "$t/err")"
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" $ech --name x --channels-from "$t/other.clcdd" >/dev/null 2>"$t/err"
[ $? -eq 1 ] && grep -q "other.clcdd was trained on another base model than .*c.clcdd" "$t/err" \
  || die "--channels-from another base: $(cat "$t/err")"
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" $ech --name x --channels-from "$t/train.jsonl" >/dev/null 2>"$t/err"
[ $? -eq 1 ] && grep -q "train.jsonl: not a zstd stream" "$t/err" || die "--channels-from a non-archive: $(cat "$t/err")"
"$clcdd" erase "$t/base" --carrier "$t/c.clcdd" $ech --name x --channels-from "$t/sp.clcdd" --no-mse >/dev/null 2>&1
[ $? -eq 2 ] || die "--channels-from with --no-mse should be a usage error"
"$clcdd" carrier inspect "$t/c.clcdd" --json >"$t/inspect2.json" || die "carrier inspect after erase"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n=[p["name"] for p in d["prompts"]]; assert n == ["quiet", "resp"], n' \
  "$t/inspect2.json" || die "erase prompts in the archive: $(cat "$t/inspect2.json")"
"$clcdd" generate "$t/base" --carrier "$t/c.clcdd" --erase quiet --prompt "two plus two" --max-new 4 \
  >/dev/null 2>"$t/err" || die "generate --erase: $(cat "$t/err")"
"$clcdd" generate "$t/base" --carrier "$t/c.clcdd" --erase nope --prompt "two plus two" --max-new 4 2>"$t/err" >/dev/null
rc=$?
[ $rc -eq 1 ] || die "generate --erase with a missing name: exit $rc (want 1)"
grep -q "no eraser prompt 'nope'.*available: quiet, resp" "$t/err" || die "missing-name message: $(cat "$t/err")"
"$clcdd" erase "$t/base" --data "$t/train.jsonl" 2>/dev/null
[ $? -eq 2 ] || die "erase without --carrier should be a usage error"

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
