#!/usr/bin/env bash
# run.sh corpora|generated FZ_MATCHER_DIFF - the differential matcher tests
# (matcher_diff.c) over the shipped rules, from the repository root.
#   corpora    every SMS corpus in ../shared/data (FANZHA_DATA) and every
#              blocklisted domain in a message, as events
#              (bench/corpus_events.py); 77 (skipped) when the data is absent
#   generated  1,000,000 events of every type from bench/gen.py (seeded)
set -euo pipefail
what="$1" diff="$2"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
case "$what" in
corpora)
  set +e
  "$PY" bench/corpus_events.py >/dev/null 2>&1 </dev/null
  [ $? -eq 3 ] && { echo "corpora absent: skipped"; exit 77; }
  set -e
  "$PY" bench/corpus_events.py --every-corpus | "$diff" rules -
  ;;
generated)
  "$PY" bench/gen.py --count 1000000 --seed 12 --fraud 0.3 --quiet --out - | "$diff" rules -
  ;;
*) echo "usage: run.sh corpora|generated FZ_MATCHER_DIFF" >&2; exit 2 ;;
esac
