#!/usr/bin/env bash
# The whole test suite: installs dependencies (idempotent), builds the debug preset with
# AddressSanitizer and UBSan, and runs every unit and integration test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-test-tools.sh
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --preset debug -j 2 "$@"
