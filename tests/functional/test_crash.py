"""Crash safety (doc/architecture.md, principle 4): kill -9 the node under load from
sbx-bench, restart it, and check that every receipt the client got (accepted, or a recorded
rejection) is on the ledger at the height it was given, and that the chain verifies."""

import os
import subprocess
import threading
import time
import unittest

import framework as fw

BENCH_TIMEOUT = 180


class Bench:
    """sbx-bench in the background, its stdout read line by line."""

    def __init__(self, node, receipts, trades, seed):
        self.lines = []
        self.started = threading.Event()
        self.proc = subprocess.Popen(
            [fw.binary("sbx-bench"), "-datadir=" + node.datadir, "-rpcport=%d" % node.rpcport,
             "-accounts=40", "-trades=%d" % trades, "-conns=32", "-badpct=10",
             "-seed=%d" % seed, "-receipts=" + receipts],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if "trades: starting" in line:
                self.started.set()
        self.started.set()

    def wait(self):
        try:
            rc = self.proc.wait(BENCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sbx-bench did not finish after the node died:\n" +
                                 "".join(self.lines))
        self.reader.join(30)
        self.proc.stdout.close()
        return rc


def read_receipts(path):
    out = []
    with open(path) as f:
        for line in f:
            txid, height, outcome, _ = line.rstrip("\n").split(" ", 3)
            out.append((txid, int(height), outcome))
    return out


def check_receipts(n, receipts):
    """Every receipt (txid, height, outcome) is on node `n` at its height with its verdict (and
    rule, for a recorded rejection); an AssertionError names the first that is not."""
    for i in range(0, len(receipts), 500):
        chunk = receipts[i:i + 500]
        replies = n.batch([("gettx", {"txid": txid}) for txid, _, _ in chunk])
        for (txid, height, outcome), r in zip(chunk, replies):
            if "result" not in r:
                raise AssertionError("acknowledged %s lost in the crash: %r" % (txid, r))
            tx = r["result"]
            verdict = "accepted" if outcome == "accepted" else "rejected"
            if (tx["txid"], tx["height"], tx["verdict"]) != (txid, height, verdict) or \
                    (verdict == "rejected" and tx.get("rule") != outcome):
                raise AssertionError("receipt %s %d %s, but the node has %r" %
                                     (txid, height, outcome, tx))


class CrashTest(fw.NodeTestCase):

    def run_and_kill(self, n, receipts, seed):
        """Start sbx-bench, let the trade phase make some blocks, kill -9 the node."""
        bench = Bench(n, receipts, trades=50000, seed=seed)
        self.assertTrue(bench.started.wait(BENCH_TIMEOUT), "sbx-bench never reached its trades:\n"
                        + "".join(bench.lines))
        self.assertIsNone(bench.proc.poll(), "sbx-bench ended early:\n" + "".join(bench.lines))
        h0 = n.call("getinfo")["height"]
        fw.in_time(lambda: n.call("getinfo")["height"] >= h0 + 60, timeout=120,
                   what="sixty blocks of trades")
        n.kill()
        rc = bench.wait()
        # the client saw connections fail: that is what the run is about
        self.assertEqual(rc, 1, "".join(bench.lines))
        return read_receipts(receipts)

    def check(self, n, receipts):
        self.assertGreater(len(receipts), 0)
        check_receipts(n, receipts)
        v = n.call("verifychain")
        self.assertIs(v["ok"], True, v)

    def test_kill9_under_load(self):
        n = self.node()
        all_receipts = []
        for round_ in range(2):
            path = os.path.join(self.tmp, "receipts%d.txt" % round_)
            got = self.run_and_kill(n, path, seed=round_ + 1)
            trades = [r for r in got if r[2] == "accepted"]
            self.assertGreater(len(trades), 100, "few receipts before the kill")
            all_receipts += got
            n.start()
            self.check(n, all_receipts)
        # the node still works, and says the same after a clean restart
        buyer, seller = n.funded_pair()
        self.assertReceipt(n.trade(buyer, seller))
        tip = n.call("getinfo")["tip_hash"]
        self.assertEqual(n.stop(), 0)
        n.start()
        self.assertEqual(n.call("getinfo")["tip_hash"], tip)
        self.check_verify_keeps_serving(n)

    def check_verify_keeps_serving(self, n):
        """verifychain runs on a thread of the node: RPC keeps answering meanwhile, and a second
        verifychain while one runs is refused with -32004 rather than queued. The test hook
        slows the verification to 50 ms a block (without it a short chain verifies in a few
        milliseconds, too fast to be seen running)."""
        fw.testhook(self, n, {"action": "slow_jobs"})
        done = {}

        def verify():
            # The loop below may win the race and start the first verification; this thread
            # then retries until a verification of its own has run to the end.
            while True:
                try:
                    done["result"] = n.call("verifychain")
                    break
                except fw.RPCError as e:
                    if e.code != fw.UNAVAILABLE:
                        raise
                    time.sleep(0.01)
            done["at"] = time.monotonic()

        t = threading.Thread(target=verify)
        t.start()
        answered, busy = [], 0
        while t.is_alive():
            n.call("getinfo")
            answered.append(time.monotonic())
            try:
                r = n.call("verifychain")
                self.assertIs(r["ok"], True, r)
            except fw.RPCError as e:
                self.assertEqual(e.code, fw.UNAVAILABLE, e)
                busy += 1
        t.join()
        self.assertIs(done["result"]["ok"], True, done["result"])
        # answers that came back well before the verification's own answer
        early = [a for a in answered if a < done["at"] - 0.05]
        self.assertGreater(len(early), 0, "no RPC answered while verifychain ran")
        self.assertGreater(busy, 0, "a second verifychain was not refused while one ran")


if __name__ == "__main__":
    unittest.main()
