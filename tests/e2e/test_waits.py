"""e2e tests of bounded waits: a CA asking for a long pause (429 with a
Retry-After of an hour) ends a one-shot run at once with the time to try
again, and a renewal records it; an order stuck "processing" and an
authorization stuck "pending" end within --order-timeout after a bounded
number of polls that honour Retry-After; a lock held by another process is
waited for at most --lock-timeout and its holder named; a second daemon on
one state folder refuses to start.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_waits
"""

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import time

import run
from run import LeecCase, describe
from ari_proxy import AriProxy
from stub_ca import StubCA


def utc(t):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def retry_time(text):
    """The time of "try again after YYYY-MM-DD HH:MM:SS UTC" in text."""
    m = re.search(r"try again after (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC",
                  text)
    if not m:
        return None
    return time.mktime(time.strptime(m.group(1) + " UTC",
                                     "%Y-%m-%d %H:%M:%S %Z")) - time.timezone


class StubWaitTest(LeecCase):
    """Against a local stub CA (no pebble)."""
    needs_pebble = False

    def issue_stub(self, ca, *extra, timeout=60):
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot, exist_ok=True)
        t0 = time.time()
        r = self.leec("issue", "-d", "stub.leec.test", "--server",
                      ca.directory_url, "--ca-bundle", ca.ca_bundle,
                      "--agree-tos", "--dir", self.dir, "--webroot", webroot,
                      *extra, timeout=timeout)
        return r, time.time() - t0

    def test_a_long_retry_after_ends_at_once(self):
        with StubCA(os.path.join(self.tmp, "stub"), retry_after=3600) as ca:
            r, elapsed = self.issue_stub(ca)
            limited = list(ca.limited_at)
            new_orders = ca.count("/new-order")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(len(limited), 1, describe(r))
        self.assertEqual(new_orders, 1, "sent again: " + describe(r))
        self.assertLess(elapsed, 60, describe(r))     # --max-wait's default
        self.assertIn("rateLimited", r.stderr, describe(r))
        when = retry_time(r.stderr)
        self.assertIsNotNone(when, describe(r))
        self.assertLessEqual(abs(when - (limited[0] + 3600)), 3, describe(r))
        # A longer --max-wait would wait (and the stub's next answer, its
        # final 403, ends the run): not tried here, it is the pause test's.

    def test_b_order_stuck_processing(self):
        with StubCA(os.path.join(self.tmp, "stub"), limited=0,
                    stuck="order", poll_retry_after=2) as ca:
            r, elapsed = self.issue_stub(ca, "--order-timeout", "6")
            polls = list(ca.polls)
            order = ca.base + "/order/1"
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("the order %s stayed processing for 6 s" % order,
                      r.stderr, describe(r))
        self.assertLess(elapsed, 6 + 5, describe(r))
        # Retry-After: 2 is honoured: at most one poll per two seconds.
        self.assertTrue(2 <= len(polls) <= 4, polls)
        gaps = [b - a for a, b in zip(polls, polls[1:])]
        self.assertTrue(all(g >= 1.8 for g in gaps), gaps)

    def test_c_authz_stuck_pending(self):
        with StubCA(os.path.join(self.tmp, "stub"), limited=0,
                    stuck="authz") as ca:
            r, elapsed = self.issue_stub(ca, "--order-timeout", "5")
            polls = list(ca.polls)
            authz = ca.base + "/authz/1"
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("the authorization for stub.leec.test (%s) stayed "
                      "pending for 5 s" % authz, r.stderr, describe(r))
        self.assertLess(elapsed, 5 + 5, describe(r))
        # Growing intervals, not a poll a second nor a busy loop: a handful
        # of polls in five seconds, each gap longer than the one before.
        self.assertTrue(3 <= len(polls) <= 16, polls)
        gaps = [b - a for a, b in zip(polls[1:], polls[2:])]
        self.assertGreater(gaps[-1], 0.5, gaps)


class PebbleWaitTest(LeecCase):
    """Against the shared pebble."""

    def test_d_rate_limited_renewal_resumes_then(self):
        """A renewal the CA rate-limits for two hours: ended at once, and
        the CA's time recorded, so renew (and the daemon) wait for it."""
        name = "wait-rl.leec.test"
        with AriProxy(os.path.join(self.tmp, "ari"), run.ENV.directory_url,
                      run.ENV.ca_bundle) as ari:
            ari.window = None
            r = self.leec("issue", "-d", name, "--server", ari.directory_url,
                          "--ca-bundle", ari.ca_bundle, "--agree-tos",
                          "--dir", self.dir, "--http-port",
                          "127.0.0.1:%d" % run.ENV.http_port)
            self.assertEqual(r.returncode, 0, describe(r))
            ari.rate_limit = 7200
            t0 = time.time()
            r = self.leec("renew", "--dir", self.dir, "--force")
            self.assertEqual(r.returncode, 1, describe(r))
            self.assertLess(time.time() - t0, 30, describe(r))
            self.assertEqual(ari.refused, 1, describe(r))
            when = retry_time(r.stderr)
            self.assertIsNotNone(when, describe(r))
            self.assertLessEqual(abs(when - (t0 + 7200)), 30, describe(r))
            row = json.loads(self.leec("list", "--json", "--dir",
                                       self.dir).stdout)[0]
            self.assertEqual(row["failures"]["count"], 1, row)
            self.assertEqual(run.parse_iso(row["failures"]["retry_at"])
                             .timestamp(), when, row)
            # Not due before February anyway: that stays the next renewal.
            self.assertEqual(row["renewal_reason"], "lifetime", row)
            r = self.leec("renew", "--dir", self.dir, "--dry-run")
            self.assertIn("backing off after 1 failed renewal until %s"
                          % utc(when)[:-7], r.stdout, describe(r))
            # Nothing is sent before the CA's time, not even for its window.
            r = self.leec("renew", "--dir", self.dir)
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertIn("backing off", r.stderr, describe(r))
            self.assertEqual(ari.refused, 1)
            self.assertEqual(ari.renewal_info_requests, [])

    def test_e_lock_timeout_names_the_holder(self):
        name = "wait-lock.leec.test"
        locks = os.path.join(self.dir, "locks")
        os.makedirs(locks, mode=0o700)
        os.chmod(self.dir, 0o700)
        with open(os.path.join(locks, "cert-%s.lock" % name), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write("%d %s\n" % (os.getpid(), socket.gethostname()))
            f.flush()
            t0 = time.time()
            r = self.issue([name], "--lock-timeout", "2")
            elapsed = time.time() - t0
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("another process (PID %d) holds the certificate's lock; "
                      "gave up waiting after 2 s" % os.getpid(), r.stderr,
                      describe(r))
        self.assertLess(elapsed, 2 + 10, describe(r))
        self.assertFalse(os.path.lexists(self.live(name)))

    def test_f_one_daemon_per_state_folder(self):
        os.makedirs(self.dir, mode=0o700)
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir, "-v"],
                             stdout=subprocess.DEVNULL, stderr=errf,
                             env=run.child_env())
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                errf.seek(0)
                if "next look at" in errf.read():
                    break
                time.sleep(0.05)
            r = self.leec("daemon", "--dir", self.dir, timeout=20)
            self.assertEqual(r.returncode, 1, describe(r))
            self.assertIn("another leec daemon (PID %d) is running on the "
                          "state folder %s" % (p.pid, self.dir), r.stderr,
                          describe(r))
            self.assertIsNone(p.poll(), "the first daemon stopped")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            errf.close()
        # Once it is gone, a daemon starts again.
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             env=run.child_env())
        time.sleep(1)
        self.assertIsNone(p.poll(), p.stderr.read() if p.poll() else "")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0)
        p.stderr.close()
