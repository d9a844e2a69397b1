"""getreport (doc/rpc.md): daily and monthly reports of what the ledger recorded, as JSON and as
CSV. A report is a pure function of the ledger up to the period's last block: the operator and
a regulator node at the same height answer with the same bytes and the same report_hash."""

import csv
import datetime
import hashlib
import io
import json
import subprocess
import threading
import time
import unittest
from decimal import Decimal, ROUND_FLOOR

import framework as fw
from framework import INVALID_PARAMS, UNAVAILABLE, in_time, uid

LOCAL = datetime.timezone(datetime.timedelta(hours=7))  # time.utc_offset_min = 420 on devnet


def local_day(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%Y-%m-%d")


def directive(kind, **kw):
    d = {"kind": kind, "reason": "report test", "legal_basis": "test licence 1.2"}
    d.update(kw)
    return d


def notional(quantity, price):
    return int((Decimal(quantity) * Decimal(price)).to_integral_value(ROUND_FLOOR))


def csv_tables(text):
    """{section: [row dicts]} from a CSV report: '# name', a header row, rows; blank lines
    between tables."""
    tables, name, header = {}, None, None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            name, header = None, None
        elif name is None:
            if len(row) != 1 or not row[0].startswith("# "):
                raise AssertionError("a table starts with '# name', not %r" % (row,))
            name = row[0][2:]
            tables[name] = []
        elif header is None:
            header = row
        else:
            if len(row) != len(header):
                raise AssertionError("%s: row %r does not fit header %r" % (name, row, header))
            tables[name].append(dict(zip(header, row)))
    return tables


class ReportTest(fw.NodeTestCase):

    def submit(self, n, reg):
        """Known accounts, deposits, trades, directives (signed on the regulator node `reg`)
        and rejected trades; returns what the report of their day must show (per day of the
        blocks they landed in)."""
        want = {}

        def day_of(receipt):
            return local_day(n.call("getblock", {"height": receipt["height"]})["time"])

        def entry(receipt):
            return want.setdefault(day_of(receipt), {"trades": 0, "by_asset": {}, "rules": {},
                                                    "deposits": {}, "directives": []})

        buyer, _ = n.open_account(investor_class="foreign_individual")
        seller, _ = n.open_account(tier=2)
        for acct, asset, amount in [(buyer, "VND", "400000000"), (seller, "BTC", "0.05000000"),
                                    (seller, "ETH", "2.00000000")]:
            d = entry(n.deposit(acct, asset, amount))["deposits"]
            d[asset] = d.get(asset, 0) + 1
        trades = [("BTC", "0.00100000", fw.BTC_REF), ("BTC", "0.00250000", fw.BTC_REF),
                  ("ETH", "0.10000000", fw.ETH_REF), ("BTC", "0.00010000", fw.BTC_REF)]
        for asset, qty, price in trades:
            e = entry(n.trade(buyer, seller, quantity=qty, price=str(price), asset=asset))
            e["trades"] += 1
            cnt, q, v = e["by_asset"].get(asset, (0, Decimal(0), 0))
            e["by_asset"][asset] = (cnt + 1, q + Decimal(qty), v + notional(qty, price))
        entry(reg.call("submitdirective", directive("halt")))["directives"].append("halt")
        e = entry(self.assertRejected("market.halted", n.trade, buyer, seller))
        e["rules"]["market.halted"] = 1
        entry(reg.call("submitdirective", directive("resume")))["directives"].append("resume")
        poor, _ = n.open_account()  # no VND
        for rule, args in [("account.unknown", (uid("ghost"), seller)),
                           ("account.unknown", (buyer, uid("ghost"))),
                           ("balance.insufficient", (poor, seller))]:
            data = self.assertRejected(rule, n.trade, *args)
            e = entry(data)
            e["rules"][rule] = e["rules"].get(rule, 0) + 1
        return want

    def check_json(self, rep, want):
        self.assertEqual(rep["trades"]["count"], want["trades"])
        by_asset = {a["asset"]: a for a in rep["trades"]["by_asset"]}
        for asset, (cnt, q, v) in want["by_asset"].items():
            self.assertEqual(by_asset[asset]["count"], cnt)
            self.assertEqual(Decimal(by_asset[asset]["quantity"]), q)
            self.assertEqual(by_asset[asset]["notional_vnd"], str(v))
        total = sum(v for _, _, v in want["by_asset"].values())
        self.assertEqual(rep["trades"]["notional_vnd"], str(total))
        rules = {r["rule"]: r["count"] for r in rep["rejections"]["by_rule"]}
        for rule, cnt in want["rules"].items():
            self.assertEqual(rules.get(rule), cnt, rule)
        deposits = {d["asset"]: d["count"] for d in rep["deposits"]}
        for asset, cnt in want["deposits"].items():
            self.assertEqual(deposits[asset], cnt)
        self.assertEqual([d["kind"] for d in rep["directives"]], want["directives"])
        self.assertTrue(all(d["type"] == "directive" for d in rep["directives"]))
        self.assertEqual(rep["rejections"]["count"], sum(want["rules"].values()))
        self.assertFalse(rep["complete"])  # the day has not ended
        self.assertIsNotNone(rep["first_height"])

    def check_csv(self, text, rep):
        t = csv_tables(text)
        self.assertEqual(int(t["trades"][0]["count"]), rep["trades"]["count"])
        self.assertEqual(t["trades"][0]["notional_vnd"], rep["trades"]["notional_vnd"])
        self.assertEqual(sum(int(r["notional_vnd"]) for r in t["trades_by_asset"]),
                         int(rep["trades"]["notional_vnd"]))
        for row, a in zip(t["trades_by_asset"], rep["trades"]["by_asset"]):
            self.assertEqual((row["asset"], int(row["count"]), row["quantity"]),
                             (a["asset"], a["count"], a["quantity"]))
        self.assertEqual({r["rule"]: int(r["count"]) for r in t["rejections_by_rule"]},
                         {r["rule"]: r["count"] for r in rep["rejections"]["by_rule"]})
        self.assertEqual(sum(int(r["count"]) for r in t["rejections_by_rule"]),
                         rep["rejections"]["count"])
        self.assertEqual(t["summary"][0]["report_hash"], rep["report_hash"])

    def raw_report(self, node, params):
        body = {"jsonrpc": "2.0", "id": 7, "method": "getreport", "params": params}
        status, raw = node.http(body)
        self.assertEqual(status, 200)
        self.assertIn("result", json.loads(raw), raw)
        return raw

    def same_height(self, net, calls):
        """[(operator body, regulator body)] for each params of `calls`, all at one height."""
        reg = net.regulators[0]

        def both():
            h = net.operator.call("getinfo")["height"]
            net.wait_synced(height=h)
            got = [(self.raw_report(net.operator, p), self.raw_report(reg, p)) for p in calls]
            if net.operator.call("getinfo")["height"] != h or reg.call("getinfo")["height"] != h:
                return None  # a block came in between: again
            return got
        return in_time(both, fw.SYNC_TIMEOUT, "the operator and the regulator at one height")

    def test_report_operator_and_regulator(self):
        net = fw.Network(self, regulators=1)
        n = net.operator
        want = self.submit(n, net.regulators[0])
        for day, w in want.items():
            daily = {"kind": "daily", "date": day}
            (op_raw, reg_raw), (op_csv, reg_csv) = self.same_height(
                net, [daily, dict(daily, format="csv")])
            self.assertEqual(op_raw, reg_raw)
            self.assertEqual(op_csv, reg_csv)
            rep = json.loads(op_raw)["result"]
            self.assertEqual(rep["report_hash"], json.loads(reg_raw)["result"]["report_hash"])
            self.assertRegex(rep["report_hash"], "^[0-9a-f]{64}$")
            self.check_json(rep, w)
            # report_hash: SHA-256 of the canonical JSON without it
            body = dict(rep)
            del body["report_hash"]
            canon = json.dumps(body, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
            self.assertEqual(hashlib.sha256(canon).hexdigest(), rep["report_hash"])
            res = json.loads(op_csv)["result"]
            self.assertEqual(res["report_hash"], rep["report_hash"])
            self.check_csv(res["csv"], rep)
            # the large-value alerts are those listalerts shows for the day
            listed = [a["id"] for a in n.call("listalerts", {"kind": "aml.large_value"})["items"]
                      if rep["from"] <= a["time"] < rep["to"]]
            self.assertEqual(sorted(a["id"] for a in rep["alerts"]["large_value"]),
                             sorted(listed))
            kinds = {k["kind"]: k["count"] for k in rep["alerts"]["by_kind"]}
            self.assertEqual(kinds["aml.large_value"], len(listed))
            self.assertGreaterEqual(len(listed), 1)  # the buyer's 400,000,000 VND deposit
        month = sorted(want)[0][:7]
        rep = n.call("getreport", {"kind": "monthly", "month": month})
        self.assertGreaterEqual(rep["trades"]["count"], sum(w["trades"] for w in want.values()))
        self.assertFalse(rep["complete"])
        # liabilities: the clients' balances, the house account (the fees) left out
        liab = {a["asset"]: a["amount"] for a in rep["liabilities"]["by_asset"]}
        self.assertEqual(liab["BTC"], "0.05000000")
        self.assertEqual(liab["ETH"], "2.00000000")
        self.assertEqual(rep["liabilities"]["excluded_account"], fw.HOUSE)


class ReportParamsTest(fw.OneNodeTestCase):

    def test_past_and_future_days(self):
        past = self.n.call("getreport", {"kind": "daily", "date": "2020-01-01"})
        self.assertTrue(past["complete"] or past["last_height"] is None)
        self.assertIsNone(past["first_height"])
        self.assertEqual(past["trades"]["count"], 0)
        self.assertEqual(past["trades"]["notional_vnd"], "0")
        self.assertEqual(past["rejections"]["by_rule"], [])
        self.assertEqual(past["transactions"], 0)
        future = self.n.call("getreport", {"kind": "daily", "date": "2199-12-31"})
        self.assertFalse(future["complete"])
        self.assertIsNone(future["first_height"])
        today = self.n.call("getreport", {"kind": "daily", "date": local_day(fw.now_ms())})
        self.assertFalse(today["complete"])
        # a block after the past day exists (genesis is later): that day is complete
        self.assertTrue(past["complete"])
        m = self.n.call("getreport", {"kind": "monthly", "month": "2020-02"})
        self.assertTrue(m["complete"])
        self.assertEqual(m["to"] - m["from"], 29 * 86400000)
        self.assertEqual(m["from"], 1580490000000)  # 2020-02-01T00:00+07:00

    def test_bad_params(self):
        for p in [{"kind": "daily", "date": "2026-1-01"}, {"kind": "daily", "date": "2026-02-30"},
                  {"kind": "daily", "date": "20260101"}, {"kind": "daily", "date": 20260101},
                  {"kind": "daily"}, {"kind": "daily", "date": "2026-01-01", "month": "2026-01"},
                  {"kind": "monthly", "month": "2026-13"}, {"kind": "monthly", "month": "2026-00"},
                  {"kind": "monthly", "month": "2026-1"}, {"kind": "weekly", "date": "2026-01-01"},
                  {"kind": "daily", "date": "2026-01-01", "format": "xml"}, {},
                  {"kind": "daily", "date": "2026-01-01", "extra": 1}]:
            self.assertRPCError(INVALID_PARAMS, self.n.call, "getreport", p)

    def test_cli_prints_csv(self):
        out = subprocess.run([fw.binary("sbx-cli"), "-datadir=" + self.n.datadir,
                              "-rpcport=%d" % self.n.rpcport, "getreport", "kind=daily",
                              "date=2020-01-01", "format=csv"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        t = csv_tables(out.stdout.decode())
        self.assertEqual(t["report"][0]["date"], "2020-01-01")
        self.assertEqual(t["trades"][0]["count"], "0")

    def test_report_keeps_rpc_serving(self):
        """getreport replays the chain on the node's background job thread: RPC keeps answering
        meanwhile, and a second getreport or a verifychain while it runs is refused with -32004
        rather than queued. The test hook slows the replay down to 50 ms a block."""
        n = self.n
        fw.testhook(self, n, {"action": "slow_jobs"})
        while n.call("getinfo")["height"] < 40:  # about 2 s of replay
            n.open_account()
        params = {"kind": "daily", "date": local_day(fw.now_ms())}
        want = n.call("getreport", params)  # one alone: the reference bytes
        done = {}

        def report():
            # The loop below may win the race and start the first job; this thread then
            # retries until a report of its own has run to the end.
            while True:
                try:
                    done["result"] = n.call("getreport", params)
                    break
                except fw.RPCError as e:
                    if e.code != UNAVAILABLE:
                        raise
                    time.sleep(0.01)
            done["at"] = time.monotonic()

        t = threading.Thread(target=report)
        t.start()
        answered, busy = [], {"getreport": 0, "verifychain": 0}
        while t.is_alive():
            n.call("getinfo")
            answered.append(time.monotonic())
            if len(answered) <= 3:
                n.open_account()  # the chain grows while the report reads it
            for method, p in (("getreport", params), ("verifychain", {})):
                try:
                    n.call(method, p)
                except fw.RPCError as e:
                    self.assertEqual(e.code, UNAVAILABLE, e)
                    self.assertIn("already running", e.message)
                    busy[method] += 1
        t.join()
        self.assertEqual(done["result"]["kind"], "daily")
        self.assertGreaterEqual(done["result"]["transactions"], want["transactions"])
        early = [a for a in answered if a < done["at"] - 0.05]
        self.assertGreater(len(early), 0, "no RPC answered while getreport ran")
        self.assertGreater(busy["getreport"], 0, "a second getreport was not refused")
        self.assertGreater(busy["verifychain"], 0, "a verifychain was not refused")
        # a node stopping meanwhile stops the replay between two blocks and exits cleanly; the
        # call gets -32004 or, if the server is already gone, no answer at all
        late = {}

        def stopped_report():
            try:
                late["result"] = n.call("getreport", params)
            except Exception as e:  # noqa: BLE001 (either is right here)
                late["error"] = e

        t = threading.Thread(target=stopped_report)
        t.start()
        time.sleep(0.3)
        self.assertEqual(n.stop(), 0)
        t.join()
        self.assertNotIn("result", late, "the report ran to its end despite the stop")
        if isinstance(late["error"], fw.RPCError):
            self.assertEqual(late["error"].code, UNAVAILABLE, late["error"])


if __name__ == "__main__":
    unittest.main()
