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
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

fanzha = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "fanzha")
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "q.json")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "quality.py"),
                        "--fanzha", fanzha, "--json", out], stdout=subprocess.DEVNULL)
    if r.returncode not in (0, 1):
        sys.exit(f"make_quality_baseline: bench/quality.py failed ({r.returncode})")
    got = json.load(open(out))["classes"]
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
