#!/usr/bin/env bash
# README command 2: set up, build kiln, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
ctest --test-dir out --output-on-failure -j "$(nproc)" --timeout 600
