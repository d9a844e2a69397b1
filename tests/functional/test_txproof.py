"""gettxproof and `sbx-cli verifytxproof`: a receipt anyone can check without a node.

The operator and a regulator hand out the same proof for an accepted trade and for a rejected
one; the client accepts it with and without the genesis block, and refuses it when one bit is
flipped in the producer's signature, in a merkle sibling, in the transaction, or when the genesis
is another network's (a second devnet, whose operator key differs)."""

import copy
import json
import os
import subprocess
import unittest

import framework as fw
from framework import NOT_FOUND, in_time

T = fw.SYNC_TIMEOUT


def flip_hex(s, i=0):
    """`s` with one bit of hex digit `i` flipped."""
    return s[:i] + "%x" % (int(s[i], 16) ^ 1) + s[i + 1:]


class TxProofTest(fw.NodeTestCase):

    def verify(self, proof, genesis=None, stdin=False):
        """Run `sbx-cli verifytxproof`; returns (exit status, output). With stdin, the proof
        goes on standard input inside a whole JSON-RPC response."""
        if stdin:
            args, data = ["-"], json.dumps({"jsonrpc": "2.0", "id": 1, "result": proof})
        else:
            path = os.path.join(self.tmp, "proof.json")
            with open(path, "w") as f:
                json.dump(proof, f)
            args, data = [path], None
        if genesis is not None:
            args.append(genesis)
        out = subprocess.run([fw.binary("sbx-cli"), "verifytxproof"] + args, input=data,
                             capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout + out.stderr

    def assertValid(self, proof, genesis=None, **kw):
        rc, out = self.verify(proof, genesis, **kw)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.startswith("valid: txid %s in block %d (hash %s)" % (
            proof["txid"], proof["header"]["height"], proof["header"]["hash"])), out)
        return out

    def assertInvalid(self, proof, check, genesis=None):
        rc, out = self.verify(proof, genesis)
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.startswith("invalid: " + check), out)

    def batch_of_trades(self, op, buyer, seller, n=4):
        """Trades sent in one batch (so that blocks of several transactions are likely): their
        receipts."""
        calls = [("submittrade", fw.trade_params(buyer, seller, quantity="0.00001000"))
                 for _ in range(n)]
        replies = op.batch(calls)
        for r in replies:
            self.assertIn("result", r, r)
        return [r["result"] for r in replies]

    def test_proofs_offline(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair()
        receipts = []
        for _ in range(5):
            receipts += self.batch_of_trades(op, buyer, seller)
            if any(op.call("getblock", {"height": r["height"]})["ntx"] > 1 for r in receipts):
                break
        multi = [r for r in receipts
                 if op.call("getblock", {"height": r["height"]})["ntx"] > 1]
        self.assertTrue(multi, "no block of several trades in 5 batches")
        rejected = self.assertRejected("price.band", op.trade, buyer, seller,
                                       price=str(fw.BTC_REF * 2))
        net.wait_synced(height=rejected["height"])
        # the genesis as getblock's result (as `sbx-cli getblock height=0 hex=true` saves it)
        genesis_json = os.path.join(self.tmp, "genesis.json")
        with open(genesis_json, "w") as f:
            json.dump(op.call("getblock", {"height": 0, "hex": True}), f)

        for txid, verdict in ((multi[-1]["txid"], "accepted"), (rejected["txid"], "rejected")):
            proof = op.call("gettxproof", {"txid": txid})
            self.assertEqual(proof, reg.call("gettxproof", {"txid": txid}))
            self.assertEqual(proof["tx"], op.call("gettx", {"txid": txid}))
            self.assertEqual(proof["tx"]["verdict"], verdict)
            out = self.assertValid(proof)
            self.assertIn("verdict " + verdict, out)
            self.assertIn("network sbx-devnet", self.assertValid(proof, net.genesis_path))
            self.assertIn("network sbx-devnet", self.assertValid(proof, genesis_json))
            # the whole JSON-RPC response, on standard input
            self.assertValid(proof, stdin=True)

        proof = op.call("gettxproof", {"txid": multi[-1]["txid"]})
        self.assertGreater(len(proof["tx_path"]), 0, proof)
        # a bit of: the signature, the header's state digest, the transaction's signer (in the
        # part the txid covers), the verdict's parameter version
        for key, digit, check in (("signature", 127, "signature:"),
                                  ("header_hex", 240, "signature:"), ("tx_hex", 20, "tx"),
                                  ("verdict_hex", 61, "verdict_path:")):
            bad = copy.deepcopy(proof)
            bad[key] = flip_hex(bad[key], digit)
            self.assertInvalid(bad, check)
        for key in ("tx_path", "verdict_path"):
            bad = copy.deepcopy(proof)
            bad[key][0] = flip_hex(bad[key][0], 5)
            self.assertInvalid(bad, key + ":")
        bad = copy.deepcopy(proof)
        bad["index"] ^= 1
        self.assertInvalid(bad, "")
        # a field for people that does not match the checked bytes
        bad = copy.deepcopy(proof)
        bad["tx"]["verdict"] = "rejected"
        self.assertInvalid(bad, "tx.verdict:")
        bad = copy.deepcopy(proof)
        bad["header"]["height"] += 1
        self.assertInvalid(bad, "header:")

        # the genesis of another network: a second devnet has another operator key
        other = self.node("other")
        other_genesis = os.path.join(self.tmp, "other-genesis.hex")
        with open(other_genesis, "w") as f:
            f.write(other.call("getblock", {"height": 0, "hex": True})["hex"] + "\n")
        self.assertInvalid(proof, "genesis:", other_genesis)
        self.assertInvalid(proof, "genesis:", os.path.join(self.tmp, "no-such-file"))

        # unknown txid
        self.assertRPCError(NOT_FOUND, op.call, "gettxproof", {"txid": fw.hex32("nope")})
        self.assertRPCError(NOT_FOUND, reg.call, "gettxproof", {"txid": fw.hex32("nope")})


if __name__ == "__main__":
    unittest.main()
