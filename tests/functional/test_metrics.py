"""GET /metrics: the Prometheus text format (checked by promtool), authenticated like JSON-RPC,
counters that equal what was submitted and survive a restart (a clean stop and a crash), and a
real Prometheus that scrapes the node with basic auth and answers a query for sbx_height."""
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import framework as fw
from framework import in_time

T = fw.SYNC_TIMEOUT


def need(tool):
    """The path of `tool`; in CI a missing tool fails the test, elsewhere it skips it."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("%s is not installed (contrib/quickstart test installs it)" % tool)
        raise unittest.SkipTest("%s is not installed (apt-get install prometheus)" % tool)
    return path


def parse(text):
    """{'name{labels}': value} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        samples[key] = float(value)
    return samples


class MetricsTest(fw.OneNodeTestCase):
    node_users = {"sup": "supervisor", "prom": "supervisor"}

    def scrape(self, auth=None):
        status, body = self.n.http(b"", auth=auth, method="GET", path="/metrics")
        self.assertEqual(status, 200, body)
        return body.decode()

    def test_auth_and_format(self):
        self.assertEqual(self.n.http(b"", auth=False, method="GET", path="/metrics")[0], 401)
        self.assertEqual(self.n.http(b"", auth=("sup", "wrong"), method="GET",
                                     path="/metrics")[0], 401)
        self.assertEqual(self.n.http(b"", method="POST", path="/metrics")[0], 405)
        text = self.scrape(auth=self.auth["sup"])
        families = set()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                families.add(line.split()[2])
        for name in ("sbx_height", "sbx_final_height", "sbx_transactions_total",
                     "sbx_rejections_total", "sbx_alerts_total", "sbx_node_alerts_total",
                     "sbx_supervision_lag_seconds", "sbx_regulator_attested_height",
                     "sbx_attestation_latency_seconds", "sbx_rpc_requests_total",
                     "sbx_rpc_request_duration_seconds", "sbx_commit_duration_seconds",
                     "sbx_block_transactions", "sbx_peers", "sbx_limit_usage_ratio",
                     "sbx_licence_expiry_seconds", "sbx_build_info"):
            self.assertIn(name, families)
            self.assertIn("# HELP %s " % name, text)
        promtool = need("promtool")
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        s = parse(text)
        self.assertEqual(s["sbx_height"], self.n.call("getinfo")["height"])
        self.assertGreaterEqual(s['sbx_rpc_requests_total{method="getinfo",code="0"}'], 0)
        self.n.call("getinfo")
        s2 = parse(self.scrape())
        self.assertGreater(s2['sbx_rpc_requests_total{method="getinfo",code="0"}'],
                           s.get('sbx_rpc_requests_total{method="getinfo",code="0"}', 0))

    def test_counters_survive_restart(self):
        keys = ('sbx_transactions_total{type="trade",verdict="accepted"}',
                'sbx_transactions_total{type="trade",verdict="rejected"}',
                'sbx_rejections_total{rule="limit.per_trade"}',
                'sbx_rejections_total{rule="account.unknown"}',
                'sbx_alerts_total{kind="aml.large_value"}')
        before = parse(self.scrape())
        buyer, seller = self.n.funded_pair()
        for _ in range(3):
            self.assertReceipt(self.n.trade(buyer, seller))
        self.assertRejected("limit.per_trade", self.n.trade, buyer, seller, quantity="0.05000000")
        self.assertRejected("limit.per_trade", self.n.trade, buyer, seller, quantity="0.05000000")
        self.assertRejected("account.unknown", self.n.trade, fw.uid("ghost"), seller)
        self.n.deposit(buyer, "VND", "400000000")  # at the large-value threshold: one alert
        after = parse(self.scrape())
        self.assertEqual([after[k] - before[k] for k in keys], [3, 3, 2, 1, 1])
        self.assertGreater(after["sbx_commit_duration_seconds_count"], 0)
        self.assertGreater(after["sbx_block_transactions_count"], 0)
        # a clean stop (a checkpoint at the tip), then a crash (replay after the checkpoint)
        self.assertEqual(self.n.stop(), 0)
        self.n.start()
        again = parse(self.scrape())
        self.assertEqual([again[k] for k in keys], [after[k] for k in keys])
        self.assertReceipt(self.n.trade(buyer, seller))
        self.n.kill()
        self.n.start()
        crashed = parse(self.scrape())
        self.assertEqual([crashed[k] - after[k] for k in keys], [1, 0, 0, 0, 0])
        # -reindex counts the whole chain again to the same figures
        self.assertEqual(self.n.stop(), 0)
        self.n.extra_args.append("-reindex")
        self.n.start()
        self.n.extra_args.remove("-reindex")
        self.assertEqual([parse(self.scrape())[k] for k in keys], [crashed[k] for k in keys])

    def test_prometheus_scrapes(self):
        prometheus = need("prometheus")
        user, password = self.auth["prom"]
        d = os.path.join(self.tmp, "prometheus")
        os.makedirs(d)
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            # YAML takes JSON strings: the password is quoted safely whatever it holds
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: sbx\n    metrics_path: /metrics\n"
                    "    basic_auth:\n      username: %s\n      password: %s\n"
                    "    static_configs:\n      - targets: [%s]\n"
                    % (json.dumps(user), json.dumps(password),
                       json.dumps("127.0.0.1:%d" % self.n.rpcport)))
        port = fw.free_port()
        log = open(os.path.join(d, "prometheus.log"), "wb")
        proc = subprocess.Popen([prometheus, "--config.file=" + cfg,
                                 "--storage.tsdb.path=" + os.path.join(d, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.addCleanup(stop)
        buyer, seller = self.n.funded_pair()
        self.assertReceipt(self.n.trade(buyer, seller))
        height = self.n.call("getinfo")["height"]
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            port, urllib.parse.urlencode({"query": "sbx_height"}))

        def answered():
            if proc.poll() is not None:
                raise AssertionError("prometheus exited with %s" % proc.returncode)
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    data = json.load(r)
            except OSError:
                return None
            result = data.get("data", {}).get("result", [])
            return result[0]["value"][1] if result else None
        value = in_time(answered, 120, "prometheus answering sbx_height")
        self.assertEqual(int(value), height)
        # the scrape target is up, with basic auth
        q = "http://127.0.0.1:%d/api/v1/query?%s" % (
            port, urllib.parse.urlencode({"query": 'up{job="sbx"}'}))
        with urllib.request.urlopen(q, timeout=5) as r:
            self.assertEqual(json.load(r)["data"]["result"][0]["value"][1], "1")


if __name__ == "__main__":
    unittest.main()
