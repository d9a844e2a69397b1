"""Reference prices the operator does not set (doc/compliance.md, Valuation; rules price.band
and price.stale): the sequence of issue 10 replayed on `sbxd -devnet`, and a regulator node's
set_param of a reference price moving the band from its block on, re-verified by that node."""

import framework as fw
from framework import in_time
from test_devnet import directive

T = fw.SYNC_TIMEOUT
HOUSE = "HOUSE"


class DevnetPricesTest(fw.NodeTestCase):

    def test_a_trade_cannot_move_the_valuation(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        # one satoshi from HOUSE at 1 VND per BTC: outside the 10% band around 2,500,000,000
        data = self.assertRejected("price.band", n.trade, buyer, HOUSE,
                                   quantity="0.00000001", price="1")
        self.assertEqual(data["limit"], "2250000000")  # the lower edge
        self.assertEqual(data["requested"], "1")
        # the edges themselves pass, one VND past them does not
        self.assertReceipt(n.trade(buyer, seller, price="2250000000"))
        self.assertReceipt(n.trade(buyer, seller, price="2750000000"))
        data = self.assertRejected("price.band", n.trade, buyer, seller, price="2750000001")
        self.assertEqual(data["limit"], "2750000000")
        self.assertRejected("price.band", n.trade, buyer, seller, price="2249999999")
        # the trades at the edges valued nothing: 0.0052 BTC is 13,000,000 VND at the reference
        # price, exactly the Travel Rule threshold (it would be 11,700,000 at 2,250,000,000)
        acct, _ = n.open_account(tier=1)
        self.assertRejected("travel_rule.missing", n.deposit, acct, "BTC", "0.00520000",
                            travel_rule=False)
        # 50 BTC (125,000,000,000 VND at the reference price) without a Travel Rule record
        data = self.assertRejected("travel_rule.missing", n.deposit, acct, "BTC",
                                   "50.00000000", travel_rule=False)
        self.assertEqual(n.call("getaccount", {"account": acct})["balances"]["BTC"],
                         "0.00000000")
        # with the record, the holding limit (500,000,000 VND for tier 1) still stops it
        self.assertRejected("limit.holding", n.deposit, acct, "BTC", "50.00000000")

    def test_devnet_reference_prices_do_not_go_stale(self):
        n = self.node()
        lic = n.call("getlicence")
        self.assertEqual(lic["params"]["price.band_pct"], 10)
        self.assertEqual(lic["params"]["price.max_age_s"], 0)
        genesis_ms = n.call("getblock", {"height": 0})["time"]
        self.assertEqual(lic["ref_price_set_ms"], {"BTC": genesis_ms, "ETH": genesis_ms})


    def test_reference_survives_restart_and_reindex(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.call("submitdirective", directive(
            "set_param", name="asset.BTC.ref_price_vnd", value="3000000000")))
        self.assertReceipt(n.call("submitdirective", directive(
            "set_param", name="price.max_age_s", value=3600)))
        before = n.call("getlicence")
        self.assertRejected("price.band", n.trade, buyer, seller, price="2500000000")
        for extra in ([], ["-reindex"]):
            self.assertEqual(n.stop(), 0)
            n.extra_args += extra
            n.start()
            for e in extra:
                n.extra_args.remove(e)
            self.assertEqual(n.call("getlicence"), before)
            self.assertRejected("price.band", n.trade, buyer, seller, price="2500000000")
            self.assertReceipt(n.trade(buyer, seller, price="3000000000"))
            # ETH's reference is still the genesis one, not an hour old yet
            self.assertRejected("balance.insufficient", n.trade, buyer, seller, asset="ETH",
                                quantity="0.01000000", price="90000000")
        self.assertIs(n.call("verifychain")["ok"], True)


class NetworkPricesTest(fw.NodeTestCase):

    def test_regulator_moves_the_band(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair(btc="0.10000000")
        # 2,600,000,000: inside the band around 2,500,000,000, outside the one around 3e9;
        # 3,100,000,000 the other way round
        self.assertReceipt(op.trade(buyer, seller, price="2600000000"))
        self.assertRejected("price.band", op.trade, buyer, seller, price="3100000000")
        rec = self.assertReceipt(reg.call("submitdirective", directive(
            "set_param", name="asset.BTC.ref_price_vnd", value="3000000000")))
        self.assertEqual(op.call("getlicence")["params"]["asset.BTC.ref_price_vnd"],
                         "3000000000")
        data = self.assertRejected("price.band", op.trade, buyer, seller, price="2600000000")
        self.assertEqual(data["limit"], "2700000000")
        self.assertGreater(data["height"], rec["height"])
        self.assertReceipt(op.trade(buyer, seller, price="3100000000"))
        # the regulator node re-verified every block: it follows, with no refused block, and
        # holds the same reference price and the time it was set (the directive's timestamp)
        height = net.wait_synced()
        info = reg.call("getinfo")
        self.assertGreaterEqual(info["height"], height)  # attestations add blocks
        self.assertIs(info["following"], True)
        self.assertEqual(info["critical_alerts"], 0)
        kinds = [a["kind"] for a in reg.call("listnodealerts")["items"]]
        self.assertNotIn("block_invalid", kinds)
        tx = reg.call("gettx", {"txid": rec["txid"]})
        self.assertEqual(reg.call("getlicence")["ref_price_set_ms"]["BTC"], tx["timestamp"])
        self.assertEqual(reg.call("getlicence")["ref_price_set_ms"],
                         op.call("getlicence")["ref_price_set_ms"])
        rejected = reg.call("gettx", {"txid": data["txid"]})
        self.assertEqual((rejected["verdict"], rejected["rule"]), ("rejected", "price.band"))
        # verifychain replays the rules on the regulator's own node
        self.assertIs(in_time(lambda: reg.call("verifychain"), T, "verifychain")["ok"], True)
