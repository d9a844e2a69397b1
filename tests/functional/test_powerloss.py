"""Power loss (doc/hacking.md, "Power-loss test"): the node runs with tests/shim/powercut.so
preloaded, which journals how to undo every change it makes under its datadir and kills it at
a chosen event (a write, sync, create, rename, unlink or mkdir there). `restore()` then throws
away whatever a power cut at that moment could have lost, under the POSIX model: a file's
bytes survive only up to its last fsync/fdatasync; a directory entry (a create, rename,
unlink, mkdir) only if the directory was fsynced after it. The node starts again on what
remains: every receipt a client got before the cut is at its height, verifychain is ok, and
the node serves. kill -9 (test_crash.py) cannot show a missing sync: the page cache survives.

POWERLOSS_ROUNDS (default 24) sets how many cuts the long test makes, POWERLOSS_SEED the seed
of the crash points (printed, so that a failure can be run again)."""

import os
import random
import shutil
import time
import unittest

import framework as fw
import test_crash
import test_rpctls

ROUNDS = int(os.environ.get("POWERLOSS_ROUNDS", "24"))
SEED = int(os.environ.get("POWERLOSS_SEED", str(int(time.time()))))
BENCH_TRADES = 2000


def shim_path():
    path = os.path.join(fw.BUILDDIR, "tests", "shim", "powercut.so")
    if not os.path.exists(path):
        # a failure, not a skip: `make` builds it
        raise AssertionError("%s not found (run make in the build directory)" % path)
    return path


def asan_options_for_shim():
    """ASAN_OPTIONS for sbxd under the shim on an ASan build: the shim comes before the ASan
    runtime (verify_asan_link_order=0), and without log_path, with which the shim never starts
    recording there (reports then go to the node's stderr, and a report still ends the node)."""
    opts = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":")
            if o and not o.startswith("log_path=")]
    return ":".join(opts + ["verify_asan_link_order=0"])


def read_journal(path):
    """The journal's records as (index, kind, fields) in the order they were made."""
    out = []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the cut came in the middle of a record: the call never ran
            seq, kind, *rest = line.rstrip("\n").split(" ")
            out.append((int(seq), kind, rest))
    return out


def inode_paths(*dirs):
    """dev:ino -> a path of each regular file under `dirs`."""
    out = {}
    for top in dirs:
        for base, _, files in os.walk(top):
            for name in files:
                p = os.path.join(base, name)
                st = os.lstat(p)
                out.setdefault("%d:%d" % (st.st_dev, st.st_ino), p)
    return out


def undo_data(recs, root, side):
    """Bring every file back to its content at its last sync: the bytes saved before each
    overwrite (D), then the size it had (T), newest first. Returns how many records it undid."""
    synced = {}
    for i, (_, kind, f) in enumerate(recs):
        if kind == "S":
            synced[f[0]] = i
    paths = inode_paths(root, side)
    undone = 0
    for i in range(len(recs) - 1, -1, -1):
        _, kind, f = recs[i]
        if kind not in ("T", "D") or synced.get(f[0], -1) > i or f[0] not in paths:
            continue
        with open(paths[f[0]], "r+b") as fh:
            if kind == "T":
                fh.truncate(int(f[1]))
            else:
                fh.seek(int(f[1]))
                fh.write(bytes.fromhex(f[2]))
        undone += 1
    return undone


def undo_names(recs, side):
    """Undo, newest first, every create, rename, unlink, mkdir and rmdir that no fsync of its
    directory followed. Returns how many it undid."""
    dir_synced = {}
    for i, (_, kind, f) in enumerate(recs):
        if kind == "Y":
            dir_synced[f[0]] = i
    undone = 0
    moved = []  # durable renames of directories after the record at hand, newest first

    def now(p):
        """Where path `p` of an older record is now: a directory it was under may have been
        renamed since, durably (the ledger store is made as ledger.new, then renamed)."""
        for old, new in reversed(moved):
            if p.startswith(old + "/"):
                p = new + p[len(old):]
        return p
    for i in range(len(recs) - 1, -1, -1):
        _, kind, f = recs[i]
        if kind not in ("C", "R", "U", "M", "X"):
            continue
        path = f[1] if kind == "C" else f[0]
        dirs = {os.path.dirname(path)}
        if kind == "R":
            dirs.add(os.path.dirname(f[1]))
        if all(dir_synced.get(d, -1) > i for d in dirs):
            if kind == "R" and os.path.isdir(now(f[1])):
                moved.append((f[0], f[1]))
            continue
        f = [now(x) if x.startswith("/") else x for x in f]
        path = now(path)
        undone += 1
        if kind == "C" and os.path.lexists(path):
            os.unlink(path)
        elif kind == "M":
            shutil.rmtree(path, ignore_errors=True)
        elif kind == "X":
            os.makedirs(path, exist_ok=True)
        elif kind == "U" and f[1] != "-":
            os.link(os.path.join(side, f[1]), path)
        elif kind == "R":
            if os.path.lexists(f[1]):
                os.rename(f[1], f[0])
            if f[2] != "-":
                os.link(os.path.join(side, f[2]), f[1])
    return undone


def restore(journal, root, side):
    """Leave under `root` what a power cut at the end of `journal` would have left. Returns
    (records, data records undone, directory entries undone)."""
    recs = read_journal(journal)
    data = undo_data(recs, root, side)
    names = undo_names(recs, side)
    return len(recs), data, names


class PowerLossTest(fw.NodeTestCase):

    check = test_crash.CrashTest.check

    def setUp(self):
        super().setUp()
        self.shim = shim_path()
        self.journal = os.path.join(self.tmp, "powercut.journal")
        self.side = os.path.join(self.tmp, "powercut.side")

    def node_for_cuts(self, name="node"):
        n = self.node(name, start=False)
        # the datadir exists before sbxd runs, as one an operator made would
        os.makedirs(n.datadir)
        return n

    def start_shimmed(self, n, at, attempts=3):
        """Start `n` with the shim, cutting at event `at` (0: never), on ports chosen now (as
        Network.first_start does: a port found free can be taken by sbx-bench's connections
        before sbxd binds it). Returns True once it answers, False if the cut came first. The
        journal of a start that failed is kept: what it did not sync is lost in the cut too."""
        shutil.rmtree(self.side, ignore_errors=True)
        os.makedirs(self.side)
        if os.path.exists(self.journal):
            os.unlink(self.journal)
        for attempt in range(attempts):
            n.rpcport, n.p2pport = fw.free_port(), fw.free_port()
            log_size = os.path.getsize(n.log_path) if os.path.exists(n.log_path) else 0
            if self.start_shimmed_once(n, at):
                return True
            if n.proc.returncode == -9:
                return False
            with open(n.log_path, errors="replace") as f:
                f.seek(log_size)
                if "Address already in use" not in f.read() or attempt == attempts - 1:
                    self.fail("sbxd died, not by the cut:\n" + n.tail())
        return False

    def start_shimmed_once(self, n, at):
        n.env = dict(os.environ, LD_PRELOAD=self.shim, POWERCUT_ROOT=n.datadir,
                     POWERCUT_JOURNAL=self.journal, POWERCUT_SIDE=self.side,
                     POWERCUT_AT=str(at),
                     ASAN_OPTIONS=asan_options_for_shim())
        n.start(wait=False)
        n.env = None
        try:
            fw.in_time(lambda: n.proc.poll() is not None or os.path.exists(n.cookie_path()),
                       fw.START_TIMEOUT, "sbxd under the shim answering or cut")
            if n.proc.poll() is None:
                n.wait_ready()
        except AssertionError:
            if n.proc.poll() is None:
                raise
        if n.proc.poll() is not None:
            n.stderr.close()
            return False
        return True

    def events(self):
        """The number of the last event in the journal."""
        recs = read_journal(self.journal)
        return recs[-1][0] if recs else 0

    def power_cut(self, n):
        """Throw away what the cut lost; returns a line for the test's output."""
        recs, data, names = restore(self.journal, n.datadir, self.side)
        return "%d records, %d data undone, %d names undone" % (recs, data, names)

    def load_until_cut(self, n, receipts, seed):
        """sbx-bench against `n` until the cut kills it (or, if the cut is beyond the events
        this load makes, until it ends: then the node is stopped cleanly and the cut is the
        power going after the stop). Returns the receipts sbx-bench got and where the cut came
        ("load" or "stop")."""
        bench = test_crash.Bench(n, receipts, trades=BENCH_TRADES, seed=seed)
        bench.wait()
        where = "load"
        if n.proc.poll() is None:
            where = "stop"
            self.assertIn(n.stop(), (0, -9), "sbxd died, not by the cut:\n" + n.tail())
        else:
            n.stderr.close()
            self.assertEqual(n.proc.returncode, -9, "sbxd died, not by the cut:\n" + n.tail())
        got = test_crash.read_receipts(receipts) if os.path.exists(receipts) else []
        return got, where

    def test_cuts_under_load(self):
        """ROUNDS cuts on one datadir, at events spread over a start, the load of sbx-bench
        (blocks being committed) and the stop, each followed by a restart on what remains.
        A start's events grow with the chain (LevelDB turns its log into a table at each open),
        so each round cuts relative to the last start that came through."""
        rng = random.Random(SEED)
        print("\npowerloss: seed %d, %d rounds" % (SEED, ROUNDS), flush=True)
        n = self.node_for_cuts()
        all_receipts = []
        # round 0 measures: no cut until after a clean stop
        self.assertTrue(self.start_shimmed(n, 0))
        started = self.events()
        all_receipts += self.load_until_cut(n, os.path.join(self.tmp, "r0.txt"), seed=1)[0]
        load = self.events() - started
        self.assertGreater(load, 100, "the load made few events")
        for round_ in range(ROUNDS + 1):
            if round_ > 0:
                if round_ % 4 == 1:
                    at = rng.randint(1, started)
                else:
                    at = started + rng.randint(1, load)
                path = os.path.join(self.tmp, "r%d.txt" % round_)
                got, where = [], "start"
                if self.start_shimmed(n, at):
                    started = self.events()
                    got, where = self.load_until_cut(n, path, seed=round_ + 1)
                all_receipts += got
                print("powerloss: round %d cut at event %d (in the %s), %d receipts: %s" % (
                    round_, at, where, len(got), self.power_cut(n)), flush=True)
            else:
                print("powerloss: round 0 (after a clean stop): %s" % self.power_cut(n),
                      flush=True)
            fw.Network.first_start(n)
            if all_receipts:
                self.check(n, all_receipts)
            self.assertIs(n.call("verifychain")["ok"], True)
            self.assertEqual(n.stop(), 0)
        self.assertGreater(len(all_receipts), 1000)
        fw.Network.first_start(n)
        # it still decides: a long run uses up the devnet's daily exchange limit, so the answer
        # may be a recorded rejection
        buyer, seller = n.funded_pair()
        try:
            r = n.trade(buyer, seller)
        except fw.RPCError as e:
            self.assertEqual(e.code, fw.REJECTED, e)
            r = e.data
        self.assertEqual(n.call("gettx", {"txid": r["txid"]})["height"], r["height"])

    def test_cuts_in_first_start(self):
        """Cuts while a devnet node makes its datadir (keys, genesis, store): after the restore
        it starts (on the chain it made, or afresh) and serves."""
        probe = self.node_for_cuts("probe")
        self.assertTrue(self.start_shimmed(probe, 0))
        events = self.events()
        self.assertEqual(probe.stop(), 0)
        points = sorted(set([1, 2, 3, events // 2, events - 1, events] +
                            random.Random(SEED).sample(range(1, events + 1), min(6, events))))
        print("\npowerloss: first start makes %d events; cuts at %s" % (events, points),
              flush=True)
        for at in points:
            n = self.node_for_cuts("first%d" % at)
            if self.start_shimmed(n, at):
                self.assertIn(n.stop(), (0, -9), "sbxd died, not by the cut:\n" + n.tail())
            self.power_cut(n)
            fw.Network.first_start(n)
            buyer, seller = n.funded_pair()
            self.assertReceipt(n.trade(buyer, seller))
            self.assertIs(n.call("verifychain")["ok"], True)
            self.assertEqual(n.stop(), 0)

    def test_rpc_certificate_survives(self):
        """The RPC TLS certificate that clients pin (sbx-cli -rpcfingerprint) is still the same
        after a power cut, once the node has served with it."""
        n = self.node_for_cuts("tls")
        n.extra_args.append("-rpctls=1")
        n.ssl_context = test_rpctls.unverified()
        self.assertTrue(self.start_shimmed(n, 0))
        crt = os.path.join(n.datadir, "rpc.crt")
        fp = test_rpctls.cert_fingerprint(crt)
        self.assertEqual(n.stop(), 0)
        self.power_cut(n)
        fw.Network.first_start(n)
        self.assertEqual(test_rpctls.cert_fingerprint(crt), fp)


if __name__ == "__main__":
    unittest.main()
