#!/usr/bin/python3
"""bench/aggregate_cost.py - what behavioural (aggregate) rules cost.

    bench/aggregate_cost.py [--events N] [--rounds R] [--seed S]
                            [--out docs/benchmarks] [--report aggregates.md]

Every event an aggregate rule counts travels through the route topic to the
decide task that owns its window (docs/rules.md, "Cost and state"). This
measures that cost on bench/gen.py's traffic (85 % SMS, 5 % calls, 8 %
transfers, 2 % reports; 5 % fraud), with three rule sets:

  without     the shipped rules without rules/common/behaviour.yaml
  shipped     the shipped rules (behaviour.yaml: SIM box, robocall, money
              mule, SMS blast of messages with a link or a phone number)
  unfiltered  the shipped rules plus an SMS-blast rule over every SMS

For each: `fanzha replay` events/s (in process, no route hop), and `fanzha
run` with one stream thread on the test broker (FANZHA_BROKER, default
127.0.0.1:9092; one input topic of 6 partitions produced once, a fresh group
per run): events/s from ready to caught up, and the share of events routed.
Rounds alternate the rule sets; the report gives medians and every round,
with the machine and the command lines.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402

UNFILTERED = """rules:
  - id: bench.behaviour.sms-blast-all
    category: sms_blast
    severity: medium
    aggregate: {type: sms, key: from, window: 5m, distinct: to, min_distinct: 200}
"""


def say(*a):
    print("aggregate_cost:", *a, file=sys.stderr, flush=True)


def rule_sets(tmp):
    out = {}
    for name in ("without", "shipped", "unfiltered"):
        d = os.path.join(tmp, f"rules-{name}")
        shutil.copytree(os.path.join(ROOT, "rules"), d)
        if name == "without":
            os.remove(os.path.join(d, "common", "behaviour.yaml"))
        if name == "unfiltered":
            with open(os.path.join(d, "common", "behaviour-all-sms.yaml"), "w") as f:
                f.write(UNFILTERED)
        out[name] = d
    return out


def key_of(ev):
    """bench/gen.py's Kafka key: the subscriber (recipient of sms and calls,
    payer of transfers, reporter)."""
    if ev["type"] in ("transfer", "report"):
        return ev.get("from") or ev["id"]
    return ev.get("to") or ev.get("from") or ev["id"]


def replay_rate(rules, events):
    p = subprocess.run([h.FANZHA, "replay", "--rules", rules, "-o", "/dev/null", events],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    m = re.search(r"([0-9]+) events/s", p.stderr)
    return int(m.group(1))


def run_rate(rules, topics, n):
    group = f"aggcost-{uuid.uuid4().hex[:6]}"
    f = h.Fanzha("aggcost", topics, group)
    f.args[f.args.index("--rules") + 1] = rules
    f.args[f.args.index("--threads") + 1] = "1"
    f.start()
    try:
        h.wait_ready(f, timeout=900)
        t0 = time.time()
        h.wait_caught_up(group, topics["events"], timeout=1800, proc=f)
        secs = time.time() - t0
    finally:
        f.stop()
    stats = [l for l in f.log().splitlines() if "stats:" in l][-1]
    c = dict(kv.split("=") for kv in stats.split("stats: ")[1].split())
    return n / secs, int(c["routed"]) / int(c["processed"]), " ".join(f.args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=500000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    ap.add_argument("--report", default="aggregates.md")
    a = ap.parse_args()
    h.require_broker()
    tmp = tempfile.mkdtemp(prefix="fz-aggcost-")
    try:
        events = os.path.join(tmp, "events.ndjson")
        gen_cmd = [sys.executable, os.path.join(HERE, "gen.py"), "--count", str(a.events),
                   "--seed", str(a.seed), "--out", events, "--quiet"]
        say("generating", a.events, "events")
        subprocess.run(gen_cmd, check=True)
        sets = rule_sets(tmp)
        for name, d in sets.items():  # compile once (the rules cache), outside the timing
            subprocess.run([h.FANZHA, "rules", "check", "--fast", d], capture_output=True)
        topics = h.create_topics({"events": 6, "alerts": 3, "dlq": 1})
        with open(events, "rb") as f:
            recs = [(key_of(json.loads(l)), l.rstrip(b"\n")) for l in f]
        say("producing to", topics["events"])
        h.produce(topics["events"], recs)
        rows = {k: {"replay": [], "run": [], "routed": []} for k in sets}
        cmdline = ""
        for r in range(a.rounds):
            for name, d in sets.items():
                rows[name]["replay"].append(replay_rate(d, events))
                rate, routed, cmdline = run_rate(d, topics, a.events)
                rows[name]["run"].append(rate)
                rows[name]["routed"].append(routed)
                say(f"round {r + 1} {name}: replay {rows[name]['replay'][-1]:,} events/s, "
                    f"run {rate:,.0f} events/s, routed {routed:.1%}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: {m: statistics.median(v) for m, v in x.items()} for k, x in rows.items()}
    base = med["without"]
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = [f"# Behavioural rules: what they cost\n",
           f"Written by `bench/aggregate_cost.py --events {a.events} --rounds {a.rounds} "
           f"--seed {a.seed}` on a {os.cpu_count()}-core machine "
           f"({cpu or platform.machine()}), shared with other work: compare the ratios, "
           f"measured side by side, more than the absolute figures.\n",
           "Traffic: `" + " ".join(os.path.relpath(x, ROOT) if x.startswith(ROOT) else
                                   os.path.basename(x) for x in gen_cmd[1:6]) +
           "` (bench/gen.py's default mix), keyed by subscriber, one input topic of 6 "
           "partitions; `fanzha run` with one stream thread and the test harness's options "
           "(tests/integration/harness.py), a fresh group per run, timed from ready to caught "
           "up.\n",
           "| rules | routed | replay events/s | run events/s | run vs without |",
           "|---|---|---|---|---|"]
    for name in sets:
        m = med[name]
        out.append(f"| {name} | {m['routed']:.1%} | {m['replay']:,.0f} | {m['run']:,.0f} | "
                   f"{m['run'] / base['run']:.2f} x |")
    out.append("\nMedians of the rounds. Every round:\n")
    out.append("| round | rules | replay events/s | run events/s | routed |")
    out.append("|---|---|---|---|---|")
    for r in range(a.rounds):
        for name in sets:
            x = rows[name]
            out.append(f"| {r + 1} | {name} | {x['replay'][r]:,} | {x['run'][r]:,.0f} | "
                       f"{x['routed'][r]:.1%} |")
    out.append("\nrouted: route records per event screened - the decide records of matched "
               "events and their marks, and one aggregate record per event and key field it is "
               "counted by (so above 100 % when every event is counted).\n")
    out.append("`fanzha run` command line (the rules directory and group vary):\n")
    cmdline = re.sub(r"/tmp/\S+", "RULES", cmdline).replace(h.FANZHA, "fanzha")
    out.append("```\n" + cmdline + "\n```")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, a.report)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    say("wrote", path)


if __name__ == "__main__":
    main()
