"""JSON-RPC interface: every method of doc/rpc.md (getreport in detail in test_report; the
event stream aside), every error code, roles, HTTP authentication and size limits."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import unittest

import framework as fw
import txsign
from framework import (BAD_SIGNATURE, CONFLICT, FORBIDDEN, INVALID_PARAMS, INVALID_REQUEST,
                       METHOD_NOT_FOUND, NOT_FOUND, PARSE_ERROR, hex32, in_time, uid)

HEX64 = r"^[0-9a-f]{64}$"

METHODS = ["help", "getinfo", "openaccount", "updateaccount", "deposit", "withdraw", "submittrade",
           "submitrawtx", "checktrade", "getblock", "gettx", "gettxproof", "getliabilityproof",
           "gettrade",
           "listtrades", "getaccount", "getusage", "getlicence", "listalerts", "listrejections",
           "submitdirective", "listproposals", "cosigndirective", "getsupervision", "verifychain",
           "getreport", "getpeerinfo",
           "stop"]


class RPCTest(fw.OneNodeTestCase):
    node_users = {"op": "operator", "sup": "supervisor", "adm": "admin"}

    # ---- helpers

    def error_of(self, reply):
        self.assertIsInstance(reply, dict, reply)
        self.assertNotIn("result", reply, reply)
        self.assertIsInstance(reply.get("error"), dict, reply)
        self.assertIsInstance(reply["error"].get("code"), int, reply)
        self.assertIsInstance(reply["error"].get("message"), str, reply)
        return reply["error"]["code"]

    def assertServing(self):
        info = self.n.call("getinfo")
        self.assertEqual(info["network"], "sbx-devnet")

    def raw_http(self, head, body, read_first=False, timeout=60):
        """Send `head` and `body` on a raw socket; return (status, body bytes). With read_first,
        wait for an early reply (one the server may send on the headers alone) before sending
        the body, so that a server that answers and closes early is still heard."""
        s = socket.create_connection(("127.0.0.1", self.n.rpcport), timeout=timeout)
        data = b""
        try:
            s.sendall(head)
            if read_first:
                s.settimeout(3)
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    data = b""
                s.settimeout(timeout)
            if not data:
                try:
                    s.sendall(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0:
                    headers = data[:head_end].decode("latin-1").lower()
                    for line in headers.split("\r\n"):
                        if line.startswith("content-length:"):
                            if len(data) >= head_end + 4 + int(line.split(":")[1]):
                                return self._split(data)
        finally:
            s.close()
        return self._split(data)

    def _split(self, data):
        self.assertTrue(data.startswith(b"HTTP/1."), "no HTTP reply: %r" % data[:100])
        status = int(data[9:12])
        return status, data.partition(b"\r\n\r\n")[2]

    def head(self, length, auth=True):
        user, password = self.n.cookie()
        h = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if auth:
            h += "Authorization: Basic %s\r\n" % base64.b64encode(
                ("%s:%s" % (user, password)).encode()).decode()
        h += "Content-Length: %d\r\n\r\n" % length
        return h.encode()

    # ---- node and licence

    def test_getinfo(self):
        info = self.n.call("getinfo")
        for k in ["network", "role", "height", "tip_hash", "final_height", "licence_status",
                  "halted", "version"]:
            self.assertIn(k, info)
        self.assertEqual(info["network"], "sbx-devnet")
        self.assertEqual(info["role"], "operator")
        self.assertEqual(info["licence_status"], "active")
        self.assertIs(info["halted"], False)
        self.assertIsInstance(info["height"], int)
        self.assertGreaterEqual(info["height"], 0)
        self.assertRegex(info["tip_hash"], HEX64)
        self.assertIsInstance(info["final_height"], int)
        self.assertIsInstance(info["version"], str)
        # empty params in every allowed spelling
        self.assertEqual(self.n.call("getinfo", {})["network"], "sbx-devnet")
        self.assertEqual(self.n.call("getinfo", [])["network"], "sbx-devnet")
        # every role may read
        for who in ("op", "sup", "adm"):
            self.assertEqual(self.n.call("getinfo", auth=self.auth[who])["role"], "operator")

    def test_getlicence_getsupervision_getpeerinfo(self):
        lic = self.n.call("getlicence")
        self.assertIsInstance(lic, dict)
        self.assertEqual(lic.get("status"), "active")
        self.assertIsInstance(lic.get("params"), dict)
        self.assertLess(lic["valid_from"], lic["valid_to"])
        sup = self.n.call("getsupervision")
        self.assertIsInstance(sup, dict)
        self.assertIn("final_height", sup)
        self.assertIsInstance(sup.get("regulators"), list)
        self.assertEqual(len(sup["regulators"]), 1)  # the devnet's embedded regulator key
        peers = self.n.call("getpeerinfo")
        self.assertIsInstance(peers, dict)
        self.assertIsInstance(peers.get("peers"), list)

    def test_verifychain(self):
        self.n.open_account()
        r = self.n.call("verifychain", auth=self.auth["sup"])
        self.assertIs(r["ok"], True, r)
        self.assertIsInstance(r["checked"], int)
        self.assertGreater(r["checked"], 0)
        r = self.n.call("verifychain", {"from": 0, "to": 1})
        self.assertIs(r["ok"], True, r)
        self.assertRPCError(INVALID_PARAMS, self.n.call, "verifychain", {"from": 5, "to": 1})

    # ---- accounts and transfers

    def test_account_lifecycle(self):
        acct, r = self.n.open_account(tier=1)
        self.assertReceipt(r)
        a = self.n.call("getaccount", {"account": acct})
        self.assertEqual(a["account"], acct)
        self.assertEqual(a["kyc_tier"], 1)
        self.assertEqual(a["investor_class"], "domestic_individual")
        self.assertEqual(a["status"], "active")
        self.assertEqual(a["balances"]["VND"], "0")
        self.assertEqual(a["balances"]["BTC"], "0.00000000")
        self.assertIn("usage", a)

        dep = self.assertReceipt(self.n.deposit(acct, "VND", "1000000"))
        self.assertGreaterEqual(dep["height"], r["height"])
        self.assertReceipt(self.n.deposit(acct, "BTC", "0.01000000"))
        self.assertReceipt(self.n.call("updateaccount", {"account": acct, "kyc_tier": 2}))
        wd = self.assertReceipt(self.n.call("withdraw", {
            "transfer_id": uid("wd"), "account": acct, "asset": "VND", "amount": "400000",
            "reference": "bank-out-1"}))
        a = self.n.call("getaccount", {"account": acct})
        self.assertEqual(a["kyc_tier"], 2)
        self.assertEqual(a["balances"]["VND"], "600000")
        self.assertEqual(a["balances"]["BTC"], "0.01000000")

        # every receipt is on the ledger where it says
        for receipt, typ in ((r, "account_open"), (dep, "deposit"), (wd, "withdrawal")):
            tx = self.n.call("gettx", {"txid": receipt["txid"]})
            self.assertEqual(tx["txid"], receipt["txid"])
            self.assertEqual(tx["type"], typ)
            self.assertEqual(tx["verdict"], "accepted")
            self.assertEqual(tx["height"], receipt["height"])
            self.assertEqual(tx["block_hash"], receipt["block_hash"])

        # close the account: it can no longer move funds
        self.assertReceipt(self.n.call("updateaccount", {"account": acct, "status": "closed"}))
        self.assertEqual(self.n.call("getaccount", {"account": acct})["status"], "closed")
        self.assertRejected("account.closed", self.n.deposit, acct, "VND", "1")

    def test_getblock(self):
        acct, r = self.n.open_account()
        b = self.n.call("getblock", {"height": r["height"]})
        self.assertEqual(b["height"], r["height"])
        self.assertEqual(b["hash"], r["block_hash"])
        self.assertIn(r["txid"], b["txids"])
        b2 = self.n.call("getblock", {"hash": r["block_hash"]})
        self.assertEqual(b2["height"], r["height"])
        self.assertEqual(b2["txids"], b["txids"])
        bv = self.n.call("getblock", {"height": r["height"], "verbose": True})
        txs = {t["txid"]: t for t in bv["transactions"]}
        self.assertIn(r["txid"], txs)
        self.assertEqual(txs[r["txid"]]["verdict"], "accepted")
        self.assertEqual(txs[r["txid"]]["account"], acct)
        if r["height"] > 0:
            prev = self.n.call("getblock", {"height": r["height"] - 1})
            self.assertEqual(b["prev_hash"], prev["hash"])
        genesis = self.n.call("getblock", {"height": 0})
        self.assertEqual(genesis["height"], 0)

    # ---- trades

    def test_trade_and_queries(self):
        fw.clear_of_local_midnight()  # the daily usage compared below is of one local day
        buyer, seller = self.n.funded_pair()
        tid = uid("t")
        r = self.assertReceipt(self.n.trade(buyer, seller, quantity="0.00200000", trade_id=tid))
        t = self.n.call("gettrade", {"trade_id": tid})
        self.assertEqual(t["txid"], r["txid"])
        self.assertEqual(t["verdict"], "accepted")
        self.assertEqual(t["height"], r["height"])
        self.assertEqual(t["buyer"], buyer)
        self.assertEqual(t["seller"], seller)
        self.assertEqual(t["quantity"], "0.00200000")
        self.assertEqual(t["price"], str(fw.BTC_REF))
        # notional 0.002 * 2,500,000,000 = 5,000,000 VND
        self.assertEqual(self.n.call("getaccount", {"account": buyer})["balances"]["BTC"],
                         "0.00200000")
        self.assertEqual(self.n.call("getaccount", {"account": buyer})["balances"]["VND"],
                         str(200000000 - 5000000))
        usage = self.n.call("getusage", {"account": buyer})
        self.assertEqual(usage["limits"]["limit.daily"]["used"], "5000000")
        self.assertEqual(usage["limits"]["limit.daily"]["limit"], "400000000")
        self.assertEqual(usage["limits"]["limit.daily"]["remaining"], "395000000")
        ex = self.n.call("getusage")
        self.assertIn("limit.exchange_daily", ex["limits"])

        for params in ({"account": buyer}, {"account": seller, "asset": "BTC"},
                       {"asset": "BTC"}, {}):
            lst = self.n.call("listtrades", params)
            self.assertIn("next_cursor", lst)
            ids = [i["trade_id"] for i in lst["items"]]
            self.assertIn(tid, ids, params)
        self.assertEqual(self.n.call("listtrades", {"account": buyer, "asset": "ETH"})["items"], [])

    def test_listtrades_pagination(self):
        buyer, seller = self.n.funded_pair()
        ids = []
        for _ in range(3):
            tid = uid("page")
            self.n.trade(buyer, seller, trade_id=tid)
            ids.append(tid)
        seen = []
        cursor = None
        for _ in range(10):
            params = {"account": buyer, "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = self.n.call("listtrades", params)
            self.assertLessEqual(len(page["items"]), 1)
            seen += [i["trade_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(sorted(seen), sorted(ids))
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listtrades", {"cursor": "zz"})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listtrades", {"limit": 0})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listtrades", {"limit": 1001})

    def test_listtrades_all_assets(self):
        # there is no index of all trades: the list merges every asset's, newest first, and its
        # cursor goes on across assets
        buyer, seller = self.n.funded_pair()
        self.assertReceipt(self.n.deposit(seller, "ETH", "1.00000000"))
        ids = []
        for asset, price in (("BTC", fw.BTC_REF), ("ETH", fw.ETH_REF), ("ETH", fw.ETH_REF),
                             ("BTC", fw.BTC_REF), ("ETH", fw.ETH_REF)):
            tid = uid("all")
            self.assertReceipt(self.n.trade(buyer, seller, price=str(price), asset=asset,
                                            trade_id=tid))
            ids.append(tid)
        seen, places, cursor = [], [], None
        for _ in range(1000):
            params = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = self.n.call("listtrades", params)
            self.assertLessEqual(len(page["items"]), 2)
            for t in page["items"]:
                seen.append(t["txid"])
                places.append((t["timestamp"], t["height"], t["index"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertIsNone(cursor)
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(places, sorted(places, reverse=True))
        self.assertEqual(len(seen), len(self.n.call("listtrades", {"limit": 1000})["items"]))
        mine = [t["trade_id"] for t in self.n.call("listtrades", {"limit": 1000})["items"]
                if t["trade_id"] in ids]
        self.assertEqual(mine, list(reversed(ids)))
        # the time bounds hold for the merge too
        first = self.n.call("gettrade", {"trade_id": ids[1]})["timestamp"]
        last = self.n.call("gettrade", {"trade_id": ids[3]})["timestamp"]
        bounded = self.n.call("listtrades", {"from": first, "to": last, "limit": 1000})["items"]
        self.assertTrue(all(first <= t["timestamp"] <= last for t in bounded))
        self.assertTrue({ids[1], ids[2], ids[3]} <= {t["trade_id"] for t in bounded})
        # a cursor of one asset's list is not a cursor of this one, nor the other way round
        c = self.n.call("listtrades", {"asset": "BTC", "limit": 1})["next_cursor"]
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listtrades", {"cursor": c})
        c = self.n.call("listtrades", {"limit": 1})["next_cursor"]
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listtrades",
                            {"asset": "BTC", "cursor": c})

    def test_checktrade(self):
        buyer, seller = self.n.funded_pair()
        params = fw.trade_params(buyer, seller, quantity="0.00100000")
        r = self.n.call("checktrade", params)
        self.assertIs(r["ok"], True, r)
        self.assertNotIn("rule", r)
        r = self.n.call("checktrade", params, auth=self.auth["sup"])
        self.assertIs(r["ok"], True, r)
        # a dry run records nothing: the trade id is still free
        self.assertRPCError(NOT_FOUND, self.n.call, "gettrade", {"trade_id": params["trade_id"]})
        # 0.05 BTC = 125,000,000 VND, over the tier-1 per-trade limit
        big = dict(params, quantity="0.05000000")
        r = self.n.call("checktrade", big)
        self.assertIs(r["ok"], False)
        self.assertEqual(r["rule"], "limit.per_trade")
        self.assertEqual(r["limit"], "100000000")
        self.assertEqual(r["requested"], "125000000")
        self.assertRPCError(NOT_FOUND, self.n.call, "gettrade", {"trade_id": params["trade_id"]})
        # exactly at the limit passes: 0.04 BTC = 100,000,000 VND
        r = self.n.call("checktrade", dict(params, quantity="0.04000000"))
        self.assertIs(r["ok"], True, r)

    def test_alerts_and_rejections(self):
        acct, _ = self.n.open_account()
        # 400,000,000 VND: at the large-value threshold
        dep = self.n.deposit(acct, "VND", "400000000")
        alerts = self.n.call("listalerts", {"kind": "aml.large_value"})
        mine = [a for a in alerts["items"] if a["account"] == acct]
        self.assertEqual(len(mine), 1, alerts)
        self.assertEqual(mine[0]["txid"], dep["txid"])
        self.assertIn("next_cursor", alerts)
        self.assertIn(acct, [a["account"] for a in self.n.call("listalerts")["items"]])

        data = self.assertRejected("account.unknown", self.n.trade, uid("ghost"), acct)
        rej = self.n.call("listrejections", {"rule": "account.unknown"})
        self.assertIn(data["txid"], [i["txid"] for i in rej["items"]])
        for i in rej["items"]:
            self.assertEqual(i["verdict"], "rejected")
            self.assertEqual(i["rule"], "account.unknown")
        self.assertIn(data["txid"], [i["txid"] for i in self.n.call("listrejections")["items"]])
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listrejections", {"rule": "no.such"})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "listalerts", {"kind": "no.such"})

    # ---- submitrawtx and signatures

    def raw_account_open(self, account, timestamp=None):
        secret = txsign.read_key(os.path.join(self.n.datadir, "keys", "operator.key"))
        body = txsign.account_open_body(account, 1, "domestic_individual", "VN",
                                        hex32(account + "k"), hex32(account + "b"))
        return txsign.sign_tx(txsign.ACCOUNT_OPEN, body, secret, timestamp or fw.now_ms())

    def test_submitrawtx(self):
        acct = uid("raw")
        raw, txid = self.raw_account_open(acct)
        # a flipped byte in the signature, or in the signed body: refused at the door
        bad_sig = bytearray(raw)
        bad_sig[-1] ^= 0x01
        self.assertRPCError(BAD_SIGNATURE, self.n.call, "submitrawtx", {"hex": bad_sig.hex()})
        bad_body = bytearray(raw)
        bad_body[-64 - 40] ^= 0x01  # inside bank_ref
        self.assertRPCError(BAD_SIGNATURE, self.n.call, "submitrawtx", {"hex": bad_body.hex()})
        # ... and never recorded
        self.assertRPCError(NOT_FOUND, self.n.call, "gettx", {"txid": txid})
        self.assertRPCError(NOT_FOUND, self.n.call, "getaccount", {"account": acct})

        r = self.assertReceipt(self.n.call("submitrawtx", {"hex": raw.hex()}))
        self.assertEqual(r["txid"], txid)
        self.assertEqual(self.n.call("getaccount", {"account": acct})["account"], acct)
        tx = self.n.call("gettx", {"txid": txid})
        self.assertEqual(tx["auth"], "signature")
        self.assertEqual(tx["signature"], raw.hex()[-128:])
        # the same bytes again: the first receipt
        again = self.n.call("submitrawtx", {"hex": raw.hex()})
        self.assertEqual(again["txid"], txid)
        self.assertEqual(again["height"], r["height"])

        for bad in ["", "zz", raw.hex()[:-1], raw.hex().upper(), raw.hex()[:-2], raw.hex() + "00"]:
            self.assertRPCError(INVALID_PARAMS, self.n.call, "submitrawtx", {"hex": bad})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submitrawtx", {"hex": 5})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submitrawtx", {})

    def test_submitrawtx_block_authenticated(self):
        """An unsigned (block-authenticated) transaction is valid only inside a block of its
        signer: offered alone it is refused as a bad signature, even with the operator's key as
        signer; a signature's bytes after one, or the encoding of version 1, do not decode."""
        acct = uid("rawb")
        secret = txsign.read_key(os.path.join(self.n.datadir, "keys", "operator.key"))
        body = txsign.account_open_body(acct, 1, "domestic_individual", "VN", hex32(acct + "k"),
                                        hex32(acct + "b"))
        raw, txid = txsign.block_auth_tx(txsign.ACCOUNT_OPEN, body, txsign.pubkey(secret),
                                         fw.now_ms())
        self.assertRPCError(BAD_SIGNATURE, self.n.call, "submitrawtx", {"hex": raw.hex()})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submitrawtx",
                            {"hex": raw.hex() + "00" * 64})
        signed, _ = txsign.sign_tx(txsign.ACCOUNT_OPEN, body, secret, fw.now_ms())
        v1 = b"\x01" + signed[1:2] + signed[3:]  # the same transaction without the auth byte
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submitrawtx", {"hex": v1.hex()})
        self.assertRPCError(NOT_FOUND, self.n.call, "gettx", {"txid": txid})
        # what the node builds from JSON-RPC is block-authenticated by its operator key
        r = self.assertReceipt(self.n.call("openaccount", {
            "account": acct, "kyc_tier": 1, "investor_class": "domestic_individual",
            "country": "VN", "kyc_ref": hex32(acct + "k"), "bank_ref": hex32(acct + "b")}))
        tx = self.n.call("gettx", {"txid": r["txid"]})
        self.assertEqual(tx["auth"], "block")
        self.assertNotIn("signature", tx)
        self.assertEqual(tx["signer"], txsign.pubkey(secret).hex())

    # ---- error codes

    def test_parse_error(self):
        for body in [b"{bad json", b"", b"[1, 2", b"\xff\xfe"]:
            status, data = self.n.http(body)
            reply = json.loads(data)
            self.assertEqual(self.error_of(reply), PARSE_ERROR, body)
            self.assertIsNone(reply.get("id"))
        self.assertServing()

    def test_invalid_request(self):
        cases = [
            {"jsonrpc": "2.0", "id": 1},                            # no method
            {"jsonrpc": "2.0", "id": 1, "method": 5},               # method not a string
            {"jsonrpc": "2.0", "id": 1, "method": ["getinfo"]},
            5, "getinfo", None, True,                               # not an object
        ]
        for c in cases:
            self.assertEqual(self.error_of(self.n.request(c)), INVALID_REQUEST, c)
        # an empty batch
        self.assertEqual(self.error_of(self.n.request([])), INVALID_REQUEST)
        # a bad element in a batch is answered in place
        reply = self.n.request([{"jsonrpc": "2.0", "id": 1, "method": "getinfo"}, 7,
                                {"jsonrpc": "2.0", "id": 3, "method": "nosuchmethod"}])
        self.assertIsInstance(reply, list)
        self.assertEqual(len(reply), 3)
        by_code = sorted(r["error"]["code"] if "error" in r else 0 for r in reply)
        self.assertEqual(by_code, sorted([0, INVALID_REQUEST, METHOD_NOT_FOUND]))

    def test_envelope(self):
        # ids of every allowed kind come back as sent
        for rid in ["a", 7, None]:
            reply = self.n.request({"jsonrpc": "2.0", "id": rid, "method": "getinfo"})
            self.assertEqual(reply["id"], rid)
            self.assertEqual(reply["jsonrpc"], "2.0")
            self.assertIn("result", reply)
        # only "2.0"
        for version in ["1.0", 2.0, None]:
            reply = self.n.request({"jsonrpc": version, "id": 1, "method": "getinfo"})
            self.assertEqual(self.error_of(reply), INVALID_REQUEST, version)
        # a duplicate key is not JSON we accept
        status, data = self.n.http(b'{"jsonrpc":"2.0","id":1,"method":"getinfo","method":"stop"}')
        self.assertEqual(self.error_of(json.loads(data)), PARSE_ERROR)
        self.assertServing()

    def test_notifications(self):
        """A request without id runs but gets no answer; a body of notifications only gets
        HTTP 204 (doc/rpc.md, Envelope)."""
        buyer, seller = self.n.funded_pair()
        params = fw.trade_params(buyer, seller)
        status, body = self.n.http({"jsonrpc": "2.0", "method": "submittrade", "params": params})
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        self.assertEqual(self.n.call("gettrade", {"trade_id": params["trade_id"]})["verdict"],
                         "accepted")
        p2 = fw.trade_params(buyer, seller)
        reply = self.n.request([{"jsonrpc": "2.0", "method": "submittrade", "params": p2},
                                {"jsonrpc": "2.0", "id": "x", "method": "getinfo"}])
        self.assertEqual([r["id"] for r in reply], ["x"])
        self.assertEqual(self.n.call("gettrade", {"trade_id": p2["trade_id"]})["verdict"],
                         "accepted")

    def test_rpcauth_line(self):
        """contrib/rpcauth makes NAME:SALT$HASH:ROLE with HASH = HMAC-SHA256(SALT, password), as
        doc/rpc.md says, and sbxd accepts a line made by hand the same way."""
        line = fw.contrib_rpcauth("someone", "supervisor", "s3cret")
        name, rest = line.split(":", 1)
        salt_hash, role = rest.rsplit(":", 1)
        salt, digest = salt_hash.split("$")
        self.assertEqual((name, role), ("someone", "supervisor"))
        self.assertEqual(digest, hmac.new(salt.encode(), b"s3cret", hashlib.sha256).hexdigest())

    def test_http_paths(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.n.rpcport, timeout=60)
        try:
            conn.request("GET", "/health")  # no credentials needed
            r = conn.getresponse()
            self.assertEqual((r.status, json.loads(r.read())), (200, {"status": "ok", "reasons": []}))
        finally:
            conn.close()
        status, _ = self.n.http(b"", method="GET", path="/")
        self.assertEqual(status, 405)
        status, _ = self.n.http({"jsonrpc": "2.0", "id": 1, "method": "getinfo"},
                                path="/nosuch")
        self.assertEqual(status, 404)
        self.assertServing()

    def test_batch_limits(self):
        one = {"jsonrpc": "2.0", "method": "getinfo"}
        # exactly -rpcmaxbatch (default 1,000): served
        reply = self.n.request([dict(one, id=i) for i in range(1000)])
        self.assertIsInstance(reply, list)
        self.assertEqual(len(reply), 1000)
        self.assertEqual(sorted(r["id"] for r in reply), list(range(1000)))
        self.assertTrue(all("result" in r for r in reply))
        # one more: the whole batch is refused
        reply = self.n.request([dict(one, id=i) for i in range(1001)])
        self.assertEqual(self.error_of(reply), INVALID_REQUEST)
        # 10,000 elements (about 400 KB, under the body limit)
        reply = self.n.request([dict(one, id=i) for i in range(10000)])
        self.assertEqual(self.error_of(reply), INVALID_REQUEST)
        self.assertServing()

    def test_method_not_found(self):
        for m in ["nosuchmethod", "GETINFO", "getreport_", ""]:
            self.assertRPCError(METHOD_NOT_FOUND, self.n.call, m)

    def test_invalid_params(self):
        buyer, seller = self.n.funded_pair()
        good = fw.trade_params(buyer, seller)
        cases = [
            ("quantity", 0.001),                    # a JSON number
            ("quantity", "0.000000001"),            # 9 decimals for an 8-decimal asset
            ("quantity", "-0.00100000"),            # a sign
            ("quantity", "+0.00100000"),
            ("quantity", "1e-3"),                   # exponents
            ("quantity", "1E2"),
            ("quantity", "0"),                      # must be positive
            ("quantity", ""),
            ("quantity", " 0.001"),
            ("quantity", "0x10"),
            ("quantity", "92233720368.54775808"),   # over int64 base units
            ("price", "2500000000.5"),              # VND has no decimals
            ("price", "-1"),
            ("price", 2500000000),
            ("fee_buyer", "-1"),
            ("fee_seller", "1.5"),
            ("executed_at", "1700000000000"),       # a string, not an integer
            ("executed_at", 1.5),
            ("executed_at", -5),
            ("buyer", 5),
            ("buyer", ""),
            ("buyer", "has space"),
            ("seller", buyer),                      # trading with itself
            ("trade_id", "x" * 65),                 # over 64 bytes
            ("asset", 7),
            ("unknown_field", "1"),                 # unknown parameter
        ]
        for field, value in cases:
            params = dict(good, trade_id=uid("ip"))
            params[field] = value
            e = self.assertRPCError(INVALID_PARAMS, self.n.call, "submittrade", params)
            self.assertIsInstance(e.message, str)
            if field != "trade_id":
                self.assertRPCError(NOT_FOUND, self.n.call, "gettrade",
                                    {"trade_id": params["trade_id"]})
        for missing in ["trade_id", "buyer", "seller", "asset", "quantity", "price",
                        "executed_at"]:
            params = dict(good)
            del params[missing]
            self.assertRPCError(INVALID_PARAMS, self.n.call, "submittrade", params)
        # params not an object
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submittrade", [good])
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getinfo", ["x"])
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getinfo", {"x": 1})
        # params that are not a structured value make the request invalid (JSON-RPC 2.0: params
        # MUST be an array or an object)
        self.assertRPCError(INVALID_REQUEST, self.n.call, "getinfo", 5)
        self.assertRPCError(INVALID_REQUEST, self.n.call, "submittrade", "x")

        acct = uid("ipa")
        open_ok = {"account": acct, "kyc_tier": 1, "investor_class": "domestic_individual",
                   "country": "VN", "kyc_ref": hex32(1), "bank_ref": hex32(2)}
        for field, value in [("kyc_tier", 0), ("kyc_tier", 4), ("kyc_tier", "1"),
                             ("kyc_tier", 1.0), ("investor_class", "alien"),
                             ("country", "vn"), ("country", "VNM"), ("kyc_ref", hex32(1).upper()),
                             ("kyc_ref", hex32(1)[:63]), ("bank_ref", "zz" * 32),
                             ("account", "a" * 65)]:
            self.assertRPCError(INVALID_PARAMS, self.n.call, "openaccount",
                                dict(open_ok, **{field: value}))
        self.assertRPCError(NOT_FOUND, self.n.call, "getaccount", {"account": acct})

        dep = {"transfer_id": uid("ipd"), "account": buyer, "asset": "VND", "amount": "100",
               "reference": "r"}
        for field, value in [("amount", "1.5"), ("amount", "-100"), ("amount", 100),
                             ("amount", "1e2"), ("amount", "0"),
                             ("travel_rule", "yes"),
                             ("travel_rule", {"protocol": "trisa"}),
                             ("screening", {"provider": "p", "score": 101})]:
            self.assertRPCError(INVALID_PARAMS, self.n.call, "deposit",
                                dict(dep, **{field: value}))
        self.assertRPCError(INVALID_PARAMS, self.n.call, "deposit",
                            dict(dep, asset="BTC", amount="0.123456789"))

        self.assertRPCError(INVALID_PARAMS, self.n.call, "gettx", {"txid": "xyz"})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "gettx", {"txid": hex32(1).upper()})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "gettx", {})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getblock", {})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getblock",
                            {"height": 0, "hash": hex32(0)})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getblock", {"height": -1})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "getblock", {"height": "1"})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "submitdirective",
                            {"kind": "nosuch", "reason": "r", "legal_basis": "b"})
        self.assertServing()

    def test_not_found(self):
        self.assertRPCError(NOT_FOUND, self.n.call, "gettx", {"txid": hex32(uid("nf"))})
        self.assertRPCError(NOT_FOUND, self.n.call, "gettrade", {"trade_id": uid("nf")})
        self.assertRPCError(NOT_FOUND, self.n.call, "getaccount", {"account": uid("nf")})
        self.assertRPCError(NOT_FOUND, self.n.call, "getusage", {"account": uid("nf")})
        self.assertRPCError(NOT_FOUND, self.n.call, "getblock", {"height": 10 ** 9})
        self.assertRPCError(NOT_FOUND, self.n.call, "getblock", {"hash": hex32(uid("nf"))})

    def test_roles(self):
        op, sup, adm = self.auth["op"], self.auth["sup"], self.auth["adm"]
        buyer, seller = self.n.funded_pair()
        directive = {"kind": "resume", "reason": "test", "legal_basis": "test"}
        # operator: business, not directives, not verifychain, not stop
        self.assertReceipt(self.n.trade(buyer, seller, auth=op))
        self.assertRPCError(FORBIDDEN, self.n.call, "submitdirective", directive, auth=op)
        self.assertRPCError(FORBIDDEN, self.n.call, "verifychain", auth=op)
        self.assertRPCError(FORBIDDEN, self.n.call, "stop", auth=op)
        # supervisor: reads, directives, checktrade, verifychain; no business, no stop
        tid = uid("sup")
        self.assertRPCError(FORBIDDEN, self.n.trade, buyer, seller, trade_id=tid, auth=sup)
        self.assertRPCError(NOT_FOUND, self.n.call, "gettrade", {"trade_id": tid})
        self.assertRPCError(FORBIDDEN, self.n.open_account, auth=sup)
        self.assertRPCError(FORBIDDEN, self.n.deposit, buyer, "VND", "1", auth=sup)
        self.assertRPCError(FORBIDDEN, self.n.call, "withdraw",
                            {"transfer_id": uid("w"), "account": buyer, "asset": "VND",
                             "amount": "1", "reference": "r"}, auth=sup)
        self.assertRPCError(FORBIDDEN, self.n.call, "updateaccount",
                            {"account": buyer, "kyc_tier": 2}, auth=sup)
        self.assertRPCError(FORBIDDEN, self.n.call, "stop", auth=sup)
        self.assertIs(self.n.call("verifychain", auth=sup)["ok"], True)
        self.assertIn("ok", self.n.call("checktrade", fw.trade_params(buyer, seller), auth=sup))
        self.assertEqual(self.n.call("getaccount", {"account": buyer}, auth=sup)["account"],
                         buyer)
        self.assertReceipt(self.n.call("submitdirective", directive, auth=sup))
        # admin: everything (stop is tested on a node of its own)
        self.assertReceipt(self.n.trade(buyer, seller, auth=adm))
        self.assertReceipt(self.n.call("submitdirective", directive, auth=adm))
        self.assertIs(self.n.call("verifychain", auth=adm)["ok"], True)
        # the role check comes before the params check
        self.assertRPCError(FORBIDDEN, self.n.call, "submittrade", {"junk": 1}, auth=sup)

    def test_conflict_and_idempotency(self):
        buyer, seller = self.n.funded_pair()
        params = fw.trade_params(buyer, seller)
        first = self.n.call("submittrade", params)
        again = self.n.call("submittrade", params)
        self.assertEqual(again, first)
        e = self.assertRPCError(CONFLICT, self.n.call, "submittrade",
                                dict(params, quantity="0.00200000"))
        self.assertIsInstance(e.message, str)
        # the first trade stands
        self.assertEqual(self.n.call("gettrade", {"trade_id": params["trade_id"]})["quantity"],
                         params["quantity"])
        tid = uid("dep")
        d1 = self.n.deposit(buyer, "VND", "100", transfer_id=tid)
        self.assertEqual(self.n.deposit(buyer, "VND", "100", transfer_id=tid)["txid"], d1["txid"])
        self.assertRPCError(CONFLICT, self.n.deposit, buyer, "VND", "101", transfer_id=tid)
        acct, o1 = self.n.open_account()
        self.assertEqual(self.n.open_account(account=acct)[1]["txid"], o1["txid"])
        self.assertRPCError(CONFLICT, self.n.open_account, account=acct, tier=2)

    def test_rejection_is_recorded(self):
        buyer, seller = self.n.funded_pair()
        data = self.assertRejected("limit.per_trade", self.n.trade, buyer, seller,
                                   quantity="0.05000000")
        self.assertEqual(data["limit"], "100000000")
        self.assertEqual(data["requested"], "125000000")
        self.assertIsInstance(data.get("message"), str)
        tx = self.n.call("gettx", {"txid": data["txid"]})
        self.assertEqual(tx["verdict"], "rejected")
        self.assertEqual(tx["rule"], "limit.per_trade")
        self.assertEqual(tx["height"], data["height"])
        # no balance moved
        self.assertEqual(self.n.call("getaccount", {"account": buyer})["balances"]["BTC"],
                         "0.00000000")
        for bad_rule, kw in [("asset.unlisted", {"asset": "DOGE", "quantity": "1"}),
                             ("settlement.currency", {"asset": "VND", "quantity": "1000",
                                                      "price": "1"})]:
            self.assertRejected(bad_rule, self.n.trade, buyer, seller, **kw)
        self.assertRejected("balance.insufficient", self.n.trade, seller, buyer)
        self.assertRejected("travel_rule.missing", self.n.deposit, buyer, "BTC", "0.01000000",
                            travel_rule=False)

    # ---- HTTP level

    def test_http_auth(self):
        body = {"jsonrpc": "2.0", "id": 1, "method": "getinfo"}
        user, password = self.n.cookie()
        for auth in [False, (user, password + "x"), ("nobody", password), ("op", "wrong"),
                     ("", "")]:
            status, data = self.n.http(body, auth=auth)
            self.assertEqual(status, 401, auth)
            self.assertNotIn(b'"result"', data)
        conn = http.client.HTTPConnection("127.0.0.1", self.n.rpcport, timeout=60)
        try:
            conn.request("POST", "/", body=json.dumps(body))
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 401)
            self.assertTrue(r.getheader("WWW-Authenticate", "").startswith("Basic"))
        finally:
            conn.close()
        status, _ = self.n.http(body, headers={"Authorization": "Bearer abc"})
        self.assertEqual(status, 401)
        status, _ = self.n.http(body, headers={"Authorization": "Basic !!notbase64!!"})
        self.assertEqual(status, 401)
        self.assertServing()

    def test_http_body_limits(self):
        # 2 MB: HTTP 413
        status, _ = self.raw_http(self.head(2 * 1024 * 1024), b"x" * (2 * 1024 * 1024),
                                  read_first=True)
        self.assertEqual(status, 413)
        self.assertServing()
        # exactly -rpcmaxbody (1 MiB): read and answered as JSON-RPC (an over-long account id)
        limit = 1024 * 1024
        prefix = b'{"jsonrpc":"2.0","id":1,"method":"getaccount","params":{"account":"'
        suffix = b'"}}'
        body = prefix + b"a" * (limit - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(body), limit)
        status, data = self.raw_http(self.head(len(body)), body)
        self.assertEqual(self.error_of(json.loads(data)), INVALID_PARAMS)
        # one byte more: HTTP 413
        body = prefix + b"a" * (limit + 1 - len(prefix) - len(suffix)) + suffix
        status, _ = self.raw_http(self.head(len(body)), body, read_first=True)
        self.assertEqual(status, 413)
        self.assertServing()

    def test_keepalive_and_pipelining(self):
        # many requests on one connection, as sbx-bench sends them
        user, password = self.n.cookie()
        h = {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (user, password)).encode()).decode(), "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.n.rpcport, timeout=60)
        try:
            for i in range(50):
                conn.request("POST", "/", body=json.dumps(
                    {"jsonrpc": "2.0", "id": i, "method": "getinfo"}), headers=h)
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read())["id"], i)
        finally:
            conn.close()

    def test_every_method_is_known(self):
        """Every method of doc/rpc.md exists for the admin cookie (none answers -32601)."""
        for m in METHODS:
            if m == "stop":
                continue
            try:
                self.n.call(m, {"__no_such_param__": 1})
            except fw.RPCError as e:
                self.assertNotEqual(e.code, METHOD_NOT_FOUND, m)
                self.assertEqual(e.code, INVALID_PARAMS, (m, e))
            else:
                self.fail("%s accepted an unknown parameter" % m)


class LimitsTest(fw.NodeTestCase):
    """-rpcmaxbatch, -rpcmaxbody and -rpcmaxconns set low, each tested at the limit and one
    over."""

    def test_queue_max(self):
        """-queuemax: the submissions of one batch are admitted together, in call order; at the
        limit every one is taken, one over and the last is refused with -32006 (and recorded
        nowhere)."""
        n = self.node(extra_args=["-queuemax=3"])
        n.open_account()  # durable: nothing else is in flight now

        def opens(k):
            calls = []
            for _ in range(k):
                a = uid("q")
                calls.append(("openaccount", {"account": a, "kyc_tier": 1,
                                              "investor_class": "domestic_individual",
                                              "country": "VN", "kyc_ref": hex32(a + "k"),
                                              "bank_ref": hex32(a + "b")}))
            return calls

        over = opens(4)
        replies = n.batch(over)
        for r in replies[:3]:
            self.assertEqual(r.get("result", {}).get("verdict"), "accepted", r)
        self.assertEqual(replies[3]["error"]["code"], fw.OVERLOADED)
        refused = over[3][1]["account"]
        with self.assertRaises(fw.RPCError) as e:
            n.call("getaccount", {"account": refused})
        self.assertEqual(e.exception.code, NOT_FOUND)
        for r in n.batch(opens(3)):
            self.assertEqual(r.get("result", {}).get("verdict"), "accepted", r)

    def test_limits(self):
        n = self.node(extra_args=["-rpcmaxbatch=5", "-rpcmaxbody=4096", "-rpcmaxconns=3"])
        one = {"jsonrpc": "2.0", "method": "getinfo"}
        self.assertEqual(len(n.request([dict(one, id=i) for i in range(5)])), 5)
        reply = n.request([dict(one, id=i) for i in range(6)])
        self.assertEqual(reply["error"]["code"], INVALID_REQUEST)
        body = json.dumps(dict(one, id="x" * 10)).encode()
        pad = 4096 - len(body)
        exact = body[:-1] + b" " * pad + b"}"
        self.assertEqual(len(exact), 4096)
        status, data = n.http(exact)
        self.assertEqual(status, 200)
        self.assertIn("result", json.loads(data))
        status, _ = n.http(exact[:-1] + b" }")
        self.assertEqual(status, 413)
        self.assertEqual(n.call("getinfo")["network"], "sbx-devnet")

        # three connections held open; a fourth is refused with 503
        user, password = n.cookie()
        h = {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (user, password)).encode()).decode()}
        held = []

        def hold():
            """A connection that got 200, or None: the server frees the slot of a connection
            the client closed (the requests above) only once it has seen the close."""
            c = http.client.HTTPConnection("127.0.0.1", n.rpcport, timeout=60)
            c.request("POST", "/", body=json.dumps(dict(one, id=1)), headers=h)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return c
            self.assertEqual(r.status, 503)
            c.close()
            return None
        try:
            for _ in range(3):
                held.append(in_time(hold, 30, "a connection slot"))
            c = http.client.HTTPConnection("127.0.0.1", n.rpcport, timeout=60)
            try:
                c.request("POST", "/", body=json.dumps(dict(one, id=1)), headers=h)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 503)
            finally:
                c.close()
        finally:
            for c in held:
                c.close()
        # once they are gone, connections are served again
        def served():
            try:
                return n.call("getinfo")["network"] == "sbx-devnet"
            except fw.HTTPError as e:
                self.assertEqual(e.status, 503)
                return False
        fw.in_time(served, what="service after the connections closed")


class StopTest(fw.NodeTestCase):
    def test_stop_rpc(self):
        n = self.node(extra_args=[])
        op = n.add_user("op", "operator")
        n.restart()
        self.assertRPCError(FORBIDDEN, n.call, "stop", auth=op)
        self.assertIsNone(n.proc.poll())
        n.call("stop")
        self.assertEqual(n.proc.wait(fw.STOP_TIMEOUT), 0)
        self.assertFalse(os.path.exists(n.cookie_path()), "the cookie is removed at stop")
        self.assertFalse(os.path.exists(os.path.join(n.datadir, "sbxd.pid")),
                         "the default pid file is removed at stop")

    def test_pid_file(self):
        """-pid: the file holds the daemon's pid while it runs (a relative path is in the
        datadir) and is gone after SIGTERM, so that logrotate never signals a stale pid."""
        n = self.node(extra_args=["-pid=custom.pid"])
        path = os.path.join(n.datadir, "custom.pid")
        with open(path) as f:
            self.assertEqual(f.read(), "%d\n" % n.proc.pid)
        self.assertFalse(os.path.exists(os.path.join(n.datadir, "sbxd.pid")))
        n.proc.terminate()
        self.assertEqual(n.proc.wait(fw.STOP_TIMEOUT), 0)
        self.assertFalse(os.path.exists(path), "the pid file is removed at stop")


if __name__ == "__main__":
    unittest.main()
