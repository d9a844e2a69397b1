"""The genesis ceremony of a production network (doc/operations.md "Starting a production
network"), end to end with real processes: two regulators make their keys with `sbxd -genkey`,
the exchange writes a licence file and runs `sbxd -init=LICENCE.json`, starts its operator node
with an rpcauth user, both regulators start from the genesis.hex it wrote; every node shows the
file's licence; trades, a regulator's directive and finality work. Each kind of bad licence
file is refused with exit 1, a message naming its field, and nothing created.
"""

import copy
import datetime
import json
import os
import re
import stat
import subprocess
import unittest

import framework
from framework import NodeTestCase, Network, binary, genkey, in_time, SYNC_TIMEOUT

VALID_FROM = "2025-09-01T00:00:00+07:00"
VALID_TO = "2031-09-01T00:00:00+07:00"  # exclusive
HOUSE = "HOUSE-EX"


def rfc3339_ms(s):
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000)


def licence(reg_keys):
    """A complete licence file for the given regulator keys."""
    return {
        "network": "sbx-ceremony",
        "licence_id": "DN-CEREMONY-001",
        "house_account": HOUSE,
        "valid_from": VALID_FROM,
        "valid_to": VALID_TO,
        "regulators": [{"name": "SSC", "key": reg_keys[0]}, {"name": "SBV", "key": reg_keys[1]}],
        "directive_quorum": 1,
        "attestation_quorum": 2,
        "assets": [{"symbol": "BTC", "decimals": 8, "ref_price_vnd": framework.BTC_REF},
                   {"symbol": "USDT", "decimals": 6, "ref_price_vnd": 25000}],
        "params": {"limit.participants_max": 5000, "limit.exchange_daily": 60000000000,
                   "limit.exchange_total": 6000000000000, "supervision.max_lag_s": 600,
                   "price.max_age_s": 0},
    }


def directive(kind, **kw):
    d = {"kind": kind, "reason": "ceremony test", "legal_basis": "licence DN-CEREMONY-001"}
    d.update(kw)
    return d


class CeremonyTest(NodeTestCase):

    def init(self, datadir, doc):
        """`sbxd -datadir=DATADIR -init=FILE` with `doc` (a dict, or text) in FILE."""
        path = os.path.join(self.tmp, "licence-%d.json" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
        return subprocess.run([binary("sbxd"), "-datadir=" + datadir, "-init=" + path,
                               "-printtoconsole=0"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)

    def test_ceremony_end_to_end(self):
        regs = [self.node("reg%d" % i, start=False, devnet=False) for i in (1, 2)]
        keys = [genkey(r.datadir) for r in regs]
        doc = licence(keys)

        # the exchange: -init on an empty datadir
        op = self.node("operator", start=False, devnet=False, extra_args=["-bind=127.0.0.1"])
        out = self.init(op.datadir, doc)
        self.assertEqual(out.returncode, 0, out.stderr)
        m = re.search(r"^network id: ([0-9a-f]{64})$", out.stdout, re.M)
        self.assertIsNotNone(m, out.stdout)
        network_id = m.group(1)
        okey = os.path.join(op.datadir, "keys", "operator.key")
        self.assertEqual(stat.S_IMODE(os.stat(okey).st_mode), 0o600)
        genesis = os.path.join(op.datadir, "genesis.hex")
        with open(genesis) as f:
            self.assertRegex(f.read(), r"^[0-9a-f]+\n$")
        # a second -init on it: refused, exit 1, the chain untouched
        again = self.init(op.datadir, doc)
        self.assertEqual(again.returncode, 1, again.stdout)
        self.assertIn("already holds a chain", again.stderr)

        # the operator with an rpcauth user, the regulators from genesis.hex
        user = op.add_user("backoffice", "operator")
        Network.first_start(op)
        for r in regs:
            r.extra_args += ["-genesis=" + genesis, "-bind=127.0.0.1",
                             "-connect=127.0.0.1:%d" % op.p2pport]
            Network.first_start(r)
        nodes = [op] + regs
        for n, role in zip(nodes, ("operator", "regulator", "regulator")):
            info = n.call("getinfo")
            self.assertEqual((info["network"], info["role"]), ("sbx-ceremony", role))
            self.assertEqual(n.call("getblock", {"height": 0})["hash"], network_id)

        # getlicence on all three: the file's licence
        for n in nodes:
            lic = n.call("getlicence")
            self.assertEqual(lic["licence_id"], "DN-CEREMONY-001")
            self.assertEqual(lic["house_account"], HOUSE)
            self.assertEqual(lic["status"], "active")
            self.assertEqual(lic["valid_from"], rfc3339_ms(VALID_FROM))
            self.assertEqual(lic["valid_to"], rfc3339_ms(VALID_TO))
            self.assertEqual(lic["assets"], [{"symbol": "VND", "decimals": 0},
                                             {"symbol": "BTC", "decimals": 8},
                                             {"symbol": "USDT", "decimals": 6}])
            p = lic["params"]
            self.assertEqual(p["limit.participants_max"], 5000)
            self.assertEqual(p["limit.exchange_daily"], "60000000000")
            self.assertEqual(p["limit.exchange_total"], "6000000000000")
            self.assertEqual(p["supervision.max_lag_s"], 600)
            self.assertEqual(p["asset.BTC.ref_price_vnd"], str(framework.BTC_REF))
            self.assertEqual(p["asset.USDT.ref_price_vnd"], "25000")
            # not named in the file: the default of doc/compliance.md
            self.assertEqual(p["limit.daily.tier1"], "400000000")

        # trades through the rpcauth user; the house account was opened at the first start
        self.assertEqual(op.call("getaccount", {"account": HOUSE}, auth=user)["account"], HOUSE)
        buyer, _ = op.open_account(auth=user)
        seller, _ = op.open_account(auth=user)
        op.deposit(buyer, "VND", "200000000", auth=user)
        op.deposit(seller, "BTC", "0.05000000", auth=user)
        last = self.assertReceipt(op.trade(buyer, seller, auth=user))

        # a directive from a regulator node: halt BTC, refused trade, resume
        rec = self.assertReceipt(regs[0].call("submitdirective", directive("halt", asset="BTC")))
        self.assertEqual(op.call("getlicence")["halted_assets"], ["BTC"])
        self.assertRejected("asset.halted", op.trade, buyer, seller, auth=user)
        self.assertReceipt(regs[1].call("submitdirective", directive("resume", asset="BTC")))
        last = self.assertReceipt(op.trade(buyer, seller, auth=user))
        self.assertGreater(last["height"], rec["height"])

        # finality: both regulators (attestation_quorum 2) attest the last trade's block
        in_time(lambda: op.call("getinfo")["final_height"] >= last["height"], SYNC_TIMEOUT,
                "final_height at the last trade's block")
        for r in regs:
            in_time(lambda: r.call("getinfo")["height"] >= last["height"], SYNC_TIMEOUT,
                    "%s at the last trade's block" % r.name)
            tx = r.call("gettx", {"txid": last["txid"]})
            self.assertEqual((tx["height"], tx["block_hash"]),
                             (last["height"], last["block_hash"]))

    def test_example_licence_file(self):
        """contrib/licence.example.json makes a chain as it is."""
        with open(os.path.join(framework.SRCDIR, "contrib", "licence.example.json")) as f:
            doc = f.read()
        out = self.init(os.path.join(self.tmp, "example"), doc)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"(?m)^network id: [0-9a-f]{64}$")

    def test_bad_licence_files_create_nothing(self):
        keys = [genkey(os.path.join(self.tmp, "r%d" % i)) for i in (1, 2)]
        good = licence(keys)

        def without(path):
            d = copy.deepcopy(good)
            obj = d
            for k in path[:-1]:
                obj = obj[k]
            del obj[path[-1]]
            return d

        def with_(path, value):
            d = copy.deepcopy(good)
            obj = d
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = value
            return d

        dup_key = copy.deepcopy(good)
        dup_key["regulators"][1]["key"] = keys[0]
        dup_asset = copy.deepcopy(good)
        dup_asset["assets"][1]["symbol"] = "BTC"
        cases = [
            ("missing", without(["network"]), "network: missing"),
            ("missing param", without(["params", "limit.participants_max"]),
             "params.limit.participants_max: missing"),
            ("missing exchange limit", without(["params", "limit.exchange_daily"]),
             "params.limit.exchange_daily: missing"),
            ("unknown field", with_(["licence_name"], "x"), "licence_name: unknown field"),
            ("unknown parameter", with_(["params", "limit.bogus"], 1),
             "params.limit.bogus: unknown parameter"),
            ("wrong type", with_(["directive_quorum"], "1"), "directive_quorum: must be"),
            ("wrong type in a list", with_(["assets", 0, "decimals"], "8"),
             "assets[0].decimals: must be"),
            ("out of range", with_(["params", "limit.exchange_total"], -1),
             "params.limit.exchange_total: -1 out of range"),
            ("out of range decimals", with_(["assets", 1, "decimals"], 9),
             "assets[1].decimals: 9 out of range"),
            ("not a time", with_(["valid_from"], "2025-09-01"), "valid_from: not an RFC 3339"),
            ("window", with_(["valid_to"], VALID_FROM), "valid_to: must be after valid_from"),
            ("quorum", with_(["attestation_quorum"], 3), "attestation_quorum: 3 is more than"),
            ("duplicate asset", dup_asset, "assets[1].symbol: duplicate"),
            ("duplicate key", dup_key, "regulators[1].key: duplicate"),
            ("bad key", with_(["regulators", 0, "key"], "00" * 32),
             "regulators[0].key: not a public key"),
            ("not JSON", "{\"network\": ", "not JSON"),
        ]
        for i, (kind, doc, message) in enumerate(cases):
            with self.subTest(kind=kind):
                datadir = os.path.join(self.tmp, "bad%d" % i, "data")
                out = self.init(datadir, doc)
                self.assertEqual(out.returncode, 1, "%s: %s %s" % (kind, out.stdout, out.stderr))
                self.assertIn(message, out.stderr)
                self.assertEqual(len(out.stderr.strip().split("\n")), 1, out.stderr)
                self.assertFalse(os.path.exists(os.path.dirname(datadir)),
                                 "%s: created %s" % (kind, datadir))
        # a licence listing the datadir's operator key as a regulator's: refused, no chain
        datadir = os.path.join(self.tmp, "own")
        os.makedirs(os.path.join(datadir, "keys"), mode=0o700)
        with open(os.path.join(self.tmp, "r1", "keys", "regulator.key")) as f:
            secret = f.read()
        fd = os.open(os.path.join(datadir, "keys", "operator.key"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        out = self.init(datadir, good)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("regulators[0].key: is the operator key", out.stderr)
        self.assertEqual(sorted(os.listdir(datadir)), ["keys"])


if __name__ == "__main__":
    unittest.main()
