"""k-of-n regulator directives (doc/operations.md, "Running a k-of-n board"): on a network of
three regulator nodes whose genesis asks for two distinct regulator signatures, a directive
submitted on one regulator node is a proposal that the others see (listproposals) and cosign
(cosigndirective); the operator records it once it carries two signatures, never before, and
never after it expired.

Each test builds its own network (framework.Network with quorum=2); the regulators' keys are
made by `sbxd -genkey` in their datadirs, which tests/functional/txsign.py reads to sign
outside a node."""

import os
import struct

import framework as fw
import txsign
from framework import (BAD_SIGNATURE, CONFLICT, FORBIDDEN, INVALID_PARAMS, NOT_FOUND, in_time)
from test_network import directive, gettx

T = fw.SYNC_TIMEOUT


def pending(node, pid):
    """The proposal `pid` as `node` lists it, or None."""
    for p in node.call("listproposals")["proposals"]:
        if p["proposal_id"] == pid:
            return p
    return None


def reg_secret(node):
    return txsign.read_key(os.path.join(node.datadir, "keys", "regulator.key"))


class ProposalTest(fw.NodeTestCase):

    def network(self):
        return fw.Network(self, regulators=3, quorum=2)

    def propose(self, node, d):
        """submitdirective on a regulator node with quorum 2: a proposal, not a receipt."""
        r = node.call("submitdirective", d)
        self.assertRegex(r.get("proposal_id", ""), r"^[0-9a-f]{64}$", r)
        self.assertEqual((r["signatures"], r["quorum"]), (1, 2), r)
        self.assertNotIn("height", r)
        return r

    def cosign(self, net, node, pid, d=None):
        """cosigndirective on `node`; then the directive `pid` is on the operator's ledger."""
        p = node.call("cosigndirective", {"proposal_id": pid})
        self.assertEqual((p["signatures"], p["quorum"]), (2, 2), p)
        tx = in_time(lambda: gettx(net.operator, pid), T, "the directive on the operator")
        self.assertEqual((tx["type"], tx["verdict"]), ("directive", "accepted"), tx)
        return tx

    def test_two_of_three(self):
        net = self.network()
        op = net.operator
        reg1, reg2, reg3 = net.regulators
        self.assertEqual(op.call("getsupervision")["directive_quorum"], 2)
        buyer, seller = op.funded_pair()
        net.wait_synced()

        # ---- one signature does not halt the market
        prop = self.propose(reg1, directive("halt"))
        pid = prop["proposal_id"]
        for n in (reg2, reg3, op):
            p = in_time(lambda: pending(n, pid), T, "%s sees the proposal" % n.name)
            self.assertEqual(p["kind"], "halt")
            self.assertEqual(p["signers"], [net.reg_keys[0]])
            self.assertEqual(p["params"]["reason"], "functional test")
            self.assertEqual(p["expires"], prop["expires"])
        self.assertReceipt(op.trade(buyer, seller))
        self.assertIs(op.call("getinfo")["halted"], False)
        self.assertIsNone(gettx(op, pid))

        # ---- the same regulator signing again does not count twice
        self.assertRPCError(CONFLICT, reg1.call, "cosigndirective", {"proposal_id": pid})
        sig1 = txsign.schnorr_sign(bytes.fromhex(pid), reg_secret(reg1)).hex()
        self.assertRPCError(CONFLICT, reg2.call, "cosigndirective",
                            {"proposal_id": pid, "pubkey": net.reg_keys[0], "signature": sig1})
        # ---- a co-signature from an unknown key is refused, even validly signed
        stranger = os.urandom(32)
        self.assertRPCError(FORBIDDEN, reg2.call, "cosigndirective", {
            "proposal_id": pid, "pubkey": txsign.pubkey(stranger).hex(),
            "signature": txsign.schnorr_sign(bytes.fromhex(pid), stranger).hex()})
        # a regulator's key with a signature that is not its own
        self.assertRPCError(BAD_SIGNATURE, reg2.call, "cosigndirective",
                            {"proposal_id": pid, "pubkey": net.reg_keys[2], "signature": sig1})
        # ---- nodes without a regulator key cannot cosign
        self.assertRPCError(FORBIDDEN, op.call, "cosigndirective", {"proposal_id": pid})
        obs = net.observer("obs")
        self.assertRPCError(FORBIDDEN, obs.call, "cosigndirective", {"proposal_id": pid})
        self.assertRPCError(NOT_FOUND, reg2.call, "cosigndirective", {"proposal_id": "ab" * 32})
        self.assertEqual(pending(reg1, pid)["signatures"], 1)
        self.assertReceipt(op.trade(buyer, seller))
        self.assertIsNone(gettx(op, pid))

        # ---- a second regulator's signature halts it
        tx = self.cosign(net, reg2, pid)
        self.assertEqual((tx["kind"], tx["signer"]), ("halt", net.reg_keys[0]))
        self.assertEqual(tx["cosigners"], [net.reg_keys[1]])
        self.assertIs(op.call("getinfo")["halted"], True)
        self.assertRejected("market.halted", op.trade, buyer, seller)
        for n in net.regulators:
            in_time(lambda: gettx(n, pid), T, "%s holds the halt" % n.name)
            in_time(lambda: pending(n, pid) is None, T, "%s forgets the proposal" % n.name)
        self.assertRPCError(NOT_FOUND, reg3.call, "cosigndirective", {"proposal_id": pid})

        # ---- resume, its second signature made outside any node (reg3's key) and given to reg1
        pid = self.propose(reg2, directive("resume"))["proposal_id"]
        in_time(lambda: pending(reg1, pid), T, "reg1 sees the resume")
        sig3 = txsign.schnorr_sign(bytes.fromhex(pid), reg_secret(reg3)).hex()
        p = reg1.call("cosigndirective",
                      {"proposal_id": pid, "pubkey": net.reg_keys[2], "signature": sig3})
        self.assertEqual(p["signers"], [net.reg_keys[1], net.reg_keys[2]])
        in_time(lambda: gettx(op, pid), T, "the resume on the operator")
        self.assertIs(op.call("getinfo")["halted"], False)
        self.assertReceipt(op.trade(buyer, seller))
        # the regulators re-checked both directives and hold the same chain (the observer is
        # not allowed on this operator: it only showed that a keyless node cannot cosign)
        net.wait_synced(nodes=net.regulators, height=op.call("getinfo")["height"])

    def test_proposal_outlives_an_operator_restart(self):
        """Proposals live in memory: a restarted operator learns them again from the regulator
        nodes when their links open, and records the directive at the next signature."""
        net = self.network()
        op = net.operator
        reg1, reg2, _ = net.regulators
        # a directive signed outside any node, given to reg2 with submitrawtx: a proposal too
        body = txsign.directive_body("halt", asset="ETH", reason="functional test",
                                     legal_basis="test licence 1.2")
        raw, pid = txsign.sign_tx(txsign.DIRECTIVE, body, reg_secret(reg1), fw.now_ms())
        r = reg2.call("submitrawtx", {"hex": raw.hex()})
        self.assertEqual((r["proposal_id"], r["signatures"], r["quorum"]), (pid, 1, 2), r)
        in_time(lambda: pending(op, pid), T, "the operator holds the proposal")
        self.assertEqual(op.stop(), 0)
        op.start()
        in_time(lambda: pending(op, pid), T, "the restarted operator learns the proposal again")
        self.assertEqual(pending(op, pid)["signers"], [net.reg_keys[0]])
        tx = self.cosign(net, reg2, pid)
        self.assertEqual(tx["asset"], "ETH")
        buyer, seller = op.funded_pair()
        self.assertRejected("asset.halted", op.trade, buyer, seller, asset="ETH",
                            price="90000000")
        self.assertReceipt(op.trade(buyer, seller))  # BTC trades on

    def test_expired_proposal_is_never_included(self):
        net = self.network()
        op = net.operator
        reg1, reg2, reg3 = net.regulators
        buyer, seller = op.funded_pair()
        # a short time to live, itself a 2-of-3 directive
        ttl = 10
        pid = self.propose(reg1, directive("set_param", name="supervision.proposal_ttl_s",
                                           value=ttl))["proposal_id"]
        in_time(lambda: pending(reg3, pid), T, "reg3 sees the proposal")
        self.cosign(net, reg3, pid)
        self.assertEqual(op.call("getlicence")["params"]["supervision.proposal_ttl_s"], ttl)
        net.wait_synced(height=op.call("getinfo")["height"])

        # a halt that only reg1 signs, until it expires
        prop = self.propose(reg1, directive("halt"))
        pid = prop["proposal_id"]
        in_time(lambda: fw.now_ms() > prop["expires"] and pending(reg1, pid) is None
                and pending(op, pid) is None, T, "the proposal expired")
        # the late co-signature is refused, and nothing is recorded
        self.assertRPCError(NOT_FOUND, reg2.call, "cosigndirective", {"proposal_id": pid})
        self.assertIsNone(gettx(op, pid))
        self.assertIs(op.call("getinfo")["halted"], False)
        self.assertReceipt(op.trade(buyer, seller))

        # the same halt complete with both signatures, but dated before the window
        # (supervision.proposal_ttl_s + time.max_skew_ms): refused at the door, not recorded
        skew = int(op.call("getlicence")["params"]["time.max_skew_ms"])
        ts = fw.now_ms() - ttl * 1000 - skew - 5000
        body = txsign.directive_body("halt", reason="functional test",
                                     legal_basis="test licence 1.2")
        raw, txid = txsign.sign_tx(txsign.DIRECTIVE, body, reg_secret(reg1), ts)
        cosig = txsign.schnorr_sign(bytes.fromhex(txid), reg_secret(reg2))
        raw = raw[:-1] + struct.pack(">B", 1) + bytes.fromhex(net.reg_keys[1]) + cosig
        self.assertRPCError(INVALID_PARAMS, op.call, "submitrawtx", {"hex": raw.hex()})
        self.assertIsNone(gettx(op, txid))
        self.assertIs(op.call("getinfo")["halted"], False)
        # inside the window (older than time.max_skew_ms alone allows) the same two signatures
        # are a directive like any other
        raw, txid = txsign.sign_tx(txsign.DIRECTIVE, body, reg_secret(reg1),
                                   fw.now_ms() - skew - 2000)
        cosig = txsign.schnorr_sign(bytes.fromhex(txid), reg_secret(reg2))
        raw = raw[:-1] + struct.pack(">B", 1) + bytes.fromhex(net.reg_keys[1]) + cosig
        self.assertReceipt(op.call("submitrawtx", {"hex": raw.hex()}))
        self.assertIs(op.call("getinfo")["halted"], True)
        net.wait_synced(height=op.call("getinfo")["height"])


if __name__ == "__main__":
    import unittest
    unittest.main()
