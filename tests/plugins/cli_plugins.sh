#!/usr/bin/env bash
# `clcdd plugins`: lists the plugins on CLCDD_PLUGIN_PATH and the refused files with reasons;
# --json parses; --help and a bad argument give exit codes 0 and 2.
# Usage: cli_plugins.sh DRIVER PLUGIN_DIR BAD_DIR
set -u
drv=$1 good=$2 bad=$3
fail=0
expect() { # expect NAME WANT_RC PATTERN -- cmd...
  local name=$1 want=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), no /$pat/ in:"; echo "$out" | head -30; fail=1
  fi
}
expect help 0 'usage: clcdd plugins' -- "$drv" plugins --help
expect bad-arg 2 "unknown argument '--frob'" -- "$drv" plugins --frob
export CLCDD_PLUGIN_PATH="$good/llama:$good/mistral:$good/qwen:$bad"
expect table 0 'qwen .*ABI 1\.0' -- "$drv" plugins
expect table-arch 0 'architectures: Qwen2ForCausalLM, Qwen3ForCausalLM' -- "$drv" plugins
expect table-rejected 0 'libclcdd-badmajor.so' -- "$drv" plugins
expect table-reason 0 'struct_size 16 is smaller' -- "$drv" plugins
out=$("$drv" plugins --json) || { echo "FAIL json: exit $?"; fail=1; }
python3 - "$out" <<'PY' || fail=1
import json, sys
d = json.loads(sys.argv[1])
names = sorted(p["name"] for p in d["plugins"])
assert names == ["future", "llama", "mistral", "qwen"], names
rej = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in d["rejected"]}
for f in ["libclcdd-badmajor.so", "libclcdd-smallstruct.so", "libclcdd-nosymbol.so",
          "libclcdd-noprobe.so", "libclcdd-garbage.so"]:
    assert f in rej and rej[f], (f, rej)
assert "MistralForCausalLM" in [a for p in d["plugins"] for a in p["architectures"]]
PY
exit $fail
