#!/bin/sh
# Runs every fuzz target for SECONDS each (default 60) with its seeds, and fails when any
# of them finds a crash, a leak, a timeout or an out-of-memory.
# Usage: run_all.sh [SECONDS] [BUILD_DIR] [WORKDIR]
#   BUILD_DIR: a clang build made with -DKILN_FUZZ=ON (default build-fuzz, made here when
#   missing); WORKDIR (default /tmp/kiln-fuzz-all) gets each target's corpus, artifacts
#   and log, never the repository.
#   KILN_FUZZ_JOBS (default 1): how many targets run at once, each on one core.
set -eu
seconds=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
work=${3:-/tmp/kiln-fuzz-all}
jobs=${KILN_FUZZ_JOBS:-1}
targets="parse_expand_fuzzer root_dir_fuzzer oci_json_fuzzer registry_text_fuzzer
    registry_answer_fuzzer credentials_fuzzer dockerignore_fuzzer layer_apply_fuzzer
    archive_import_fuzzer"

if [ ! -f "$build/build.ninja" ]; then
    CXX=clang++ CC=clang cmake -S "$src" -B "$build" -G Ninja -DKILN_FUZZ=ON >/dev/null
fi
# shellcheck disable=SC2086
ninja -C "$build" $targets

for t in $targets; do
    mkdir -p "$work/$t"
    rm -f "$work/$t/failed"
done
# One target: its log in WORKDIR/<target>/log, a "failed" mark when it found something.
# shellcheck disable=SC2016
echo $targets | tr ' ' '\n' | xargs -P "$jobs" -I{} sh -c '
    "$0/tests/fuzz/run_fuzzer.sh" "$1/tests/fuzz/{}" "$2" "$3/{}" >"$3/{}/log" 2>&1 ||
        touch "$3/{}/failed"' "$src" "$build" "$seconds" "$work"

failed=""
for t in $targets; do
    echo "== $t: ${seconds}s"
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)|==ERROR|SUMMARY|_fuzzer: ' \
        "$work/$t/log" | tail -n 4 || true
    [ -e "$work/$t/failed" ] && failed="$failed $t"
done
if [ -n "$failed" ]; then
    echo "findings in:$failed (artifacts under $work/<target>/artifacts)"
    exit 1
fi
echo "no findings"
