#!/usr/bin/env python3
"""Write tests/quality-baseline.json from a fresh bench/quality.py run: the
current recall of every fraud class becomes its floor (rounded down to 3
decimals) and the current false-positive rate of every advertising and ham
class its ceiling (rounded up). Run it when a rule change deliberately moves
a class, and commit the result with the change.

    tests/make_quality_baseline.py [FANZHA_BIN]
"""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "bench"))
import corpus_events  # noqa: E402
import quality  # noqa: E402

fanzha = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "fanzha")
d = corpus_events.data_dir(None)
if not d:
    sys.exit("make_quality_baseline: no SMS corpora (set FANZHA_DATA or provide ../shared/data)")
items = quality.load_items(d)
verdicts, _ = quality.replay(fanzha, os.path.join(ROOT, "rules"), items)
got = quality.figures(quality.tally(items, verdicts, "all"))
base = {"note": "floors and ceilings for tests/quality_guard.py; regenerate with "
                "tests/make_quality_baseline.py", "classes": {}}
for cls, v in sorted(got.items()):
    if v["kind"] == "fraud":
        base["classes"][cls] = {"min_recall": math.floor(v["rate"] * 1000) / 1000}
    elif v["kind"] in ("ad", "ham"):
        base["classes"][cls] = {"max_rate": math.ceil(v["rate"] * 1000) / 1000}
with open(os.path.join(HERE, "quality-baseline.json"), "w") as f:
    json.dump(base, f, indent=1)
    f.write("\n")
print(json.dumps(base, indent=1))
