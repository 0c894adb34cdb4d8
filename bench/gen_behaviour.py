#!/usr/bin/env python3
"""Behavioural traffic: normal subscribers with planted SIM-box, robocall,
money-mule and SMS-blast patterns, and the ground truth of which numbers
are planted.

    bench/gen_behaviour.py [--seed S] [--subscribers N] [--minutes M]
                           [--planted K] --out EVENTS.ndjson --truth TRUTH.json

The planted patterns are sized for rules/common/behaviour.yaml:

  simbox     150-200 calls to distinct numbers within 8 minutes, 5-18 s each
             (median under 20 s)
  robocall   360-420 calls to distinct numbers spread over 50 minutes
             (fewer than 100 in any 10 minutes), 1-6 s each
  mule       12-20 distinct payers into one account within 40 minutes
  sms_blast  220-300 sms with a link to distinct recipients within 4 minutes

Normal traffic stays clear of every threshold, close enough to test them:
subscribers call, text and pay a few of their contacts; one call centre per
100 subscribers calls 150 distinct numbers in 10 minutes but talks for
minutes (median over 60 s); a bulk notifier texts a link to 150
recipients in 5 minutes; a shop receives from up to 8 distinct payers an hour.

The truth file maps each shipped rule id to the sorted planted keys it must
alert on: {"common.behaviour.simbox": ["+86170..."], ...}. Events are
sorted by time; each line is one event (docs/events.md). Kafka keys, as
bench/gen.py uses them (the subscriber: recipient of sms and calls, payer
of transfers), are in the "_key" member of the truth file's "keys" list,
one per event in order, so a test produces them as the input would be.
Seeded: the same arguments give the same bytes.
"""
import argparse
import json
import random

T0 = 1764288000000  # 2025-11-28 00:00:00 UTC
RULES = {"simbox": "common.behaviour.simbox", "robocall": "common.behaviour.robocall",
         "mule": "common.behaviour.money-mule", "sms_blast": "common.behaviour.sms-blast"}


def generate(seed=11, subscribers=2000, minutes=60, planted=2):
    rnd = random.Random(seed)
    span = minutes * 60000
    events = []  # (ts, seq, event, kafka key)

    def phone(prefix, i):
        return "+86%s%08d" % (prefix, i)

    def acct(prefix, i):
        return "6222%04d%08d" % (prefix, i)

    subs = [phone("139", i) for i in range(subscribers)]
    accts = [acct(200, i) for i in range(subscribers)]

    def add(ts, ev, key):
        ev = dict(ev, ts=int(ts))
        events.append((int(ts), len(events), ev, key))

    def call(ts, a, b, dur):
        add(ts, {"type": "call", "from": a, "to": b, "duration_s": int(dur)}, b)

    def sms(ts, a, b, text):
        add(ts, {"type": "sms", "from": a, "to": b, "text": text}, b)

    def transfer(ts, a, b, amount):
        add(ts, {"type": "transfer", "from": a, "to": b, "amount": "%d.00" % amount,
                 "currency": "CNY"}, a)

    # normal subscribers: a few contacts each
    for i, s in enumerate(subs):
        contacts = rnd.sample(range(subscribers), 6)
        for _ in range(rnd.randint(1, 4)):
            call(rnd.randrange(span), s, subs[rnd.choice(contacts)], rnd.randint(5, 600))
        for _ in range(rnd.randint(0, 3)):
            sms(rnd.randrange(span), s, subs[rnd.choice(contacts)],
                rnd.choice(["明天见", "晚上一起吃饭吗", "收到，谢谢", "see you at six",
                            "call me back when you can"]))
        if rnd.random() < 0.3:
            transfer(rnd.randrange(span), accts[i], accts[rnd.choice(contacts)],
                     rnd.randint(10, 2000))
    # close to the thresholds, but normal
    for c in range(max(1, subscribers // 100)):
        centre = phone("400", c)
        start = rnd.randrange(span - 600000)
        for j in range(150):
            call(start + j * 4000, centre, phone("138", c * 1000 + j), rnd.randint(60, 900))
    for c in range(max(1, subscribers // 500)):
        notifier = phone("106", c)
        start = rnd.randrange(span - 300000)
        for j in range(150):
            sms(start + j * 2000, notifier, phone("137", c * 1000 + j),
                "您的快递已到达驿站，详情 https://kd.example.cn/q")
    for c in range(max(1, subscribers // 200)):
        shop = acct(500, c)
        for j in range(8):
            transfer(rnd.randrange(span), acct(600, c * 100 + j), shop, rnd.randint(10, 300))

    truth = {r: [] for r in RULES.values()}
    for k in range(planted):
        box = phone("170", k)
        truth[RULES["simbox"]].append(box)
        start = rnd.randrange(span - 480000)
        n = rnd.randint(150, 200)
        for j in range(n):
            call(start + j * 480000 // n, box, phone("135", k * 10000 + j), rnd.randint(5, 18))
        robo = phone("171", k)
        truth[RULES["robocall"]].append(robo)
        n = rnd.randint(360, 420)
        start = rnd.randrange(span - 3000000) if span > 3000000 else 0
        for j in range(n):
            call(start + j * 3000000 // n, robo, phone("136", k * 10000 + j), rnd.randint(1, 6))
        mule = acct(900, k)
        truth[RULES["mule"]].append(mule)
        start = rnd.randrange(span - 2400000)
        n = rnd.randint(12, 20)
        for j in range(n):
            transfer(start + j * 2400000 // n, accts[rnd.randrange(subscribers)] if j % 2
                     else acct(700, k * 100 + j), mule, rnd.randint(500, 5000))
        blaster = phone("165", k)
        truth[RULES["sms_blast"]].append(blaster)
        start = rnd.randrange(span - 240000)
        n = rnd.randint(220, 300)
        for j in range(n):
            sms(start + j * 240000 // n, blaster, phone("134", k * 10000 + j),
                "【通知】您的账户积分即将清零，速登 http://jf-10086.top 兑换")
    events.sort(key=lambda e: (e[0], e[1]))
    out, keys = [], []
    for i, (_, _, ev, key) in enumerate(events):
        ev = {"id": "b%06d" % i, **ev}
        out.append(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
        keys.append(key)
    # a mule's payers repeat across planted accounts only by chance: distinct
    # payers are what counts, so the truth holds as generated
    return out, keys, {r: sorted(v) for r, v in truth.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--subscribers", type=int, default=2000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--planted", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--truth", required=True)
    a = ap.parse_args()
    lines, keys, truth = generate(a.seed, a.subscribers, a.minutes, a.planted)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(a.truth, "w", encoding="utf-8") as f:
        json.dump({"planted": truth, "keys": keys}, f, ensure_ascii=False)
    print(f"gen_behaviour: {len(lines)} events, "
          f"{sum(len(v) for v in truth.values())} planted keys -> {a.out}, {a.truth}")


if __name__ == "__main__":
    main()
