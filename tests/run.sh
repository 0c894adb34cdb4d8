#!/usr/bin/env bash
# run.sh -- the whole test suite, from a clean clone on Debian 12:
# installs what is missing, builds, starts a local Kafka broker, runs every
# test, stops the broker.
#
#   1. ASan+UBSan build: unit, golden and fuzz-corpus tests
#   2. TSan build: the same (the multi-threaded ones are what it is for)
#   3. clang libFuzzer build: each fuzz target for FANZHA_FUZZ_SECONDS (20)
#      (fuzz_matcher loads the shipped rules from the rules cache that the
#      fuzz-corpus tests of step 1 filled)
#   4. release build + local Kafka: unit, golden, contract and integration
#      tests (end to end, dead letters, backpressure, SIGTERM, kill -9)
#
#   FANZHA_QUICK=1 bash tests/run.sh    only step 4
#
# The closing line is CTest's summary of step 4.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
JOBS="$(nproc)"
FUZZ_SECONDS="${FANZHA_FUZZ_SECONDS:-20}"

step() { printf '\n==> %s\n' "$*"; }
configure() { cmake -S . -B "$1" "${@:2}" >/dev/null; cmake --build "$1" -j"$JOBS"; }

step "dependencies"
bash deploy/install-deps.sh
export FANZHA_REQUIRE_CHROMIUM=1 # installed above: the report test must not skip

if [ -z "${FANZHA_QUICK:-}" ]; then
  step "ASan+UBSan build: unit, golden and fuzz-corpus tests"
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DFANZHA_SANITIZE=address
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'unit|golden' -j"$JOBS" --output-on-failure)

  step "TSan build: unit and golden tests"
  configure build-tsan -DCMAKE_BUILD_TYPE=Debug -DFANZHA_SANITIZE=thread
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -L 'unit|golden' -j"$JOBS" --output-on-failure)

  step "libFuzzer: event decoder, rule parser, prefilter against reference matcher, compiled-ruleset loader, link parser, ${FUZZ_SECONDS}s each"
  CC=clang configure build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFANZHA_FUZZ=ON
  for t in event rules matcher compiled url; do
    work="$(mktemp -d)"
    rc=0
    maxlen=4096
    [ "$t" = compiled ] && maxlen=262144 # whole compiled files are seeds
    FANZHA_FUZZ_RULES=tests/integration/rules ./build-fuzz/tests/fuzz_$t \
      -max_total_time="$FUZZ_SECONDS" -max_len="$maxlen" -timeout=30 -print_final_stats=1 \
      "$work" "tests/fuzz/corpus/$t" >"$work.log" 2>&1 || rc=$?
    grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' "$work.log" || true
    if [ "$rc" -ne 0 ]; then tail -n 60 "$work.log"; echo "fuzz_$t found a failure"; exit 1; fi
    rm -rf "$work" "$work.log"
  done
fi

step "release build"
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "local Kafka broker"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${FANZHA_KAFKA_PORT:-}" ]; then
  # 9092 unless something already listens there (then a free pair above 20000)
  FANZHA_KAFKA_PORT=9092
  while ! port_free "$FANZHA_KAFKA_PORT" || ! port_free $((FANZHA_KAFKA_PORT + 1)); do
    FANZHA_KAFKA_PORT=$((20000 + RANDOM % 20000))
  done
fi
export FANZHA_KAFKA_PORT
export FANZHA_BROKER="127.0.0.1:${FANZHA_KAFKA_PORT}"
export FANZHA_KAFKA_DIR="$ROOT/.cache/kafka-test"   # a fresh broker for every run
bash deploy/kafka-local.sh reset >/dev/null
cleanup() { bash "$ROOT/deploy/kafka-local.sh" stop || true; }
trap cleanup EXIT
bash deploy/kafka-local.sh start

step "tests"
cd build
ctest -j"$JOBS" --output-on-failure
