#!/usr/bin/env bash
# Benchmark (not a test): COPY of a context of 20,000 small files (~200 MB)
# against `cp -a` of the same tree, then a rebuild with one file changed.
#   bench/copy_files.sh [path/to/kiln]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../out/cli/kiln}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ctx=$work/ctx
mkdir -p "$ctx/tree"
python3 - "$ctx/tree" <<'PY'
import os, sys
root = sys.argv[1]
block = os.urandom(10 * 1024)
for d in range(200):
    p = os.path.join(root, "d%03d" % d)
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, "f%03d" % f), "wb") as fh:
            fh.write(block[: 5000 + (d * 100 + f) % 5000] + bytes([d % 256, f % 256]))
PY
printf 'FROM scratch\nCOPY tree /tree\nCOPY small.txt /small.txt\n' > "$ctx/Dockerfile"
echo one > "$ctx/small.txt"
sync
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); cp -a "$ctx/tree" "$work/cp-copy"; sync; t1=$(ms)
"$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; sync; t2=$(ms)
echo two > "$ctx/small.txt"
"$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; t3=$(ms)
"$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; t4=$(ms)
echo "cp -a of 20,000 files:             $((t1 - t0)) ms"
echo "kiln build (COPY, cold):           $((t2 - t1)) ms  (ratio $(( (t2 - t1) * 100 / (t1 - t0) ))%)"
echo "kiln rebuild, one file changed:    $((t3 - t2)) ms"
echo "kiln rebuild, unchanged:           $((t4 - t3)) ms"
