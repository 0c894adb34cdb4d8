#!/usr/bin/env python3
"""Choose a model term's min_score: rules + model per class, for a range of thresholds.

    bench/model_sweep.py [--fanzha BIN] [--rules DIR] [--data DIR] [--part tune|check]
                         [--model models/sms-zh.fzm] [--thresholds 0.3,0.4,...]

Replays the corpora's part (default "tune": choose thresholds there, never
on "check") once through the rules with `--verdicts`; every verdict carries
the scores of the models its event was scored with (lazy: an event is
scored when a rule's outcome depends on it; with the shipped model rules,
every text of their language that passes the rule's cue gate). For each
threshold it prints, per
quality class of that model's language, the share flagged by "the rules
other than the model rules, or the model's score >= threshold" - what
bench/quality.py would measure with that min_score - and the target.
Model rules are the ones in */model.yaml (ids "<lang>.model.*").
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import corpus_events  # noqa: E402
from quality import classes_of, part_of, print_threshold_table  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fanzha", default=os.path.join(ROOT, "build", "fanzha"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--data")
    ap.add_argument("--part", choices=["tune", "check"], default="tune")
    ap.add_argument("--model", action="append",
                    help="model file as the rules name it (default: both shipped models)")
    ap.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95")
    a = ap.parse_args()
    models = a.model or ["models/sms-zh.fzm", "models/sms-en.fzm"]
    thresholds = [float(t) for t in a.thresholds.split(",")]
    d = corpus_events.data_dir(a.data)
    if not d:
        print("model_sweep: SKIPPED: no SMS corpora", file=sys.stderr)
        sys.exit(3)
    items = [(eid, text) for eid, text in
             itertools.chain(corpus_events.corpus(d), corpus_events.spamhunter(d))
             if part_of(eid) == a.part]
    with tempfile.TemporaryDirectory() as tmp:
        ev_path = os.path.join(tmp, "events.ndjson")
        vd_path = os.path.join(tmp, "verdicts.ndjson")
        with open(ev_path, "w", encoding="utf-8") as f:
            for n, (eid, text) in enumerate(items):
                f.write(json.dumps({"id": eid, "ts": 1764288000000 + n * 1000, "type": "sms",
                                    "from": "+8610000000000", "to": "+8613900000000",
                                    "text": text}, ensure_ascii=False) + "\n")
        subprocess.run([a.fanzha, "replay", "--rules", a.rules, "--dedup-window-ms", "0",
                        "--log-level", "warn", "-o", "/dev/null", "--verdicts", vd_path,
                        ev_path], check=True)
        verdicts = [json.loads(line) for line in open(vd_path, encoding="utf-8")]
    texts = dict(items)
    for model in models:
        rows = {}  # class -> list of (flagged by other rules, score or None)
        for v in verdicts:
            score = None
            for m in v.get("models", []):
                if m["file"] == model:
                    score = m["score"]
            if score is None:
                continue
            other = any(".model." not in r for r in v["rules"])
            for cls in classes_of(v["event_id"], texts[v["event_id"]]):
                rows.setdefault(cls, []).append((other, score))
        print(f"{model} ({a.part} part): share flagged by the other rules OR score >= t")
        print_threshold_table(rows, thresholds)
        print()


if __name__ == "__main__":
    main()
