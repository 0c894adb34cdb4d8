#!/usr/bin/python3
"""Peer: rsyslog with imkafka and omkafka and a regex filter (Debian
rsyslog-kafka), on the same broker and events as fanzha.

    bench/peer_rsyslog.py --brokers B --input T --output T2 --count N
                          [--rules rules] [--literals 1000]

rsyslog's re_match() takes POSIX extended regexes, without case folding:
of the rules' patterns it gets those that are valid ERE as written (no
\\b, \\w, \\s, \\d, no (?...) groups, no lazy quantifiers) and not caseless
- 141 of the 428 shipped ones, mostly Chinese - and, of the literal lists,
the first --literals entries as one `contains` array. An event (the whole
JSON line: rsyslog does not parse it) that matches any of them is written
unchanged to --output. Measured: the consumer group's committed offsets
(imkafka commits every 100 ms here) from the first commit to the end of
the topic.

It cannot: use most of the patterns, look at one field, apply conditions,
normalise text, deduplicate, intercept, count statistics, send bad events
to a dead-letter topic, or commit only what has been produced (imkafka
commits what it has consumed). Prints one line:
"rsyslog-peer: N events, X events/s, P patterns, L literals".
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import yaml
from confluent_kafka import Consumer, TopicPartition

NOT_ERE = re.compile(r"\\[bBwWsSdDpPQEkg]|\(\?|\*\?|\+\?|\?\?|\\x|\\u")


def patterns(rules_dir, nlit):
    regex, lits = [], []
    for f in sorted(glob.glob(os.path.join(rules_dir, "**", "*.yaml"), recursive=True)):
        for r in (yaml.safe_load(open(f, encoding="utf-8")) or {}).get("rules") or []:
            if r.get("status", "enabled") != "enabled":
                continue
            if "list" in r:
                with open(os.path.join(rules_dir, r["list"]), encoding="utf-8") as lf:
                    for line in lf:
                        w = line.strip().lower()
                        if w and not w.startswith("#") and len(lits) < nlit:
                            lits.append(w)
                continue
            fl = r.get("flags", [])
            fl = [fl] if isinstance(fl, str) else fl
            if "caseless" in fl:
                continue
            for p in ([r["pattern"]] if "pattern" in r else []) + [
                    x if isinstance(x, str) else x.get("pattern") for x in (r.get("patterns") or [])]:
                if p and not NOT_ERE.search(p):
                    regex.append(p)
    return regex, lits


def rs_str(s):
    """A RainerScript string constant ("$" must be escaped too)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def committed(c, topic, parts):
    got = c.committed([TopicPartition(topic, p) for p in parts], timeout=10)
    return sum(max(tp.offset, 0) for tp in got)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--rules", default="rules")
    ap.add_argument("--literals", type=int, default=1000)
    a = ap.parse_args()
    if not shutil.which("rsyslogd"):
        sys.exit("rsyslog-peer: rsyslogd not found (apt-get install rsyslog rsyslog-kafka)")
    regex, lits = patterns(a.rules, a.literals)
    group = f"rsyslog-peer-{uuid.uuid4().hex[:6]}"
    brokers = ", ".join(rs_str(b) for b in a.brokers.split(","))
    cond = " or ".join(f"re_match($msg, {rs_str(p)})" for p in regex)
    if lits:
        cond += " or ($msg contains [" + ", ".join(rs_str(x) for x in lits) + "])"
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "rsyslog.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f'''global(workDirectory="{d}" maxMessageSize="64k")
module(load="imkafka")
module(load="omkafka")
template(name="raw" type="string" string="%msg%")
ruleset(name="screen" queue.type="Direct") {{
  if {cond} then {{
    action(type="omkafka" broker=[{brokers}] topic={rs_str(a.output)} template="raw")
  }}
}}
input(type="imkafka" topic={rs_str(a.input)} broker=[{brokers}] consumergroup={rs_str(group)}
      ruleset="screen" confparam=["auto.offset.reset=smallest", "auto.commit.interval.ms=100"])
''')
        chk = subprocess.run(["rsyslogd", "-N1", "-f", conf], capture_output=True, text=True)
        if chk.returncode != 0:
            sys.exit(f"rsyslog-peer: config rejected:\n{chk.stderr[-2000:]}")
        # the committed offsets of rsyslog's group (this consumer never joins it)
        c = Consumer({"bootstrap.servers": a.brokers, "group.id": group})
        md = c.list_topics(a.input, timeout=10)
        parts = list(md.topics[a.input].partitions)
        end = 0
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(a.input, p), timeout=10)
            end += hi
        p = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(d, "pid")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        first = last = None
        deadline = time.monotonic() + 900
        try:
            while time.monotonic() < deadline:
                n = committed(c, a.input, parts)
                now = time.monotonic()
                if n > 0 and first is None:
                    first = (now, n)
                if n >= min(a.count, end):
                    last = (now, n)
                    break
                if p.poll() is not None:
                    sys.exit(f"rsyslog-peer: rsyslogd exited: {p.stderr.read()[-2000:]}")
                time.sleep(0.1)
        finally:
            p.terminate()
            p.wait(30)
            c.close()
    if not first or not last or last[0] <= first[0]:
        sys.exit("rsyslog-peer: did not finish the events")
    rate = (last[1] - first[1]) / (last[0] - first[0])
    print(f"rsyslog-peer: {last[1]} events, {rate:.0f} events/s, {len(regex)} patterns, "
          f"{len(lits)} literals")


if __name__ == "__main__":
    main()
