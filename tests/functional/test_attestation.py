"""The `attestation.invalid` rule's block-hash clause (doc/compliance.md): an attestation whose
block hash is not the hash of the block at the height it names is recorded as rejected by
`attestation.invalid`, on the operator that builds the block and, with the same verdict, on the
regulator node that re-checks it; it does not move the regulator's attested height. The same
attestation with the right hash is accepted (so the refusal came from the hash, not from the
height clause, which the unit tests cover).

The attestations are signed here (txsign) with the key of a real regulator node of the network
and submitted with submitrawtx, as the regulator node's own ATTEST messages are submitted."""

import os
import struct
import unittest

import framework as fw
import txsign

ATTESTATION = 7  # transaction type (doc/protocol.md)


def attestation(secret, height, block_hash, timestamp):
    """The signed encoding of an attestation of (height, block_hash): body u64 height, 32-byte
    hash."""
    body = struct.pack(">Q", height) + bytes.fromhex(block_hash)
    raw, txid = txsign.sign_tx(ATTESTATION, body, secret, timestamp)
    assert len(raw) == 147, len(raw)
    return raw, txid


class AttestationHashTest(fw.NodeTestCase):

    def test_block_hash_clause(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        key = net.reg_keys[0]
        secret = txsign.read_key(os.path.join(reg.datadir, "keys", "regulator.key"))
        self.assertEqual(txsign.pubkey(secret).hex(), key)
        for _ in range(2):
            op.open_account()
        net.wait_synced()
        tip = op.call("getinfo")["height"]
        self.assertGreaterEqual(tip, 2)
        right = op.call("getblock", {"height": tip})["hash"]
        wrong = op.call("getblock", {"height": tip - 1})["hash"]

        def attested_height():
            sup = op.call("getsupervision")
            return {r["key"]: r for r in sup["regulators"]}[key].get("attested_height")

        raw, txid = attestation(secret, tip, wrong, fw.now_ms())
        data = self.assertRejected("attestation.invalid", op.call, "submitrawtx",
                                   {"hex": raw.hex()})
        self.assertEqual(data["txid"], txid)
        self.assertGreater(data["height"], tip)
        # the hash clause's figures: the attested height only (the height clause gives a limit)
        self.assertEqual(data.get("requested"), str(tip), data)
        self.assertNotIn("limit", data)
        rejected_at = data["height"]
        self.assertLessEqual(attested_height() or 0, tip)

        # on the ledger, and the regulator node gave it the same verdict when it re-checked the
        # block (a different verdict would have made it refuse the block and stop following)
        net.wait_synced(height=rejected_at)
        for n in (op, reg):
            tx = n.call("gettx", {"txid": txid})
            self.assertEqual(tx.get("verdict"), "rejected", (n.name, tx))
            self.assertEqual(tx.get("rule"), "attestation.invalid", (n.name, tx))
        self.assertTrue(reg.call("getinfo")["following"])

        # the same height with the block's real hash is accepted
        raw, txid = attestation(secret, tip, right, fw.now_ms() + 1)
        r = self.assertReceipt(op.call("submitrawtx", {"hex": raw.hex()}))
        self.assertEqual(r["txid"], txid)
        self.assertGreaterEqual(attested_height(), tip)


if __name__ == "__main__":
    unittest.main()
