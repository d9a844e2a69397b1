"""The README's commands, as written, on fresh devnets: `contrib/quickstart run` and the commands
it suggests, then every line of "Using the node" in order (the node started in the background,
accounts, deposits, checktrade, submittrade, the transaction proof checked without a node,
sbx-bench, contrib/rpcauth, contrib/devnet up and down), doc/devnet.md's shell and Python
examples, doc/operations.md's quick start and doc/hacking.md's load. Each command runs with
/bin/sh in a directory that looks like the source tree (`build/` is the build directory,
`contrib/` the repository's) and a temporary HOME, so `~/.sbx/devnet` is fresh; it must exit
0, and the answers that say something (checktrade's "ok", submittrade's verdict, the proof's
"valid") are checked. The one placeholder, TXID, becomes the txid of the last submittrade.

The README's devnet listens on its default ports (RPC 18645, peer 18646), so one run of this
module at a time holds a lock on the machine and waits for the ports to be free."""

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

import framework as fw

README = os.path.join(fw.SRCDIR, "README.md")
DEVNET_DOC = os.path.join(fw.SRCDIR, "doc", "devnet.md")
OPERATIONS_DOC = os.path.join(fw.SRCDIR, "doc", "operations.md")
HACKING_DOC = os.path.join(fw.SRCDIR, "doc", "hacking.md")
DEVNET_PORTS = (18645, 18646)
PORT_LOCK = os.path.join(tempfile.gettempdir(), "sbx-test-readme-devnet-ports.lock")
COMMAND_TIMEOUT = 900  # a bound only: contrib/quickstart run runs make in the build directory
PLACEHOLDERS = ("TXID",)
ONE_SHOT = ("-genkey", "-init", "-version", "-help")  # sbxd options that do a job and exit


def sections(path):
    """[(heading, [(line, lang, text)])] of the fenced blocks of a Markdown file by section;
    text: the block's lines, a line ending in a backslash joined with the next."""
    with open(path) as f:
        lines = f.read().split("\n")
    out, heading, i = [], None, 0
    while i < len(lines):
        m = re.match(r"^#+\s+(.*?)\s*$", lines[i])
        if m:
            heading = m.group(1)
            out.append((heading, []))
        m = re.match(r"^\s*```(\w*)\s*$", lines[i])
        if m and out:
            start, i = i + 1, i + 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                i += 1
            out[-1][1].append((start + 1, m.group(1), lines[start:i]))
        i += 1
    return out


def commands(block):
    """[(line, command)] of a shell block: continuation lines joined, blank lines left out."""
    line0, _, text = block
    out, cur, first = [], "", None
    for k, line in enumerate(text):
        if first is None:
            first = line0 + k
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        if cur.strip():
            out.append((first, cur.strip()))
        cur, first = "", None
    return out


def section(path, heading):
    for h, blocks in sections(path):
        if h == heading:
            return blocks
    raise AssertionError("%s has no section %r" % (path, heading))


def without_comment(cmd):
    """The command without a trailing `# comment` (a # after a blank, outside quotes)."""
    quote = None
    for i, c in enumerate(cmd):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and i > 0 and cmd[i - 1] in " \t":
            return cmd[:i].rstrip()
    return cmd


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as sbxd binds
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def sbxd_pid(lockfile):
    """The pid in a datadir's .lock if that process is still an sbxd, else None."""
    try:
        with open(lockfile) as f:
            pid = int(f.read().split()[0])
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0]
        with open("/proc/%d/stat" % pid) as f:
            zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, ValueError, IndexError):
        return None
    return pid if os.path.basename(argv0) == b"sbxd" and not zombie else None


class ReadmeTest(fw.NodeTestCase):

    def setUp(self):
        super().setUp()
        lock = open(PORT_LOCK, "a")
        self.addCleanup(lock.close)  # after tearDown: the nodes are stopped by then
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        self.home = os.path.join(self.tmp, "home")
        self.work = os.path.join(self.tmp, "work")  # "this directory" of the README
        os.makedirs(self.home)
        os.makedirs(self.work)
        links = {"build": fw.BUILDDIR, "contrib": os.path.join(fw.SRCDIR, "contrib"),
                 "configure": os.path.join(fw.SRCDIR, "configure"),
                 "configure.ac": os.path.join(fw.SRCDIR, "configure.ac")}
        for name, target in links.items():
            os.symlink(target, os.path.join(self.work, name))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SBX_")}
        self.env["HOME"] = self.home
        self.env["PATH"] = fw.BUILDDIR + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
        self.background = []
        self.txid = None
        for port in DEVNET_PORTS:
            fw.in_time(lambda: port_free(port), timeout=fw.START_TIMEOUT,
                       what="the devnet port %d free" % port)

    def tearDown(self):
        try:
            self.stop_everything()
        finally:
            super().tearDown()

    def stop_everything(self):
        """SIGTERM to every sbxd still running on a datadir under the temporary HOME (a node
        the README started in the background, quickstart's, contrib/devnet's), then wait."""
        pids = []
        for top, _, files in os.walk(os.path.join(self.home, ".sbx")):
            if ".lock" in files:
                pid = sbxd_pid(os.path.join(top, ".lock"))
                if pid is not None:
                    os.kill(pid, signal.SIGTERM)
                    pids.append((pid, os.path.join(top, ".lock")))
        for pid, lockfile in pids:
            fw.in_time(lambda: sbxd_pid(lockfile) is None or self.reap(), timeout=fw.STOP_TIMEOUT,
                       what="sbxd %d stopped" % pid)
        for p in self.background:
            p.wait(fw.STOP_TIMEOUT)

    def reap(self):
        for p in self.background:
            p.poll()
        return False

    # ---- running what the documents say

    def run_command(self, where, cmd):
        """Run one documented command; return its standard output (None when started in the
        background). A command that exits non-zero fails the test, naming where it is."""
        for name in PLACEHOLDERS:
            if re.search(r"\b%s\b" % name, cmd):
                self.assertIsNotNone(self.txid, "%s: no %s to put in %r" % (where, name, cmd))
                cmd = re.sub(r"\b%s\b" % name, self.txid, cmd)
        bare = without_comment(cmd)
        words = bare.split()
        if os.path.basename(words[0]) == "sbxd" and not bare.endswith("&") and \
                not any(w.split("=")[0] in ONE_SHOT for w in words[1:]):
            self.fail("%s: `%s` runs a node in the foreground, and the commands after it are "
                      "for the same shell (end it with &)" % (where, cmd))
        if bare.endswith("&"):
            log = open(os.path.join(self.tmp, "background-%d.log" % len(self.background)), "ab")
            p = subprocess.Popen(["/bin/sh", "-c", "exec " + bare[:-1].strip()], cwd=self.work,
                                 env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            self.background.append(p)
            return None
        out = subprocess.run(["/bin/sh", "-c", cmd], cwd=self.work, env=self.env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=COMMAND_TIMEOUT)
        self.assertEqual(out.returncode, 0, "%s: `%s` exited with %d:\n%s%s" % (
            where, cmd, out.returncode, out.stdout[-3000:], out.stderr[-3000:]))
        self.check_output(where, cmd, out.stdout)
        return out.stdout

    def check_output(self, where, cmd, stdout):
        """What a command answers must say what the README says it does."""
        words = cmd.split()
        method = next((w for w in words[1:] if not w.startswith("-")), None)
        if os.path.basename(words[0]) == "sbx-cli" and method in ("checktrade", "submittrade"):
            answer = json.loads(stdout)
            if method == "checktrade":
                self.assertIs(answer.get("ok"), True, "%s: checktrade says %r" % (where, answer))
            else:
                self.assertEqual(answer.get("verdict"), "accepted", "%s: %r" % (where, answer))
                self.txid = answer["txid"]
        if method == "verifytxproof":
            self.assertTrue(stdout.startswith("valid: txid " + self.txid), "%s: %r" %
                            (where, stdout))
        if os.path.basename(words[0]) == "sbx-bench":
            self.assertIn("summary: ok", stdout, where)
        if os.path.basename(words[0]) == "rpcauth":
            self.assertRegex(stdout, r"^rpcauth=%s:[0-9a-f]+\$[0-9a-f]{64}:%s\n" %
                             (words[1], words[2]))

    def replay(self, path, heading, lang="sh"):
        """Every command of the `lang` blocks of a section, in order; their outputs."""
        outs = []
        for block in section(path, heading):
            if block[1] != lang:
                continue
            for line, cmd in commands(block):
                where = "%s:%d" % (os.path.relpath(path, fw.SRCDIR), line)
                outs.append(self.run_command(where, cmd))
        return outs

    def wait_node_gone(self, datadir):
        fw.in_time(lambda: sbxd_pid(os.path.join(datadir, ".lock")) is None or self.reap(),
                   timeout=fw.STOP_TIMEOUT, what="the node of %s stopped" % datadir)

    def devnet_datadir(self):
        return os.path.join(self.home, ".sbx", "devnet")

    # ---- the tests

    def test_quick_start(self):
        """`contrib/quickstart run` (what it installs is installed: the build needed it), the
        commands it suggests, and the README's way to stop the node."""
        blocks = section(README, "Quick start")
        run = [c for _, c in commands(blocks[0]) if without_comment(c) == "contrib/quickstart run"]
        self.assertEqual(len(run), 1, "README's quick start has no `contrib/quickstart run`")
        out = self.run_command("README.md (Quick start)", run[0])
        self.assertIn("summary: ok", out)
        self.assertIsNotNone(sbxd_pid(os.path.join(self.devnet_datadir(), ".lock")),
                             "quickstart run left no node running")
        tried = [line.strip() for line in out.split("\n")
                 if re.match(r"^\s+\S*sbx-cli -devnet \w+", line) and not line.endswith(" stop")]
        self.assertGreater(len(tried), 0, "quickstart run suggests no command:\n" + out)
        for cmd in tried:
            self.run_command("contrib/quickstart run's suggestion", cmd)
        with open(README) as f:
            text = f.read().split("## Quick start", 1)[1].split("\n## ", 1)[0]
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # the prose, not the block
        stop = [c for c in re.findall(r"`([^`]+)`", text) if c.endswith("sbx-cli -devnet stop")]
        self.assertEqual(len(stop), 1, "README's quick start does not say how to stop the node")
        self.run_command("README.md (Quick start)", stop[0])
        self.wait_node_gone(self.devnet_datadir())

    def test_using_the_node(self):
        """Every line of "Using the node", in order, on a fresh devnet; then the node stops."""
        self.replay(README, "Using the node")
        self.assertIsNotNone(self.txid, "the README submits no trade")
        self.assertEqual(len(self.background), 1, "the README starts one node in the background")
        self.run_command("test", "build/sbx-cli -devnet stop")
        self.assertEqual(self.background[0].wait(fw.STOP_TIMEOUT), 0)

    def test_building_by_hand_options(self):
        """The configure options README names exist (the build itself is what runs this)."""
        helptext = subprocess.run([os.path.join(fw.SRCDIR, "configure"), "--help"],
                                  capture_output=True, text=True, timeout=120).stdout
        blocks = section(README, "Building by hand")
        named = set(re.findall(r"--(?:enable|with|without)-[a-z-]+", "\n".join(blocks[0][2])))
        self.assertGreater(len(named), 0)
        for opt in sorted(named):
            listed = opt.replace("--without-", "--with-")  # configure --help names only --with-X
            self.assertIn(listed, helptext, "README names %s; configure --help does not" % opt)

    def test_operations_quick_start(self):
        """doc/operations.md's quick start: the node in one terminal (here in the background),
        getinfo and stop in another once it is up."""
        [(line, start), *rest] = commands(section(OPERATIONS_DOC, "Quick start (devnet)")[0])
        self.run_command("doc/operations.md:%d" % line, without_comment(start) + " &")
        cookie = os.path.join(self.devnet_datadir(), ".cookie")
        fw.in_time(lambda: os.path.exists(cookie), timeout=fw.START_TIMEOUT,
                   what="the devnet node's cookie")
        for line, cmd in rest:
            self.run_command("doc/operations.md:%d" % line, cmd)
        self.assertEqual(self.background[0].wait(fw.STOP_TIMEOUT), 0)

    def test_hacking_bench(self):
        """doc/hacking.md's load against a devnet node started in the background."""
        blocks = [b for _, bs in sections(HACKING_DOC) for b in bs
                  if b[1] == "sh" and any("sbx-bench -devnet" in t for t in b[2])]
        self.assertEqual(len(blocks), 1, "doc/hacking.md has no sbx-bench example")
        for line, cmd in commands(blocks[0]):
            self.run_command("doc/hacking.md:%d" % line, cmd)
        self.run_command("test", "build/sbx-cli -devnet stop")
        self.assertEqual(self.background[0].wait(fw.STOP_TIMEOUT), 0)

    def test_devnet_doc(self):
        """doc/devnet.md: up, status, sbx-cli on the operator, down; the Python example reading
        devnet.json; restarting one node by hand; starting afresh."""
        self.replay(DEVNET_DOC, "A multi-node devnet: `contrib/devnet`")
        self.run_command("test", "contrib/devnet up --regulators 2")
        for block in section(DEVNET_DOC, "DIR"):
            if block[1] == "python":
                out = subprocess.run([sys.executable, "-c", "\n".join(block[2])], cwd=self.work,
                                     env=self.env, capture_output=True, text=True,
                                     timeout=fw.RPC_TIMEOUT)
                self.assertEqual(out.returncode, 0, "doc/devnet.md:%d: %s" % (block[0],
                                                                              out.stderr))
                self.assertIn("'role': 'operator'", out.stdout)
        reg1 = os.path.join(self.home, ".sbx", "devnet-multi", "regulator1")
        self.run_command("test", "sbx-cli -datadir=%s stop" % reg1)
        self.wait_node_gone(reg1)
        [restart] = [c for _, c in commands(section(DEVNET_DOC, "Restarting one node")[0])]
        self.run_command("doc/devnet.md (Restarting one node)", without_comment(restart) + " &")
        self.run_command("test", "sbx-cli -datadir=%s -rpcwait getinfo" % reg1)
        self.replay(DEVNET_DOC, "Starting afresh")
        self.run_command("test", "contrib/devnet down")


if __name__ == "__main__":
    unittest.main()
