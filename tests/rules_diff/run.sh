#!/usr/bin/env bash
# run.sh FANZHA TEST -- tests of `fanzha rules diff` beyond the golden case
# (tests/cases/043-rules-diff, whose rules and events they reuse):
#   gates    the exit status a CI job gates on: --fail-on-lost,
#            --max-new-alerts-rate on both sides of the rate, and bad values
#   git      --git REV against a temporary repository with two commits of a
#            rules directory: the same counts as the two directories; bad
#            revisions, a directory absent at REV, not a git work tree; no
#            temporary directory left behind
#   hostile  missing and unreadable inputs, a ruleset that does not compile
#            (the error names file:line), garbage events, a compiled file as
#            NEW, bad options: exit 2 with a message naming what is wrong
#   html     the HTML report is static and its counts are the JSON's
#            (check_html.py), with timings on
set -euo pipefail
FANZHA="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
TEST="$2"
HERE="$(cd "$(dirname "$0")" && pwd -P)"
CASE="$HERE/../cases/043-rules-diff"
PY=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export TMPDIR="$tmp/tmpdir"
mkdir -p "$TMPDIR"
fail=0
COMMON=(--no-timing --rules-cache off)

# expect WANT_RC STDERR_PATTERN CMD... : run CMD, check its exit status and
# that its stderr holds the (fixed-string) pattern ("" = anything)
expect() {
  local want="$1" pat="$2"
  shift 2
  local rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: exit $rc, want $want: $*"
    sed 's/^/  stderr: /' "$tmp/err" | head -20
    fail=1
  elif [ -n "$pat" ] && ! grep -qF -- "$pat" "$tmp/err"; then
    echo "FAIL: stderr lacks '$pat': $*"
    sed 's/^/  stderr: /' "$tmp/err" | head -20
    fail=1
  else
    echo "ok: exit $rc${pat:+, '$pat'}: ${*:2}"
  fi
}

diff_cmd() { "$FANZHA" rules diff "$@"; }

case "$TEST" in
gates)
  cd "$CASE"
  # 12 valid events (the long line fits 65536 bytes): 3 gained, 2 lost
  expect 0 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}"
  expect 1 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --fail-on-lost
  # 3 / 12 = 0.25: the gate fails above the rate, not at it
  expect 0 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --max-new-alerts-rate 0.25
  expect 1 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --max-new-alerts-rate 0.24
  expect 1 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --max-new-alerts-rate 0
  # the other way round: 2 gained (3 lost), 2 / 12 = 0.167
  expect 0 "" diff_cmd new-rules old-rules events.ndjson "${COMMON[@]}" --max-new-alerts-rate 0.17
  expect 1 "" diff_cmd new-rules old-rules events.ndjson "${COMMON[@]}" --max-new-alerts-rate 0.16
  # invalid lines do not count as events: with the long line too_large, 3 / 11 = 0.273
  expect 1 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --max-event-bytes 512 \
    --max-new-alerts-rate 0.25
  # no change: no gate can fail
  expect 0 "" diff_cmd new-rules new-rules events.ndjson "${COMMON[@]}" --fail-on-lost \
    --max-new-alerts-rate 0
  grep -q '^result: passed$' "$tmp/out" || { echo "FAIL: no 'result: passed'"; fail=1; }
  grep -q '^alerting events: old 8, new 8: 0 gained, 0 lost, 8 unchanged' "$tmp/out" ||
    { echo "FAIL: same rules should change nothing"; cat "$tmp/out"; fail=1; }
  # the gate outcome is in the JSON too
  expect 1 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --fail-on-lost \
    --json "$tmp/g.json"
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["failed"] is True and d["gates"]["fail_on_lost"]["failed"] is True, d["gates"]' "$tmp/g.json" ||
    { echo "FAIL: JSON gates"; fail=1; }
  for bad in abc 1.5 -0.1 nan ""; do
    expect 2 "--max-new-alerts-rate" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" \
      --max-new-alerts-rate "$bad"
  done
  expect 2 "--max-new-alerts-rate needs a value" diff_cmd old-rules new-rules events.ndjson \
    --max-new-alerts-rate
  ;;
git)
  repo="$tmp/repo"
  mkdir -p "$repo/rules"
  git -C "$repo" init -q
  git -C "$repo" config user.email test@example.com
  git -C "$repo" config user.name test
  cp "$CASE/old-rules/rules.yaml" "$repo/rules/"
  git -C "$repo" add rules
  git -C "$repo" commit -qm old
  cp "$CASE/new-rules/rules.yaml" "$repo/rules/"
  mkdir -p "$repo/extra"
  cp "$CASE/new-rules/rules.yaml" "$repo/extra/"
  git -C "$repo" add rules extra
  git -C "$repo" commit -qm new
  # HEAD~1 of rules/ against the work tree: what the two directories give
  expect 1 "" diff_cmd --git HEAD~1 "$repo/rules" "$repo/rules" "$CASE/events.ndjson" \
    "${COMMON[@]}" --fail-on-lost --json "$tmp/git.json"
  grep -q '^old: HEAD~1:rules: ruleset ' "$tmp/out" || { echo "FAIL: old not named HEAD~1:rules"; head -3 "$tmp/out"; fail=1; }
  expect 1 "" diff_cmd "$CASE/old-rules" "$CASE/new-rules" "$CASE/events.ndjson" "${COMMON[@]}" \
    --fail-on-lost --json "$tmp/dirs.json"
  "$PY" - "$tmp/git.json" "$tmp/dirs.json" <<'PYEOF' || fail=1
import json, sys
def strip(d):
    for r in d["rules"]:
        for s in ("old", "new"):
            if r[s]:
                r[s].pop("file")
    for s in ("old", "new"):
        d[s].pop("source")
    def walk(x):
        if isinstance(x, dict):
            x.pop("where", None)
            for v in x.values(): walk(v)
        elif isinstance(x, list):
            for v in x: walk(v)
    walk(d)
    d.pop("inputs")
    d["events"].pop("invalid_samples")
    return d
g, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
files = [r["old"]["file"] for r in g["rules"] if r["old"]]
assert all(f == "HEAD~1:rules/rules.yaml" for f in files), files
assert g["old"]["source"] == "HEAD~1:rules", g["old"]["source"]
assert strip(g) == strip(p), "git and directory diffs differ"
assert g["alerts"]["gained"] == 3 and g["alerts"]["lost"] == 2, g["alerts"]
print("ok: --git HEAD~1 gives the counts of the two directories")
PYEOF
  # the old side by full commit id, from inside the repository with a relative path
  full="$(git -C "$repo" rev-parse HEAD~1)"
  (cd "$repo" && expect 0 "" diff_cmd --git "$full" rules rules "$CASE/events.ndjson" "${COMMON[@]}")
  # the same revision on both sides changes nothing
  expect 0 "" diff_cmd --git HEAD "$repo/rules" "$repo/rules" "$CASE/events.ndjson" "${COMMON[@]}" \
    --fail-on-lost --max-new-alerts-rate 0
  expect 2 "not a commit" diff_cmd --git nosuchrev "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "not a commit" diff_cmd --git HEAD~5 "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "not a revision" diff_cmd --git '--output=/tmp/x' "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "not a revision" diff_cmd --git 'HEAD;touch x' "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "not a revision" diff_cmd --git 'HEAD:rules' "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "not a revision" diff_cmd --git 'HEAD~1..HEAD' "$repo/rules" "$repo/rules" "$CASE/events.ndjson"
  expect 2 "extra is not present at HEAD~1" diff_cmd --git HEAD~1 "$repo/extra" "$repo/extra" \
    "$CASE/events.ndjson"
  mkdir -p "$tmp/plain"
  cp "$CASE/old-rules/rules.yaml" "$tmp/plain/"
  expect 2 "not in a git work tree" env GIT_CEILING_DIRECTORIES="$tmp" "$FANZHA" rules diff \
    --git HEAD "$tmp/plain" "$tmp/plain" "$CASE/events.ndjson"
  expect 2 "No such file or directory" diff_cmd --git HEAD "$repo/none" "$repo/rules" "$CASE/events.ndjson"
  # a rule at REV that does not compile: named as REV:path:line
  sed -i "s/pattern: '安全账户'/pattern: '安全账户('/" "$repo/rules/rules.yaml"
  git -C "$repo" commit -qam broken
  expect 2 "HEAD:rules/rules.yaml:" diff_cmd --git HEAD "$repo/rules" "$CASE/new-rules" "$CASE/events.ndjson" "${COMMON[@]}"
  left="$(find "$TMPDIR" -mindepth 1 | head -5)"
  [ -z "$left" ] || { echo "FAIL: left behind in TMPDIR: $left"; fail=1; }
  ;;
hostile)
  cd "$CASE"
  expect 2 "OLD no-such-dir: No such file or directory" diff_cmd no-such-dir new-rules events.ndjson
  expect 2 "NEW no-such-dir: No such file or directory" diff_cmd old-rules no-such-dir events.ndjson
  expect 2 "EVENTS no-such.ndjson: cannot open" diff_cmd old-rules new-rules no-such.ndjson
  expect 2 "EVENTS $tmp: read error" diff_cmd old-rules new-rules "$tmp" "${COMMON[@]}"
  # the second file fails after the first was read: still an input error
  expect 2 "EVENTS missing.ndjson: cannot open" diff_cmd old-rules new-rules events.ndjson \
    missing.ndjson "${COMMON[@]}"
  expect 2 "wants OLD, NEW and at least one EVENTS" diff_cmd old-rules new-rules
  # a Kafka time range: the options checked before any broker is asked
  K=(--brokers 127.0.0.1:1 --topic t)
  expect 2 "--from-time 'yesterday' wants RFC 3339" diff_cmd old-rules new-rules "${K[@]}" \
    --from-time yesterday
  expect 2 "--from-time '2026-12-07T08:00:00' lacks a UTC offset" diff_cmd old-rules new-rules \
    "${K[@]}" --from-time 2026-12-07T08:00:00
  expect 2 "is not a valid date and time" diff_cmd old-rules new-rules "${K[@]}" \
    --from-time 2025-02-29T00:00:00Z
  expect 2 "--to-time '1e3' wants" diff_cmd old-rules new-rules "${K[@]}" --from-time 0 --to-time 1e3
  expect 2 "--from-time 2026-12-07T08:00:00.001+08:00 is after --to-time 1796601600000" \
    diff_cmd old-rules new-rules "${K[@]}" --from-time 2026-12-07T08:00:00.001+08:00 \
    --to-time 1796601600000
  expect 2 "needs --from-time" diff_cmd old-rules new-rules "${K[@]}"
  expect 2 "--topic is empty" diff_cmd old-rules new-rules --brokers 127.0.0.1:1 --topic "" \
    --from-time 0
  expect 2 "needs --brokers" diff_cmd old-rules new-rules --topic t --from-time 0
  expect 2 "EVENTS files (events.ndjson) and --topic" diff_cmd old-rules new-rules events.ndjson \
    "${K[@]}" --from-time 0
  expect 2 "--from-time is for a Kafka time range" diff_cmd old-rules new-rules events.ndjson \
    --from-time 0
  expect 2 "-X expects key=value" diff_cmd old-rules new-rules "${K[@]}" --from-time 0 -X nokey \
    "${COMMON[@]}"
  expect 2 "librdkafka property 'no.such.property'" diff_cmd old-rules new-rules "${K[@]}" \
    --from-time 0 -X no.such.property=1 "${COMMON[@]}"
  expect 2 "--kafka-timeout wants an integer" diff_cmd old-rules new-rules "${K[@]}" \
    --from-time 0 --kafka-timeout 0
  # The cases below start Kafka clients. librdkafka starts its threads with
  # C11 thrd_create, which ThreadSanitizer (gcc 12's libtsan) does not
  # intercept: a TSan build crashes in the first allocation such a thread
  # makes. Kafka clients are tested in the release build (integration).
  # (ldd's output is read whole: with pipefail, `ldd | grep -q` fails when
  # grep exits before ldd has written its last line, which a loaded
  # machine makes likely, and the cases ran under TSan.)
  libs="$(ldd "$FANZHA" 2>/dev/null || true)"
  if [[ "$libs" == *libtsan* ]]; then
    echo "skipped under ThreadSanitizer: the cases that start a Kafka client"
  else
  # nothing answers on port 1: the error names --brokers, within --kafka-timeout
  start=$(date +%s)
  expect 2 "--brokers 127.0.0.1:1 --topic t: brokers 127.0.0.1:1 not reachable" diff_cmd \
    old-rules new-rules "${K[@]}" --from-time 0 --kafka-timeout 2 "${COMMON[@]}"
  [ $(($(date +%s) - start)) -lt 15 ] || { echo "FAIL: --kafka-timeout 2 not kept"; fail=1; }
  # the forms of a time that are accepted: parsed, then the brokers are asked
  for t in 1796601600000 2026-12-07T08:00:00+08:00 "2026-12-07 00:00Z" 2026-12-07t08:00:00.5+0800 \
    2024-02-29T23:59:60.123456-05:30; do
    expect 2 "not reachable" diff_cmd old-rules new-rules "${K[@]}" --from-time 0 --to-time "$t" \
      --kafka-timeout 1 "${COMMON[@]}"
  done
  fi
  expect 0 "" diff_cmd --help
  grep -q '^usage: fanzha rules diff OLD NEW EVENTS' "$tmp/out" || { echo "FAIL: --help not on stdout"; fail=1; }
  expect 2 "unknown option '--frobnicate'" diff_cmd old-rules new-rules events.ndjson --frobnicate
  expect 2 "--examples wants an integer" diff_cmd old-rules new-rules events.ndjson --examples 1001
  expect 2 "--examples wants an integer" diff_cmd old-rules new-rules events.ndjson --examples -1
  expect 2 "'-' (stdin) given more than once" diff_cmd old-rules new-rules - - </dev/null
  expect 2 "privacy_numbers" diff_cmd old-rules new-rules events.ndjson --privacy-numbers scramble
  expect 2 "privacy_hash_key_file" diff_cmd old-rules new-rules events.ndjson --privacy-numbers hash
  expect 2 "--json $tmp/nodir/x.json: cannot open for writing" diff_cmd old-rules new-rules \
    events.ndjson "${COMMON[@]}" --json "$tmp/nodir/x.json"
  # a ruleset that does not compile: every error as file:line, nothing compared
  mkdir -p "$tmp/bad"
  printf 'rules:\n  - id: b.ok\n    category: x\n    severity: low\n    pattern: ok\n  - id: b.bad\n    category: x\n    severity: low\n    pattern: "(unclosed"\n' \
    >"$tmp/bad/rules.yaml"
  expect 2 "$tmp/bad/rules.yaml:9:" diff_cmd old-rules "$tmp/bad" events.ndjson "${COMMON[@]}"
  grep -qF "NEW rules $tmp/bad: 1 error(s); nothing compared" "$tmp/err" ||
    { echo "FAIL: no summary of the load failure"; fail=1; }
  # garbage and binary events are counted, not fatal
  head -c 20000 /dev/urandom >"$tmp/garbage.ndjson"
  printf '\n\n{"id":"z","ts":1,"type":"sms","from":"1","to":"2","text":"账户异常 \\u0000 x"}\n[1,2]\n"s"\n{}\n' \
    >>"$tmp/garbage.ndjson"
  expect 0 "" diff_cmd old-rules new-rules "$tmp/garbage.ndjson" "${COMMON[@]}" --json "$tmp/garbage.json"
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["events"]; assert e["valid"]==1 and e["invalid"]>=3 and e["read"]==e["valid"]+e["invalid"], e; assert d["alerts"]["gained"]==1, d["alerts"]' "$tmp/garbage.json" ||
    { echo "FAIL: garbage events miscounted"; fail=1; }
  # a NUL inside a line keeps the line whole (invalid, as in replay), CRLF is a line end
  printf '{"id":"n","ts":1,"type":"sms","from":"1","to":"2","text":"账户冻结"}\0garbage\n{"id":"n2","ts":1,"type":"sms","from":"1","to":"2","text":"账户冻结"}\r\n' \
    >"$tmp/nul.ndjson"
  expect 0 "" diff_cmd old-rules new-rules "$tmp/nul.ndjson" "${COMMON[@]}" --json "$tmp/nul.json"
  "$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["events"]; assert (e["valid"], e["invalid"], e["invalid_by_reason"]) == (1, 1, {"invalid_json": 1}), e' "$tmp/nul.json" ||
    { echo "FAIL: a NUL in a line"; fail=1; }
  # a compiled file on either side gives the counts of its directory
  "$FANZHA" rules compile new-rules -o "$tmp/new.fzr" >/dev/null 2>&1
  expect 0 "" diff_cmd old-rules "$tmp/new.fzr" events.ndjson "${COMMON[@]}" --json "$tmp/c.json"
  expect 0 "" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --json "$tmp/d.json"
  "$PY" -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); assert a["alerts"]==b["alerts"] and a["categories"]==b["categories"], "compiled file differs"' "$tmp/c.json" "$tmp/d.json" ||
    { echo "FAIL: compiled NEW differs from its directory"; fail=1; }
  printf 'not a ruleset' >"$tmp/junk.fzr"
  expect 2 "junk.fzr" diff_cmd old-rules "$tmp/junk.fzr" events.ndjson "${COMMON[@]}"
  # --json - puts the JSON on stdout and the text on stderr
  expect 0 "alerting events:" diff_cmd old-rules new-rules events.ndjson "${COMMON[@]}" --json -
  "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" ||
    { echo "FAIL: --json - is not JSON on stdout"; fail=1; }
  ;;
html)
  cd "$CASE"
  expect 1 "" diff_cmd old-rules new-rules events.ndjson --rules-cache off --examples 5 \
    --fail-on-lost --json "$tmp/r.json" --html "$tmp/r.html"
  grep -q '^  new/old time per event: ' "$tmp/out" || { echo "FAIL: no timing in the text report"; fail=1; }
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]));
for s in ("old","new"):
    m=d[s]["cost"]["match"]; assert m["events"]==d["events"]["valid"]==12 and m["events_per_s"]>0 and m["us_per_event"]>0 and m["rounds"]>=3, m
    assert d[s]["cost"]["compile_s"]>0 and d[s]["cost"]["load_s"]>=d[s]["cost"]["compile_s"], d[s]["cost"]
assert d["match_time_ratio"]>0' "$tmp/r.json" || { echo "FAIL: timings"; fail=1; }
  "$PY" "$HERE/check_html.py" "$tmp/r.html" "$tmp/r.json" || fail=1
  # the golden page too, and hostile strings stay text
  "$PY" "$HERE/check_html.py" expected-diff.html expected-diff.json || fail=1
  mkdir -p "$tmp/evil"
  # rule ids and categories cannot hold markup (the loader refuses them); events can
  printf 'rules:\n  - id: e.evil\n    category: evil\n    severity: low\n    pattern: evil\n' >"$tmp/evil/rules.yaml"
  printf '{"id":"<b>x</b>","ts":1,"type":"sms","from":"<img src=x>","to":"2\\"\x27","text":"evil <script>alert(2)</script> \\u202e &amp;"}\n' >"$tmp/evil.ndjson"
  expect 0 "" diff_cmd old-rules "$tmp/evil" "$tmp/evil.ndjson" "${COMMON[@]}" --json "$tmp/e.json" \
    --html "$tmp/e.html"
  "$PY" "$HERE/check_html.py" "$tmp/e.html" "$tmp/e.json" || fail=1
  ! grep -q '<script\|<img\|<b>' "$tmp/e.html" || { echo "FAIL: markup from input reached the page"; fail=1; }
  ;;
*)
  echo "unknown test '$TEST'" >&2
  exit 2
  ;;
esac
[ "$fail" -eq 0 ] && echo "ok: rules diff $TEST"
exit "$fail"
