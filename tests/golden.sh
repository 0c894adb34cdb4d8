#!/usr/bin/env bash
# golden.sh FANZHA CASE_DIR [--update] -- run one golden case (tests/cases/NNN-name).
#
# A replay case holds rules/ (or a link to another case's), events.ndjson,
# expected-alerts.ndjson and expected-verdicts.ndjson, and optionally args
# (extra replay options, one line). It is replayed with 1 thread and with 3
# threads in batches of 4 events, and once from stdin: all must give exactly
# the expected output. With expected-stats.ndjson, the statistics windows
# (--stats-output) are compared too, and `fanzha stats` reading them back
# must write them unchanged. With expected-rule-stats.ndjson, the per-rule
# counters (--rule-stats; the ruleset version replaced by "RS") are compared
# for each thread count, and `fanzha rules stats` over them must print
# expected-rules-stats.txt.
# A rules case holds rules/ and expected-check.txt: the output of
# `fanzha rules check rules`, which must also exit non-zero.
# A rules diff case holds old-rules/, new-rules/, events.ndjson, args (options
# of `fanzha rules diff`, one line; use --no-timing for a stable report),
# expected-diff.txt, expected-diff.json and expected-diff.html (the three
# reports) and optionally expected-exit (the exit status, default 0). The
# same diff from stdin must give the same JSON but for the input's name.
# A statistics case holds records.ndjson (partial records as `fanzha run`
# writes them) and expected-summed.ndjson: `fanzha stats` summing them.
set -euo pipefail
FANZHA="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
CASE="$2"
UPDATE="${3:-}"
cd "$CASE"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

compare() { # expected actual what
  if [ "$UPDATE" = "--update" ]; then cp "$2" "$1"; return; fi
  if ! diff -u "$1" "$2"; then echo "FAIL: $CASE: $3 differs from $1"; fail=1; fi
}

if [ -d old-rules ]; then
  args=()
  [ -f args ] && read -r -a args < args
  want=0
  [ -f expected-exit ] && want="$(cat expected-exit)"
  set +e
  "$FANZHA" rules diff old-rules new-rules events.ndjson ${args[@]+"${args[@]}"} \
    --json "$tmp/diff.json" --html "$tmp/diff.html" >"$tmp/diff.txt" 2>"$tmp/stderr.diff"
  rc=$?
  set -e
  [ "$rc" = "$want" ] || { cat "$tmp/stderr.diff"; echo "FAIL: $CASE: exit $rc, want $want"; fail=1; }
  compare expected-diff.txt "$tmp/diff.txt" "rules diff report"
  compare expected-diff.json "$tmp/diff.json" "rules diff --json"
  compare expected-diff.html "$tmp/diff.html" "rules diff --html"
  set +e
  "$FANZHA" rules diff old-rules new-rules - ${args[@]+"${args[@]}"} --json "$tmp/stdin.json" \
    <events.ndjson >/dev/null 2>"$tmp/stderr.stdin"
  rc=$?
  set -e
  [ "$rc" = "$want" ] || { cat "$tmp/stderr.stdin"; echo "FAIL: $CASE: stdin: exit $rc"; fail=1; }
  if [ "$UPDATE" != "--update" ]; then
    sed -e 's/"events\.ndjson:/"-:/g' -e 's/"inputs":\["events\.ndjson"\]/"inputs":["-"]/' \
      expected-diff.json >"$tmp/stdin.expected.json"
    compare "$tmp/stdin.expected.json" "$tmp/stdin.json" "rules diff --json (stdin)"
  fi
elif [ -f records.ndjson ]; then
  "$FANZHA" stats --ledger-period-ms 0 --stats-output "$tmp/summed" records.ndjson \
    >/dev/null 2>"$tmp/stderr.stats" || { cat "$tmp/stderr.stats"; fail=1; }
  compare expected-summed.ndjson "$tmp/summed" "fanzha stats over the records"
elif [ -f expected-check.txt ]; then
  set +e
  "$FANZHA" rules check rules >"$tmp/check.txt" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || { echo "FAIL: $CASE: rules check exited 0"; fail=1; }
  compare expected-check.txt "$tmp/check.txt" "rules check output"
else
  args=()
  [ -f args ] && read -r -a args < args
  stats=()
  [ -f expected-stats.ndjson ] && stats=(--stats-output "$tmp/stats")
  rstats=()
  for threads in 1 3; do
    batch=8192
    [ "$threads" = 3 ] && batch=4
    [ -f expected-rule-stats.ndjson ] && rstats=(--rule-stats "$tmp/rulestats.raw")
    "$FANZHA" replay --rules rules --threads "$threads" --batch-events "$batch" \
      ${args[@]+"${args[@]}"} --verdicts "$tmp/verdicts.$threads" -o "$tmp/alerts.$threads" \
      ${stats[@]+"${stats[@]}"} ${rstats[@]+"${rstats[@]}"} events.ndjson \
      2>"$tmp/stderr.$threads" ||
      { cat "$tmp/stderr.$threads"; fail=1; }
    compare expected-alerts.ndjson "$tmp/alerts.$threads" "alerts ($threads threads)"
    compare expected-verdicts.ndjson "$tmp/verdicts.$threads" "verdicts ($threads threads)"
    if [ -f expected-stats.ndjson ]; then
      compare expected-stats.ndjson "$tmp/stats" "statistics ($threads threads)"
    fi
    if [ -f expected-rule-stats.ndjson ]; then
      sed -e 's/"ruleset":"rs-[0-9a-f]*"/"ruleset":"RS"/' "$tmp/rulestats.raw" >"$tmp/rulestats"
      compare expected-rule-stats.ndjson "$tmp/rulestats" "rule statistics ($threads threads)"
    fi
  done
  if [ -f expected-rule-stats.ndjson ]; then
    "$FANZHA" rules stats "$tmp/rulestats" >"$tmp/rules-stats.txt" 2>&1 || fail=1
    compare expected-rules-stats.txt "$tmp/rules-stats.txt" "rules stats over the counters"
  fi
  if [ -f expected-stats.ndjson ]; then
    period=()
    for ((i = 0; i < ${#args[@]}; i++)); do
      [ "${args[$i]}" = --ledger-period-ms ] && period=(--ledger-period-ms "${args[$((i + 1))]}")
    done
    "$FANZHA" stats ${period[@]+"${period[@]}"} --stats-output "$tmp/stats.again" \
      expected-stats.ndjson >/dev/null 2>"$tmp/stderr.stats" || { cat "$tmp/stderr.stats"; fail=1; }
    [ "$UPDATE" = "--update" ] ||
      compare expected-stats.ndjson "$tmp/stats.again" "fanzha stats reading the windows back"
  fi
  # the same from stdin (alerts then name the file "-", verdicts do not)
  "$FANZHA" replay --rules rules ${args[@]+"${args[@]}"} --verdicts "$tmp/verdicts.stdin" \
    <events.ndjson >/dev/null 2>"$tmp/stderr.stdin" || { cat "$tmp/stderr.stdin"; fail=1; }
  [ "$UPDATE" = "--update" ] || compare expected-verdicts.ndjson "$tmp/verdicts.stdin" "verdicts (stdin)"

fi
[ "$fail" -eq 0 ] && echo "ok: $CASE"
exit "$fail"
