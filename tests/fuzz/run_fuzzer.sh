#!/bin/sh
# Runs a fuzz target: parse_expand_fuzzer with the seed corpus
# (testdata/conformance/buildkit/parser*/) and dictionary; oci_json_fuzzer with
# testdata's JSON files and its dictionary; root_dir_fuzzer (the in-root resolver; run it
# as root for the chroot'ed realpath comparison) and registry_text_fuzzer from an empty
# corpus.
# Usage: run_fuzzer.sh FUZZER_BINARY [SECONDS] [WORKDIR]
# New corpus entries, crash/leak/timeout artifacts and the log go to WORKDIR
# (default /tmp/kiln-fuzz), never into the repository.
set -eu
fuzzer=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
seconds=${2:-600}
work=${3:-/tmp/kiln-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)

mkdir -p "$work/corpus" "$work/artifacts"
extra=""
if [ "$(basename "$fuzzer")" = parse_expand_fuzzer ]; then
    find "$src/testdata/conformance/buildkit" -path '*/parser*' -type f -name 'Dockerfile*' |
        sort | paste -sd, - >"$work/seeds.txt"
    extra="-seed_inputs=@$work/seeds.txt -dict=$src/tests/fuzz/dockerfile.dict"
fi
if [ "$(basename "$fuzzer")" = oci_json_fuzzer ]; then
    # The repository's own OCI and Docker documents.
    find "$src/testdata/fuzz/oci-json" "$src/testdata/conformance/oci-image-spec" -type f \
        -name '*.json' | sort | paste -sd, - >"$work/seeds.txt"
    extra="-seed_inputs=@$work/seeds.txt -dict=$src/tests/fuzz/oci_json.dict"
fi

if [ "$(basename "$fuzzer")" = layer_apply_fuzzer ]; then
    # Layers of every kind the repository's tests hold (tar, gzip, zstd), and its dictionary.
    find "$src/testdata" -type f \( -name '*.tar' -o -name '*.tar.gz' -o -name '*.tgz' \
        -o -name '*.tar.zst' \) | sort | paste -sd, - >"$work/seeds.txt"
    extra="-dict=$src/tests/fuzz/tar.dict"
    [ -s "$work/seeds.txt" ] && extra="$extra -seed_inputs=@$work/seeds.txt"
fi

# With -jobs libFuzzer writes fuzz-N.log to the working directory: keep it in $work.
cd "$work"
# shellcheck disable=SC2086
exec "$fuzzer" "$work/corpus" $extra \
    -artifact_prefix="$work/artifacts/" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -jobs=1 -workers=1 -print_final_stats=1
