"""The peer port's front door (doc/operations.md, "Peer links"; node/p2p_conn.c) against real
sbxd processes: strangers that open TCP connections to the operator's peer port and hold them
(idle, or trickling the bytes of a TLS ClientHello) do not keep a regulator out; one IP address
gets at most -peeraddrhandshakes connections still in the handshake and the excess is refused
at once; the handshake deadline (-peerhandshaketimeout) counts from the accept, so a client that
sends one byte a second is still closed when it passes; at the file limit the listener pauses
instead of spinning and logs one warning line.

Strangers connect from other loopback addresses (127.0.0.2 and up) than the nodes (127.0.0.1),
as they would from other hosts, so that the per-address caps of the attackers and of the
regulator stay apart."""

import os
import resource
import selectors
import socket
import ssl
import struct
import threading
import time
import unittest

import framework as fw
from framework import in_time

T = fw.SYNC_TIMEOUT

# The first bytes of a TLS 1.3 ClientHello: a record header announcing 512 bytes, then the
# handshake header and the start of the hello. Sent slowly, never completed.
HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(64)

DEFAULT_ADDR_HANDSHAKES = 4  # -peeraddrhandshakes (node/p2p.h P2P_DEFAULT_ADDR_HANDSHAKES)


def stranger_socket(src):
    """A TCP socket bound to the local address `src` (any port). It leaves nothing behind that
    could keep a later node from listening on all addresses at its port: SO_REUSEADDR (a
    TIME_WAIT socket without it blocks such a bind for a minute, and free_port() cannot see it
    on another address) and a close that resets instead of lingering."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind((src, 0))
    return s


def stranger(port, src, timeout=10):
    """A TCP connection to 127.0.0.1:port from the local address `src`."""
    s = stranger_socket(src)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s, wait):
    """True if the peer closed `s` (EOF or reset) within `wait` seconds; False if it is still
    open then. Whatever the peer sent first (a TLS alert) is read past."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            data = s.recv(4096)
        except socket.timeout:
            return False
        except OSError:
            return True
        if not data:
            return True


class Strangers(threading.Thread):
    """Holds `per_addr` connections from each of `addrs` to a peer port, idle, or (trickle) each
    sending one byte of a ClientHello every second; a connection the node closes is opened
    again after `reopen_s`, as an attacker that wants to keep the port full would."""

    def __init__(self, port, addrs, per_addr, trickle=False, reopen_s=1.0):
        super().__init__(daemon=True)
        self.port, self.addrs, self.per_addr = port, addrs, per_addr
        self.trickle, self.reopen_s = trickle, reopen_s
        self.opened = 0
        self.closed = 0
        self.errors = []
        self._halt = threading.Event()
        self._sel = selectors.DefaultSelector()

    def _open(self, src):
        try:
            s = stranger(self.port, src)
        except OSError as e:  # a refused connect would be a finding, not a reason to stop
            self.errors.append("%s: %r" % (src, e))
            return
        s.setblocking(False)
        self._sel.register(s, selectors.EVENT_READ, {"src": src, "sent": 0})
        self.opened += 1

    def run(self):
        again = []  # (time, src) of connections to open again
        for src in self.addrs:
            for _ in range(self.per_addr):
                self._open(src)
        last_tick = time.monotonic()
        while not self._halt.is_set():
            for key, _ in self._sel.select(0.1):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(key, again)
            now = time.monotonic()
            while again and again[0][0] <= now:
                self._open(again.pop(0)[1])
            if self.trickle and now - last_tick >= 1.0:
                last_tick = now
                for key in list(self._sel.get_map().values()):
                    d = key.data
                    try:
                        key.fileobj.send(HELLO[d["sent"] % len(HELLO):][:1])
                        d["sent"] += 1
                    except OSError:
                        self._drop(key, again)
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()

    def _drop(self, key, again):
        self._sel.unregister(key.fileobj)
        key.fileobj.close()
        self.closed += 1
        again.append((time.monotonic() + self.reopen_s, key.data["src"]))

    def held(self):
        return len(self._sel.get_map())

    def stop(self):
        self._halt.set()
        self.join(30)


def tls_answered(s, wait):
    """True if the node answers a TLS ClientHello on `s` within `wait` seconds (the handshake
    completes, or the node ends it with an alert: either way it accepted and served the
    connection); False if nothing comes back in time (still in the listen queue)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.settimeout(wait)
    try:
        with ctx.wrap_socket(s, do_handshake_on_connect=False) as t:
            t.do_handshake()
    except (socket.timeout, TimeoutError):
        return False
    except (ssl.SSLError, OSError):
        return True
    return True


def count_lines(node, needle, level=None):
    """Lines of the node's debug.log holding `needle` (at `level`, "warning", if given)."""
    tag = "] %s: " % level if level else ""
    return sum(1 for line in fw.debug_log(node).splitlines() if needle in line and tag in line)


def cpu_seconds(pid):
    """User plus system CPU time of process `pid` so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeerDoorTest(fw.NodeTestCase):

    def test_regulator_links_while_strangers_hold_the_port(self):
        """64 idle connections from 16 addresses (4 each, the per-address cap) and 8 that
        trickle a ClientHello hold the operator's peer port, opened again whenever the node
        closes them; a regulator started then links and follows, and links again after a
        restart. The operator's log shows strangers being dropped for newer connections."""
        net = fw.Network(self, regulators=1, operator_args=["-debug=p2p"])
        op, reg = net.operator, net.regulators[0]
        a, _ = op.open_account()
        net.wait_synced()
        reg.stop()

        idle = Strangers(op.p2pport, ["127.0.0.%d" % i for i in range(2, 18)], 4)
        slow = Strangers(op.p2pport, ["127.0.0.18", "127.0.0.19"], 4, trickle=True)
        idle.start()
        slow.start()
        try:
            in_time(lambda: idle.opened >= 64 and slow.opened >= 8, 60, "72 strangers connected")
            # the strangers keep the port full: the node closes them and they come back
            in_time(lambda: idle.opened + slow.opened >= 72 + 32, 60, "32 strangers reopened")
            for round_ in range(2):
                before = count_lines(reg, "(outbound): closed")
                t0 = time.monotonic()
                reg.start()
                in_time(lambda: any(p["key"] == net.reg_keys[0]
                                    for p in op.call("getpeerinfo")["peers"]), T,
                        "the regulator linked to the operator (round %d)" % round_)
                linked_s = time.monotonic() - t0
                op.deposit(a, "VND", "1000")
                net.wait_synced([reg])
                failed = count_lines(reg, "(outbound): closed") - before
                print("round %d: regulator linked in %.2f s, %d failed attempts; strangers "
                      "opened %d, closed by the node %d" % (
                          round_, linked_s, failed, idle.opened + slow.opened,
                          idle.closed + slow.closed), flush=True)
                # a known key gets a slot at its first try (a stranger can push it out only by
                # opening 16 connections during its few milliseconds of handshake)
                self.assertLessEqual(failed, 1, fw.debug_log(reg)[-3000:])
                self.assertGreater(idle.held() + slow.held(), 0, "the strangers still hold")
                if round_ == 0:
                    reg.stop()
        finally:
            idle.stop()
            slow.stop()
        self.assertEqual(idle.errors + slow.errors, [])
        # the handshake slots (16) were full and the strangers pushed each other out
        self.assertGreater(count_lines(op, "dropped for a newer connection"), 0)
        # the node is fine: it answers and the regulator attested
        net.wait_attested(net.last_substantive())

    def test_per_address_limits(self):
        """From one address exactly -peeraddrhandshakes connections stay, each one over is
        closed at once; another address still gets in. Only a burst of those refusals is
        logged at warning level, the rest at debug level."""
        op = self.node("op", extra_args=["-bind=127.0.0.1", "-debug=p2p"])
        conns, over = [], []
        for _ in range(DEFAULT_ADDR_HANDSHAKES):
            conns.append(stranger(op.p2pport, "127.0.0.2"))
        for _ in range(8):
            s = stranger(op.p2pport, "127.0.0.2")
            self.assertTrue(closed_by_peer(s, 30), "a connection over the cap was not closed")
            over.append(s)
        other = stranger(op.p2pport, "127.0.0.3")
        self.assertFalse(closed_by_peer(other, 1.0), "another address was refused")
        for s in conns:
            self.assertFalse(closed_by_peer(s, 0.05), "a connection within the cap was closed")
        refused = "(inbound): refused: too many handshakes from this address"
        in_time(lambda: count_lines(op, refused) == 8, 30, "8 refusals logged")
        self.assertLessEqual(count_lines(op, refused, "warning"), 5)
        self.assertGreaterEqual(count_lines(op, refused, "debug"), 3)
        for s in conns + over + [other]:
            s.close()

        # the cap is an option: 2 from one address, the third refused
        op.stop()
        op.extra_args.append("-peeraddrhandshakes=2")
        op.start()
        conns = [stranger(op.p2pport, "127.0.0.4") for _ in range(2)]
        third = stranger(op.p2pport, "127.0.0.4")
        self.assertTrue(closed_by_peer(third, 30))
        for s in conns:
            self.assertFalse(closed_by_peer(s, 0.5))
        for s in conns + [third]:
            s.close()

    def test_file_limit(self):
        """At the file limit accept() fails: the node pauses its listener instead of spinning
        (its CPU time stays low), logs one warning line, and takes peers again once descriptors
        are free. The door is opened wide here so that strangers can use up the node's
        descriptors."""
        op = self.node("op", start=False, extra_args=[
            "-bind=127.0.0.1", "-debug=p2p", "-peerhandshaketimeout=600000",
            "-peermaxinbound=4096", "-peermaxhandshakes=4096", "-peeraddrlinks=4096",
            "-peeraddrhandshakes=4096", "-rpcthreads=1"])
        old = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, old[1]))  # inherited by sbxd
        try:
            op.start(wait=False)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, old)
        op.wait_ready()
        conns = []
        try:
            for i in range(160):
                s = stranger_socket("127.0.1.%d" % (2 + i))
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", op.p2pport))
                conns.append(s)
            failed = "accepting peers failed"
            in_time(lambda: count_lines(op, failed) > 0, 60, "accept() failing")
            cpu = cpu_seconds(op.proc.pid)
            time.sleep(3)
            cpu = cpu_seconds(op.proc.pid) - cpu
            print("at the file limit: %.2f s of CPU in 3 s, %d lines (%d at warning level)" % (
                cpu, count_lines(op, failed), count_lines(op, failed, "warning")), flush=True)
            self.assertLess(cpu, 1.0, "the listener spins")
            self.assertEqual(count_lines(op, failed, "warning"), 1)
            # pauses of 100, 200, 400, 800, 1600 ms: a handful of debug lines, no flood
            self.assertLessEqual(count_lines(op, failed), 8)
        finally:
            for s in conns:
                s.close()
        # descriptors free again: the node takes a peer and answers
        in_time(lambda: len(os.listdir("/proc/%d/fd" % op.proc.pid)) < 100, 60,
                "the strangers' descriptors closed")
        # (the node's "accepted" debug line may be one of the repeated lines the log holds back
        # after 160 strangers: the proof is that the node answers a TLS handshake)
        late = stranger(op.p2pport, "127.0.3.2")
        self.assertTrue(tls_answered(late, 60), "the node accepting again")
        late.close()
        op.call("getinfo")

    def test_deadline_against_trickling(self):
        """With -peerhandshaketimeout=2000, a client that sends one byte of a ClientHello a
        second is closed about two seconds after it connected, although it never stopped
        sending; an idle one too."""
        op = self.node("op", extra_args=["-bind=127.0.0.1", "-debug=p2p",
                                         "-peerhandshaketimeout=2000"])
        t0 = time.monotonic()
        slow = stranger(op.p2pport, "127.0.0.2")
        idle = stranger(op.p2pport, "127.0.0.3")
        sent, closed_after = 0, None
        while sent < len(HELLO):
            try:
                slow.send(HELLO[sent:sent + 1])
            except OSError:
                closed_after = time.monotonic() - t0
                break
            sent += 1
            if closed_by_peer(slow, 1.0):
                closed_after = time.monotonic() - t0
                break
        self.assertIsNotNone(closed_after, "a trickling client was never closed")
        self.assertGreaterEqual(closed_after, 1.9)  # timers may fire a hair early
        self.assertGreaterEqual(sent, 2, "it was sending until the deadline")
        self.assertLess(sent, len(HELLO))
        self.assertTrue(closed_by_peer(idle, 30))
        in_time(lambda: count_lines(op, "(inbound): closed: handshake timeout") >= 2, 30,
                "two handshake timeouts logged")
        slow.close()
        idle.close()


if __name__ == "__main__":
    unittest.main()
