#!/usr/bin/env bash
# CLI conventions: --help on every command, exit codes, --json that parses, a clear message when
# no OpenCL platform is installed. Usage: cli_basics.sh path/to/clcdd
set -u
clcdd=$1
pass=0
fail=0
check() { # check NAME EXPECTED_EXIT PATTERN -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc (want $want), output:"
    echo "$out" | head -20
  fi
}
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT

check version 0 '^clcdd [0-9]+\.[0-9]+\.[0-9]+' -- "$clcdd" --version
check help 0 'commands:' -- "$clcdd" --help
check no-args 2 'usage' -- "$clcdd"
check unknown-command 2 "'frobnicate' is not a clcdd command" -- "$clcdd" frobnicate
for cmd in devices doctor tokenize inspect plugins sft train chat; do
  check "$cmd-help" 0 "usage: clcdd $cmd" -- "$clcdd" "$cmd" --help
  check "$cmd-bad-flag" 2 'unknown (argument|option)' -- "$clcdd" "$cmd" --no-such-flag
done
for cmd in devices doctor; do
  check "$cmd-no-platform" 3 'no OpenCL platform is installed' -- env OCL_ICD_VENDORS="$empty" "$clcdd" "$cmd"
done
check devices-table 0 'default' -- "$clcdd" devices
check doctor-bad-device 3 'matches no device name' -- "$clcdd" doctor --device no-such-device
check doctor 0 'all checks passed' -- "$clcdd" doctor
if command -v python3 >/dev/null; then
  check devices-json 0 '^ok$' -- sh -c "'$clcdd' devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"devices\"]; print(\"ok\")'"
  check doctor-json 0 '^ok$' -- sh -c "'$clcdd' doctor --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"]; print(\"ok\")'"
fi
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
