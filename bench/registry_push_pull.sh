#!/usr/bin/env bash
# Benchmark (not a test): push and pull throughput against a local
# docker-registry, kiln beside `skopeo copy` of the same image, and the
# requests a push of an image the registry already holds sends (target:
# only HEADs and the manifest PUT).
#   bench/registry_push_pull.sh [path/to/kiln] [size in MB, default 500]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../out/cli/kiln}")
size_mb=${2:-500}
work=$(mktemp -d)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat > "$work/reg.yml" <<YML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: $host
YML
docker-registry serve "$work/reg.yml" > "$work/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://$host/v2/" >/dev/null && break; sleep 0.1; done

# Five layers of incompressible data (a layer of each tool's own making
# would differ, so both push the same gzip blobs: kiln's OCI export).
ctx=$work/ctx
mkdir -p "$ctx"
echo 'FROM scratch' > "$ctx/Dockerfile"
per=$((size_mb / 5))
for i in 1 2 3 4 5; do
  head -c "$((per * 1024 * 1024))" /dev/urandom > "$ctx/part$i"
  echo "COPY part$i /part$i" >> "$ctx/Dockerfile"
done
"$kiln" --root "$work/root" build -t bench/big:1 -o type=image -o "type=oci,dest=$work/layout" "$ctx" >/dev/null 2>&1
sync

ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { echo "$(( size_mb * 1000 / ($1 > 0 ? $1 : 1) )) MB/s"; }

t0=$(ms); "$kiln" --root "$work/root" push bench/big:1 "$host/kiln/big:1" >/dev/null 2>&1; t1=$(ms)
kpush=$((t1 - t0))
t0=$(ms); skopeo copy -q --dest-tls-verify=false "oci:$work/layout" "docker://$host/skopeo/big:1"; t1=$(ms)
spush=$((t1 - t0))

t0=$(ms); "$kiln" --root "$work/fresh" pull "$host/kiln/big:1" >/dev/null 2>&1; t1=$(ms)
kpull=$((t1 - t0))
t0=$(ms); skopeo copy -q --src-tls-verify=false "docker://$host/skopeo/big:1" "oci:$work/pulled"; t1=$(ms)
spull=$((t1 - t0))

echo "push ${size_mb} MB: kiln ${kpush} ms ($(rate $kpush)), skopeo ${spush} ms ($(rate $spush)), ratio $(python3 -c "print(round($kpush/$spush, 2))")"
echo "pull ${size_mb} MB: kiln ${kpull} ms ($(rate $kpull)), skopeo ${spull} ms ($(rate $spull)), ratio $(python3 -c "print(round($kpull/$spull, 2))")"
echo "  (kiln's pull also writes each layer's uncompressed twin, verified against its diffID)"

# A push of what the registry already holds: count its requests.
before=$(grep -c 'response completed' "$work/reg.log" || true)
t0=$(ms); "$kiln" --root "$work/root" push bench/big:1 "$host/kiln/big:1" >/dev/null 2>&1; t1=$(ms)
sleep 0.2
requests=$(grep 'response completed' "$work/reg.log" | tail -n +"$((before + 1))" |
  grep -o 'http.request.method="\?[A-Z]*' | sed 's/.*[="]//' | sort | uniq -c | tr '\n' ' ')
echo "push of an image the registry has: $((t1 - t0)) ms; requests by method: $requests"
