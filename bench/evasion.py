#!/usr/bin/env python3
"""Detection under evasion: the fraud messages of the corpora, disguised.

    bench/evasion.py [--fanzha BIN] [--rules DIR] [--data DIR] [--part check|tune|all]
                     [--markdown] [--guard]

Fraudsters rewrite a lure so that keyword rules read past it: digits for
letters (acc0unt), Cyrillic or Greek letters that look Latin (pаypal), a
capital I for an l (PayPaI), zero-width characters, full-width letters,
separators between Chinese characters. This script takes every message of
the fraud classes (bench/quality.py: fbs/FR_*, spamhunter/Fraud,
uci/spam(fraud-like)), rewrites it with each transform below, replays the
originals and the rewrites through fanzha (dedup off) and prints, per
language, the share still flagged next to the share of the originals.

Each transform changes some words of a message, chosen at random with a
seed made of the transform's name and the message id, so a run is
repeatable byte for byte. A word is a run of ASCII letters of at least
four; Chinese transforms act on pairs of Han characters. Two transforms
are shown that fanzha does not undo (a dot inside a word "ver.ify", a
symbol or emoji between Han characters "微★信"): there the rules and the
model see different words, and the table says how much that costs. One
is undone in part: spaced-out letters ("v e r i f y") are written together
again, but a spaced-out word next to another one or to a one-letter word
("y o u r a c c o u n t", "a p r i z e") is read as one word
("youraccount", "aprize"): nothing in the text says where one ends.

--guard exits 1 when, on the part chosen, a transform that fanzha undoes
(UNDONE) keeps less than its floor (GUARD_KEEP, or PARTLY's) of what the
originals reach in either language: the CI's evasion guard
(tests/CMakeLists.txt, rules.evasion_guard).
"""
import argparse
import hashlib
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import corpus_events  # noqa: E402
import quality  # noqa: E402

WORD = re.compile(r"[A-Za-z]{4,}")
HAN_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")
LEET = {"o": "0", "e": "3", "a": "4", "i": "1", "s": "5", "l": "1", "t": "7", "b": "8",
        "O": "0", "E": "3", "A": "4", "I": "1", "S": "5", "L": "1", "T": "7", "B": "8"}
# Cyrillic and Greek letters whose UTS #39 skeleton is the Latin letter
LOOKS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
         "x": "\u0445", "y": "\u0443", "i": "\u0456", "A": "\u0391", "B": "\u0392",
         "E": "\u0395", "K": "\u039a", "M": "\u039c", "H": "\u0397", "O": "\u039f",
         "P": "\u03a1", "T": "\u03a4", "X": "\u03a7", "C": "\u0421"}
SHARE = 0.5  # of the words (or Han pairs) a transform rewrites


def inner(word, table, rnd):
    """word with one of its letters after the first that table maps, mapped."""
    spots = [i for i in range(1, len(word)) if word[i] in table]
    if not spots:
        return word
    i = rnd.choice(spots)
    return word[:i] + table[word[i]] + word[i + 1:]


def capital_i(word, rnd):
    spots = [i for i in range(1, len(word)) if word[i] == "l" and word[i - 1].islower()]
    if not spots:
        return word
    i = rnd.choice(spots)
    return word[:i] + "I" + word[i + 1:]


def zero_width(word, rnd):
    i = rnd.randrange(1, len(word))
    return word[:i] + "\u200b" + word[i:]


def full_width(word, rnd):
    return "".join(chr(ord(c) + 0xfee0) for c in word)


def spaced(word, rnd):
    return " ".join(word)


def dotted(word, rnd):
    i = rnd.randrange(2, len(word) - 1)
    return word[:i] + "." + word[i:]


def han_separator(pair, rnd):
    return pair[0] + rnd.choice([" ", "*", ".", "|", "\u3000", "-"]) + pair[1]


def han_symbol(pair, rnd):
    return pair[0] + rnd.choice(["\u2605", "\u2606", "\u2665", "\u2764", "\u25c6", "\u25cf",
                                 "\U0001f495", "\U0001f338", "\u203b"]) + pair[1]


# name: (what it rewrites, how, whether fanzha undoes it)
TRANSFORMS = {
    "digits for letters (acc0unt)": (WORD, lambda w, r: inner(w, LEET, r), True),
    "look-alike letters (pаypal)": (WORD, lambda w, r: inner(w, LOOKS, r), True),
    "capital I for l (PayPaI)": (WORD, capital_i, True),
    "zero-width space inside words": (WORD, zero_width, True),
    "full-width letters (ｖｅｒｉｆｙ)": (WORD, full_width, True),
    "separators between Han (微 信)": (HAN_PAIR, han_separator, True),
    "symbols between Han (微★信)": (HAN_PAIR, han_symbol, False),
    "spaced-out letters (v e r i f y)": (WORD, spaced, True),
    "a dot inside words (ver.ify)": (WORD, dotted, False),
}
UNDONE = [n for n, t in TRANSFORMS.items() if t[2]]
GUARD_KEEP = 0.95
# undone in part (the docstring): their own floor
PARTLY = {"spaced-out letters (v e r i f y)": 0.90}


def rewrite(name, eid, text):
    pattern, fn, _ = TRANSFORMS[name]
    rnd = random.Random(hashlib.md5(f"{name}\0{eid}".encode()).hexdigest())

    def one(m):
        return fn(m.group(0), rnd) if rnd.random() < SHARE else m.group(0)

    return pattern.sub(one, text)


def language(cls):
    return "zh" if cls.startswith("fbs/") else "en"


def fraud_items(items, part):
    """(id, text, language) of the fraud classes' messages of part."""
    out = []
    for eid, text in items:
        if part != "all" and quality.part_of(eid) != part:
            continue
        langs = {language(c) for c in quality.classes_of(eid, text)
                 if quality.TARGETS.get(c, ("", 0))[0] == "fraud"
                 and (c.startswith("fbs/FR_") or c.startswith("spamhunter/")
                      or c.startswith("uci/"))}
        for lang in langs:
            out.append((eid, text, lang))
    return out


def measure(fanzha, rules, items, part):
    """{transform or "original": {lang: [messages, flagged, changed]}}."""
    fr = fraud_items(items, part)
    events = [(f"orig|{eid}", text) for eid, text, _ in fr]
    changed = {}
    for k, name in enumerate(TRANSFORMS):
        for eid, text, _ in fr:
            t = rewrite(name, eid, text)
            events.append((f"t{k}|{eid}", t))
            changed[(k, eid)] = t != text
    verdicts, _ = quality.replay(fanzha, rules, events)
    res = {}
    for key, label in [("orig", "original")] + [(f"t{k}", n) for k, n in enumerate(TRANSFORMS)]:
        row = res.setdefault(label, {})
        for eid, text, lang in fr:
            s = row.setdefault(lang, [0, 0, 0])
            s[0] += 1
            s[1] += quality.flagged(verdicts.get(f"{key}|{eid}", {}))
            if key != "orig":
                s[2] += changed[(int(key[1:]), eid)]
    return res


def table(res, markdown):
    langs = ("en", "zh")
    names = {"en": "English fraud", "zh": "Chinese fraud"}
    lines = []
    if markdown:
        lines.append("| text | undone | " + " | ".join(
            f"{names[g]}: flagged | kept" for g in langs) + " |\n")
        lines.append("|---|---|" + "---:|---:|" * len(langs) + "\n")
    else:
        lines.append(f"{'text':40s} {'undone':6s} " + " ".join(
            f"{g + ' flagged':>12s} {g + ' kept':>8s} {g + ' changed':>10s}" for g in langs) + "\n")
    base = res["original"]
    for label, row in res.items():
        undone = "-" if label == "original" else (
            "partly" if label in PARTLY else "yes" if TRANSFORMS[label][2] else "no")
        cells = []
        for g in langs:
            n, f, ch = row.get(g, [0, 0, 0])
            rate = f / n if n else 0.0
            b = base[g][1] / base[g][0] if base.get(g) and base[g][0] else 0.0
            keep = rate / b if b else 0.0
            if markdown:
                cells.append(f"{rate:.3f} ({f}/{n}) | {keep:.3f}")
            else:
                cells.append(f"{rate:12.3f} {keep:8.3f} {ch:10d}")
        if markdown:
            lines.append(f"| {label} | {undone} | " + " | ".join(cells) + " |\n")
        else:
            lines.append(f"{label:40s} {undone:6s} " + " ".join(cells) + "\n")
    return lines


def guard(res):
    """The undone transforms that keep less than their floor: [(name, lang, keep, floor)]."""
    bad = []
    for name in UNDONE:
        floor = PARTLY.get(name, GUARD_KEEP)
        for g, (n, f, _) in res[name].items():
            b = res["original"][g]
            keep = (f / n) / (b[1] / b[0]) if n and b[1] else 1.0
            if keep < floor:
                bad.append((name, g, keep, floor))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quality.common_args(ap, "check")
    ap.add_argument("--guard", action="store_true",
                    help=f"exit 1 when an undone transform keeps < {GUARD_KEEP} of the recall")
    a = ap.parse_args()
    d = corpus_events.data_dir(a.data)
    if not d:
        print("evasion: SKIPPED: no SMS corpora (set FANZHA_DATA or provide ../shared/data)")
        sys.exit(77 if a.guard else 3)  # 77: CTest's skip
    res = measure(a.fanzha, a.rules, quality.load_items(d), a.part)
    print(f"evasion: {a.part} part, rules {os.path.relpath(a.rules, ROOT)}; kept = flagged "
          "rewritten / flagged originals; changed = messages the transform altered")
    sys.stdout.write("".join(table(res, a.markdown)))
    if a.guard:
        bad = guard(res)
        for name, g, keep, floor in bad:
            print(f"evasion: FAIL: {name}: {g} keeps {keep:.3f} < {floor}")
        if bad:
            sys.exit(1)
        print(f"evasion: ok: every undone transform keeps >= {GUARD_KEEP} in both languages "
              f"(those undone in part: {', '.join(f'{k} >= {v}' for k, v in PARTLY.items())})")


if __name__ == "__main__":
    main()
