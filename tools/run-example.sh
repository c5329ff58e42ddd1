#!/usr/bin/env bash
# README command 1: set up, build kiln, and build the bundled example
# (a scratch image holding Debian's static busybox) into the local store.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
install -m 0755 /bin/busybox examples/hello/busybox
digest=$(build/cli/kiln build -t kiln-example/hello:latest examples/hello)
echo
echo "built kiln-example/hello:latest  $digest"
build/cli/kiln images
