"""End to end through the real broker: a known mix of events in, exactly the
expected alerts and dead letters out."""
import collections
import json
import time
import unittest
import uuid

import jsonschema

import harness as h

SCHEMA = {k: json.load(open(f"{h.ROOT}/docs/schema/{k}.schema.json"))
          for k in ("alert", "dead-letter", "campaign")}


class EndToEnd(unittest.TestCase):
    def run_mix(self, name, n, extra=(), partitions=4):
        topics = h.create_topics({"events": partitions, "alerts": 3, "dlq": 1})
        group = f"g-{name}-{uuid.uuid4().hex[:6]}"
        ev = h.Events(n, seed=len(name), fraud_rate=0.2, invalid_every=50, dedup_group=10)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha(name, topics, group, extra).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        return topics, ev, f

    def check(self, topics, ev, f):
        msgs = h.consume_all(topics["alerts"])
        alerts = h.alerts_of(msgs)
        ids = [a["event_id"] for a in alerts]
        # exactly one alert per fraud event, nothing else, no duplicates
        self.assertEqual(len(ids), len(set(ids)), "duplicate alerts without a crash")
        campaign = [a for a in alerts if a["event_id"].startswith("dup-")]
        plain = {i for i in ids if not i.startswith("dup-")}
        self.assertEqual(plain, ev.fraud_ids)
        # the campaign: ten identical texts in one partition -> the first alerts
        self.assertEqual([a["event_id"] for a in campaign], [ev.dedup_ids[0]])
        self.assertEqual(campaign[0]["dedup"]["count"], 1)
        for a in alerts:
            jsonschema.validate(a, SCHEMA["alert"])
            self.assertEqual(a["type"], "alert")
            self.assertTrue(a["ruleset"].startswith("rs-"))
            self.assertRegex(a["dedup"]["key"], r"^[0-9a-f]{16}$")
            self.assertIn(a["rule"]["id"], {"it.zh.frozen", "it.en.prize", "it.num.known"})
            self.assertEqual(a["source"]["topic"], topics["events"])
        frozen = [a for a in alerts if a["rule"]["id"] == "it.zh.frozen"]
        self.assertTrue(frozen and all(a["rule"]["rev"] == 3 and
                                       a["rule"]["category"] == "impersonate_bank" and
                                       a["severity"] == "high" for a in frozen))
        # alerts keep their input record's key (so they are partitioned by
        # subscriber, like the input); events with the same dedup key are
        # decided by one task, in input order
        for (p, off, key, v) in msgs:
            a = json.loads(v)
            if a.get("type") == "alert" and not a["event_id"].startswith("dup-"):
                self.assertIsNotNone(key)
        # every malformed event is on the dead-letter topic with its reason
        dl = [json.loads(v) for _, _, _, v in h.consume_all(topics["dlq"])]
        got = {}
        for d in dl:
            jsonschema.validate(d, SCHEMA["dead-letter"])
            self.assertEqual(d["type"], "dead_letter")
            self.assertTrue("payload" in d or "payload_base64" in d)
            self.assertTrue(d["detail"])
            got[d["source"]["offset"], d["source"]["partition"]] = d["reason"]
        self.assertEqual(sorted(collections.Counter(got.values()).items()),
                         sorted(collections.Counter(ev.invalid.values()).items()))
        self.assertEqual(len(dl), len(ev.invalid))
        return alerts

    def test_campaign_of_one_template(self):
        """300 per-recipient variants of one template (numbers, links and
        callback numbers differ), one event-second apart: one alert, the rest
        suppressed into one campaign whose periodic summaries count them and
        estimate the recipients."""
        topics = h.create_topics({"events": 1, "alerts": 2, "dlq": 1})
        group = f"g-campaign-{uuid.uuid4().hex[:6]}"
        base = 1764288000000
        recs = []
        for i in range(300):
            ev = {"id": f"camp-{i}", "ts": base + i * 1000, "type": "sms",
                  "from": f"+86170{i % 7:08d}", "to": f"+86139{i:08d}",
                  "text": f"【某银行】您的账户{6222020000000000 + i * 7919}已被冻结，请致电 "
                          f"400-{i % 900 + 100}-{i:04d} 或登录 bank-{i}.top 解冻"}
            recs.append(("same-key", json.dumps(ev, ensure_ascii=False).encode()))
        h.produce(topics["events"], recs)
        f = h.Fanzha("campaign", topics, group).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
        finally:
            f.stop()
        msgs = h.consume_all(topics["alerts"])
        alerts = h.alerts_of(msgs)
        self.assertEqual([a["event_id"] for a in alerts], ["camp-0"])
        camps = h.campaigns_of(msgs)
        for c in camps:
            jsonschema.validate(c, SCHEMA["campaign"])
            self.assertEqual(c["key"], alerts[0]["dedup"]["key"])
            self.assertEqual(c["state"], "open")
        counts = [c["count"] for c in camps]
        # one summary per minute of event time: after 60, 120, 180, 240 s
        self.assertEqual(counts, [61, 121, 181, 241])
        for c in camps:  # HyperLogLog, 1,024 registers: 3 standard errors
            self.assertLessEqual(abs(c["recipients_estimate"] - c["count"]),
                                 3 * 0.0325 * c["count"] + 1)
            self.assertLessEqual(abs(c["senders_estimate"] - 7), 3 * 0.13 * 7 + 1)

    def test_intercepts(self):
        """40 subscribers receive a fraud SMS; each then pays out (a known
        total), while 40 others pay the same amounts: exactly the 40 warned
        payers' transfers are intercepted, with their amounts. Events are
        keyed by subscriber, so a subscriber's SMS and transfer share a
        partition and arrive in order."""
        topics = h.create_topics({"events": 4, "alerts": 2, "dlq": 1})
        group = f"g-intercept-{uuid.uuid4().hex[:6]}"
        base = 1764288000000
        recs, want_total = [], 0
        for i in range(40):
            victim, other = f"+86139{i:08d}", f"+86138{i:08d}"
            sms = {"id": f"sms-{i}", "ts": base + i, "type": "sms", "from": "+8610086",
                   "to": victim, "text": f"【某银行】您的账户已被冻结，请联系客服处理 单号 {h.tag(i)}"}
            amount = 1000 + i * 37
            want_total += amount * 100
            pay = {"id": f"pay-{i}", "ts": base + 3600000 + i, "type": "transfer",
                   "from": victim, "to": f"6228{i:012d}", "amount": f"{amount}.00",
                   "currency": "CNY"}
            calm = {"id": f"calm-{i}", "ts": base + 3600000 + i, "type": "transfer",
                    "from": other, "to": f"6229{i:012d}", "amount": f"{amount}.00",
                    "currency": "CNY"}
            recs += [(victim, json.dumps(sms, ensure_ascii=False).encode()),
                     (victim, json.dumps(pay).encode()), (other, json.dumps(calm).encode())]
        h.produce(topics["events"], recs)
        f = h.Fanzha("intercept", topics, group, ("--intercept-capacity", "65536")).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
        finally:
            f.stop()
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        held = [a for a in alerts if a["event_type"] == "transfer"]
        for a in held:
            jsonschema.validate(a, SCHEMA["alert"])
        self.assertEqual(sorted(a["event_id"] for a in held), sorted(f"pay-{i}" for i in range(40)))
        self.assertTrue(all(a["severity"] == "critical" and a["intercept"]["payer_warned"] and
                            a["rule"]["id"] == "fanzha.intercept" for a in held))
        self.assertEqual(sum(a["amount_minor"] for a in held), want_total)

    def test_exact_alerts_and_dead_letters(self):
        topics, ev, f = self.run_mix("e2e", 3000)
        self.check(topics, ev, f)
        self.assertIn("stopped cleanly", f.log())

    def test_backpressure_small_producer_queue(self):
        """A producer queue of 8 records makes the stream threads wait for
        room (they read no more input meanwhile); nothing may be dropped."""
        topics, ev, f = self.run_mix("bp", 4000, extra=(
            "-X", "producer.queue.buffering.max.messages=8", "-X", "producer.linger.ms=20"))
        self.check(topics, ev, f)
        stats = [l for l in f.log().splitlines() if "stats:" in l][-1]
        waits = int(stats.split("producer_waits=")[1].split()[0])
        self.assertGreater(waits, 0, "backpressure never engaged: " + stats)

    def test_two_input_topics(self):
        """Events from several input topics all reach the alerts topic."""
        topics = h.create_topics({"events": 2, "events2": 3, "alerts": 2, "dlq": 1})
        group = f"g-multi-{uuid.uuid4().hex[:6]}"
        ev1 = h.Events(600, seed=31)
        ev2 = h.Events(600, seed=32)
        h.produce(topics["events"], ev1.records)
        h.produce(topics["events2"], ev2.records)
        f = h.Fanzha("multi", topics, group)
        f.args[f.args.index("--input-topics") + 1] = f"{topics['events']},{topics['events2']}"
        f.start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
            h.wait_caught_up(group, topics["events2"], proc=f)
        finally:
            f.stop()
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        self.assertEqual({a["event_id"] for a in alerts}, ev1.fraud_ids | ev2.fraud_ids)
        self.assertEqual({a["source"]["topic"] for a in alerts},
                         {topics["events"], topics["events2"]})

    def test_dead_letter_disabled_counts_and_logs(self):
        topics = h.create_topics({"events": 2, "alerts": 1})
        topics["dlq"] = ""
        group = f"g-nodlq-{uuid.uuid4().hex[:6]}"
        ev = h.Events(500, seed=3, invalid_every=25)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha("nodlq", topics, group).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
            time.sleep(1.2)  # one more stats line
        finally:
            f.stop()
        log = f.log()
        self.assertIn("dead letters -> (disabled)", log)
        self.assertIn("invalid event", log)
        stats = [l for l in log.splitlines() if "stats:" in l][-1]
        self.assertIn(f"invalid={len(ev.invalid)} ", stats)
        ids = {a["event_id"] for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        self.assertEqual(ids, ev.fraud_ids)


if __name__ == "__main__":
    h.main()
