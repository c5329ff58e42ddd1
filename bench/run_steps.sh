#!/usr/bin/env bash
# Benchmark (not a test): a 30-RUN-step Dockerfile on a busybox base, built
# cold and then unchanged. Prints the per-step cost of a cold RUN and the time
# of the unchanged rebuild (target: under 100 ms).
#   bench/run_steps.sh [path/to/kiln]
set -euo pipefail
kiln=${1:-$(dirname "$0")/../out/cli/kiln}
kiln=$(realpath "$kiln")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ctx=$work/ctx
mkdir -p "$ctx"
install -m 0755 /bin/busybox "$ctx/busybox"
{
  echo 'FROM scratch'
  echo 'COPY busybox /bin/busybox'
  echo 'RUN ["/bin/busybox","--install","-s","/bin"]'
} > "$ctx/Dockerfile.base"
"$kiln" --root "$work/root" build -f "$ctx/Dockerfile.base" -t bench-base "$ctx" >/dev/null 2>&1
{
  echo 'FROM bench-base'
  for i in $(seq 1 30); do echo "RUN echo step $i > /step-$i"; done
} > "$ctx/Dockerfile"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); "$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; t1=$(ms)
"$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; t2=$(ms)
"$kiln" --root "$work/root" build "$ctx" >/dev/null 2>&1; t3=$(ms)
cold=$((t1 - t0)); warm=$(( (t3 - t1) / 2 ))
echo "kiln: 30 RUN steps cold: ${cold} ms ($((cold / 30)) ms per step)"
echo "kiln: unchanged rebuild: ${warm} ms (mean of 2)"
