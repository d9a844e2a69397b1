"""Screening and the Travel Rule that cannot be skipped (doc/compliance.md, rules
screening.missing and travel_rule.missing), on `sbxd -devnet` with a regulator node that
re-checks every verdict: an unscreened crypto deposit or withdrawal is rejected, a screened one
accepted; two accounts each just under the Travel Rule threshold from one external address
trip the rule on the second; the address's window survives a restart and a -reindex of the
operator; the regulator holds the same blocks, raises no alert and verifychain passes."""

import unittest

import framework as fw
from framework import in_time

T = fw.SYNC_TIMEOUT
# VND values at the devnet's reference price (2,500,000,000 VND per BTC): 0.0028 BTC is
# 7,000,000 VND and 0.0024 BTC 6,000,000; the Travel Rule threshold is 13,000,000.
SEVEN_M = "0.00280000"
SIX_M = "0.00240000"


class ScreeningTest(fw.NodeTestCase):

    def no_critical_alert(self, node):
        items = node.call("listnodealerts")["items"]
        self.assertEqual([a for a in items if a["severity"] == "critical"], [], node.name)

    def test_screening_and_travel_rule_by_address(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        self.assertEqual(op.call("getlicence")["params"]["aml.screening_required"], 1)
        a, _ = op.open_account()
        b, _ = op.open_account()
        c, _ = op.open_account()

        # no screening result: rejected, deposit and withdrawal alike; VND needs none
        unscreened = self.assertRejected("screening.missing", op.deposit, a, "BTC", "0.00100000",
                                         screening=False)
        self.assertRejected("screening.missing", op.transfer, "withdraw", a, "BTC", "0.00010000",
                            screening=False)
        self.assertReceipt(op.deposit(a, "VND", "1000"))
        # a screened deposit goes through (no Travel Rule record needed: 2,500,000 VND)
        self.assertReceipt(op.deposit(a, "BTC", "0.00100000", travel_rule=False))
        # withdrawals are screened like deposits: the block score rejects
        self.assertRejected("aml.screening", op.call, "withdraw", {
            "transfer_id": fw.uid("wd"), "account": a, "asset": "BTC", "amount": "0.00010000",
            "reference": "bc1-risky", "screening": fw.screening_record(80)})
        self.assertReceipt(op.call("withdraw", {
            "transfer_id": fw.uid("wd"), "account": a, "asset": "BTC", "amount": "0.00010000",
            "reference": "bc1-fine", "screening": fw.screening_record(79)}))

        # two accounts, each under the threshold, from one address: the second trips the rule
        self.assertReceipt(op.deposit(b, "BTC", SEVEN_M, travel_rule=False,
                                      reference="bc1-shared"))
        linked = self.assertRejected("travel_rule.missing", op.deposit, c, "BTC", SIX_M,
                                     travel_rule=False, reference="bc1-shared")
        self.assertEqual((linked["limit"], linked["used"], linked["requested"]),
                         ("13000000", "7000000", "6000000"), linked)
        # another address is not linked
        self.assertReceipt(op.deposit(c, "BTC", SIX_M, travel_rule=False, reference="bc1-other"))

        # the regulator re-checked every verdict: same blocks, same rejections, no alert
        height = net.wait_synced()
        for txid, rule in ((unscreened["txid"], "screening.missing"),
                           (linked["txid"], "travel_rule.missing")):
            tx = reg.call("gettx", {"txid": txid})
            self.assertEqual((tx["verdict"], tx["rule"]), ("rejected", rule))
        self.no_critical_alert(reg)

        # the address's window is state: it survives a restart and a -reindex of the operator
        for extra in ([], ["-reindex"]):
            op.stop()
            op.extra_args += extra
            op.start()
            for x in extra:
                op.extra_args.remove(x)
            self.assertRejected("travel_rule.missing", op.deposit, a, "BTC", SIX_M,
                                travel_rule=False, reference="bc1-shared")
        in_time(lambda: reg.call("getinfo")["height"] > height, T, "the regulator following")
        net.wait_synced()
        self.no_critical_alert(reg)
        v = reg.call("verifychain")
        self.assertIs(v["ok"], True, v)


if __name__ == "__main__":
    unittest.main()
