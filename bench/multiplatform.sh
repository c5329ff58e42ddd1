#!/usr/bin/env bash
# Benchmark (not a test): a two-platform build (linux/amd64 + linux/arm64, one image
# index) of the same Dockerfile, side by side:
#   kiln:    kiln build --platform linux/amd64,linux/arm64 -t mp CTX
#   buildah: buildah build --layers --runtime runc --platform linux/amd64,linux/arm64 --manifest mp CTX
# The Dockerfile is the cross-compilation pattern on busybox: a build stage on the build
# platform (native, once per target: it reads TARGETARCH), then a per-platform stage with
# that platform's busybox whose RUN runs under QEMU for arm64. "cold" starts from empty
# stores, "unchanged" builds again with nothing changed (each tool's cache).
# Needs binfmt_misc with qemu-aarch64 (F flag; Debian's qemu-user-static) and Debian's
# mirror for busybox-static:arm64 (fetched once, as the tests do).
#   REPS=3 KILN=out/cli/kiln bench/multiplatform.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPS=${REPS:-3}
KILN=$(realpath "${KILN:-$here/../out/cli/kiln}")
[ -e /proc/sys/fs/binfmt_misc/register ] ||
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
  /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf ||
  { echo "skipped: cannot register qemu-aarch64 (install qemu-user-static)"; exit 0; }
arm64=/var/cache/kiln-tests/busybox-static-arm64
"$here/../tests/integration/foreign_busybox.sh" arm64 "$arm64" ||
  { echo "skipped: busybox-static:arm64 could not be fetched"; exit 0; }
work=$(mktemp -d /var/tmp/kiln-multiplatform.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx"
cp /bin/busybox "$work/ctx/busybox-amd64"
cp "$arm64" "$work/ctx/busybox-arm64"
cat > "$work/ctx/Dockerfile" <<'DF'
FROM --platform=$BUILDPLATFORM scratch AS build
COPY busybox-amd64 /bin/busybox
ARG TARGETARCH
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox seq 1 20000 | /bin/busybox md5sum > /sum; echo $TARGETARCH >> /sum"]

FROM scratch
ARG TARGETARCH
COPY busybox-$TARGETARCH /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY --from=build /sum /sum
RUN ["/bin/sh", "-c", "uname -m > /arch && ls -l /bin | wc -l > /applets"]
DF
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b-a)/1e9}'; }
bh=(buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver overlay)
echo "tool,scenario,rep,wall_s"
for r in $(seq 1 "$REPS"); do
  rm -rf "$work/kiln-root"
  for scenario in cold unchanged; do
    t0=$(date +%s%N)
    "$KILN" --root "$work/kiln-root" build --platform linux/amd64,linux/arm64 -t mp \
      "$work/ctx" >"$work/kiln.log" 2>&1 || { echo "kiln failed:"; tail -5 "$work/kiln.log"; exit 1; }
    t1=$(date +%s%N)
    echo "kiln,$scenario,$r,$(secs "$t0" "$t1")"
  done

  "${bh[@]}" manifest rm mp >/dev/null 2>&1
  "${bh[@]}" rmi -a -f >/dev/null 2>&1
  for scenario in cold unchanged; do
    "${bh[@]}" manifest rm mp >/dev/null 2>&1
    t0=$(date +%s%N)
    "${bh[@]}" build --layers --isolation oci --runtime runc --network host \
      --platform linux/amd64,linux/arm64 --manifest mp "$work/ctx" >"$work/bh.log" 2>&1 ||
      { echo "buildah failed:"; tail -5 "$work/bh.log"; exit 1; }
    t1=$(date +%s%N)
    echo "buildah,$scenario,$r,$(secs "$t0" "$t1")"
  done
done
"${bh[@]}" manifest rm mp >/dev/null 2>&1
"${bh[@]}" rmi -a -f >/dev/null 2>&1 || true
