"""Chaos runner: fanzha instances in one consumer group on a real broker,
faults injected while events flow, and everything they wrote compared with
`fanzha replay` over the same input (the oracle).

A scenario: N instances (`fanzha run`, one group, one processing guarantee)
consume an input stream produced at a steady rate while faults are
injected one after another:

  kill9    SIGKILL an instance, restart it (same instance id) 0.5-3 s later
  stall    SIGSTOP an instance past the session timeout, then SIGCONT: the
           group has moved on and the instance wakes as a zombie
  restart  stop the broker and start it again
  down     the broker is down for a while (60 s in the long run)
  storm    two more instances join, get partitions, and leave again

The input (Workload) mixes clean traffic, fraud texts, campaigns whose
variants land on different partitions, fraud calls and their repeats,
transfers from subscribers fraud warned (interceptions; a subscriber's
warning and transfer share a partition, as events keyed by subscriber
do), reported cases with money, and hostile records: broken JSON, times
in year 9999 or 1970 or past int64, amounts above the maximum, invalid
UTF-8, oversized events, missing or mistyped fields, reserved category
names, ids reused by different texts.

Once the input is produced and the faults are over, the runner waits until
the group has committed everything, stops the instances and checks:

  - lost alerts: alerts of the oracle (dedup key and rule) that are not in
    the alerts topic (read with isolation.level=read_committed);
  - duplicates: alerts read more than once (none allowed exactly once);
  - false alerts and false intercepts: alerts the oracle does not have;
  - campaigns: exactly one alert per campaign (exactly once);
  - statistics: `fanzha stats` over the statistics topic equal, window by
    window and row by row, to the oracle's windows.

Whether it passes or not, a run reports the transactions left open once
every instance has stopped (`hanging`: partitions of the run's topics
whose last stable offset stays below their high watermark past the
transaction timeout). fanzha aborts its transactions
when it stops and the coordinator those of killed instances, so one left
open is a transaction the broker no longer knows (a hanging transaction,
`kafka-transactions.sh find-hanging`): it holds back every read_committed
reader of its partitions, fanzha's restores among them, and a failure
that comes with one is explained by it. With a broker of its own (restart
and down faults), the runner also does what an operator does about them
while the run goes on (Janitor): finds them and aborts them
(`hanging_aborted`).

Usage (a broker must run; FANZHA_BROKER, FANZHA_KAFKA_PORT and
FANZHA_KAFKA_DIR name it as tests/run.sh does):
  python3 tests/integration/chaos.py short
  python3 tests/integration/chaos.py long --report docs/reliability.md
tests/chaos-long.sh runs the long one with a broker of its own.
"""
import argparse
import collections
import datetime
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

import harness as h

W = 60000  # statistics window (ms), fanzha's default
SPAN_WINDOWS = 8  # event time covered by a workload: inside the 10 min dedup/campaign window
SESSION_MS = 6000
KAFKA_LOCAL = os.path.join(h.ROOT, "deploy", "kafka-local.sh")

# what the rules in tests/integration/rules match, and what they do not
ZH_FRAUD = "【{org}】您的账户已被冻结，请联系客服处理 {tag}"
EN_FRAUD = "URGENT! Call now to claim your prize, ref {tag}"
CAMPAIGN = "【某银行】您的银行卡已被冻结 {tag}，请致电 400-{a}-{b} 或登录 bank-{c}.top 解冻"
HAM = ["今晚七点老地方吃饭，别迟到 {tag}", "快递已放在门口，请及时取件 {tag}",
       "Meeting moved to Thursday, see you there {tag}", "明天下午开会，请准时参加 {tag}"]
CATEGORIES = ["impersonate_bank", "investment", "romance", "parcel_refund", "loan"]
COMMON_ARGS = ("--intercept-capacity", "1048576", "--ledger-window-ms", str(W))


def part_of(key, partitions):
    return zlib.crc32(key.encode()) % partitions


class Workload:
    """A reproducible input stream with hostile records mixed in.

    records: (key, value bytes, partition) in production order; event time
    rises strictly along it, so no event is late anywhere and the windows
    fanzha and the oracle count are the same. closers: events to produce
    after the others are processed (one last variant per campaign, at the
    end of event time), so every campaign's last summary counts all of it.
    """

    def __init__(self, n, partitions, seed=1, hostile_rate=0.01, closers=False, base=None):
        self.rng = random.Random(seed)
        self.partitions = partitions
        self.seed = seed
        now = int(time.time() * 1000)
        self.base = base if base is not None else (now - 2 * 3600 * 1000) // W * W
        self.span = SPAN_WINDOWS * W
        self.nsub = 0
        intents = []  # (t, seq, kind, key, event or bytes)
        self.seq = 0
        self.hostile_valid = collections.Counter()

        def add(t, key, ev, kind="valid", label=None):
            self.seq += 1
            if kind == "valid" and "id" not in ev:
                ev = dict(ev, id=f"e{seed}-{self.seq}")
            if label:
                self.hostile_valid[label] += 1
            intents.append((t, self.seq, kind, key, ev))
            return ev

        rng = self.rng
        step = self.span / max(n, 1)
        used_ids = []
        campaigns = []
        for i in range(n):
            t = i * step
            r = rng.random()
            if r < 0.64:  # clean traffic
                to = self.ham_sub(rng)
                add(t, to, {"type": "sms", "from": "+8610010", "to": to,
                            "text": rng.choice(HAM).format(tag=self.tag())})
            elif r < 0.69:  # ordinary calls and transfers
                a, b = self.ham_sub(rng), self.ham_sub(rng)
                if rng.random() < 0.5:
                    add(t, b, {"type": "call", "from": a, "to": b,
                               "duration_s": rng.randrange(5, 600)})
                else:
                    add(t, a, {"type": "transfer", "from": a, "to": f"6229{rng.randrange(10**12):012d}",
                               "amount": f"{rng.randrange(1, 200000) / 100:.2f}", "currency": "CNY"})
            elif r < 0.74:  # a fraud text to a new subscriber
                to = self.sub()
                text = (ZH_FRAUD.format(org=rng.choice(["某银行", "某公安", "某快递"]), tag=self.tag())
                        if rng.random() < 0.5 else EN_FRAUD.format(tag=self.tag()))
                ev = {"type": "sms", "from": f"+86106{rng.randrange(10**6):06d}", "to": to,
                      "text": text}
                ev = add(t, to, ev)
                used_ids.append(ev["id"])
                if rng.random() < 0.2:  # sent again (a new id): a repeat
                    add(t + rng.uniform(100, 5000), to, {k: v for k, v in ev.items() if k != "id"})
                if rng.random() < 0.3:  # the warned subscriber pays out: intercepted
                    self.transfer(add, t + rng.uniform(200, 30000), to, rng)
            elif r < 0.76:  # a campaign: variants to many recipients, in one window
                start = t
                end = min(start + 30000, (start // W + 1) * W - 1)
                tag = self.tag()
                k = rng.randrange(3, 15)
                times = sorted(rng.uniform(start, end) for _ in range(k))
                camp = []
                for j, tj in enumerate(times):
                    to = self.sub()
                    ev = {"type": "sms", "from": f"+86106{rng.randrange(10**6):06d}", "to": to,
                          "text": CAMPAIGN.format(tag=tag, a=rng.randrange(100, 999),
                                                  b=rng.randrange(1000, 9999),
                                                  c=rng.randrange(10**6))}
                    add(tj, to, ev)
                    camp.append(ev)
                    if rng.random() < 0.15:
                        self.transfer(add, tj + rng.uniform(200, 30000), to, rng)
                campaigns.append(camp)
            elif r < 0.80:  # a call from a known fraud number; repeats; payments to it
                caller = f"+8617000{rng.randrange(10**7):07d}"
                to = self.sub()
                add(t, to, {"type": "call", "from": caller, "to": to, "duration_s": 30})
                if rng.random() < 0.3:
                    add(t + rng.uniform(100, 8000), to,
                        {"type": "call", "from": caller, "to": to, "duration_s": 12})
                if rng.random() < 0.3:
                    add(t + rng.uniform(500, 20000), to,
                        {"type": "transfer", "from": to, "to": caller,
                         "amount": f"{rng.randrange(100, 10**6) / 100:.2f}", "currency": "CNY"})
            elif r < 0.83:  # a reported case
                who = self.sub()
                add(t, who, {"type": "report", "from": who,
                             "amount": f"{rng.randrange(100, 5 * 10**6) / 100:.2f}",
                             "currency": "CNY" if rng.random() < 0.8 else "USD",
                             "category": rng.choice(CATEGORIES)})
            elif r < 0.83 + hostile_rate:
                self.hostile(add, t, rng, used_ids)
            else:
                to = self.ham_sub(rng)
                add(t, to, {"type": "sms", "from": "+8610086", "to": to,
                            "text": rng.choice(HAM).format(tag=self.tag())})
        intents.sort(key=lambda x: (x[0], x[1]))
        self.records, self.oracle_lines = [], []
        self.hostile_count = collections.Counter()
        last_ts = self.base - 1
        pwin = {}  # partition -> window of its newest valid event
        gwin = None
        for t, _, kind, key, ev in intents:
            p = part_of(key, partitions)
            if kind == "valid":
                ts = max(last_ts + 1, self.base + int(t))
                last_ts = ts
                ev = dict(ev, ts=ts)
                value = json.dumps(ev, ensure_ascii=False).encode()
                pwin[p] = gwin = (ts - self.base) // W
            else:
                # an invalid record counts in its partition's current window
                # (the oracle: the stream's): only where the two agree
                if pwin.get(p) is None or pwin[p] != gwin:
                    continue
                value = ev(last_ts) if callable(ev) else ev
                self.hostile_count[kind] += 1
            self.records.append((key, value, p))
            self.oracle_lines.append(value)
        self.closers = []
        if closers:
            last_ts += 2000  # a summary is due (campaign_summary_ms 1000) for every campaign
            for camp in campaigns:
                last_ts += 10
                ev = dict(camp[-1], id=f"e{seed}-close-{len(self.closers)}", ts=last_ts)
                ev["to"] = self.sub()
                self.closers.append((ev["to"], json.dumps(ev, ensure_ascii=False).encode(),
                                     part_of(ev["to"], partitions)))
            self.oracle_lines += [v for _, v, _ in self.closers]
        self.bad_inputs = sum(self.hostile_count.values())

    def sub(self):
        self.nsub += 1
        return f"+86139{self.seed % 100:02d}{self.nsub:07d}"

    def ham_sub(self, rng):
        return f"+86136{rng.randrange(10**8):08d}"  # never sent fraud

    def tag(self):
        self.nsub += 1
        return h.tag(self.seed * 10**7 + self.nsub)

    def transfer(self, add, t, payer, rng):
        add(t, payer, {"type": "transfer", "from": payer, "to": f"6228{rng.randrange(10**12):012d}",
                       "amount": f"{rng.randrange(100, 5 * 10**6) / 100:.2f}", "currency": "CNY"})

    def hostile(self, add, t, rng, used_ids):
        key = self.ham_sub(rng)
        eid = f"h{self.seed}-{self.seq}"
        kinds = {
            "invalid_json": lambda ts: b'{"id":"%s","ts":%d,"type":"sms"' % (eid.encode(), ts),
            "ts_year_9999": lambda ts: json.dumps({"id": eid, "ts": 253402300000000, "type": "sms",
                                                   "to": key, "text": "x"}).encode(),
            "ts_1970": lambda ts: json.dumps({"id": eid, "ts": 1000, "type": "sms", "to": key,
                                              "text": "x"}).encode(),
            "ts_past_int64": lambda ts: b'{"id":"%s","ts":9223372036854775807000,"type":"sms",'
                                        b'"text":"x"}' % eid.encode(),
            "ts_near_int64": lambda ts: json.dumps({"id": eid, "ts": 9223372036854775000,
                                                    "type": "sms", "text": "x"}).encode(),
            "amount_too_large": lambda ts: json.dumps({
                "id": eid, "ts": ts, "type": "report", "from": key,
                "amount": "50000000000000000.00", "currency": "CNY",
                "category": "investment"}).encode(),
            "amount_negative": lambda ts: json.dumps({
                "id": eid, "ts": ts, "type": "transfer", "from": key, "to": "6229",
                "amount": "-5.00", "currency": "CNY"}).encode(),
            "invalid_utf8": lambda ts: b'{"id":"%s","ts":%d,"type":"sms","text":"\xff\xfe"}' % (
                eid.encode(), ts),
            "too_large": lambda ts: json.dumps({"id": eid, "ts": ts, "type": "sms",
                                                "text": "y" * 70000}).encode(),
            "missing_field": lambda ts: json.dumps({"id": eid, "type": "sms",
                                                    "text": "x"}).encode(),
            "wrong_type": lambda ts: json.dumps({"id": eid, "ts": str(ts), "type": "sms",
                                                 "text": "x"}).encode(),
        }
        r = rng.random()
        if r < 0.15:  # a reserved statistics row named by input: a valid event
            add(t, key, {"type": "report", "from": key, "amount": "12.00", "currency": "CNY",
                         "category": rng.choice(["all", "intercept", "unlisted", "unspecified"])},
                label="reserved_category")
            return
        if r < 0.3 and used_ids:  # another fraud text that reuses an earlier id
            add(t, key, {"id": rng.choice(used_ids), "type": "sms", "from": "+8610699", "to": key,
                         "text": EN_FRAUD.format(tag=self.tag())}, label="reused_id")
            return
        name = rng.choice(sorted(kinds))
        add(t, key, kinds[name], kind=name)


# ---- the oracle ----

def replay(lines, extra=()):
    """fanzha replay over the input: (alerts, campaign summaries, windows)."""
    with tempfile.TemporaryDirectory() as d:
        inp, out, st = (os.path.join(d, x) for x in ("in.jsonl", "out.jsonl", "stats.jsonl"))
        with open(inp, "wb") as f:
            for v in lines:
                f.write(v + b"\n")
        p = subprocess.run([h.FANZHA, "replay", "--rules", h.RULES, *COMMON_ARGS, *extra,
                            "--stats-output", st, "-o", out, inp],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"fanzha replay failed: {p.stderr[-2000:]}")
        with open(out) as f:
            recs = [json.loads(l) for l in f]
        with open(st) as f:
            windows = [json.loads(l) for l in f]
    return ([r for r in recs if r["type"] == "alert"],
            [r for r in recs if r["type"] == "campaign"], windows)


def alert_id(a):
    """An alert's identity: its dedup key (a campaign's for every variant)
    and rule. Which variant of a campaign alerts depends on which partition
    is read first; the campaign it names does not."""
    return (a["dedup"]["key"], a["rule"]["id"])


def window_rows(windows):
    """{window start: {category: row without the comparisons}}"""
    out = {}
    for w in windows:
        rows = {}
        for r in w["rows"]:
            row = {k: v for k, v in r.items() if k not in ("previous", "period_ago", "category")}
            row["money"] = sorted(row.get("money", []), key=lambda m: m["currency"])
            rows[r["category"]] = row
        out[w["window"]["start"]] = rows
    return out


def stats_of(topic):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "stats.jsonl")
        p = subprocess.run([h.FANZHA, "stats", "--brokers", h.BROKER, "--stats-topic", topic,
                            "--stats-output", out],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"fanzha stats failed: {p.stderr[-2000:]}")
        with open(out) as f:
            return [json.loads(l) for l in f]


def read_topic(topic, isolation="read_committed", timeout=300):
    """Every record of a topic, to its end: (partition, offset, key, value)."""
    ends = h.end_offsets(topic)
    out, todo = h.read_partitions(topic, {p: 0 for p, hi in ends.items() if hi > 0},
                                  isolation, timeout=timeout)
    if todo:
        raise RuntimeError(f"{topic}: partitions {sorted(todo)} not read to the end")
    return out


# ---- the cluster under test ----

def broker(cmd):
    subprocess.run(["bash", KAFKA_LOCAL, cmd], check=True, stdout=subprocess.DEVNULL)


class Cluster:
    def __init__(self, name, topics, group, guarantee, n, extra=()):
        self.name, self.topics, self.group = name, topics, group
        self.args = ("--processing-guarantee", guarantee, *COMMON_ARGS,
                     "-X", f"consumer.session.timeout.ms={SESSION_MS}", *extra)
        self.slots = [None] * n
        self.expected_exit = set()
        self.crashes = []
        self.all = []
        self.joiners = 0

    def start(self, i):
        f = h.Fanzha(f"{self.name}-{i}", self.topics, self.group, self.args,
                     instance_id=f"{self.group}-{i}").start()
        self.slots[i] = f
        self.all.append(f)
        return f

    def live(self):
        return [i for i, f in enumerate(self.slots) if f and f.proc.poll() is None]

    def check(self):
        """Note instances that exited without being told to; restart them."""
        for i, f in enumerate(self.slots):
            if f and f.proc.poll() is not None and i not in self.expected_exit:
                self.crashes.append(f"{f.log_path}: exit {f.proc.returncode}: "
                                    + f.log()[-1500:])
                self.start(i)

    def stop(self):
        """SIGTERM to every instance; their exit codes. An instance that
        exits non-zero (or must be killed) is noted with its log's end."""
        codes = []
        for f in self.slots:
            if f and f.proc.poll() is None:
                f.proc.send_signal(signal.SIGTERM)
        for f in self.slots:
            if f:
                t0 = time.time()
                try:
                    code = f.proc.wait(120)
                except subprocess.TimeoutExpired:
                    f.proc.kill()
                    code = f.proc.wait()
                    self.crashes.append(f"{f.log_path}: still running 120 s after SIGTERM")
                codes.append(code)
                f.logf.close()
                if code != 0:
                    self.crashes.append(f"{f.log_path}: exit {code} on SIGTERM after "
                                        f"{time.time() - t0:.0f} s: " + f.log()[-1500:])
        return codes


class Faults:
    """Injects faults one after another; counts what it did."""

    def __init__(self, cluster, rng, down_s, managed_broker):
        self.c, self.rng, self.down_s = cluster, rng, down_s
        self.managed = managed_broker
        self.done = collections.Counter()

    def run(self, kind):
        getattr(self, kind)()
        self.done[kind] += 1

    def victim(self):
        live = self.c.live()
        return self.rng.choice(live) if live else None

    def kill9(self):
        i = self.victim()
        if i is None:
            return
        self.c.expected_exit.add(i)
        f = self.c.slots[i]
        f.proc.kill()
        f.proc.wait()
        f.logf.close()
        time.sleep(self.rng.uniform(0.5, 3))
        self.c.expected_exit.discard(i)
        self.c.start(i)

    def stall(self):
        i = self.victim()
        if i is None:
            return
        f = self.c.slots[i]
        f.proc.send_signal(signal.SIGSTOP)
        time.sleep(SESSION_MS / 1000 + 3)
        f.proc.send_signal(signal.SIGCONT)

    def restart(self):
        broker("stop")
        broker("start")

    def down(self):
        broker("stop")
        time.sleep(self.down_s)
        broker("start")

    def storm(self):
        js = []
        for _ in range(2):
            self.c.joiners += 1
            js.append(h.Fanzha(f"{self.c.name}-join{self.c.joiners}", self.c.topics, self.c.group,
                               self.c.args, instance_id=f"{self.c.group}-j{self.c.joiners}").start())
        self.c.all.extend(js)
        deadline = time.time() + 20
        while time.time() < deadline and not all("task(s) ready" in j.log() for j in js):
            time.sleep(0.2)
        time.sleep(self.rng.uniform(0.5, 2))
        for j in js:
            j.proc.send_signal(signal.SIGTERM)
        for j in js:
            try:
                code = j.proc.wait(90)
            except subprocess.TimeoutExpired:
                j.proc.kill()
                code = j.proc.wait()
            j.logf.close()
            if code != 0:
                self.c.crashes.append(f"{j.log_path}: joiner exit {code}: " + j.log()[-1500:])


class Janitor(threading.Thread):
    """The operator's remedy for transactions the broker leaves open.

    A single-node broker stopped or restarted while transactions end
    sometimes completes one at its coordinator without writing its markers
    to the partitions: the partitions' last stable offset then stays below
    their end for good (a hanging transaction). fanzha cannot end it (its
    producer's epoch is already bumped), and every read_committed reader of
    those partitions waits - restores, watch-changelog catch-ups, committed
    offsets in __consumer_offsets. fanzha waits and logs, naming the
    remedy; this thread applies it as an operator would: every `every_s`
    it runs Kafka's `find-hanging` (open for more than a minute and unknown
    to the coordinator as an ongoing transaction - fanzha's own time out
    after 10 s) and `abort`s each one found. What it aborted is reported
    with the run (`hanging_aborted`); the oracle comparison still decides
    whether anything was lost or duplicated."""

    def __init__(self, log, every_s=45):
        super().__init__(daemon=True)
        self.log, self.every_s = log, every_s
        self.stop_ev = threading.Event()
        self.aborted = []

    def tool(self, *args):
        return subprocess.run(["bash", KAFKA_LOCAL, "transactions", *args], capture_output=True,
                              text=True, timeout=120)

    def sweep(self):
        p = self.tool("find-hanging", "--broker-id", "1", "--max-transaction-timeout", "1")
        if p.returncode != 0:  # the broker away (a fault under way): next time
            return
        for line in p.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) < 6 or not f[1].isdigit() or not f[5].isdigit():
                continue
            topic, part, start = f[0], f[1], f[5]
            a = self.tool("abort", "--topic", topic, "--partition", part, "--start-offset", start)
            what = f"{topic}[{part}] from offset {start} (producer {f[2]})"
            self.aborted.append(what if a.returncode == 0 else what + ": abort failed")
            self.log(f"  hanging transaction the broker left open: {what}: "
                     f"{'aborted' if a.returncode == 0 else a.stderr.strip()[-300:]}")

    def run(self):
        while not self.stop_ev.wait(self.every_s):
            try:
                self.sweep()
            except subprocess.TimeoutExpired:
                pass

    def finish(self):
        self.stop_ev.set()
        self.join(150)
        return self.aborted


def produce_paced(topic, records, seconds, stop):
    """Produce records in order over about `seconds` (the broker may go
    away meanwhile: the producer waits for it)."""
    p = Producer({"bootstrap.servers": h.BROKER, "linger.ms": 5, "enable.idempotence": True,
                  "message.timeout.ms": 0, "message.max.bytes": 2000000,
                  "queue.buffering.max.messages": 1000000, "log_level": 2})
    t0 = time.time()
    n = len(records)
    for i, (key, value, part) in enumerate(records):
        due = t0 + seconds * i / n
        while time.time() < due:
            p.poll(min(0.05, max(0, due - time.time())))
        while True:
            try:
                p.produce(topic, value=value, key=key.encode(), partition=part)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    while p.flush(1) and not stop.is_set():
        pass


SCENARIOS = {
    # name: guarantee, instances, partitions, events, seconds, faults
    "short": [
        ("exactly once, 3 instances, mixed faults", "exactly_once", 3, 4, 6000, 40,
         {"kill9": 2, "stall": 1, "storm": 1, "restart": 1, "down": 1}, 10),
        ("at least once, 2 instances, mixed faults", "at_least_once", 2, 4, 4000, 25,
         {"kill9": 2, "storm": 1, "restart": 1}, 10),
    ],
    "long": [
        ("exactly once: kill -9 loop", "exactly_once", 3, 6, 40000, 150, {"kill9": 20}, 60),
        ("at least once: kill -9 loop", "at_least_once", 3, 6, 40000, 150, {"kill9": 20}, 60),
        ("exactly once: stalls past the session timeout", "exactly_once", 3, 6, 40000, 260,
         {"stall": 20}, 60),
        ("exactly once: broker restarts", "exactly_once", 2, 6, 40000, 300, {"restart": 20}, 60),
        ("exactly once: broker down 60 s", "exactly_once", 2, 6, 60000, 1500, {"down": 20}, 60),
        ("exactly once: rebalance storms", "exactly_once", 2, 6, 40000, 250, {"storm": 20}, 60),
        ("at least once: every fault", "at_least_once", 3, 6, 40000, 400,
         {"kill9": 4, "stall": 4, "restart": 4, "down": 2, "storm": 4}, 60),
    ],
}


def run_scenario(name, guarantee, instances, partitions, events, seconds, faults, down_s,
                 seed=1, managed_broker=True, log=print):
    """Run one scenario; returns its result (a dict)."""
    t_start = time.time()
    rng = random.Random(seed)
    wl = Workload(events, partitions, seed=seed)
    kinds = [k for k, n in faults.items() for _ in range(n)]
    if not managed_broker:
        kinds = [k for k in kinds if k not in ("restart", "down")]
    rng.shuffle(kinds)
    topics = h.create_topics({"events": partitions, "alerts": 3, "dlq": 1, "stats": 2})
    group = f"chaos-{uuid.uuid4().hex[:6]}"
    cluster = Cluster(f"chaos-{guarantee[:3]}", topics, group, guarantee, instances)
    fx = Faults(cluster, rng, down_s, managed_broker)
    stop = threading.Event()
    prod = threading.Thread(target=produce_paced,
                            args=(topics["events"], wl.records, seconds, stop), daemon=True)
    result = {"scenario": name, "guarantee": guarantee, "instances": instances,
              "partitions": partitions, "events": len(wl.records), "bad_inputs": wl.bad_inputs,
              "hostile": dict(wl.hostile_count), "hostile_valid": dict(wl.hostile_valid)}
    caught_up_error = None
    janitor = Janitor(log) if managed_broker else None
    if janitor:
        janitor.start()
    try:
        for i in range(instances):
            cluster.start(i)
        for i in range(instances):
            h.wait_ready(cluster.slots[i], timeout=90)
        prod.start()
        # faults spread over the production time (the last ones may run past it)
        gap = seconds / (len(kinds) + 1)
        t0 = time.time()
        for j, kind in enumerate(kinds):
            while time.time() < t0 + gap * (j + 1):
                cluster.check()
                time.sleep(0.2)
            log(f"  [{time.time() - t_start:6.0f} s] {kind}")
            fx.run(kind)
            cluster.check()
        prod.join(timeout=seconds + 600)
        stop.set()
        if prod.is_alive():
            raise RuntimeError("the input could not be produced")
        cluster.check()
        deadline = time.time() + 600
        while True:
            try:
                h.wait_caught_up(group, topics["events"], timeout=30)
                break
            except Exception as e:  # not yet, or the broker still recovering
                cluster.check()
                if time.time() > deadline:
                    caught_up_error = e
                    break
    finally:
        stop.set()
        codes = cluster.stop()
        result["hanging_aborted"] = janitor.finish() if janitor else []
    result["hanging"] = hanging_transactions([group + "."] + list(topics.values()))
    if caught_up_error:
        raise AssertionError(f"{caught_up_error}; transactions left open: {result['hanging']}; "
                             f"instances' logs: {sorted({f.log_path for f in cluster.all})}")
    result["exit_codes_nonzero"] = sum(1 for c in codes if c != 0)
    result["crashes"] = cluster.crashes
    result["faults"] = dict(fx.done)
    logs = "".join(f.log() for f in cluster.all)
    result["restores"] = logs.count("restored at offset")
    result["kept"] = logs.count("kept its state")
    result["new_lineages"] = logs.count("starting lineage")

    oracle_alerts, oracle_campaigns, oracle_windows = replay(wl.oracle_lines)
    msgs = read_topic(topics["alerts"])
    got = h.alerts_of(msgs)
    want_ids = collections.Counter(alert_id(a) for a in oracle_alerts)
    got_ids = collections.Counter(alert_id(a) for a in got)
    lost = set(want_ids) - set(got_ids)
    extra = set(got_ids) - set(want_ids)
    result["oracle_alerts"] = len(oracle_alerts)
    result["alerts_read"] = len(got)
    result["lost"] = len(lost)
    result["lost_examples"] = sorted(lost)[:5]
    result["lost_intercepts"] = sum(1 for k in lost if k[1] == "fanzha.intercept")
    result["duplicated"] = sum(n - 1 for n in got_ids.values() if n > 1)
    result["false_alerts"] = len(extra)
    result["false_intercepts"] = sum(1 for k in extra if k[1] == "fanzha.intercept")
    result["intercepts"] = sum(1 for k in got_ids if k[1] == "fanzha.intercept")
    campaign_keys = {c["key"] for c in oracle_campaigns}
    result["campaigns"] = len(campaign_keys)
    result["campaigns_not_one_alert"] = sum(
        1 for k in campaign_keys
        if sum(n for (dk, _), n in got_ids.items() if dk == k) != 1)
    dl = read_topic(topics["dlq"])
    result["dead_letters"] = len(dl)
    run_windows = stats_of(topics["stats"])
    want_w, got_w = window_rows(oracle_windows), window_rows(run_windows)
    diffs = []
    for start in sorted(set(want_w) | set(got_w)):
        a, b = want_w.get(start, {}), got_w.get(start, {})
        for cat in sorted(set(a) | set(b)):
            if a.get(cat) != b.get(cat):
                diffs.append((start, cat, a.get(cat), b.get(cat)))
    result["windows"] = len(want_w)
    result["stats_exact"] = not diffs
    result["stats_diffs"] = diffs[:3]
    result["seconds"] = round(time.time() - t_start)
    return result


def hanging_transactions(prefixes, settle_s=30):
    """Partitions of the topics whose names start with one of prefixes
    whose committed records end before their log does (last stable offset
    below the high watermark) and still do after settle_s: a transaction
    nobody ends. [(topic, partition, lso, high)]. (__consumer_offsets is
    left out: its partitions are shared by every group of the broker, and
    a transaction hanging there holds back the offsets of one group only -
    a restore of that group reports it, failing to read them.)"""
    cs = {iso: Consumer({"bootstrap.servers": h.BROKER, "group.id": "hang-" + uuid.uuid4().hex,
                         "isolation.level": iso})
          for iso in ("read_uncommitted", "read_committed")}
    try:
        md = cs["read_uncommitted"].list_topics(timeout=30).topics
        tps = [TopicPartition(t, p) for t, m in md.items() if t.startswith(tuple(prefixes))
               for p in m.partitions]
        deadline = time.time() + settle_s
        while True:
            open_ = []
            for tp in tps:
                try:
                    hi = cs["read_uncommitted"].get_watermark_offsets(tp, timeout=10,
                                                                      cached=False)[1]
                    lso = cs["read_committed"].get_watermark_offsets(tp, timeout=10,
                                                                     cached=False)[1]
                except KafkaException as e:  # the broker still recovering: asked again
                    open_.append((tp.topic, tp.partition, None, str(e)))
                    continue
                if lso < hi:
                    open_.append((tp.topic, tp.partition, lso, hi))
            if not open_ or time.time() > deadline:
                return open_
            tps = [TopicPartition(t, p) for t, p, _, _ in open_]
            time.sleep(2)
    finally:
        for c in cs.values():
            c.close()


def verdict(r):
    """What must hold; a list of failures."""
    bad = []
    if r["lost"]:
        bad.append(f"{r['lost']} alerts lost ({r['lost_intercepts']} intercepts), "
                   f"e.g. {r['lost_examples']}")
    if r["guarantee"] == "exactly_once" and r["duplicated"]:
        bad.append(f"{r['duplicated']} duplicate alerts in read_committed")
    if r["guarantee"] == "exactly_once" and r["campaigns_not_one_alert"]:
        bad.append(f"{r['campaigns_not_one_alert']} campaigns without exactly one alert")
    if r["false_alerts"]:
        bad.append(f"{r['false_alerts']} alerts the oracle does not have "
                   f"({r['false_intercepts']} intercepts)")
    if not r["stats_exact"]:
        bad.append(f"statistics differ: {r['stats_diffs']}")
    if r["crashes"] or r["exit_codes_nonzero"]:
        bad.append(f"instances exited: {r['crashes'][:2]} (non-zero exits at the end: "
                   f"{r['exit_codes_nonzero']})")
    if bad and r.get("hanging"):  # what explains them
        bad.append(f"transactions left open after the run (hanging): {r['hanging']}")
    return bad


RESULTS_NAME = "reliability.json"


def git_commit():
    """The commit the runner runs at (with '+' when the tree has changes)."""
    try:
        rev = subprocess.run(["git", "-C", h.ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", h.ROOT, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+" if dirty else "") if rev else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def merged_results(path, new):
    """The results kept beside the report, with new ones replacing those of
    the same scenario, in the order of SCENARIOS; saved back."""
    old = []
    if os.path.exists(path):
        with open(path) as f:
            old = [json.loads(l) for l in f if l.strip()]
    by = {r["scenario"]: r for r in old}
    by.update({r["scenario"]: r for r in new})
    order = [sc[0] for scs in SCENARIOS.values() for sc in scs]
    out = sorted(by.values(), key=lambda r: order.index(r["scenario"])
                 if r["scenario"] in order else len(order))
    with open(path, "w") as f:
        for r in out:
            f.write(json.dumps({k: v for k, v in r.items() if k != "crashes"},
                               ensure_ascii=False) + "\n")
    return out


def report(results, path, command):
    kinds = ["kill9", "stall", "restart", "down", "storm"]
    names = {"kill9": "kill -9", "stall": "SIGSTOP past session timeout",
             "restart": "broker restart", "down": "broker down 60 s",
             "storm": "rebalance storm (2 join, 2 leave)"}
    total = collections.Counter()
    for r in results:
        total.update(r["faults"])
    lines = [
        "# Reliability: the chaos runner's report",
        "",
        "Generated by `" + command + "` on " +
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") +
        f" ({platform.machine()}, {os.cpu_count()} cores, one local Kafka broker).",
        "Each scenario's row names the commit it ran and when (`run`); the results",
        "are kept in `" + RESULTS_NAME + "` beside this report, and a run of some",
        "scenarios (`--only`) replaces their rows and keeps the others.",
        "The runner and what it checks are described in `tests/integration/chaos.py`; the",
        "oracle is `fanzha replay` over the same input. Alerts are read with",
        "`isolation.level=read_committed`; an alert's identity is its dedup key and rule",
        "(a campaign's key for every variant: one alert per campaign).",
        "",
        "| scenario | guarantee | instances | input partitions | events | faults | bad inputs | "
        "alerts (oracle) | lost | duplicated | false intercepts | statistics exact | time | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = ", ".join(f"{r['faults'].get(k, 0)} {names[k]}" for k in kinds if r["faults"].get(k))
        lines.append(
            f"| {r['scenario']} | {r['guarantee']} | {r['instances']} | {r['partitions']} | "
            f"{r['events']:,} | {f} | {r['bad_inputs']} | {r['oracle_alerts']:,} | {r['lost']} | "
            f"{r['duplicated']} | {r['false_intercepts']} | "
            f"{'yes' if r['stats_exact'] else 'NO'} ({r['windows']} windows) | {r['seconds']} s | "
            f"{r.get('commit', '?')}, {r.get('when', '?')} |")
    lines += ["", "Faults injected, all scenarios:", ""]
    for k in kinds:
        lines.append(f"- {names[k]}: {total.get(k, 0)}")
    lines += [
        "",
        "Per scenario, from the instances' logs: tasks restored from checkpoints and",
        "changelogs (`restored at offset`), tasks kept across a rebalance (`kept its state`),",
        "new lineages (`starting lineage`: only where nothing had been committed yet).",
        "",
        "Hanging transactions aborted: partitions where the broker left a transaction open",
        "after a restart, found and aborted during the run as an operator would (`Janitor`).",
        "",
        "| scenario | restored | kept | new lineages | intercepts (lost) | campaigns (not one alert) "
        "| dead letters | hanging transactions aborted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['scenario']} | {r['restores']} | {r['kept']} | {r['new_lineages']} | "
                     f"{r['intercepts']} ({r['lost_intercepts']}) | {r['campaigns']} "
                     f"({r['campaigns_not_one_alert']}) | {r['dead_letters']} | "
                     f"{len(r.get('hanging_aborted', [])) if 'hanging_aborted' in r else '?'} |")
    hostile = collections.Counter()
    for r in results:
        hostile.update(r["hostile"])
    lines += ["", "Hostile records mixed into the input (invalid ones; the valid hostile ones - "
              "reserved category names, reused ids - are counted among the events):", ""]
    for k, n in sorted(hostile.items()):
        lines.append(f"- {k}: {n}")
    lines += ["", "Duplicates in at-least-once mode are alerts written again after a failure "
              "(an instance killed between producing an alert and committing its input); "
              "exactly-once mode writes none.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", choices=sorted(SCENARIOS))
    ap.add_argument("--report", help="write the markdown report here")
    ap.add_argument("--only", help="run the scenarios whose name contains this")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    h.require_broker()
    managed = bool(os.environ.get("FANZHA_KAFKA_PORT"))
    if not managed:
        print("FANZHA_KAFKA_PORT is not set: broker faults are skipped", file=sys.stderr)
    results, failed = [], False
    for sc in SCENARIOS[a.profile]:
        if a.only and a.only not in sc[0]:
            continue
        print(f"{sc[0]} ({sc[1]}, {sc[2]} instances, {sc[4]} events over {sc[5]} s)", flush=True)
        r = run_scenario(*sc, seed=a.seed, managed_broker=managed,
                         log=lambda m: print(m, flush=True))
        r["commit"] = git_commit()
        r["when"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        results.append(r)
        bad = verdict(r)
        failed |= bool(bad)
        print(json.dumps({k: v for k, v in r.items() if k != "crashes"}, ensure_ascii=False),
              flush=True)
        for b in bad:
            print("  FAIL: " + b, flush=True)
        if a.report:
            kept = merged_results(os.path.join(os.path.dirname(a.report) or ".", RESULTS_NAME),
                                  results)
            report(kept, a.report, "tests/chaos-long.sh" if a.profile == "long"
                   else "python3 tests/integration/chaos.py " + a.profile)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
