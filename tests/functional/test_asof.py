"""The ledger as of any height: getaccount, getusage and getlicence with "height" or "time".

Over a chain of 50,000 trades, what the operator answered "now" at 20 random moments of the
build is what the operator and a regulator node answer later for the height of each moment; a
time resolves to the last block at or before it; a limit changed by directive shows in
getlicence and getusage at the directive's block and not at the one before; -reindex writes the
history again; getreport's state before its period, read from the history, holds the balances
the replay gives; bad parameters get clear errors naming the field.

The history keeps one version of each record per state checkpoint (none per block): an answer
is the state at the last checkpoint at or below the height, then the blocks after it replayed.
Clean stops write checkpoints, so a chain built across restarts has answers that replay from
checkpoints other than genesis, with only the records the replayed transactions name loaded."""

import random
import re
import threading
import unittest

import framework as fw
from framework import INVALID_PARAMS, NOT_FOUND, UNAVAILABLE
from test_report import local_day

TRADES = 50000
BATCH = 1000  # -rpcmaxbatch's default
SAMPLES = 20
ACCOUNTS = 10
WATCHED = 3  # accounts recorded at each sample


def directive(kind, **kw):
    d = {"kind": kind, "reason": "functional test", "legal_basis": "test licence 1.2"}
    d.update(kw)
    return d


def build(case, op, rnd, trades=TRADES, samples=SAMPLES):
    """Accounts holding VND and BTC, then `trades` trades between random pairs of them in
    batches; after `samples` random batches, what the operator answers now (getaccount and
    getusage of a few accounts, exchange-wide getusage, getlicence) with the height that state
    belongs to. Returns (accounts, [(height, {name: answer})])."""
    accounts = []
    for _ in range(ACCOUNTS):
        a, _ = op.open_account()
        op.deposit(a, "VND", "200000000")
        op.deposit(a, "BTC", "0.05000000")
        accounts.append(a)
    nbatches = trades // BATCH
    sampled = set(rnd.sample(range(nbatches), samples))
    recorded = []
    for b in range(nbatches):
        calls = []
        for _ in range(BATCH):
            buyer, seller = rnd.sample(accounts, 2)
            q = "0.%08d" % rnd.randint(1, 9)
            calls.append(("submittrade", fw.trade_params(buyer, seller, quantity=q)))
        height = 0
        for r in op.batch(calls):
            # an accepted trade's receipt, or a recorded rejection with its block's height
            res = r.get("result") or (r.get("error") or {}).get("data") or {}
            case.assertIn("height", res, r)
            height = max(height, res["height"])
        if b not in sampled:
            continue
        # nothing else changes the accounts or the limits until the next batch (attestation
        # blocks change only the regulators' records): this is the state of `height`
        seen = {"usage": op.call("getusage"), "licence": op.call("getlicence")}
        for a in rnd.sample(accounts, WATCHED):
            seen["account " + a] = op.call("getaccount", {"account": a})
            seen["usage " + a] = op.call("getusage", {"account": a})
        recorded.append((height, seen))
    return accounts, recorded


def ask(node, name, height=None, when=None):
    """The question `name` (as build records it) as of a height or a time."""
    p = {"height": height} if height is not None else {"time": when}
    if name == "usage":
        return node.call("getusage", p)
    if name == "licence":
        return node.call("getlicence", p)
    kind, account = name.split(" ")
    p["account"] = account
    return node.call("getaccount" if kind == "account" else "getusage", p)


def history_bytes(node):
    """The bytes of history ('V') records the node has written since it started."""
    status, body = node.http(b"", method="GET", path="/metrics")
    if status != 200:
        raise AssertionError("GET /metrics: %d %r" % (status, body[:200]))
    m = re.search(r'^sbx_store_written_bytes_total\{kind="V"\} (\d+)$', body.decode(), re.M)
    return int(m.group(1)) if m else 0  # not shown before the first history record


class AsOfTest(fw.NodeTestCase):

    def assertSameAs(self, got, want, height, block_time):
        """`got` (as of `height`) is `want` (answered now at that height) plus as_of_height;
        getusage's time is the block's."""
        self.assertEqual(got.pop("as_of_height"), height)
        if "time" in want:
            self.assertEqual(got.pop("time"), block_time)
            want = dict(want)
            del want["time"]
        self.assertEqual(got, want)

    def test_past_answers_over_50000_trades(self):
        rnd = random.Random()
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        accounts, recorded = build(self, op, rnd)
        self.assertEqual(len(recorded), SAMPLES)
        net.wait_synced()
        for height, seen in recorded:
            block_time = op.call("getblock", {"height": height})["time"]
            for node in (op, reg):
                for name, want in seen.items():
                    self.assertSameAs(ask(node, name, height), want, height, block_time)
        # a time names the last block at or before it
        tip = net.wait_synced()
        for height, seen in recorded[:5]:
            t = op.call("getblock", {"height": height})["time"]
            name = next(k for k in seen if k.startswith("account "))
            got = ask(reg, name, when=t)
            h = got["as_of_height"]
            self.assertGreaterEqual(h, height)
            self.assertLessEqual(op.call("getblock", {"height": h})["time"], t)
            if h < tip:
                self.assertGreater(op.call("getblock", {"height": h + 1})["time"], t)
            self.assertEqual(got, ask(reg, name, height=h))
        # getreport of the day after the tip starts from the whole state as of the tip, read
        # from the history; the report of the tip's day replays the blocks: the same balances
        tip_time = op.call("getblock", {"height": tip})["time"]
        for node in (op, reg):
            replayed = node.call("getreport", {"kind": "daily", "date": local_day(tip_time)})
            loaded = node.call("getreport", {"kind": "daily",
                                             "date": local_day(tip_time + 86400000)})
            self.assertEqual(loaded["transactions"], 0)
            self.assertEqual(loaded["liabilities"], replayed["liabilities"])
            self.assertEqual(loaded["licence"]["param_version"],
                             replayed["licence"]["param_version"])
        # -reindex writes the history again from the blocks: the same answers
        reg.extra_args.append("-reindex")
        reg.restart()
        reg.extra_args.remove("-reindex")
        for height, seen in rnd.sample(recorded, 3):
            block_time = op.call("getblock", {"height": height})["time"]
            for name, want in seen.items():
                self.assertSameAs(ask(reg, name, height), want, height, block_time)
        # the first block of the chain's first account, and before it
        genesis_time = op.call("getblock", {"height": 0})["time"]
        got = op.call("getlicence", {"time": genesis_time})
        self.assertEqual(got["as_of_height"], 0)
        self.assertRPCError(NOT_FOUND, op.call, "getaccount", {"account": accounts[0],
                                                               "height": 0})

    def test_replay_from_checkpoints_after_restarts(self):
        rnd = random.Random()
        op = fw.Network(self, regulators=0).operator
        accounts = []
        for _ in range(4):
            a, _ = op.open_account()
            op.deposit(a, "VND", "200000000")
            op.deposit(a, "BTC", "0.05000000")
            accounts.append(a)
        recorded = []
        for rnd_no in range(6):
            if rnd_no % 2 == 1:
                op.restart()  # a clean stop: a checkpoint at the tip
            before = history_bytes(op)
            height = 0
            # one block each; the first round passes the 256 blocks after which a checkpoint
            # falls, the others stay below it
            for _ in range(300 if rnd_no == 0 else rnd.randint(5, 25)):
                buyer, seller = rnd.sample(accounts, 2)
                r = op.trade(buyer, seller, quantity="0.%08d" % rnd.randint(1, 9))
                height = max(height, r["height"])
            written = history_bytes(op) - before
            if rnd_no == 0:
                # one checkpoint's versions of the few records 300 blocks changed (a version
                # per block would be about 300 times as many)
                self.assertGreater(written, 0)
                self.assertLess(written, 20000)
            else:
                self.assertEqual(written, 0)  # no block wrote a version of what it changed
            seen = {"usage": op.call("getusage"), "licence": op.call("getlicence")}
            for a in accounts:
                seen["account " + a] = op.call("getaccount", {"account": a})
                seen["usage " + a] = op.call("getusage", {"account": a})
            recorded.append((height, seen))
        op.restart()
        for height, seen in recorded:
            block_time = op.call("getblock", {"height": height})["time"]
            for name, want in seen.items():
                self.assertSameAs(ask(op, name, height), want, height, block_time)

    def test_directive_shows_before_and_after(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair()
        receipt = op.trade(buyer, seller, quantity="0.00200000")
        before = op.call("getlicence")
        net.wait_synced()  # the regulator is linked: it can relay its directive
        r = reg.call("submitdirective", directive("set_param", name="limit.daily.tier1",
                                                  value="10000000"))
        h = r["height"]
        net.wait_synced(height=h)
        for node in (op, reg):
            old = node.call("getlicence", {"height": h - 1})
            new = node.call("getlicence", {"height": h})
            self.assertEqual(old["params"]["limit.daily.tier1"],
                             before["params"]["limit.daily.tier1"])
            self.assertEqual(old["version"], before["version"])
            self.assertEqual(new["params"]["limit.daily.tier1"], "10000000")
            self.assertGreater(new["version"], old["version"])
            self.assertEqual(new["as_of_height"], h)
            # the buyer's daily limit moves with it; its use does not
            u_old = node.call("getusage", {"account": buyer, "height": h - 1})["limits"]
            u_new = node.call("getusage", {"account": buyer, "height": h})["limits"]
            self.assertEqual(u_old["limit.daily"]["limit"],
                             before["params"]["limit.daily.tier1"])
            self.assertEqual(u_new["limit.daily"]["limit"], "10000000")
            self.assertEqual(u_old["limit.daily"]["used"], "5000000")
            self.assertEqual(u_new["limit.daily"]["used"], "5000000")
            # and the trade's block is where the buyer's balance changed
            at = node.call("getaccount", {"account": buyer, "height": receipt["height"]})
            prev = node.call("getaccount", {"account": buyer, "height": receipt["height"] - 1})
            self.assertEqual(at["balances"]["BTC"], "0.00200000")
            self.assertEqual(prev["balances"]["BTC"], "0.00000000")
            self.assertEqual(at["balances"], op.call("getaccount", {"account": buyer})["balances"])

    def test_exchange_usage_is_a_background_job(self):
        """getusage of the exchange as of a block reads every account's version: it runs as the
        node's background job, so while a getreport runs it is refused with -32004, and
        answers once it is done. The test hook slows the report down to 50 ms a block."""
        n = self.node()
        fw.testhook(self, n, {"action": "slow_jobs"})
        while n.call("getinfo")["height"] < 40:  # about 2 s of replay
            n.open_account()
        day = local_day(fw.now_ms())
        now = n.call("getusage")
        refused = 0
        # the report's call may reach the node after the first getusage has taken the job
        # thread: then the report is the one refused, and the round is tried again
        for _ in range(10):
            outcome = {}

            def report():
                try:
                    outcome["report"] = n.call("getreport", {"kind": "daily", "date": day})
                except fw.RPCError as e:
                    outcome["error"] = e
            t = threading.Thread(target=report)
            t.start()
            while t.is_alive():
                try:
                    got = n.call("getusage", {"height": 0})
                    self.assertEqual(got["as_of_height"], 0)
                except fw.RPCError as e:
                    self.assertEqual(e.code, UNAVAILABLE, e)
                    self.assertIn("already running", e.message)
                    refused += 1
            t.join()
            if "report" in outcome:
                break
            self.assertEqual(outcome["error"].code, UNAVAILABLE, outcome["error"])
        self.assertIn("report", outcome, "getreport lost the job thread to getusage 10 times")
        self.assertGreater(refused, 0, "no getusage was refused while getreport ran")
        tip = n.call("getinfo")["height"]
        got = n.call("getusage", {"height": tip})
        self.assertEqual(got.pop("as_of_height"), tip)
        self.assertEqual(got["limits"], now["limits"])  # nothing changed since

    def test_bad_params(self):
        n = self.node()
        a, r = n.open_account()
        tip = n.call("getinfo")["height"]
        genesis_time = n.call("getblock", {"height": 0})["time"]
        for method, p in (("getaccount", {"account": a}), ("getusage", {"account": a}),
                          ("getusage", {}), ("getlicence", {})):
            # the tip is the last height there is; one above is not found
            self.assertEqual(n.call(method, dict(p, height=tip))["as_of_height"], tip)
            e = self.assertRPCError(NOT_FOUND, n.call, method, dict(p, height=tip + 1))
            self.assertIn("height", e.message)
            e = self.assertRPCError(NOT_FOUND, n.call, method, dict(p, time=genesis_time - 1))
            self.assertIn("time", e.message)
            if "account" in p:  # opened after genesis: not there yet
                e = self.assertRPCError(NOT_FOUND, n.call, method, dict(p, time=genesis_time))
                self.assertIn("account", e.message)
            else:
                self.assertEqual(n.call(method, dict(p, time=genesis_time))["as_of_height"], 0)
            e = self.assertRPCError(INVALID_PARAMS, n.call, method, dict(p, height=1, time=1))
            self.assertIn("height", e.message)
            for bad in (-1, "1", 1.5):
                self.assertRPCError(INVALID_PARAMS, n.call, method, dict(p, height=bad))
                self.assertRPCError(INVALID_PARAMS, n.call, method, dict(p, time=bad))
        # an account that did not exist yet at a height
        e = self.assertRPCError(NOT_FOUND, n.call, "getaccount",
                                {"account": a, "height": r["height"] - 1})
        self.assertIn("account", e.message)
        self.assertEqual(n.call("getaccount", {"account": a, "height": r["height"]})["account"], a)


if __name__ == "__main__":
    unittest.main()
