#!/bin/sh
# Runs one fuzz target with its seeds and dictionary:
#   parse_expand_fuzzer    testdata/conformance/buildkit/parser*/ Dockerfiles, dockerfile.dict
#   oci_json_fuzzer        testdata/fuzz/oci-json/ and the OCI image-spec schemas, oci_json.dict
#   layer_apply_fuzzer     every tar, tar.gz and tar.zst under testdata/, tar.dict
#   archive_import_fuzzer  testdata/fuzz/archives/ (docker-archive, OCI, legacy), tar.dict
#   registry_answer_fuzzer testdata/fuzz/registry-answers/
#   credentials_fuzzer     testdata/fuzz/credentials/
#   dockerignore_fuzzer    testdata/fuzz/dockerignore/
#   root_dir_fuzzer        testdata/fuzz/root-dir/ (run it as root for its chroot'ed
#                          realpath comparison)
#   registry_text_fuzzer   an empty corpus
# Usage: run_fuzzer.sh FUZZER_BINARY [SECONDS] [WORKDIR]
# New corpus entries, crash/leak/timeout artifacts and the log go to WORKDIR
# (default /tmp/kiln-fuzz), never into the repository. The corpus is kept, so a second
# run goes on from what the first found.
set -eu
fuzzer=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
seconds=${2:-600}
work=${3:-/tmp/kiln-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$src/tests/fuzz
data=$src/testdata

mkdir -p "$work/corpus" "$work/artifacts"
: >"$work/seeds.txt"
dict=""
case $(basename "$fuzzer") in
parse_expand_fuzzer)
    find "$data/conformance/buildkit" -path '*/parser*' -type f -name 'Dockerfile*' >"$work/seeds.txt"
    dict=$fuzz/dockerfile.dict ;;
oci_json_fuzzer)
    find "$data/fuzz/oci-json" "$data/conformance/oci-image-spec" -type f -name '*.json' >"$work/seeds.txt"
    dict=$fuzz/oci_json.dict ;;
layer_apply_fuzzer)
    find "$data" -type f \( -name '*.tar' -o -name '*.tar.gz' -o -name '*.tgz' \
        -o -name '*.tar.zst' \) ! -path '*/fuzz/archives/*' >"$work/seeds.txt"
    dict=$fuzz/tar.dict ;;
archive_import_fuzzer)
    find "$data/fuzz/archives" -type f >"$work/seeds.txt"
    dict=$fuzz/tar.dict ;;
registry_answer_fuzzer) find "$data/fuzz/registry-answers" -type f >"$work/seeds.txt" ;;
credentials_fuzzer) find "$data/fuzz/credentials" -type f >"$work/seeds.txt" ;;
dockerignore_fuzzer) find "$data/fuzz/dockerignore" -type f >"$work/seeds.txt" ;;
root_dir_fuzzer) find "$data/fuzz/root-dir" -type f >"$work/seeds.txt" ;;
esac
extra=""
if [ -s "$work/seeds.txt" ]; then
    sort -o "$work/seeds.txt" "$work/seeds.txt"
    extra="-seed_inputs=@$work/seeds.txt"
    # libFuzzer wants the list comma-separated, with no newline after the last name
    # (it would be part of that name).
    paste -sd, - <"$work/seeds.txt" | tr -d '\n' >"$work/seeds.csv"
    mv "$work/seeds.csv" "$work/seeds.txt"
fi
[ -n "$dict" ] && extra="$extra -dict=$dict"

# With -jobs libFuzzer writes fuzz-N.log to the working directory: keep it in $work.
cd "$work"
# shellcheck disable=SC2086
exec "$fuzzer" "$work/corpus" $extra \
    -artifact_prefix="$work/artifacts/" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -jobs=1 -workers=1 -print_final_stats=1
