#!/usr/bin/env python3
"""Peer: what a team might write instead of fanzha - a Python consumer
(confluent-kafka) applying `re` over the same rules' patterns.

    bench/peer_python.py --brokers B --group G --input T --output T2 --count N
                         [--rules rules]

Loads every enabled rule under --rules: each regex pattern is compiled with
Python's `re` (flags: caseless -> re.I, dotall -> re.S) and tried in turn
on its field (one alternation of all of them is 20 times slower in `re`,
which tries every branch at every position); list rules (literals, e.g. phishing
domains) become a set, checked against the domain-like words of the text
(what a Python author would do: `re` over 50,000 alternatives is not
usable). Each consumed event is decoded with json.loads; an event whose
text (or from / to) matches any pattern is an alert and is produced to
--output as a small JSON record. Offsets are committed asynchronously
every second, like fanzha's default.

What it does not do, and fanzha does: rule conditions (p1 and not
official), normalised views (full-width, traditional -> simplified, case
folding beyond re.I), word-boundary handling of CJK, per-rule results (it
stops at the first match), dedup and campaigns, interception, statistics,
dead letters, at-least-once (it commits what it consumed, not what was
acknowledged) and hot reload. So it does less work than fanzha; its
events/s is an upper bound for this approach.

Prints one line: "python-peer: N events, X events/s, A alerts".
"""
import argparse
import json
import os
import re
import sys
import time

import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

FLAGS = {"caseless": re.I, "dotall": re.S, "multiline": re.M}
DOMAIN = re.compile(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}")


def load(rules_dir):
    by_field = {"text": [], "from": [], "to": []}
    literals = set()
    skipped = 0
    for root, _, files in os.walk(rules_dir):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            doc = yaml.safe_load(open(os.path.join(root, name), encoding="utf-8")) or {}
            for r in doc.get("rules", []):
                if r.get("status", "enabled") != "enabled":
                    continue
                if "list" in r:
                    path = os.path.join(rules_dir, r["list"])
                    with open(path, encoding="utf-8") as f:
                        for line in f:
                            w = line.strip().lower()
                            if w and not w.startswith("#"):
                                literals.add(w)
                    continue
                flags = 0
                for fl in r.get("flags", []):
                    flags |= FLAGS.get(fl, 0)
                pats = list(r.get("patterns", [])) + ([r["pattern"]] if "pattern" in r else [])
                for p in pats:
                    if isinstance(p, dict):
                        if p.get("name") in ("official", "safe") or "not " + p.get("name", "?") in \
                                r.get("condition", ""):
                            continue  # exclusions: the peer has no conditions
                        p = p.get("pattern", "")
                    try:
                        re.compile(p, flags)
                    except re.error:
                        skipped += 1
                        continue
                    for field in r.get("fields", ["text"]):
                        if field in by_field:
                            by_field[field].append(re.compile(p, flags))
    compiled = {f: ps for f, ps in by_field.items() if ps}
    n = sum(len(ps) for ps in by_field.values())
    return compiled, literals, n, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--rules", default="rules")
    a = ap.parse_args()
    pats, literals, npat, skipped = load(a.rules)
    print(f"python-peer: {npat} regex patterns ({skipped} not valid in re), {len(literals)} "
          f"literals", file=sys.stderr)
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    p = Producer({"bootstrap.servers": a.brokers, "linger.ms": 5, "enable.idempotence": True})
    c.subscribe([a.input])
    n = alerts = 0
    t0 = None
    last_commit = time.monotonic()
    while n < a.count:
        msgs = c.consume(num_messages=1000, timeout=0.5)
        for m in msgs:
            if m.error():
                continue
            if t0 is None:
                t0 = time.monotonic()
            n += 1
            try:
                ev = json.loads(m.value())
            except ValueError:
                continue
            hit = False
            for field, rxs in pats.items():
                v = ev.get(field)
                if isinstance(v, str) and any(rx.search(v) for rx in rxs):
                    hit = True
                    break
            text = ev.get("text")
            if not hit and isinstance(text, str) and literals:
                hit = any(d in literals for d in DOMAIN.findall(text.lower()))
            if hit:
                alerts += 1
                p.produce(a.output, json.dumps({"event_id": ev.get("id"), "alert": True}), m.key())
        p.poll(0)
        if time.monotonic() - last_commit >= 1.0:
            c.commit(asynchronous=True)
            last_commit = time.monotonic()
    p.flush(60)
    el = time.monotonic() - t0
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:  # nothing consumed since the last commit
        if e.args[0].code() != KafkaError._NO_OFFSET:
            raise
    c.close()
    print(f"python-peer: {n} events, {el:.3f} s, {n / el:.0f} events/s, {alerts} alerts")


if __name__ == "__main__":
    main()
