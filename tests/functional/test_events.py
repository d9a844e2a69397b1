"""The event stream (doc/rpc.md "Event stream"): GET /events as Server-Sent Events, ids derived
from the ledger, replay by Last-Event-ID and ?from= across a restart, topics, credentials, the
same ids on a regulator node, and a consumer that does not read being disconnected."""

import http.client
import json
import re
import socket
import threading
import time
import unittest

import framework as fw

SHIFT = 20
QUIET_S = 1.0  # after the tip's block event, the rest of its block comes in the same chunk


class Stream:
    """One GET /events over http.client; events are dicts {id, event, data}."""

    def __init__(self, node, query="", last_id=None, auth=None, timeout=30):
        self.conn = http.client.HTTPConnection("127.0.0.1", node.rpcport, timeout=timeout)
        headers = node._auth_header(auth)
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", "/events" + query, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def close(self):
        self.conn.close()

    def next(self, timeout=30):
        """The next event, or None when nothing came within `timeout` seconds."""
        self.conn.sock.settimeout(timeout)
        ev = {}
        data = []
        while True:
            try:
                line = self.resp.readline()
            except (socket.timeout, TimeoutError):
                return None
            if line == b"":
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if data:
                    ev["data"] = json.loads("\n".join(data))
                    return ev
                ev = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            if field == "data":
                data.append(value)
            elif field in ("id", "event"):
                ev[field] = value

    def until_height(self, height, timeout=60):
        """Events until the block event of `height` and the rest of that block."""
        out = []
        deadline = time.monotonic() + timeout
        seen = False
        while True:
            ev = self.next(QUIET_S if seen else max(0.1, deadline - time.monotonic()))
            if ev is None:
                if seen:
                    return out
                raise AssertionError("no block %d event within %d s (got %d events)" %
                                     (height, timeout, len(out)))
            out.append(ev)
            if ev["event"] == "block" and ev["data"]["height"] >= height:
                seen = True


def ledger_ids(events):
    return [(e["id"], e["event"]) for e in events if e["event"] != "node_alert"]


def tip(node):
    return node.call("getinfo")["height"]


class EventStreamTest(fw.NodeTestCase):

    def activity(self, n, trades=2):
        """Accounts, deposits, trades and one rejected trade on `n`; returns the txids."""
        buyer, seller = n.funded_pair()
        n.deposit(buyer, "VND", "400000000")  # at the large-value threshold: an alert
        txids = [n.trade(buyer, seller)["txid"] for _ in range(trades)]
        rej = self.assertRejected("limit.per_trade", n.trade, buyer, seller,
                                  quantity="10.00000000")
        return txids, rej["txid"]

    def check_shape(self, events):
        """Ids increase; a ledger id is height * 2^20 + position; the block event is first."""
        last = -1
        for e in events:
            if e["event"] == "node_alert":
                continue
            seq = int(e["id"])
            self.assertGreater(seq, last, "ids increase: %r" % e)
            last = seq
            if e["event"] == "block":
                self.assertEqual(seq, e["data"]["height"] << SHIFT)
            else:
                self.assertNotEqual(seq & ((1 << SHIFT) - 1), 0)

    def test_replay_across_restart(self):
        n = self.node("op")
        txids, rejected = self.activity(n)
        s = Stream(n, "?from=0")
        self.assertEqual(s.status, 200)
        self.assertEqual(s.resp.getheader("Content-Type"), "text/event-stream; charset=utf-8")
        first = s.until_height(tip(n))
        s.close()
        self.check_shape(first)
        by_txid = {e["data"]["txid"]: e for e in first if "txid" in e["data"]}
        # a tx event carries what gettx returns; a rejected one is a rejection event
        self.assertEqual(by_txid[txids[0]]["event"], "tx")
        self.assertEqual(by_txid[txids[0]]["data"], n.call("gettx", {"txid": txids[0]}))
        self.assertEqual(by_txid[rejected]["event"], "rejection")
        self.assertEqual(by_txid[rejected]["data"]["rule"], "limit.per_trade")

        # disconnected: more activity, a restart, more activity
        more, _ = self.activity(n, trades=1)
        n.restart()
        later, _ = self.activity(n, trades=1)
        s = Stream(n, last_id=first[-1]["id"])
        missed = s.until_height(tip(n))
        s.close()
        self.check_shape(missed)
        got = {e["data"].get("txid") for e in missed}
        self.assertTrue(set(more + later) <= got)

        s = Stream(n, "?from=0")
        everything = s.until_height(tip(n))
        s.close()
        self.assertEqual(ledger_ids(first) + ledger_ids(missed), ledger_ids(everything),
                         "exactly the missed events, in order, none twice")

        # every compliance alert, right after the transaction that raised it
        listed = n.call("listalerts", {"limit": 1000})["items"]
        alerts = [e for e in everything if e["event"] == "alert"]
        self.assertGreaterEqual(len(alerts), 3)
        self.assertEqual(sorted(a["id"] for a in listed), sorted(e["data"]["id"] for e in alerts))
        for i, e in enumerate(everything):
            if e["event"] == "alert":
                before = [x for x in everything[:i] if x["event"] != "alert"][-1]
                self.assertEqual(before["data"]["txid"], e["data"]["txid"])
                self.assertEqual(e["data"], [a for a in listed if a["id"] == e["data"]["id"]][0])

        # ?from= starts at that id (inclusive); Last-Event-ID after it
        mid = everything[len(everything) // 2]
        s = Stream(n, "?from=" + mid["id"])
        tail = s.until_height(tip(n))
        s.close()
        self.assertEqual(ledger_ids(tail), ledger_ids(everything[len(everything) // 2:]))

        # topics
        s = Stream(n, "?from=0&topics=block,rejection")
        some = s.until_height(tip(n))
        s.close()
        self.assertEqual(ledger_ids(some), [x for x in ledger_ids(everything)
                                            if x[1] in ("block", "rejection")])
        self.assertIn("rejection", {e["event"] for e in some})

    def test_long_replay(self):
        """A replay over more blocks than one step reads (64) continues to the tip."""
        n = self.node("op")
        account, _ = n.open_account()
        for _ in range(150):
            n.deposit(account, "VND", "1000")
        height = tip(n)
        self.assertGreater(height, 150)
        s = Stream(n, "?from=0&topics=block")
        blocks = s.until_height(height)
        s.close()
        self.assertEqual([e["data"]["height"] for e in blocks], list(range(height + 1)))

    def test_live_and_errors(self):
        n = self.node("op")
        user = n.add_user("sup", "supervisor")
        n.restart()
        s = Stream(n, auth=user)  # no from: live from the tip
        self.assertEqual(s.status, 200)
        txids, rejected = self.activity(n, trades=1)
        events = s.until_height(tip(n))
        s.close()
        kinds = {e["data"].get("txid"): e["event"] for e in events}
        self.assertEqual(kinds[txids[0]], "tx")
        self.assertEqual(kinds[rejected], "rejection")
        self.assertGreater(int(events[0]["id"]), 0)

        for query, headers, auth, want in (
                ("", {}, False, 401),
                ("", {}, ("sup", "wrong"), 401),
                ("?topics=nosuch", {}, None, 400),
                ("?from=abc", {}, None, 400),
                ("", {"Last-Event-ID": "x"}, None, 400)):
            st, _ = n.http(b"", auth=auth, headers=headers, method="GET", path="/events" + query)
            self.assertEqual(st, want, (query, headers))
        st, _ = n.http(b"{}", method="POST", path="/events")
        self.assertEqual(st, 405)

    def test_regulator_same_ids(self):
        net = fw.Network(self, regulators=1)
        op = net.operator
        self.activity(op)
        height = net.wait_synced()
        streams = {}
        for node in (op, net.regulators[0]):
            s = Stream(node, "?from=0&topics=block,tx,rejection,alert,directive")
            streams[node.name] = s.until_height(height)
            s.close()
        a, b = (ledger_ids(streams[k]) for k in ("operator", "reg1"))
        cut = min(len(a), len(b))
        self.assertGreater(cut, 10)
        self.assertEqual(a[:cut], b[:cut])
        self.assertEqual([e["data"] for e in streams["operator"][:cut]],
                         [e["data"] for e in streams["reg1"][:cut]])
        # the regulator's attestations are attestation events (data: what gettx gives)
        net.wait_attested(net.last_substantive(height))
        s = Stream(op, "?from=0&topics=attestation")
        att = s.next(30)
        s.close()
        self.assertEqual(att["event"], "attestation")
        self.assertEqual(att["data"]["type"], "attestation")
        self.assertEqual(att["data"], op.call("gettx", {"txid": att["data"]["txid"]}))

    def test_stream_cap(self):
        n = self.node("op")
        streams = [Stream(n) for _ in range(64)]
        self.assertEqual({s.status for s in streams}, {200})
        st, _ = n.http(b"", method="GET", path="/events")
        self.assertEqual(st, 503)
        streams.pop().close()  # the node hears of it at once and frees the place

        def opens():
            s = Stream(n)
            if s.status == 200:
                streams.append(s)
                return True
            s.close()
            return False
        fw.in_time(opens, 10, "a place for a new stream")
        for s in streams:
            s.close()
        self.assertEqual(n.call("getinfo")["height"], tip(n))

    def test_node_alerts(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair()
        net.wait_synced()
        s = Stream(reg, "?topics=node_alert")
        fw.testhook(self, op, {"action": "wrong_verdict"})
        try:
            op.trade(buyer, seller)
        except fw.RPCError as e:
            self.assertEqual(e.code, fw.REJECTED, e)
        ev = s.next(60)
        s.close()
        self.assertIsNotNone(ev, "a node_alert event")
        self.assertEqual(ev["event"], "node_alert")
        self.assertEqual(ev["data"]["kind"], "block_invalid")
        listed = [a for a in reg.call("listnodealerts")["items"] if a["seq"] == ev["data"]["seq"]]
        self.assertEqual(listed, [ev["data"]])
        ledger, _, number = ev["id"].partition(":")
        self.assertEqual(int(number), ev["data"]["seq"])
        self.assertEqual(int(ledger) >> SHIFT, reg.call("getinfo")["height"])
        # resuming from just before it gives it again; from it or from a ledger id, not
        s = Stream(reg, "?topics=node_alert", last_id="%s:%d" % (ledger, int(number) - 1))
        again = s.next(10)
        self.assertEqual(again, ev)
        self.assertIsNone(s.next(1))
        s.close()
        for last in (ev["id"], ledger):
            s = Stream(reg, "?topics=node_alert", last_id=last)
            self.assertIsNone(s.next(1), last)
            s.close()

    def test_slow_consumer_disconnected(self):
        n = self.node("op", extra_args=["-eventsmaxqueue=131072"])
        buyer, seller = n.funded_pair()
        # a consumer that reads nothing, with a tiny receive window
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", n.rpcport))
        hdr = n._auth_header(None)
        slow.sendall(("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" %
                      hdr["Authorization"]).encode())
        good = Stream(n)
        got = []

        def read_good():  # a consumer that keeps up, on its own thread
            try:
                while True:
                    ev = good.next(60)
                    if ev is None:
                        return
                    got.append(ev)
            except (EOFError, OSError, ValueError, AttributeError) as e:
                got.append({"event": "end", "id": "", "data": repr(e)})
        reader = threading.Thread(target=read_good, daemon=True)
        reader.start()

        def dropped():
            return "fell behind" in fw.debug_log(n)

        for _ in range(40):
            calls = [("submittrade", fw.trade_params(buyer, seller, quantity="0.00001000"))
                     for _ in range(50)]
            n.batch(calls)
            if dropped():
                break
        fw.in_time(dropped, 30, "the slow consumer is disconnected")
        height = tip(n)
        fw.in_time(lambda: any(e["event"] == "block" and e["data"]["height"] == height
                               for e in list(got)), 30,
                   "the other consumer at the tip %d (%r)" % (height, [(e["id"], e["event"]) for e in got[-3:]]))
        self.assertEqual(fw.debug_log(n).count("fell behind"), 1, "only the slow one")
        good.close()
        self.assertGreater(sum(1 for e in got if e["event"] == "tx"), 50)
        # the slow socket was closed by the node: after what was queued, EOF
        slow.settimeout(10)
        raw = b""
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            raw += chunk
        slow.close()
        # each chunk holds whole events: the last one it got is where it resumes from
        ids = re.findall(rb"id: (\d+)\nevent: \w+\ndata: [^\n]*\n\n", raw)
        self.assertGreater(len(ids), 0)
        last = ids[-1].decode()
        s = Stream(n, "?from=0")
        everything = s.until_height(tip(n))
        s.close()
        order = [e["id"] for e in everything]
        s = Stream(n, last_id=last)
        self.assertEqual(s.next(10)["id"], order[order.index(last) + 1])
        s.close()
        self.assertIsInstance(n.call("getinfo")["height"], int)

if __name__ == "__main__":
    unittest.main()
