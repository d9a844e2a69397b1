"""JSON-RPC over TLS and -rpcallowip (doc/operations.md, "RPC over TLS"): a node with rpctls=1
makes its own key pair on first start and prints and logs the certificate's fingerprint; a
supervisor on another address (127.0.0.2) calls it with `sbx-cli -rpctls -rpcfingerprint`; a wrong
fingerprint, an unpinned certificate and plain HTTP are refused before any request is sent; a
client outside -rpcallowip gets HTTP 403. Several connections held at once spread over the RPC
loops, so TLS is served by more than one of them. A node listening beyond loopback without TLS
warns at start."""

import hashlib
import http.client
import json
import os
import re
import ssl
import stat
import subprocess

import framework as fw

SUP_ADDR = "127.0.0.2"
LOOPS = 3


def unverified():
    """A client context that accepts any certificate (the test pins by hand where it matters)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class RPCTLSTest(fw.NodeTestCase):

    def tls_node(self):
        n = self.node(start=False, extra_args=[
            "-rpctls=1", "-rpcbind=" + SUP_ADDR, "-rpcallowip=%s/32" % SUP_ADDR,
            "-rpcthreads=%d" % LOOPS])
        n.rpchost, n.rpcsource, n.ssl_context = SUP_ADDR, SUP_ADDR, unverified()
        self.sup = n.add_user("sup", "supervisor")
        return n.start()

    def cli(self, n, *args, source=SUP_ADDR):
        a = [fw.binary("sbx-cli"), "-rpcconnect=" + SUP_ADDR, "-rpcport=%d" % n.rpcport,
             "-rpcuser=" + self.sup[0], "-rpcpassword=" + self.sup[1], "-rpcclienttimeout=60"]
        if source:
            a.append("-rpcsource=" + source)
        return subprocess.run(a + list(args), capture_output=True, text=True, timeout=120)

    def test_tls_pinned_supervisor(self):
        n = self.tls_node()
        crt, key = (os.path.join(n.datadir, f) for f in ("rpc.crt", "rpc.key"))
        fp = cert_fingerprint(crt)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        # the fingerprint is logged, and printed on the start that made the pair
        self.assertIn(fp, re.findall(r"fingerprint ([0-9a-f]{64})", fw.debug_log(n)))
        with open(n.log_path) as f:
            self.assertEqual(re.findall(r"\(SHA-256\): ([0-9a-f]{64})", f.read()), [fp])

        r = self.cli(n, "-rpctls", "-rpcfingerprint=" + fp, "getsupervision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("regulators", json.loads(r.stdout))
        # OpenSSL's spelling of the same fingerprint; -rpcfingerprint alone implies -rpctls
        colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
        r = self.cli(n, "-rpcfingerprint=" + colons, "getinfo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["role"], "operator")

        # refused before the request: a wrong pin, no pin (a self-signed certificate), plain HTTP
        wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
        r = self.cli(n, "-rpctls", "-rpcfingerprint=" + wrong, "getinfo")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(fp, r.stderr)  # the certificate it saw, to compare out of band
        r = self.cli(n, "-rpctls", "getinfo")
        self.assertEqual(r.returncode, 3, r.stderr)
        r = self.cli(n, "getinfo")
        self.assertEqual(r.returncode, 3, r.stderr)

        # outside -rpcallowip: 127.0.0.1 is refused with 403, whatever the credentials
        r = self.cli(n, "-rpcfingerprint=" + fp, "getinfo", source=None)
        self.assertEqual(r.returncode, 3, r.stderr)
        n.rpcsource = "127.0.0.1"
        status, _ = n.http({"jsonrpc": "2.0", "id": 1, "method": "getinfo"}, auth=self.sup)
        self.assertEqual(status, 403)
        n.rpcsource = SUP_ADDR
        self.assertEqual(n.call("getinfo", auth=self.sup)["role"], "operator")

        # TLS on every loop: connections held open at once are spread over the loops (a loop
        # takes at most its share), and each serves kept-alive requests
        conns = [http.client.HTTPSConnection(SUP_ADDR, n.rpcport, timeout=fw.RPC_TIMEOUT,
                                             source_address=(SUP_ADDR, 0), context=unverified())
                 for _ in range(3 * LOOPS)]
        try:
            for rnd in range(3):
                for c in conns:
                    h = {"Content-Type": "application/json"}
                    h.update(n._auth_header(self.sup))
                    c.request("POST", "/", body=json.dumps(
                        {"jsonrpc": "2.0", "id": rnd, "method": "getinfo"}), headers=h)
                    resp = c.getresponse()
                    self.assertEqual(resp.status, 200)
                    self.assertEqual(json.loads(resp.read())["result"]["role"], "operator")
        finally:
            for c in conns:
                c.close()

        # the pair is kept: same fingerprint after a restart, and nothing printed again
        n.restart()
        self.assertEqual(cert_fingerprint(crt), fp)
        r = self.cli(n, "-rpcfingerprint=" + fp, "getinfo")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(n.log_path) as f:
            self.assertEqual(len(re.findall(r"\(SHA-256\): ", f.read())), 1)
        self.assertNotIn("without TLS", fw.debug_log(n))

    def test_warning_and_bad_options(self):
        # beyond loopback in clear: a warning at start (a node on 127.0.0.2 has none, above)
        n = self.node(extra_args=["-rpcbind=0.0.0.0", "-rpcallowip=127.0.0.1"])
        fw.in_time(lambda: "without TLS" in fw.debug_log(n), what="the clear-text warning")
        self.assertEqual(n.call("getinfo")["role"], "operator")
        # the certificate and key go together, and need rpctls; a range with host bits is bad
        d = os.path.join(self.tmp, "bad")
        for args in (["-rpctls=1", "-rpctlscert=" + os.path.join(d, "x.crt")],
                     ["-rpctlscert=/nonexistent/a.crt", "-rpctlskey=/nonexistent/a.key"],
                     ["-rpctls=1", "-rpctlscert=/nonexistent/a.crt",
                      "-rpctlskey=/nonexistent/a.key"],
                     ["-rpcallowip=10.1.2.3/8"], ["-rpcallowip=nonsense"]):
            r = subprocess.run([fw.binary("sbxd"), "-devnet", "-datadir=" + d,
                                "-rpcport=%d" % fw.free_port(), "-port=%d" % fw.free_port(),
                                "-printtoconsole=0"] + args,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))

    def test_local_cli_and_events(self):
        # the local sbx-cli pins the datadir's own certificate; the event stream is TLS too
        n = self.node(start=False, extra_args=["-rpctls=1"])
        n.ssl_context = unverified()
        n.start()
        base = [fw.binary("sbx-cli"), "-datadir=" + n.datadir, "-rpcclienttimeout=60"]
        r = subprocess.run(base + ["-rpctls", "getinfo"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["role"], "operator")
        r = subprocess.run(base + ["getinfo"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 3, r.stderr)
        c = http.client.HTTPSConnection("127.0.0.1", n.rpcport, timeout=fw.RPC_TIMEOUT,
                                        context=unverified())
        try:
            c.request("GET", "/events?topics=block", headers=n._auth_header(None))
            resp = c.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))
            n.open_account()  # a block: its event arrives over the stream
            seen = b""
            while b"event: block" not in seen:
                line = resp.fp.readline()
                self.assertTrue(line, "the stream ended")
                seen += line
        finally:
            c.close()
