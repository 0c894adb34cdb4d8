#!/usr/bin/env bash
# run.sh -- the whole test suite, from a clean clone on Debian 12:
# installs what is missing, builds (release and ASan+UBSan), starts a local
# Kafka broker, runs unit, golden and integration tests, stops the broker.
#
#   bash tests/run.sh             everything
#   FANZHA_SKIP_ASAN=1 ...        skip the sanitizer build
#
# The closing line is CTest's summary of the main build's tests.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
JOBS="$(nproc)"

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash deploy/install-deps.sh

if [ -z "${FANZHA_SKIP_ASAN:-}" ]; then
  step "ASan+UBSan build: unit and golden tests"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFANZHA_SANITIZE=address >/dev/null
  cmake --build build-asan -j"$JOBS"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'unit|golden' -j"$JOBS" --output-on-failure)
fi

step "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

step "local Kafka broker"
export FANZHA_KAFKA_PORT="${FANZHA_KAFKA_PORT:-9092}"
export FANZHA_BROKER="127.0.0.1:${FANZHA_KAFKA_PORT}"
cleanup() { bash deploy/kafka-local.sh stop || true; }
trap cleanup EXIT
bash deploy/kafka-local.sh start

step "tests"
cd build
ctest -j"$JOBS" --output-on-failure
