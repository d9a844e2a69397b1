"""Full disks and failing writes (doc/operations.md, "When the disk fills or fails"): when a
block cannot be written the node refuses submissions with -32004, keeps serving reads, raises
the critical node alert `storage_failed` and /health says `failed` with the reason `store`;
no receipt a client got is lost, none is given for a block that was not written, and after a
restart (with space back) the chain verifies and the node takes submissions again.

Two ways to make the writes fail, both against real sbxd processes and real LevelDB:
- a size-limited tmpfs as the datadir, filled by a ballast file while sbx-bench runs (needs
  root to mount: skipped otherwise, a failure under CI=true for any other reason);
- tests/shim/failio.so (LD_PRELOAD) failing the Nth write/fsync/fdatasync of the datadir with
  EIO or ENOSPC, for twenty values of N spread over the start-up and steady state."""

import contextlib
import errno
import json
import os
import subprocess
import tempfile
import threading
import unittest

import framework as fw
import test_crash  # Bench, read_receipts, the receipts check (as a module: its tests run once)

SHIM = os.path.join(fw.BUILDDIR, "tests", "shim", "failio.so")


@contextlib.contextmanager
def failio(node, after, err="ENOSPC", count=None):
    """Processes started inside run under tests/shim/failio.so, failing the writes and syncs
    of `node`'s datadir from the one after the first `after` on (`count` of them, else all);
    its log is DATADIR.failio."""
    env = {"LD_PRELOAD": SHIM, "SBX_FAILIO_AFTER": str(after), "SBX_FAILIO_ERRNO": err,
           "SBX_FAILIO_COUNT": "" if count is None else str(count),
           "SBX_FAILIO_PATH": node.datadir + "/", "SBX_FAILIO_LOG": node.datadir + ".failio",
           # an AddressSanitizer build of sbxd: the shim comes before its runtime, which is fine
           "ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                  "verify_asan_link_order=0"]))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


def calls_counted(node):
    """The calls the shim counted in `node`'s last run (it logs them at exit)."""
    with open(node.datadir + ".failio") as f:
        return [int(line.split()[1]) for line in f if line.startswith("calls ")][-1]


def start(node):
    """node.start() on new ports when one was taken meanwhile (Network.first_start): the
    test's own HTTP connections take ephemeral ports from the range free_port() picks from."""
    return fw.Network.first_start(node)


def health(node):
    status, body = node.http(b"", auth=False, method="GET", path="/health")
    return status, json.loads(body)


def error_codes(bench):
    """The JSON-RPC error codes sbx-bench counted: those of every phase's "(codes: C N, ...)"."""
    codes = set()
    for line in bench.lines:
        if "(codes:" in line:
            part = line.split("(codes:", 1)[1].split(")", 1)[0]
            for item in part.split(","):
                if item.strip():
                    codes.add(int(item.split()[0]))
    return codes


class Reader:
    """A client that reads while the disk fills: getinfo, the tip's block and /health, one
    after the other on fresh connections, until stopped; keeps what went wrong."""

    def __init__(self, node):
        self.node, self.rounds, self.problems = node, 0, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = self.node
        while not self.done.is_set():
            try:
                info = n.request({"jsonrpc": "2.0", "id": 1, "method": "getinfo"})["result"]
                block = n.request({"jsonrpc": "2.0", "id": 2, "method": "getblock",
                                   "params": {"height": info["height"]}})
                if "result" not in block:
                    self.problems.append(block)
                status, _ = n.http(b"", auth=False, method="GET", path="/health")
                if status not in (200, 503):
                    self.problems.append("GET /health: HTTP %d" % status)
                self.rounds += 1
            except Exception as e:  # everything counts: the reads must go on
                self.problems.append(repr(e))
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.thread.join(60)
        return self.rounds, self.problems


class StorageTestCase(fw.NodeTestCase):
    """What every case checks: reads during the outage, receipts after the restart."""

    def check_outage(self, n, account, receipts):
        """The node failed a write: -32004 for submissions, reads and /health and /metrics
        answer, the critical node alert is listed. `account`: one to read (None: the house
        account)."""
        account = account or fw.HOUSE
        self.assertRPCError(fw.UNAVAILABLE, n.open_account)
        self.assertRPCError(fw.UNAVAILABLE, n.deposit, account, "VND", "1000")
        info = n.call("getinfo")
        self.assertGreaterEqual(info["critical_alerts"], 1, info)
        n.call("getblock", {"height": info["height"]})
        n.call("getaccount", {"account": account})
        for txid, height, _ in receipts[-3:]:
            self.assertEqual(n.call("gettx", {"txid": txid})["height"], height)
        status, h = health(n)
        self.assertEqual((status, h["status"]), (503, "failed"), h)
        self.assertTrue(any(r.startswith("store:") for r in h["reasons"]), h)
        kinds = [(a["kind"], a["severity"]) for a in n.call("listnodealerts")["items"]]
        self.assertIn(("storage_failed", "critical"), kinds)
        status, body = n.http(b"", method="GET", path="/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b'sbx_node_alerts_total{kind="storage_failed",severity="critical"} 1', body)

    def start_or_exit(self, n, after=None, err="ENOSPC", count=None):
        """Start `n` (under the shim failing after `after` calls unless None); True when it
        serves, False when it exited (a write of its start failed) with a non-zero status. On
        new ports when one was taken meanwhile."""
        def up():
            if n.proc.poll() is not None:
                return "exited"
            if os.path.exists(n.cookie_path()):
                try:
                    n.call("getinfo")
                    return "serving"
                except (OSError, fw.HTTPError, fw.RPCError):
                    return None
            return None
        for _ in range(3):
            n.rpcport, n.p2pport = fw.free_port(), fw.free_port()
            seen = os.path.getsize(n.log_path) if os.path.exists(n.log_path) else 0
            with failio(n, after, err, count) if after is not None else contextlib.nullcontext():
                n.start(wait=False)
            if fw.in_time(up, fw.START_TIMEOUT, "sbxd serving or exited") == "serving":
                return True
            n.stderr.close()
            self.assertNotEqual(n.proc.returncode, 0, n.tail())
            with open(n.log_path, errors="replace") as f:
                f.seek(seen)
                if "Address already in use" not in f.read():
                    return False
        raise AssertionError("no free ports for %s in three tries" % n.name)

    def work(self, n, receipts, refused):
        """Open accounts and deposit into them until the node refuses; keeps every receipt
        and the (method, params) of the refusal, which must be -32004. Returns an account."""
        account = None
        for i in range(24):
            if account is None or i % 3 == 0:
                a = fw.uid("acct")
                call = ("openaccount", {
                    "account": a, "kyc_tier": 1, "investor_class": "domestic_individual",
                    "country": "VN", "kyc_ref": fw.hex32(a + "k"), "bank_ref": fw.hex32(a + "b")})
            else:
                tid = fw.uid("dep")
                call = ("deposit", {"transfer_id": tid, "account": account, "asset": "VND",
                                    "amount": "1000", "reference": "r-" + tid})
            try:
                r = n.call(*call)
            except fw.RPCError as e:
                self.assertEqual(e.code, fw.UNAVAILABLE, e)
                refused.append(call)
                return account
            if call[0] == "openaccount":
                account = call[1]["account"]
            receipts.append((r["txid"], r["height"], "accepted"))
        return account

    # every receipt a client got is on the ledger at its height, with its outcome; the chain
    # verifies (the crash test's check)
    check_ledger = test_crash.CrashTest.check


class DiskFullTest(StorageTestCase):

    def mount_tmpfs(self, size):
        mnt = tempfile.mkdtemp(prefix="sbx-diskfull-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                            mnt], capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(mnt)
            reason = "not root" if os.geteuid() != 0 else (
                "mount -t tmpfs failed: " + (r.stderr.strip() or "exit %d" % r.returncode))
            if os.environ.get("CI") == "true" and reason != "not root":
                self.fail(reason)
            self.skipTest(reason)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], check=True)
        return mnt

    @staticmethod
    def fill(path):
        """Write `path` until the filesystem is full; returns the bytes written."""
        total = 0
        chunk = b"\0" * (256 * 1024)
        with open(path, "wb", buffering=0) as f:
            while True:
                try:
                    total += f.write(chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        return total
                    chunk = chunk[:len(chunk) // 2]

    def test_disk_fills_under_load(self):
        mnt = self.mount_tmpfs("96m")
        n = self.node(start=False)
        n.datadir = os.path.join(mnt, "node")
        start(n)
        account, _ = n.open_account()
        path = os.path.join(self.tmp, "receipts.txt")
        reader = Reader(n)
        bench = test_crash.Bench(n, path, trades=400000, seed=7)
        self.assertTrue(bench.started.wait(test_crash.BENCH_TIMEOUT), "".join(bench.lines))
        h0 = n.call("getinfo")["height"]
        fw.in_time(lambda: n.call("getinfo")["height"] >= h0 + 20, timeout=120,
                   what="twenty blocks of trades")
        ballast = os.path.join(mnt, "ballast")
        self.fill(ballast)
        fw.in_time(lambda: n.call("getinfo")["critical_alerts"] >= 1, timeout=120,
                   what="the storage_failed alert")
        rc = bench.wait()
        # the trades refused after the failure are errors to sbx-bench: -32004 and nothing
        # else (-32003 answers the repeated ids it sends on purpose), and no connection failed
        self.assertEqual(rc, 1, "".join(bench.lines))
        codes = error_codes(bench)
        self.assertIn(fw.UNAVAILABLE, codes, "".join(bench.lines))
        self.assertLessEqual(codes, {fw.UNAVAILABLE, fw.CONFLICT}, "".join(bench.lines))
        self.assertIn("failed 0", "".join(bench.lines))
        receipts = test_crash.read_receipts(path)
        self.assertGreater(len(receipts), 100, "few receipts before the disk filled")
        self.check_outage(n, account, receipts)
        rounds, problems = reader.stop()
        self.assertEqual(problems, [], "reads failed while the disk filled")
        self.assertGreater(rounds, 0)
        # a restart on the still full disk: the start fails, or the node serves and refuses
        # again (or takes what fits in what the store's recovery freed); nothing is lost
        self.assertEqual(n.stop(), 0)
        if self.start_or_exit(n):
            refused = []
            self.work(n, receipts, refused)
            self.assertEqual(n.stop(), 0)
        # space comes back: the node takes submissions after a restart (doc/operations.md)
        os.unlink(ballast)
        start(n)
        self.check_ledger(n, receipts)
        n.open_account()
        self.assertEqual(health(n), (200, {"status": "ok", "reasons": []}))
        tip = n.call("getinfo")["tip_hash"]
        self.assertEqual(n.stop(), 0)
        start(n)
        self.assertEqual(n.call("getinfo")["tip_hash"], tip)


def need_shim(case):
    if not os.path.exists(SHIM):
        if os.environ.get("CI") == "true":
            case.fail("%s missing (configure --enable-test-hooks builds it)" % SHIM)
        case.skipTest("%s not built (configure --enable-test-hooks)" % SHIM)


class FailingWritesTest(StorageTestCase):
    """sbxd under tests/shim/failio.so: the Nth file write or sync in the datadir fails."""

    def setUp(self):
        super().setUp()
        need_shim(self)

    def one_run(self, k, after, err, count=None):
        """Start under the shim failing after `after` calls (`count` of them, else all), work,
        stop; start without it and check. Returns whether the shim failed a call (in the
        start, the work or the stop)."""
        n = self.node("n%d" % k, start=False)
        receipts, refused = [], []
        if self.start_or_exit(n, after, err, count):
            account = self.work(n, receipts, refused)
            if n.call("getinfo")["critical_alerts"] > 0:
                # also when the writes would go through again: no retry in the process
                self.check_outage(n, account, receipts)
            else:
                self.assertEqual(refused, [])
            # a clean stop, also when the final checkpoint's write fails
            self.assertEqual(n.stop(), 0, n.tail())
        with open(n.datadir + ".failio") as f:
            reached = any(line.startswith("failed ") for line in f)
        start(n)  # without the shim: space is back
        # what the failure refused goes through with the same id (its first receipt if it
        # reached the disk after all), and the node takes new submissions
        for method, params in refused:
            r = n.call(method, params)
            self.assertEqual(r["verdict"], "accepted")
            receipts.append((r["txid"], r["height"], "accepted"))
        _, r = n.open_account()
        receipts.append((r["txid"], r["height"], "accepted"))
        self.check_ledger(n, receipts)
        # in service again, also when the storage_failed alert could be kept in the store
        self.assertEqual(health(n), (200, {"status": "ok", "reasons": []}))
        self.assertEqual(n.stop(), 0, n.tail())
        return reached

    def test_fail_at_many_points(self):
        # how many counted calls a start, the work and a stop make without failures
        n = self.node("calibrate", start=False)
        self.assertTrue(self.start_or_exit(n, 10 ** 9, "EIO"))
        self.work(n, [], [])
        self.assertEqual(n.stop(), 0)
        total = calls_counted(n)
        self.assertGreater(total, 40, "the shim saw too few writes")
        # eight in the first start (keys, the store, block 0), ten over the work, the last two
        # in the stop (the final state checkpoint's write and sync)
        points = ([0, 1, 2, 3, 5, 8, 12, 17] + [20 + (total - 22) * i // 10 for i in range(10)] +
                  [total - 2, total - 1])
        self.assertEqual(len(set(points)), 20, points)
        reached = 0
        for k, after in enumerate(points):
            err = "EIO" if k % 2 else "ENOSPC"
            with self.subTest(after=after, errno=err):
                reached += self.one_run(k, after, err)
        # a run may make a call or two fewer than the calibration did
        self.assertGreaterEqual(reached, 18, "the failure came in %d runs of 20 only (%d calls "
                                "counted)" % (reached, total))
        # one write fails, the next ones would go through (space came back at once): the node
        # still takes no submission until it is restarted
        with self.subTest(after=total // 2, count=1):
            self.assertTrue(self.one_run(20, total // 2, "ENOSPC", count=1))


class FollowerWriteFailureTest(StorageTestCase):
    """A regulator node whose disk fails while it follows: it raises the alert, serves what
    it holds, attests nothing it did not write; restarted, it catches up and verifies."""

    def setUp(self):
        super().setUp()
        need_shim(self)

    def test_regulator_disk_fails(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair()
        net.wait_synced()
        reg.stop()
        # how many calls its restart makes, then fail a few writes after that
        with failio(reg, 10 ** 9):
            start(reg)
        reg.stop()
        start_calls = calls_counted(reg)
        with failio(reg, start_calls + 4, "EIO"):
            start(reg)
        receipts = []
        for _ in range(12):
            r = op.trade(buyer, seller)
            receipts.append((r["txid"], r["height"], "accepted"))
        fw.in_time(lambda: reg.call("getinfo")["critical_alerts"] >= 1, fw.SYNC_TIMEOUT,
                   "the regulator's storage_failed alert")
        kinds = [a["kind"] for a in reg.call("listnodealerts")["items"]]
        self.assertIn("storage_failed", kinds)
        status, h = health(reg)
        self.assertEqual((status, h["status"]), (503, "failed"), h)
        self.assertTrue(any(r.startswith("store:") for r in h["reasons"]), h)
        held = reg.call("getinfo")["height"]
        self.assertLess(held, receipts[-1][1], "the regulator wrote every block")
        reg.call("getblock", {"height": held})
        reg.call("getaccount", {"account": buyer})
        # a directive is refused at once, not relayed to time out: the regulator could not
        # write the block that answers it
        self.assertRPCError(fw.UNAVAILABLE, reg.call, "submitdirective", {
            "kind": "set_param", "name": "price.max_age_s", "value": 600,
            "reason": "functional test", "legal_basis": "test licence 1.2"})
        kinds = [a["kind"] for a in reg.call("listnodealerts")["items"]]
        self.assertNotIn("directive_timeout", kinds)
        # it attests nothing above what it wrote
        sup = op.call("getsupervision")
        self.assertLessEqual(sup["regulators"][0].get("attested_height") or 0, held, sup)
        self.assertEqual(reg.stop(), 0, reg.tail())
        start(reg)
        net.wait_synced()
        self.check_ledger(reg, receipts)
        net.wait_attested(net.last_substantive())


if __name__ == "__main__":
    unittest.main()
