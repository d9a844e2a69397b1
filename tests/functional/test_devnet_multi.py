"""contrib/devnet: an operator node and regulator nodes on loopback, started with `up`, driven
through what DIR/devnet.json says, and stopped with `down`.

The script runs as a user runs it (a separate process, `--bindir` the build directory); the
test talks JSON-RPC to the nodes it started with each node's cookie and port from devnet.json."""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

import framework as fw
from framework import FORBIDDEN, in_time

SCRIPT = os.path.join(fw.SRCDIR, "contrib", "devnet")
# Bounds for conditions that must eventually hold (replication, restarts) on a loaded machine.
SYNC = 120
# `up` waits for three node starts, the links and the catch-up, each bounded by its --timeout.
SCRIPT_TIMEOUT = 600


def devnet(*args):
    """Run contrib/devnet with `args`; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, SCRIPT] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)


def running(pid):
    """True while `pid` is a process that has not exited (a zombie has exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def is_sbxd(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"sbxd" in f.read()
    except OSError:
        return False


class DevnetNode(fw.Node):
    """A node of the devnet as devnet.json describes it. Its datadir is DIR/NAME, as
    fw.Node(DIR, NAME) makes it; started by the test, it gets nothing but -datadir (its
    sbx.conf holds the rest)."""

    def __init__(self, devnet_dir, entry):
        super().__init__(devnet_dir, name=entry["name"], devnet=False)
        self.rpcport = entry["rpc_port"]
        self.p2pport = entry["p2p_port"]
        self.pid = entry.get("pid")
        self.log_path = os.path.join(devnet_dir, entry["name"] + ".restart.log")

    def args(self):
        return [fw.binary("sbxd"), "-datadir=" + self.datadir]


class DevnetMultiTest(fw.NodeTestCase):

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.tmp, "devnet")

    def tearDown(self):
        # Whatever the test left running: `down` first, then SIGKILL for anything still there.
        if os.path.exists(os.path.join(self.dir, "devnet.json")):
            try:
                out = devnet("down", "--dir", self.dir)
                if out.returncode != 0:
                    print("\ncontrib/devnet down in tearDown: %s%s" % (out.stdout, out.stderr))
            except subprocess.TimeoutExpired:
                pass
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else []:
            try:
                with open(os.path.join(self.dir, name, ".lock")) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if running(pid) and is_sbxd(pid):
                os.kill(pid, signal.SIGKILL)
        super().tearDown()

    def load(self):
        with open(os.path.join(self.dir, "devnet.json")) as f:
            return json.load(f)

    def synced(self, operator, nodes, height):
        """True once every node in `nodes` holds the operator's block at `height`; a different
        block there fails at once."""
        want = operator.call("getblock", {"height": height})["hash"]
        for n in nodes:
            if n.call("getinfo")["height"] < height:
                return False
            self.assertEqual(n.call("getblock", {"height": height})["hash"], want,
                             "%s: another block at height %d" % (n.name, height))
        return True

    def regulator_peers(self, operator):
        return {p["key"] for p in operator.call("getpeerinfo")["peers"]
                if p.get("role") == "regulator"}

    def test_up_replicate_restart_down(self):
        out = devnet("up", "--regulators", "2", "--dir", self.dir, "--bindir", fw.BUILDDIR)
        self.assertEqual(out.returncode, 0, "up failed:\n%s\n%s" % (out.stdout, out.stderr))

        # devnet.json: one entry per node, everything a script needs to reach it
        doc = self.load()
        entries = doc["nodes"]
        self.assertEqual([e["name"] for e in entries], ["operator", "regulator1", "regulator2"])
        self.assertEqual([e["role"] for e in entries], ["operator", "regulator", "regulator"])
        ports = []
        for e in entries:
            for field in ("rpc_port", "p2p_port"):
                self.assertIsInstance(e[field], int, e)
                self.assertTrue(0 < e[field] < 65536, e)
                ports.append(e[field])
            self.assertEqual(e["datadir"], os.path.join(self.dir, e["name"]))
            self.assertTrue(os.path.isfile(os.path.join(e["datadir"], "sbx.conf")), e)
            self.assertEqual(e["cookie"], os.path.join(e["datadir"], ".cookie"))
            self.assertTrue(os.path.isfile(e["cookie"]), e)
            self.assertTrue(running(e["pid"]) and is_sbxd(e["pid"]), e)
            # `up` says how to reach each node
            self.assertIn("-datadir=%s getinfo" % e["datadir"], out.stdout)
        self.assertEqual(len(set(ports)), 6, "every port differs: %r" % ports)
        with open(os.path.join(self.dir, "genesis.hex")) as f:
            self.assertRegex(f.read().strip(), r"^[0-9a-f]+$")

        op, reg1, reg2 = [DevnetNode(self.dir, e) for e in entries]
        self.assertEqual(op.cookie_path(), entries[0]["cookie"])
        self.assertEqual(op.call("getinfo")["role"], "operator")
        for r in (reg1, reg2):
            self.assertEqual(r.call("getinfo")["role"], "regulator")
        # `up` returned once both regulator nodes were linked: the operator's peers are exactly
        # the regulators of its genesis
        sup_keys = {r["key"] for r in op.call("getsupervision")["regulators"]}
        self.assertEqual(len(sup_keys), 2)
        self.assertEqual(self.regulator_peers(op), sup_keys)

        # a second `up` on a running devnet refuses and leaves it alone
        again = devnet("up", "--regulators", "2", "--dir", self.dir, "--bindir", fw.BUILDDIR)
        self.assertNotEqual(again.returncode, 0)
        self.assertEqual(self.load()["nodes"][0]["pid"], entries[0]["pid"])
        self.assertTrue(running(entries[0]["pid"]))
        self.assertEqual(op.call("getinfo")["role"], "operator")

        # business on the operator replicates to both regulator nodes
        buyer, seller = op.funded_pair()
        receipt = self.assertReceipt(op.trade(buyer, seller, trade_id="devnet-t1"))
        in_time(lambda: self.synced(op, [reg1, reg2], receipt["height"]), SYNC,
                "both regulator nodes at the trade's block")
        for r in (reg1, reg2):
            self.assertEqual(r.call("gettrade", {"trade_id": "devnet-t1"})["txid"],
                             receipt["txid"])
        # ... and is refused on a regulator node
        self.assertRPCError(FORBIDDEN, reg1.open_account)

        # regulator2 stops; the network goes on without it
        os.kill(entries[2]["pid"], signal.SIGTERM)
        in_time(lambda: not running(entries[2]["pid"]), SYNC, "regulator2 stopped")
        self.assertFalse(os.path.exists(entries[2]["cookie"]), "a clean stop removes the cookie")
        receipt2 = self.assertReceipt(op.trade(buyer, seller, trade_id="devnet-t2"))
        self.assertGreater(receipt2["height"], receipt["height"])
        in_time(lambda: self.synced(op, [reg1], receipt2["height"]), SYNC,
                "regulator1 at the second trade's block")
        # ... and comes back with nothing but its datadir, and catches up
        self.nodes.append(reg2)
        reg2.start()
        self.assertEqual(reg2.call("getinfo")["role"], "regulator")
        in_time(lambda: self.synced(op, [reg2], receipt2["height"]), SYNC,
                "restarted regulator2 at the second trade's block")
        self.assertEqual(reg2.call("gettrade", {"trade_id": "devnet-t2"})["txid"],
                         receipt2["txid"])
        in_time(lambda: self.regulator_peers(op) == sup_keys, SYNC,
                "the operator linked to both regulator nodes again")
        height = op.call("getinfo")["height"]

        # down stops all three, the restarted one too, each cleanly
        out = devnet("down", "--dir", self.dir)
        self.assertEqual(out.returncode, 0, "down failed:\n%s\n%s" % (out.stdout, out.stderr))
        self.assertEqual(reg2.proc.wait(fw.STOP_TIMEOUT), 0)
        for e in entries[:2]:
            in_time(lambda: not running(e["pid"]), SYNC, "%s gone" % e["name"])
        for e in entries:
            self.assertFalse(os.path.exists(e["cookie"]), "%s: cookie left" % e["name"])
        # nothing left to stop: down says so and succeeds
        self.assertEqual(devnet("down", "--dir", self.dir).returncode, 0)

        # up on the stopped devnet starts the same nodes again, ledgers kept
        out = devnet("up", "--dir", self.dir, "--bindir", fw.BUILDDIR)
        self.assertEqual(out.returncode, 0, "second up failed:\n%s\n%s" % (out.stdout,
                                                                          out.stderr))
        self.assertEqual([(e["name"], e["rpc_port"]) for e in self.load()["nodes"]],
                         [(e["name"], e["rpc_port"]) for e in entries])
        self.assertGreaterEqual(op.call("getinfo")["height"], height)
        self.assertEqual(reg1.call("gettrade", {"trade_id": "devnet-t2"})["txid"],
                         receipt2["txid"])
        pids = [e["pid"] for e in self.load()["nodes"]]
        out = devnet("down", "--dir", self.dir)
        self.assertEqual(out.returncode, 0, "second down failed:\n%s\n%s" % (out.stdout,
                                                                            out.stderr))
        for pid in pids:
            in_time(lambda: not running(pid), SYNC, "pid %d gone" % pid)

    def test_failures(self):
        # no sbxd where --bindir points: an error, nothing started, no devnet.json
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        out = devnet("up", "--regulators", "1", "--dir", self.dir, "--bindir", empty)
        self.assertNotEqual(out.returncode, 0)
        self.assertTrue(out.stderr.strip())
        self.assertFalse(os.path.exists(os.path.join(self.dir, "devnet.json")))
        # a new devnet needs --regulators
        out = devnet("up", "--dir", self.dir, "--bindir", fw.BUILDDIR)
        self.assertNotEqual(out.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "devnet.json")))
        # down with nothing there succeeds
        self.assertEqual(devnet("down", "--dir", self.dir).returncode, 0)
        # --help helps
        out = devnet("--help")
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, re.compile(r"\bup\b.*\bdown\b", re.S))


if __name__ == "__main__":
    unittest.main()
