#!/usr/bin/env bash
# clcdd sft / train --devices: two PoCL CPU devices (POCL_DEVICES="pthread pthread") against one
# device with the same global batch (micro-batch 2 x accum 2), on the tiny llama_gqa fixture.
# - the losses of every step agree within 1e-5 relative (float summation order; see
#   tests/multidev/test_multidev.c for the reasoning and the measured differences);
# - the same --split gives byte-identical checkpoints run to run;
# - sft and train runs killed midway and resumed on the same devices end byte-identical to
#   uninterrupted ones;
# - clcdd erase --devices 0,1 stores a soft prompt within 1e-5 (max abs) of the one-device prompt,
#   with every logged loss term within 1e-4 relative (tests/multidev/test_erase_multidev.c has the
#   reasoning and the measured differences), byte-identical run to run for the same split;
# - bad lists and splits are refused with a message; a process started as one of several MPI ranks
#   by a clcdd built without MPI says how to get it.
# Usage: cli_multidev.sh path/to/clcdd path/to/tests HAVE_MPI(ON|OFF)
set -u
clcdd=$1
tests=$2
have_mpi=$3
export POCL_DEVICES="pthread pthread"
t=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
n=$("$clcdd" devices --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))') || n=0
if [ "$n" -lt 2 ]; then
  echo "SKIP: needs two OpenCL devices (PoCL: POCL_DEVICES=\"pthread pthread\"); found $n"
  exit 77
fi
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
opts="--steps 8 --micro-batch 2 --accum 2 --lr 1e-3 --log-every 1"
# close FILE_A FILE_B KEY: the KEY of every metrics line agrees within 1e-5 relative
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

# ---- SFT ----------------------------------------------------------------------------------------
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/one" $opts --metrics "$t/one.jsonl" >/dev/null 2>"$t/err" \
  || die "sft on one device: exit $?: $(cat "$t/err")"
for s in 1,3 1,3 2,2; do
  "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/two-$s" $opts --devices all --split $s \
    --metrics "$t/two-$s.jsonl" --json >"$t/two.json" 2>"$t/err" || die "sft --devices all --split $s: exit $?: $(cat "$t/err")"
  cp "$t/two-$s/model.safetensors" "$t/model-$s-$(ls "$t" | grep -c '^model-')" 
  close "$t/two-$s.jsonl" "$t/one.jsonl" loss || die "sft --split $s vs one device"
done
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["parallel"]; assert p["replicas"] == 2 and p["examples"] == [2, 2] and p["steps"] == 8, p' \
  "$t/two.json" || die "sft --json parallel: $(cat "$t/two.json")"
grep -q "data parallel over 2 devices" "$t/err" && grep -q "ms per step" "$t/err" || die "sft plan on stderr: $(cat "$t/err")"
cmp "$t/model-1,3-0" "$t/model-1,3-1" || die "sft --split 1,3: two runs differ"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/cal" $opts --devices pthread --metrics "$t/cal.jsonl" \
  >/dev/null 2>"$t/err" || die "sft --devices pthread (calibrated): exit $?: $(cat "$t/err")"
grep -q "split by measured speed" "$t/err" || die "calibrated plan: $(cat "$t/err")"
close "$t/cal.jsonl" "$t/one.jsonl" loss || die "sft calibrated split vs one device"

# ---- LCDD ---------------------------------------------------------------------------------------
lopts="--steps 8 --warmup-steps 3 --micro-batch 2 --accum 2 --lr 1e-3 --theta-lr 2 --lambda-init 0.5 --log-every 1"
"$clcdd" train "$t/base" "$t/two-2,2" --data "$t/train.jsonl" --out "$t/one.clcdd" $lopts \
  --metrics "$t/l1.jsonl" >/dev/null 2>"$t/err" || die "train on one device: exit $?: $(cat "$t/err")"
for r in a b; do
  "$clcdd" train "$t/base" "$t/two-2,2" --data "$t/train.jsonl" --out "$t/two-$r.clcdd" $lopts --devices 0,1 \
    --split 3,1 --metrics "$t/l2$r.jsonl" >/dev/null 2>"$t/err" || die "train --devices 0,1: exit $?: $(cat "$t/err")"
done
for k in task_loss lambda active; do close "$t/l2a.jsonl" "$t/l1.jsonl" $k || die "train --devices 0,1 vs one device: $k"; done
cmp "$t/two-a.clcdd" "$t/two-b.clcdd" || die "train --split 3,1: two runs differ"

# ---- erase ----------------------------------------------------------------------------------------
# close_tol A B KEY TOL: as close, with another relative tolerance
close_tol() {
  python3 - "$1" "$2" "$3" "$4" <<'P'
import json, sys
a = [json.loads(l)[sys.argv[3]] for l in open(sys.argv[1])]
b = [json.loads(l)[sys.argv[3]] for l in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
worst = max(abs(x - y) / max(1e-1, abs(y)) for x, y in zip(a, b))
assert worst <= float(sys.argv[4]), "%s differs by %.3g: %s vs %s" % (sys.argv[3], worst, a, b)
P
}
# same_prompt A.clcdd B.clcdd: the stored prompts (exported as safetensors) agree within 1e-5
same_prompt() {
  rm -rf "$t/pa" "$t/pb"
  "$clcdd" export "$1" --out "$t/pa" --prompts-only >/dev/null 2>"$t/xerr" || { echo "export $1: $(cat "$t/xerr")"; return 1; }
  "$clcdd" export "$2" --out "$t/pb" --prompts-only >/dev/null 2>"$t/xerr" || { echo "export $2: $(cat "$t/xerr")"; return 1; }
  python3 - "$t/pa/eraser-default.safetensors" "$t/pb/eraser-default.safetensors" <<'P'
import json, struct, sys
def prompt(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])["prompt"]
    lo, hi = h["data_offsets"]
    return struct.unpack("<%df" % ((hi - lo) // 4), b[8 + n + lo:8 + n + hi])
a, b = prompt(sys.argv[1]), prompt(sys.argv[2])
assert len(a) == len(b) > 0, (len(a), len(b))
worst = max(abs(x - y) for x, y in zip(a, b))
print("    stored prompts: max abs diff %.3g" % worst)
assert worst <= 1e-5, "the stored prompts differ by %.3g" % worst
P
}
eopts="--steps 8 --rows 3 --batch 4 --lr 0.02"
for preset in paper resp; do
  cp "$t/one.clcdd" "$t/e1.clcdd"
  "$clcdd" erase "$t/base" --carrier "$t/e1.clcdd" --data "$t/train.jsonl" --preset $preset $eopts \
    --metrics "$t/e1.jsonl" >/dev/null 2>"$t/err" || die "erase $preset on one device: exit $?: $(cat "$t/err")"
  for s in 1,3 1,3 calibrated; do
    cp "$t/one.clcdd" "$t/e2.clcdd"
    split="--split $s"
    [ $s = calibrated ] && split=
    "$clcdd" erase "$t/base" --carrier "$t/e2.clcdd" --data "$t/train.jsonl" --preset $preset $eopts --devices 0,1 \
      $split --metrics "$t/e2.jsonl" --json >"$t/e2.json" 2>"$t/err" || die "erase $preset --devices 0,1 $split: exit $?: $(cat "$t/err")"
    for k in loss mse kl resp l2 best; do
      close_tol "$t/e2.jsonl" "$t/e1.jsonl" $k 1e-4 || die "erase $preset --devices 0,1 $split vs one device: $k"
    done
    same_prompt "$t/e2.clcdd" "$t/e1.clcdd" || die "erase $preset --devices 0,1 $split vs one device: the prompt"
    cp "$t/e2.clcdd" "$t/e-$preset-$s-$(ls "$t" | grep -c "^e-$preset-$s-")"
  done
  cmp "$t/e-$preset-1,3-0" "$t/e-$preset-1,3-1" || die "erase $preset --split 1,3: two runs differ"
done
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["parallel"]; assert p["replicas"] == 2 and sum(p["examples"]) == 4 and p["steps"] == 8 and p["reduce_bytes"] > 0, p' \
  "$t/e2.json" || die "erase --json parallel: $(cat "$t/e2.json")"
grep -q "data parallel over 2 devices" "$t/err" && grep -q "split by measured speed" "$t/err" && grep -q "ms per step" "$t/err" \
  || die "erase plan on stderr: $(cat "$t/err")"
cp "$t/one.clcdd" "$t/e2.clcdd"
"$clcdd" erase "$t/base" --carrier "$t/e2.clcdd" --data "$t/train.jsonl" $eopts --devices 0,1 --split 2,3 >/dev/null 2>"$t/err"
rc=$?
[ $rc = 1 ] && grep -q "summing to 4" "$t/err" || die "erase --split 2,3: exit $rc: $(cat "$t/err")"
cmp "$t/one.clcdd" "$t/e2.clcdd" || die "a refused erase rewrote the archive"

# ---- resume on two devices ------------------------------------------------------------------------
state_step() {
  python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["step"])' "$1"
}
# kill_resume NAME OUT CMD...: run CMD with --save-every 2, SIGKILL it once its state is past
# step 10, resume it, and compare OUT with the reference run's (OUT.ref).
kill_resume() {
  local name=$1 out=$2
  shift 2
  local state="$out.state.safetensors"
  "$@" --save-every 2 >/dev/null 2>"$t/err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    [ -f "$state" ] && [ "$(state_step "$state")" -gt 10 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! kill -9 "$pid" 2>/dev/null; then
    wait "$pid"
    die "$name: the run ended before it could be killed; raise its step count"
    return
  fi
  wait "$pid" 2>/dev/null
  echo "  $name: killed at saved step $(state_step "$state")"
  "$@" --save-every 2 --resume "$state" >/dev/null 2>"$t/err" || die "$name: resume: exit $?: $(cat "$t/err")"
  grep -q "resumed from" "$t/err" || die "$name: resume note: $(cat "$t/err")"
}
ropts="--steps 150 --micro-batch 2 --accum 2 --lr 1e-3 --log-every 50 --devices all --split 3,1"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/ref" $ropts >/dev/null 2>"$t/err" || die "resume reference: $(cat "$t/err")"
kill_resume sft "$t/run" "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/run" $ropts
cmp "$t/ref/model.safetensors" "$t/run/model.safetensors" || die "sft on two devices: the resumed run differs"
lropts="--steps 150 --warmup-steps 20 --micro-batch 2 --accum 2 --lr 1e-3 --theta-lr 2 --lambda-init 0.5 --log-every 50 --devices all --split 1,3"
"$clcdd" train "$t/base" "$t/two-2,2" --data "$t/train.jsonl" --out "$t/ref.clcdd" $lropts >/dev/null 2>"$t/err" \
  || die "train resume reference: $(cat "$t/err")"
kill_resume train "$t/run.clcdd" "$clcdd" train "$t/base" "$t/two-2,2" --data "$t/train.jsonl" --out "$t/run.clcdd" $lropts
cmp "$t/ref.clcdd" "$t/run.clcdd" || die "train on two devices: the resumed carrier differs"

# ---- refusals -------------------------------------------------------------------------------------
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x" $opts --devices all --split 1,1 >/dev/null 2>"$t/err"
rc=$?
[ $rc = 1 ] && grep -q "summing to 4" "$t/err" || die "--split 1,1: exit $rc: $(cat "$t/err")"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x" $opts --devices nosuchdevice >/dev/null 2>"$t/err"
rc=$?
[ $rc = 3 ] && grep -q "nosuchdevice' matches no device" "$t/err" || die "--devices nosuchdevice: exit $rc: $(cat "$t/err")"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x" $opts --devices 0,0 >/dev/null 2>"$t/err"
rc=$?
[ $rc = 3 ] && grep -q "picked twice" "$t/err" || die "--devices 0,0: exit $rc: $(cat "$t/err")"
if [ "$have_mpi" = OFF ]; then
  OMPI_COMM_WORLD_SIZE=2 "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x" $opts >/dev/null 2>"$t/err"
  rc=$?
  [ $rc = 2 ] && grep -q "built without MPI" "$t/err" && grep -q "CLCDD_MPI=ON" "$t/err" \
    || die "rank without MPI: exit $rc: $(cat "$t/err")"
fi
[ -e "$t/x" ] && die "a refused run wrote output"
[ $fail = 0 ] && echo "cli_multidev: all checks passed"
exit $fail
