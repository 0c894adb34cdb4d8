#!/usr/bin/env python3
"""bench/model_cv.py's folds: a campaign's messages (the same wording with
another number or link) share a fold, other wordings spread over all folds,
and the folds are the same on every run (a fixed hash, no random seed).

    tests/model/cv_folds.py
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from model_cv import campaign_key, fold_of  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    a = argparse.Namespace(folds=4, folds_by="campaign")
    same = ["URGENT! Your mobile won a 2000 prize. Call 09061701461 to claim, code KL341",
            "URGENT! Your mobile won a 5000 prize. Call 09066364589 to claim, code KL341",
            "Urgent! your mobile won a 900 prize. call 0871 277 810 to claim code KL341"]
    if len({campaign_key(t) for t in same}) != 1:
        fail(f"one campaign, several keys: {[campaign_key(t) for t in same]}")
    links = ["Your parcel is on hold, pay the fee at https://dpd-fee.example.com/a1",
             "Your parcel is on hold, pay the fee at http://parcel-fee.example.net/zz9"]
    if campaign_key(links[0]) != campaign_key(links[1]):
        fail("the same lure with another link got another key")
    zh = ["【工商银行】您的账户存在异常，请致电95588123咨询", "【工商银行】您的账户存在异常，请致电4008123456咨询"]
    if campaign_key(zh[0]) != campaign_key(zh[1]):
        fail("the same Chinese lure with another number got another key")
    if campaign_key(same[0]) == campaign_key(links[0]):
        fail("two wordings share a key")
    folds = {fold_of(f"message number {w} about topic {w * 7}", 0, a)
             for w in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
                       "hotel", "india", "juliet", "kilo", "lima", "mike", "november")}
    if folds != {0, 1, 2, 3}:
        fail(f"14 wordings fell into folds {sorted(folds)} only")
    # fixed: md5 of the key, not Python's salted hash()
    if fold_of(same[0], 0, a) != fold_of(same[1], 99, a):
        fail("a campaign's messages in different folds")
    if [fold_of("x", i, argparse.Namespace(folds=4, folds_by="line")) for i in range(6)] != \
            [0, 1, 2, 3, 0, 1]:
        fail("--folds-by line is not line i mod --folds")
    print("[cv_folds] OK")


if __name__ == "__main__":
    main()
