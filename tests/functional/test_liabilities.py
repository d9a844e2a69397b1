"""Proof of liabilities and reserves (doc/protocol.md "Liabilities", doc/rpc.md).

A liabilities_snapshot directive makes the operator record, first in its next block, the root
and total of a sum tree of every client's balance per asset (the house account left out). A
client's getliabilityproof verifies offline with `sbx-cli verifyliabilityproof` (with and
without the genesis block) and stops verifying when its balance, a sibling's sum or a side is
edited. reserves_attest below the recorded VND total raises the critical node alert
reserves.shortfall on the operator and on both regulators, and getreport shows it; a reserve
exactly equal to the total does not. With the testhook liabilities_short, the operator records
VND one base unit short: both regulators refuse that block (block_invalid naming
liabilities.mismatch) and stop following, as for every refused block. With directive_quorum 2
both directives are proposals that a second regulator's co-signature records."""

import copy
import datetime
import json
import os
import subprocess
import unittest

import framework as fw
from framework import INVALID_PARAMS, NOT_FOUND, in_time
from test_network import gettx

T = fw.SYNC_TIMEOUT
LOCAL = datetime.timezone(datetime.timedelta(hours=7))  # time.utc_offset_min = 420 on devnet


def directive(kind, **kw):
    d = {"kind": kind, "reason": "functional test", "legal_basis": "test licence 1.2"}
    d.update(kw)
    return d


def find_record(node, after):
    """(height, tx) of the first liabilities transaction above block `after`, or None."""
    tip = node.call("getinfo")["height"]
    for h in range(after + 1, tip + 1):
        for i, tx in enumerate(node.call("getblock", {"height": h, "verbose": True})
                               ["transactions"]):
            if tx["type"] == "liabilities":
                return h, i, tx
    return None


def critical(node, kind):
    return [a for a in node.call("listnodealerts")["items"]
            if a["kind"] == kind and a["severity"] == "critical"]


class LiabilitiesTest(fw.NodeTestCase):

    def verify(self, proof, genesis=None):
        path = os.path.join(self.tmp, "liab.json")
        with open(path, "w") as f:
            json.dump(proof, f)
        args = [path] + ([genesis] if genesis else [])
        out = subprocess.run([fw.binary("sbx-cli"), "verifyliabilityproof"] + args,
                             capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout + out.stderr

    def assertValid(self, proof, genesis=None):
        rc, out = self.verify(proof, genesis)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.startswith("valid: account %s holds %s %s" % (
            proof["account"], proof["balance"], proof["asset"])), out)

    def assertInvalid(self, proof, check):
        rc, out = self.verify(proof)
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.startswith("invalid: " + check), out)

    def record(self, op, reg, nudge):
        """A liabilities_snapshot directive from `reg`, then `nudge()` so that the operator opens
        its next block: the record, first in that block. Returns (height, tx)."""
        d = reg.call("submitdirective", directive("liabilities_snapshot"))
        self.assertReceipt(d)
        nudge()
        found = in_time(lambda: find_record(op, d["height"]), T, "a liabilities record")
        height, index, tx = found
        self.assertEqual(index, 0, "a liabilities record is the first of its block")
        self.assertEqual(tx["verdict"], "accepted", tx)
        self.assertEqual(tx["reflects_height"], height - 1, tx)
        return height, tx

    def test_one_node(self):
        fw.clear_of_local_midnight()  # no day-end record of the operator's own in between
        n = self.node()
        genesis = os.path.join(self.tmp, "genesis.hex")
        with open(genesis, "w") as f:
            f.write(n.call("getblock", {"height": 0, "hex": True})["hex"] + "\n")
        # no record yet
        self.assertRPCError(NOT_FOUND, n.call, "getliabilityproof",
                            {"account": "nobody", "asset": "VND"})
        clients = [n.open_account()[0] for _ in range(5)]  # an odd number of leaves
        for i, c in enumerate(clients):
            n.deposit(c, "VND", str(1000000 * (i + 1)))
        n.deposit(clients[0], "BTC", "0.01000000")
        # a trade with fees: the house account gets VND, which is not a client's
        n.trade(clients[1], clients[0], quantity="0.00010000", fee_buyer="1000",
                fee_seller="500")
        late = []
        height, tx = self.record(n, n, lambda: late.append(n.open_account()[0]))

        # the totals are the clients' balances, the house account left out
        balances = {c: n.call("getaccount", {"account": c})["balances"] for c in clients}
        self.assertGreater(
            int(n.call("getaccount", {"account": fw.HOUSE})["balances"]["VND"]), 0)
        lines = {a["asset"]: a for a in tx["assets"]}
        self.assertEqual(lines["VND"]["total"], str(sum(int(b["VND"]) for b in balances.values())))
        self.assertEqual(lines["BTC"]["total"], "0.01000000")
        self.assertEqual(lines["ETH"]["total"], "0.00000000")
        self.assertEqual(n.call("gettx", {"txid": tx["txid"]})["assets"], tx["assets"])
        self.assertRegex(tx["seed"], r"^[0-9a-f]{64}$")
        self.assertRegex(tx["seed_commit"], r"^[0-9a-f]{64}$")

        for c in clients:
            p = n.call("getliabilityproof", {"account": c, "asset": "VND"})
            self.assertEqual(p["balance"], balances[c]["VND"])
            self.assertEqual(p["total"], lines["VND"]["total"])
            self.assertEqual(p["root"], lines["VND"]["root"])
            self.assertEqual(p["height"], height)
            # the seed is withheld from clients (zeroed: it is outside the txid)
            self.assertNotIn("seed", p["txproof"]["tx"])
            self.assertEqual(p["txproof"]["tx"]["seed_commit"], tx["seed_commit"])
            self.assertTrue(p["txproof"]["tx_hex"].endswith("0" * 64))
            self.assertNotIn(tx["seed"], json.dumps(p))
            self.assertValid(p)
        self.assertValid(p, genesis)
        btc = n.call("getliabilityproof", {"account": clients[0], "asset": "BTC",
                                           "height": height})
        self.assertEqual(btc["balance"], balances[clients[0]]["BTC"])
        self.assertValid(btc, genesis)

        # an edited proof does not verify
        p = n.call("getliabilityproof", {"account": clients[2], "asset": "VND"})
        edited = copy.deepcopy(p)
        edited["balance"] = str(int(p["balance"]) + 1)
        self.assertInvalid(edited, "leaf")
        self.assertGreater(len(p["path"]), 0)
        edited = copy.deepcopy(p)
        edited["path"][0]["sum"] = str(int(p["path"][0]["sum"]) + 1)
        self.assertInvalid(edited, "total")
        edited = copy.deepcopy(p)
        edited["path"][0]["side"] = "left" if p["path"][0]["side"] == "right" else "right"
        self.assertInvalid(edited, "root")
        edited = copy.deepcopy(p)
        edited["path"][0]["sum"] = "-1"
        self.assertInvalid(edited, "path[0].sum")
        edited = copy.deepcopy(p)
        edited["account"] = clients[3]
        self.assertInvalid(edited, "leaf")

        # who is not in the record, what is not an asset, a height before the record
        self.assertRPCError(NOT_FOUND, n.call, "getliabilityproof",
                            {"account": late[0], "asset": "VND"})
        self.assertRPCError(NOT_FOUND, n.call, "getliabilityproof",
                            {"account": fw.HOUSE, "asset": "VND"})
        self.assertRPCError(INVALID_PARAMS, n.call, "getliabilityproof",
                            {"account": clients[0], "asset": "XYZ"})
        self.assertRPCError(NOT_FOUND, n.call, "getliabilityproof",
                            {"account": clients[0], "asset": "VND", "height": height - 1})

        # reserves: exactly the total is no shortfall; one base unit less is
        total = int(lines["VND"]["total"])
        self.assertReceipt(n.call("submitdirective", directive(
            "reserves_attest", asset="VND", amount=str(total), reference="bank-stmt-1")))
        self.assertEqual(critical(n, "reserves.shortfall"), [])
        r = self.assertReceipt(n.call("submitdirective", directive(
            "reserves_attest", asset="VND", amount=str(total - 1), reference="bank-stmt-2")))
        in_time(lambda: critical(n, "reserves.shortfall"), T, "reserves.shortfall")
        self.assertEqual(len(critical(n, "reserves.shortfall")), 1)
        # the report of the local day (UTC+7 on devnet) of that directive's block
        t = n.call("getblock", {"height": r["height"]})["time"]
        day = datetime.datetime.fromtimestamp(t / 1000, LOCAL).strftime("%Y-%m-%d")
        rep = n.call("getreport", {"kind": "daily", "date": day})
        vnd = [a for a in rep["liabilities"]["by_asset"] if a["asset"] == "VND"][0]
        self.assertEqual(vnd["recorded"], str(total))
        self.assertEqual(vnd["reserve"], str(total - 1))
        self.assertIs(vnd["shortfall"], True)
        self.assertEqual(rep["liabilities"]["record_height"], height)
        # the chain with its records re-checks (every verdict replayed), and after a restart
        # with -reindex the proofs are still given (the balances kept again) and still verify
        v = n.call("verifychain")
        self.assertIs(v["ok"], True, v)
        n.stop()
        n.extra_args = list(n.extra_args) + ["-reindex"]
        n.start()
        again = n.call("getliabilityproof", {"account": clients[2], "asset": "VND"})
        self.assertEqual(again["balance"], p["balance"])
        self.assertEqual(again["root"], p["root"])
        self.assertValid(again, genesis)
        # the shortfall still holds: raised again with the first block after the restart
        n.open_account()
        in_time(lambda: len(critical(n, "reserves.shortfall")) == 2, T, "a second alert")
        # reserves_attest needs an asset, an amount and a reference
        self.assertRPCError(INVALID_PARAMS, n.call, "submitdirective",
                            directive("reserves_attest", asset="VND", reference="x"))
        self.assertRPCError(INVALID_PARAMS, n.call, "submitdirective",
                            directive("liabilities_snapshot", amount="1"))

    def test_network(self):
        fw.clear_of_local_midnight()
        net = fw.Network(self, regulators=2)
        op, reg1, reg2 = net.operator, net.regulators[0], net.regulators[1]
        a, _ = op.open_account()
        b, _ = op.open_account()
        op.deposit(a, "VND", "5000000")
        op.deposit(b, "VND", "7000000")
        net.wait_synced()
        # a reserve below what the clients hold: every node raises reserves.shortfall
        self.assertReceipt(reg1.call("submitdirective", directive(
            "reserves_attest", asset="VND", amount="11999999", reference="bank-stmt-1")))
        height, tx = self.record(op, reg1, lambda: op.open_account())
        net.wait_synced(height=height)
        for node in (op, reg1, reg2):
            in_time(lambda: critical(node, "reserves.shortfall"), T,
                    "reserves.shortfall on %s" % node.name)
        # a regulator hands out the same proof as the operator
        p_op = op.call("getliabilityproof", {"account": a, "asset": "VND"})
        p_reg = reg2.call("getliabilityproof", {"account": a, "asset": "VND"})
        self.assertEqual(p_op, p_reg)
        self.assertValid(p_reg, net.genesis_path)

        # a record one VND short is refused by both regulators
        fw.testhook(self, op, {"action": "liabilities_short"})
        d = reg1.call("submitdirective", directive("liabilities_snapshot"))
        self.assertReceipt(d)
        op.deposit(a, "VND", "1000")
        bad = in_time(lambda: find_record(op, d["height"]), T, "the short record")
        self.assertEqual(bad[2]["verdict"], "accepted")  # the operator believes its record
        short = {x["asset"]: x for x in bad[2]["assets"]}["VND"]
        self.assertEqual(int(short["total"]), 5000000 + 7000000 - 1)
        for r in (reg1, reg2):
            alert = in_time(lambda: critical(r, "block_invalid"), T,
                            "%s refusing the short record" % r.name)[0]
            self.assertEqual(alert["height"], bad[0])
            self.assertIn("liabilities.mismatch", alert["message"])
            info = in_time(lambda: (lambda i: i if i["following"] is False else None)(
                r.call("getinfo")), T, "%s no longer following" % r.name)
            self.assertLess(info["height"], bad[0])

    def test_board(self):
        """With directive_quorum 2 the liabilities directives are proposals like any other: one
        signature records nothing, a second regulator's co-signature does."""
        fw.clear_of_local_midnight()
        net = fw.Network(self, regulators=2, quorum=2)
        op, reg1, reg2 = net.operator, net.regulators[0], net.regulators[1]
        a, _ = op.open_account()
        op.deposit(a, "VND", "3000000")
        net.wait_synced()
        for d in (directive("reserves_attest", asset="VND", amount="2999999",
                            reference="bank-stmt-9"),
                  directive("liabilities_snapshot")):
            prop = reg1.call("submitdirective", d)
            self.assertEqual((prop["signatures"], prop["quorum"]), (1, 2), prop)
            pid = prop["proposal_id"]
            seen = in_time(lambda: [p for p in reg2.call("listproposals")["proposals"]
                                    if p["proposal_id"] == pid], T, "reg2 sees the proposal")[0]
            if d["kind"] == "reserves_attest":
                self.assertEqual((seen["params"]["amount"], seen["params"]["reference"]),
                                 ("2999999", "bank-stmt-9"), seen)
            self.assertIsNone(gettx(op, pid))  # one signature records nothing
            reg2.call("cosigndirective", {"proposal_id": pid})
            tx = in_time(lambda: gettx(op, pid), T, "the directive on the operator")
            self.assertEqual(tx["verdict"], "accepted", tx)
        op.open_account()  # the operator's next block carries the record
        found = in_time(lambda: find_record(op, tx["height"]), T, "the record")
        self.assertEqual({x["asset"]: x for x in found[2]["assets"]}["VND"]["total"], "3000000")
        net.wait_synced(height=found[0])
        for node in (op, reg1, reg2):
            in_time(lambda: critical(node, "reserves.shortfall"), T,
                    "reserves.shortfall on %s" % node.name)


if __name__ == "__main__":
    unittest.main()
