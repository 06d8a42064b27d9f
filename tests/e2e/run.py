#!/usr/bin/env python3
"""leec end-to-end tests against a local pebble.  Python 3 stdlib only.

    python3 tests/e2e/run.py --leec build/cli/leec [-v] [TEST_NAME ...]

The leec binary comes from --leec, else $LEEC_BIN, else build/cli/leec.
One pebble + challtestsrv (see pebble_env.py) serves the whole run; each test
has its own state directory (--dir).  Besides the tests here, every
tests/e2e/test_*.py module is imported and its TestCases run too; such a
module does `import run` and uses run.ENV (the shared PebbleEnv, started once
by run.ensure_env(), which LeecCase.setUpClass calls) and run.LeecCase (the
base class with the issue/check helpers).  On failure the scratch directory (state
dirs and pebble's logs) is kept and its path printed; LEEC_E2E_KEEP=1 keeps it
always.  The last line of output is "N passed, N failed[, N skipped]"; the
exit status is 0 only if nothing failed.
"""

import argparse
import datetime
import glob
import http.server
import importlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

if __name__ == "__main__":
    # Test modules `import run`: let them get this very module (with its
    # ENV, LEEC, SCRATCH), not a second copy.
    sys.modules.setdefault("run", sys.modules[__name__])

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from pebble_env import PebbleEnv, PATHS  # noqa: E402

TIMEOUT = 60                # seconds, for every subprocess
VALIDITY_DAYS = 90          # pebble 2.4 defaults to 5 years; be like a real CA
SLOWEST = 10                # the slowest tests named after a whole run

LEEC = None                 # path of the binary under test
ENV = None                  # the PebbleEnv
ROOT_PEM = None             # file: pebble's root (trust anchor for issued certs)
SCRATCH = None              # run-wide scratch directory


# --------------------------------------------------------------- plumbing
def child_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run(argv, timeout=TIMEOUT, check=False):
    """Run argv with a deadline; return CompletedProcess (text mode)."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors="replace", timeout=timeout,
                           env=child_env())
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s\nstdout: %s\nstderr: %s"
                             % (timeout, " ".join(argv), e.stdout, e.stderr))
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode,
                                                    r.stdout, r.stderr))
    return r


def openssl(*args):
    return run(["openssl"] + list(args), check=True).stdout


def describe(r):
    return "exit %s\n--- stdout:\n%s--- stderr:\n%s" % (r.returncode, r.stdout,
                                                         r.stderr)


def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      text, re.S)


def cert_sans(path):
    out = openssl("x509", "-in", path, "-noout", "-ext", "subjectAltName")
    body = "".join(out.splitlines()[1:])
    names = set()
    for item in body.split(","):
        item = item.strip()
        if item.startswith("DNS:"):
            names.add(item[4:].lower())
        elif item:
            names.add(item)          # IP Address:... etc: must not be there
    return names


def cert_serial(path):
    out = openssl("x509", "-in", path, "-noout", "-serial").strip()
    return int(out.split("=", 1)[1], 16)


def cert_dates(path):
    out = openssl("x509", "-in", path, "-noout", "-startdate", "-enddate")
    d = {}
    for line in out.splitlines():
        k, v = line.split("=", 1)
        d[k] = datetime.datetime.strptime(v.strip(), "%b %d %H:%M:%S %Y GMT") \
            .replace(tzinfo=datetime.timezone.utc)
    return d["notBefore"], d["notAfter"]


def key_info(path):
    """('EC', 'P-256', 256) / ('RSA', '2048 bits', 2048) for a private key."""
    out = openssl("pkey", "-in", path, "-noout", "-text_pub")
    bits = int(re.search(r"Public-Key: \((\d+) bit", out).group(1))
    if "Modulus:" in out:
        return ("RSA", "%d bits" % bits, bits)
    m = re.search(r"NIST CURVE: (\S+)", out)
    curve = m.group(1) if m else re.search(r"ASN1 OID: (\S+)", out).group(1)
    return ("EC", curve, bits)


KEY_TYPES = {
    "ec256": ("EC", "P-256", 256),
    "ec384": ("EC", "P-384", 384),
    "rsa2048": ("RSA", "2048 bits", 2048),
    "rsa3072": ("RSA", "3072 bits", 3072),
    "rsa4096": ("RSA", "4096 bits", 4096),
}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def parse_iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=datetime.timezone.utc)


class Webroot:
    """A plain static HTTP server for DIR on 127.0.0.1:PORT (the http-01
    port pebble validates against); records the paths it was asked for."""

    def __init__(self, directory, port):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=directory, **kw)

            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        return False


# ------------------------------------------------------------------ tests
def ensure_env():
    """Start the shared pebble once per run (idempotent); main() stops it."""
    global ENV, ROOT_PEM
    if ENV is None:
        env = PebbleEnv(extra_config={
            "certificateValidityPeriod": VALIDITY_DAYS * 86400},
            workdir=os.path.join(SCRATCH, "pebble"))
        env.start()
        ENV = env
        ROOT_PEM = ENV.write_root()
    return ENV


def stop_env():
    global ENV
    if ENV is not None:
        ENV.stop()
        ENV = None


def setUpModule():
    ensure_env()


def orders_created():
    """Orders pebble has created (its "Added order" log lines).  Counting
    "POST /order-plz" lines instead would also count the resends after a
    badNonce, which pebble answers to 5 % of good nonces."""
    return sum(1 for l in ENV.log_lines() if 'Added order "' in l)


def accounts_created():
    """Accounts pebble has created (not resends, not existing ones)."""
    return sum(1 for l in ENV.log_lines()
               if re.search(r"There are now \d+ accounts in memory", l))


class LeecCase(unittest.TestCase):
    """Base class of every e2e test case (here and in test_*.py modules)."""
    maxDiff = None
    needs_pebble = True     # False: a case that brings its own server

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.needs_pebble:
            ensure_env()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=self._testMethodName + "-",
                                    dir=SCRATCH)
        self.dir = os.path.join(self.tmp, "state")

    # -- running leec
    def leec(self, *args, timeout=TIMEOUT):
        return run([LEEC] + [str(a) for a in args], timeout=timeout)

    def issue(self, names, *extra, d=None, http=True):
        argv = ["issue"]
        for n in names:
            argv += ["-d", n]
        argv += ["--server", ENV.directory_url, "--ca-bundle", ENV.ca_bundle,
                 "--agree-tos", "--dir", d or self.dir]
        if http:
            argv += ["--http-port", "127.0.0.1:%d" % ENV.http_port]
        return self.leec(*(argv + list(extra)))

    def issue_ok(self, names, *extra, d=None, http=True, name=None):
        r = self.issue(names, *extra, d=d, http=http)
        self.assertEqual(r.returncode, 0, describe(r))
        name = name or names[0]
        if "--json" not in extra:
            self.assertRegex(r.stdout, r"(?m)\bissued\s+%s\b" % re.escape(name),
                             describe(r))
        return r

    # -- checking the result
    def live(self, name, d=None):
        return os.path.join(d or self.dir, "live", name)

    def check_cert(self, name, names, d=None, key_type=None):
        """All the invariants of a successfully issued certificate."""
        d = d or self.dir
        live = self.live(name, d)
        self.assertTrue(os.path.islink(live), "%s is not a symlink" % live)
        target = os.readlink(live).rstrip("/")
        m = re.fullmatch(r"\.\./archive/%s/(\d+)" % re.escape(name), target)
        self.assertIsNotNone(m, "live link points to %r" % target)
        self.assertEqual(os.path.realpath(live), os.path.realpath(
            os.path.join(d, "archive", name, m.group(1))))
        files = {f: os.path.join(live, f)
                 for f in ("privkey.pem", "cert.pem", "chain.pem",
                           "fullchain.pem")}
        for f, p in files.items():
            self.assertTrue(os.path.isfile(p), "missing %s" % p)

        # modes
        self.assertEqual(mode(files["privkey.pem"]), 0o600, "privkey.pem mode")
        for folder in (os.path.join(d, "live"), os.path.join(d, "archive", name)):
            self.assertEqual(mode(folder), 0o700, "%s mode %o"
                             % (folder, mode(folder)))
        for top, dirs, fnames in os.walk(d):
            for x in dirs + fnames:
                p = os.path.join(top, x)
                if os.path.islink(p):
                    continue        # symlinks are always 0777 on Linux
                self.assertFalse(mode(p) & 0o022, "%s is group/world-writable" % p)

        # contents
        cert = open(files["cert.pem"]).read()
        chain = open(files["chain.pem"]).read()
        full = open(files["fullchain.pem"]).read()
        self.assertEqual(len(pem_blocks(cert)), 1, "cert.pem: one certificate")
        self.assertGreaterEqual(len(pem_blocks(chain)), 1, "chain.pem empty")
        self.assertEqual(full, cert + chain, "fullchain.pem != cert.pem + chain.pem")

        r = run(["openssl", "verify", "-CAfile", ROOT_PEM, "-untrusted",
                 files["chain.pem"], files["cert.pem"]])
        self.assertEqual(r.returncode, 0, "chain does not verify: " + describe(r))

        pub_key = openssl("pkey", "-in", files["privkey.pem"], "-pubout")
        pub_cert = openssl("x509", "-in", files["cert.pem"], "-noout", "-pubkey")
        self.assertEqual(pub_key.strip(), pub_cert.strip(),
                         "privkey.pem does not match cert.pem")

        self.assertEqual(cert_sans(files["cert.pem"]),
                         {n.lower() for n in names}, "subjectAltName")
        if key_type:
            self.assertEqual(key_info(files["privkey.pem"]), KEY_TYPES[key_type])
        return files

    def check_account(self, d=None):
        d = d or self.dir
        acct = os.path.join(d, "accounts", ENV.ca_id)
        self.assertTrue(os.path.isdir(acct), "no %s" % acct)
        self.assertEqual(mode(acct), 0o700, "%s mode" % acct)
        self.assertTrue(os.path.isfile(os.path.join(acct, "account.json")))
        key = os.path.join(acct, "account.key.pem")
        self.assertTrue(os.path.isfile(key))
        self.assertEqual(mode(key), 0o600, "account.key.pem mode")
        with open(os.path.join(acct, "account.json")) as f:
            json.load(f)


class OwnPebbleCase(LeecCase):
    """A case with a pebble of its own, cls.pebble, started once for the
    class: pebble_config (extra configuration) and pebble_env (its
    environment) say how."""
    needs_pebble = False
    pebble_config = {}
    pebble_env = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = tempfile.mkdtemp(prefix=cls.__name__.lower() + "-",
                                    dir=SCRATCH)
        cls.pebble = PebbleEnv(extra_config=dict(cls.pebble_config),
                               env=dict(cls.pebble_env),
                               workdir=os.path.join(cls.base, "pebble"))
        cls.pebble.start()

    @classmethod
    def tearDownClass(cls):
        cls.pebble.stop()
        super().tearDownClass()

class T(LeecCase):
    def test_a_san_builtin_responder(self):
        names = ["a.leec.test", "www.a.leec.test", "api.a.leec.test"]
        self.issue_ok(names)
        self.check_cert("a.leec.test", names)
        self.check_account()

    def test_b_webroot(self):
        names = ["b.leec.test", "www.b.leec.test", "api.b.leec.test"]
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        with Webroot(webroot, ENV.http_port) as srv:
            self.issue_ok(names, "--webroot", webroot, http=False)
        self.check_cert("b.leec.test", names)
        fetched = [p for p in srv.requests
                   if p.startswith("/.well-known/acme-challenge/")]
        self.assertGreaterEqual(len(fetched), len(names),
                                "validator fetched only %r" % srv.requests)
        chal = os.path.join(webroot, ".well-known", "acme-challenge")
        left = os.listdir(chal) if os.path.isdir(chal) else []
        self.assertEqual(left, [], "challenge files left in the webroot")

    def test_c_key_types(self):
        for kt in KEY_TYPES:
            with self.subTest(key_type=kt):
                name = "%s.kt.leec.test" % kt
                self.issue_ok([name], "--key-type", kt)
                files = self.check_cert(name, [name], key_type=kt)
                r = self.leec("show", files["cert.pem"], "--json")
                self.assertEqual(r.returncode, 0, describe(r))
                js = json.loads(r.stdout)
                self.assertEqual((js["key_type"], js["key_detail"],
                                  js["key_bits"]), KEY_TYPES[kt])

    def test_d_account_reused(self):
        before = ENV.count_endpoint("newAccount")
        self.issue_ok(["d1.leec.test"])
        first = ENV.count_endpoint("newAccount")
        self.assertGreaterEqual(first - before, 1, "first run sent no newAccount")
        self.check_account()
        self.issue_ok(["d2.leec.test"])
        self.assertEqual(ENV.count_endpoint("newAccount"), first,
                         "second run with the same --dir sent newAccount")
        self.check_cert("d1.leec.test", ["d1.leec.test"])
        self.check_cert("d2.leec.test", ["d2.leec.test"])
        self.check_account()
        self.assertEqual(os.listdir(os.path.join(self.dir, "accounts")),
                         [ENV.ca_id])

    def test_d_throwaway_account(self):
        before = ENV.count_endpoint("newAccount")
        self.issue_ok(["throwaway.leec.test"], "--throwaway-account")
        self.assertGreaterEqual(ENV.count_endpoint("newAccount") - before, 1)
        self.check_cert("throwaway.leec.test", ["throwaway.leec.test"])
        for top, dirs, fnames in os.walk(self.dir):
            self.assertNotIn("account.json", fnames, top)
            self.assertNotIn("account.key.pem", fnames, top)
        accounts = os.path.join(self.dir, "accounts")
        if os.path.isdir(accounts):
            leftovers = [os.path.join(t, f) for t, _, fs in os.walk(accounts)
                         for f in fs]
            self.assertEqual(leftovers, [], "files under accounts/")

    def test_d_account_lost_at_ca(self):
        """A saved account the CA no longer knows is replaced, once."""
        self.issue_ok(["lost1.leec.test"])
        path = os.path.join(self.dir, "accounts", ENV.ca_id, "account.json")
        with open(path) as f:
            acct = json.load(f)
        acct["url"] = acct["url"].rsplit("/", 1)[0] + "/0123456789abcdef"
        with open(path, "w") as f:
            json.dump(acct, f)
        before = accounts_created()
        self.issue_ok(["lost2.leec.test"])
        self.assertEqual(accounts_created() - before, 1)
        with open(path) as f:
            self.assertNotIn("0123456789abcdef", json.load(f)["url"])
        self.check_account()
        self.check_cert("lost2.leec.test", ["lost2.leec.test"])

    def test_e_fresh_then_force(self):
        name = "e.leec.test"
        self.issue_ok([name])
        self.check_cert(name, [name])
        live = self.live(name)
        link1 = os.readlink(live)
        cert1 = open(os.path.join(live, "cert.pem")).read()
        orders = orders_created()

        r = self.issue([name])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?<![\w/.-])fresh\b", describe(r))
        self.assertEqual(os.readlink(live), link1, "live link changed")
        self.assertEqual(open(os.path.join(live, "cert.pem")).read(), cert1)
        self.assertEqual(orders_created(), orders,
                         "a fresh certificate was ordered again")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "archive", name,
                                                     "2")))

        self.issue_ok([name], "--force")
        self.assertEqual(orders_created(), orders + 1)
        self.assertEqual(os.readlink(live).rstrip("/"), "../archive/%s/2" % name)
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "archive", name, "1")))
        self.check_cert(name, [name])
        self.assertNotEqual(cert_serial(os.path.join(live, "cert.pem")),
                            cert_serial(os.path.join(self.dir, "archive", name,
                                                     "1", "cert.pem")))

    def test_f_show(self):
        names = ["f.leec.test", "www.f.leec.test"]
        self.issue_ok(names, "--key-type", "ec256")
        files = self.check_cert("f.leec.test", names)
        certfile = files["cert.pem"]
        serial = cert_serial(certfile)
        nb, na = cert_dates(certfile)
        inter_cn = re.search(r"CN\s*=\s*(.+)", openssl(
            "x509", "-in", files["chain.pem"], "-noout", "-subject")).group(1)

        by_name = self.leec("show", "--dir", self.dir, "f.leec.test", "--json")
        by_file = self.leec("show", certfile, "--json")
        for label, r in (("by name", by_name), ("by file", by_file)):
            with self.subTest(label):
                self.assertEqual(r.returncode, 0, describe(r))
                js = json.loads(r.stdout)
                self.assertIsInstance(js, dict)
                self.assertEqual(sorted(js["names"]), sorted(names))
                self.assertEqual(js["key_type"], "EC")
                self.assertEqual(js["key_detail"], "P-256")
                self.assertEqual(js["key_bits"], 256)
                self.assertEqual(int(js["serial"].replace(":", ""), 16), serial,
                                 "serial %r" % js["serial"])
                self.assertIn(inter_cn.strip(), js["issuer"])
                self.assertIsInstance(js["subject"], str)
                self.assertEqual(parse_iso(js["not_before"]), nb)
                self.assertEqual(parse_iso(js["not_after"]), na)
                now = datetime.datetime.now(datetime.timezone.utc)
                expect = (na - now).total_seconds() / 86400
                self.assertIsInstance(js["days_left"], int)
                self.assertLessEqual(abs(js["days_left"] - expect), 1.0)
                self.assertTrue(0 <= js["days_left"] <= VALIDITY_DAYS + 1)

        plain = self.leec("show", certfile)
        self.assertEqual(plain.returncode, 0, describe(plain))
        for n in names:
            self.assertIn(n, plain.stdout)
        plain = self.leec("show", "--dir", self.dir, "f.leec.test")
        self.assertEqual(plain.returncode, 0, describe(plain))
        for n in names:
            self.assertIn(n, plain.stdout)

    def _unreachable(self, host):
        # challtestsrv answers every other name with 127.0.0.1; nothing
        # listens on 127.0.0.2, so pebble's http-01 fetch is refused.
        ENV.challtest("/add-a", {"host": host + ".", "addresses": ["127.0.0.2"]})

    def test_g_failure(self):
        host = "fail.leec.test"
        self._unreachable(host)
        r = self.issue([host])
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertNotRegex(r.stdout, r"\bissued\b")
        self.assertTrue(any("connection refused" in line.lower()
                            for line in r.stderr.splitlines()),
                        "stderr lacks the CA's problem detail: " + describe(r))
        live = os.path.join(self.dir, "live")
        self.assertEqual(os.listdir(live) if os.path.isdir(live) else [], [],
                         "something in live/")

    def test_h_json_success(self):
        names = ["h.leec.test", "www.h.leec.test"]
        logged = len([l for l in ENV.log_lines() if "-> calling handler()" in l])
        r = self.issue_ok(names, "--json")
        logged = len([l for l in ENV.log_lines()
                      if "-> calling handler()" in l]) - logged
        js = json.loads(r.stdout)           # exactly one JSON value
        self.assertIsInstance(js, dict)
        self.assertEqual(js["cert_name"], "h.leec.test")
        self.assertEqual(js["outcome"], "issued")
        self.assertEqual(js["names"], names)
        self.assertEqual(os.path.abspath(js["live"]), self.live("h.leec.test"))
        self.assertIsInstance(js["requests"], int)
        self.assertEqual(js["requests"], logged,
                         "requests field vs. pebble's log")
        self.assertIsInstance(js["seconds"], (int, float))
        self.assertGreaterEqual(js["seconds"], 0)
        self.assertNotIn("error", js)
        self.assertNotIn("problem", js)
        self.check_cert("h.leec.test", names)

        r = self.issue(names, "--json")
        self.assertEqual(r.returncode, 0, describe(r))
        js = json.loads(r.stdout)
        self.assertEqual(js["outcome"], "fresh")
        self.assertEqual(js["cert_name"], "h.leec.test")
        self.assertNotIn("error", js)

    def test_h_json_failure(self):
        host = "fail-json.leec.test"
        self._unreachable(host)
        r = self.issue([host], "--json")
        self.assertEqual(r.returncode, 1, describe(r))
        js = json.loads(r.stdout)
        self.assertIsInstance(js, dict)
        self.assertEqual(js["outcome"], "failed")
        self.assertEqual(js["cert_name"], host)
        self.assertEqual(js["names"], [host])
        # never issued: no live folder to name (null)
        self.assertIsNone(js.get("live"), json.dumps(js))
        self.assertFalse(os.path.exists(self.live(host)))
        self.assertIsInstance(js["error"], str)
        self.assertTrue(js["error"])
        self.assertIsInstance(js["requests"], int)
        p = js["problem"]
        self.assertEqual(p["type"], "urn:ietf:params:acme:error:connection")
        self.assertIn("connection refused", p["detail"].lower())
        if "status" in p:
            self.assertIsInstance(p["status"], int)
        for sp in p.get("subproblems", []):
            self.assertIn("type", sp)
            self.assertIn("detail", sp)
            self.assertEqual(set(sp["identifier"]), {"type", "value"})

    def test_usage_errors(self):
        srv = ["--server", ENV.directory_url, "--ca-bundle", ENV.ca_bundle,
               "--dir", self.dir, "--agree-tos"]
        http = ["--http-port", "127.0.0.1:%d" % ENV.http_port]
        cases = {
            "no names": ["issue"] + srv + http,
            "no solver": ["issue", "-d", "u.leec.test"] + srv,
            "bad key type": ["issue", "-d", "u.leec.test", "--key-type",
                             "dsa1024"] + srv + http,
            "unknown option": ["issue", "-d", "u.leec.test",
                               "--no-such-option"] + srv + http,
        }
        before = len(ENV.log_lines())
        for label, argv in cases.items():
            with self.subTest(label):
                r = self.leec(*argv)
                self.assertEqual(r.returncode, 2, describe(r))
                self.assertTrue(r.stderr.strip(), "no message on stderr")
        self.assertEqual(len(ENV.log_lines()), before,
                         "a usage error talked to the CA")


# ---------------------------------------------------------------- running
class Result(unittest.TextTestResult):
    """Counts outcomes per test method (a method with failing subtests is
    one failure)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcome = {}
        self.seconds = {}           # test id -> wall time (make check's
        self._t0 = None             # budget: the slowest are printed)

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self._t0 is not None:
            self.seconds[test.id()] = time.monotonic() - self._t0

    def _mark(self, test, what):
        key = test.id()
        prev = self.outcome.get(key)
        if prev != "failed":
            self.outcome[key] = what

    def addSuccess(self, test):
        super().addSuccess(test)
        self.outcome.setdefault(test.id(), "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        # errors in setUpModule arrive with a _ErrorHolder "test"
        self._mark(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skipped")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.outcome[test.id()] = "failed"

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "failed")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "passed")


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class ImportFailure(unittest.TestCase):
    """Stands for a test module that could not be imported."""
    module = trace = None

    def runTest(self):
        self.fail("cannot import %s:\n%s" % (self.module, self.trace))

    def id(self):
        return "import." + self.module


def load_suite(patterns):
    """T here, then the TestCases of every test_*.py module next to run.py,
    filtered by substrings of the test ids."""
    loader = unittest.defaultTestLoader
    tests = list(iter_tests(loader.loadTestsFromTestCase(T)))
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            mod = importlib.import_module(name)
        except Exception:
            import traceback
            f = ImportFailure()
            f.module, f.trace = name, traceback.format_exc()
            tests.append(f)
            continue
        tests += list(iter_tests(loader.loadTestsFromModule(mod)))
    if patterns:
        tests = [t for t in tests if any(p in t.id() for p in patterns)]
    return unittest.TestSuite(tests)


def main():
    global LEEC, SCRATCH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leec", default=os.environ.get("LEEC_BIN"),
                    help="leec binary (default $LEEC_BIN or build/cli/leec)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", "--keep", action="store_true",
                    help="keep the scratch directory even if all pass")
    ap.add_argument("tests", nargs="*",
                    help="test names or substrings of test ids, e.g. "
                         "test_g_failure or test_governor (default: all)")
    args = ap.parse_args()

    LEEC = os.path.abspath(args.leec or os.path.join(REPO, "build", "cli", "leec"))
    if not (os.path.isfile(LEEC) and os.access(LEEC, os.X_OK)):
        print("run.py: leec binary not found or not executable: %s" % LEEC,
              file=sys.stderr)
        print("0 passed, 1 failed")
        return 2

    SCRATCH = tempfile.mkdtemp(prefix="leec-e2e-")
    keep = args.keep or os.environ.get("LEEC_E2E_KEEP") == "1"

    suite = load_suite(args.tests)
    runner = unittest.TextTestRunner(stream=sys.stdout, resultclass=Result,
                                     verbosity=2 if args.verbose else 1)
    t0 = time.monotonic()
    try:
        result = runner.run(suite)
    except KeyboardInterrupt:
        stop_env()
        print("\ninterrupted; scratch kept in %s" % SCRATCH)
        return 130
    finally:
        stop_env()              # the one place pebble is stopped

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for what in result.outcome.values():
        counts[what] += 1
    ok = counts["failed"] == 0 and result.wasSuccessful()
    if not ok and counts["failed"] == 0:
        counts["failed"] = 1        # an error outside any test method
    if ok and not keep:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    else:
        print("scratch directory (state dirs, pebble logs): %s" % SCRATCH)
    if args.verbose:
        print("%.1f s" % (time.monotonic() - t0))
    slow = sorted(result.seconds.items(), key=lambda kv: -kv[1])[:SLOWEST]
    if len(result.seconds) > SLOWEST:
        print("slowest: " + ", ".join("%s %.1f s" % (k.split(".", 1)[-1], v)
                                      for k, v in slow))
    line = "%d passed, %d failed" % (counts["passed"], counts["failed"])
    if counts["skipped"]:
        line += ", %d skipped" % counts["skipped"]
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
