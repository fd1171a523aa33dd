#!/usr/bin/env bash
# Out-of-tree plugin round trip: install clcdd into a temporary prefix, build
# tests/example_plugin against it with find_package(clcdd) (headers only), and load it through
# CLCDD_PLUGIN_PATH with the host. Usage: example_plugin.sh BUILD_DIR SOURCE_DIR LOADER CONFIG_DIR
set -eu
build=$1 src=$2 loader=$3 cfg=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/clcdd/plugin.h"
ls "$tmp"/prefix/lib*/clcdd/plugins/libclcdd-llama.so >/dev/null
cmake -S "$src/tests/example_plugin" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$tmp/build" >/dev/null
syms=$(nm -D --defined-only "$tmp/build/libclcdd-example.so" | awk '{print $3}')
[ "$syms" = "clcdd_plugin_entry_v1" ] || { echo "exported symbols: $syms"; exit 1; }
CLCDD_PLUGIN_PATH="$tmp/build" "$loader" "$cfg"
