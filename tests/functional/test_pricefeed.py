"""contrib/pricefeed against a real `sbxd -devnet` node (its embedded regulator key signs the
directives): a price that moved by more than --step-pct is submitted as a set_param directive,
one that did not is left alone, a reference older than half of price.max_age_s is refreshed
(and the operator warns with the node alert price.stale_soon), and errors are clear."""

import json
import os
import shlex
import subprocess
import sys
import time

import framework as fw
from framework import in_time

SCRIPT = os.path.join(fw.SRCDIR, "contrib", "pricefeed")


class PricefeedTest(fw.NodeTestCase):

    def feed(self, n, prices, *args):
        path = os.path.join(self.tmp, "prices.json")
        with open(path, "w") as f:
            f.write(prices if isinstance(prices, str) else json.dumps(prices))
        return subprocess.run([sys.executable, SCRIPT, "--datadir=" + n.datadir,
                               "--prices=" + path, "--once"] + list(args),
                              capture_output=True, text=True, timeout=fw.SYNC_TIMEOUT)

    def ref(self, n, sym):
        return n.call("getlicence")["params"]["asset.%s.ref_price_vnd" % sym]

    def test_moves_and_steps(self):
        n = self.node()
        version = n.call("getlicence")["version"]
        # BTC moved by 2% (> 1%), ETH by exactly 1% (not more): only BTC is submitted
        r = self.feed(n, {"BTC": "2550000000", "ETH": 90900000}, "--step-pct=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("BTC reference price set to 2550000000", r.stdout)
        self.assertNotIn("ETH", r.stdout)
        self.assertEqual(self.ref(n, "BTC"), "2550000000")
        self.assertEqual(self.ref(n, "ETH"), "90000000")
        self.assertEqual(n.call("getlicence")["version"], version + 1)
        # a decimal step: 0.5% lets the ETH move through
        r = self.feed(n, {"BTC": "2550000000", "ETH": 90900000}, "--step-pct=0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ref(n, "ETH"), "90900000")
        self.assertEqual(self.ref(n, "BTC"), "2550000000")
        # the band follows: a trade at the old reference price is now 1 VND inside it
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.trade(buyer, seller, price="2295000000"))
        self.assertRejected("price.band", n.trade, buyer, seller, price="2294999999")

    def test_refreshes_before_stale(self):
        n = self.node()
        self.assertReceipt(n.call("submitdirective", {
            "kind": "set_param", "name": "price.max_age_s", "value": 4,
            "reason": "functional test", "legal_basis": "test licence 1.2"}))
        # the operator warns once per asset when its reference passes half of the age
        def warned():
            items = n.call("listnodealerts")["items"]
            kinds = [a for a in items if a["kind"] == "price.stale_soon"]
            return kinds if len(kinds) >= 2 else None
        alerts = in_time(warned, fw.SYNC_TIMEOUT, "price.stale_soon alerts")
        self.assertEqual(sorted(a["severity"] for a in alerts), ["warning", "warning"])
        time.sleep(1.5)
        self.assertEqual(len([a for a in n.call("listnodealerts")["items"]
                              if a["kind"] == "price.stale_soon"]), 2, "warned more than once")
        # the genesis prices are older than 2 s: the same prices are submitted again
        set_before = n.call("getlicence")["ref_price_set_ms"]
        r = self.feed(n, {"BTC": "2500000000"}, "--step-pct=5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("half of price.max_age_s", r.stdout)
        lic = n.call("getlicence")
        self.assertEqual(lic["params"]["asset.BTC.ref_price_vnd"], "2500000000")
        self.assertGreater(lic["ref_price_set_ms"]["BTC"], set_before["BTC"])
        self.assertEqual(lic["ref_price_set_ms"]["ETH"], set_before["ETH"])
        # BTC trades; ETH, not refreshed, is stale once 4 s old
        buyer, seller = n.funded_pair()
        time.sleep(max(0.0, (set_before["ETH"] + 4100) / 1000 - time.time()))
        self.assertReceipt(n.trade(buyer, seller))
        self.assertRejected("price.stale", n.trade, buyer, seller, asset="ETH",
                            quantity="0.01000000", price="90000000")

    def test_errors(self):
        n = self.node()
        r = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--step-pct", r.stdout)
        r = subprocess.run([sys.executable, SCRIPT, "--once"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)  # neither --prices nor --command
        for prices, words in [("{not json", "not JSON"),
                              ({"DOGE": "1"}, "no such asset"),
                              ({"BTC": "2500000000.5"}, "whole number"),
                              ({"BTC": "0"}, "whole number")]:
            r = self.feed(n, prices)
            self.assertEqual(r.returncode, 1, (prices, r.stdout, r.stderr))
            self.assertIn(words, r.stderr)
        r = self.feed(n, {"BTC": "2500000000"}, "--rpcauthfile=" + os.path.join(self.tmp, "x"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read credentials", r.stderr)
        bad = os.path.join(self.tmp, "auth")
        with open(bad, "w") as f:
            f.write("__cookie__:wrong\n")
        r = self.feed(n, {"BTC": "2500000000"}, "--rpcauthfile=" + bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused the credentials", r.stderr)
        # prices from a command's output
        r = subprocess.run([sys.executable, SCRIPT, "--datadir=" + n.datadir, "--once",
                            "--command", shlex.join([sys.executable, "-c",
                                                     "print('{\"BTC\": \"2700000000\"}')"])],
                           capture_output=True, text=True, timeout=fw.SYNC_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(n.call("getlicence")["params"]["asset.BTC.ref_price_vnd"], "2700000000")
