#!/usr/bin/env python3
"""Turn the real SMS corpora into fanzha events (NDJSON on stdout).

    bench/corpus_events.py [--data DIR] [--repeat N]

DIR defaults to $FANZHA_DATA or ../shared/data beside the repository. Each
event's id names its origin, "<corpus>/<file>:<line>", so a verdict can be
traced back to its class (FR_* fraud, AD_* advertising, ham/spam, ...).
sms-zh-fbs separates words with spaces; spaces between CJK characters are
removed so that rules see the text as it was sent. Exits 3 (and says so)
when the data is absent, so callers can report a skip.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
SPACE_BETWEEN_CJK = re.compile(rf"(?<={CJK}) +(?={CJK})")


def data_dir(arg):
    for d in (arg, os.environ.get("FANZHA_DATA"), os.path.join(ROOT, "..", "shared", "data")):
        if d and os.path.isdir(d):
            return d
    return None


def corpus(d):
    """Yields (id, text)."""
    uci = os.path.join(d, "sms-en-uci", "SMSSpamCollection")
    if os.path.exists(uci):
        with open(uci, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                label, _, text = line.rstrip("\n").partition("\t")
                yield f"uci/{label}:{i}", text
    fbs = os.path.join(d, "sms-zh-fbs")
    for name in sorted(os.listdir(fbs)) if os.path.isdir(fbs) else []:
        with open(os.path.join(fbs, name), encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                text = SPACE_BETWEEN_CJK.sub("", line.strip())
                if text:
                    yield f"fbs/{name[:-4]}:{i}", text
    s80 = os.path.join(d, "sms-zh-spam80w")
    for name in sorted(os.listdir(s80)) if os.path.isdir(s80) else []:
        with open(os.path.join(s80, name), encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3 and parts[2]:
                    yield f"spam80w/{name[:-4]}:{i}", parts[2]


def spamhunter(d):
    """Yields (id, text) for SpamHunter's labelled SMS, the id naming its label:
    "spamhunter/Fraud:<row>" or "spamhunter/Ads:<row>" (row of the CSV)."""
    sh = os.path.join(d, "sms-en-spamhunter", "labelled.csv")
    if os.path.exists(sh):
        import csv
        with open(sh, encoding="utf-8", errors="replace", newline="") as f:
            for i, row in enumerate(csv.reader(f), 1):
                if i > 1 and len(row) >= 3 and row[0] and row[2] in ("Fraud", "Ads"):
                    yield f"spamhunter/{row[2]}:{i}", row[0]


def more_corpora(d):
    """Yields (id, text): the corpora the quality tools leave out - SpamHunter's
    labelled SMS and every phishing domain of the blocklists, in a message."""
    sh = os.path.join(d, "sms-en-spamhunter", "labelled.csv")
    if os.path.exists(sh):
        import csv
        with open(sh, encoding="utf-8", errors="replace", newline="") as f:
            for i, row in enumerate(csv.reader(f), 1):
                if i > 1 and row and row[0]:
                    yield f"spamhunter:{i}", row[0]
    bl = os.path.join(d, "blocklists")
    for name in sorted(os.listdir(bl)) if os.path.isdir(bl) else []:
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(bl, name), encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                dom = line.strip()
                if dom:
                    yield (f"blocklist/{name[:-4]}:{i}",
                           f"Your account is on hold, verify now at https://{dom}/login")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--repeat", type=int, default=1, help="emit the corpus N times (ids get #k)")
    ap.add_argument("--every-corpus", action="store_true",
                    help="also SpamHunter and the blocklists' domains (differential tests)")
    a = ap.parse_args()
    d = data_dir(a.data)
    if not d:
        print("corpus_events: no data directory (set FANZHA_DATA); skipped", file=sys.stderr)
        sys.exit(3)
    out = sys.stdout
    ts = 1764288000000
    items = list(corpus(d))
    if a.every_corpus:
        items += list(more_corpora(d))
    for k in range(a.repeat):
        for n, (eid, text) in enumerate(items):
            if a.repeat > 1:
                eid = f"{eid}#{k}"
            ev = {"id": eid, "ts": ts + (k * len(items) + n) * 1000, "type": "sms",
                  "from": "+8610000000000", "to": "+8613900000000", "text": text}
            out.write(json.dumps(ev, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
