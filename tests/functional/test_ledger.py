"""The ledger behind the RPC: rejections are on the record, submissions are idempotent, a
restart (and a reindex) keeps everything, batches and concurrent clients get durable receipts."""

import subprocess
import threading
import unittest

import framework as fw
from framework import CONFLICT, INVALID_PARAMS, NOT_FOUND, REJECTED, uid


class LedgerTest(fw.NodeTestCase):

    def test_rejection_on_the_ledger(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        tid = uid("rej")
        params = fw.trade_params(seller, buyer, trade_id=tid)
        data = self.assertRejected("balance.insufficient", n.call, "submittrade", params)
        tx = n.call("gettx", {"txid": data["txid"]})
        self.assertEqual(tx["verdict"], "rejected")
        self.assertEqual(tx["rule"], "balance.insufficient")
        self.assertEqual(tx["height"], data["height"])
        self.assertEqual(tx["trade_id"], tid)
        block = n.call("getblock", {"height": data["height"], "verbose": True})
        entry = [t for t in block["transactions"] if t["txid"] == data["txid"]]
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry[0]["verdict"], "rejected")
        self.assertEqual(entry[0]["rule"], "balance.insufficient")
        # found by trade id too
        self.assertEqual(n.call("gettrade", {"trade_id": tid})["txid"], data["txid"])
        # the same submission again: the same rejection, not a second record
        again = self.assertRejected("balance.insufficient", n.call, "submittrade", params)
        self.assertEqual(again["txid"], data["txid"])
        self.assertEqual(again["height"], data["height"])
        # the id is used up: other content is a conflict
        self.assertRPCError(CONFLICT, n.trade, seller, buyer, trade_id=tid,
                            quantity="0.00000001")
        # malformed input is refused at the door and never recorded
        bad = fw.trade_params(buyer, seller, quantity="-1")
        self.assertRPCError(INVALID_PARAMS, n.call, "submittrade", bad)
        self.assertRPCError(NOT_FOUND, n.call, "gettrade", {"trade_id": bad["trade_id"]})

    def test_idempotent_trade(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        params = fw.trade_params(buyer, seller)
        first = self.assertReceipt(n.call("submittrade", params))
        second = n.call("submittrade", params)
        self.assertEqual(second, first)
        # concurrently, many times: one trade, one receipt
        results = []

        def submit():
            results.append(n.call("submittrade", params))
        threads = [threading.Thread(target=submit) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 8)
        for r in results:
            self.assertEqual(r, first)
        # the trade moved the balance once: 0.001 BTC
        self.assertEqual(n.call("getaccount", {"account": buyer})["balances"]["BTC"],
                         "0.00100000")
        trades = n.call("listtrades", {"account": buyer})["items"]
        self.assertEqual([t["trade_id"] for t in trades], [params["trade_id"]])

    def test_restart_keeps_everything(self):
        n = self.node()
        fw.clear_of_local_midnight()  # the daily usage compared below is of one local day
        buyer, seller = n.funded_pair()
        receipts = [n.trade(buyer, seller) for _ in range(5)]
        rejected = self.assertRejected("account.unknown", n.trade, buyer, uid("nobody"))
        params = fw.trade_params(buyer, seller)
        last = n.call("submittrade", params)
        before = {
            "info": n.call("getinfo"),
            "buyer": n.call("getaccount", {"account": buyer}),
            "seller": n.call("getaccount", {"account": seller}),
            "trades": n.call("listtrades", {"account": buyer}),
            "licence": n.call("getlicence"),
        }
        self.assertEqual(n.stop(), 0)
        # without -devnet: the datadir already holds the chain
        n.devnet = False
        n.start()
        self.check_same(n, before, receipts + [last], rejected)
        self.assertEqual(n.call("submittrade", params), last)
        self.assertRPCError(CONFLICT, n.call, "submittrade", dict(params, quantity="0.00000002"))
        # and business goes on where it stopped
        r = self.assertReceipt(n.trade(buyer, seller))
        self.assertEqual(r["height"], before["info"]["height"] + 1)
        self.assertEqual(n.stop(), 0)
        n.devnet = True
        n.start()
        self.assertEqual(n.call("gettx", {"txid": r["txid"]})["height"], r["height"])
        self.assertIs(n.call("verifychain")["ok"], True)

    def check_same(self, n, before, receipts, rejected):
        info = n.call("getinfo")
        for k in ("network", "height", "tip_hash", "licence_status", "halted"):
            self.assertEqual(info[k], before["info"][k], k)
        for who in ("buyer", "seller"):
            a = n.call("getaccount", {"account": before[who]["account"]})
            self.assertEqual(a["balances"], before[who]["balances"], who)
            self.assertEqual(a["kyc_tier"], before[who]["kyc_tier"])
            self.assertEqual(a["usage"]["limit.daily"]["used"],
                             before[who]["usage"]["limit.daily"]["used"])
        self.assertEqual(n.call("listtrades", {"account": before["buyer"]["account"]}),
                         before["trades"])
        self.assertEqual(n.call("getlicence"), before["licence"])
        for r in receipts:
            tx = n.call("gettx", {"txid": r["txid"]})
            self.assertEqual((tx["height"], tx["block_hash"], tx["verdict"]),
                             (r["height"], r["block_hash"], "accepted"))
        tx = n.call("gettx", {"txid": rejected["txid"]})
        self.assertEqual((tx["verdict"], tx["rule"], tx["height"]),
                         ("rejected", "account.unknown", rejected["height"]))

    def test_reindex(self):
        n = self.node()
        fw.clear_of_local_midnight()  # the daily usage compared below is of one local day
        buyer, seller = n.funded_pair()
        for _ in range(3):
            n.trade(buyer, seller)
        self.assertRejected("limit.per_trade", n.trade, buyer, seller, quantity="0.05000000")
        before = {"info": n.call("getinfo"), "buyer": n.call("getaccount", {"account": buyer}),
                  "seller": n.call("getaccount", {"account": seller}),
                  "trades": n.call("listtrades", {"account": buyer}),
                  "licence": n.call("getlicence")}
        self.assertEqual(n.stop(), 0)
        n.extra_args.append("-reindex")
        n.start()
        n.extra_args.remove("-reindex")
        info = n.call("getinfo")
        self.assertEqual(info["tip_hash"], before["info"]["tip_hash"])
        for who in ("buyer", "seller"):
            a = n.call("getaccount", {"account": before[who]["account"]})
            self.assertEqual(a["balances"], before[who]["balances"])
            self.assertEqual(a["usage"], before[who]["usage"])
        self.assertEqual(n.call("listtrades", {"account": buyer}), before["trades"])
        self.assertIs(n.call("verifychain")["ok"], True)

    def test_batch_requests(self):
        n = self.node()
        buyer, seller = n.funded_pair()
        # 100 x 0.0001 BTC (250,000 VND each): within the funds and the limits
        calls = [("submittrade", fw.trade_params(buyer, seller, quantity="0.00010000",
                                                 trade_id=uid("b%d" % i)))
                 for i in range(100)]
        ghost = uid("ghost")
        calls.append(("submittrade", fw.trade_params(ghost, seller)))
        calls.append(("submittrade", fw.trade_params(buyer, seller, quantity="1e-3")))
        calls.append(("getinfo", None))
        replies = n.batch(calls)
        txids = set()
        for i, r in enumerate(replies[:100]):
            self.assertIn("result", r, r)
            self.assertReceipt(r["result"])
            txids.add(r["result"]["txid"])
        self.assertEqual(len(txids), 100)
        self.assertEqual(replies[100]["error"]["code"], REJECTED)
        self.assertEqual(replies[100]["error"]["data"]["rule"], "account.unknown")
        self.assertEqual(replies[101]["error"]["code"], INVALID_PARAMS)
        self.assertEqual(replies[102]["result"]["network"], "sbx-devnet")
        # every receipt is durable where it says
        found = n.batch([("gettx", {"txid": r["result"]["txid"]}) for r in replies[:100]])
        for r, f in zip(replies[:100], found):
            self.assertEqual(f["result"]["height"], r["result"]["height"])
        self.assertEqual(n.call("getaccount", {"account": buyer})["balances"]["BTC"],
                         "0.01000000")
        # the same batch again: the same receipts
        again = n.batch(calls[:100])
        self.assertEqual([r["result"] for r in again], [r["result"] for r in replies[:100]])

    def test_concurrent_clients(self):
        n = self.node()
        pairs = [n.funded_pair() for _ in range(4)]
        receipts, errors = [], []
        lock = threading.Lock()

        def client(buyer, seller):
            for _ in range(25):
                try:
                    r = n.trade(buyer, seller)
                    with lock:
                        receipts.append(r)
                except Exception as e:  # noqa: BLE001 - reported below
                    with lock:
                        errors.append(e)
        threads = [threading.Thread(target=client, args=p) for p in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(receipts), 100)
        found = n.batch([("gettx", {"txid": r["txid"]}) for r in receipts])
        for r, f in zip(receipts, found):
            self.assertEqual(f["result"]["height"], r["height"])
            self.assertEqual(f["result"]["block_hash"], r["block_hash"])
        for buyer, _ in pairs:
            self.assertEqual(n.call("getaccount", {"account": buyer})["balances"]["BTC"],
                             "0.02500000")

    def test_one_daemon_per_datadir(self):
        n = self.node()
        second = subprocess.run(
            [fw.binary("sbxd"), "-devnet", "-datadir=" + n.datadir,
             "-rpcport=%d" % fw.free_port(), "-port=%d" % fw.free_port(), "-printtoconsole=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=fw.START_TIMEOUT)
        self.assertNotEqual(second.returncode, 0)
        # the first one is unharmed, its cookie too
        self.assertEqual(n.call("getinfo")["network"], "sbx-devnet")


if __name__ == "__main__":
    unittest.main()
