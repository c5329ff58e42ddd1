#!/bin/sh
# Runs the unit-test binary as an unprivileged user (nobody), as ctest's
# unit_tests_unprivileged: unit tests need no root. Exit 77 (ctest: skipped)
# when that cannot be tried here: not root, no setpriv, or the binary or the
# test data unreadable by nobody (a clone under a private home directory).
set -u
bin=$1
testdata=$2
if [ "$(id -u)" != 0 ]; then
  echo "skipped: already unprivileged; the unit_tests run is the unprivileged run"
  exit 77
fi
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
command -v setpriv >/dev/null || { echo "skipped: setpriv (util-linux) is missing"; exit 77; }
for p in "$bin" "$testdata"; do
  if ! $as_nobody test -r "$p"; then
    echo "skipped: $p is not readable by nobody"
    exit 77
  fi
done
scratch=$(mktemp -d)
chmod 0777 "$scratch"
trap 'rm -rf "$scratch"' EXIT
HOME=$scratch TMPDIR=$scratch $as_nobody "$bin" --gtest_brief=1
