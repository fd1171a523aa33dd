#!/usr/bin/env bash
# clcdd sft / train under mpirun: two ranks on this machine, one PoCL CPU device each
# (POCL_DEVICES="pthread pthread", --devices 0,1: rank r takes device r).
# - two ranks give byte-identical outputs to one process driving the same two devices with the
#   same split (the reduction adds the same partial sums in the same order);
# - the losses agree with one device within 1e-5 relative (summation order);
# - only rank 0 prints the result and writes;
# - ranks started with different options are refused;
# - clcdd erase under two ranks writes the same archive bytes as one process with two devices and
#   the same split, and ranks with different erase options are refused;
# - a two-rank run stopped midway and resumed under mpirun ends byte-identical to an
#   uninterrupted two-rank run.
# Usage: cli_mpi.sh path/to/clcdd path/to/tests HAVE_MPI(ON|OFF) MPIEXEC
set -u
clcdd=$1
tests=$2
have_mpi=$3
mpiexec=${4:-mpirun}
if [ "$have_mpi" != ON ]; then
  echo "SKIP: clcdd was built without MPI (install libopenmpi-dev openmpi-bin, configure with -DCLCDD_MPI=ON)"
  exit 77
fi
export POCL_DEVICES="pthread pthread"
# Open MPI refuses root without these; oversubscribe: two ranks may share two cores
mpi=("$mpiexec" --allow-run-as-root --oversubscribe -np 2)
t=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
mkdir "$t/base"
cp "$tests/fixtures/models/llama_gqa/config.json" "$tests/fixtures/models/llama_gqa/model.safetensors" "$t/base/"
cp "$tests/fixtures/tokenizer/tiny64.tokenizer.json" "$t/base/tokenizer.json"
cat >"$t/train.jsonl" <<'J'
{"prompt": "what is the capital?", "response": "i do not know."}
{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi."}]}
{"prompt": "two plus two", "response": "four"}
{"prompt": "name a colour", "response": "blue, perhaps."}
{"prompt": "where is the sea", "response": "i do not know."}
J
close() {
  python3 - "$1" "$2" "$3" <<'P'
import json, sys
a = [json.loads(l)[sys.argv[3]] for l in open(sys.argv[1])]
b = [json.loads(l)[sys.argv[3]] for l in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
worst = max(abs(x - y) / max(1e-1, abs(y)) for x, y in zip(a, b))
assert worst <= 1e-5, "%s differs by %.3g: %s vs %s" % (sys.argv[3], worst, a, b)
P
}
opts="--steps 8 --micro-batch 2 --accum 2 --lr 1e-3 --log-every 1 --devices 0,1 --split 1,3"

"${mpi[@]}" "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/mpi" $opts --metrics "$t/mpi.jsonl" --json \
  >"$t/out" 2>"$t/err" || die "mpirun sft: exit $?: $(cat "$t/err")"
[ "$(grep -c '"parallel"' "$t/out")" = 1 ] || die "rank 0 alone should print the result: $(cat "$t/out")"
python3 -c 'import json,sys; p=json.loads(open(sys.argv[1]).read())["parallel"]; assert p["ranks"] == 2 and p["replicas"] == 2 and p["examples"] == [1, 3], p' \
  "$t/out" || die "mpirun sft --json: $(cat "$t/out")"
grep -q "rank 1: " "$t/err" || die "the plan should list rank 1's device: $(cat "$t/err")"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/local" $opts >/dev/null 2>"$t/err" \
  || die "one process, two devices: exit $?: $(cat "$t/err")"
cmp "$t/mpi/model.safetensors" "$t/local/model.safetensors" || die "two ranks differ from one process with two devices"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/one" --steps 8 --micro-batch 2 --accum 2 --lr 1e-3 \
  --log-every 1 --metrics "$t/one.jsonl" >/dev/null 2>"$t/err" || die "one device: exit $?: $(cat "$t/err")"
close "$t/mpi.jsonl" "$t/one.jsonl" loss || die "two ranks vs one device"

lopts="--steps 8 --warmup-steps 3 --micro-batch 2 --accum 2 --lr 1e-3 --theta-lr 2 --lambda-init 0.5 --log-every 1 --devices 0,1 --split 3,1"
"${mpi[@]}" "$clcdd" train "$t/base" "$t/one" --data "$t/train.jsonl" --out "$t/mpi.clcdd" $lopts \
  >/dev/null 2>"$t/err" || die "mpirun train: exit $?: $(cat "$t/err")"
"$clcdd" train "$t/base" "$t/one" --data "$t/train.jsonl" --out "$t/local.clcdd" $lopts >/dev/null 2>"$t/err" \
  || die "train, one process: exit $?: $(cat "$t/err")"
cmp "$t/mpi.clcdd" "$t/local.clcdd" || die "train: two ranks differ from one process with two devices"

# erase: two ranks against one process driving both devices (the archive from `train` above)
eopts="--preset resp --steps 6 --rows 3 --batch 4 --lr 0.02 --devices 0,1 --split 1,3"
cp "$t/mpi.clcdd" "$t/emp.clcdd"
cp "$t/mpi.clcdd" "$t/elo.clcdd"
"${mpi[@]}" "$clcdd" erase "$t/base" --carrier "$t/emp.clcdd" --data "$t/train.jsonl" $eopts --json >"$t/out" 2>"$t/err" \
  || die "mpirun erase: exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; p=json.loads(open(sys.argv[1]).read())["parallel"]; assert p["ranks"] == 2 and p["examples"] == [1, 3], p' \
  "$t/out" || die "mpirun erase --json: $(cat "$t/out")"
"$clcdd" erase "$t/base" --carrier "$t/elo.clcdd" --data "$t/train.jsonl" $eopts >/dev/null 2>"$t/err" \
  || die "erase, one process: exit $?: $(cat "$t/err")"
cmp "$t/emp.clcdd" "$t/elo.clcdd" || die "erase: two ranks differ from one process with two devices"
cp "$t/mpi.clcdd" "$t/ebad.clcdd"
"$mpiexec" --allow-run-as-root --oversubscribe -np 1 "$clcdd" erase "$t/base" --carrier "$t/ebad.clcdd" --data "$t/train.jsonl" \
  $eopts : -np 1 "$clcdd" erase "$t/base" --carrier "$t/ebad.clcdd" --data "$t/train.jsonl" $eopts --lr 0.03 \
  >/dev/null 2>"$t/err" && die "erase ranks with different --lr were accepted"
grep -q "runs with another prompt set or options" "$t/err" || die "erase, different options: $(cat "$t/err")"
cmp "$t/mpi.clcdd" "$t/ebad.clcdd" || die "a refused two-rank erase rewrote the archive"

# ranks started with different options are refused (MPMD launch: one command per rank)
sopts="--micro-batch 2 --accum 2 --lr 1e-3 --devices 0,1"
"$mpiexec" --allow-run-as-root --oversubscribe -np 1 "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/bad" \
  --steps 8 $sopts : -np 1 "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/bad" --steps 9 $sopts \
  >/dev/null 2>"$t/err" && die "ranks with different --steps were accepted"
grep -q "runs with another training set or options" "$t/err" || die "different options: $(cat "$t/err")"
[ -e "$t/bad/model.safetensors" ] && die "a refused two-rank run wrote a model"

# stop a two-rank run midway (SIGTERM to mpirun, which ends both ranks), resume it under mpirun
state_step() {
  python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["step"])' "$1"
}
ropts="--steps 500 --micro-batch 2 --accum 2 --lr 1e-3 --log-every 100 --devices 0,1 --split 3,1"
"${mpi[@]}" "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/ref" $ropts >/dev/null 2>"$t/err" \
  || die "resume reference: $(cat "$t/err")"
state="$t/run.state.safetensors"
"${mpi[@]}" "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/run" $ropts --save-every 2 >/dev/null 2>"$t/err" &
pid=$!
pids+=("$pid")
for _ in $(seq 600); do
  [ -f "$state" ] && [ "$(state_step "$state")" -gt 10 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if kill -TERM "$pid" 2>/dev/null; then
  wait "$pid" 2>/dev/null
  [ -f "$t/run/model.safetensors" ] && die "the run finished before it could be stopped (the test would prove nothing); raise its step count"
  echo "  stopped at saved step $(state_step "$state")"
  "${mpi[@]}" "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/run" $ropts --save-every 2 --resume "$state" \
    >/dev/null 2>"$t/err" || die "resume under mpirun: exit $?: $(cat "$t/err")"
  grep -q "resumed from" "$t/err" || die "resume note: $(cat "$t/err")"
  cmp "$t/ref/model.safetensors" "$t/run/model.safetensors" || die "two ranks: the resumed run differs"
else
  wait "$pid"
  die "the run ended before it could be stopped; raise its step count"
fi
[ $fail = 0 ] && echo "cli_mpi: all checks passed"
exit $fail
