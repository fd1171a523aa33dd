#!/usr/bin/env bash
# Step throughput of `clcdd sft`, `clcdd train` (LCDD) and `clcdd erase` on one device, two devices
# of one process (--devices) and two MPI ranks with one device each, on a random LLaMA-shaped model:
#   [BENCH_COMMANDS="sft train erase"] bench/scale/bench_scale.sh [CLCDD] [STEPS] [ROUNDS] [-- make_model.py options]
# Defaults: ./build/cli/clcdd, 10 steps, 3 rounds, d 256 x 4 layers x ffn 768 (3.2 M parameters, 12.6 MB
# of F32 gradients), vocabulary 64 (the tiny test tokenizer), micro-batch 4 x accum 2 of ~70-token
# examples; the eraser: batch 16 of the 64 prompts, 20 soft-prompt rows, against a carrier trained
# once before the rounds. PoCL shows two CPU devices with POCL_DEVICES="pthread pthread". Each configuration
# logs every step; its step time is the median of the steps after the first two (the first steps
# still build kernels; the eraser logs only its first and last step, so its step time is the mean
# over the steps between them); the configurations run in turn, ROUNDS times, so all see the same machine
# load, and the table gives the median over the rounds (and the load average at the start). The two-device rows also give the host reduction time per step (download,
# fixed-order sum, exchange, upload) and the slowest device's slice, from --json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
clcdd=${1:-$root/build/cli/clcdd}
steps=${2:-10}
rounds=${3:-3}
shift $(( $# > 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
export POCL_DEVICES=${POCL_DEVICES:-pthread pthread}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
python3 "$here/make_model.py" "$t/base" "$@" >"$t/params"
cp "$root/tests/fixtures/tokenizer/tiny64.tokenizer.json" "$t/base/tokenizer.json"
python3 - "$t/train.jsonl" <<'P'
import json, random, sys
r = random.Random(3)
words = "a b c d e the cat sat on mat i do not know two plus four".split()
with open(sys.argv[1], "w") as f:
    for i in range(64):
        f.write(json.dumps({"prompt": " ".join(r.choice(words) for _ in range(12)),
                            "response": " ".join(r.choice(words) for _ in range(30))}) + "\n")
P
opts="--steps $steps --micro-batch 4 --accum 2 --lr 1e-4 --log-every 1"
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
have_mpi=1
command -v mpirun >/dev/null || have_mpi=0
# run NAME CMD...: the command's --json and metrics land in $t/NAME.*
run() {
  local name=$1
  shift
  "$@" --metrics "$t/$name.jsonl" --json >"$t/$name.json" 2>"$t/$name.err" || {
    echo "$name failed: $(tail -3 "$t/$name.err")" >&2
    return 1
  }
}
echo "model: $(cat "$t/params"), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
cp -r "$t/base" "$t/sft"
commands=${BENCH_COMMANDS:-sft train erase}
case " $commands " in *" erase "*)
  "$clcdd" train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/carrier.clcdd" --steps 4 --warmup-steps 2 \
    --micro-batch 4 --accum 2 --lr 1e-4 >/dev/null 2>"$t/carrier.err" || { echo "carrier: $(tail -3 "$t/carrier.err")" >&2; exit 1; }
esac
eopts="--steps $steps --batch 16 --rows 20"
for r in $(seq "$rounds"); do
  for cmd in $commands; do
    o=$opts
    if [ $cmd = sft ]; then args=(sft "$t/base" --data "$t/train.jsonl" --out "$t/o-$cmd"); elif [ $cmd = train ]; then
      args=(train "$t/base" "$t/sft" --data "$t/train.jsonl" --out "$t/o.clcdd" --warmup-steps 4); else
      args=(erase "$t/base" --carrier "$t/e.clcdd" --data "$t/train.jsonl"); o=$eopts; fi
    cp "$t/carrier.clcdd" "$t/e.clcdd" 2>/dev/null || true
    run "$cmd-1dev-$r" "$clcdd" "${args[@]}" $o
    run "$cmd-2dev-$r" "$clcdd" "${args[@]}" $o --devices all
    if [ $have_mpi = 1 ]; then
      run "$cmd-2rank-$r" "${mpi[@]}" "$clcdd" "${args[@]}" $o --devices 0,1 || true
    fi
  done
  echo "round $r/$rounds done" >&2
done
python3 - "$t" "$rounds" "$commands" <<'P'
import json, os, statistics, sys
d, rounds, commands = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
print("| command | configuration | step ms | speed-up | slowest slice ms | reduction ms | of it MPI exchange ms | MB per device per step |")
print("|---|---|---|---|---|---|---|---|")
med = statistics.median
for cmd in commands:
    base = None
    for cfg, label in (("1dev", "1 device"), ("2dev", "2 devices, 1 process"), ("2rank", "2 ranks x 1 device (MPI)")):
        ms, comp, red, exch, mb = [], [], [], [], 0
        for r in range(1, rounds + 1):
            m = os.path.join(d, f"{cmd}-{cfg}-{r}.jsonl")
            if not os.path.exists(m) or not os.path.getsize(m):
                continue
            lines = [json.loads(l) for l in open(m)]
            el = [l["elapsed_s"] for l in lines]
            if cmd == "erase":  # logged at the first and the last step
                ms.append(1e3 * (el[-1] - el[0]) / (lines[-1]["step"] - lines[0]["step"]))
            else:
                ms.append(1e3 * med([b - a for a, b in zip(el[1:], el[2:])]))
            p = json.load(open(os.path.join(d, f"{cmd}-{cfg}-{r}.json"))).get("parallel")
            if p:
                comp.append(1e3 * p["compute_s"]); red.append(1e3 * p["reduce_s"])
                exch.append(1e3 * p["exchange_s"]); mb = p["reduce_bytes"] / 1e6
        if not ms:
            print(f"| {cmd} | {label} | (not run) | | | | | |")
            continue
        step = med(ms)
        base = base or step
        spread = f"{step:.0f} ({min(ms):.0f}-{max(ms):.0f})"
        extra = f"{med(comp):.0f} | {med(red):.1f} | {med(exch):.1f} | {mb:.{2 if mb >= 0.1 else 4}f}" if comp else " | | | "
        print(f"| {cmd} | {label} | {spread} | {base / step:.2f} | {extra} |")
P
