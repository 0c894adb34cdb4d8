"""Loss-recovery statistics through the real broker, with known answers.

The scenario (event time, 60 s windows from a minute boundary):
  window 0: one fraud template sent to 5,000 recipients from 7 senders
            (per-recipient account numbers, callback numbers and links);
  window 1: 40 of those recipients pay out (a known total: intercepted),
            60 other subscribers make ordinary transfers;
  window 2: 25 reported cases (20 in CNY, 5 in USD; two categories) and 30
            ordinary messages;
  window 3: 10 reported cases and 20 ordinary messages.
Events are keyed by subscriber (recipient, payer, reporter), as the docs
recommend, so a subscriber's warning and transfer share a partition.

fanzha writes one record per window per task (input partitions: clean and
invalid events; route partitions: the events whose verdict depends on
state), keyed so the latest record of a key is current; the sum over tasks
of the latest records must equal the known totals exactly - also when fanzha
is killed with SIGKILL half-way and restarted (checkpoints, changelogs and
offsets commit in one transaction, so nothing is counted twice or lost).
"""
import collections
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import jsonschema

import harness as h

BASE = 1764288000000  # a minute boundary
W = 60000
N_CAMPAIGN = 5000
SCHEMA = json.load(open(f"{h.ROOT}/docs/schema/stats.schema.json"))
CAMPAIGN_SCHEMA = json.load(open(f"{h.ROOT}/docs/schema/campaign.schema.json"))


def rec(key, ev):
    return (key, json.dumps(ev, ensure_ascii=False).encode())


class Scenario:
    def __init__(self):
        self.phase1, self.phase2 = [], []
        want = collections.defaultdict(lambda: collections.Counter())
        for i in range(N_CAMPAIGN):
            to = f"+86139{i:08d}"
            ev = {"id": f"camp-{i}", "ts": BASE + i * 10 if i < N_CAMPAIGN - 1 else BASE + 59000,
                  "type": "sms", "from": f"+861069{i % 7:04d}", "to": to,
                  "text": f"【某银行】您的账户已被冻结，卡号 {6222020000000000 + i * 7919}，"
                          f"请致电 400-{i % 900 + 100}-{i:04d} 或登录 bank-{i}.top 解冻"}
            # the last variant comes after the others are processed, so the
            # campaign summary it triggers has counted all of them
            (self.phase1 if i < N_CAMPAIGN - 1 else self.phase2).append(rec(to, ev))
        want[0].update(screened=N_CAMPAIGN, alerts=1, suppressed=N_CAMPAIGN - 1, campaigns=1)
        self.intercepted = 0
        for i in range(40):
            payer = f"+86139{i:08d}"
            amount = 1000 + i * 37
            self.intercepted += amount * 100
            self.phase2.append(rec(payer, {
                "id": f"pay-{i}", "ts": BASE + W + i * 100, "type": "transfer", "from": payer,
                "to": f"6229{i:012d}", "amount": f"{amount}.00", "currency": "CNY"}))
        for i in range(60):
            payer = f"+86138{i:08d}"
            self.phase2.append(rec(payer, {
                "id": f"calm-{i}", "ts": BASE + W + 5000 + i * 100, "type": "transfer",
                "from": payer, "to": f"6229{i + 100:012d}", "amount": "88.00",
                "currency": "CNY"}))
        want[1].update(screened=100, alerts=40, intercepts=40)
        self.lost = {2: collections.Counter(), 3: collections.Counter()}
        for i in range(25):
            who = f"+86137{i:08d}"
            cur = "CNY" if i < 20 else "USD"
            amount = 5000 + 123 * i
            self.lost[2][cur] += amount * 100
            self.phase2.append(rec(who, {
                "id": f"rep-{i}", "ts": BASE + 2 * W + i * 100, "type": "report", "from": who,
                "amount": f"{amount}.00", "currency": cur,
                "category": "impersonate_bank" if i % 2 == 0 else "investment"}))
        for i in range(30):
            who = f"+86136{i:08d}"
            self.phase2.append(rec(who, {
                "id": f"ham-{i}", "ts": BASE + 2 * W + 10000 + i * 100, "type": "sms",
                "from": "+8610010", "to": who, "text": f"明天下午开会，请准时参加 {h.tag(i)}"}))
        want[2].update(screened=55, cases=25)
        for i in range(10):
            who = f"+86135{i:08d}"
            self.lost[3]["CNY"] += 80000
            self.phase2.append(rec(who, {
                "id": f"rep3-{i}", "ts": BASE + 3 * W + i * 100, "type": "report", "from": who,
                "amount": "800.00", "currency": "CNY", "category": "investment"}))
        for i in range(20):
            who = f"+86134{i:08d}"
            self.phase2.append(rec(who, {
                "id": f"ham3-{i}", "ts": BASE + 3 * W + 5000 + i * 100, "type": "sms",
                "from": "+8610010", "to": who, "text": f"快递已放在门口 {h.tag(i)}"}))
        want[3].update(screened=30, cases=10)
        self.want = want


def latest_by_key(msgs):
    out = {}
    for _, _, key, value in msgs:
        out[key] = json.loads(value)
    return out


def totals(records):
    """Sum the latest partial records per window: {window index: {field: n}}
    for the "all" rows, plus money per currency and the per-category cases."""
    out = collections.defaultdict(collections.Counter)
    for r in records.values():
        i = (r["window"]["start"] - BASE) // W
        for row in r["rows"]:
            if row["category"] == "all":
                for k in ("screened", "alerts", "suppressed", "campaigns", "cases",
                          "intercepts"):
                    out[i][k] += row[k]
                for m in row["money"]:
                    out[i]["lost:" + m["currency"]] += m["lost"]
                    out[i]["intercepted:" + m["currency"]] += m["intercepted"]
            else:
                out[i]["cases:" + row["category"]] += row["cases"]
    return out


def fanzha_stats(topic, period_ms=2 * W):
    """`fanzha stats` over the statistics topic: the summed windows."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "stats.ndjson")
        p = subprocess.run([h.FANZHA, "stats", "--brokers", h.BROKER, "--stats-topic", topic,
                            "--ledger-period-ms", str(period_ms), "--stats-output", out],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        with open(out) as f:
            return [json.loads(line) for line in f], p.stdout


class Ledger(unittest.TestCase):
    def topics(self):
        return h.create_topics({"events": 4, "alerts": 2, "dlq": 1, "stats": 2, "state": 1})

    def args(self):
        # a short session timeout: after the SIGKILL the group moves on sooner;
        # campaign summaries every 19 s of event time: about 19 s and 38 s
        # into the campaign, then with the last variant at 59 s
        return ("--intercept-capacity", "65536", "--checkpoint-interval-ms", "300",
                "--campaign-summary-ms", "19000",
                "--ledger-grace-ms", "1000", "-X", "consumer.session.timeout.ms=6000")

    def check_totals(self, got, sc, exact_verdicts=True):
        for i, want in sc.want.items():
            for k in ("screened", "cases", "intercepts"):
                self.assertEqual(got[i][k], want[k], f"window {i}: {k}")
            if exact_verdicts:
                for k in ("alerts", "suppressed", "campaigns"):
                    self.assertEqual(got[i][k], want[k], f"window {i}: {k}")
            else:
                # after a restart the state is rebuilt by re-reading, but which
                # partition's variant of a campaign comes first may change
                self.assertEqual(got[i]["alerts"] + got[i]["suppressed"],
                                 want["alerts"] + want["suppressed"], f"window {i}")
        self.assertEqual(got[1]["intercepted:CNY"], sc.intercepted)
        self.assertEqual(got[2]["lost:CNY"], sc.lost[2]["CNY"])
        self.assertEqual(got[2]["lost:USD"], sc.lost[2]["USD"])
        self.assertEqual(got[3]["lost:CNY"], sc.lost[3]["CNY"])
        self.assertEqual(got[2]["cases:impersonate_bank"], 13)
        self.assertEqual(got[2]["cases:investment"], 12)
        self.assertEqual(got[3]["cases:investment"], 10)
        self.assertEqual(set(got), {0, 1, 2, 3})

    def check_stats_command(self, topic, sc, exact_verdicts=True):
        """fanzha stats sums the partial records: the same totals, and the
        changes against the previous window and two windows earlier."""
        windows, table = fanzha_stats(topic)
        self.assertEqual([(w["window"]["start"] - BASE) // W for w in windows], [0, 1, 2, 3])
        for w in windows:
            jsonschema.validate(w, SCHEMA)
        # the last window is still open everywhere (no later event moved a
        # watermark past its end)
        self.assertFalse(windows[-1]["final"])
        keys = ("screened", "cases", "intercepts") + (
            ("alerts", "suppressed", "campaigns") if exact_verdicts else ())
        alls = [w["rows"][0] for w in windows]
        for i, row in enumerate(alls):
            self.assertEqual(row["category"], "all")
            for k in keys:
                self.assertEqual(row[k], sc.want[i][k], f"window {i}: {k}")
            for name, back in (("previous", 1), ("period_ago", 2)):
                if i - back < 0:
                    self.assertIsNone(row[name])
                    continue
                self.assertEqual(row[name]["window_start"], BASE + (i - back) * W)
                for k in keys:
                    self.assertEqual(row[name]["change"][k], sc.want[i][k] - sc.want[i - back][k],
                                     f"window {i} {name}: {k}")
        lost2 = {m["currency"]: m for m in alls[2]["money"]}
        self.assertEqual(lost2["CNY"]["lost"], sc.lost[2]["CNY"])
        self.assertEqual(lost2["USD"]["lost"], sc.lost[2]["USD"])
        held1 = {m["currency"]: m for m in alls[1]["money"]}
        self.assertEqual(held1["CNY"]["intercepted"], sc.intercepted)
        self.assertEqual(held1["CNY"]["recovery_rate"], 1.0)
        per3 = {m["currency"]: m for m in alls[3]["period_ago"]["change"]["money"]}
        self.assertEqual(per3["CNY"]["intercepted"], -sc.intercepted)
        self.assertEqual(per3["CNY"]["lost"], sc.lost[3]["CNY"])
        self.assertIn("total", table)

    def test_known_totals(self):
        sc = Scenario()
        topics = self.topics()
        group = f"g-ledger-{uuid.uuid4().hex[:6]}"
        h.produce(topics["events"], sc.phase1)
        f = h.Fanzha("ledger", topics, group, self.args()).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
            h.produce(topics["events"], sc.phase2)
            h.wait_caught_up(group, topics["events"], proc=f)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        stats = h.consume_all(topics["stats"])
        for _, _, _, v in stats:
            jsonschema.validate(json.loads(v), SCHEMA)
        latest = latest_by_key(stats)
        # one key per (task, lineage, window [, segment]) that had events
        route = f"{group}.route"
        stages = collections.Counter()
        for k, r in latest.items():
            src = r["source"]
            want = (f"{group}|{src['topic']}|{src['partition']}|{src['lineage']}|"
                    f"{r['window']['start']}")
            if "segment" in src:
                want += f"|{src['segment']}"
            self.assertEqual(k.decode(), want)
            self.assertEqual(src["stage"], "decide" if src["topic"] == route else "screen")
            self.assertIn(src["topic"], (topics["events"], route))
            stages[src["stage"]] += 1
        self.assertTrue(stages["screen"] and stages["decide"], stages)
        self.check_totals(totals(latest), sc)
        self.check_stats_command(topics["stats"], sc)
        # the screen stage's closed windows were written as final
        self.assertTrue(all(r["final"] for r in latest.values()
                            if r["window"]["start"] < BASE + 2 * W and
                            r["source"]["stage"] == "screen"))
        # the campaign: one alert, and a summary that counted all 5,000
        msgs = h.consume_all(topics["alerts"])
        camp_alerts = [a for a in h.alerts_of(msgs) if a["event_id"].startswith("camp-")]
        self.assertEqual(len(camp_alerts), 1)
        camps = h.campaigns_of(msgs)
        for c in camps:
            jsonschema.validate(c, CAMPAIGN_SCHEMA)
        last = max(camps, key=lambda c: c["count"])
        self.assertEqual(last["count"], N_CAMPAIGN)
        # HyperLogLog with 1,024 registers: standard error 3.25 %; allow 3 of them
        self.assertLessEqual(abs(last["recipients_estimate"] - N_CAMPAIGN),
                             3 * 0.0325 * N_CAMPAIGN)
        held = [a for a in h.alerts_of(msgs) if a["event_type"] == "transfer"]
        self.assertEqual(sum(a["amount_minor"] for a in held), sc.intercepted)

    def test_records_current_while_idle(self):
        """Once the events pause, the statistics records count everything the
        running instance's checkpoints count - without waiting for it to
        stop. (A task whose last events came just before a commit had them
        in its checkpoint, but its open windows' records were written only
        when it left: a new owner after a lost assignment or a crash never
        wrote them.)"""
        sc = Scenario()
        topics = self.topics()
        group = f"g-ledgeridle-{uuid.uuid4().hex[:6]}"
        h.produce(topics["events"], sc.phase1 + sc.phase2)
        # interim records only once events pause (not every checkpoint
        # interval), and commits much more often than the 200 ms pause: the
        # commit after a task's last events comes before its records are due
        args = self.args() + ("--checkpoint-interval-ms", "600000", "--commit-interval-ms", "50")
        f = h.Fanzha("ledger-idle", topics, group, args).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
            deadline = time.time() + 20
            while True:
                got = totals(latest_by_key(h.consume_all(topics["stats"], idle_s=1.0)))
                if all(got[i]["screened"] == w["screened"] for i, w in sc.want.items()):
                    break
                self.assertLess(time.time(), deadline,
                                f"records behind the processed events: "
                                f"{ {i: got[i]['screened'] for i in sc.want} }")
                time.sleep(1)
            self.assertIsNone(f.proc.poll(), "the records may only be current while it runs")
            self.check_totals(got, sc)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])

    def test_kill9_same_totals(self):
        """SIGKILL in the middle, then a restart: the final totals are the same.

        The first part of the stream is processed and committed; the rest is
        produced and given time to be processed but not committed (commits
        every 3 s): the restart restores every task's checkpoint and the
        decide tasks' stores from their changelogs as of the last commit,
        and processes the rest once - so even which variant of the campaign
        alerted, and how many were suppressed, are exactly as without the
        kill."""
        sc = Scenario()
        topics = self.topics()
        group = f"g-ledger9-{uuid.uuid4().hex[:6]}"
        first = sc.phase1 + sc.phase2[:len(sc.phase2) // 2]
        rest = sc.phase2[len(sc.phase2) // 2:]
        total = len(first) + len(rest)
        h.produce(topics["events"], first)
        # commits every 3 s: the kill comes about 1 s after the commit of `first`
        args = self.args() + ("--commit-interval-ms", "3000")
        f = h.Fanzha("ledger-kill", topics, group, args).start()
        h.wait_caught_up(group, topics["events"], proc=f)
        h.produce(topics["events"], rest)
        time.sleep(0.5)
        self.assertIsNone(f.proc.poll(), f.log()[-3000:])
        f.signal(signal.SIGKILL)
        f.wait()
        done = sum(max(o, 0) for o in h.committed(group, topics["events"], range(4)).values())
        self.assertLess(done, total, "everything was committed before the kill; nothing tested")
        f2 = h.Fanzha("ledger-restart", topics, group, self.args()).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f2)
        finally:
            f2.stop()
        self.assertEqual(f2.proc.returncode, 0, f2.log()[-3000:])
        self.assertIn("restored at offset", f2.log())
        self.assertNotIn("starting lineage", f2.log())
        latest = latest_by_key(h.consume_all(topics["stats"]))
        self.check_totals(totals(latest), sc)
        self.check_stats_command(topics["stats"], sc)
        camp = [a for a in h.alerts_of(h.consume_all(topics["alerts"]))
                if a["event_id"].startswith("camp-")]
        self.assertEqual(len({a["event_id"] for a in camp}), 1, "one campaign, one alerting event")


if __name__ == "__main__":
    h.main()
