#!/usr/bin/env bash
# chaos-long.sh -- the chaos runner's long version, one command: build, start
# a Kafka broker of its own (127.0.0.1, a free port, state under .cache/),
# run every long scenario of tests/integration/chaos.py (at least 20 faults
# of each kind), write docs/reliability.md, stop the broker. About 75 minutes.
#
#   bash tests/chaos-long.sh [--only SUBSTRING] [--report FILE]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target fanzha >/dev/null

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
FANZHA_KAFKA_PORT=19392
while ! port_free "$FANZHA_KAFKA_PORT" || ! port_free $((FANZHA_KAFKA_PORT + 1)); do
  FANZHA_KAFKA_PORT=$((FANZHA_KAFKA_PORT + 2))
done
export FANZHA_KAFKA_PORT
export FANZHA_BROKER="127.0.0.1:${FANZHA_KAFKA_PORT}"
export FANZHA_KAFKA_DIR="$ROOT/.cache/kafka-chaos"
export FANZHA_TEST_LOGDIR="$ROOT/build/chaos-logs"
bash deploy/kafka-local.sh reset >/dev/null
cleanup() { bash "$ROOT/deploy/kafka-local.sh" stop || true; }
trap cleanup EXIT
bash deploy/kafka-local.sh start

args=(long --report docs/reliability.md "$@")

exec_rc=0
"$PY" tests/integration/chaos.py "${args[@]}" || exec_rc=$?
exit "$exec_rc"
