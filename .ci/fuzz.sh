#!/bin/sh
# Build the libFuzzer targets with clang and run each for a fixed time (default 60 s).
#   .ci/fuzz.sh [seconds-per-target] [build-dir]
# Seeds: the committed format fixtures plus the malformed-file corpus the test suites generate.
# A crash leaves the reproducer in $BUILD/fuzz-artifacts/ and makes the script fail.
set -eu
SECONDS_PER_TARGET=${1:-60}
BUILD=${2:-build-fuzz}
JOBS=${JOBS:-2}
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCLCDD_BUILD_FUZZ=ON -DCLCDD_BUILD_TESTS=ON >/dev/null
make -C "$BUILD" -j"$JOBS" fuzz fuzz_tokenizer_json test_safetensors_bad test_gguf_bad test_archive >/dev/null

CORPUS="$BUILD/fuzz-corpus"
ART="$BUILD/fuzz-artifacts"
mkdir -p "$CORPUS/safetensors" "$CORPUS/gguf" "$CORPUS/hf_config" "$CORPUS/tokenizer_json" \
    "$CORPUS/carrier" "$ART"
BAD=$(mktemp -d)
CLCDD_DUMP_BAD_DIR="$BAD" "$BUILD/tests/loaders/test_safetensors_bad" --filter 'safetensors_bad/corpus' >/dev/null 2>&1 || true
CLCDD_DUMP_BAD_DIR="$BAD" "$BUILD/tests/loaders/test_gguf_bad" --filter 'gguf_bad/corpus' >/dev/null 2>&1 || true
# carrier seeds: the valid archives of the round-trip tests and the crafted bad ones (the 3 MiB
# chunking archive is above -max_len and skipped)
CLCDD_DUMP_ARCHIVE_DIR="$BAD" "$BUILD/tests/archive/test_archive" >/dev/null 2>&1 || true
cp "$BAD"/*.safetensors tests/fixtures/formats/*.safetensors tests/fixtures/formats/st_sharded/*.safetensors "$CORPUS/safetensors/" 2>/dev/null || true
cp "$BAD"/*.gguf tests/fixtures/formats/*.gguf "$CORPUS/gguf/" 2>/dev/null || true
find "$BAD" -name "*.carrier" -size -64k -exec cp {} "$CORPUS/carrier/" \; 2>/dev/null || true
cp tests/fixtures/configs/*.json "$CORPUS/hf_config/"
find tests/fixtures/tokenizer -name "*.json" -size -200k -exec cp {} "$CORPUS/tokenizer_json/" \; 2>/dev/null || true
cp tests/fuzz_tokenizer/seeds/* "$CORPUS/tokenizer_json/" 2>/dev/null || true
rm -rf "$BAD"

status=0
for t in safetensors gguf hf_config tokenizer_json carrier; do
    echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
    bin="$BUILD/tests/fuzz/fuzz_$t"
    [ -x "$bin" ] || bin="$BUILD/tests/fuzz_tokenizer/fuzz_$t"
    if ! "$bin" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
        -rss_limit_mb=2048 -artifact_prefix="$ART/$t-" -print_final_stats=1 "$CORPUS/$t" \
        2>"$BUILD/fuzz_$t.log"; then
        echo "fuzz_$t FAILED; see $BUILD/fuzz_$t.log and $ART" >&2
        status=1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/fuzz_$t.log" || true
done
exit $status
