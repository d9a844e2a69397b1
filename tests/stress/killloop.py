#!/usr/bin/env python3
"""Crash safety at scale (doc/hacking.md, "Stress"): ROUNDS rounds of load on an operator
followed by one regulator, a kill -9 of the operator at a random moment, and a restart. After
every round, every receipt sbx-bench got in that round is on the operator at its height with its
verdict, verifychain of the blocks since the round began is ok, and the regulator holds the
restarted operator's tip. At the end every receipt of every round is checked again on both nodes,
and both verify the whole chain. Not part of `make check` (it runs for many minutes).

    SBX_BUILDDIR=build tests/stress/killloop.py [--rounds 100] [--seed N] [--max-delay 3.0]

Exit status 0 when every round held, 1 at the first round that did not (its receipts and the
nodes' logs are kept under --keep's directory)."""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

import framework as fw  # noqa: E402
from test_crash import Bench, check_receipts, read_receipts  # noqa: E402


class Case:
    """What framework.Network needs of a test case: a directory and a node factory."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.nodes = []

    def node(self, name="node", start=True, **kw):
        n = fw.Node(self.tmp, name=name, **kw)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def close(self):
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.stop()
            n.kill()


def one_round(net, rnd, path, rng, max_delay):
    """Load, kill -9 at a random moment, restart, check. Returns (receipts, delay, phase). The
    round's verifychain covers the blocks from the one before the round began to the tip (the
    whole chain is verified once at the end: re-verifying it every round would make the rounds
    ever slower)."""
    op, reg = net.operator, net.regulators[0]
    start = op.call("getinfo")["height"]
    bench = Bench(op, path, trades=50000, seed=rnd + 1)
    delay = rng.uniform(0.0, max_delay)
    time.sleep(delay)
    phase = "trades" if bench.started.is_set() else "setup"
    op.kill()
    rc = bench.wait()
    if rc not in (0, 1):
        raise AssertionError("sbx-bench exit %d:\n%s" % (rc, "".join(bench.lines)))
    got = read_receipts(path) if os.path.exists(path) else []
    op.start()
    check_receipts(op, got)
    v = op.call("verifychain", {"from": max(0, start - 1)})
    if v.get("ok") is not True:
        raise AssertionError("verifychain after round %d: %r" % (rnd, v))
    net.wait_synced([reg])
    return got, delay, phase


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--max-delay", type=float, default=3.0,
                    help="the kill comes after a delay drawn from [0, MAX] s (default 3)")
    ap.add_argument("--keep", default=None, help="keep the nodes' directory here")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = a.keep or tempfile.mkdtemp(prefix="sbx-killloop-")
    os.makedirs(tmp, exist_ok=True)
    case = Case(tmp)
    every, started = [], time.time()
    print("killloop: seed %d, %d rounds, nodes in %s" % (a.seed, a.rounds, tmp), flush=True)
    try:
        net = fw.Network(case, regulators=1)
        for rnd in range(a.rounds):
            path = os.path.join(tmp, "receipts%d.txt" % rnd)
            got, delay, phase = one_round(net, rnd, path, rng, a.max_delay)
            every += got
            print("round %3d: killed after %.2f s (%s), %d receipts, height %d, verifychain ok, "
                  "regulator followed" % (rnd + 1, delay, phase, len(got),
                                          net.operator.call("getinfo")["height"]), flush=True)
        check_receipts(net.operator, every)
        check_receipts(net.regulators[0], every)
        for n in (net.operator, net.regulators[0]):
            v = n.call("verifychain")
            if v.get("ok") is not True:
                raise AssertionError("verifychain of the whole chain on %s: %r" % (n.name, v))
    except AssertionError as e:
        print("killloop: FAILED: %s\nnodes kept in %s" % (e, tmp), flush=True)
        for n in case.nodes:
            print(n.tail())
        case.close()
        return 1
    case.close()
    print("killloop: %d rounds, %d receipts, 0 lost (every receipt on the operator and the "
          "regulator at its height), %.0f s" % (a.rounds, len(every), time.time() - started))
    if a.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
