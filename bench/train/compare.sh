#!/usr/bin/env bash
# clcdd and PyTorch on the same SmolLM2-135M-shaped training step, in turn, several rounds:
#   bench/train/compare.sh [BENCH_TRAIN_BINARY] [SIZES] [ROUNDS]
# Defaults: ./build/bench/train/bench_train, 1x256,2x256,4x256, 3 rounds. PYTHON selects the
# interpreter with torch + transformers (default python3). Each round runs clcdd then PyTorch on
# every size, so both see the same machine load; the table gives each side's median tokens/s over
# the rounds and their ratio, and clcdd's peak device memory per size with the linear fit.
set -euo pipefail
bin=${1:-./build/bench/train/bench_train}
sizes=${2:-1x256,2x256,4x256}
rounds=${3:-3}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  POCL_AFFINITY=1 "$bin" --sizes "$sizes" --json > "$tmp/clcdd.$r.json"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=passive \
    "$py" "$here/peer_torch.py" --sizes "$sizes" --json > "$tmp/torch.$r.json"
  echo "round $r/$rounds done" >&2
done
"$py" - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
c = [json.load(open(f"{d}/clcdd.{r}.json")) for r in range(1, n + 1)]
t = [json.load(open(f"{d}/torch.{r}.json")) for r in range(1, n + 1)]
print(f"PyTorch {t[0]['torch']} ({t[0]['threads']} threads) vs clcdd, median of {n} interleaved rounds")
print("| B x T | clcdd tokens/s | PyTorch tokens/s | clcdd / PyTorch | clcdd peak MiB | peak - line fit |")
print("|---|---|---|---|---|---|")
for i, row in enumerate(c[0]["rows"]):
    ct = statistics.median(x["rows"][i]["tokens_per_s"] for x in c)
    tt = statistics.median(x["rows"][i]["tokens_per_s"] for x in t)
    print(f"| {row['batch']}x{row['seq']} | {ct:.1f} | {tt:.1f} | {ct / tt:.2f} | "
          f"{row['peak_mib']:.1f} | {row['fit_dev_pct']:+.2f}% |")
print(f"clcdd peak = {c[0]['fixed_mib']:.1f} MiB + {c[0]['kib_per_token']:.1f} KiB x (B x T)")
PY
