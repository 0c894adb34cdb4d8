#!/usr/bin/env python3
"""What campaign, interception and statistics state cost in `fanzha replay`.

    bench/state_cost.py [--fanzha build/fanzha] [--rules rules] [--events N]
                        [--rounds 5] [--out docs/benchmarks/state.md]

Builds one telecom stream (seeded): SMS texts from the real corpora in
../shared/data (or $FANZHA_DATA; a synthetic set when absent, and the
report says so), a quarter of them per-recipient variants of fraud
templates (numbers, links and callback numbers differ per recipient) so
that campaigns form, 8 % transfers (a fifth of them by subscribers who
received fraud: intercepts), 1 % victims' reports with amounts. Then runs
`fanzha replay --threads 1` on it in rounds, the configurations side by
side in each round (interleaved, so machine noise hits all alike):

  all on         campaigns + interception + statistics (the defaults)
  no campaigns   --campaign-capacity 0 (sms deduplicated by campaign key only)
  no intercept   --intercept-capacity 0
  both off       --campaign-capacity 0 --intercept-capacity 0
  stats off      --ledger-window-ms 0
  all off        both off and stats off

and reports the median events/s of each and its ratio to "both off" (the
issue's goal: all on >= 0.85 x both off), plus the bytes per entry of the
dedup table and the watchlist as the replay reports them.
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import corpus_events  # noqa: E402

CONFIGS = [
    ("all on", []),
    ("no campaigns", ["--campaign-capacity", "0"]),
    ("no intercept", ["--intercept-capacity", "0"]),
    ("both off", ["--campaign-capacity", "0", "--intercept-capacity", "0"]),
    ("stats off", ["--ledger-window-ms", "0"]),
    ("all off", ["--campaign-capacity", "0", "--intercept-capacity", "0",
                 "--ledger-window-ms", "0"]),
]

TEMPLATES = [
    "【{bank}】您的账户存在异常交易已被冻结，请于24小时内登录 {link} 验证身份解冻，客服 {phone}",
    "您好，您的快递因地址不详被退回，理赔请加QQ {qq} 或致电 {phone}，退款 {amount} 元",
    "[公安局]你涉嫌洗钱案，请将资金转入安全账户 {acct} 配合调查，联系人王警官 {phone}",
    "恭喜您获得平台刷单返利资格，日赚 {amount} 元，下载 {link} 注册邀请码 {qq}",
    "Your parcel is held at customs. Pay the {amount} GBP fee at {link} within 24h or it is returned",
    "URGENT: your bank account is locked. Verify at {link} or call {phone} now",
]
BANKS = ["工商银行", "建设银行", "农业银行", "招商银行"]


def texts(seed):
    d = corpus_events.data_dir(None)
    if d:
        out = [t for _, t in corpus_events.corpus(d)]
        if out:
            return out, f"{len(out)} real SMS texts from the corpora"
    rnd = random.Random(seed)
    words = "明天 会议 快递 门口 晚饭 回家 电话 周末 see you later thanks ok meeting".split()
    return ([" ".join(rnd.choice(words) for _ in range(rnd.randint(4, 20))) for _ in range(5000)],
            "5,000 synthetic texts (corpora absent)")


def fill(t, rnd):
    return t.format(bank=rnd.choice(BANKS), link=f"verify-{rnd.randrange(10**6)}.top",
                    phone=f"400-{rnd.randrange(100, 999)}-{rnd.randrange(1000, 9999)}",
                    qq=str(rnd.randrange(10**8, 10**9)), amount=rnd.randrange(50, 5000),
                    acct=f"6222 {rnd.randrange(1000, 9999)} {rnd.randrange(1000, 9999)} "
                         f"{rnd.randrange(1000, 9999)}")


def make_events(path, n, seed):
    rnd = random.Random(seed)
    corpus, source = texts(seed)
    ts = 1764288000000
    victims = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            ts += rnd.randrange(0, 4)  # ~2 ms apart: 60 s windows hold ~30k events
            sub = f"+86139{rnd.randrange(10**8):08d}"
            u = rnd.random()
            if u < 0.08:
                payer = rnd.choice(victims) if victims and rnd.random() < 0.2 else sub
                ev = {"id": f"t{i}", "ts": ts, "type": "transfer", "from": payer,
                      "to": f"6228{rnd.randrange(10**12):012d}",
                      "amount": f"{rnd.randrange(1, 500000) / 100:.2f}", "currency": "CNY"}
            elif u < 0.09:
                ev = {"id": f"r{i}", "ts": ts, "type": "report", "from": sub,
                      "amount": f"{rnd.randrange(100, 10**7) / 100:.2f}", "currency": "CNY",
                      "category": rnd.choice(["impersonate_police", "investment", "rebate"])}
            elif u < 0.34:
                ev = {"id": f"s{i}", "ts": ts, "type": "sms",
                      "from": f"+86170{rnd.randrange(10**8):08d}", "to": sub,
                      "text": fill(rnd.choice(TEMPLATES), rnd)}
                if len(victims) < 100000:
                    victims.append(sub)
            else:
                ev = {"id": f"s{i}", "ts": ts, "type": "sms",
                      "from": f"+86106{rnd.randrange(10**8):08d}", "to": sub,
                      "text": rnd.choice(corpus)}
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")
    return source


SUMMARY = re.compile(r"fanzha replay: (\d+) events, (\d+) alerts, (\d+) suppressed.*?"
                     r"([\d.]+) s, (\d+) events/s")
STATE = re.compile(r"state: dedup (\d+) of (\d+) entries \(([\d.]+) B each\)"
                   r"(?:.*watchlist (\d+) of (\d+) entries \(([\d.]+) B each\))?")


def run(fanzha, rules, compiled, events, extra):
    p = subprocess.run([fanzha, "replay", "--rules", rules, "--rules-compiled", compiled,
                        "--threads", "1", "-o", "/dev/null", *extra, events],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"replay failed ({p.returncode}):\n{p.stderr[-2000:]}")
    m = SUMMARY.search(p.stderr)
    s = STATE.search(p.stderr)
    return int(m.group(5)), (int(m.group(2)), int(m.group(3))), s, p.stderr


GROUPS = [("interception watchlist", re.compile(r"watch|number_key")),
          ("campaign table and sketches", re.compile(r"campaigns_|campaign_start|hll_")),
          ("statistics ledger", re.compile(r"ledger")),
          ("first touch of the tables (page faults)", re.compile(r"page_fault|clear_page|handle_mm"))]


def profile(fanzha, rules, compiled, events, d):
    """Share of the all-on run's cycles in the state code, by perf; None
    when perf is missing or not permitted."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(d, "perf.data")
    r = subprocess.run(["perf", "record", "-q", "-o", data, fanzha, "replay", "--rules", rules,
                        "--rules-compiled", compiled, "--threads", "1", "-o", "/dev/null", events],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "sym",
                          "--stdio"], capture_output=True, text=True).stdout
    share = {g: 0.0 for g, _ in GROUPS}
    for line in rep.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+\[.\]\s+(\S+)", line)
        if m:
            for g, rx in GROUPS:
                if rx.search(m.group(2)):
                    share[g] += float(m.group(1))
                    break
    return share


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fanzha", default=os.path.join(ROOT, "build", "fanzha"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks", "state.md"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        events = os.path.join(d, "events.ndjson")
        source = make_events(events, a.events, a.seed)
        # compile once: every run then loads the databases instead of compiling
        compiled = os.path.join(d, "rules.fzr")
        subprocess.run([a.fanzha, "rules", "compile", a.rules, "-o", compiled], check=True,
                       capture_output=True)
        size = os.path.getsize(events)
        rates = {name: [] for name, _ in CONFIGS}
        verdicts, state = {}, None
        for r in range(a.rounds):
            order = CONFIGS if r % 2 == 0 else CONFIGS[::-1]
            for name, extra in order:
                rate, v, s, _ = run(a.fanzha, a.rules, compiled, events, extra)
                rates[name].append(rate)
                verdicts[name] = v
                if name == "all on":
                    state = s
            print(f"round {r + 1}/{a.rounds}: " +
                  ", ".join(f"{n} {rates[n][-1]:,}" for n, _ in CONFIGS), file=sys.stderr)
        share = profile(a.fanzha, a.rules, compiled, events, d)
    med = {n: statistics.median(v) for n, v in rates.items()}
    base = med["both off"]
    cmd = " ".join(["bench/state_cost.py"] + [f"--{k} {v}" for k, v in
                                               (("events", a.events), ("rounds", a.rounds),
                                                ("seed", a.seed))])
    lines = [
        "# Campaign, interception and statistics state: cost in replay",
        "",
        f"Command: `{cmd}` (then `git diff docs/benchmarks/state.md`).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}; "
        f"{time.strftime('%Y-%m-%d')}. fanzha "
        + subprocess.run([a.fanzha, "version"], capture_output=True, text=True).stdout
        .splitlines()[0].split()[1] + ", rules: `rules/` (shipped).",
        "",
        f"Stream: {a.events:,} events ({size / 1e6:.1f} MB NDJSON, seed {a.seed}): {source}, a "
        "quarter of the SMS per-recipient variants of 6 fraud templates, 8 % transfers (a fifth "
        "by recipients of fraud), 1 % reports. `fanzha replay --threads 1 -o /dev/null` with "
        "the rules compiled once (`--rules-compiled`), "
        f"{a.rounds} rounds, the configurations interleaved in each round; medians.",
        "",
        "| configuration | options | events/s (median) | × both off | alerts | suppressed |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, extra in CONFIGS:
        al, su = verdicts[name]
        lines.append(f"| {name} | `{' '.join(extra) or '(defaults)'}` | {med[name]:,.0f} | "
                     f"{med[name] / base:.3f} | {al:,} | {su:,} |")
    ratio = med["all on"] / base
    paired = statistics.median(x / y for x, y in zip(rates["all on"], rates["both off"]))
    lines += [
        "",
        f"Goal: campaign and interception state cost at most 15 % of single-thread replay "
        f"throughput: all on / both off = **{ratio:.3f}** (ratio of the medians; median of "
        f"the per-round ratios {paired:.3f}) "
        f"({'met' if min(ratio, paired) >= 0.85 else 'MISSED'}). Every round: "
        + ", ".join(f"{x / y:.3f}" for x, y in zip(rates["all on"], rates["both off"])) + ".",
        "",
    ]
    if share:
        lines += [
            "Where the state's time goes: `perf record` of one all-on run, the share of all "
            "cycles in each part's functions (the campaign *key*, computed with or without the "
            "table, is not included):",
            "",
        ] + [f"- {g}: {v:.1f} %" for g, v in share.items()] + [
            "",
            "These shares are steadier than the throughput ratios above: single rounds on this "
            "shared machine vary by ±20 %.",
            "",
        ]
    lines += [
        "Memory per entry, as `fanzha replay` reports it (table bytes / capacity; the tables "
        "are allocated once, at start-up):",
        "",
        f"- dedup table: {float(state.group(3)):.1f} bytes per entry (goal ≤ 64); the campaign "
        "table adds 8 bytes per dedup entry for its recent event ids (redeliveries are not "
        "counted twice) and about 1.5 KiB per live campaign (`campaign_capacity`);",
        f"- interception watchlist: {float(state.group(6)):.1f} bytes per warned subscriber or "
        "flagged counterparty (goal ≤ 96);",
        "- statistics: about 160 KiB per assigned input partition (8 open and 16 recently "
        "closed windows of 6.3 KiB), nothing per event.",
        "",
    ]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
