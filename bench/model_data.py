#!/usr/bin/env python3
"""Labelled training (or check) sets for the text scorer's models, from the corpora.

    bench/model_data.py --out DIR [--data DIR] [--part tune|check] [--ids] [--ads-weight N]

Writes DIR/sms-zh.tsv and DIR/sms-en.tsv, one example a line as
`fanzha model train` reads them: LABEL<TAB>TEXT, 1 = fraud, 0 = not fraud.
The texts are the events' texts (bench/corpus_events.py: fbs with the
spaces between CJK characters removed), and only the part named by --part
is written, split exactly as bench/quality.py splits it (part_of(): md5 of
the event id; "tune" is two thirds, "check" the rest). Models are trained
on "tune" only (rules/models/build.sh); "check" is for measuring them.

Which class is what:
  Chinese  1: fbs/FR_* , spam80w/fraud_bank_impersonation
           0: fbs/AD_* , spam80w/ad_*
  English  1: spamhunter/Fraud, uci/spam(fraud-like)  (bench/quality.py's FRAUD_LIKE cues)
           0: uci/ham, spamhunter/Ads
Left out, because their label says nothing about fraud or is mixed:
spam80w/fraud_loan (loan telemarketing labelled fraud by keyword: the same
pitches FBS labels AD_Loan; as positives they taught the model to flag loan,
car-loan and mortgage advertising), fbs/IL_* (illegal services: escort, fake IDs and invoices, gambling - neither
fraud nor advertising), fbs/Other, spam80w/spam_mixed (unlabelled spam) and
UCI spam that is not fraud-like (marketing, chat lines: some of it is scam,
some not). Tabs and line breaks inside a text become spaces (the
normalised view collapses white space anyway). Lines are written in corpus
order, so the same data gives the same bytes. --ads-weight N writes the
advertising examples (AD_*, ad_*, spamhunter/Ads) as "0*N": training counts
each N times, so the few advertising messages weigh against the many ham
ones (their false-positive target is the hard one). --ids also writes
DIR/sms-zh.ids and DIR/sms-en.ids: the event id of each line (for
bench/model_cv.py, which combines the model's scores with the rules').
"""
import argparse
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus_events  # noqa: E402
from quality import classes_of, part_of  # noqa: E402


def label_of(cls):
    """(language, label) of a quality class, or None when it is left out."""
    corpus, _, name = cls.partition("/")
    if corpus == "fbs":
        if name.startswith("FR_"):
            return "zh", 1
        if name.startswith("AD_"):
            return "zh", 0
        return None
    if corpus == "spam80w":
        if name == "fraud_bank_impersonation":
            return "zh", 1
        if name.startswith("ad_"):
            return "zh", 0
        return None
    if cls in ("spamhunter/Fraud", "uci/spam(fraud-like)"):
        return "en", 1
    if cls in ("uci/ham", "spamhunter/Ads"):
        return "en", 0
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for sms-zh.tsv and sms-en.tsv")
    ap.add_argument("--data")
    ap.add_argument("--part", choices=["tune", "check"], default="tune")
    ap.add_argument("--ids", action="store_true", help="also write the event id of each line")
    ap.add_argument("--ads-weight", type=int, default=1, help="training weight of advertising")
    a = ap.parse_args()
    d = corpus_events.data_dir(a.data)
    if not d:
        print("model_data: SKIPPED: no SMS corpora (set FANZHA_DATA or provide ../shared/data)",
              file=sys.stderr)
        sys.exit(3)
    os.makedirs(a.out, exist_ok=True)
    files = {lang: open(os.path.join(a.out, f"sms-{lang}.tsv"), "w", encoding="utf-8")
             for lang in ("zh", "en")}
    ids = {lang: open(os.path.join(a.out, f"sms-{lang}.ids"), "w", encoding="utf-8")
           for lang in ("zh", "en")} if a.ids else {}
    counts = {(lang, y): 0 for lang in ("zh", "en") for y in (0, 1)}
    for eid, text in itertools.chain(corpus_events.corpus(d), corpus_events.spamhunter(d)):
        if part_of(eid) != a.part:
            continue
        labels = {label_of(c) for c in classes_of(eid, text)} - {None}
        if len(labels) != 1:
            continue
        lang, y = labels.pop()
        clean = " ".join(text.replace("\t", " ").splitlines()).strip()
        if not clean:
            continue
        ad = "/AD_" in eid or "/ad_" in eid or eid.startswith("spamhunter/Ads")
        w = f"*{a.ads_weight}" if ad and a.ads_weight > 1 else ""
        files[lang].write(f"{y}{w}\t{clean}\n")
        if ids:
            ids[lang].write(eid + "\n")
        counts[(lang, y)] += 1
    for f in list(files.values()) + list(ids.values()):
        f.close()
    for lang in ("zh", "en"):
        print(f"model_data: {a.out}/sms-{lang}.tsv: {counts[(lang, 1)]} fraud, "
              f"{counts[(lang, 0)]} not fraud ({a.part} part)", file=sys.stderr)


if __name__ == "__main__":
    main()
