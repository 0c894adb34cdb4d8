#!/usr/bin/env python3
"""One database with mixed flags vs one per flag set, on the shipped rules.

    bench/flag_split.py [--rules DIR]

Extracts every regex of the rules with the flags fanzha compiles it with for
the normalised text view (UTF-8, single-match, caseless, plus the rule's
dotall/ucp/multiline), lower-cases the SMS corpora's texts (as the view
does), builds bench/flag_split.c with the system compiler and runs it.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FLAGS = {"caseless": 1, "dotall": 2, "multiline": 4, "ucp": 64}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pats = os.path.join(tmp, "patterns.tsv")
        n = 0
        with open(pats, "w") as out:
            for f in sorted(glob.glob(os.path.join(a.rules, "**", "*.yaml"), recursive=True)):
                for r in (yaml.safe_load(open(f)) or {}).get("rules") or []:
                    fl = r.get("flags", [])
                    fl = [fl] if isinstance(fl, str) else fl
                    bits = 32 | 8 | 1  # utf8, singlematch, caseless (normalised view)
                    for x in fl:
                        bits |= FLAGS.get(x, 0)
                    terms = ([r["pattern"]] if "pattern" in r else []) + [
                        p if isinstance(p, str) else p.get("pattern")
                        for p in (r.get("patterns") or [])]
                    for p in terms:
                        if p:
                            out.write(f"{bits}\t{p}\n")
                            n += 1
        texts = os.path.join(tmp, "texts.txt")
        with open(texts, "w") as out:
            r = subprocess.run([sys.executable, os.path.join(HERE, "corpus_events.py")],
                               capture_output=True, text=True)
            if r.returncode == 3:
                print("flag_split: SKIPPED: no SMS corpora")
                return 3
            for line in r.stdout.splitlines():
                out.write(json.loads(line)["text"].lower().replace("\n", " ") + "\n")
        exe = os.path.join(tmp, "flag_split")
        subprocess.run(["cc", "-O2", os.path.join(HERE, "flag_split.c"), "-o", exe, "-lhs"],
                       check=True)
        print(f"flag_split: {n} patterns from {os.path.relpath(a.rules, ROOT)}")
        return subprocess.run([exe, pats, texts]).returncode


if __name__ == "__main__":
    sys.exit(main())
