"""HTTP on every core (-rpcthreads, doc/operations.md): four event loops serving at once. Many
clients on kept-alive connections submit trades and read (getinfo, gettx, getaccount) while
several /events streams follow the chain; every receipt is found afterwards and every stream sees
every block. Then a stop while clients are mid-request: a clean exit, and after a restart every
receipt given is found. And the sockets themselves, read from the node's side (/proc, pidfd_getfd,
ss): every connection has TCP_NODELAY, a burst of connections is shared between the loops, and
the listen backlog holds -rpcmaxconns."""

import ctypes
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

import framework as fw
from test_events import Stream

THREADS = 4
CLIENTS = 8
TRADES = 25  # per client
STREAMS = 3


def server_sockets(pid, port):
    """{fd: the remote port} of the established TCP connections to local `port` that process
    `pid` holds (from /proc/PID/fd and /proc/net/tcp)."""
    remote = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, peer, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "01" and int(local.split(":")[1], 16) == port:
                remote[inode] = int(peer.split(":")[1], 16)
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in remote:
            out[int(fd)] = remote[target[8:-1]]
    return out


def epoll_sets(pid):
    """The fds each epoll instance of process `pid` watches (/proc/PID/fdinfo: one "tfd:"
    line per watched fd), one set per instance."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[eventpoll]":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                out.append({int(line.split()[1]) for line in f if line.startswith("tfd:")})
        except OSError:
            continue
    return out


def nodelay_of(pid, fd):
    """TCP_NODELAY of process `pid`'s socket `fd`, read through a copy of it (pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        mine = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86-64
        if mine < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd: " + os.strerror(ctypes.get_errno()))
        s = socket.socket(fileno=mine)
        try:
            return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            s.detach()
            os.close(mine)
    finally:
        os.close(pidfd)


class Client:
    """One kept-alive HTTP connection (so that its requests stay on one loop)."""

    def __init__(self, node, timeout=fw.RPC_TIMEOUT):
        self.node = node
        self.conn = http.client.HTTPConnection("127.0.0.1", node.rpcport, timeout=timeout)
        self.headers = {"Content-Type": "application/json"}
        self.headers.update(node._auth_header(None))
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}
        self.conn.request("POST", "/", body=json.dumps(req).encode(), headers=self.headers)
        resp = self.conn.getresponse()
        reply = json.loads(resp.read())
        if reply.get("error") is not None:
            e = reply["error"]
            raise fw.RPCError(e.get("code"), e.get("message"), e.get("data"))
        return reply["result"]

    def close(self):
        self.conn.close()


def blocks_until(stream, height, timeout=120):
    """Block heights a topics=block stream gives until `height`."""
    out = []
    deadline = time.monotonic() + timeout
    while not out or out[-1] < height:
        ev = stream.next(max(0.1, deadline - time.monotonic()))
        if ev is None:
            raise AssertionError("no block %d within %d s (last %r)" %
                                 (height, timeout, out[-1:]))
        if ev["event"] == "block":
            out.append(ev["data"]["height"])
    return out


class RPCThreadsTest(fw.NodeTestCase):

    def run_clients(self, n, pairs, work):
        """Run work(client, index, pair) on CLIENTS threads; returns their results, re-raising
        the first failure."""
        results, errors = [None] * CLIENTS, []

        def body(i):
            c = Client(n)
            try:
                results[i] = work(c, i, pairs[i % len(pairs)])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                c.close()

        threads = [threading.Thread(target=body, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results

    def test_many_clients_and_streams(self):
        n = self.node("op", extra_args=["-rpcthreads=%d" % THREADS])
        pairs = [n.funded_pair() for _ in range(CLIENTS // 2)]
        start = n.call("getinfo")["height"]
        streams = [Stream(n, "?from=0&topics=block") for _ in range(STREAMS)]
        for s in streams:
            self.assertEqual(s.status, 200)
        seen = [[] for _ in streams]
        stop_reading = threading.Event()

        def read(i):
            # keep every stream drained while the load runs (a live stream that is not read
            # past its queue cap is disconnected)
            while not stop_reading.is_set():
                ev = streams[i].next(0.5)
                if ev is not None and ev["event"] == "block":
                    seen[i].append(ev["data"]["height"])

        readers = [threading.Thread(target=read, args=(i,)) for i in range(STREAMS)]
        for r in readers:
            r.start()

        def work(c, i, pair):
            buyer, seller = pair
            txids = []
            for k in range(TRADES):
                r = c.call("submittrade", fw.trade_params(buyer, seller))
                txids.append(r["txid"])
                if k % 5 == 0:
                    self.assertGreaterEqual(c.call("getinfo")["height"], r["height"])
                    self.assertEqual(c.call("gettx", {"txid": r["txid"]})["height"],
                                     r["height"])
                    c.call("getaccount", {"account": buyer})
            return txids

        try:
            results = self.run_clients(n, pairs, work)
        finally:
            stop_reading.set()
            for r in readers:
                r.join()
        txids = [t for r in results for t in r]
        self.assertEqual(len(set(txids)), CLIENTS * TRADES)
        for t in txids:
            n.call("gettx", {"txid": t})
        height = n.call("getinfo")["height"]
        self.assertGreater(height, start)
        for i, s in enumerate(streams):
            got = seen[i] + (blocks_until(s, height) if not seen[i] or seen[i][-1] < height
                             else [])
            s.close()
            self.assertEqual(got[:height + 1], list(range(height + 1)),
                             "stream %d saw every block, in order" % i)
        # the pages that live on the node's loop answer from any loop
        for _ in range(2 * THREADS):
            c = Client(n)
            self.assertIn("peers", c.call("getpeerinfo"))
            c.close()
            status, _ = n.http(b"", method="GET", path="/health", auth=False)
            self.assertEqual(status, 200)
            status, body = n.http(b"", method="GET", path="/metrics")
            self.assertEqual(status, 200)
            self.assertIn(b"sbx_rpc_requests_total", body)

    def test_replies_are_not_delayed_by_nagle(self):
        """Every RPC connection, on every loop, has TCP_NODELAY: libevent writes a reply in pieces
        of at most 16 KiB, and with Nagle's rule the last piece of a larger one (a batch's) waited
        for the client's delayed ACK, up to 40 ms. Read from the server's own sockets (pidfd_getfd
        on Linux >= 5.6), matched to the client's by port."""
        n = self.node("op", extra_args=["-rpcthreads=2"])
        clients = [Client(n) for _ in range(6)]
        try:
            for c in clients:
                c.call("getinfo")  # connected and served: on one loop or the other
            ports = {c.conn.sock.getsockname()[1] for c in clients}
            seen = {}
            for fd, port in server_sockets(n.proc.pid, n.rpcport).items():
                if port in ports:
                    seen[port] = nodelay_of(n.proc.pid, fd)
            self.assertEqual(set(seen), ports, "the server's end of every connection found")
            self.assertEqual(set(seen.values()), {1}, "TCP_NODELAY on every connection")
            # and a batch whose reply is larger than one write still arrives whole
            batch = [{"jsonrpc": "2.0", "id": i, "method": "getinfo"} for i in range(80)]
            c = clients[0]
            c.conn.request("POST", "/", body=json.dumps(batch).encode(), headers=c.headers)
            body = c.conn.getresponse().read()
            self.assertGreater(len(body), 16384)
            self.assertEqual(sorted(r["id"] for r in json.loads(body)), list(range(80)))
        finally:
            for c in clients:
                c.close()

    def test_a_burst_of_connections_is_shared(self):
        """Clients that connect all at once (a gateway opening its pool) are shared between the
        loops: no loop holds more than its share (all / loops + 1) and one more, even when one
        loop had paused before the burst. Each connection's loop is the epoll instance that
        holds its socket once the connection is idle."""
        n = self.node("op", extra_args=["-rpcthreads=2"])
        auth = n._auth_header(None)["Authorization"]
        request = ("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
        body = '{"jsonrpc":"2.0","id":1,"method":"getinfo"}'
        raw = (request % (auth, len(body), body)).encode()

        def burst(count):
            socks = [socket.create_connection(("127.0.0.1", n.rpcport), fw.RPC_TIMEOUT)
                     for _ in range(count)]
            for s in socks:
                s.sendall(raw)
            for s in socks:  # every one answered: accepted, read, and idle on its loop again
                got = b""
                while b'"result"' not in got or not got.rstrip().endswith(b"}}"):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "the node closed a connection: %r" % got)
                    got += chunk
            return socks

        for s in burst(3):  # a few first (one loop may pause on them), then closed
            s.close()
        socks = burst(3) + burst(61)
        try:
            ports = {s.getsockname()[1] for s in socks}
            fds = {fd: p for fd, p in server_sockets(n.proc.pid, n.rpcport).items()
                   if p in ports}
            self.assertEqual(set(fds.values()), ports, "the server's end of every connection")
            held = [len(set(fds) & watched) for watched in epoll_sets(n.proc.pid)]
            held = sorted(h for h in held if h)
            self.assertEqual(sum(held), len(socks), "each connection on one loop: %r" % held)
            self.assertEqual(len(held), 2, "both loops serve: %r" % held)
            self.assertLessEqual(held[-1], len(socks) // 2 + 2, "no loop over its share: %r" % held)
        finally:
            for s in socks:
                s.close()

    def test_listen_backlog_holds_every_connection(self):
        """The listening socket's backlog is -rpcmaxconns (evhttp's own is 128): a pool of
        clients connecting at once while the loops are busy is not dropped at the SYN and made
        to wait a second for its retry. Read with ss (iproute2): Send-Q of a listening socket."""
        ss = shutil.which("ss")
        if ss is None:
            if os.environ.get("CI") == "true":
                raise AssertionError("ss is not installed (contrib/quickstart test installs iproute2)")
            raise unittest.SkipTest("ss is not installed (apt-get install iproute2)")
        for maxconns, want in ((None, 512), (300, 300), (50, 128)):
            extra = ["-rpcthreads=2"] + (["-rpcmaxconns=%d" % maxconns] if maxconns else [])
            if maxconns is not None and maxconns < 256:
                extra.append("-rpcmaxconnsperip=%d" % maxconns)
            n = self.node("op%s" % (maxconns or ""), extra_args=extra)
            out = subprocess.run([ss, "-Hltn", "sport = :%d" % n.rpcport], capture_output=True,
                                 text=True, check=True).stdout.split()
            self.assertEqual(out[0], "LISTEN", out)
            self.assertEqual(int(out[2]), want, "backlog with -rpcmaxconns=%s: %r" % (maxconns, out))
            n.stop()

    def test_stop_mid_request(self):
        n = self.node("op", extra_args=["-rpcthreads=%d" % THREADS])
        pairs = [n.funded_pair() for _ in range(CLIENTS // 2)]
        acked, lock = [], threading.Lock()
        go_stop = threading.Event()

        def work(c, i, pair):
            buyer, seller = pair
            while True:
                try:
                    r = c.call("submittrade", fw.trade_params(buyer, seller))
                except (OSError, http.client.HTTPException, ValueError, fw.RPCError):
                    return None  # the node went (or refused while stopping)
                with lock:
                    acked.append(r["txid"])
                    if len(acked) >= CLIENTS * 5:
                        go_stop.set()

        threads = threading.Thread(target=self.run_clients, args=(n, pairs, work))
        threads.start()
        self.assertTrue(go_stop.wait(120), "clients got receipts")
        try:
            n.call("stop")
        except (OSError, http.client.HTTPException, fw.HTTPError):
            pass  # the reply may be lost with the connection
        n.proc.wait(fw.STOP_TIMEOUT)
        threads.join()
        self.assertEqual(n.stop(), 0, "a clean exit:\n" + n.tail())
        n.start()
        for t in acked:
            n.call("gettx", {"txid": t})  # every receipt given is durable
        # and SIGTERM stops every loop too
        self.assertEqual(n.stop(), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
