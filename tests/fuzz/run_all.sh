#!/bin/sh
# Runs every fuzz target for SECONDS each (default 60) with its seeds, one after the
# other, and fails when any of them finds a crash, a leak, a timeout or an out-of-memory.
# Usage: run_all.sh [SECONDS] [BUILD_DIR] [WORKDIR]
#   BUILD_DIR: a clang build made with -DKILN_FUZZ=ON (default build-fuzz, made here when
#   missing); WORKDIR (default /tmp/kiln-fuzz-all) gets each target's corpus, artifacts
#   and log, never the repository.
set -eu
seconds=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
work=${3:-/tmp/kiln-fuzz-all}
targets="parse_expand_fuzzer root_dir_fuzzer oci_json_fuzzer registry_text_fuzzer layer_apply_fuzzer"

if [ ! -f "$build/build.ninja" ]; then
    CXX=clang++ CC=clang cmake -S "$src" -B "$build" -G Ninja -DKILN_FUZZ=ON >/dev/null
fi
# shellcheck disable=SC2086
ninja -C "$build" $targets

failed=""
for t in $targets; do
    mkdir -p "$work/$t"
    echo "== $t: ${seconds}s"
    if ! "$src/tests/fuzz/run_fuzzer.sh" "$build/tests/fuzz/$t" "$seconds" "$work/$t" \
        >"$work/$t/log" 2>&1; then
        failed="$failed $t"
    fi
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)|==ERROR|SUMMARY' \
        "$work/$t/log" | tail -n 4 || true
done
if [ -n "$failed" ]; then
    echo "findings in:$failed (artifacts under $work/<target>/artifacts)"
    exit 1
fi
echo "no findings"
