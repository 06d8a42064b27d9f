"""e2e tests of rough edges of issue 13 item 6: budgets counted across runs
(kept in the store) and reported with their end when the output is not a
terminal; a changed --profile or --key-type re-orders a fresh certificate;
SIGINT during dns-01 says what it removes, after removing it.

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_edges
"""

import base64
import datetime
import json
import os
import re
import select
import signal
import subprocess
import time
import urllib.parse

import run
from pebble_env import PATHS
from record_proxy import RecordProxy
from run import LeecCase, describe


def wait_for_line(proc, pattern, timeout):
    """Reads proc's stderr (a pipe: not a terminal) until pattern matches
    (the match and all read so far), or (None, text) after timeout seconds
    or at its end."""
    deadline = time.time() + timeout
    fd = proc.stderr.fileno()
    buf = ""
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk.decode("utf-8", "replace")
        m = re.search(pattern, buf)
        if m:
            return m, buf
    return None, buf


class BudgetAcrossRuns(LeecCase):
    """--budget-orders and --budget-domain count the orders of earlier
    runs (the store's budget log); the wait says its end, stderr a pipe."""

    def _start(self, name, *extra):
        argv = [run.LEEC, "issue", "-d", name, "--server",
                run.ENV.directory_url, "--ca-bundle", run.ENV.ca_bundle,
                "--agree-tos", "--dir", self.dir,
                "--http-port", "127.0.0.1:%d" % run.ENV.http_port]
        return subprocess.Popen(argv + list(extra), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=run.child_env())

    def _second_waits(self, name, pattern, window_s, t_first, *extra):
        p = self._start(name, *extra)
        try:
            m, err = wait_for_line(p, pattern, 20)
            self.assertIsNotNone(m, "no budget wait said\nstderr: " + err)
            self.assertIsNone(p.poll(), "the run ended:\n" + err)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            out, rest = p.communicate(timeout=20)
        out = out.decode("utf-8", "replace")
        rest = rest.decode("utf-8", "replace")
        end = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M")
        end = end.replace(tzinfo=datetime.timezone.utc).timestamp()
        # The window from the first run's order, rounded up to the minute.
        self.assertLessEqual(abs(end - (t_first + window_s)), 120,
                             "end %s, first order at %s" % (m.group(1),
                                                            time.ctime(t_first)))
        self.assertNotIn("issued", out)
        return err + rest

    def test_budgets_across_runs(self):
        t0 = time.time()
        r = self.issue(["a.budget.leec.test"], "--budget-orders", "1",
                       "--budget-domain", "1")
        self.assertEqual(r.returncode, 0, describe(r))
        log = os.path.join(self.dir, "budget", run.ENV.ca_id)
        self.assertEqual(len(os.listdir(log)), 2, "an order and a certificate "
                         "recorded: %s" % os.listdir(log))
        # Another run, another name: the order budget is spent.
        self._second_waits(
            "b.budget.leec.test",
            r"budget of 1 orders per 3 h reached; waiting until "
            r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", 3 * 3600, t0,
            "--budget-orders", "1")
        # And the per-domain budget, for the same registered domain.
        self._second_waits(
            "c.budget.leec.test",
            r"budget of 1 certificates per registered domain per 7 days "
            r"reached; waiting until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC",
            7 * 86400, t0, "--budget-domain", "1")
        # Without the budgets, the next run orders at once.
        r = self.issue(["d.budget.leec.test"])
        self.assertEqual(r.returncode, 0, describe(r))


class ProfileProxy(RecordProxy):
    """The record proxy, with meta.profiles added to pebble's directory
    (pebble 2.4 offers none; it takes the newOrder "profile" field and
    ignores it)."""
    PROFILES = {"classic": "the usual", "shortlived": "6 days"}

    def _upstream(self, method, path, body=None, headers=(), host=None):
        st, hdrs, data = super()._upstream(method, path, body, headers, host)
        if host is not None and method == "GET" and st == 200 and \
                urllib.parse.urlsplit(path).path == self.dir_path:
            d = json.loads(data)
            d.setdefault("meta", {})["profiles"] = self.PROFILES
            data = json.dumps(d).encode()
        return st, hdrs, data


class ReorderOnChange(LeecCase):
    """A fresh certificate is ordered again for a key type asked for that
    differs from its own, or another profile, as for other names; the
    default key type never re-orders it."""

    def test_key_type_and_profile_changes(self):
        name = "change.leec.test"
        with ProfileProxy(os.path.join(self.tmp, "proxy"),
                          run.ENV.directory_url, run.ENV.ca_bundle) as rp:
            def issue(*extra):
                r = self.leec("issue", "-d", name, "--server",
                              rp.directory_url, "--ca-bundle", rp.ca_bundle,
                              "--agree-tos", "--dir", self.dir,
                              "--http-port",
                              "127.0.0.1:%d" % run.ENV.http_port, "-v",
                              *extra)
                self.assertEqual(r.returncode, 0, describe(r))
                return r

            def orders():
                return rp.counts().get(name, {}).get("orders", 0)

            issue()
            self.assertEqual(orders(), 1)
            r = issue()
            self.assertEqual(orders(), 1, "fresh: no order\n" + describe(r))
            r = issue("--key-type", "rsa2048")
            self.assertEqual(orders(), 2, describe(r))
            self.assertIn("ordering (key type changed)", r.stderr)
            self.check_cert(name, [name], key_type="rsa2048")
            # The same type again, or none given: nothing to do.
            r = issue("--key-type", "rsa2048")
            self.assertEqual(orders(), 2, describe(r))
            r = issue()
            self.assertEqual(orders(), 2, "the default key type re-ordered "
                             "an RSA certificate\n" + describe(r))
            # A profile where there was none, the same again, another one.
            r = issue("--key-type", "rsa2048", "--profile", "classic")
            self.assertEqual(orders(), 3, describe(r))
            self.assertIn("ordering (profile changed)", r.stderr)
            r = issue("--key-type", "rsa2048", "--profile", "classic")
            self.assertEqual(orders(), 3, describe(r))
            r = issue("--key-type", "rsa2048", "--profile", "shortlived")
            self.assertEqual(orders(), 4, describe(r))
            self.assertIn("ordering (profile changed)", r.stderr)
            with open(os.path.join(self.live(name), "meta.json")) as f:
                self.assertEqual(json.load(f).get("profile"), "shortlived")


class AccountProxy(RecordProxy):
    """The record proxy, also noting the accounts pebble created (newAccount
    answered 201: their URLs) and the account (JWS "kid") of each newOrder
    it answered 201, by the identifiers ordered."""

    def __init__(self, *a, **kw):
        self.accounts_made = []
        self.order_kids = {}
        super().__init__(*a, **kw)

    def _upstream(self, method, path, body=None, headers=(), host=None):
        st, hdrs, data = super()._upstream(method, path, body, headers, host)
        bare = urllib.parse.urlsplit(path).path
        if host is None or method != "POST" or st != 201:
            return st, hdrs, data
        try:
            jws = json.loads(body)
            p64 = jws["protected"]
            prot = json.loads(base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4)))
        except (ValueError, KeyError, TypeError):
            return st, hdrs, data
        if bare == PATHS["newAccount"]:
            loc = next((v for k, v in hdrs if k.lower() == "location"), None)
            with self.rec_lock:
                self.accounts_made.append(loc)
        elif bare == self.new_order_path:
            payload = self._payload(body) or {}
            key = ",".join(sorted(i["value"]
                                  for i in payload.get("identifiers", [])))
            with self.rec_lock:
                self.order_kids[key] = prot.get("kid")
        return st, hdrs, data


class ThrowawayPerCertificate(LeecCase):
    """--throwaway-account=per-certificate: each certificate of a --batch
    run registers an account of its own and signs its order with it."""

    def test_three_certificates_three_accounts(self):
        names = ["pc%d.leec.test" % i for i in range(3)]
        batch = os.path.join(self.tmp, "batch.txt")
        with open(batch, "w") as f:
            for n in names:
                f.write("%s %s\n" % (n, n))
        with AccountProxy(os.path.join(self.tmp, "proxy"),
                          run.ENV.directory_url, run.ENV.ca_bundle) as rp:
            r = self.leec("issue", "--batch", batch, "--server",
                          rp.directory_url, "--ca-bundle", rp.ca_bundle,
                          "--agree-tos", "--dir", self.dir,
                          "--http-port", "127.0.0.1:%d" % run.ENV.http_port,
                          "--throwaway-account=per-certificate")
            self.assertEqual(r.returncode, 0, describe(r))
            made = list(rp.accounts_made)
            kids = dict(rp.order_kids)
        self.assertEqual(len(made), 3, "newAccounts: %s\n%s" % (made,
                                                                describe(r)))
        self.assertEqual(sorted(kids), sorted(names), kids)
        self.assertEqual(len(set(kids.values())), 3, kids)
        self.assertEqual(set(kids.values()), set(made))
        for n in names:
            self.check_cert(n, [n])
        # Saved nowhere, as --throwaway-account.
        self.assertEqual(os.listdir(os.path.join(self.dir, "accounts")), [])
        # A bad value is a usage error.
        r = self.leec("issue", "-d", "x.leec.test",
                      "--throwaway-account=per-planet")
        self.assertEqual(r.returncode, 2, describe(r))
