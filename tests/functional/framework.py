"""Functional test framework for sbx: real sbxd processes on loopback.

Each test starts its own `sbxd -devnet` on a temporary datadir with free ports, talks JSON-RPC to
it over HTTP with Basic auth (the cookie, or rpcauth users the test made), and stops it with
SIGTERM (or kills it with SIGKILL to test crash safety). Only the Python standard library is used.

Binaries are found in $SBX_BUILDDIR (set by `make check`), else in the source tree (an in-tree
build). Tests assert on JSON-RPC error codes and rule ids, never on message text.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SRCDIR = os.environ.get("SBX_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILDDIR = os.environ.get("SBX_BUILDDIR") or SRCDIR

# Generous: the tests run on loaded 2-core machines, often beside the unit tests.
START_TIMEOUT = 90
STOP_TIMEOUT = 90
RPC_TIMEOUT = 120

# JSON-RPC error codes (doc/rpc.md).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REJECTED = -32000
NOT_FOUND = -32001
FORBIDDEN = -32002
CONFLICT = -32003
UNAVAILABLE = -32004
BAD_SIGNATURE = -32005
OVERLOADED = -32006

HOUSE = "HOUSE"
BTC_REF = 2500000000
ETH_REF = 90000000


def binary(name):
    path = os.path.join(BUILDDIR, name)
    if not os.access(path, os.X_OK):
        # a failure, not a skip: `make check` builds them first, so a missing one is a defect
        raise AssertionError("%s not found in %s (build it, or set SBX_BUILDDIR to the build "
                             "directory)" % (name, BUILDDIR))
    return path


_ports_given = set()


def _below_ephemeral():
    """The ports below the kernel's ephemeral range (ip_local_port_range), from 10000: no
    outbound connection takes one of them between the check here and the node's bind."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (10000, low - 1) if low - 1 - 10000 >= 1000 else None


def free_port():
    """A TCP port that is free on every address now (sbxd's peer listener binds them all) and
    that this process has not handed out before. It is drawn below the ephemeral range, where
    the outbound connections of tests and nodes (thousands, in the front-door tests) never land;
    the kernel's port 0 is the fallback when that range is too small."""
    span = _below_ephemeral()
    for _ in range(200):
        port = random.randint(*span) if span else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise AssertionError("no fresh free port in 200 tries")


def contrib_rpcauth(name, role, password):
    """The rpcauth line (without "rpcauth=") that contrib/rpcauth makes; the password goes
    through standard input, as the script recommends."""
    out = subprocess.run([sys.executable, os.path.join(SRCDIR, "contrib", "rpcauth"), name, role,
                          "-"], input=password + "\n", capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError("contrib/rpcauth failed: %s" % out.stderr)
    first = out.stdout.split("\n")[0]
    if not first.startswith("rpcauth="):
        raise AssertionError("contrib/rpcauth printed %r" % out.stdout)
    return first[len("rpcauth="):]


def rpcauth_line(name, password, role, salt=None):
    """An rpcauth line NAME:SALT$HASH:ROLE, HASH = hex HMAC-SHA256 keyed with SALT over the
    password (doc/rpc.md)."""
    salt = salt or secrets.token_hex(16)
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return "%s:%s$%s:%s" % (name, salt, digest, role)


def hex32(seed):
    """64 lowercase hex characters derived from `seed` (KYC references, Travel Rule hashes)."""
    return hashlib.sha256(str(seed).encode()).hexdigest()


def now_ms():
    return int(time.time() * 1000)


def testhook(testcase, node, params):
    """Call `testhook` on `node`. When sbxd lacks the hooks (-32601) the test is skipped, except
    in a build configured with --enable-test-hooks (make check sets SBX_TEST_HOOKS=1) or under
    CI=true: there a missing hook is a failure, so a hook test cannot pass by being skipped."""
    try:
        return node.call("testhook", params)
    except RPCError as e:
        if e.code != METHOD_NOT_FOUND:
            raise
        if os.environ.get("SBX_TEST_HOOKS") == "1" or os.environ.get("CI") == "true":
            testcase.fail("testhook %s: -32601 in a build that must have the test hooks"
                          % params.get("action"))
        testcase.skipTest("sbxd built without --enable-test-hooks (testhook: -32601)")


# The devnet's (and the test networks') local day: UTC+7 (doc/compliance.md, daily limits).
LOCAL_OFFSET_MIN = 420


def clear_of_local_midnight(margin_s=300, offset_min=LOCAL_OFFSET_MIN):
    """Return at once unless local midnight (UTC+`offset_min`) is less than `margin_s` seconds
    away; then wait until it has passed. A test section that checks daily usage calls this
    first, so that it runs within one local day (a section takes seconds, the margin minutes).
    Returns the local day number the section runs in."""
    day_ms = 86400 * 1000
    local = now_ms() + offset_min * 60000
    left_ms = day_ms - local % day_ms
    if left_ms < margin_s * 1000:
        time.sleep(left_ms / 1000 + 1)
    return (now_ms() + offset_min * 60000) // day_ms


def local_day_number(offset_min=LOCAL_OFFSET_MIN):
    """Today's local day number (days since 1970-01-01 at UTC+`offset_min`)."""
    return (now_ms() + offset_min * 60000) // (86400 * 1000)


_counter = [0]


def uid(prefix="x"):
    """An id unique within this test process and across runs on one datadir."""
    _counter[0] += 1
    return "%s-%x-%d-%d" % (prefix, now_ms(), os.getpid(), _counter[0])


class RPCError(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, code, message, data=None):
        super().__init__("JSON-RPC error %s: %s (data %r)" % (code, message, data))
        self.code = code
        self.message = message
        self.data = data


class HTTPError(Exception):
    """An HTTP reply that is not a JSON-RPC reply (401, 413, ...)."""

    def __init__(self, status, body):
        super().__init__("HTTP %d: %r" % (status, body[:200]))
        self.status = status
        self.body = body


class Node:
    """One sbxd process on a temporary datadir."""

    def __init__(self, test_dir, name="node", devnet=True, extra_args=None):
        self.dir = test_dir
        self.datadir = os.path.join(test_dir, name)
        self.name = name
        self.devnet = devnet
        self.extra_args = list(extra_args or [])
        self.rpcport = free_port()
        self.p2pport = free_port()
        self.proc = None
        self.users = {}  # name -> password
        self.log_path = os.path.join(test_dir, name + ".stderr")
        self._next_id = 0
        # where and how http() talks to it: an SSLContext for rpctls=1, a local address to
        # connect from (-rpcallowip tests)
        self.rpchost = "127.0.0.1"
        self.ssl_context = None
        self.rpcsource = None
        # the environment of the next start (None: this process's)
        self.env = None

    # ---- process control

    def args(self):
        a = [binary("sbxd")]
        if self.devnet:
            a.append("-devnet")
        a += ["-datadir=" + self.datadir, "-rpcport=%d" % self.rpcport,
              "-port=%d" % self.p2pport, "-printtoconsole=0"]
        return a + self.extra_args

    def add_user(self, name, role, password=None):
        """Make an rpcauth user (takes effect at the next start)."""
        password = password or secrets.token_hex(12)
        self.users[name] = password
        self.extra_args.append("-rpcauth=" + contrib_rpcauth(name, role, password))
        return (name, password)

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # A cookie left by a killed process is stale: the node writes a new one at start, and
        # waiting for the file is how we know it is serving.
        try:
            os.unlink(self.cookie_path())
        except FileNotFoundError:
            pass
        self.stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def cookie_path(self):
        return os.path.join(self.datadir, ".cookie")

    def cookie(self):
        with open(self.cookie_path()) as f:
            user, _, password = f.read().strip().partition(":")
        return (user, password)

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("sbxd exited with %d at start-up:\n%s" %
                                     (self.proc.returncode, self.tail()))
            if os.path.exists(self.cookie_path()):
                try:
                    return self.call("getinfo")
                except (OSError, HTTPError, RPCError, http.client.HTTPException) as e:
                    last = e
            time.sleep(0.05)
        raise AssertionError("sbxd not ready after %d s (last error %r):\n%s" %
                             (timeout, last, self.tail()))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait for the exit; returns the exit status (0 after a clean stop)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.stderr.close()
                raise AssertionError("sbxd did not stop within %d s of SIGTERM" % timeout)
        self.stderr.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL: no chance to clean up."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stderr.close()

    def restart(self, **kw):
        self.stop()
        return self.start(**kw)

    def tail(self, n=40):
        out = []
        for path in (self.log_path, os.path.join(self.datadir, "debug.log")):
            try:
                with open(path, errors="replace") as f:
                    lines = f.readlines()[-n:]
                out.append("--- %s\n%s" % (path, "".join(lines)))
            except OSError:
                pass
        return "\n".join(out)

    # ---- HTTP and JSON-RPC

    def _auth_header(self, auth):
        if auth is False:
            return {}
        user, password = self.cookie() if auth is None else auth
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        return {"Authorization": "Basic " + token}

    def http(self, body, auth=None, headers=None, method="POST", path="/", timeout=RPC_TIMEOUT):
        """One HTTP request on a new connection. Returns (status, body bytes)."""
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(self._auth_header(auth))
        h.update(headers or {})
        source = (self.rpcsource, 0) if self.rpcsource else None
        if self.ssl_context is not None:
            conn = http.client.HTTPSConnection(self.rpchost, self.rpcport, timeout=timeout,
                                               source_address=source, context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(self.rpchost, self.rpcport, timeout=timeout,
                                              source_address=source)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def request(self, obj, auth=None):
        """Send a JSON-RPC request object or batch list; return the decoded reply (or None for
        an empty body, as for a batch of notifications). HTTPError unless the body is JSON."""
        status, body = self.http(obj, auth=auth)
        if not body:
            if status in (200, 204):
                return None
            raise HTTPError(status, body)
        try:
            return json.loads(body)
        except ValueError:
            raise HTTPError(status, body)

    def call(self, method, params=None, auth=None):
        """Call one method; return its result or raise RPCError."""
        self._next_id += 1
        req = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            req["params"] = params
        reply = self.request(req, auth=auth)
        if not isinstance(reply, dict):
            raise AssertionError("reply to %s is not an object: %r" % (method, reply))
        if reply.get("error") is not None:
            e = reply["error"]
            raise RPCError(e.get("code"), e.get("message"), e.get("data"))
        if "result" not in reply:
            raise AssertionError("reply to %s has neither result nor error: %r" % (method, reply))
        return reply["result"]

    def batch(self, calls, auth=None):
        """Send [(method, params), ...] as one batch; return the replies in call order (each a
        dict with result or error)."""
        reqs = []
        for i, (method, params) in enumerate(calls):
            r = {"jsonrpc": "2.0", "id": i, "method": method}
            if params is not None:
                r["params"] = params
            reqs.append(r)
        reply = self.request(reqs, auth=auth)
        if not isinstance(reply, list):
            raise AssertionError("batch reply is not an array: %r" % (reply,))
        by_id = {r.get("id"): r for r in reply}
        if len(by_id) != len(calls) or set(by_id) != set(range(len(calls))):
            raise AssertionError("batch reply ids do not match the calls: %r" % sorted(
                by_id, key=str))
        return [by_id[i] for i in range(len(calls))]

    # ---- domain helpers

    def open_account(self, account=None, tier=1, investor_class="domestic_individual",
                     country="VN", auth=None):
        account = account or uid("acct")
        r = self.call("openaccount", {"account": account, "kyc_tier": tier,
                                      "investor_class": investor_class, "country": country,
                                      "kyc_ref": hex32(account + "kyc"),
                                      "bank_ref": hex32(account + "bank")}, auth=auth)
        return account, r

    def deposit(self, account, asset, amount, transfer_id=None, travel_rule=True, auth=None,
                reference=None, screening=True):
        """A deposit; crypto carries a Travel Rule record and a clean screening result unless
        told not to (travel_rule=False, screening=False)."""
        return self.transfer("deposit", account, asset, amount, transfer_id, travel_rule, auth,
                             reference, screening)

    def transfer(self, method, account, asset, amount, transfer_id=None, travel_rule=True,
                 auth=None, reference=None, screening=True):
        transfer_id = transfer_id or uid(method[:3])
        params = {"transfer_id": transfer_id, "account": account, "asset": asset,
                  "amount": amount, "reference": reference or "ref-" + transfer_id}
        if asset != "VND" and travel_rule:
            params["travel_rule"] = travel_rule_record(account)
        if asset != "VND" and screening:
            params["screening"] = screening_record()
        return self.call(method, params, auth=auth)

    def funded_pair(self, vnd="200000000", btc="0.05000000"):
        """A buyer with VND and a seller with BTC, both tier 1."""
        buyer, _ = self.open_account()
        seller, _ = self.open_account()
        self.deposit(buyer, "VND", vnd)
        self.deposit(seller, "BTC", btc)
        return buyer, seller

    def trade(self, buyer, seller, quantity="0.00100000", price=str(BTC_REF), asset="BTC",
              trade_id=None, auth=None, **extra):
        params = trade_params(buyer, seller, quantity, price, asset, trade_id)
        params.update(extra)
        return self.call("submittrade", params, auth=auth)


def travel_rule_record(seed):
    return {"protocol": "trisa", "vasp": "vasp-test", "originator_hash": hex32(str(seed) + "o"),
            "beneficiary_hash": hex32(str(seed) + "b"), "status": "accepted"}


def screening_record(score=0):
    return {"provider": "chainscan", "score": score}


def trade_params(buyer, seller, quantity="0.00100000", price=str(BTC_REF), asset="BTC",
                 trade_id=None):
    return {"trade_id": trade_id or uid("trade"), "buyer": buyer, "seller": seller,
            "asset": asset, "quantity": quantity, "price": price, "fee_buyer": "0",
            "fee_seller": "0", "executed_at": now_ms()}


class NodeTestCase(unittest.TestCase):
    """A test case with a temporary directory and nodes that are stopped (or killed) after it."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sbx-func-")
        self.nodes = []

    def tearDown(self):
        problems = []
        for n in self.nodes:
            try:
                if n.proc is not None and n.proc.poll() is None:
                    rc = n.stop()
                    if rc != 0:
                        problems.append("%s exited with %r after SIGTERM:\n%s" %
                                        (n.name, rc, n.tail()))
            except AssertionError as e:
                problems.append(str(e))
            finally:
                n.kill()
        failed = self._outcome is not None and not getattr(self._outcome, "success", True)
        if failed or problems:
            for n in self.nodes:
                print("\n" + n.tail(), flush=True)
        if os.environ.get("SBX_KEEP_TMP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            self.fail("\n".join(problems))

    def node(self, name="node", start=True, **kw):
        n = Node(self.tmp, name=name, **kw)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def assertRPCError(self, code, fn, *args, **kw):
        """fn(*args) must raise RPCError with `code`; returns the error."""
        with self.assertRaises(RPCError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code, code, "expected code %d, got %r" %
                         (code, cm.exception))
        return cm.exception

    def assertRejected(self, rule, fn, *args, **kw):
        """fn(*args) must be a -32000 rejection by `rule`, recorded on the ledger (data has the
        txid and height); returns the error data."""
        e = self.assertRPCError(REJECTED, fn, *args, **kw)
        self.assertIsInstance(e.data, dict, "a rejection carries data")
        self.assertEqual(e.data.get("rule"), rule, "rejected by %r, expected %r (%r)" %
                         (e.data.get("rule"), rule, e))
        self.assertRegex(e.data.get("txid", ""), r"^[0-9a-f]{64}$")
        self.assertIsInstance(e.data.get("height"), int)
        return e.data

    def assertReceipt(self, r):
        self.assertIsInstance(r, dict)
        self.assertEqual(r.get("verdict"), "accepted", r)
        self.assertRegex(r.get("txid", ""), r"^[0-9a-f]{64}$")
        self.assertRegex(r.get("block_hash", ""), r"^[0-9a-f]{64}$")
        self.assertIsInstance(r.get("height"), int)
        self.assertGreater(r["height"], 0)
        return r


class OneNodeTestCase(NodeTestCase):
    """Each test gets a fresh node of its own (temporary datadir, free ports), started with
    `node_args` and the rpcauth users `node_users` (name -> role); `self.n` is the node and
    `self.auth[name]` the (name, password) of each user."""

    node_args = []
    node_users = {}

    def setUp(self):
        super().setUp()
        self.n = self.node(start=False, extra_args=list(self.node_args))
        self.auth = {}
        for name, role in self.node_users.items():
            self.auth[name] = self.n.add_user(name, role)
        self.n.start()


def in_time(fn, timeout=60, what="condition"):
    """Poll fn() until it returns a true value (never a timing assertion: the timeout is only a
    bound for a condition that must eventually hold)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %d s" % (what, timeout))
        time.sleep(0.05)


# ---- multi-node networks (doc/protocol.md): an operator node and nodes that follow it

# Generous bounds for what crosses the peer links (replication, attestations, relayed
# directives) on a loaded 2-core machine; they bound conditions that must eventually hold.
SYNC_TIMEOUT = 120


def genkey(datadir):
    """`sbxd -datadir=DIR -genkey`: make DIR/keys/regulator.key if it is missing and return its
    x-only public key (64 hex characters)."""
    out = subprocess.run([binary("sbxd"), "-datadir=" + datadir, "-genkey", "-printtoconsole=0"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("sbxd -genkey exited with %d: %s" % (out.returncode, out.stderr))
    lines = out.stdout.split()
    key = lines[-1] if lines else ""
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise AssertionError("sbxd -genkey printed %r, not a 64-hex-digit key" % out.stdout)
    return key


def node_key(node):
    """The public node key of a node, read from its datadir: keys/operator.key for the operator,
    keys/regulator.key for a regulator node, keys/node.key for an observer (made at its first
    start)."""
    import txsign  # beside this file; only the network tests need it
    for name in ("operator.key", "regulator.key", "node.key"):
        path = os.path.join(node.datadir, "keys", name)
        if os.path.exists(path):
            return txsign.pubkey(txsign.read_key(path)).hex()
    raise AssertionError("%s has no key file in %s" % (node.name,
                                                       os.path.join(node.datadir, "keys")))


def debug_log(node):
    """The text of a node's debug.log ("" if there is none yet)."""
    try:
        with open(os.path.join(node.datadir, "debug.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Network:
    """An operator node and the nodes that follow it over the peer links, all on loopback.

    The operator is `sbxd -devnet` whose genesis lists, with -devnetregulator, the keys that
    `sbxd -genkey` made in each regulator's datadir. Its genesis block is exported with
    getblock {"height": 0, "hex": true} into a file, and every follower (regulators, observers)
    starts without -devnet, with -genesis=FILE and -connect to the operator's peer port. Nodes
    are the test case's (NodeTestCase.node), so its tearDown stops them."""

    def __init__(self, case, regulators=2, operator_args=(), follower_args=(), start=True,
                 quorum=None):
        self.case = case
        self.genesis_path = os.path.join(case.tmp, "genesis.hex")
        self.follower_args = list(follower_args)
        self.regulators = []
        self.observers = []
        self.reg_keys = []
        for i in range(regulators):
            r = case.node("reg%d" % (i + 1), start=False, devnet=False)
            self.reg_keys.append(genkey(r.datadir))
            self.regulators.append(r)
        args = ["-bind=127.0.0.1"] + ["-devnetregulator=" + k for k in self.reg_keys]
        if quorum is not None:  # the genesis's directive_quorum (default 1)
            args.append("-devnetquorum=%d" % quorum)
        self.operator = case.node("operator", start=False, extra_args=args + list(operator_args))
        if start:
            self.start()

    def follows_args(self):
        """The options of a node that follows this network's operator."""
        return ["-genesis=" + self.genesis_path, "-bind=127.0.0.1",
                "-connect=127.0.0.1:%d" % self.operator.p2pport] + self.follower_args

    def start(self):
        """Start the operator, export its genesis block, start the regulators."""
        self.first_start(self.operator)
        self.export_genesis()
        for r in self.regulators:
            r.extra_args = self.follows_args() + r.extra_args
            self.first_start(r)
        return self

    @staticmethod
    def first_start(node, attempts=3):
        """Start a node for the first time on ports chosen just now. A port found free can be
        taken before sbxd binds it (the outbound peer links of the nodes already running use
        ephemeral ports from the same range): then choose again."""
        for attempt in range(attempts):
            node.rpcport, node.p2pport = free_port(), free_port()
            try:
                return node.start()
            except AssertionError as e:
                if node.proc is None or node.proc.poll() is None:
                    raise
                node.stderr.close()
                if "Address already in use" not in str(e) or attempt == attempts - 1:
                    raise

    def export_genesis(self):
        block = self.operator.call("getblock", {"height": 0, "hex": True})
        if not isinstance(block.get("hex"), str) or not block["hex"]:
            raise AssertionError("getblock height 0 with hex has no hex: %r" % block)
        with open(self.genesis_path, "w") as f:
            f.write(block["hex"] + "\n")
        return block["hex"]

    def observer(self, name, start=True, extra_args=()):
        """A follower with no regulator key (an observer: it makes keys/node.key at its first
        start); the operator accepts it only if it was given its key with -observer."""
        n = self.case.node(name, start=False, devnet=False,
                           extra_args=self.follows_args() + list(extra_args))
        self.observers.append(n)
        if start:
            self.first_start(n)
        return n

    @property
    def followers(self):
        return self.regulators + self.observers

    def synced(self, nodes, height):
        """True when every node in `nodes` has a block at `height` with the operator's hash."""
        want = self.operator.call("getblock", {"height": height})["hash"]
        for n in nodes:
            if n.call("getinfo")["height"] < height:
                return False
            if n.call("getblock", {"height": height})["hash"] != want:
                raise AssertionError("%s has block %s at height %d, the operator %s" % (
                    n.name, n.call("getblock", {"height": height})["hash"], height, want))
        return True

    def wait_synced(self, nodes=None, height=None, timeout=SYNC_TIMEOUT):
        """Wait until `nodes` (default: every running follower) hold the operator's block at
        `height` (default: the operator's tip now); returns that height. A different block at
        that height is a failure at once, not a wait."""
        if nodes is None:
            nodes = [n for n in self.followers if n.proc is not None and n.proc.poll() is None]
        if height is None:
            height = self.operator.call("getinfo")["height"]
        in_time(lambda: self.synced(nodes, height), timeout,
                "%s at the operator's block %d" % (", ".join(n.name for n in nodes), height))
        return height

    def last_substantive(self, height=None):
        """The highest block at or below `height` (default: the operator's tip) holding anything
        but attestations: the block that regulators attest. A block of attestations only is not
        attested itself (or the attestations would never end), so wait_attested(tip) can wait
        forever when the tip is one."""
        op = self.operator
        if height is None:
            height = op.call("getinfo")["height"]
        while height > 0:
            txs = op.call("getblock", {"height": height, "verbose": True})["transactions"]
            if any(tx["type"] != "attestation" for tx in txs):
                return height
            height -= 1
        return height

    def wait_attested(self, height, keys=None, timeout=SYNC_TIMEOUT):
        """Wait until the operator's getsupervision shows every regulator key in `keys` (default
        all) with attested_height >= `height`; returns the getsupervision result."""
        keys = self.reg_keys if keys is None else keys

        def attested():
            sup = self.operator.call("getsupervision")
            by_key = {r["key"]: r for r in sup["regulators"]}
            if all((by_key.get(k) or {}).get("attested_height") is not None and
                   by_key[k]["attested_height"] >= height for k in keys):
                return sup
            return None
        return in_time(attested, timeout, "attestations of height %d" % height)
