"""The chaos runner's short version (chaos.py): instances killed, stalled
past their session timeout, joining and leaving, and the broker restarted
and down, while hostile input flows; alerts and statistics compared with
`fanzha replay`. The long version: tests/chaos-long.sh."""
import json
import os
import unittest

import chaos
import harness as h


class Chaos(unittest.TestCase):
    def run_short(self, i):
        sc = chaos.SCENARIOS["short"][i]
        managed = bool(os.environ.get("FANZHA_KAFKA_PORT"))
        r = chaos.run_scenario(*sc, seed=11 + i, managed_broker=managed)
        print("\n" + json.dumps({k: v for k, v in r.items() if k != "crashes"},
                                ensure_ascii=False))
        self.assertEqual(chaos.verdict(r), [])
        self.assertGreater(r["oracle_alerts"], 100)
        self.assertGreater(r["intercepts"], 10)
        self.assertGreater(r["bad_inputs"], 5)
        self.assertGreater(r["dead_letters"], 5)
        want = {k: n for k, n in sc[6].items() if managed or k not in ("restart", "down")}
        self.assertEqual(r["faults"], want)

    def test_exactly_once_mixed_faults(self):
        self.run_short(0)

    def test_at_least_once_mixed_faults(self):
        self.run_short(1)


if __name__ == "__main__":
    h.main()
