#!/usr/bin/env bash
# clcdd export: the LCDD checkpoint, eraser-NAME.safetensors and the PEFT prompt-tuning adapter,
# checked against transformers + peft. tests/fixtures/make_peft_roundtrip.py (run by hand) loaded
# the exported checkpoint and adapter with PeftModel.from_pretrained and stored PyTorch's greedy
# ids in tests/fixtures/peft/expected.json; here clcdd's own greedy generation with the archive's
# prompt (generate --carrier --erase, the prompt prepended before the chat-formatted ids) and the
# exported checkpoint without it must give exactly those ids. The fixture's smallest top-1/top-2
# logit gap is 0.018, far above float32 forward differences (~1e-5), so exact ids are fair.
# Usage: cli_peft.sh path/to/clcdd path/to/tests
set -u
clcdd=$1
tests=$2
fx=$tests/fixtures/peft
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
die() { echo "FAIL $*"; fail=1; }
mkdir "$t/base"
cp "$tests/fixtures/models/llama_gqa/config.json" "$tests/fixtures/models/llama_gqa/model.safetensors" "$t/base/"
cp "$tests/fixtures/tokenizer/tiny64.tokenizer.json" "$t/base/tokenizer.json"
cp "$fx/tokenizer_config.json" "$t/base/"

out=$("$clcdd" export "$fx/tiny.clcdd" --base "$t/base" --out "$t/exp" --json 2>"$t/err") || die "export exit $?: $(cat "$t/err")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["model"] is True and d["prompts"] == 1, d' "$out" \
  || die "export --json: $out"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json eraser-quiet.safetensors \
         peft-quiet/adapter_config.json peft-quiet/adapter_model.safetensors; do
  [ -f "$t/exp/$f" ] || die "export did not write $f"
done
# the files' contents: safetensors read with the standard library (header JSON + raw F32)
python3 - "$t/exp" <<'P' || die "exported prompt files"
import json, struct, sys
d = sys.argv[1]
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return h, b[8 + n:]
h1, b1 = read(d + "/eraser-quiet.safetensors")
h2, b2 = read(d + "/peft-quiet/adapter_model.safetensors")
m = h1["__metadata__"]
assert m["name"] == "quiet" and m["placement"].startswith("prepend"), m
assert json.loads(m["settings"])["rows"] == 4, m["settings"]
t1, t2 = h1["prompt"], h2["prompt_embeddings"]
assert t1["dtype"] == "F32" and t1["shape"] == [4, 32], t1
assert t2["dtype"] == "F32" and t2["shape"] == [4, 32], t2
assert b1[t1["data_offsets"][0]:t1["data_offsets"][1]] == b2[t2["data_offsets"][0]:t2["data_offsets"][1]]
c = json.load(open(d + "/peft-quiet/adapter_config.json"))
want = {"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 4,
        "token_dim": 32, "num_transformer_submodules": 1, "num_layers": 2, "num_attention_heads": 4}
for k, v in want.items():
    assert c[k] == v, (k, c[k], v)
assert c["base_model_name_or_path"], c
P

# greedy ids against PyTorch + PEFT
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cases"]))' "$fx/expected.json")
[ "$n" -ge 3 ] || die "expected.json has $n cases"
max_new=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_new"])' "$fx/expected.json")
for ((i = 0; i < n; i++)); do
  p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cases"][int(sys.argv[2])]["prompt"])' "$fx/expected.json" $i)
  check() {  # $1: which ids ("plain"/"erased"), $2: label, rest: clcdd generate arguments
    local key=$1 label=$2
    shift 2
    "$clcdd" generate "$@" --chat --prompt "$p" --max-new "$max_new" --json >"$t/gen.json" 2>"$t/err" \
      || { die "$label '$p': exit $?: $(cat "$t/err")"; return; }
    python3 - "$fx/expected.json" "$i" "$key" "$t/gen.json" <<'P' || die "$label '$p': ids differ from PyTorch"
import json, sys
case = json.load(open(sys.argv[1]))["cases"][int(sys.argv[2])]
got = json.load(open(sys.argv[4]))
ok = got["prompt_ids"] == case["prompt_ids"] and got["ids"] == case[sys.argv[3]]
if not ok:
    print("prompt ids", got["prompt_ids"], "want", case["prompt_ids"])
    print("ids", got["ids"], "want", case[sys.argv[3]])
sys.exit(0 if ok else 1)
P
  }
  check erased "generate --carrier --erase" "$t/base" --carrier "$fx/tiny.clcdd" --erase quiet
  check plain "generate --carrier" "$t/base" --carrier "$fx/tiny.clcdd"
  check plain "generate on the exported checkpoint" "$t/exp"
done

# --prompts-only (no base), the carrier alias, and a missing name
"$clcdd" export "$fx/tiny.clcdd" --prompts-only --out "$t/p" >/dev/null 2>"$t/err" || die "--prompts-only: $(cat "$t/err")"
[ -f "$t/p/eraser-quiet.safetensors" ] && [ ! -f "$t/p/model.safetensors" ] || die "--prompts-only wrote the wrong files"
cmp -s "$t/p/eraser-quiet.safetensors" "$t/exp/eraser-quiet.safetensors" || die "--prompts-only prompt differs"
"$clcdd" carrier export "$fx/tiny.clcdd" --base "$t/base" --out "$t/alias" --erase quiet >/dev/null 2>"$t/err" \
  || die "carrier export: $(cat "$t/err")"
cmp -s "$t/alias/model.safetensors" "$t/exp/model.safetensors" || die "carrier export and export differ"
[ -f "$t/alias/peft-quiet/adapter_config.json" ] || die "carrier export wrote no adapter"
"$clcdd" export "$fx/tiny.clcdd" --prompts-only --out "$t/q" --erase nope >/dev/null 2>"$t/err"
rc=$?
[ $rc -eq 1 ] || die "export --erase with a missing name: exit $rc (want 1)"
grep -q "no eraser prompt 'nope'; available: quiet" "$t/err" || die "missing-name message: $(cat "$t/err")"
"$clcdd" export "$fx/tiny.clcdd" --out "$t/q" 2>/dev/null
[ $? -eq 2 ] || die "export without --base should be a usage error"
[ $fail -eq 0 ] && echo "cli_peft: ok"
exit $fail
