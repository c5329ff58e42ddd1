#!/usr/bin/env bash
# README command 2: set up, build kiln, run the whole test suite, then the unit
# tests once more under AddressSanitizer and UndefinedBehaviorSanitizer, then
# every fuzz target for a short time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${KILN_SKIP_FUZZ:-}" != 1 ]; then
  tools/bootstrap.sh --with-fuzz
else
  tools/bootstrap.sh
fi
ctest --test-dir out --output-on-failure -j "$(nproc)" --timeout 600

# The sanitizer stage: a second build in out-asan, unoptimised so that it
# compiles fast (about 10 minutes on 2 cores), with only the unit-test binary,
# run as one process (ctest's process per test costs ten times as long under
# ASan). KILN_SKIP_SANITIZERS=1 skips it on a developer's machine; CI never does.
if [ "${KILN_SKIP_SANITIZERS:-}" != 1 ]; then
  cmake -S . -B out-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKILN_WERROR=ON \
    -DKILN_SANITIZE=address,undefined >/dev/null
  ninja -C out-asan -j "$(nproc)" kiln_unit_tests
  out-asan/tests/kiln_unit_tests --gtest_brief=1
fi

# The fuzz stage: every libFuzzer target of tests/fuzz, built with clang in
# out-fuzz (about 4 minutes on 2 cores), runs 30 s on its seeds and what it
# finds, one target per core; a crash, leak, timeout or out-of-memory fails the
# run and leaves its input under /tmp/kiln-fuzz-ci/<target>/artifacts.
# KILN_SKIP_FUZZ=1 skips it on a developer's machine; CI never does.
if [ "${KILN_SKIP_FUZZ:-}" != 1 ]; then
  KILN_FUZZ_JOBS="$(nproc)" tests/fuzz/run_all.sh 30 out-fuzz /tmp/kiln-fuzz-ci
fi
