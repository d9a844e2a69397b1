"""-alertnotify=CMD: one line per compliance alert (from a block) and per node alert, written by
CMD through /bin/sh with %s replaced by a quoted one-line summary; an account id full of shell
syntax stays one harmless line."""
import os
import time
import unittest

import framework as fw
from framework import in_time

T = fw.SYNC_TIMEOUT


class AlertNotifyTest(fw.NodeTestCase):

    def lines(self, path):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()

    def test_alert_lines(self):
        out = os.path.join(self.tmp, "alerts.txt")
        canary = os.path.join(self.tmp, "canary")
        # the command runs in the test's directory: a canary there shows a summary run as code
        n = self.node(extra_args=["-alertnotify=cd %s && echo %%s >> alerts.txt" % self.tmp])
        acct, _ = n.open_account()
        n.deposit(acct, "VND", "400000000")  # aml.large_value
        got = in_time(lambda: self.lines(out) or None, T, "the first alert line")
        self.assertEqual(len(got), 1, got)
        self.assertTrue(got[0].startswith("alert aml.large_value "), got)
        self.assertIn("account=%s " % acct, got[0])

        # an account id made of shell syntax: quotes, a command substitution, a separator
        evil = "o'b\";$(touch${IFS}canary);`touch${IFS}canary`'"
        n.open_account(evil)
        n.deposit(evil, "VND", "400000000")
        got = in_time(lambda: (lambda l: l if len(l) >= 2 else None)(self.lines(out)), T,
                      "the second alert line")
        self.assertEqual(len(got), 2, got)
        # the summary keeps letters, digits and " .,:=_/@+-"; the rest becomes "_"
        safe = "".join(c if c.isascii() and (c.isalnum() or c in " .,:=_/@+-") else "_"
                       for c in evil)
        self.assertIn("account=%s " % safe, got[1])
        self.assertFalse(os.path.exists(canary), "the summary ran as shell code")

        # a node alert: price.stale_soon, once per asset, when price.max_age_s is short
        self.assertReceipt(n.call("submitdirective", {
            "kind": "set_param", "name": "price.max_age_s", "value": 4,
            "reason": "functional test", "legal_basis": "test licence 1.2"}))
        node_lines = lambda: [l for l in self.lines(out) if l.startswith("node_alert ")]
        got = in_time(lambda: (lambda l: l if len(l) >= 2 else None)(node_lines()), T,
                      "node alert lines")
        self.assertTrue(all(l.startswith("node_alert warning price.stale_soon ") for l in got),
                        got)
        kept = [a for a in n.call("listnodealerts")["items"] if a["kind"] == "price.stale_soon"]
        time.sleep(1)
        self.assertEqual(len(node_lines()), len(kept))
        self.assertFalse(os.path.exists(canary))

    def test_double_quoted(self):
        """An operator who writes "%s" inside double quotes (where single quotes mean nothing)
        still cannot have an account id run as shell code."""
        out = os.path.join(self.tmp, "quoted.txt")
        canary = os.path.join(self.tmp, "canary")
        n = self.node(extra_args=['-alertnotify=cd %s && echo "%%s" >> quoted.txt' % self.tmp])
        evil = "q$(touch${IFS}canary)`touch${IFS}canary`"
        n.open_account(evil)
        n.deposit(evil, "VND", "400000000")  # aml.large_value
        got = in_time(lambda: self.lines(out) or None, T, "the alert line")
        self.assertEqual(len(got), 1, got)
        self.assertIn("account=q__touch__IFS_canary__touch__IFS_canary_", got[0])
        time.sleep(0.5)
        self.assertFalse(os.path.exists(canary), "the summary ran as shell code")

    def test_rate(self):
        out = os.path.join(self.tmp, "alerts.txt")
        n = self.node(extra_args=["-alertnotify=echo %s >> " + out, "-alertnotifyrate=1"])
        accounts = [n.open_account()[0] for _ in range(3)]
        # three alerts in one block-sized burst: at most one command a second
        replies = n.batch([("deposit", {"account": a, "asset": "VND", "amount": "400000000",
                                        "transfer_id": fw.uid("t"), "reference": fw.uid("r")})
                           for a in accounts])
        self.assertTrue(all("result" in r for r in replies), replies)
        in_time(lambda: self.lines(out) or None, T, "an alert line")
        time.sleep(1.5)
        self.assertLessEqual(len(self.lines(out)), 2)
        in_time(lambda: "alertnotify: " in fw.debug_log(n) and "not run" in fw.debug_log(n), T,
                "the summary of dropped notifications in the log")


if __name__ == "__main__":
    unittest.main()
