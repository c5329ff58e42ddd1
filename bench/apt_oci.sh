#!/usr/bin/env bash
# Benchmark (not a test): an apt-heavy Debian image (nodejs + npm from Debian's mirror)
# built and written as an OCI layout, side by side:
#   kiln:    kiln build -o type=oci,dest=DIR                       (one command)
#   buildah: buildah build --layers ... && buildah push IMAGE oci:DIR
# Each rep starts from an empty store (the base pulled again from the bench registry) and
# an empty apt cache, so the download, the unpack by dpkg, the layer commit and its gzip
# compression are all in it. Needs ../shared/bench's registry (registry.sh start) holding
# debian:bookworm, and Debian's mirror reachable (it skips, saying so, when it is not).
#   REPS=3 KILN=out/cli/kiln NETWORK=host bench/apt_oci.sh
# NETWORK: kiln's --network for RUN (default: kiln's own default, slirp4netns); buildah
# always uses the host's, as the anchor benchmark runs it.
set -uo pipefail
REPS=${REPS:-3}
KILN=$(realpath "${KILN:-$(dirname "$0")/../out/cli/kiln}")
REG=${REG:-127.0.0.1:5000}
work=$(mktemp -d /var/tmp/kiln-apt-oci.XXXXXX)
trap 'rm -rf "$work"' EXIT
curl -fsS -o /dev/null --max-time 10 http://deb.debian.org/debian/dists/bookworm/Release ||
  { echo "skipped: Debian's mirror is not reachable"; exit 0; }
# The bench's Debian base names no reachable mirror: use the host's.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$work/ctx"
cat > "$work/ctx/Dockerfile" <<DF
FROM $REG/debian:bookworm
RUN rm -f /etc/apt/sources.list.d/* && echo "deb $mirror bookworm main" > /etc/apt/sources.list && \\
    apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
RUN node --version > /node-version
DF
net=()
[ -n "${NETWORK:-}" ] && net=(--network "$NETWORK")
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)/1e9}'; }
echo "tool,rep,wall_s,layout_bytes"
for r in $(seq 1 "$REPS"); do
  rm -rf "$work/kiln-root" "$work/kiln-out"
  t0=$(date +%s%N)
  "$KILN" --root "$work/kiln-root" build "${net[@]}" -o "type=oci,dest=$work/kiln-out" \
    "$work/ctx" >"$work/kiln.log" 2>&1 || { echo "kiln failed:"; tail -5 "$work/kiln.log"; exit 1; }
  t1=$(date +%s%N)
  echo "kiln,$r,$(secs "$t0" "$t1"),$(du -sb "$work/kiln-out" | cut -f1)"

  bh=(buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver overlay)
  "${bh[@]}" rmi -a -f >/dev/null 2>&1; rm -rf "$work/bh-out"
  t0=$(date +%s%N)
  { "${bh[@]}" build --layers --isolation oci --runtime runc --network host --tls-verify=false \
      -t apt-oci "$work/ctx" && "${bh[@]}" push apt-oci "oci:$work/bh-out"; } >"$work/bh.log" 2>&1 ||
    { echo "buildah failed:"; tail -5 "$work/bh.log"; exit 1; }
  t1=$(date +%s%N)
  echo "buildah,$r,$(secs "$t0" "$t1"),$(du -sb "$work/bh-out" | cut -f1)"
done
"${bh[@]}" rmi -a -f >/dev/null 2>&1 || true
