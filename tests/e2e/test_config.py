"""e2e tests of the configuration file: `leec config check` (errors with
FILE:LINE:COLUMN), `leec apply` against pebble (orders what is missing,
changes nothing the second time, orders again a certificate whose names
changed, reports and keeps one that left the file, --json lines, --dry-run)
and `leec daemon --config` taking up a certificate added to the file after
SIGHUP, and keeping its file when the new one is invalid; on a PostgreSQL
store (skipped without one), apply queues the certificates for the fleet.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_config
"""

import json
import os
import signal
import subprocess
import time

import run
from run import LeecCase, describe
import test_json  # noqa: E402  (its schema validator)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class ConfigCheckTest(LeecCase):
    """Errors of several kinds, each with its line and column."""
    needs_pebble = False

    def check(self, text):
        path = os.path.join(self.tmp, "leec.conf")
        write(path, text)
        return path, self.leec("config", "check", "--config", path)

    def test_errors_with_lines(self):
        path, r = self.check(
            "ca:\n"
            "  server: https://127.0.0.1:1/dir\n"
            "defaults:\n"
            "  key-typ: ec256\n"                        # 4: near key
            "  max-parallel: many\n"                    # 5: not a number
            "  key-type: dsa\n"                         # 6: bad key type
            "certificates:\n"
            "  - cert-name: www\n"
            "    domains: [a.leec.test, 'not a name']\n"  # 9: not DNS
            "    http-port: '5002'\n"
            "  - cert-name: WWW\n"                      # 11: duplicate
            "    domains: [b.leec.test]\n"
            "  - cert-name: c\n"
            "    domains: c.leec.test\n"
            "    reuse-key: [1]\n"                      # 15: wrong type
            "    dnss: rfc2136\n")                      # 16: unknown

        self.assertEqual(r.returncode, 1, describe(r))
        err = r.stderr
        self.assertIn("%s:4:3: unknown key 'key-typ' in defaults; did you "
                      "mean 'key-type'?" % path, err)
        self.assertIn("%s:5:17: max-parallel takes a whole number" % path, err)
        self.assertIn("%s:6:13: unknown key-type 'dsa'" % path, err)
        self.assertIn("%s:9:28: 'not a name' is not a DNS name" % path, err)
        self.assertIn("%s:11:16: certificate 'WWW' is already on line 8"
                      % path, err)
        self.assertIn("%s:15:16: reuse-key takes true or false" % path, err)
        self.assertIn("%s:16:5: unknown key 'dnss' in a certificate; did "
                      "you mean 'dns'?" % path, err)
        self.assertIn("%s: 7 errors" % path, err)
        # What leec issue refuses of the options together, at the entry:
        # two solvers, rfc2136 without its server.
        path, r = self.check(
            "defaults:\n"
            "  webroot: /tmp\n"
            "certificates:\n"
            "  - domains: [a.leec.test]\n"
            "    dns: rfc2136\n"
            "  - domains: [d.leec.test]\n"
            "    tls-port: '5001'\n"
            "    http-port: '5002'\n"
            "  - cert-name: a.leec.test\n"
            "    domains: [e.leec.test]\n"
            "  - domains: [f.leec.test, F.leec.test]\n")
        self.assertEqual(r.returncode, 1, describe(r))
        err = r.stderr
        self.assertIn("%s:4:5: certificate 'a.leec.test': --dns rfc2136 "
                      "needs --dns-server" % path, err)
        self.assertIn("%s:6:5: certificate 'd.leec.test': choose one way"
                      % path, err)
        self.assertIn("%s:9:16: certificate 'a.leec.test' is already on "
                      "line 4" % path, err)
        self.assertIn("%s:11:28: 'F.leec.test' given twice (first on line "
                      "11)" % path, err)

    def test_yaml_syntax_and_ok(self):
        path, r = self.check("certificates:\n  - cert-name: [a\n")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertRegex(r.stderr, r"leec\.conf:\d+:\d+: ")
        path, r = self.check(
            "# comments and an empty defaults section\n"
            "defaults:\n"
            "certificates:\n"
            "  - domains: [a.leec.test]\n"
            "    http-port: '5002'\n")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout, "%s: OK, 1 certificate\n" % path)
        r = self.leec("config", "check", "--config",
                      os.path.join(self.tmp, "missing.conf"))
        self.assertEqual(r.returncode, 1, describe(r))
        # An option whose value may be left out: true, false or its value.
        path, r = self.check(
            "defaults:\n"
            "  http-port: 5002\n"
            "  throwaway-account: per-certificate\n"
            "certificates:\n"
            "  - domains: [a.leec.test]\n"
            "  - domains: [b.leec.test]\n"
            "    throwaway-account: true\n"
            "  - domains: [c.leec.test]\n"
            "    throwaway-account: false\n"
            "  - domains: [d.leec.test]\n"
            "    throwaway-account: sometimes\n")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(r.stderr.count("throwaway-account"), 1, describe(r))
        self.assertIn("%s:10:5: certificate 'd.leec.test': "
                      "--throwaway-account=sometimes" % path, r.stderr)
        # The account's key type goes with the account, under ca.
        path, r = self.check("ca:\n"
                             "  account-key-type: rsa2048\n"
                             "defaults:\n"
                             "  http-port: 5002\n"
                             "certificates:\n"
                             "  - domains: [a.leec.test]\n")
        self.assertEqual(r.returncode, 0, describe(r))
        path, r = self.check("ca:\n"
                             "  account-key-type: dsa\n"
                             "certificates:\n"
                             "  - domains: [a.leec.test]\n"
                             "    http-port: 5002\n")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("%s:2:21: unknown account-key-type 'dsa'" % path,
                      r.stderr)

    def test_sample_is_valid(self):
        sample = os.path.join(run.REPO, "doc", "leec.conf.sample")
        r = self.leec("config", "check", "--config", sample)
        self.assertEqual(r.returncode, 0, describe(r))


class ApplyTest(LeecCase):
    def conf(self, certs, extra=""):
        """A file for pebble: the ca section, the defaults, certs."""
        path = os.path.join(self.tmp, "leec.conf")
        text = ("ca:\n"
                "  server: %s\n"
                "  ca-bundle: %s\n"
                "  agree-tos: true\n"
                "defaults:\n"
                "  dir: %s\n"
                "  http-port: 127.0.0.1:%d\n%s"
                "certificates:\n" % (run.ENV.directory_url,
                                     run.ENV.ca_bundle, self.dir,
                                     run.ENV.http_port, extra))
        for name, names in certs:
            text += "  - cert-name: %s\n    domains: [%s]\n" % (
                name, ", ".join(names))
        write(path, text)
        return path

    def apply(self, path, *extra):
        r = self.leec("apply", "--config", path, "--json", *extra)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        return r, {l["cert_name"]: l for l in lines if "cert_name" in l}, \
            lines[-1] if lines else None

    def test_apply(self):
        a = ["a.apply.leec.test", "www.a.apply.leec.test"]
        b = ["b.apply.leec.test"]
        path = self.conf([("a", a), ("b", b)], "  key-type: ec384\n")
        # --dry-run: nothing sent, what would happen.
        r, by, _ = self.apply(path, "--dry-run")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(by["a"]["action"], "would-issue", by)
        self.assertFalse(os.path.exists(self.live("a")))
        # The missing ones ordered.
        r, by, summary = self.apply(path)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(by["a"]["action"], "issued", by)
        self.assertEqual(by["a"]["reason"], "new", by)
        self.assertEqual(by["a"]["outcome"], "issued", by)
        self.assertEqual(by["a"]["live"], self.live("a"), by)
        self.assertEqual(by["b"]["action"], "issued", by)
        self.assertEqual(summary["action"], "summary", summary)
        self.assertEqual(summary["issued"], 2, summary)
        self.check_cert("a", a, key_type="ec384")
        self.check_cert("b", b, key_type="ec384")
        # Again: nothing to do, nothing ordered.
        before = run.orders_created()
        r, by, summary = self.apply(path)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(by["a"]["action"], "unchanged", by)
        self.assertEqual(by["b"]["action"], "unchanged", by)
        self.assertEqual(summary["issued"] + summary["renewed"], 0, summary)
        self.assertEqual(run.orders_created(), before)
        # A name added to a, b left the file, c new, and a key type
        # changed for... nothing else: a ordered again, b kept and told.
        a2 = a + ["api.a.apply.leec.test"]
        c = ["c.apply.leec.test"]
        path = self.conf([("a", a2), ("c", c)], "  key-type: ec384\n")
        r, by, summary = self.apply(path)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(by["a"]["action"], "issued", by)
        self.assertEqual(by["a"]["reason"], "names changed", by)
        self.assertEqual(by["c"]["action"], "issued", by)
        self.assertEqual(by["b"]["action"], "not-in-config", by)
        self.assertEqual(summary["not_in_config"], 1, summary)
        self.check_cert("a", a2, key_type="ec384")
        self.assertTrue(os.path.exists(self.live("b")), "b was deleted")
        # Without --json: the kept one told with the way to forget it.
        r = self.leec("apply", "--config", path)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("b is not in %s: kept; `leec reset b` forgets it"
                      % path, r.stdout)
        # A changed key type orders again.
        path = self.conf([("a", a2), ("c", c)], "  key-type: rsa2048\n")
        r, by, _ = self.apply(path)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(by["a"]["reason"], "key_type changed", by)
        self.check_cert("c", c, key_type="rsa2048")

    def test_failure_exit_status(self):
        # A name pebble cannot validate (nothing answers on this port).
        path = self.conf([("f", ["f.apply.leec.test"])])
        text = open(path).read().replace(
            "http-port: 127.0.0.1:%d" % run.ENV.http_port,
            "webroot: %s" % self.tmp)
        write(path, text)
        r, by, summary = self.apply(path)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(by["f"]["action"], "failed", by)
        self.assertIn("error", by["f"])
        self.assertEqual(summary["failed"], 1, summary)


class DaemonConfigTest(LeecCase):
    def test_daemon_sighup(self):
        path = os.path.join(self.tmp, "leec.conf")
        head = ("ca:\n"
                "  server: %s\n"
                "  ca-bundle: %s\n"
                "  agree-tos: true\n"
                "defaults:\n"
                "  http-port: 127.0.0.1:%d\n"
                "certificates:\n"
                "  - cert-name: one\n"
                "    domains: [one.daemon.leec.test]\n"
                % (run.ENV.directory_url, run.ENV.ca_bundle,
                   run.ENV.http_port))
        write(path, head)
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        outf = open(os.path.join(self.tmp, "daemon.out"), "w+")
        p = subprocess.Popen([run.LEEC, "daemon", "--config", path,
                              "--dir", self.dir, "-v", "--json"],
                             stdout=outf, stderr=errf, env=run.child_env())

        def log():
            errf.seek(0)
            return errf.read()

        def wait_for(cond, what):
            deadline = time.time() + 30
            while time.time() < deadline and not cond():
                time.sleep(0.1)
            self.assertTrue(cond(), "%s\n%s" % (what, log()))
        try:
            wait_for(lambda: os.path.exists(self.live("one")),
                     "the daemon did not order the file's certificate")
            wait_for(lambda: "next look at" in log(), "no pass ended")
            # An invalid file: told, the old one kept.
            write(path, head + "  - cert-name: [bad\n")
            p.send_signal(signal.SIGHUP)
            wait_for(lambda: "keeping the file as it was" in log(),
                     "an invalid file was not told")
            # A certificate added, then SIGHUP: ordered.
            write(path, head + "  - cert-name: two\n"
                               "    domains: [two.daemon.leec.test]\n")
            p.send_signal(signal.SIGHUP)
            wait_for(lambda: os.path.exists(self.live("two")),
                     "the added certificate was not ordered")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0, log())
            # --json: the file's certificates are "apply" events of the
            # daemon's stream, each line valid by daemon.schema.json.
            outf.seek(0)
            events = [json.loads(line) for line in outf.read().splitlines()]
            for e in events:
                self.assertEqual(
                    test_json.V.errors("daemon.schema.json", e), [], e)
            applied = [(e["result"].get("cert_name"), e["result"]["action"])
                       for e in events if e["event"] == "apply"]
            self.assertIn(("one", "issued"), applied, events)
            self.assertIn(("two", "issued"), applied, events)
            self.assertIn((None, "summary"), applied, events)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            errf.close()
            outf.close()
        self.check_cert("two", ["two.daemon.leec.test"])


class FleetQueueTest(LeecCase):
    """On a store shared by a fleet, apply queues the file's certificates
    (as issue --queue does); nothing is sent to a CA."""
    needs_pebble = False

    def test_apply_queues(self):
        import fleet_env
        mod = fleet_env.load_pg_env()
        if mod is None or not mod.available():
            self.skipTest("no PostgreSQL 15")
        pg = mod.PgEnv()
        pg.start()
        try:
            key = os.path.join(self.tmp, "store.key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key, 0o600)
            path = os.path.join(self.tmp, "leec.conf")
            write(path, "ca:\n"
                        "  server: https://127.0.0.1:1/dir\n"
                        "  agree-tos: true\n"
                        "defaults:\n"
                        "  store: '%s'\n"
                        "  store-key: %s\n"
                        "  http-port: 80\n"
                        "certificates:\n"
                        "  - cert-name: q1\n"
                        "    domains: [q1.leec.test]\n"
                        "  - cert-name: q2\n"
                        "    domains: [q2.leec.test]\n"
                        "    key-type: rsa2048\n" % (pg.conninfo, key))
            r = self.leec("apply", "--config", path, "--dir", self.dir,
                          "--json")
            self.assertEqual(r.returncode, 0, describe(r))
            lines = [json.loads(l) for l in r.stdout.splitlines()]
            self.assertEqual([(l.get("cert_name"), l["action"])
                              for l in lines],
                             [("q1", "queued"), ("q2", "queued"),
                              (None, "summary")], r.stdout)
            self.assertEqual(lines[-1]["queued"], 2)
            r = self.leec("list", "--store", pg.conninfo, "--store-key", key,
                          "--dir", self.dir)
            self.assertRegex(r.stdout, r"(?s)QUEUED.*q1 .*q2 ", describe(r))
            self.fleet_daemon_sighup(pg, key, path)
        finally:
            pg.stop()

    def fleet_daemon_sighup(self, pg, key, path):
        """A fleet node started with --config queues the file again on
        SIGHUP: a certificate added to the file shows in the shared store.
        Its CA (port 1) refuses: nothing leaves the machine."""
        with open(path) as f:
            text = f.read()
        err = open(os.path.join(self.tmp, "node.err"), "w+")
        p = subprocess.Popen(
            [run.LEEC, "daemon", "--config", path, "--node", "n1", "--dir",
             os.path.join(self.tmp, "node"), "--server",
             "https://127.0.0.1:1/dir", "--claim-interval", "1"],
            stdout=subprocess.DEVNULL, stderr=err, env=run.child_env())
        try:
            # SIGHUP before its handler is set would end it.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and p.poll() is None:
                err.seek(0)
                if "node n1 started" in err.read():
                    break
                time.sleep(0.1)
            write(path, text + "  - cert-name: q3\n"
                               "    domains: [q3.leec.test]\n")
            names = set()
            deadline = time.monotonic() + 15
            while "q3" not in names and time.monotonic() < deadline:
                p.send_signal(signal.SIGHUP)
                time.sleep(0.5)
                r = self.leec("list", "--store", pg.conninfo, "--store-key",
                              key, "--dir", self.dir, "--json")
                try:
                    rows = json.loads(r.stdout or "[]")
                except ValueError:
                    rows = []
                names = {x.get("name") for x in rows}
            err.seek(0)
            self.assertIn("q3", names, err.read())
            self.assertIsNone(p.poll(), "the node stopped")
        finally:
            p.terminate()
            p.wait(timeout=30)
            err.close()
