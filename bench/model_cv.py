#!/usr/bin/env python3
"""Choose the model rules' min_score on the tune part, by cross-validation.

    bench/model_cv.py [--fanzha BIN] [--rules DIR] [--data DIR] [--folds 4]
                      [--thresholds 0.5,0.6,...] [--ads-weight N]
                      [--folds-by campaign|line] [--fold-salt S] [--model-alone]
                      [--lang zh|en|both]

A model scores the examples it was trained on far better than new ones, so
thresholds are not chosen on its own training set. This script splits the
tune part's training sets (bench/model_data.py) into --folds folds, trains a
model on all folds but one with the options of rules/models/build.sh, and
scores the fold left out: every tune example gets a score from a model that
never saw it. A campaign sends the same wording many times with another
number or link, so the folds are drawn by a near-duplicate key
(campaign_key()): a campaign's messages share a fold, and the estimate
says how the model does on wording it has not seen, not on a campaign's
phone number it learnt from the next fold. It then replays the tune part
through the rules without the model rules (*/model.yaml) and prints, per
quality class and threshold, the share flagged by "the rules, or the out-of-fold score >= threshold": an
estimate of what bench/quality.py --part check will say of rules + model.
The model rules' other terms (language and cue gates) are not applied
here, so it is an upper bound on what the model adds. The check part is
not read.
"""
import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import corpus_events  # noqa: E402
from quality import classes_of, part_of, print_threshold_table  # noqa: E402


def train_opts(lang):
    """The options rules/models/build.sh trains sms-<lang>.fzm with."""
    text = open(os.path.join(ROOT, "rules", "models", "build.sh"), encoding="utf-8").read()
    text = text.replace("\\\n", " ")
    m = re.search(rf'model train "\$tmp/sms-{lang}.tsv" -o "\$here/sms-{lang}.fzm"(.*)', text)
    return m.group(1).split()


def campaign_key(text):
    """A near-duplicate key: the first 40 letters of the lower-cased text
    with links and numbers taken out. Messages of one campaign (the same
    wording, another number or link) share it."""
    t = re.sub(r"https?://\S+|www\.\S+", " ", text.lower())
    t = re.sub(r"[^a-z\u4e00-\u9fff]", "", re.sub(r"[0-9]+", "", t))
    return t[:40]


def fold_of(text, i, a):
    """The fold of training line i: by its campaign_key() (a fixed hash, so
    the same data gives the same folds), or by its position."""
    if a.folds_by == "line":
        return i % a.folds
    key = getattr(a, "fold_salt", "") + campaign_key(text)
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % a.folds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fanzha", default=os.path.join(ROOT, "build", "fanzha"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--data")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--ads-weight", default=None,
                    help="model_data.py's --ads-weight (default: rules/models/build.sh's)")
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.85,0.9,0.95,0.97")
    ap.add_argument("--train-zh", help="fanzha model train options for sms-zh instead of "
                    "rules/models/build.sh's (one string, e.g. '--bits 14 --max-chars 96')")
    ap.add_argument("--train-en", help="the same for sms-en")
    ap.add_argument("--folds-by", choices=["line", "campaign"], default="campaign",
                    help="campaign (default): near-duplicates share a fold (campaign_key()); "
                    "line: line i goes to fold i mod --folds")
    ap.add_argument("--fold-salt", default="",
                    help="prefix the campaign key with this before hashing: another split")
    ap.add_argument("--model-alone", action="store_true",
                    help="also print the share the out-of-fold score alone flags")
    ap.add_argument("--lang", choices=["zh", "en", "both"], default="both")
    a = ap.parse_args()
    opts = {"zh": a.train_zh.split() if a.train_zh else train_opts("zh"),
            "en": a.train_en.split() if a.train_en else train_opts("en")}
    thresholds = [float(t) for t in a.thresholds.split(",")]
    langs = ("zh", "en") if a.lang == "both" else (a.lang,)
    d = corpus_events.data_dir(a.data)
    if not d:
        print("model_cv: SKIPPED: no SMS corpora", file=sys.stderr)
        sys.exit(3)
    with tempfile.TemporaryDirectory() as tmp:
        aw = a.ads_weight or re.search(r"--ads-weight (\d+)", open(
            os.path.join(ROOT, "rules", "models", "build.sh"), encoding="utf-8").read()).group(1)
        subprocess.run([sys.executable, os.path.join(HERE, "model_data.py"), "--out", tmp,
                        "--part", "tune", "--ids", "--data", d, "--ads-weight", aw], check=True)
        scores = {}  # lang -> {event id: out-of-fold score}
        for lang in langs:
            lines = open(os.path.join(tmp, f"sms-{lang}.tsv"), encoding="utf-8").readlines()
            ids = open(os.path.join(tmp, f"sms-{lang}.ids"), encoding="utf-8").read().split()
            scores[lang] = {}
            fold = [fold_of(x.split("\t", 1)[1], i, a) for i, x in enumerate(lines)]
            for k in range(a.folds):
                tr, te = os.path.join(tmp, "train.tsv"), os.path.join(tmp, "test.tsv")
                with open(tr, "w", encoding="utf-8") as f:
                    f.writelines(x for i, x in enumerate(lines) if fold[i] != k)
                with open(te, "w", encoding="utf-8") as f:
                    f.writelines(x for i, x in enumerate(lines) if fold[i] == k)
                fzm = os.path.join(tmp, "fold.fzm")
                subprocess.run([a.fanzha, "model", "train", tr, "-o", fzm] + opts[lang],
                               check=True, stdout=subprocess.DEVNULL)
                out = subprocess.run([a.fanzha, "model", "eval", fzm, te, "--scores"],
                                     check=True, capture_output=True, text=True).stdout
                held = [i for i in range(len(lines)) if fold[i] == k]
                for i, row in zip(held, out.splitlines()):
                    scores[lang][ids[i]] = float(row.split("\t")[0])
        # the rules alone, on the tune part
        rules = os.path.join(tmp, "rules")
        shutil.copytree(a.rules, rules, ignore=lambda _d, names: [n for n in names
                                                                  if n == "model.yaml"])
        items = [(eid, text) for eid, text in
                 itertools.chain(corpus_events.corpus(d), corpus_events.spamhunter(d))
                 if part_of(eid) == "tune"]
        ev, vd = os.path.join(tmp, "events.ndjson"), os.path.join(tmp, "verdicts.ndjson")
        with open(ev, "w", encoding="utf-8") as f:
            for n, (eid, text) in enumerate(items):
                f.write(json.dumps({"id": eid, "ts": 1764288000000 + n * 1000, "type": "sms",
                                    "from": "+8610000000000", "to": "+8613900000000",
                                    "text": text}, ensure_ascii=False) + "\n")
        subprocess.run([a.fanzha, "replay", "--rules", rules, "--dedup-window-ms", "0",
                        "--log-level", "warn", "-o", "/dev/null", "--verdicts", vd, ev],
                       check=True)
        flagged = {}
        for line in open(vd, encoding="utf-8"):
            v = json.loads(line)
            flagged[v["event_id"]] = v["verdict"] in ("alert", "suppressed")
    for lang in langs:
        rows = {}
        print(f"sms-{lang}: trained with {' '.join(opts[lang])}")
        for eid, text in items:
            if eid not in scores[lang]:
                continue
            for cls in classes_of(eid, text):
                rows.setdefault(cls, []).append((flagged.get(eid, False), scores[lang][eid]))
        print(f"sms-{lang}: rules alone, and rules OR out-of-fold score >= t "
              f"({a.folds} folds of the tune part, by {a.folds_by})")
        print_threshold_table(rows, thresholds)
        if a.model_alone:
            print(f"sms-{lang}: out-of-fold score >= t alone (the 'rules' column is 0)")
            print_threshold_table({c: [(False, s) for _, s in r] for c, r in rows.items()},
                                  thresholds)
        print()


if __name__ == "__main__":
    main()
