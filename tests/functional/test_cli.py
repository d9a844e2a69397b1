"""The help method, `sbx-cli help [METHOD]`, -version, and how sbx-cli and sbx-bench find a node
(rpc/client.c): sbx.conf in the datadir or -conf, the port file, -rpcconnect, -rpcuser with
-stdinrpcpass or -rpcpasswordfile.
"""
import os
import subprocess
import unittest

import framework as fw
from test_rpc import METHODS

INVALID_PARAMS = -32602

# exit statuses of sbx-cli
EXIT_RPC_ERROR, EXIT_USAGE, EXIT_CONNECT = 1, 2, 3


def run(args, stdin=None):
    """Run a client binary; (exit status, stdout, stderr) as text."""
    out = subprocess.run(args, input=stdin if stdin is not None else "", capture_output=True,
                         text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


class HelpTest(fw.OneNodeTestCase):
    node_users = {"op": "operator", "sup": "supervisor"}

    def names(self, auth=None):
        return [m["method"] for m in self.n.call("help", auth=auth)]

    def test_lists_the_methods_of_the_callers_role(self):
        admin = self.names()
        self.assertLessEqual(set(METHODS), set(admin))
        self.assertEqual(len(admin), len(set(admin)))
        op = self.names(self.auth["op"])
        sup = self.names(self.auth["sup"])
        self.assertIn("submittrade", op)
        self.assertNotIn("submitdirective", op)
        self.assertIn("submitdirective", sup)
        self.assertNotIn("submittrade", sup)
        for roles in (op, sup):
            self.assertNotIn("stop", roles)
            self.assertIn("help", roles)
            self.assertIn("getinfo", roles)

    def test_describes_a_method_from_the_table_that_checks_it(self):
        h = self.n.call("help", {"method": "submittrade"})
        self.assertEqual(h["method"], "submittrade")
        self.assertEqual(h["roles"], ["operator"])
        params = {p["name"]: p for p in h["params"]}
        self.assertEqual(list(params)[:6],
                         ["trade_id", "buyer", "seller", "asset", "quantity", "price"])
        self.assertIs(params["trade_id"]["required"], True)
        self.assertIs(params["fee_buyer"]["required"], False)
        self.assertEqual(params["executed_at"]["type"], "integer")
        for p in h["params"]:
            self.assertTrue(p["meaning"], p)
        # every method the help lists describes itself; a parameter help does not name is
        # refused by the method (the same spec), a call without a required one too
        for m in self.names():
            d = self.n.call("help", {"method": m})
            self.assertEqual(d["method"], m)
            self.assertTrue(d["summary"], m)
            self.assertTrue(d["usage"].startswith(m), d)
            if m != "stop":
                self.assertRPCError(INVALID_PARAMS, self.n.call, m, {"__not_in_help__": 1})
            required = [p["name"] for p in d["params"] if p["required"]]
            if required:
                e = self.assertRPCError(INVALID_PARAMS, self.n.call, m, {})
                self.assertIn(e.message.split(":")[0], required)
        self.assertRPCError(INVALID_PARAMS, self.n.call, "help", {"method": "nosuch"})
        self.assertRPCError(INVALID_PARAMS, self.n.call, "help", {"zz": 1})

    def cli(self, *args, stdin=None):
        return run([fw.binary("sbx-cli"), "-datadir=" + self.n.datadir] + list(args), stdin)

    def test_sbx_cli_help(self):
        rc, out, err = self.cli("help")
        self.assertEqual(rc, 0, err)
        for m in METHODS:
            self.assertIn("\n" + m, "\n" + out)
        rc, out, err = self.cli("help", "submittrade")
        self.assertEqual(rc, 0, err)
        for p in self.n.call("help", {"method": "submittrade"})["params"]:
            self.assertIn(p["name"], out)
        self.assertIn("required", out)
        rc, _, _ = self.cli("help", "nosuch")
        self.assertEqual(rc, EXIT_RPC_ERROR)

    def test_version(self):
        version = self.n.call("getinfo")["version"]
        for b in ("sbxd", "sbx-cli", "sbx-bench"):
            rc, out, err = run([fw.binary(b), "-version"])
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.strip(), "%s version %s" % (b, version))

    def test_stdinrpcpass(self):
        user, password = self.auth["sup"]
        rc, out, err = self.cli("-rpcuser=" + user, "-stdinrpcpass", "help", stdin=password + "\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("submitdirective", out)
        self.assertNotIn("\nsubmittrade", out)
        self.assertNotIn(password, out + err)
        rc, _, err = self.cli("-rpcuser=" + user, "-stdinrpcpass", "getinfo", stdin="wrong\n")
        self.assertEqual(rc, EXIT_CONNECT, err)
        rc, _, _ = self.cli("-rpcuser=" + user, "getinfo")
        self.assertEqual(rc, EXIT_USAGE)
        rc, _, _ = self.cli("-rpcuser=" + user, "-stdinrpcpass", "getinfo")  # empty stdin
        self.assertEqual(rc, EXIT_USAGE)


class ConfTest(fw.NodeTestCase):
    """The node's sbx.conf tells sbx-cli and sbx-bench where it is and who to be."""

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)

    def test_conf_in_datadir_and_elsewhere(self):
        n = self.node(start=False)
        password = "pw-" + fw.uid()
        os.makedirs(n.datadir, mode=0o700)
        pwfile = os.path.join(self.tmp, "sup.password")
        self.write(pwfile, password + "\n")
        # the node listens on a port sbx-cli has to learn: from .rpcport, not the default
        self.write(os.path.join(n.datadir, "sbx.conf"),
                   "rpcauth=%s\nrpcuser=sup\nrpcpasswordfile=%s\n" %
                   (fw.contrib_rpcauth("sup", "supervisor", password), pwfile))
        n.start()
        cli, bench = fw.binary("sbx-cli"), fw.binary("sbx-bench")

        # the datadir's sbx.conf: user sup with the password file (a supervisor's help)
        rc, out, err = run([cli, "-devnet", "-datadir=" + n.datadir, "help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("submitdirective", out)
        self.assertNotIn("\nsubmittrade", out)
        # the command line wins over the file: a wrong password on stdin is refused
        rc, _, _ = run([cli, "-devnet", "-datadir=" + n.datadir, "-stdinrpcpass", "getinfo"],
                       stdin="wrong\n")
        self.assertEqual(rc, EXIT_CONNECT)

        # -conf elsewhere, naming the address and the port; the datadir has nothing
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        conf = os.path.join(self.tmp, "client.conf")
        self.write(conf, "rpcconnect=127.0.0.1\nrpcport=%d\nrpcuser=sup\nrpcpasswordfile=%s\n" %
                   (n.rpcport, pwfile))
        rc, out, err = run([cli, "-conf=" + conf, "-datadir=" + empty, "getinfo"])
        self.assertEqual(rc, 0, err)
        self.assertIn("sbx-devnet", out)
        # -rpcconnect on the command line beats the file's (nothing listens on 127.0.0.1:1)
        rc, _, _ = run([cli, "-conf=" + conf, "-datadir=" + empty, "-rpcport=1", "getinfo"])
        self.assertEqual(rc, EXIT_CONNECT)
        # a -conf that does not exist is an error, not a silent default
        rc, _, _ = run([cli, "-conf=" + conf + ".missing", "getinfo"])
        self.assertEqual(rc, EXIT_USAGE)

        # sbx-bench finds the node exactly as sbx-cli does: same datadir, no -rpcport
        os.unlink(os.path.join(n.datadir, "sbx.conf"))
        rc, out, err = run([bench, "-datadir=" + n.datadir, "-accounts=2", "-trades=0",
                            "-conns=1"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("summary: ok", out)
        rc, out, err = run([bench, "-conf=" + conf, "-datadir=" + empty, "-accounts=2",
                            "-trades=0", "-conns=1"])
        # a supervisor may not open accounts: found, authenticated, refused (-32002)
        self.assertIn("-32002", out + err)


if __name__ == "__main__":
    unittest.main()
