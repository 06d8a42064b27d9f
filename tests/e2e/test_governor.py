"""e2e tests of the governor: the CA-wide pause on 429 + Retry-After (against
a local stub CA), a batch of 50 certificates with one failure, and two leec
processes racing for the same certificate (against the shared pebble).

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_governor
"""

import json
import os
import re
import subprocess
import time

import run
from run import LeecCase, describe
from stub_ca import StubCA


def clock_seconds(hhmmss):
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return h * 3600 + m * 60 + s


def local_seconds(t):
    tm = time.localtime(t)
    return tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec


def clock_diff(a, b):
    """a - b in seconds on a 24 h clock, in (-43200, 43200]."""
    d = (a - b) % 86400
    return d - 86400 if d > 43200 else d


class PauseTest(LeecCase):
    """429 + Retry-After: 3 from a stub CA: leec sends nothing at all until
    the 3 s are over, says so on stderr, then carries on."""

    needs_pebble = False
    RETRY_AFTER = 3

    def _run_stub(self, limit_path):
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        with StubCA(os.path.join(self.tmp, "stub"),
                    retry_after=self.RETRY_AFTER,
                    limit_path=limit_path) as ca:
            t0 = time.time()
            r = self.leec("issue", "-d", "stub.leec.test",
                          "--server", ca.directory_url,
                          "--ca-bundle", ca.ca_bundle, "--agree-tos",
                          "--dir", self.dir, "--webroot", webroot,
                          timeout=30)
            elapsed = time.time() - t0
            requests = list(ca.requests)
            limited = list(ca.limited_at)
        trace = "\n".join("%+.3f %s %s" % (t - t0, m, p)
                          for t, m, p in requests)
        info = describe(r) + "--- stub CA requests (s since start):\n" + trace

        self.assertEqual(len(limited), 1, "the stub never said 429\n" + info)
        t429 = limited[0]
        after = [(t, m, p) for t, m, p in requests if t > t429]
        # nothing at all while the pause lasts
        early = [(t - t429, m, p) for t, m, p in after
                 if t < t429 + self.RETRY_AFTER]
        self.assertEqual(early, [], "requests inside the pause\n" + info)
        # and then it carried on: the limited request went out again
        self.assertGreaterEqual(
            sum(1 for _, m, p in after if m == "POST" and p == limit_path), 1,
            "the limited request was not sent again\n" + info)
        self.assertLess(elapsed, self.RETRY_AFTER + 15, info)
        # the run ends on the stub's final 403
        self.assertEqual(r.returncode, 1, info)
        self.assertIn("no certificates here", r.stderr, info)

        # leec told the user about the wait and its end
        m = re.search(r"(?i)paus\w*[^\n]*?until (\d\d:\d\d:\d\d)", r.stderr)
        self.assertIsNotNone(m, "stderr does not mention the pause and its "
                                "end (e.g. 'paused until HH:MM:SS')\n" + info)
        d = clock_diff(clock_seconds(m.group(1)),
                       local_seconds(t429 + self.RETRY_AFTER))
        self.assertTrue(-1 <= d <= 2,
                        "pause end %s is %+d s off\n%s" % (m.group(1), d, info))

    def test_pause_on_429_new_order(self):
        self._run_stub("/new-order")

    def test_pause_on_429_new_account(self):
        self._run_stub("/new-acct")


class BatchTest(LeecCase):
    """leec issue --batch: 50 certificates, one of them unvalidatable."""

    N = 50
    BAD = 17

    def _batch_file(self, lines):
        path = os.path.join(self.tmp, "batch.txt")
        with open(path, "w") as f:
            f.write("# cert-name names...\n")
            for name, names in lines:
                f.write("%s %s\n" % (name, " ".join(names)))
            f.write("\n")
        return path

    def _issue_batch(self, path, *extra):
        argv = ["issue", "--batch", path, "--json",
                "--server", run.ENV.directory_url,
                "--ca-bundle", run.ENV.ca_bundle, "--agree-tos",
                "--dir", self.dir,
                "--http-port", "127.0.0.1:%d" % run.ENV.http_port]
        return self.leec(*(argv + list(extra)), timeout=150)

    def _json_lines(self, r):
        out = {}
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            try:
                js = json.loads(line)
            except ValueError:
                self.fail("not a JSON line: %r\n%s" % (line, describe(r)))
            self.assertIsInstance(js, dict, line)
            self.assertNotIn(js["cert_name"], out, "reported twice: " + line)
            out[js["cert_name"]] = js
        return out

    def test_batch_50_one_fails(self):
        lines = []
        for i in range(self.N):
            if i == self.BAD:
                host = "unreachable.batch.leec.test"
                run.ENV.challtest("/add-a", {"host": host + ".",
                                             "addresses": ["127.0.0.2"]})
                lines.append((host, [host]))
            elif i % 5 == 0:
                host = "c%02d.batch.leec.test" % i
                lines.append((host, [host, "www." + host]))
            else:
                host = "c%02d.batch.leec.test" % i
                lines.append((host, [host]))
        bad = lines[self.BAD][0]
        good = [l for l in lines if l[0] != bad]
        path = self._batch_file(lines)

        orders = run.orders_created()
        t0 = time.monotonic()
        # One order at a time: pebble 2.4 deadlocks (a lock-order inversion
        # between newOrder and issuance, seen in its goroutine dump) when
        # orders overlap, which would make this test flaky. Concurrency is
        # covered by the state-machine tests and by bench/.
        r = self._issue_batch(path, "--max-parallel", "1")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, "exit status must be 1 when one "
                                          "failed\n" + describe(r))
        res = self._json_lines(r)
        self.assertEqual(set(res), {l[0] for l in lines}, describe(r))
        self.assertEqual(run.orders_created() - orders, self.N)

        for name, names in good:
            js = res[name]
            self.assertEqual(js["outcome"], "issued", json.dumps(js))
            self.assertNotIn("error", js)
            self.assertNotIn("problem", js)
        js = res[bad]
        self.assertEqual(js["outcome"], "failed", json.dumps(js))
        self.assertIsInstance(js.get("error"), str)
        self.assertTrue(js["error"])
        p = js.get("problem")
        self.assertIsInstance(p, dict, json.dumps(js))
        self.assertEqual(p["type"], "urn:ietf:params:acme:error:connection")
        self.assertIn("connection refused", p["detail"].lower())

        # 49 installed, each whole and verifying against pebble's root
        for name, names in good:
            self.check_cert(name, names)
        self.assertEqual(sorted(os.listdir(os.path.join(self.dir, "live"))),
                         sorted(l[0] for l in good))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "archive",
                                                     bad, "1")))
        self.check_account()

        # again without the bad line: all fresh, nothing ordered, exit 0
        path = self._batch_file(good)
        orders = run.orders_created()
        r = self._issue_batch(path)
        self.assertEqual(r.returncode, 0, describe(r))
        res = self._json_lines(r)
        self.assertEqual(set(res), {l[0] for l in good})
        self.assertEqual({js["outcome"] for js in res.values()}, {"fresh"})
        self.assertEqual(run.orders_created(), orders)
        if run.LEEC and os.environ.get("LEEC_E2E_TIMES"):
            print("batch of %d: %.1f s" % (self.N, elapsed))


class LockTest(LeecCase):
    """Two leec processes at once on the same --dir and certificate: one
    orders, the other waits for its lock and finds the result fresh."""

    def _race(self, name, fresh_dir):
        webroot = os.path.join(self.tmp, "www-" + name)
        os.makedirs(webroot)
        argv = [run.LEEC, "issue", "-d", name,
                "--server", run.ENV.directory_url,
                "--ca-bundle", run.ENV.ca_bundle, "--agree-tos",
                "--dir", self.dir, "--webroot", webroot]
        orders = run.orders_created()
        accounts = run.accounts_created()
        with run.Webroot(webroot, run.ENV.http_port):
            procs = [subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      errors="replace", env=run.child_env())
                     for _ in range(2)]
            outs = []
            try:
                for p in procs:
                    out, err = p.communicate(timeout=run.TIMEOUT)
                    outs.append((p.returncode, out, err))
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait(timeout=10)
        info = "\n".join("=== process %d: exit %s\n--- stdout:\n%s--- stderr:"
                         "\n%s" % (i, rc, out, err)
                         for i, (rc, out, err) in enumerate(outs))
        self.assertEqual([rc for rc, _, _ in outs], [0, 0], info)
        self.assertEqual(run.orders_created() - orders, 1,
                         "newOrder requests for one certificate\n" + info)
        if fresh_dir:
            self.assertEqual(run.accounts_created() - accounts, 1,
                             "accounts created\n" + info)
        issued = [o for _, o, _ in outs if re.search(r"\bissued\b", o)]
        fresh = [o for _, o, _ in outs if re.search(r"(?<![\w/.-])fresh\b", o)]
        self.assertEqual((len(issued), len(fresh)), (1, 1), info)

        # one certificate, whole: archive/<name>/1 only
        self.assertEqual(os.listdir(os.path.join(self.dir, "archive", name)),
                         ["1"], info)
        self.assertEqual(os.readlink(self.live(name)).rstrip("/"),
                         "../archive/%s/1" % name)
        self.check_cert(name, [name])
        # no temporary files left behind
        arch = os.path.join(self.dir, "archive", name, "1")
        self.assertEqual(set(os.listdir(arch)) - {"meta.json", "renewal.json"},
                         {"cert.pem", "chain.pem", "fullchain.pem",
                          "privkey.pem"})
        for entry in os.listdir(os.path.join(self.dir, "live")):
            self.assertTrue(os.path.islink(os.path.join(self.dir, "live",
                                                        entry)),
                            "live/%s is not a symlink" % entry)
        for top in ("live", "archive"):
            for d, dirs, files in os.walk(os.path.join(self.dir, top)):
                for f in dirs + files:
                    self.assertFalse(re.search(r"(?i)tmp|temp|~$|^\.", f),
                                     "temporary file %s" % os.path.join(d, f))
        self.check_account()

    def test_two_processes_same_cert(self):
        self._race("race1.leec.test", fresh_dir=True)
        # again with the account already there
        self._race("race2.leec.test", fresh_dir=False)


class NonceStormTest(run.OwnPebbleCase):
    """A pebble of its own rejecting half of all good nonces
    (PEBBLE_WFE_NONCEREJECT=50): runs of ten badNonce answers in a row
    come up in a batch of 60, and every certificate is still issued (the
    request goes again after a pause instead of failing its certificate)."""
    pebble_env = {"PEBBLE_WFE_NONCEREJECT": "50"}
    N = 60

    def test_batch_60_half_the_nonces_rejected(self):
        p = self.pebble
        path = os.path.join(self.tmp, "batch.txt")
        names = ["s%02d.storm.leec.test" % i for i in range(self.N)]
        with open(path, "w") as f:
            f.write("".join("%s %s\n" % (n, n) for n in names))
        # One order at a time: see BatchTest (pebble 2.4 and overlapping
        # orders).
        r = self.leec("issue", "--batch", path, "--json", "--server",
                      p.directory_url, "--ca-bundle", p.ca_bundle,
                      "--agree-tos", "--dir", self.dir, "--max-parallel", "1",
                      "--http-port", "127.0.0.1:%d" % p.http_port,
                      timeout=300)
        outcomes = {}
        for line in r.stdout.splitlines():
            js = json.loads(line)
            outcomes[js["cert_name"]] = js["outcome"]
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(outcomes, {n: "issued" for n in names}, describe(r))
        self.assertEqual(sorted(os.listdir(os.path.join(self.dir, "live"))),
                         sorted(names))
