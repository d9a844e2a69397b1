"""The multi-node network (doc/protocol.md): an operator node and regulator nodes that
replicate its ledger over the TLS peer links, re-validate and attest every block, relay the
directives they sign, detect a misbehaving operator, and an allow list for observers.

Each test builds its own network on loopback (framework.Network): the operator is
`sbxd -devnet` with -devnetregulator for keys made by `sbxd -genkey` in the regulators'
datadirs; the followers start from the exported genesis block and -connect to it."""

import threading
import time
import unittest

import framework as fw
from framework import FORBIDDEN, REJECTED, UNAVAILABLE, in_time

T = fw.SYNC_TIMEOUT


def directive(kind, **kw):
    d = {"kind": kind, "reason": "functional test", "legal_basis": "test licence 1.2"}
    d.update(kw)
    return d


def gettx(node, txid):
    """gettx, or None while the node does not have the transaction (-32001)."""
    try:
        return node.call("gettx", {"txid": txid})
    except fw.RPCError as e:
        if e.code == fw.NOT_FOUND:
            return None
        raise


class TradeStream(threading.Thread):
    """Submits small trades on the operator, one after another, until stop(); keeps every
    receipt and every error (a trade of this stream should never fail)."""

    def __init__(self, node, buyer, seller, most=400):
        super().__init__(daemon=True)
        self.node, self.buyer, self.seller, self.most = node, buyer, seller, most
        self.receipts = []
        self.errors = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set() and len(self.receipts) < self.most:
            try:
                self.receipts.append(self.node.trade(self.buyer, self.seller,
                                                     quantity="0.00010000"))
            except Exception as e:  # reported by the test, not lost in the thread
                self.errors.append(repr(e))
                return
            self._halt.wait(0.02)

    def stop(self):
        self._halt.set()
        self.join(fw.RPC_TIMEOUT)


class NetworkTestCase(fw.NodeTestCase):

    def network(self, regulators=2, **kw):
        return fw.Network(self, regulators=regulators, **kw)

    def assertOnLedger(self, node, receipt, kind=None):
        """`node` holds the transaction of `receipt` in the very block the receipt names."""
        tx = in_time(lambda: gettx(node, receipt["txid"]), T,
                     "%s has transaction %s" % (node.name, receipt["txid"]))
        self.assertEqual((tx["height"], tx["block_hash"]),
                         (receipt["height"], receipt["block_hash"]), node.name)
        self.assertEqual(tx["verdict"], "accepted", tx)
        if kind is not None:
            self.assertEqual((tx["type"], tx["kind"]), ("directive", kind), tx)
        return tx

    def refused_for_lag(self, node, buyer, seller):
        """True if a trade is refused with -32004 (supervision lag), False if it is accepted.
        A small trade (25,000 VND), and a pause after it: callers poll with it."""
        try:
            self.assertReceipt(node.trade(buyer, seller, quantity="0.00001000"))
            return False
        except fw.RPCError as e:
            self.assertEqual(e.code, UNAVAILABLE, e)
            return True
        finally:
            time.sleep(0.25)


class ReplicationTest(NetworkTestCase):

    def test_trades_replicate_and_are_attested(self):
        net = self.network()
        op = net.operator
        op_info = op.call("getinfo")
        self.assertEqual(op_info["role"], "operator")
        self.assertEqual(op_info["node_key"], fw.node_key(op))
        with open(net.operator.datadir + "/.p2pport") as f:
            self.assertEqual(int(f.read().strip()), op.p2pport)
        sup = op.call("getsupervision")
        self.assertEqual(sorted(r["key"] for r in sup["regulators"]), sorted(net.reg_keys))
        for r in net.regulators:
            info = r.call("getinfo")
            self.assertEqual(info["role"], "regulator", r.name)
            self.assertEqual(info["node_key"], net.reg_keys[net.regulators.index(r)])
            self.assertEqual(info["network"], op_info["network"])
            self.assertIs(info["following"], True, r.name)
            self.assertEqual(info["critical_alerts"], 0, r.name)
            self.assertEqual(r.call("getblock", {"height": 0})["hash"],
                             op.call("getblock", {"height": 0})["hash"])

        buyer, seller = op.funded_pair()
        last = None
        for _ in range(5):
            last = self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced(height=last["height"])

        # the followers hold the same transactions in the same blocks, with the same state
        for r in net.regulators:
            self.assertOnLedger(r, last)
            self.assertEqual(r.call("gettrade", {"trade_id": op.call("gettx", {
                "txid": last["txid"]})["trade_id"]})["txid"], last["txid"])
            for acct in (buyer, seller):
                self.assertEqual(r.call("getaccount", {"account": acct})["balances"],
                                 op.call("getaccount", {"account": acct})["balances"])
            # business is the operator's: a regulator node refuses it
            self.assertRPCError(FORBIDDEN, r.trade, buyer, seller)
            self.assertRPCError(FORBIDDEN, r.open_account)
            self.assertRPCError(FORBIDDEN, r.deposit, buyer, "VND", "1000")

        # when idle, every regulator reaches the operator's tip: same height, same hash
        def same_tip():
            want = op.call("getinfo")
            got = [r.call("getinfo") for r in net.regulators]
            return all((g["height"], g["tip_hash"]) == (want["height"], want["tip_hash"])
                       for g in got)
        in_time(same_tip, T, "regulators at the operator's tip")

        # both attest a height at or above the last trade's block (each attests its tip once
        # idle, so the two heights may differ by the blocks of attestations alone)
        sup = net.wait_attested(last["height"])
        # the devnet's attestation quorum is half the regulators, rounded up: 1 of 2
        self.assertEqual(sup["attestation_quorum"], 1)
        for reg in sup["regulators"]:
            self.assertIsInstance(reg["attested_at"], int)
        # ... which makes the trades final
        in_time(lambda: op.call("getinfo")["final_height"] >= last["height"], T,
                "final_height at the last trade's block")
        info = op.call("getinfo")
        self.assertLessEqual(info["final_height"], info["height"])

        # the links, as each side sees them
        peers = op.call("getpeerinfo")["peers"]
        regs = {p["key"]: p for p in peers if p["role"] == "regulator"}
        self.assertEqual(sorted(regs), sorted(net.reg_keys), peers)
        for p in regs.values():
            self.assertIs(p["inbound"], True, p)
        for r in net.regulators:
            ops = [p for p in r.call("getpeerinfo")["peers"] if p["role"] == "operator"]
            self.assertEqual(len(ops), 1, r.name)
            self.assertIs(ops[0]["inbound"], False)
            self.assertEqual(ops[0]["key"], fw.node_key(op))

    def test_regulator_restarted_mid_stream_catches_up(self):
        net = self.network()
        op = net.operator
        reg1, reg2 = net.regulators
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()

        stream = TradeStream(op, buyer, seller)
        stream.start()
        try:
            in_time(lambda: len(stream.receipts) >= 3 or stream.errors, T, "trades flowing")
            self.assertEqual(reg2.stop(), 0)
            mark = len(stream.receipts)
            in_time(lambda: len(stream.receipts) >= mark + 10 or stream.errors, T,
                    "trades while reg2 is down")
            # reg1 keeps following while reg2 is down
            net.wait_synced([reg1])
            reg2.start()
            in_time(lambda: len(stream.receipts) >= mark + 20 or stream.errors, T,
                    "trades while reg2 starts")
        finally:
            stream.stop()
        self.assertEqual(stream.errors, [])
        last = stream.receipts[-1]
        self.assertEqual(last["height"], max(r["height"] for r in stream.receipts))
        net.wait_synced(height=op.call("getinfo")["height"])
        for r in net.regulators:
            self.assertOnLedger(r, last)
            self.assertIs(r.call("getinfo")["following"], True)
        net.wait_attested(last["height"])


class DirectiveTest(NetworkTestCase):

    def test_directives_from_regulator_nodes(self):
        """halt/resume, freeze/unfreeze and set_param, each signed by a regulator node, relayed
        to the operator, in force from its block, and seen by the other regulator in that
        same block. One network: each part undoes what it did (but the last)."""
        net = self.network()
        op = net.operator
        reg1, reg2 = net.regulators
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()

        # ---- halt on reg1, resume on reg2
        rec = self.assertReceipt(reg1.call("submitdirective", directive("halt")))
        # the receipt comes once reg1 has applied the block: it is there now
        tx = gettx(reg1, rec["txid"])
        self.assertIsNotNone(tx, "reg1 answered before holding its directive's block")
        self.assertEqual((tx["height"], tx["block_hash"]), (rec["height"], rec["block_hash"]))
        self.assertEqual(tx["signer"], net.reg_keys[0])
        self.assertIs(op.call("getinfo")["halted"], True)
        self.assertRejected("market.halted", op.trade, buyer, seller)
        for n in (op, reg2):
            self.assertOnLedger(n, rec, kind="halt")
        self.assertIs(reg2.call("getinfo")["halted"], True)
        blk = reg2.call("getblock", {"height": rec["height"]})
        self.assertEqual(blk["hash"], rec["block_hash"])
        self.assertIn(rec["txid"], blk["txids"])
        # transfers are not trades
        self.assertReceipt(op.deposit(buyer, "VND", "1000"))

        rec = self.assertReceipt(reg2.call("submitdirective", directive("resume")))
        self.assertEqual(gettx(reg2, rec["txid"])["signer"], net.reg_keys[1])
        self.assertIs(op.call("getinfo")["halted"], False)
        self.assertReceipt(op.trade(buyer, seller))
        self.assertOnLedger(reg1, rec, kind="resume")

        # ---- freeze one account: its trades are rejected, the others' are not
        buyer2, _ = op.funded_pair()
        rec = self.assertReceipt(reg1.call("submitdirective", directive("freeze",
                                                                        account=buyer)))
        self.assertIs(op.call("getaccount", {"account": buyer})["frozen"], True)
        self.assertOnLedger(reg2, rec, kind="freeze")
        self.assertIs(reg2.call("getaccount", {"account": buyer})["frozen"], True)
        data = self.assertRejected("account.frozen", op.trade, buyer, seller)
        self.assertGreater(data["height"], rec["height"])
        self.assertReceipt(op.trade(buyer2, seller))
        rec = self.assertReceipt(reg2.call("submitdirective", directive("unfreeze",
                                                                        account=buyer)))
        self.assertOnLedger(reg1, rec, kind="unfreeze")
        self.assertReceipt(op.trade(buyer, seller))

        # ---- set_param lowers the daily limit from its block on
        fw.clear_of_local_midnight()  # the daily usage below is of one local day
        buyer3, seller3 = op.funded_pair()
        # 0.002 BTC = 5,000,000 VND each
        self.assertReceipt(op.trade(buyer3, seller3, quantity="0.00200000"))
        before = self.assertReceipt(op.trade(buyer3, seller3, quantity="0.00200000"))
        rec = self.assertReceipt(reg1.call("submitdirective", directive(
            "set_param", name="limit.daily.tier1", value="12000000")))
        self.assertLess(before["height"], rec["height"])
        self.assertEqual(op.call("getlicence")["params"]["limit.daily.tier1"], "12000000")
        # 10,000,000 used + 5,000,000 > 12,000,000: the trade that passed before fails now
        data = self.assertRejected("limit.daily", op.trade, buyer3, seller3,
                                   quantity="0.00200000")
        self.assertGreater(data["height"], rec["height"])
        self.assertEqual(data["limit"], "12000000")
        self.assertOnLedger(reg2, rec, kind="set_param")
        self.assertEqual(reg2.call("getlicence")["params"]["limit.daily.tier1"], "12000000")
        # the regulators re-checked the rejection and hold it with its rule
        for r in net.regulators:
            tx = in_time(lambda: gettx(r, data["txid"]), T, "%s has the rejection" % r.name)
            self.assertEqual((tx["verdict"], tx["rule"]), ("rejected", "limit.daily"), tx)

        # ---- a directive the rules refuse is answered on the regulator node as a rejection
        self.assertRejected("directive.invalid", reg2.call, "submitdirective",
                            directive("halt", asset="DOGE"))
        self.assertIs(op.call("getinfo")["halted"], False)


class SupervisionTest(NetworkTestCase):

    def test_lag_stops_business_until_regulators_attest(self):
        net = self.network()
        op = net.operator
        reg1, reg2 = net.regulators
        buyer, seller = op.funded_pair()
        self.assertReceipt(reg1.call("submitdirective", directive(
            "set_param", name="supervision.max_lag_s", value=5)))
        self.assertEqual(op.call("getsupervision")["max_lag_s"], 5)
        net.wait_synced()
        # the regulators attest: business goes on
        self.assertFalse(self.refused_for_lag(op, buyer, seller))
        self.assertIs(op.call("getsupervision")["supervision_ok"], True)

        self.assertEqual(reg1.stop(), 0)
        self.assertEqual(reg2.stop(), 0)
        in_time(lambda: self.refused_for_lag(op, buyer, seller), T,
                "-32004 with no regulator attesting")
        self.assertIs(op.call("getsupervision")["supervision_ok"], False)
        self.assertRPCError(UNAVAILABLE, op.open_account)

        # business comes back once attestation_quorum regulators attest again, not before
        # (doc/compliance.md, supervision.lag)
        quorum = op.call("getsupervision")["attestation_quorum"]
        self.assertEqual(quorum, 1)  # so one regulator back is enough
        since = fw.now_ms()
        for i, reg in enumerate(net.regulators[:quorum]):
            if i > 0:
                # the regulators started so far are short of the quorum: still refused
                self.assertTrue(self.refused_for_lag(op, buyer, seller))
            reg.start()

            def attested():
                for r in op.call("getsupervision")["regulators"]:
                    if r["key"] == net.reg_keys[i]:
                        return r["attested_at"] is not None and r["attested_at"] >= since
                self.fail("%s missing from getsupervision" % reg.name)
            in_time(attested, T, "a fresh attestation from %s" % reg.name)
        in_time(lambda: not self.refused_for_lag(op, buyer, seller), T,
                "business again once %d regulator(s) attest" % quorum)
        self.assertIs(op.call("getsupervision")["supervision_ok"], True)


class ObserverTest(NetworkTestCase):

    def test_unknown_key_refused_listed_observer_syncs(self):
        net = self.network()
        op = net.operator
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()
        refusals = fw.debug_log(op).count("closed: unknown key")

        # two observers the operator does not know: both are refused
        stranger = net.observer("stranger")
        friend = net.observer("friend")
        in_time(lambda: fw.debug_log(op).count("closed: unknown key") >= refusals + 2, T,
                "the operator logging the refusal of both observers")
        for o in (stranger, friend):
            # each one did reach the operator, and lost the link
            in_time(lambda: "(outbound): closed" in fw.debug_log(o), T,
                    "%s seeing its link closed" % o.name)
        stranger_key, friend_key = fw.node_key(stranger), fw.node_key(friend)
        self.assertNotEqual(stranger_key, friend_key)
        for o, key in ((stranger, stranger_key), (friend, friend_key)):
            info = o.call("getinfo")
            self.assertEqual(info["role"], "observer")
            self.assertEqual(info["node_key"], key)
            self.assertEqual(info["height"], 0, o.name)
        keys = {p["key"] for p in op.call("getpeerinfo")["peers"]}
        self.assertNotIn(stranger_key, keys)
        self.assertNotIn(friend_key, keys)

        # the operator, restarted with -observer for one of them, lets that one sync
        self.assertEqual(friend.stop(), 0)
        op.extra_args.append("-observer=" + friend_key)
        self.assertEqual(op.stop(), 0)
        # meanwhile a regulator node has no operator to relay a directive to
        reg1 = net.regulators[0]
        in_time(lambda: not [p for p in reg1.call("getpeerinfo")["peers"]
                             if p["role"] == "operator"], T, "reg1 without its operator link")
        self.assertRPCError(UNAVAILABLE, reg1.call, "submitdirective", directive(
            "set_param", name="limit.participants_max", value=10000))
        op.start()
        friend.start()
        self.assertReceipt(op.trade(buyer, seller))
        height = net.wait_synced([friend] + net.regulators)

        def listed():
            peers = {p["key"]: p for p in op.call("getpeerinfo")["peers"]}
            return peers.get(friend_key)
        p = in_time(listed, T, "the operator listing the observer")
        self.assertEqual(p["role"], "observer")
        self.assertIs(p["inbound"], True)
        info = friend.call("getinfo")
        self.assertEqual(info["role"], "observer")
        self.assertIs(info["following"], True)
        # an observer reads; it neither trades nor directs
        self.assertRPCError(FORBIDDEN, friend.trade, buyer, seller)
        self.assertRPCError(FORBIDDEN, friend.call, "submitdirective", directive("halt"))

        # the stranger stays where it was while the friend and the regulators sync past it
        self.assertGreater(height, 0)
        self.assertEqual(stranger.call("getinfo")["height"], 0)
        self.assertNotIn(stranger_key, {p["key"] for p in op.call("getpeerinfo")["peers"]})
        refusals = fw.debug_log(op).count("closed: unknown key")
        in_time(lambda: fw.debug_log(op).count("closed: unknown key") > refusals, T,
                "the restarted operator refusing the stranger again")
        self.assertEqual(stranger.call("getinfo")["height"], 0)
        self.assertNotIn(stranger_key, {p["key"] for p in op.call("getpeerinfo")["peers"]})


class MisbehaviourTest(NetworkTestCase):
    """The operator misbehaves on purpose through `testhook` (builds configured with
    --enable-test-hooks only); both regulator nodes notice it, raise a critical alert and stop
    following. A fresh network for each case."""


    def misbehave(self, action, kind):
        net = self.network()
        op = net.operator
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()
        armed = fw.testhook(self, op, {"action": action})
        self.assertEqual(armed, {"armed": action})
        # only the operator can be made to misbehave
        self.assertRPCError(FORBIDDEN, net.regulators[0].call, "testhook", {"action": action})
        # the next block the operator seals is the bad one; what it answers does not matter
        try:
            op.trade(buyer, seller)
        except fw.RPCError as e:
            self.assertEqual(e.code, REJECTED, e)

        alerts = {}
        for r in net.regulators:
            def alerted():
                for a in r.call("listnodealerts")["items"]:
                    if a["severity"] == "critical" and a["kind"] == kind:
                        return a
                return None
            a = in_time(alerted, T, "%s raising a critical %s alert" % (r.name, kind))
            alerts[r.name] = a
            self.assertIsInstance(a["height"], int)
            self.assertGreater(a["height"], 0)
            info = in_time(lambda: (lambda i: i if i["following"] is False else None)(
                r.call("getinfo")), T, "%s no longer following" % r.name)
            self.assertGreaterEqual(info["critical_alerts"], 1)
            if kind == "block_invalid":
                # the bad block was not applied
                self.assertLess(info["height"], a["height"], a)
        return net, alerts

    def test_wrong_verdict(self):
        net, alerts = self.misbehave("wrong_verdict", "block_invalid")
        # node alerts are kept in the store: after a restart the alert is still there, and
        # still critical
        reg = net.regulators[0]
        self.assertEqual(reg.stop(), 0)
        reg.start()
        kept = [a for a in reg.call("listnodealerts")["items"]
                if a["kind"] == "block_invalid" and a["seq"] == alerts[reg.name]["seq"]]
        self.assertEqual(len(kept), 1, kept)
        self.assertEqual(kept[0]["severity"], "critical")
        self.assertGreaterEqual(reg.call("getinfo")["critical_alerts"], 1)

    def test_wrong_digest(self):
        self.misbehave("wrong_digest", "block_invalid")

    def test_equivocation(self):
        net, alerts = self.misbehave("equivocate", "equivocation")
        op_hash = net.operator.call("getblock", {"height": alerts["reg1"]["height"]})["hash"]
        for name, a in alerts.items():
            self.assertEqual(a.get("peer"), fw.node_key(net.operator), a)
            proof = a.get("proof")
            self.assertIsInstance(proof, dict, a)
            self.assertEqual(proof["height"], a["height"])
            self.assertRegex(proof["hash_a"], r"^[0-9a-f]{64}$")
            self.assertRegex(proof["hash_b"], r"^[0-9a-f]{64}$")
            self.assertNotEqual(proof["hash_a"], proof["hash_b"], name)
            self.assertNotEqual(proof["header_a"], proof["header_b"], name)
            for h in (proof["header_a"], proof["header_b"]):
                self.assertRegex(h, r"^[0-9a-f]{496}$")  # a 248-byte signed header
            # one of the two is the block the operator kept
            self.assertIn(op_hash, (proof["hash_a"], proof["hash_b"]), name)
        self.assertEqual(alerts["reg1"]["height"], alerts["reg2"]["height"])


if __name__ == "__main__":
    unittest.main()
