#!/usr/bin/env bash
# quickstart.sh -- the main job on a fresh Debian 12 machine: install what is
# missing, build, start a local Kafka broker, start fanzha, feed a sample
# stream of fraud and normal traffic, and show the alerts arriving on the
# alerts topic; print the statistics and write the report page
# (build/fanzha-report.html). Then stop fanzha and the broker (FANZHA_KEEP_KAFKA=1 keeps
# the broker running).
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }
BROKER="127.0.0.1:${FANZHA_KAFKA_PORT:-9092}"

step "dependencies"
bash deploy/install-deps.sh

step "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/fanzha rules check rules

step "local Kafka broker"
bash deploy/kafka-local.sh start
bash deploy/kafka-local.sh topic events 4
bash deploy/kafka-local.sh topic fanzha.alerts 4
bash deploy/kafka-local.sh topic fanzha.dlq 1
# fanzha creates the rest itself: fanzha.stats and fanzha.state (compacted),
# and its internal topics fanzha-quickstart.route and .*-changelog

step "fanzha run"
mkdir -p build
LOG=build/quickstart-fanzha.log
./build/fanzha run --config deploy/fanzha.yaml --rules-dir rules --brokers "$BROKER" \
  --group-id fanzha-quickstart --stats-interval-ms 2000 \
  --admin-socket build/quickstart-admin.sock >"$LOG" 2>&1 &
FZ=$!
cleanup() {
  kill -TERM "$FZ" 2>/dev/null && wait "$FZ" 2>/dev/null || true
  [ -n "${FANZHA_KEEP_KAFKA:-}" ] || bash "$ROOT/deploy/kafka-local.sh" stop || true
}
trap cleanup EXIT
# 'rules check' above compiled the rules into the rules cache
# (docs/operations.md), so fanzha loads them in well under a second
for _ in $(seq 1 600); do
  grep -q "task(s) ready" "$LOG" && break
  kill -0 "$FZ" 2>/dev/null || { cat "$LOG"; echo "fanzha exited"; exit 1; }
  sleep 0.2
done
sed 's/^/    fanzha: /' "$LOG"

step "feed sample events and watch the alerts topic"
/usr/bin/python3 deploy/sample/feed_and_watch.py --brokers "$BROKER"

step "ask the running daemon for its status (admin socket)"
./build/fanzha admin --socket build/quickstart-admin.sock status || true

METRICS="http://$(sed -n 's/^metrics_address: *\([^ ]*\).*/\1/p' deploy/fanzha.yaml)"
step "metrics, liveness and readiness over HTTP: $METRICS/metrics, /healthz, /readyz"
echo "    GET /healthz -> $(curl -s "$METRICS/healthz")"
echo "    GET /readyz  -> $(curl -s "$METRICS/readyz" | head -n 1)"
echo "    GET /metrics (a few of its series; Prometheus scrapes all of them):"
curl -s "$METRICS/metrics" | grep -E '^fanzha_(events_processed_total|alerts_total|dead_letters_total|consumer_lag|ruleset_info|event_to_alert_seconds_count|commits_total)[{ ]' \
  | sed 's/^/      /' || true

step "stop fanzha (SIGTERM: drain, commit, exit)"
kill -TERM "$FZ"
wait "$FZ" || true
tail -n 3 "$LOG" | sed 's/^/    fanzha: /'

step "loss-recovery statistics of the run (fanzha stats reads fanzha.stats)"
./build/fanzha stats --brokers "$BROKER" --log-level warn || true

step "the loss-recovery report page (fanzha stats --report, docs/statistics.md)"
# its campaign and top-rule tables come from the alert and campaign records
# of the alerts topic
REPORT="$ROOT/build/fanzha-report.html"
if ./build/fanzha stats --brokers "$BROKER" --log-level warn --report "$REPORT" \
  --report-alerts-topic fanzha.alerts >/dev/null; then
  echo "    report written: $REPORT"
  echo "    open file://$REPORT in a browser (it needs no network; it prints on A4)"
else
  echo "    no report (see the error above)"
fi
echo
echo "Done. The full fanzha log is in $LOG."
[ -n "${FANZHA_KEEP_KAFKA:-}" ] && echo "Kafka is still running on $BROKER (stop: bash deploy/kafka-local.sh stop)."
exit 0
