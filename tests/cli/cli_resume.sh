#!/usr/bin/env bash
# Crash safety of `clcdd sft` and `clcdd train` (LCDD): a run killed with SIGKILL at a random moment
# and resumed from its --save-every state must end with byte-identical outputs to an uninterrupted
# run (the reference, run without --save-every); a state is refused for another model, data,
# options or command; a failed state write is an error that leaves the last good state intact.
# Fixture: the tiny llama_gqa model with the 64-token tokenizer.
# Usage: cli_resume.sh path/to/clcdd path/to/tests
set -u
clcdd=$1
tests=$2
t=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  chmod -R u+w "$t" 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT
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
state_step() { # the step a state file was saved at
  python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["step"])' "$1"
}

# Start "$@" in the background, wait until it has saved a state (a newer one than $state held
# before), sleep a random 0-0.39 s, SIGKILL it. Fails when the run ended before the kill (then the
# test would prove nothing): on an idle fast machine the tiny model's SFT runs ~3 ms a step, so the
# SFT run has 600 steps, enough to outlast the wait.
kill_midway() {
  local state=$1 log=$2 prev=-1
  shift 2
  [ -f "$state" ] && prev=$(state_step "$state")
  "$@" >/dev/null 2>"$log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    [ -f "$state" ] && [ "$(state_step "$state")" -gt "$prev" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  if ! kill -9 "$pid" 2>/dev/null; then
    wait "$pid"
    die "the run ended (exit $?) before it could be killed; raise its step count: $(cat "$log")"
    return 1
  fi
  wait "$pid" 2>/dev/null
  echo "  killed at saved step $(state_step "$state")"
}

# ---- SFT ----------------------------------------------------------------------------------------
sft_opts="--steps 600 --micro-batch 2 --accum 1 --lr 1e-3 --log-every 50"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/ref" $sft_opts 2>"$t/err" >/dev/null \
  || die "sft reference run: exit $?: $(cat "$t/err")"
run_sft=("$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/run" $sft_opts --save-every 2)
state="$t/run.state.safetensors"
echo "sft: kill -9, resume, kill -9 again, resume to the end"
kill_midway "$state" "$t/err" "${run_sft[@]}"
[ -f "$t/run/model.safetensors" ] && die "the killed run wrote its final model"
kill_midway "$state" "$t/err" "${run_sft[@]}" --resume "$state"
"${run_sft[@]}" --resume "$state" >"$t/out" 2>"$t/err" || die "sft resume: exit $?: $(cat "$t/err")"
grep -q "resumed from .*run.state.safetensors at step [1-9][0-9]* of 600" "$t/err" || die "resume note: $(cat "$t/err")"
cmp "$t/ref/model.safetensors" "$t/run/model.safetensors" || die "sft: resumed weights differ from the uninterrupted run"
cmp "$t/ref/config.json" "$t/run/config.json" || die "sft: config.json differs"
[ "$(state_step "$state")" = 600 ] || die "sft: the last state should be at step 600 (every 2 steps)"

# A finished state resumes to the same model without training.
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/again" $sft_opts --resume "$state" >/dev/null 2>"$t/err" \
  || die "resume of a finished state: $(cat "$t/err")"
cmp "$t/ref/model.safetensors" "$t/again/model.safetensors" || die "resume of a finished state: weights differ"

# ---- refusals: another model, data, option or command; not a state; a missing file ------------
refuse() { # refuse "what" "expected message regex" command...
  local what=$1 re=$2
  shift 2
  "$@" >/dev/null 2>"$t/err"
  local rc=$?
  [ $rc -eq 1 ] || die "$what: exit $rc (want 1): $(cat "$t/err")"
  grep -q -- "$re" "$t/err" || die "$what: message: $(cat "$t/err")"
}
sft_base=("$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x")
refuse "other --lr" "run.state.safetensors was saved from another option value: --lr (0.00100000005 there, 0.00200000009 in this run)" \
  "${sft_base[@]}" ${sft_opts/--lr 1e-3/--lr 2e-3} --resume "$state"
refuse "other --steps" "another option value: --steps (600 there, 100 in this run).*start over without --resume" \
  "${sft_base[@]}" ${sft_opts/--steps 600/--steps 100} --resume "$state"
head -4 "$t/train.jsonl" >"$t/fewer.jsonl"
refuse "other data" "saved from another training set" \
  "$clcdd" sft "$t/base" --data "$t/fewer.jsonl" --out "$t/x" $sft_opts --resume "$state"
cp "$t/base/tokenizer.json" "$t/ref/"
refuse "other base" "saved from another BASE model" \
  "$clcdd" sft "$t/ref" --data "$t/train.jsonl" --out "$t/x" $sft_opts --resume "$state"
refuse "not a state" "is not a clcdd training state" "${sft_base[@]}" $sft_opts --resume "$t/ref/model.safetensors"
refuse "missing state" "reading the training state given to --resume.*nope.safetensors" \
  "${sft_base[@]}" $sft_opts --resume "$t/nope.safetensors"
[ -e "$t/x" ] && die "a refused resume wrote an output"

# ---- LCDD ---------------------------------------------------------------------------------------
lcdd_opts="--steps 450 --warmup-steps 20 --micro-batch 2 --accum 1 --lr 1e-3 --lambda-init 0.2 --theta-lr 1 --log-every 50"
"$clcdd" train "$t/base" "$t/ref" --data "$t/train.jsonl" --out "$t/ref.clcdd" $lcdd_opts --json >"$t/ref.json" 2>"$t/err" \
  || die "train reference run: exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert 0 < d["active"] < d["total"], d' "$t/ref.json" \
  || die "the LCDD reference should end with some channels off and some on: $(cat "$t/ref.json")"
run_lcdd=("$clcdd" train "$t/base" "$t/ref" --data "$t/train.jsonl" --out "$t/run.clcdd" $lcdd_opts --save-every 3)
lstate="$t/run.clcdd.state.safetensors"
echo "train: kill -9, resume to the end"
kill_midway "$lstate" "$t/err" "${run_lcdd[@]}"
[ -f "$t/run.clcdd" ] && die "the killed LCDD run wrote its archive"
"${run_lcdd[@]}" --resume "$lstate" --json >"$t/run.json" 2>"$t/err" || die "train resume: exit $?: $(cat "$t/err")"
# the archive holds theta, the hard masks, the weight deltas, the norms and the final dual state
cmp "$t/ref.clcdd" "$t/run.clcdd" || die "train: the resumed carrier archive differs from the uninterrupted run"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); k=["active","lambda","ema","budget","task_loss"]; assert [a[x] for x in k] == [b[x] for x in k], (a, b)' \
  "$t/ref.json" "$t/run.json" || die "train: summaries differ"
refuse "sft state to train" 'is the state of a `clcdd sft` run, not of `clcdd train`' \
  "$clcdd" train "$t/base" "$t/ref" --data "$t/train.jsonl" --out "$t/x.clcdd" $lcdd_opts --resume "$state"
refuse "other --rho" "another option value: --rho" \
  "$clcdd" train "$t/base" "$t/ref" --data "$t/train.jsonl" --out "$t/x.clcdd" $lcdd_opts --rho 0.5 --resume "$lstate"
refuse "other SFT model" "another SFT model" \
  "$clcdd" train "$t/base" "$t/base" --data "$t/train.jsonl" --out "$t/x.clcdd" $lcdd_opts --resume "$lstate"

# ---- a failed state write is an error and keeps the last good state ----------------------------
# Disk full, injected with a file-size limit below the state's size (SIGXFSZ ignored, so write()
# fails with EFBIG as on a full disk). The state of step 450, resumed, is saved again at step 475.
mkdir "$t/w"
"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/w/m" $sft_opts --save-every 450 >/dev/null 2>"$t/err" \
  || die "sft for the write test: $(cat "$t/err")"
cp "$t/w/m.state.safetensors" "$t/good.state"
size_kb=$(( $(stat -c %s "$t/good.state") / 1024 ))
rm -rf "$t/w/m"
( trap '' XFSZ; ulimit -f $((size_kb / 2)); exec "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/w/m" \
    $sft_opts --save-every 25 --resume "$t/w/m.state.safetensors" ) >/dev/null 2>"$t/err"
rc=$?
[ $rc -eq 1 ] || die "state write past the file-size limit: exit $rc (want 1): $(cat "$t/err")"
grep -q "saving the training state .*m.state.safetensors (the state saved before, if any, is left as it was.*write failed" "$t/err" \
  || die "write-failure message: $(cat "$t/err")"
cmp "$t/good.state" "$t/w/m.state.safetensors" || die "a failed write changed the last good state"
ls "$t/w" | grep -q tmp && die "a failed write left a temporary file: $(ls "$t/w")"
[ -e "$t/w/m/model.safetensors" ] && die "a failed state write still produced a final model"
# A read-only directory. Root ignores permissions, so this part only runs as another user.
if [ "$(id -u)" -ne 0 ]; then
  chmod a-w "$t/w"
  "$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/m2" $sft_opts --save-every 25 \
    --state "$t/w/m.state.safetensors" --resume "$t/w/m.state.safetensors" >/dev/null 2>"$t/err"
  rc=$?
  chmod u+w "$t/w"
  [ $rc -eq 1 ] || die "state write into a read-only directory: exit $rc (want 1)"
  grep -q "saving the training state .*cannot create temporary file" "$t/err" || die "read-only message: $(cat "$t/err")"
  cmp "$t/good.state" "$t/w/m.state.safetensors" || die "a failed write changed the last good state"
else
  echo "  skipped the read-only-directory case: running as root, which ignores permissions"
fi

"$clcdd" sft "$t/base" --data "$t/train.jsonl" --out "$t/x" --state "$t/s" 2>/dev/null
[ $? -eq 2 ] || die "--state without --save-every should be a usage error"
"$clcdd" sft --help | grep -q -- "--resume FILE" || die "sft --help lacks --resume"
"$clcdd" train --help | grep -q -- "--save-every N" || die "train --help lacks --save-every"
[ $fail -eq 0 ] && echo "cli_resume: ok"
exit $fail
