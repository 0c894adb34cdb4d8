#!/usr/bin/env python3
"""Quality guard for the shipped rules on the real SMS corpora. Two checks on
one replay of every corpus message (bench/quality.py's replay, dedup off):

1. Goals: on the check part (the third of every class that rules and models
   were not tuned on), every class in ENFORCED_GOALS must meet its goal in
   bench/quality.py's TARGETS (recall >= goal for fraud, false-positive rate
   <= goal for advertising and ham).
2. Regression: on the whole corpora, no class may fall below its floor or
   rise above its ceiling in tests/quality-baseline.json (written by
   tests/make_quality_baseline.py from the current rules).

    tests/quality_guard.py [FANZHA_BIN] [--goals enforced|all]

--goals all checks every goal, enforced or not (to see what is missing).
Exits 77 (reported by CTest as skipped) when the corpora are absent.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "bench"))
import corpus_events  # noqa: E402
import quality  # noqa: E402

# The classes whose check-part goal fails the guard: the one place to switch
# a goal on. The others are reported ("not enforced") but do not fail; they
# are the goals the typology rules alone do not reach, which the learned
# scorer's rules (rules/*/model.yaml) are meant to reach. Move a class here
# when the shipped rules meet its goal on the check part.
ENFORCED_GOALS = [
    "fbs/FR_Phishing_Bank",
    "fbs/FR_Phishing_Other",
    "spam80w/fraud_bank_impersonation",
    "uci/spam(fraud-like)",
    "uci/ham",
    "spamhunter/Ads",
    "fbs/AD_Network_service",
    "fbs/AD_Other",
    "fbs/AD_Real_estate",
    "fbs/AD_Retail",
    "spam80w/ad_jobs",
    "spam80w/ad_real_estate",
    "spam80w/ad_services",
    "spam80w/ad_used_cars",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fanzha", nargs="?", default=os.path.join(ROOT, "build", "fanzha"))
    ap.add_argument("--goals", choices=["enforced", "all"], default="enforced")
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "quality-baseline.json"))
    a = ap.parse_args()
    unknown = [c for c in ENFORCED_GOALS if quality.TARGETS.get(c, ("info",))[0] == "info"]
    if unknown:
        print(f"quality_guard: ENFORCED_GOALS names classes without a goal: {unknown}")
        return 1
    d = corpus_events.data_dir(None)
    if not d:
        print("quality_guard: SKIPPED: the SMS corpora are not available "
              "(set FANZHA_DATA or provide ../shared/data)")
        return 77
    with open(a.baseline) as f:
        base = json.load(f)
    items = quality.load_items(d)
    verdicts, _ = quality.replay(a.fanzha, a.rules, items)

    bad = []
    check = quality.figures(quality.tally(items, verdicts, "check"))
    for cls, f in check.items():
        if f["met"] is None:
            continue
        what, goal, met = quality.judge(f["kind"], f["target"], f["rate"])
        val = f"{f['rate']:.3f}" if f["kind"] == "fraud" else f"{f['rate'] * 100:.2f}%"
        enforced = a.goals == "all" or cls in ENFORCED_GOALS
        state = "met" if met else ("MISSED" if enforced else "missed, not enforced")
        print(f"quality_guard: check part: {cls}: {what} {val} (goal {goal}): {state}")
        if not met and enforced:
            bad.append(f"{cls}: check-part {what} {val} misses its goal {goal}")

    whole = quality.figures(quality.tally(items, verdicts, "all"))
    for cls, lim in base["classes"].items():
        if cls not in whole:
            bad.append(f"{cls}: missing from the measurement")
            continue
        rate = whole[cls]["rate"]
        if "min_recall" in lim and rate < lim["min_recall"]:
            bad.append(f"{cls}: recall {rate:.3f} < floor {lim['min_recall']:.3f} "
                       f"(regression against {os.path.basename(a.baseline)})")
        if "max_rate" in lim and rate > lim["max_rate"]:
            bad.append(f"{cls}: false positives {rate * 100:.2f}% > ceiling "
                       f"{lim['max_rate'] * 100:.2f}% (regression against "
                       f"{os.path.basename(a.baseline)})")
    for b in bad:
        print("quality_guard: FAILED:", b)
    print(f"quality_guard: {len(ENFORCED_GOALS) if a.goals == 'enforced' else 'all'} goals "
          f"enforced on the check part, {len(base['classes'])} classes against the baseline: "
          f"{len(bad)} failure(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
