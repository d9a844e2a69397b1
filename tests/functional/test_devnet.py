"""The devnet: its defaults, and the regulator's directives (halt, resume, freeze, set_param,
licence status, supervision lag) as they change what the operator node accepts."""

import json
import os
import subprocess
import unittest

import framework as fw
import txsign
from framework import BAD_SIGNATURE, FORBIDDEN, UNAVAILABLE, uid


def directive(kind, **kw):
    d = {"kind": kind, "reason": "functional test", "legal_basis": "test licence 1.2"}
    d.update(kw)
    return d


class DevnetTest(fw.NodeTestCase):

    def test_defaults(self):
        n = self.node()
        info = n.call("getinfo")
        self.assertEqual(info["network"], "sbx-devnet")
        self.assertEqual(info["role"], "operator")
        self.assertEqual(info["licence_status"], "active")
        self.assertIs(info["halted"], False)
        lic = n.call("getlicence")
        p = lic["params"]
        # VND amounts are decimal strings; counts and seconds are integers
        self.assertEqual(p["limit.per_trade.tier1"], "100000000")
        self.assertEqual(p["limit.per_trade.tier2"], "500000000")
        self.assertEqual(p["limit.per_trade.tier3"], "2500000000")
        self.assertEqual(p["limit.daily.tier1"], "400000000")
        self.assertEqual(p["limit.monthly.tier1"], "1000000000")
        self.assertEqual(p["limit.holding.tier1"], "500000000")
        self.assertEqual(p["aml.travel_rule_vnd"], "13000000")
        self.assertEqual(p["asset.BTC.ref_price_vnd"], "2500000000")
        self.assertEqual(p["asset.ETH.ref_price_vnd"], "90000000")
        self.assertEqual(p["supervision.max_lag_s"], 0)
        self.assertEqual(lic["status"], "active")
        self.assertEqual(lic["house_account"], fw.HOUSE)
        # the licence runs from the devnet's start for three years
        self.assertLessEqual(lic["valid_from"], fw.now_ms())
        self.assertGreater(lic["valid_to"], fw.now_ms() + 1000 * 86400 * 365 * 2)
        # the house account exists, and the embedded regulator key
        house = n.call("getaccount", {"account": fw.HOUSE})
        self.assertEqual(house["status"], "active")
        sup = n.call("getsupervision")
        self.assertEqual(len(sup["regulators"]), 1)
        self.assertEqual(sup["regulators"][0]["key"],
                         txsign.pubkey(txsign.DEVNET_REGULATOR_SECRET).hex())
        # the genesis block names the assets
        g = n.call("getblock", {"height": 0, "verbose": True})["transactions"][0]
        self.assertEqual(g["type"], "genesis")

    def test_halt_and_resume(self):
        n = self.node()
        # an rpcauth line made by hand as doc/rpc.md describes (not by contrib/rpcauth)
        n.extra_args.append("-rpcauth=" + fw.rpcauth_line("sup", "pw-sup", "supervisor"))
        sup = ("sup", "pw-sup")
        n.restart()
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.trade(buyer, seller))
        # halt by the admin cookie
        self.assertReceipt(n.call("submitdirective", directive("halt")))
        self.assertIs(n.call("getinfo")["halted"], True)
        self.assertRejected("market.halted", n.trade, buyer, seller)
        r = n.call("checktrade", fw.trade_params(buyer, seller))
        self.assertEqual((r["ok"], r.get("rule")), (False, "market.halted"))
        # transfers are not trades: they go on
        self.assertReceipt(n.deposit(buyer, "VND", "1000"))
        # resume by a supervisor user
        self.assertReceipt(n.call("submitdirective", directive("resume"), auth=sup))
        self.assertIs(n.call("getinfo")["halted"], False)
        self.assertReceipt(n.trade(buyer, seller))
        # one asset
        n.deposit(seller, "ETH", "1.00000000")
        self.assertReceipt(n.call("submitdirective", directive("halt", asset="BTC"), auth=sup))
        self.assertRejected("asset.halted", n.trade, buyer, seller)
        self.assertReceipt(n.trade(buyer, seller, asset="ETH", quantity="0.01000000",
                                   price=str(fw.ETH_REF)))
        self.assertIn("BTC", n.call("getlicence")["halted_assets"])
        self.assertReceipt(n.call("submitdirective", directive("resume", asset="BTC")))
        self.assertReceipt(n.trade(buyer, seller))
        # an unknown asset is an invalid directive, recorded as rejected
        self.assertRejected("directive.invalid", n.call, "submitdirective",
                            directive("halt", asset="DOGE"))

    def test_set_param_applies_to_later_trades(self):
        n = self.node()
        fw.clear_of_local_midnight()  # the daily usage compared below is of one local day
        buyer, seller = n.funded_pair()
        # 0.002 BTC = 5,000,000 VND
        self.assertReceipt(n.trade(buyer, seller, quantity="0.00200000"))
        version = n.call("getlicence")["version"]
        self.assertReceipt(n.call("submitdirective", directive(
            "set_param", name="limit.daily.tier1", value="10000000")))
        lic = n.call("getlicence")
        self.assertEqual(lic["params"]["limit.daily.tier1"], "10000000")
        self.assertGreater(lic["version"], version)
        # 5,000,000 used + 5,000,000 = exactly the new limit: passes
        self.assertReceipt(n.trade(buyer, seller, quantity="0.00200000"))
        # one more unit of VND over it: rejected with the figures
        data = self.assertRejected("limit.daily", n.trade, buyer, seller, quantity="0.00000001",
                                   price="2500000000")
        self.assertEqual(data["limit"], "10000000")
        self.assertEqual(data["used"], "10000000")
        self.assertEqual(data["requested"], "25")
        self.assertEqual(n.call("getusage", {"account": buyer})["limits"]["limit.daily"]["limit"],
                         "10000000")
        # a value out of range is refused by the rules
        self.assertRejected("directive.invalid", n.call, "submitdirective",
                            directive("set_param", name="no.such.param", value="1"))

    def test_freeze_and_licence_status(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.call("submitdirective", directive("freeze", account=buyer)))
        self.assertTrue(n.call("getaccount", {"account": buyer})["frozen"])
        self.assertRejected("account.frozen", n.trade, buyer, seller)
        self.assertRejected("account.frozen", n.deposit, buyer, "VND", "1")
        self.assertReceipt(n.call("submitdirective", directive("unfreeze", account=buyer)))
        self.assertReceipt(n.trade(buyer, seller))

        self.assertReceipt(n.call("submitdirective", directive("licence_suspend")))
        self.assertEqual(n.call("getinfo")["licence_status"], "suspended")
        self.assertRejected("licence.status", n.trade, buyer, seller)
        self.assertReceipt(n.call("submitdirective", directive("licence_reinstate")))
        self.assertEqual(n.call("getinfo")["licence_status"], "active")
        self.assertReceipt(n.trade(buyer, seller))

        self.assertReceipt(n.call("submitdirective", directive("sanction_add", account=seller)))
        self.assertRejected("aml.sanctioned", n.trade, buyer, seller)
        self.assertReceipt(n.call("submitdirective", directive("sanction_remove", account=seller)))
        self.assertReceipt(n.trade(buyer, seller))

    def test_supervision_lag(self):
        """With supervision.max_lag_s on and no regulator node attesting, the operator node
        stops taking business (-32004), and takes it again once the regulator lifts it."""
        n = self.node()
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.call("submitdirective", directive(
            "set_param", name="supervision.max_lag_s", value=1)))

        def refused():
            try:
                n.trade(buyer, seller)
            except fw.RPCError as e:
                self.assertEqual(e.code, UNAVAILABLE, e)
                return True
            return False
        fw.in_time(refused, what="-32004 for business under supervision lag")
        self.assertEqual(n.call("getsupervision")["supervision_ok"], False)
        self.assertRPCError(UNAVAILABLE, n.open_account)
        # a directive is not business: the regulator can still act
        self.assertReceipt(n.call("submitdirective", directive(
            "set_param", name="supervision.max_lag_s", value=0)))
        self.assertReceipt(n.trade(buyer, seller))

    def test_directive_signed_elsewhere(self):
        """A directive signed with the devnet regulator key outside the node, submitted raw by a
        supervisor; a flipped byte is a bad signature."""
        n = self.node()
        sup = n.add_user("sup", "supervisor")
        op = n.add_user("op", "operator")
        n.restart()
        body = txsign.directive_body("halt", reason="raw halt", legal_basis="test")
        raw, txid = txsign.sign_tx(txsign.DIRECTIVE, body, txsign.DEVNET_REGULATOR_SECRET,
                                   fw.now_ms())
        bad = bytearray(raw)
        bad[-2] ^= 0x80  # inside the signature
        self.assertRPCError(BAD_SIGNATURE, n.call, "submitrawtx", {"hex": bad.hex()}, auth=sup)
        self.assertIs(n.call("getinfo")["halted"], False)
        r = self.assertReceipt(n.call("submitrawtx", {"hex": raw.hex()}, auth=sup))
        self.assertEqual(r["txid"], txid)
        self.assertIs(n.call("getinfo")["halted"], True)
        tx = n.call("gettx", {"txid": txid})
        self.assertEqual((tx["type"], tx["kind"]), ("directive", "halt"))
        # the operator cannot issue directives, not even through its own node
        self.assertRPCError(FORBIDDEN, n.call, "submitdirective", directive("resume"), auth=op)
        # a directive signed by the operator key is on the record as rejected (auth.signer)
        op_secret = txsign.read_key(os.path.join(n.datadir, "keys", "operator.key"))
        body = txsign.directive_body("resume", reason="operator tries", legal_basis="none")
        raw, _ = txsign.sign_tx(txsign.DIRECTIVE, body, op_secret, fw.now_ms())
        self.assertRejected("auth.signer", n.call, "submitrawtx", {"hex": raw.hex()}, auth=op)
        self.assertIs(n.call("getinfo")["halted"], True)

    def test_sbx_cli(self):
        n = self.node()
        cli = fw.binary("sbx-cli")
        out = subprocess.run([cli, "-datadir=" + n.datadir, "-rpcport=%d" % n.rpcport, "getinfo"],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["network"], "sbx-devnet")
        out = subprocess.run([cli, "-datadir=" + n.datadir, "-rpcport=%d" % n.rpcport,
                              "getaccount", "account=" + uid("nobody")],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 1)


if __name__ == "__main__":
    unittest.main()
