#!/usr/bin/env python3
"""Telecom event generator for benchmarks: NDJSON to a file, or records to Kafka.

    bench/gen.py [--count N | --seconds S] [--rate R] [--seed S]
                 [--mix sms=85,call=5,transfer=8,report=2] [--zh 0.6] [--fraud 0.05]
                 [--campaigns 20] [--campaign-share 0.5] [--recipients 1000000]
                 [--amount-max 50000] [--text-bytes N] [--data DIR]
                 [--out FILE | --brokers HOST:PORT --topic T] [--quiet]

Events follow docs/events.md. SMS texts: fraud and spam texts sampled from
the real corpora in ../shared/data (or $FANZHA_DATA, --data) when present,
English ham from the UCI corpus, Chinese ham from built-in templates; with
no corpora, built-in templates only (the progress line says which). A
share of the fraud SMS (--campaign-share) are per-recipient variants of
--campaigns templates (numbers, links and callback numbers differ), the way
campaigns arrive. Transfers come in part from recipients of fraud (so
interception fires), reports carry losses. --text-bytes pads or cuts every
SMS text to about N bytes (message-size scaling). Seeded: the same
arguments give the same events (ids and times included; with --rate the
event times follow the schedule).

To Kafka: keyed by subscriber (the recipient of sms and calls, the payer of
transfers, the reporter), as docs/statistics.md recommends; --rate paces the
producer (0 = as fast as it goes). A progress line goes to stderr every
second.
"""
import argparse
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import corpus_events  # noqa: E402

ZH_HAM = ["明天下午三点开会，请准时参加", "快递已放在门口，请及时取件", "妈，我周末回家吃饭",
          "您的验证码是{n}，5分钟内有效，请勿告诉他人", "本月话费账单已出，共计{m}元",
          "会议改到402室，带上笔记本", "晚上一起吃饭吗？老地方见", "孩子的家长会定在周五晚上七点",
          "您预约的体检时间为{d}日上午八点", "航班CA{n4}已开始登机，请前往{g}号登机口"]
EN_HAM = ["See you at 7 by the station", "Running late, start without me",
          "Your code is {n}. Do not share it.", "Dinner at mum's on Sunday?",
          "Meeting moved to room 4, bring the slides", "Happy birthday! Have a great day"]
ZH_FRAUD = ["【{bank}】您的账户存在异常交易已被冻结，请于24小时内登录 {link} 验证身份解冻，客服 {phone}",
            "您好，您的快递因地址不详被退回，理赔请加QQ {qq} 或致电 {phone}，退款 {m} 元",
            "[公安局]你涉嫌洗钱案，请将资金转入安全账户 {acct} 配合调查，联系人王警官 {phone}",
            "恭喜您获得平台刷单返利资格，日赚 {m} 元，下载 {link} 注册邀请码 {qq}",
            "您的医保卡已被冻结，请致电 {phone} 办理解冻，逾期将影响报销",
            "无抵押贷款，最高{m}万，当天放款，详询 {phone}，回T退订"]
EN_FRAUD = ["Your parcel is held at customs. Pay the {m} GBP fee at {link} within 24h",
            "URGENT: your bank account is locked. Verify at {link} or call {phone} now",
            "Congratulations! You won a {m} prize. Claim at {link} with code {n}",
            "HMRC: you are owed a tax refund of {m}. Claim at {link}"]
BANKS = ["工商银行", "建设银行", "农业银行", "招商银行", "中国银行"]
CATEGORIES = ["impersonate_police", "investment", "rebate", "fake_loan", "impersonate_bank",
              "ecommerce_service", "romance"]


class Gen:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.fraud_zh, self.fraud_en, self.ham_en, self.source = self.corpora(a.data)
        r = self.rnd
        self.templates = [(r.choice(ZH_FRAUD) if r.random() < a.zh else r.choice(EN_FRAUD))
                          for _ in range(max(a.campaigns, 1))]
        mix = dict(kv.split("=") for kv in a.mix.split(","))
        kinds = ["sms", "call", "transfer", "report"]
        total = sum(float(mix.get(k, 0)) for k in kinds)
        self.cum, acc = [], 0.0
        for k in kinds:
            acc += float(mix.get(k, 0)) / total
            self.cum.append((acc, k))
        self.victims = []
        self.n = 0

    def corpora(self, arg):
        d = corpus_events.data_dir(arg)
        fz, fe, he = [], [], []
        if d:
            for eid, text in corpus_events.corpus(d):
                if eid.startswith("uci/ham"):
                    he.append(text)
                elif eid.startswith("uci/spam"):
                    fe.append(text)
                elif eid.startswith("fbs/FR_") or eid.startswith("spam80w/fraud"):
                    fz.append(text)
        if fz and fe and he:
            return fz, fe, he, f"texts from the corpora in {os.path.relpath(d, ROOT)}"
        return [], [], [], "built-in templates (no corpora found)"

    def fill(self, t):
        r = self.rnd
        return t.format(bank=r.choice(BANKS), link=f"verify-{r.randrange(10**6)}.top",
                        phone=f"400-{r.randrange(100, 999)}-{r.randrange(1000, 9999)}",
                        qq=r.randrange(10**8, 10**9), m=r.randrange(50, 50000),
                        n=r.randrange(100000, 999999), n4=r.randrange(1000, 9999),
                        d=r.randrange(1, 28), g=r.randrange(1, 60),
                        acct=f"6222 {r.randrange(1000, 9999)} {r.randrange(1000, 9999)} "
                             f"{r.randrange(1000, 9999)}")

    def sized(self, text):
        want = self.a.text_bytes
        if not want:
            return text
        b = text.encode()
        while len(b) < want:
            b += (" " + self.fill(self.rnd.choice(EN_HAM))).encode()
        return b[:want].decode("utf-8", "ignore")

    def sms_text(self):
        a, r = self.a, self.rnd
        zh = r.random() < a.zh
        if r.random() < a.fraud:
            if r.random() < a.campaign_share:
                return self.fill(r.choice(self.templates)), True
            pool = self.fraud_zh if zh else self.fraud_en
            return (r.choice(pool) if pool else self.fill(r.choice(ZH_FRAUD if zh else EN_FRAUD))), True
        if not zh and self.ham_en:
            return r.choice(self.ham_en), False
        return self.fill(r.choice(ZH_HAM if zh else EN_HAM)), False

    def event(self, ts):
        a, r = self.a, self.rnd
        i = self.n
        self.n += 1
        sub = f"+86139{r.randrange(a.recipients):08d}"
        u = r.random()
        kind = next(k for c, k in self.cum if u <= c)
        if kind == "sms":
            text, fraud = self.sms_text()
            if fraud and len(self.victims) < 100000:
                self.victims.append(sub)
            return sub, {"id": f"g{i}", "ts": ts, "type": "sms",
                         "from": f"+86{'170' if fraud else '106'}{r.randrange(10**8):08d}",
                         "to": sub, "text": self.sized(text)}
        if kind == "call":
            return sub, {"id": f"g{i}", "ts": ts, "type": "call",
                         "from": f"+86{r.choice(['170', '138', '021'])}{r.randrange(10**8):08d}",
                         "to": sub, "duration_s": r.randrange(1, 1800)}
        if kind == "transfer":
            payer = r.choice(self.victims) if self.victims and r.random() < 0.2 else sub
            return payer, {"id": f"g{i}", "ts": ts, "type": "transfer", "from": payer,
                           "to": f"6228{r.randrange(10**12):012d}",
                           "amount": f"{r.randrange(1, a.amount_max * 100) / 100:.2f}",
                           "currency": "CNY"}
        return sub, {"id": f"g{i}", "ts": ts, "type": "report", "from": sub,
                     "amount": f"{r.randrange(100, a.amount_max * 100) / 100:.2f}",
                     "currency": "CNY", "category": r.choice(CATEGORIES)}


class Progress:
    def __init__(self, quiet, total):
        self.quiet, self.total = quiet, total
        self.t0 = self.last = time.monotonic()

    def tick(self, n, final=False):
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < 1.0):
            return
        self.last = now
        el = max(now - self.t0, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        print(f"gen: {n:,}{of} events, {el:.0f} s, {n / el:,.0f} events/s"
              + (" (done)" if final else ""), file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seconds", type=float, help="run this long instead of --count (with --rate)")
    ap.add_argument("--rate", type=float, default=0, help="events/s; 0 = as fast as possible")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", default="sms=85,call=5,transfer=8,report=2")
    ap.add_argument("--zh", type=float, default=0.6, help="share of Chinese texts")
    ap.add_argument("--fraud", type=float, default=0.05, help="share of SMS that are fraud or spam")
    ap.add_argument("--campaigns", type=int, default=20, help="campaign templates")
    ap.add_argument("--campaign-share", type=float, default=0.5,
                    help="share of fraud SMS that are campaign variants")
    ap.add_argument("--recipients", type=int, default=1000000, help="distinct subscribers")
    ap.add_argument("--amount-max", type=int, default=50000, help="largest amount (CNY)")
    ap.add_argument("--text-bytes", type=int, default=0, help="pad or cut SMS texts to this size")
    ap.add_argument("--start-ts", type=int, default=1764288000000)
    ap.add_argument("--data")
    ap.add_argument("--out", default="-")
    ap.add_argument("--brokers")
    ap.add_argument("--topic")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    g = Gen(a)
    total = None if a.seconds else a.count
    prog = Progress(a.quiet, total)
    if not a.quiet:
        print(f"gen: {g.source}; seed {a.seed}", file=sys.stderr)
    producer = None
    if a.brokers:
        from confluent_kafka import Producer
        if not a.topic:
            sys.exit("gen: --brokers needs --topic")
        producer = Producer({"bootstrap.servers": a.brokers, "linger.ms": 20,
                             "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000,
                             "compression.type": "lz4", "enable.idempotence": True})
        out = None
    else:
        out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    t0 = time.monotonic()
    step_ms = 1000.0 / a.rate if a.rate else 2.0
    n = 0
    while True:
        if total is not None and n >= total:
            break
        el = time.monotonic() - t0
        if a.seconds and el >= a.seconds:
            break
        if a.rate and n > el * a.rate:
            time.sleep(min(0.01, n / a.rate - el))
            continue
        key, ev = g.event(a.start_ts + int(n * step_ms))
        line = json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
        if producer is not None:
            while True:
                try:
                    producer.produce(a.topic, line.encode(), key.encode())
                    break
                except BufferError:
                    producer.poll(0.05)
            if n % 1000 == 0:
                producer.poll(0)
        else:
            out.write(line + "\n")
        n += 1
        prog.tick(n)
    if producer is not None:  # (a Producer's truth value is its queue length)
        left = producer.flush(120)
        if left:
            sys.exit(f"gen: {left} records not delivered")
    elif out is not sys.stdout:
        out.close()
    prog.tick(n, final=True)


if __name__ == "__main__":
    main()
