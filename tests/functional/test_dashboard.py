"""The supervisor dashboard (GET /dashboard) in a real browser.

Debian's chromium and chromium-driver, driven with python3-selenium, headless. The RPC
credentials go to the browser as an extra HTTP header through the DevTools protocol, so every
request of the page carries them (the page, its script and style, JSON-RPC and /events). The
tests submit trades, a rejected trade and a trade that raises an alert, and see the page change
without a reload and without a JavaScript error in the browser's log; they save screenshots at
1280x800 and 390x844 into $SBX_ARTIFACTS (default: tests/functional/artifacts/ in the build
directory) and print their paths.

Outside CI the browser tests skip when chromium, chromium-driver or selenium is missing
(`contrib/quickstart test` installs them); in CI (CI=true) they fail instead.
"""

import base64
import http.client
import os
import shutil
import sys
import time
import unittest

import framework as fw
from framework import REJECTED, in_time



def import_selenium():
    """Selenium's modules, or the ImportError. Debian's python3-selenium lives in the system
    Python's dist-packages, which a python3 of its own (a virtualenv, pyenv) does not search."""
    try:
        from selenium import webdriver
    except ImportError as e:
        debian = "/usr/lib/python3/dist-packages"
        if debian in sys.path or not os.path.isdir(os.path.join(debian, "selenium")):
            return e
        sys.path.append(debian)
        try:
            from selenium import webdriver
        except ImportError as e2:
            return e2
    return webdriver


webdriver = import_selenium()
SELENIUM = webdriver if isinstance(webdriver, ImportError) else None

T = 60  # bound for a condition that must eventually hold on the page

ARTIFACTS = os.environ.get("SBX_ARTIFACTS") or os.path.join(fw.BUILDDIR, "tests", "functional",
                                                            "artifacts")


def find_browser():
    """(chromium, chromedriver) paths, or a string saying what is missing."""
    if SELENIUM is not None:
        return "python3-selenium is not installed (%s)" % SELENIUM
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None)
    if chromium is None or driver is None:
        return "chromium or chromium-driver is not installed"
    return chromium, driver


def need_browser():
    found = find_browser()
    if isinstance(found, str):
        if os.environ.get("CI") == "true":
            raise AssertionError("CI: %s (contrib/quickstart test installs it)" % found)
        raise unittest.SkipTest(found + " (apt-get install chromium chromium-driver "
                                "python3-selenium)")
    return found


def basic(auth):
    return "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()


class Browser:
    """One headless chromium whose every request carries `auth` as HTTP Basic credentials."""

    def __init__(self, auth):
        chromium, driver = need_browser()
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        opts = Options()
        opts.binary_location = chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800", "--hide-scrollbars", "--no-first-run",
                  "--disable-extensions", "--disable-background-networking"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(driver), options=opts)
        self.d.set_page_load_timeout(T)
        self.d.execute_cdp_cmd("Network.enable", {})
        self.d.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": basic(auth)}})
        self.logs = []

    def quit(self):
        self.d.quit()

    def text(self, element_id):
        return self.d.execute_script(
            "var e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
            element_id)

    def count(self, selector):
        return self.d.execute_script("return document.querySelectorAll(arguments[0]).length;",
                                     selector)

    def wait_text(self, element_id, pred, what):
        return in_time(lambda: pred(self.text(element_id) or ""), T, what)

    def errors(self):
        """The browser log's SEVERE entries so far (JavaScript errors, failed loads, CSP)."""
        self.logs += self.d.get_log("browser")
        return [e for e in self.logs if e.get("level") == "SEVERE"]

    def screenshot(self, name, width, height, mobile=False):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        time.sleep(1.5)  # the layout settles and the page ticks once
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, "%s-%dx%d.png" % (name, width, height))
        if not self.d.get_screenshot_as_file(path):
            raise AssertionError("no screenshot written to %s" % path)
        print("\nscreenshot: %s" % path, flush=True)
        return path


class DashboardHTTPTest(fw.OneNodeTestCase):
    """What the node answers on /dashboard, without a browser."""

    node_users = {"sup": "supervisor"}

    def test_served_with_credentials_only(self):
        n = self.n
        status, _ = n.http(b"", auth=False, method="GET", path="/dashboard")
        self.assertEqual(status, 401)
        status, _ = n.http(b"", auth=("sup", "wrong"), method="GET", path="/dashboard")
        self.assertEqual(status, 401)
        for path, ctype in (("/dashboard", "text/html"), ("/dashboard/", "text/html"),
                            ("/dashboard/app.js", "text/javascript"),
                            ("/dashboard/style.css", "text/css"),
                            ("/dashboard/icon.svg", "image/svg+xml")):
            conn = http.client.HTTPConnection("127.0.0.1", n.rpcport, timeout=fw.RPC_TIMEOUT)
            try:
                conn.request("GET", path, headers={"Authorization": basic(self.auth["sup"])})
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual(resp.status, 200, path)
                self.assertTrue(resp.getheader("Content-Type").startswith(ctype), path)
                self.assertEqual(resp.getheader("Cache-Control"), "no-store")
                csp = resp.getheader("Content-Security-Policy")
                self.assertIn("default-src 'self'", csp)
                self.assertNotIn("unsafe", csp)
                self.assertNotIn("http", csp)  # nothing from elsewhere
                self.assertGreater(len(body), 100)
            finally:
                conn.close()
        status, _ = n.http(b"", method="GET", path="/dashboard/nothing.js")
        self.assertEqual(status, 404)
        status, _ = n.http(b"{}", method="POST", path="/dashboard")
        self.assertEqual(status, 405)
        # the page loads nothing from another origin
        _, page = n.http(b"", method="GET", path="/dashboard")
        _, script = n.http(b"", method="GET", path="/dashboard/app.js")
        for body in (page, script):
            self.assertNotIn(b"http://", body.replace(b"http://www.w3.org/2000/svg", b""))
            self.assertNotIn(b"https://", body)


class DashboardBrowserTest(fw.NodeTestCase):
    """The page in headless chromium, on the operator and on a regulator node."""

    @classmethod
    def setUpClass(cls):
        need_browser()

    def open(self, node, auth):
        b = Browser(auth)
        self.addCleanup(b.quit)
        b.d.get("http://127.0.0.1:%d/dashboard" % node.rpcport)
        height = node.call("getinfo")["height"]
        b.wait_text("height", lambda t: t.isdigit() and int(t) >= height,
                    "the page showing height %d" % height)
        b.wait_text("stream", lambda t: t == "live", "the event stream open")
        b.d.execute_script("window.sbxNoReload = 42;")
        return b

    def assert_clean(self, b):
        self.assertEqual(b.d.execute_script("return window.sbxNoReload;"), 42,
                         "the page was reloaded")
        self.assertEqual(b.errors(), [], "errors in the browser's log")

    def test_operator(self):
        net = fw.Network(self, regulators=1, start=False)
        op = net.operator
        sup = op.add_user("sup", "supervisor")
        net.start()
        buyer, _ = op.open_account(tier=3)
        seller, _ = op.open_account(tier=3)
        op.deposit(buyer, "VND", "300000000")
        op.deposit(buyer, "VND", "300000000")
        op.deposit(seller, "BTC", "1.00000000")
        net.wait_synced()

        b = self.open(op, sup)
        self.assertEqual(b.text("role"), "operator node")
        self.assertEqual(b.text("licence-id"), op.call("getlicence")["licence_id"])
        self.assertEqual(b.text("licence-status"), "active")
        self.assertRegex(b.text("licence-days"), r"^\d+ days")
        in_time(lambda: b.count("#regulators tr") == 1, T, "one regulator in the table")
        alerts_before = b.count("#alerts li:not(.empty)")

        # trades: the height moves, and the trades-per-second chart has columns
        for _ in range(3):
            r = op.trade(buyer, seller, quantity="0.00100000")
            self.assertReceipt(r)
        # (the regulator's attestations make blocks too: the height may be past the trades')
        b.wait_text("height", lambda t: t.isdigit() and int(t) >= r["height"],
                    "the page showing height %d" % r["height"])
        in_time(lambda: b.count("#tps-chart rect.bar") > 0, T, "columns in the trades chart")

        # a rejected trade: its rule appears in the rejections chart
        data = self.assertRejected("price.band", op.trade, buyer, seller,
                                   price=str(fw.BTC_REF * 2))
        b.wait_text("rejections-chart", lambda t: "price.band" in t,
                    "price.band in the rejections chart")
        b.wait_text("height", lambda t: t.isdigit() and int(t) >= data["height"],
                    "the page showing height %d" % data["height"])

        # a large trade (0.2 BTC, 500,000,000 VND): a new aml.large_value alert
        self.assertReceipt(op.trade(buyer, seller, quantity="0.20000000"))
        in_time(lambda: b.count("#alerts li:not(.empty)") > alerts_before, T,
                "a new alert in the list")
        # the list marks what arrived live (class "new"): only the large trade raised alerts
        # (one for the buyer, one for the seller)
        live = b.d.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('#alerts li.new'),"
            " function (li) { return li.querySelector('strong').textContent; });")
        self.assertEqual(set(live), {"aml.large_value"}, live)
        b.wait_text("alerts-chart", lambda t: "aml.large_value" in t,
                    "aml.large_value in the alerts chart")
        # the regulator's attestation of the trades reaches the table
        net.wait_attested(r["height"])
        in_time(lambda: b.d.execute_script(
            "var c = document.querySelector('#regulators td:nth-child(2)');"
            "return c ? Number(c.textContent) : 0;") >= r["height"], T,
            "the regulator's attested height on the page")
        b.wait_text("banner", lambda t: "supervision ok" in t, "the operator's banner")

        b.screenshot("dashboard-operator", 1280, 800)
        b.screenshot("dashboard-operator", 390, 844, mobile=True)
        self.assertLessEqual(b.d.execute_script("return document.documentElement.scrollWidth;"),
                             390, "the page is wider than the phone's screen")
        self.assert_clean(b)

    def test_regulator_stops_following(self):
        net = fw.Network(self, regulators=1)
        op, reg = net.operator, net.regulators[0]
        buyer, seller = op.funded_pair()
        self.assertReceipt(op.trade(buyer, seller))
        net.wait_synced()

        b = self.open(reg, reg.cookie())
        self.assertEqual(b.text("role"), "regulator node")
        b.wait_text("banner", lambda t: t.startswith("Following the operator"),
                    "the regulator's banner: following")

        # a directive from this regulator: in the list, and the market line follows it
        d = reg.call("submitdirective", {"kind": "halt", "asset": "ETH",
                                         "reason": "dashboard test", "legal_basis": "test"})
        self.assertEqual(d["verdict"], "accepted", d)
        b.wait_text("directives", lambda t: "halt ETH" in t, "the directive in the list")
        b.wait_text("market", lambda t: t == "halted: ETH", "the market halted for ETH")

        # the operator seals a block with a flipped verdict: the regulator refuses it
        fw.testhook(self, op, {"action": "wrong_verdict"})
        try:
            op.trade(buyer, seller)
        except fw.RPCError as e:
            self.assertEqual(e.code, REJECTED, e)
        b.wait_text("banner", lambda t: t.startswith("NOT FOLLOWING"),
                    "the regulator's banner: not following")
        self.assertIn("Refused block at height", b.text("banner"))
        b.wait_text("node-alerts", lambda t: "block_invalid" in t, "the node alert in the list")

        b.screenshot("dashboard-regulator", 1280, 800)
        b.screenshot("dashboard-regulator", 390, 844, mobile=True)
        self.assert_clean(b)


if __name__ == "__main__":
    unittest.main()
