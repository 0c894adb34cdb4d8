#!/usr/bin/env bash
# train.sh - `fanzha model train|eval|info` end to end on a tiny corpus:
# training is deterministic (twice the same input: byte-identical files,
# also when a later option changes nothing), the model separates its own
# training examples, eval and info read it, and a bad corpus or model file
# is refused naming file:line or the file.
#
#   tests/model/train.sh FANZHA_BIN
set -euo pipefail
fanzha="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "[model] train twice"
"$fanzha" model train "$here/corpus.tsv" -o "$tmp/a.fzm" --bits 14 --c 10
"$fanzha" model train "$here/corpus.tsv" -o "$tmp/b.fzm" --bits 14 --c 10
cmp "$tmp/a.fzm" "$tmp/b.fzm" || fail "two trainings on the same corpus differ"
"$fanzha" model train "$here/corpus.tsv" -o "$tmp/c.fzm" --bits 14 --c 10 --threshold 0.6
cmp -s "$tmp/a.fzm" "$tmp/c.fzm" && fail "another threshold gave the same file"

echo "[model] eval and info"
out="$("$fanzha" model eval "$tmp/a.fzm" "$here/corpus.tsv")"
echo "$out"
grep -q "^tp 8 fp 0 tn 9 fn 0$" <<<"$out" || fail "the model does not separate its training set"
grep -q "roc_auc 1.0000" <<<"$out" || fail "ROC AUC on the training set is not 1"
info="$("$fanzha" model info "$tmp/a.fzm")" # whole: `| grep -q` races pipefail
grep -q "corpus corpus.tsv: " <<<"$info" || fail "info lacks the corpus"
tail -n +2 <<<"$info" | grep -F "$tmp" >/dev/null && fail "the model file records a local path"

echo "[model] errors"
printf '1\tok\n2\tbad label\n' > "$tmp/bad.tsv"
if err="$("$fanzha" model train "$tmp/bad.tsv" -o "$tmp/x.fzm" 2>&1)"; then fail "bad label accepted"; fi
grep -q "bad.tsv:2: want LABEL" <<<"$err" || fail "no file:line for a bad label: $err"
printf '1\tok\n{"label": 1, "text": "\\ud800"}\n' > "$tmp/bad.ndjson"
if err="$("$fanzha" model train "$tmp/bad.ndjson" -o "$tmp/x.fzm" 2>&1)"; then fail "lone surrogate accepted"; fi
grep -q "bad.ndjson:2: bad escape" <<<"$err" || fail "no file:line for a bad escape: $err"
printf '1\tonly fraud\n' > "$tmp/one.tsv"
if err="$("$fanzha" model train "$tmp/one.tsv" -o "$tmp/x.fzm" 2>&1)"; then fail "one label accepted"; fi
grep -q "both labels" <<<"$err" || fail "one-label corpus: $err"
head -c 100 "$tmp/a.fzm" > "$tmp/short.fzm"
if err="$("$fanzha" model info "$tmp/short.fzm" 2>&1)"; then fail "truncated model accepted"; fi
grep -q "short.fzm: truncated" <<<"$err" || fail "truncated model: $err"
[ ! -e "$tmp/x.fzm" ] || fail "a failed training left a file"
echo "[model] OK"
