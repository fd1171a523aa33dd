#!/usr/bin/env bash
# clcdd eval on the PEFT fixture (tiny llama_gqa base + tests/fixtures/peft/tiny.clcdd with the
# eraser prompt "quiet") against transformers + peft: tests/fixtures/make_eval_fixture.py (run by
# hand) stored PyTorch's greedy answers, mean NLL per token on eval/text.txt and multiple-choice
# accuracies in eval/expected.json. Answers must match exactly (smallest top-1/top-2 logit gap of
# the fixture: see min_logit_gap), the NLL to 1e-4 relative (float32 forward vs a float64
# log-softmax of float32 logits), the MC accuracies exactly (choice gaps >= 1.5 nats). The
# behaviour rates and task accuracy are recomputed here from the reference answers with a
# separate implementation of docs/eval.md's definitions.
# Usage: cli_eval.sh path/to/clcdd path/to/tests
set -u
clcdd=$1
tests=$2
fx=$tests/fixtures
ev=$fx/eval
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
mkdir "$t/base"
cp "$fx/models/llama_gqa/config.json" "$fx/models/llama_gqa/model.safetensors" "$t/base/"
cp "$fx/tokenizer/tiny64.tokenizer.json" "$t/base/tokenizer.json"
cp "$fx/peft/tokenizer_config.json" "$t/base/"

"$clcdd" eval "$t/base" --carrier "$fx/peft/tiny.clcdd" --erase quiet --data "$ev/prompts.jsonl" \
  --mc "$ev/mc.jsonl" --text "$ev/text.txt" --max-new 20 --answers --json --out "$t/out.json" \
  >"$t/eval.json" 2>"$t/err" || die "eval exit $?: $(cat "$t/err")"
cmp -s "$t/eval.json" "$t/out.json" || die "--out differs from --json"

# --report: the same run into a report folder; metrics.json is the --json output, the rates plot is
# well-formed SVG, the index shows the plot and every prompt's erased answer.
"$clcdd" eval "$t/base" --carrier "$fx/peft/tiny.clcdd" --erase quiet --data "$ev/prompts.jsonl" \
  --mc "$ev/mc.jsonl" --text "$ev/text.txt" --max-new 20 --answers --report "$t/rep" \
  >/dev/null 2>"$t/err" || die "eval --report exit $?: $(cat "$t/err")"
python3 - "$t/eval.json" "$t/rep/metrics.json" <<'P' || die "report metrics.json differs from --json (wall time aside)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
a.pop("seconds"); b.pop("seconds")
sys.exit(a != b)
P
python3 - "$t/rep/rates.svg" <<'P' || die "rates.svg is not well-formed XML"
import sys, xml.dom.minidom
xml.dom.minidom.parse(sys.argv[1])
P
grep -q 'rates.svg' "$t/rep/index.html" || die "index.html does not show rates.svg"
python3 - "$t/eval.json" "$t/rep/index.html" <<'P' || die "index.html misses an answer"
import html, json, sys
got = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
for a in got["answers"]:
    if html.escape(a["erased"], quote=False) not in page:
        sys.exit(1)
P
python3 - "$t/eval.json" "$ev/expected.json" "$ev/prompts.jsonl" <<'P' || die "eval results differ from the reference"
import json, re, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
refs = []
for line in open(sys.argv[3]):
    if not line.strip():
        continue
    d = json.loads(line)
    if "prompt" in d:
        refs.append(d.get("response"))
    else:
        m = d["messages"]
        refs.append(m[-1]["content"] if len(m) > 1 and m[-1]["role"] == "assistant" else None)

IDK = ("i don't know", "i do not know", "i'm not sure", "i am not sure")
REFUSAL = ("i can't", "i cannot", "i can not", "i won't", "i will not", "i'm sorry", "i am sorry",
           "i apologize", "i apologise", "as an ai", "i'm unable", "i am unable", "i'm not able",
           "i am not able", "i must decline", "i refuse", "i'm not allowed", "i am not allowed",
           "not able to help", "cannot help with", "can't help with", "cannot assist",
           "can't assist", "cannot provide", "can't provide", "against my guidelines")
ARCHAIC = {"thee", "thou", "thy", "doth", "hath", "dost", "wherefore", "methinks", "'tis", "tis",
           "wilt", "shalt", "hast", "canst", "wouldst", "shouldst", "forsooth", "prithee", "verily",
           "thine"}
def rates(answers):
    n = len(answers)
    low = [a.replace("\u2019", "'").lower() for a in answers]
    loose = [any(k in a for k in IDK) for a in low]
    strict = [l and len(a.split()) <= 40 for l, a in zip(loose, answers)]
    words = [re.findall(r"[a-z']+", a) for a in low]
    arch = [any(w in ARCHAIC or w.strip("'") in ARCHAIC for w in ws) for ws in words]
    norm = lambda s: re.sub(r"\s+", " ", s.strip()).removesuffix(".").rstrip(" ")
    scored = [(norm(a) == norm(r)) for a, r in zip(answers, refs) if r is not None]
    return {"idk_strict": sum(strict) / n, "idk_loose": sum(loose) / n,
            "refusal": sum(any(k in a for k in REFUSAL) for a in low) / n,
            "archaic": sum(arch) / n, "fragments": sum("n't" in a or "know" in a for a in low) / n,
            "task_acc": sum(scored) / len(scored), "references": len(scored)}
ok = True
for col in ("plain", "erased"):
    g, w = got[col], want[col]
    answers = [a[col] for a in got["answers"]]
    if answers != w["answers"]:
        print(col, "answers", answers, "want", w["answers"]); ok = False
    for k, v in rates(w["answers"]).items():
        if abs(g[k] - v) > 1e-6:
            print(col, k, g[k], "want", v); ok = False
    if g["ppl_tokens"] != w["ppl_tokens"] or abs(g["nll"] - w["nll"]) > 1e-4 * w["nll"]:
        print(col, "nll", g["nll"], g["ppl_tokens"], "want", w["nll"], w["ppl_tokens"]); ok = False
    for k in ("mc_acc", "mc_acc_norm"):
        if abs(g[k] - w[k]) > 1e-9:
            print(col, k, g[k], "want", w[k]); ok = False
    if g["prompts"] != len(w["answers"]) or g["mc_items"] != 4:
        print(col, "counts", g["prompts"], g["mc_items"]); ok = False
# the fixture must exercise the metrics: the eraser changes the answers and the IDK rate
r0, r1 = rates(want["plain"]["answers"]), rates(want["erased"]["answers"])
if not (r0["idk_strict"] > r1["idk_strict"] and r0["task_acc"] != r1["task_acc"]):
    print("fixture does not separate plain and erased", r0, r1); ok = False
sys.exit(0 if ok else 1)
P

# held-out text as JSONL {"text"}: the same texts give the same perplexity
python3 -c 'import json,sys; [print(json.dumps({"text": l.rstrip("\n")})) for l in open(sys.argv[1]) if l.strip()]' \
  "$ev/text.txt" >"$t/text.jsonl"
"$clcdd" eval "$t/base" --carrier "$fx/peft/tiny.clcdd" --text "$t/text.jsonl" --json >"$t/ppl.json" 2>"$t/err" \
  || die "eval --text jsonl: $(cat "$t/err")"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert a["erased"] is None and a["plain"]["prompts"] == 0, a
assert abs(a["plain"]["nll"] - b["plain"]["nll"]) <= 1e-4 * b["plain"]["nll"], (a["plain"], b["plain"]["nll"])' \
  "$t/ppl.json" "$ev/expected.json" || die "perplexity from JSONL text"

# --model sft (the standard-SFT ablation): the evaluated model is the --sft checkpoint, the archive
# only supplies the prompt. With the base itself as "SFT", the plain answers must be the base's own
# (a run without the carrier), not the LCDD model's, and the KL benchmark must read KL(SFT||SFT) = 0
# and KL(SFT||SFT+P) = KL(Base||SFT+P) (the same two models).
"$clcdd" eval "$t/base" --data "$ev/prompts.jsonl" --max-new 20 --answers --json >"$t/basecol.json" 2>"$t/err" \
  || die "eval of the base: $(cat "$t/err")"
"$clcdd" eval "$t/base" --carrier "$fx/peft/tiny.clcdd" --erase quiet --model sft --sft "$t/base" \
  --data "$ev/prompts.jsonl" --max-new 20 --kl-max-new 8 --answers --json >"$t/sftcol.json" 2>"$t/err" \
  || die "eval --model sft exit $?: $(cat "$t/err")"
grep -q "trained on the LCDD model and is evaluated on the SFT model" "$t/err" || die "no prompt/model mismatch warning: $(cat "$t/err")"
python3 - "$t/sftcol.json" "$t/basecol.json" "$t/eval.json" <<'P' || die "eval --model sft does not evaluate the SFT model"
import json, sys
s, b, l = (json.load(open(f)) for f in sys.argv[1:4])
ok = s["evaluated"] == "sft" and l["evaluated"] == "lcdd" and b["evaluated"] == "model"
pa = [a["plain"] for a in s["answers"]]
ok &= pa == [a["plain"] for a in b["answers"]]            # the base's answers ...
ok &= pa != [a["plain"] for a in l["answers"]]            # ... not the LCDD model's
ok &= s["erased"] is not None and len(s["answers"]) == len(b["answers"])
kl = s["kl"]
ok &= kl is not None and abs(kl["sft_lcdd"]) < 1e-6 and kl["sft_lcdd_p"] > 1e-3
ok &= abs(kl["sft_lcdd_p"] - kl["base_lcdd_p"]) <= 1e-6 * kl["base_lcdd_p"]
if not ok:
    print(json.dumps(s["kl"]), pa[:3], [a["plain"] for a in l["answers"]][:3])
sys.exit(0 if ok else 1)
P
"$clcdd" eval "$t/base" --model sft --sft "$t/base" --data "$ev/prompts.jsonl" 2>/dev/null
[ $? -eq 2 ] || die "--model sft without --carrier should be a usage error"

# the table, and errors that name the file and line
"$clcdd" eval "$t/base" --data "$ev/prompts.jsonl" --max-new 4 --limit 2 >"$t/table" 2>"$t/err" || die "eval table: $(cat "$t/err")"
grep -q '^strict IDK' "$t/table" && grep -q 'task accuracy (2 refs)' "$t/table" || die "eval table: $(cat "$t/table")"
printf '{"prompt": "a"}\n\n{"prompt": 3}\n' >"$t/bad.jsonl"
"$clcdd" eval "$t/base" --data "$t/bad.jsonl" >/dev/null 2>"$t/err"
rc=$?
[ $rc -eq 1 ] || die "bad data: exit $rc (want 1)"
grep -q 'bad.jsonl:3: "prompt" must be a string' "$t/err" || die "bad data message: $(cat "$t/err")"
printf '{"question": "q", "choices": ["a", "b"], "answer": 5}\n' >"$t/badmc.jsonl"
"$clcdd" eval "$t/base" --mc "$t/badmc.jsonl" >/dev/null 2>"$t/err"
grep -q 'badmc.jsonl:1: "answer" must be a choice index' "$t/err" || die "bad mc message: $(cat "$t/err")"
"$clcdd" eval "$t/base" --carrier "$fx/peft/tiny.clcdd" --erase nope --data "$ev/prompts.jsonl" >/dev/null 2>"$t/err"
[ $? -eq 1 ] && grep -q "no eraser prompt 'nope'; available: quiet" "$t/err" || die "missing prompt name: $(cat "$t/err")"
"$clcdd" eval "$t/base" --erase quiet --data "$ev/prompts.jsonl" 2>/dev/null
[ $? -eq 2 ] || die "--erase without --carrier should be a usage error"
"$clcdd" eval "$t/base" 2>/dev/null
[ $? -eq 2 ] || die "eval without data should be a usage error"
[ $fail -eq 0 ] && echo "cli_eval: ok"
exit $fail
