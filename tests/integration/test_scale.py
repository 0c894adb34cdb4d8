"""Equivalence across scale: one, two and three instances over the same
input write the same alerts, the same campaign summaries and the same
statistics as `fanzha replay` (chaos.py's workload, without faults).

Campaign variants go to different partitions, so which variant alerts
depends on which partition is read first: a campaign alert is identified
by its campaign; every other alert by its event id and rule (and its dedup
key: the input reuses some ids for different texts, each of which alerts). Each
generated campaign's last variant is produced after everything else is
processed, so its last summary counts all of it in every run."""
import collections
import json
import unittest
import uuid

import chaos
import harness as h

SUMMARY = ("--campaign-summary-ms", "1000")


def summaries(records):
    """Per campaign, its summary with the highest count (the last one)."""
    out = {}
    for c in records:
        if c["key"] not in out or c["count"] >= out[c["key"]]["count"]:
            out[c["key"]] = c
    return {k: (c["count"], c["first_ts"], c["last_ts"], c["recipients_estimate"],
                c["senders_estimate"], c["rule"]["id"]) for k, c in out.items()}


class Scale(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wl = chaos.Workload(6000, 6, seed=5, closers=True)
        cls.alerts, cls.campaigns, cls.windows = chaos.replay(cls.wl.oracle_lines, SUMMARY)
        cls.campaign_keys = {c["key"] for c in cls.campaigns}

    def identities(self, alerts):
        return collections.Counter(
            (a["dedup"]["key"],) if a["dedup"]["key"] in self.campaign_keys
            else (a["event_id"], a["rule"]["id"], a["dedup"]["key"]) for a in alerts)

    def run_instances(self, n, guarantee="at_least_once"):
        topics = h.create_topics({"events": 6, "alerts": 3, "dlq": 1, "stats": 2})
        group = f"scale{n}-{uuid.uuid4().hex[:6]}"
        args = ("--processing-guarantee", guarantee, *chaos.COMMON_ARGS, *SUMMARY)
        fs = [h.Fanzha(f"scale{n}-{i}", topics, group, args).start() for i in range(n)]
        try:
            for f in fs:
                h.wait_ready(f, timeout=90)
            h.produce(topics["events"], self.wl.records)
            h.wait_caught_up(group, topics["events"], timeout=300, proc=fs[0])
            h.produce(topics["events"], self.wl.closers)
            h.wait_caught_up(group, topics["events"], timeout=300, proc=fs[0])
        finally:
            for f in fs:
                f.stop()
        for f in fs:
            self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        msgs = chaos.read_topic(topics["alerts"])
        got = self.identities(h.alerts_of(msgs))
        want = self.identities(self.alerts)
        self.assertEqual(set(want) - set(got), set(), "alerts missing")
        self.assertEqual(set(got) - set(want), set(), "alerts the oracle does not have")
        self.assertEqual([k for k, c in got.items() if c > 1], [], "alerts written twice")
        # the generated campaigns (3 to 14 variants and a closer); a fraud
        # text sent twice is a campaign of two whose summary depends on timing
        want_s = {k: v for k, v in summaries(self.campaigns).items() if v[0] >= 4}
        self.assertEqual(len(want_s), len(self.wl.closers))
        got_s = summaries(h.campaigns_of(msgs))
        self.assertEqual({k: got_s.get(k) for k in want_s}, want_s)
        self.assertEqual(chaos.window_rows(chaos.stats_of(topics["stats"])),
                         chaos.window_rows(self.windows))
        print(f"\n{n} instance(s), {guarantee}: {sum(got.values())} alerts, "
              f"{len(self.campaign_keys)} campaigns, {len(self.windows)} windows: as replay")

    def test_one_instance(self):
        self.run_instances(1)

    def test_two_instances(self):
        self.run_instances(2)

    def test_three_instances(self):
        self.run_instances(3)

    def test_three_instances_exactly_once(self):
        self.run_instances(3, "exactly_once")


if __name__ == "__main__":
    h.main()
