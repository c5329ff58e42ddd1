#!/usr/bin/env bash
# README command 1: set up, build kiln, build the bundled example (a busybox
# image, made offline from Debian's busybox-static) into the local store, and
# run it once with runc to show it works.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
install -m 0755 /bin/busybox examples/hello/busybox
digest=$(out/cli/kiln build -t kiln-example/hello:latest examples/hello)
echo
echo "built kiln-example/hello:latest  $digest"
out/cli/kiln images

# Run it: unpack the image from kiln's store (an OCI layout) and start it.
bundle=$(mktemp -d)
trap 'runc delete -f kiln-example-$$ >/dev/null 2>&1 || true; rm -rf "$bundle"' EXIT
root=${KILN_ROOT:-/var/lib/kiln}
umoci unpack --image "$root:kiln-example/hello:latest" "$bundle/b" >/dev/null
sed -i 's/"terminal": true/"terminal": false/' "$bundle/b/config.json"
echo "running it:"
runc run --bundle "$bundle/b" "kiln-example-$$"
