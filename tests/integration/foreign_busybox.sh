#!/bin/sh
# foreign_busybox.sh ARCH DEST: puts Debian's static busybox for the Debian
# architecture ARCH (arm64, armhf, ...) at DEST, from the mirror apt already uses,
# without touching the host's apt configuration: `apt-get update` and `download`
# run with their own lists and cache, for ARCH only. DEST is written once
# (temporary name, then rename); an existing DEST is kept. Concurrent callers wait
# on a lock beside DEST.
# Exit 0: DEST is there. Exit 77: the mirror could not be reached (tests skip).
# Other: something else failed (tests fail), with apt's output on stderr.
set -eu
arch=$1
dest=$2
dir=$(dirname "$dest")
mkdir -p "$dir"
exec 9>"$dest.lock"
flock -w 300 9
[ -x "$dest" ] && exit 0
work=$(mktemp -d "$dir/.fetch-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
opts="-q -o APT::Architecture=$arch -o APT::Architectures::=$arch
  -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache
  -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
if ! apt-get $opts update >"$work/update.log" 2>&1 ||
    grep -q '^\(Err\|W: Failed to fetch\)' "$work/update.log"; then
    cat "$work/update.log" >&2
    exit 77
fi
# shellcheck disable=SC2086
(cd "$work" && apt-get $opts download "busybox-static:$arch") >&2
dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/root"
cp "$work/root/bin/busybox" "$work/busybox"
chmod 0755 "$work/busybox"
mv "$work/busybox" "$dest"
