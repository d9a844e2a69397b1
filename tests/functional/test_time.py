"""Time bound to the block (doc/compliance.md "Time", doc/architecture.md): every transaction's
timestamp lies within time.max_skew_ms of its block's (the block rule time.skew), which every
regulator node checks again; a trade's executed_at is bound to its timestamp (time.executed_at).

The multi-node test builds an operator and two regulator nodes on loopback (framework.Network);
the `backdate` test hook (builds configured with --enable-test-hooks) makes the operator put a
transaction stamped time.max_skew_ms + 1 ms before its block into the next block."""

import unittest

import framework as fw
from framework import REJECTED, in_time

T = fw.SYNC_TIMEOUT
SKEW_MS = 60000  # time.max_skew_ms, the default


class ExecutedAtTest(fw.OneNodeTestCase):
    """time.executed_at on a live node: a trade executed in the future, or long ago, is
    recorded as rejected with the rule's id."""

    def test_executed_at_window(self):
        n = self.n
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.trade(buyer, seller))
        # the node stamps the transaction after this: executed_at 10 minutes ahead is past
        # timestamp + time.max_skew_ms whatever the delay
        self.assertRejected("time.executed_at", n.trade, buyer, seller,
                            executed_at=fw.now_ms() + 10 * SKEW_MS)
        # ... and 10 minutes ago is older than time.max_trade_age_ms (60,000)
        self.assertRejected("time.executed_at", n.trade, buyer, seller,
                            executed_at=fw.now_ms() - 10 * 60000)


class TimeSkewTest(fw.NodeTestCase):

    def test_backdate_refused_by_both_regulators(self):
        net = fw.Network(self, regulators=2)
        op = net.operator
        buyer, seller = op.funded_pair()
        good = op.trade(buyer, seller)
        self.assertReceipt(good)
        # a normal network: the regulators follow, and every transaction is dated within the
        # skew of its block
        height = net.wait_synced()
        for h in range(1, height + 1):
            block = op.call("getblock", {"height": h, "verbose": True})
            for tx in block["transactions"]:
                self.assertLessEqual(abs(tx["timestamp"] - block["time"]), SKEW_MS, tx)
        for r in net.regulators:
            info = r.call("getinfo")
            self.assertIs(info["following"], True, r.name)
            self.assertEqual(info["critical_alerts"], 0, r.name)

        armed = fw.testhook(self, op, {"action": "backdate"})
        self.assertEqual(armed, {"armed": "backdate"})
        # the operator signs it: the backdated transaction, recorded either way (on a fresh
        # devnet the licence may start less than the skew ago: then licence.window rejects it)
        try:
            _, receipt = op.open_account()
            self.assertReceipt(receipt)
        except fw.RPCError as e:
            self.assertEqual(e.code, REJECTED, e)
            receipt = e.data
        tx = op.call("gettx", {"txid": receipt["txid"]})
        block = op.call("getblock", {"height": receipt["height"]})
        self.assertEqual(tx["timestamp"], block["time"] - SKEW_MS - 1, (tx, block))

        for r in net.regulators:
            def alerted():
                for a in r.call("listnodealerts")["items"]:
                    if a["severity"] == "critical" and a["kind"] == "block_invalid":
                        return a
                return None
            a = in_time(alerted, T, "%s raising a critical block_invalid alert" % r.name)
            self.assertIn("time.skew", a["message"], a)
            self.assertEqual(a["height"], receipt["height"], a)
            info = in_time(lambda: (lambda i: i if i["following"] is False else None)(
                r.call("getinfo")), T, "%s no longer following" % r.name)
            self.assertLess(info["height"], receipt["height"], info)
            # the block before it is the operator's
            self.assertEqual(r.call("getblock", {"height": info["height"]})["hash"],
                             op.call("getblock", {"height": info["height"]})["hash"])

        # the operator's own replay (verifychain) refuses the block it wrote, for the same rule
        v = op.call("verifychain")
        self.assertIs(v["ok"], False, v)
        self.assertEqual(v["failed_at"], receipt["height"], v)
        self.assertIn("time.skew", v["error"], v)
        # the trade before it was never in question
        self.assertLess(good["height"], receipt["height"])

    def test_clock_skew_warning(self):
        """A regulator node warns (clock.skew) when a live block's time is further from its
        clock than time.max_skew_ms, once, and goes on following."""
        net = fw.Network(self, regulators=2)
        op = net.operator

        def clock_alerts(r):
            return [a for a in r.call("listnodealerts")["items"] if a["kind"] == "clock.skew"]

        self.assertReceipt(op.open_account()[1])
        net.wait_synced()
        for r in net.regulators:
            self.assertEqual(clock_alerts(r), [], r.name)
        # a skew of 0: a live block is a millisecond or more away from a regulator's clock
        # (it is dated when the operator opens it, then written, synced and sent); every
        # transaction the operator signs is dated with its block, so the blocks stay valid
        rec = net.regulators[0].call("submitdirective", {
            "kind": "set_param", "name": "time.max_skew_ms", "value": 0,
            "reason": "functional test", "legal_basis": "test licence 1.2"})
        self.assertReceipt(rec)

        def warned(r):
            self.assertReceipt(op.open_account()[1])
            return clock_alerts(r) or None
        for r in net.regulators:
            alerts = in_time(lambda: warned(r), T, "%s warning clock.skew" % r.name)
            self.assertEqual(alerts[0]["severity"], "warning", alerts)
            self.assertGreater(alerts[0]["height"], rec["height"], alerts)
        for _ in range(5):
            last = self.assertReceipt(op.open_account()[1])
        # the operator stamped it again with its block's time (it was stamped at admission)
        self.assertEqual(op.call("gettx", {"txid": last["txid"]})["timestamp"],
                         op.call("getblock", {"height": last["height"]})["time"])
        net.wait_synced()
        for r in net.regulators:
            self.assertEqual(len(clock_alerts(r)), 1, r.name)  # not repeated
            info = r.call("getinfo")
            self.assertIs(info["following"], True, r.name)
            self.assertEqual(info["critical_alerts"], 0, r.name)


if __name__ == "__main__":
    unittest.main()
