#!/usr/bin/python3
"""Peer: what an operator on the JVM would pick instead of fanzha - a Kafka
Streams 4.x application (bench/peers/kstreams) applying java.util.regex
over the same rules' patterns.

    bench/peer_kstreams.py --brokers B --input T --output T2 --count N
                           [--group G] [--rules rules] [--threads cores]
                           [--guarantee at_least_once] [--literals set]
    bench/peer_kstreams.py --measure-literals EVENTS.ndjson [--rules rules]

Loads every enabled rule under --rules the way bench/peer_python.py does
(exclusion terms dropped: the peer has no conditions) and hands the
patterns to the Java application as a JSON file; each regex is compiled
with java.util.regex (caseless -> CASE_INSENSITIVE, ASCII only like
Hyperscan without ucp; dotall -> DOTALL) and tried in turn on its field,
stopping at the first match; the ones Pattern.compile refuses are skipped
and counted (of the shipped rules' 411 it refused none when this was
written). The literal lists (50,286 phishing domains) are checked as whole
names, like fanzha's list_match: word: every run of [a-z0-9_.-] in the
lower-cased text, and each part of it between dots, looked up in a
HashSet. Measured with --measure-literals on the 17,060 SMS texts of
`bench/gen.py --count 20000 --seed 1`, one thread: the set lookup did 2.6
million texts/s, one alternation Pattern of all the literals 204 texts/s
(java.util.regex tries every branch at every position; it got through
1,712 texts in its 10 s rounds), with the same answers (and the same 1,276
hits on 2,000 made-up texts that name listed domains); so the set. For
scale, the 411 regexes in turn: 1,829 texts/s.

The topology: source(--input, byte[] key and value) -> mapValues (Jackson
readTree, the first matching pattern, then the literals) -> filter (hits)
-> to(--output, a small JSON record: event_id, rule). Kafka Streams'
defaults otherwise: a fresh application.id (--group) each run,
auto.offset.reset=earliest, processing.guarantee=at_least_once (commits
every 30 s and on close), --threads stream threads (default: the cores).
The application counts the records it has processed; at --count it closes
(flushing the producer, committing). Events/s: from the first record
processed to the --count-th, so neither the JVM's start nor the group join
nor the close (the producer's last flush; printed on stderr) is in it.

What it does not do, and fanzha does: rule conditions (p1 and not
official), normalised views (full-width, traditional -> simplified, case
folding beyond ASCII), fanzha's \\b next to CJK (java.util.regex counts
CJK characters as word characters, Hyperscan without ucp does not),
per-rule results (it stops at the first match), dedup and campaigns,
interception, statistics, dead letters (a record that is not JSON is
dropped) and hot reload. At-least-once it does (Kafka Streams commits
after the producer has flushed). So it does less work than fanzha; its
events/s is an upper bound for this approach.

Prints one line: "kstreams-peer: N events, X s, Y events/s, A alerts,
P patterns (R refused by java.util.regex), L literals".
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peers", "kstreams")
JAR = os.path.join(PEER, "target", "kstreams-peer.jar")


def load(rules_dir):
    """(patterns, literals, literal rule id): the same terms as peer_python.load()."""
    pats, literals, lit_rule = [], [], None
    seen = set()

    def add_list(rel, rid):
        nonlocal lit_rule
        lit_rule = lit_rule or rid
        with open(os.path.join(rules_dir, rel), encoding="utf-8") as f:
            for line in f:
                w = line.strip().lower()
                if w and not w.startswith("#") and w not in seen:
                    seen.add(w)
                    literals.append(w)

    for root, dirs, files in os.walk(rules_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            doc = yaml.safe_load(open(os.path.join(root, name), encoding="utf-8")) or {}
            for r in doc.get("rules") or []:
                if r.get("status", "enabled") != "enabled":
                    continue
                rid = r.get("id", name)
                if "list" in r:
                    add_list(r["list"], rid)
                    continue
                flags = r.get("flags", [])
                flags = [flags] if isinstance(flags, str) else list(flags)
                for p in list(r.get("patterns") or []) + ([r["pattern"]] if "pattern" in r else []):
                    if isinstance(p, dict):
                        if p.get("name") in ("official", "safe") or \
                                "not " + p.get("name", "?") in r.get("condition", ""):
                            continue  # exclusions: the peer has no conditions
                        if "list" in p:
                            add_list(p["list"], rid)
                            continue
                        p = p.get("pattern")
                        if not p:
                            continue
                    for field in r.get("fields", ["text"]):
                        if field in ("text", "from", "to"):
                            pats.append({"rule": rid, "field": field, "regex": p, "flags": flags})
    return pats, literals, lit_rule or "list"


def jar(build):
    if not shutil.which("java"):
        sys.exit("kstreams-peer: java not found (apt-get install openjdk-17-jdk-headless maven)")
    if build or not os.path.exists(JAR):
        if not shutil.which("mvn"):
            sys.exit("kstreams-peer: the jar is not built and mvn is not found "
                     "(apt-get install maven; bench/peers/kstreams/build.sh)")
        print("kstreams-peer: building bench/peers/kstreams (Maven)", file=sys.stderr)
        p = subprocess.run(["bash", os.path.join(PEER, "build.sh")], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"kstreams-peer: build failed:\n{p.stderr[-3000:]}")
    return JAR


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers")
    ap.add_argument("--group", help="application.id (default: a fresh kspeer-XXXXXX)")
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--count", type=int)
    ap.add_argument("--rules", default="rules")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="num.stream.threads (default: the cores)")
    ap.add_argument("--guarantee", default="at_least_once",
                    choices=["at_least_once", "exactly_once_v2"])
    ap.add_argument("--literals", default="set", choices=["set", "alternation"])
    ap.add_argument("--java-opts", default="", help="JVM options, e.g. -Xmx1g")
    ap.add_argument("--timeout", type=int, default=900, help="seconds to wait for --count")
    ap.add_argument("--build", action="store_true", help="rebuild the jar first")
    ap.add_argument("--measure-literals", metavar="EVENTS",
                    help="no Kafka: time the literal set against one alternation on the "
                         "texts of this NDJSON file")
    a = ap.parse_args()
    if not a.measure_literals and not (a.brokers and a.input and a.output and a.count):
        ap.error("--brokers, --input, --output and --count are required")
    j = jar(a.build)
    pats, literals, lit_rule = load(a.rules)
    with tempfile.TemporaryDirectory(prefix="kspeer-") as d:
        pf = os.path.join(d, "patterns.json")
        with open(pf, "w", encoding="utf-8") as f:
            json.dump({"patterns": pats, "literals": literals, "literal_rule": lit_rule}, f,
                      ensure_ascii=False)
        java = ["java", *a.java_opts.split(), "-jar", j]
        if a.measure_literals:
            p = subprocess.run(java + ["measure-literals", "--patterns", pf, "--events",
                                       a.measure_literals], capture_output=True, text=True)
            sys.stderr.write(p.stderr)
            sys.stderr.flush()
            if p.returncode != 0:
                sys.exit(f"kstreams-peer: measure-literals failed ({p.returncode})")
            for line in p.stdout.splitlines():
                if line.startswith("MEASURE"):
                    print("kstreams-peer: " + line[len("MEASURE "):])
            return
        group = a.group or f"kspeer-{uuid.uuid4().hex[:6]}"
        p = subprocess.run(java + ["run", "--brokers", a.brokers, "--app-id", group,
                                   "--input", a.input, "--output", a.output,
                                   "--count", str(a.count), "--patterns", pf,
                                   "--threads", str(a.threads), "--guarantee", a.guarantee,
                                   "--literals", a.literals, "--timeout-s", str(a.timeout)],
                           stdout=subprocess.PIPE, text=True)
    out = p.stdout
    if p.returncode != 0:
        sys.exit(f"kstreams-peer: the application failed ({p.returncode})")
    pm = re.search(r"PATTERNS compiled=(\d+) refused=(\d+) literals=(\d+)", out)
    rm = re.search(r"RESULT processed=(\d+) seconds=([\d.]+) alerts=(\d+) close_seconds=([\d.]+)",
                   out)
    if not pm or not rm:
        sys.exit(f"kstreams-peer: no result from the application:\n{out[-2000:]}")
    n, secs, alerts, close = int(rm.group(1)), float(rm.group(2)), int(rm.group(3)), rm.group(4)
    print(f"kstreams-peer: {len(pats)} regex patterns ({pm.group(2)} refused by java.util.regex), "
          f"{pm.group(3)} literals; {a.threads} stream threads, {a.guarantee}; close took "
          f"{close} s", file=sys.stderr)
    print(f"kstreams-peer: {n} events, {secs:.3f} s, {n / secs:.0f} events/s, {alerts} alerts, "
          f"{pm.group(1)} patterns ({pm.group(2)} refused by java.util.regex), "
          f"{pm.group(3)} literals")


if __name__ == "__main__":
    main()
