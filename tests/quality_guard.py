#!/usr/bin/env python3
"""Regression guard for detection quality: runs bench/quality.py on the real
corpora and fails if any class got worse than tests/quality-baseline.json
allows (recall below its floor, or a false-positive rate above its ceiling).

    tests/quality_guard.py FANZHA_BIN

Exits 77 (reported by CTest as skipped) when the corpora are absent. When a
rule change improves a class, raise its floor in the baseline in the same
commit; the targets themselves are in bench/quality.py.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    fanzha = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "fanzha")
    with open(os.path.join(HERE, "quality-baseline.json")) as f:
        base = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "q.json")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "quality.py"),
                            "--fanzha", fanzha, "--json", out])
        if r.returncode == 3:
            print("quality_guard: SKIPPED: the SMS corpora are not available "
                  "(set FANZHA_DATA or provide ../shared/data)")
            return 77
        if r.returncode not in (0, 1):
            print(f"quality_guard: bench/quality.py failed ({r.returncode})")
            return 1
        with open(out) as f:
            got = json.load(f)["classes"]
    bad = []
    for cls, lim in base["classes"].items():
        if cls not in got:
            bad.append(f"{cls}: missing from the measurement")
            continue
        rate = got[cls]["rate"]
        if "min_recall" in lim and rate < lim["min_recall"]:
            bad.append(f"{cls}: recall {rate:.3f} < floor {lim['min_recall']:.3f}")
        if "max_rate" in lim and rate > lim["max_rate"]:
            bad.append(f"{cls}: false positives {rate * 100:.2f}% > ceiling "
                       f"{lim['max_rate'] * 100:.2f}%")
    for b in bad:
        print("quality_guard: REGRESSION:", b)
    print(f"quality_guard: {len(base['classes'])} classes checked, {len(bad)} regressed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
