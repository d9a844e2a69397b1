"""GET /health without credentials: 200 {"status": "ok"} on every node of a healthy network;
503 {"status": "failed"} with its reasons on a regulator node that refused a block (the
`wrong_verdict` test hook), still after that node restarts."""
import json
import unittest

import framework as fw
from framework import REJECTED, in_time

T = fw.SYNC_TIMEOUT


def health(node):
    status, body = node.http(b"", auth=False, method="GET", path="/health")
    return status, json.loads(body)


def metrics(node):
    status, body = node.http(b"", method="GET", path="/metrics")
    assert status == 200, body
    return dict(line.rsplit(" ", 1) for line in body.decode().splitlines()
                if line and not line.startswith("#"))


class HealthTest(fw.NodeTestCase):

    def check_metrics(self, net):
        """Every node counts the same blocks the same way; the operator measures attestations."""
        op = net.operator
        net.wait_synced()
        height = net.last_substantive()
        net.wait_attested(height)
        ledger = ("sbx_transactions_total", "sbx_rejections_total", "sbx_alerts_total")

        def same():
            height = net.wait_synced()
            counts = []
            for node in [op] + net.regulators:
                m = metrics(node)
                if int(m["sbx_height"]) != height:
                    return None
                counts.append({k: v for k, v in m.items() if k.startswith(ledger)})
            return counts if all(c == counts[0] for c in counts) else None
        counts = in_time(same, T, "the same ledger counters on every node")
        self.assertEqual(counts[0]['sbx_transactions_total{type="trade",verdict="accepted"}'], "1")
        m = metrics(op)
        self.assertEqual(m['sbx_peers{role="regulator"}'], "2")
        self.assertGreaterEqual(int(m["sbx_attestation_latency_seconds_count"]), 1)
        for key in net.reg_keys:
            self.assertGreaterEqual(int(m['sbx_regulator_attested_height{regulator="%s"}' % key]),
                                    height)
        self.assertEqual(metrics(net.regulators[0])['sbx_peers{role="operator"}'], "1")

    def test_healthy_network_then_refused_block(self):
        net = fw.Network(self, regulators=2)
        op = net.operator
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()
        for node in [op] + net.regulators:
            got = in_time(lambda: (lambda r: r if r[0] == 200 else None)(health(node)), T,
                          "%s healthy" % node.name)
            self.assertEqual(got[1], {"status": "ok", "reasons": []}, node.name)
        # only GET
        self.assertEqual(op.http(b"", auth=False, method="POST", path="/health")[0], 405)
        self.check_metrics(net)

        fw.testhook(self, op, {"action": "wrong_verdict"})
        try:
            op.trade(buyer, seller)
        except fw.RPCError as e:
            self.assertEqual(e.code, REJECTED, e)
        reg = net.regulators[0]

        def failed():
            status, body = health(reg)
            return (status, body) if status == 503 else None
        status, body = in_time(failed, T, "reg1 failing its health check")
        self.assertEqual(body["status"], "failed", body)
        words = {r.split(":")[0] for r in body["reasons"]}
        self.assertIn("not_following", words, body)
        self.assertIn("critical_alert", words, body)
        # the refused block stays refused across a restart: still 503
        self.assertEqual(reg.stop(), 0)
        reg.start()
        status, body = health(reg)
        self.assertEqual(status, 503, body)
        self.assertEqual(body["status"], "failed", body)
        self.assertIn("critical_alert", {r.split(":")[0] for r in body["reasons"]}, body)
        in_time(lambda: "not_following" in {r.split(":")[0] for r in health(reg)[1]["reasons"]},
                T, "reg1 refusing the block again after its restart")
        self.assertEqual(health(reg)[0], 503)


if __name__ == "__main__":
    unittest.main()
