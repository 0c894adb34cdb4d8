#!/usr/bin/python3
"""What the detection rules cost: replay throughput of rule sets side by side.

    bench/detect_cost.py [--rounds 7] [--events FILE] [--count 100000]
                         [--old-commit 2fce919] [--rules rules]
                         [--set LABEL=RULES_DIR[@FANZHA_BIN]] ...
                         [--fanzha build/fanzha] [--no-limit] [--json FILE]
                         [--cache DIR]

The issue's budget: with every shipped rule (and model) enabled, `fanzha
replay` on the standard SMS benchmark may run at most 20 % slower than with
the rules as they were before the detection work began (the rules/
directory of commit 2fce919). This measures exactly that, in one run:

  old       the rules of --old-commit (git archive into a scratch directory)
  current   --rules (default: the repository's rules/)
  LABEL     each --set LABEL=DIR given, e.g. "current rules + models";
            DIR@BIN runs that set with another fanzha binary (its
            fz_match_limit beside it), e.g. to compare against the engine
            before a change

on the standard benchmark events (bench/gen.py --count 100000 --mix
sms=100 --text-bytes 250 --seed 1, generated into the scratch directory
unless --events is given). Every round runs every set once, in the same
order (interleaved: the machine is shared, noise hits all sets alike):
`fanzha replay --threads 1 -o /dev/null` (its own events/s line: the
time after the rules are loaded) and, unless --no-limit, the match limit
`fz_match_limit --rounds 1` (decode, views and matching alone). The rules
are compiled once before the rounds (into a scratch rules cache, or
--cache DIR, kept between runs), so no round pays for compiling.

Prints, per set, the median events/s of replay and of the match limit,
the ratio of each to the first set ("old"), the median CPU time per event
of replay (user + system of the process: less sensitive than wall time to
other work on the machine, not to cache sharing), and the rounds. Exit 0;
progress on stderr. --json writes the figures for other tools.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RATE = re.compile(r"([\d.]+) events/s")


def say(msg):
    print(f"[detect_cost] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"detect_cost: failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p


def timed(cmd):
    """Run cmd; (stdout, stderr, cpu seconds of the child)."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        pid = os.fork()
        if pid == 0:
            os.dup2(fo.fileno(), 1)
            os.dup2(fe.fileno(), 2)
            try:
                os.execv(cmd[0], cmd)
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f"detect_cost: failed ({rc}): {' '.join(cmd)}\n{err[-3000:]}")
    return out, err, ru.ru_utime + ru.ru_stime


class RuleSet:
    def __init__(self, label, rules, fanzha):
        self.label, self.rules, self.fanzha = label, rules, fanzha
        self.limit_bin = os.path.join(os.path.dirname(fanzha), "fz_match_limit")
        self.replay, self.limit, self.cpu_us = [], [], []


def parse_set(spec, default_fanzha):
    if "=" not in spec:
        sys.exit(f"detect_cost: --set {spec!r}: expected LABEL=RULES_DIR[@FANZHA_BIN]")
    label, rest = spec.split("=", 1)
    rules, _, fanzha = rest.partition("@")
    fanzha = os.path.abspath(fanzha) if fanzha else default_fanzha
    if not os.path.isdir(rules):
        sys.exit(f"detect_cost: --set {label}: {rules}: not a directory")
    if not os.access(fanzha, os.X_OK):
        sys.exit(f"detect_cost: --set {label}: {fanzha}: not an executable")
    return RuleSet(label, os.path.abspath(rules), fanzha)


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu or platform.machine()}, {os.cpu_count()} CPU(s); {platform.platform()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--events", help="events file (default: the standard SMS benchmark, generated)")
    ap.add_argument("--count", type=int, default=100000, help="events to generate (default 100000)")
    ap.add_argument("--old-commit", default="2fce919",
                    help="commit whose rules/ are the baseline (default 2fce919)")
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"), help="the current rules")
    ap.add_argument("--set", action="append", default=[], metavar="LABEL=DIR[@FANZHA]",
                    help="another rules directory to measure (repeatable)")
    ap.add_argument("--fanzha", default=os.path.join(os.environ.get(
        "FANZHA_BUILD", os.path.join(ROOT, "build")), "fanzha"))
    ap.add_argument("--no-limit", action="store_true", help="replay only, not fz_match_limit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--cache", help="compiled-rules cache directory to use and keep "
                    "(default: a scratch one)")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("detect_cost: --rounds must be at least 1")
    fanzha = os.path.abspath(a.fanzha)
    if not os.access(fanzha, os.X_OK):
        sys.exit(f"detect_cost: {fanzha}: not built (cmake --build build)")

    tmp = tempfile.mkdtemp(prefix="fz-detect-cost-")
    try:
        old = os.path.join(tmp, "old")
        os.mkdir(old)
        say(f"rules of {a.old_commit} -> $TMP/old/rules")
        tar = subprocess.run(["git", "-C", ROOT, "archive", a.old_commit, "rules"],
                             capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=tar, check=True)
        sets = [RuleSet(f"old ({a.old_commit})", os.path.join(old, "rules"), fanzha),
                RuleSet("current", os.path.abspath(a.rules), fanzha)]
        sets += [parse_set(s, fanzha) for s in a.set]
        for s in sets:
            if not a.no_limit and not os.access(s.limit_bin, os.X_OK):
                sys.exit(f"detect_cost: {s.limit_bin}: not built (or use --no-limit)")

        events = a.events
        if not events:
            events = os.path.join(tmp, "sms.ndjson")
            say(f"generating {a.count:,} standard SMS events")
            run([PY, os.path.join(HERE, "gen.py"), "--count", str(a.count), "--mix", "sms=100",
                 "--text-bytes", "250", "--seed", "1", "--out", events, "--quiet"])
        cache = os.path.abspath(a.cache) if a.cache else os.path.join(tmp, "cache")
        os.environ["CACHE_DIRECTORY"] = cache  # fz_match_limit's cache too
        base = ["--threads", str(a.threads), "--rules-cache-dir", cache, "-o", "/dev/null"]
        for s in sets:  # compile once: no round pays for it
            say(f"compiling {s.label}: {s.rules}")
            timed([s.fanzha, "replay", "--rules", s.rules, *base, "/dev/null"])

        nev = sum(1 for _ in open(events, "rb"))
        for r in range(a.rounds):
            for s in sets:
                _, err, cpu = timed([s.fanzha, "replay", "--rules", s.rules, *base, events])
                line = [x for x in err.splitlines() if x.startswith("fanzha replay:")][-1]
                s.replay.append(float(RATE.search(line).group(1)))
                s.cpu_us.append(cpu / nev * 1e6)
                msg = f"round {r + 1}/{a.rounds} {s.label}: replay {s.replay[-1]:,.0f}/s"
                if not a.no_limit:
                    out, _, _ = timed([s.limit_bin, "--rules", s.rules, "--rounds", "1", events])
                    s.limit.append(float(re.search(r"([\d.]+) events/s median", out).group(1)))
                    msg += f", match limit {s.limit[-1]:,.0f}/s"
                say(msg)

        ref = sets[0]
        med = statistics.median
        print(f"detect_cost: {nev:,} events ({os.path.basename(events)}), {a.rounds} interleaved "
              f"round(s), replay --threads {a.threads}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"machine: {machine()}")
        hdr = f"{'set':<28} {'replay/s':>10} {'x old':>6} {'cpu us/ev':>9} {'x old':>6}"
        if not a.no_limit:
            hdr += f" {'limit/s':>10} {'x old':>6}"
        print(hdr)
        res = []
        for s in sets:
            row = {"label": s.label, "rules": s.rules, "fanzha": s.fanzha,
                   "replay": med(s.replay), "replay_ratio": med(s.replay) / med(ref.replay),
                   "cpu_us": med(s.cpu_us), "cpu_ratio": med(ref.cpu_us) / med(s.cpu_us),
                   "replay_rounds": s.replay, "cpu_us_rounds": s.cpu_us}
            line = (f"{s.label:<28} {row['replay']:>10,.0f} {row['replay_ratio']:>6.3f} "
                    f"{row['cpu_us']:>9.2f} {row['cpu_ratio']:>6.3f}")
            if not a.no_limit:
                row.update(limit=med(s.limit), limit_ratio=med(s.limit) / med(ref.limit),
                           limit_rounds=s.limit)
                line += f" {row['limit']:>10,.0f} {row['limit_ratio']:>6.3f}"
            print(line)
            res.append(row)
        print("(x old: the set's median over the old rules' median; cpu: replay's user+system "
              "time per event, its ratio as a throughput ratio)")
        for s in sets:
            print(f"  {s.label}: replay rounds " + ", ".join(f"{x:,.0f}" for x in s.replay)
                  + ("" if a.no_limit else "; limit rounds " + ", ".join(f"{x:,.0f}" for x in s.limit)))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"events": nev, "rounds": a.rounds, "machine": machine(), "sets": res},
                          f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
