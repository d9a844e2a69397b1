"""doc/rpc.md against the node: every example Request is sent, in the order of the file (the file
says its examples are one session against a fresh `sbxd -devnet` with the cookie), and the
answer must have the shape of the example Response: the same keys at every level, the same JSON
types, the same error codes, rule ids and verdicts. Values that differ on every devnet (ids,
hashes, keys, times, messages) are not compared; ids and hashes from earlier answers are carried
into later requests (a `gettx` of the txid the previous example got)."""

import json
import os
import re
import unittest

import framework as fw
from test_rpc import METHODS

DOC = os.path.join(fw.SRCDIR, "doc", "rpc.md")
HEX = re.compile(r"^[0-9a-f]{64}([0-9a-f]{64})?$")
NOT_SERVED = set()  # methods doc/rpc.md lists as not served yet (none today)


def parse_examples(path):
    """[(section, request, response or None, line)] from labelled ```json blocks."""
    with open(path) as f:
        lines = f.read().split("\n")
    section, label, out, pending = None, None, [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^#{1,4}\s+(.*?)\s*$", line)
        if m:
            section = m.group(1).strip("` ")
        elif line.strip() in ("Request:", "Response:"):
            label = line.strip()[:-1]
        elif line.startswith("```json"):
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            text = "\n".join(lines[start:i])
            try:
                doc = json.loads(text)
            except ValueError as e:
                raise AssertionError("%s:%d: example is not JSON: %s" % (path, start, e))
            if label == "Request":
                if pending is not None:
                    out.append(pending)
                pending = (section, doc, None, start)
            elif label == "Response":
                if pending is None:
                    raise AssertionError("%s:%d: a Response without a Request" % (path, start))
                out.append((pending[0], pending[1], doc, pending[3]))
                pending = None
            else:
                raise AssertionError("%s:%d: a json block not labelled Request: or Response:" %
                                     (path, start))
            label = None
        i += 1
    if pending is not None:
        out.append(pending)
    return out


def methods_of(request):
    reqs = request if isinstance(request, list) else [request]
    return {r.get("method") for r in reqs if isinstance(r, dict)}


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


class DocsTest(fw.NodeTestCase):

    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(DOC), "doc/rpc.md is missing")
        self.examples = parse_examples(DOC)
        self.subst = {}
        self.time_base = None  # (the doc's first executed_at, this session's clock then)

    def test_every_method_documented_with_an_example(self):
        documented = set()
        for _, req, resp, _ in self.examples:
            self.assertIsNotNone(resp)
            documented |= methods_of(req)
        for m in METHODS:
            self.assertIn(m, documented, "doc/rpc.md has no example for %s" % m)

    def carry(self, v):
        """Replace ids and hashes of the doc's session with this session's, and its times of
        execution with times as near this session's clock (time.executed_at: within a minute
        of the node's timestamp) that keep their distances (a repeated trade stays the same)."""
        if isinstance(v, str):
            return self.subst.get(v, v)
        if isinstance(v, list):
            return [self.carry(x) for x in v]
        if isinstance(v, dict):
            return {k: self.carry_time(x) if k == "executed_at" else self.carry(x)
                    for k, x in v.items()}
        return v

    def carry_time(self, v):
        if not isinstance(v, int) or isinstance(v, bool):
            return self.carry(v)
        if self.time_base is None:
            self.time_base = (v, fw.now_ms())
        return self.time_base[1] + (v - self.time_base[0])

    def same_shape(self, doc, got, path, problems):
        if jtype(doc) != jtype(got):
            problems.append("%s: %s in the doc, %s from the node (%r)" %
                            (path, jtype(doc), jtype(got), got))
            return
        if isinstance(doc, dict):
            if set(doc) != set(got):
                problems.append("%s: keys differ: only in the doc %s, only from the node %s" %
                                (path, sorted(set(doc) - set(got)), sorted(set(got) - set(doc))))
            for k in set(doc) & set(got):
                self.same_shape(doc[k], got[k], path + "." + k, problems)
            # values that are the same on every devnet: codes, rules, verdicts
            keys = ["code", "rule", "verdict", "ok", "type", "kind"]
            if re.match(r"^response(\[\d+\])?$", path):
                keys += ["id", "jsonrpc"]  # the envelope's
            for k in keys:
                if k in doc and k in got and not isinstance(doc[k], (dict, list)) \
                        and doc[k] != got[k]:
                    problems.append("%s.%s: %r in the doc, %r from the node" %
                                    (path, k, doc[k], got[k]))
        elif isinstance(doc, list):
            if len(doc) != len(got):
                problems.append("%s: %d elements in the doc, %d from the node" %
                                (path, len(doc), len(got)))
            for i, (d, g) in enumerate(zip(doc, got)):
                self.same_shape(d, g, "%s[%d]" % (path, i), problems)
        elif isinstance(doc, str) and HEX.match(doc) and HEX.match(got):
            self.subst.setdefault(doc, got)

    def test_examples_replay(self):
        n = self.node()
        problems = []
        for section, req, resp, line in self.examples:
            where = "doc/rpc.md:%d (%s)" % (line, section)
            got = n.request(self.carry(req))
            if resp is None:
                if got is not None:
                    problems.append("%s: no answer documented, the node answered %r" %
                                    (where, got))
                continue
            if got is None:
                problems.append("%s: the node gave no answer" % where)
                continue
            mine = []
            self.same_shape(resp, got, "response", mine)
            problems += ["%s: %s" % (where, p) for p in mine]
            if methods_of(req) & NOT_SERVED:
                self.assertEqual(got.get("error", {}).get("code"), fw.METHOD_NOT_FOUND)
        self.assertEqual(problems, [], "doc/rpc.md and the node disagree:\n" +
                         "\n".join(problems))
        # the last example stops the node: it must exit cleanly
        if any("stop" in methods_of(r) for _, r, _, _ in self.examples):
            self.assertEqual(n.proc.wait(fw.STOP_TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main()
