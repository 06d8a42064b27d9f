"""e2e test of `leec daemon --metrics-listen`: after two certificates are
issued against pebble (one then revoked, so the daemon renews it at once;
one whose renewal failed, so it backs off), the daemon's /metrics is parsed
with python3-prometheus-client's OpenMetrics parser (its syntax checked)
and each value per certificate compared with `leec list --json`, which
reads the store; the CA's counters and /status are checked too, and that
the server refuses other paths and methods.

The parser is Debian's (python3-prometheus-client, scripts/deps.sh): it is
run by /usr/bin/python3, whatever Python runs the tests.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_metrics
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import fleet_env
import run
from run import LeecCase, describe
from pebble_env import free_ports

SYSTEM_PYTHON = "/usr/bin/python3"
PARSE = r"""
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "unit": f.unit,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})
json.dump(out, sys.stdout)
"""


def parse_openmetrics(text):
    """The families of text as the OpenMetrics parser reads them: a dict
    name -> {type, unit, samples: [(sample name, labels, value)]}. Raises
    AssertionError with the parser's complaint when the syntax is wrong."""
    r = subprocess.run([SYSTEM_PYTHON, "-c", PARSE], input=text,
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("OpenMetrics parser refused the text:\n%s\n%s"
                             % (r.stderr, text))
    return {f["name"]: f for f in json.loads(r.stdout)}


def iso(s):
    return run.parse_iso(s).timestamp()


class MetricsTest(LeecCase):

    def get(self, path, method="GET"):
        req = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), \
                    r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def samples(self, fams, name):
        self.assertIn(name, fams, sorted(fams))
        return fams[name]["samples"]

    def by_cert(self, fams, name):
        return {s[1]["cert_name"]: s for s in self.samples(fams, name)}

    def test_scrape(self):
        good, bad = "metrics-a.leec.test", "metrics-b.leec.test"
        self.issue_ok([good])
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        with run.Webroot(webroot, run.ENV.http_port):
            self.issue_ok([bad], "--webroot", webroot, "--throwaway-account",
                          http=False)
        # Revoked, so due; nobody serves the webroot now: its renewal fails
        # and backs off.
        r = self.leec("revoke", bad, "--with-cert-key", "--server",
                      run.ENV.directory_url, "--ca-bundle",
                      run.ENV.ca_bundle, "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        r = self.leec("renew", bad, "--force", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        # Revoked: due at once, so the daemon's first pass renews it.
        r = self.leec("revoke", good, "--server", run.ENV.directory_url,
                      "--ca-bundle", run.ENV.ca_bundle, "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))

        port = free_ports(1)[0]
        self.base = "http://127.0.0.1:%d" % port
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        started = time.time()
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir, "-v",
                              "--metrics-listen", "127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=errf,
                             env=run.child_env())

        def log():
            errf.seek(0)
            return errf.read()
        try:
            # The first pass over: the server answers from the start.
            deadline = time.time() + 40
            fams = None
            while time.time() < deadline:
                try:
                    status, ctype, text = self.get("/metrics")
                except OSError:
                    status = None
                if status == 200:
                    fams = parse_openmetrics(text)
                    passes = self.samples(fams, "leec_daemon_passes")
                    if passes and passes[0][2] >= 1:
                        break
                self.assertIsNone(p.poll(), log())
                time.sleep(0.2)
            self.assertIsNotNone(fams, log())
            self.assertGreaterEqual(
                self.samples(fams, "leec_daemon_passes")[0][2], 1, log())
            self.assertEqual(ctype, "application/openmetrics-text; "
                             "version=1.0.0; charset=utf-8")
            self.assertTrue(text.endswith("# EOF\n"))
            self.check_metrics(fams, good, bad, started)
            self.check_contrib(fams)
            self.check_status(good, bad)
            self.check_refusals()
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0, log())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            errf.close()

    def check_metrics(self, fams, good, bad, started):
        now = time.time()
        rows = {r["name"]: r for r in json.loads(
            self.leec("list", "--json", "--dir", self.dir).stdout)}
        self.assertEqual(set(rows), {good, bad})
        na = self.by_cert(fams,
                          "leec_certificate_not_after_timestamp_seconds")
        nxt = self.by_cert(fams,
                           "leec_certificate_next_renewal_timestamp_seconds")
        fail = self.by_cert(fams, "leec_certificate_consecutive_failures")
        res = self.by_cert(fams, "leec_certificate_last_result")
        res_at = self.by_cert(
            fams, "leec_certificate_last_result_timestamp_seconds")
        for m in (na, nxt, fail, res, res_at):
            self.assertEqual(set(m), {good, bad})
        self.assertEqual(
            fams["leec_certificate_not_after_timestamp_seconds"]["unit"],
            "seconds")
        nb = self.by_cert(fams,
                          "leec_certificate_not_before_timestamp_seconds")
        for name, row in rows.items():
            self.assertEqual(na[name][1]["ca"], row["ca"])
            self.assertEqual(nb[name][2], iso(row["not_before"]), name)
            self.assertEqual(na[name][2], iso(row["not_after"]), name)
            self.assertEqual(nxt[name][2], iso(row["next_renewal"]), name)
            self.assertEqual(fail[name][2],
                             row.get("failures", {}).get("count", 0), name)
            self.assertTrue(started - 1 <= res_at[name][2] <= now + 1)
        self.assertEqual(res[good][1]["result"], "renewed")
        self.assertEqual(res[bad][1]["result"], "backing_off")
        self.assertEqual(fail[bad][2], 1)
        self.assertEqual(fail[good][2], 0)

        # One CA, the one the certificates name; its counters are the
        # daemon's own (the renewal of good): one order, nothing wasted.
        ca = run.ENV.directory_url
        self.assertEqual(rows[good]["ca"], ca)
        reqs = self.samples(fams, "leec_ca_requests")
        self.assertTrue(reqs)
        got = {}
        for s in reqs:
            self.assertEqual(s[0], "leec_ca_requests_total")
            self.assertEqual(s[1]["ca"], ca)
            got[(s[1]["endpoint"], s[1]["status"])] = s[2]
        self.assertEqual(got.get(("directory", "200")), 1, got)
        self.assertEqual(got.get(("newOrder", "201")), 1, got)
        self.assertEqual(got.get(("finalize", "200")), 1, got)
        self.assertGreaterEqual(got.get(("certificate", "200"), 0), 1, got)
        # authz and challenge: unless pebble reused the authorizations of
        # the first issue (same account), which it may.
        # pebble refuses 5 % of nonces: each refusal is a 400 and a retry.
        retries = self.samples(fams, "leec_ca_badnonce_retries")[0][2]
        bad_answers = sum(v for (ep, st), v in got.items() if st == "400")
        self.assertEqual(retries, bad_answers, got)

        def one(name):
            s = self.samples(fams, name)
            self.assertEqual(len(s), 1, s)
            self.assertEqual(s[0][0], name + "_total")
            return s[0][2]
        self.assertEqual(one("leec_ca_orders_created"), 1)
        self.assertEqual(one("leec_ca_orders_wasted"), 0)
        self.assertGreaterEqual(one("leec_ca_governor_waits"), 0)
        self.assertGreaterEqual(one("leec_ca_governor_wait_seconds"), 0)
        self.assertEqual(fams["leec_ca_requests"]["type"], "counter")

        st = self.samples(fams, "leec_daemon_start_time_seconds")[0][2]
        self.assertTrue(started - 1 <= st <= now)
        up = self.samples(fams, "leec_daemon_uptime_seconds")[0][2]
        self.assertTrue(0 <= up <= now - started + 1)
        dur = self.samples(fams,
                           "leec_daemon_last_pass_duration_seconds")[0][2]
        self.assertTrue(0 < dur <= now - started + 1)

    def check_contrib(self, fams):
        """The alert rules and the dashboard name only metrics that exist."""
        names = set()
        for f in fams.values():
            names.update(s[0] for s in f["samples"])
            names.add(f["name"])
        for path in ("contrib/prometheus/leec-alerts.yml",
                     "contrib/grafana/leec-dashboard.json"):
            with open(os.path.join(run.REPO, path)) as fh:
                used = set(re.findall(r"\bleec_[a-z_]+", fh.read()))
            self.assertTrue(used, path)
            self.assertEqual(used - names, set(), path)

    def check_status(self, good, bad):
        status, ctype, text = self.get("/status")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "application/json")
        doc = json.loads(text)
        rows = {r["name"]: r for r in json.loads(
            self.leec("list", "--json", "--dir", self.dir).stdout)}
        certs = {c["name"]: c for c in doc["certificates"]}
        self.assertEqual(set(certs), {good, bad})
        for name, c in certs.items():
            self.assertEqual(c["not_after"], rows[name]["not_after"])
            self.assertEqual(c["next_renewal"], rows[name]["next_renewal"])
            self.assertEqual(c["ca"], rows[name]["ca"])
            self.assertEqual(c["consecutive_failures"],
                             rows[name].get("failures", {}).get("count", 0))
        self.assertEqual(certs[good]["last_result"], "renewed")
        self.assertEqual(certs[bad]["last_result"], "backing_off")
        self.assertIsNotNone(certs[bad]["last_error"])
        self.assertEqual(len(doc["cas"]), 1)
        self.assertEqual(doc["cas"][0]["ca"], run.ENV.directory_url)
        self.assertEqual(doc["cas"][0]["orders_created"], 1)
        self.assertGreaterEqual(doc["daemon"]["passes"], 1)

    def check_refusals(self):
        self.assertEqual(self.get("/")[0], 404)
        self.assertEqual(self.get("/metrics/x")[0], 404)
        self.assertEqual(self.get("/metrics", method="POST")[0], 405)
        self.assertEqual(self.get("/status", method="DELETE")[0], 405)
        status, _, body = self.get("/metrics", method="HEAD")
        self.assertEqual((status, body), (200, ""))


class FleetMetricsTest(LeecCase):
    """A fleet's node (one, on a PostgreSQL store) serves the shared
    store's certificates and its own counters the same way."""
    needs_pebble = False

    def test_fleet_node(self):
        why = fleet_env.pg_missing()
        if why:
            self.skipTest("fleet: " + why)
        pg = fleet_env.make_pg(os.path.join(self.tmp, "pg"))
        pg.start()
        self.addCleanup(pg.stop)
        port = free_ports(1)[0]
        self.base = "http://127.0.0.1:%d" % port
        f = fleet_env.Fleet(os.path.join(self.tmp, "fleet"), run.LEEC,
                            pg.conninfo, nodes=1, lease_ttl=6,
                            claim_interval=1, deploy_hook=False,
                            daemon_args=["--metrics-listen",
                                         "127.0.0.1:%d" % port,
                                         "--sync-interval", "1"])
        f.start()
        self.addCleanup(f.stop)
        certs = {"fm-%d.leec.test" % i: ["fm-%d.leec.test" % i]
                 for i in range(2)}
        r = f.queue(certs)
        self.assertEqual(r.returncode, 0, describe(r))
        f.start_nodes()
        f.wait_installed(list(certs), 60)

        def renewed():
            try:
                status, _, text = MetricsTest.get(self, "/metrics")
            except OSError:
                return None
            if status != 200:
                return None
            fams = parse_openmetrics(text)
            res = {s[1]["cert_name"]: s[1]["result"] for s in
                   fams["leec_certificate_last_result"]["samples"]}
            planned = {s[1]["cert_name"] for s in fams[
                "leec_certificate_not_after_timestamp_seconds"]["samples"]}
            return fams if res == dict.fromkeys(certs, "renewed") and \
                planned == set(certs) else None
        deadline = time.time() + 30
        fams = renewed()
        while fams is None and time.time() < deadline:
            time.sleep(0.3)
            fams = renewed()
        self.assertIsNotNone(fams, f.nodes[0].log_text())
        rows = {r["name"]: r for r in f.list_json()}
        for name in certs:
            row = rows[name]
            for metric, want in (
                    ("leec_certificate_not_after_timestamp_seconds",
                     iso(row["not_after"])),
                    ("leec_certificate_next_renewal_timestamp_seconds",
                     iso(row["next_renewal"])),
                    ("leec_certificate_consecutive_failures",
                     row.get("failures", {}).get("count", 0))):
                got = {s[1]["cert_name"]: s for s in
                       fams[metric]["samples"]}
                self.assertEqual(got[name][2], want, (metric, name))
                self.assertEqual(got[name][1]["ca"], row["ca"])
        created = fams["leec_ca_orders_created"]["samples"]
        self.assertEqual(len(created), 1, created)
        self.assertEqual(created[0][1]["ca"], f.proxy.directory_url)
        self.assertEqual(created[0][2], 2)
        reqs = {(s[1]["endpoint"], s[1]["status"]): s[2]
                for s in fams["leec_ca_requests"]["samples"]}
        self.assertEqual(reqs.get(("newOrder", "201")), 2, reqs)


class MetricsUsageTest(LeecCase):
    needs_pebble = False

    def test_bad_address(self):
        for addr in ("9464", "localhost:9464", "127.0.0.1:0",
                     "127.0.0.1:70000", "[::1]9464", "::1:9464"):
            r = self.leec("daemon", "--dir", self.tmp, "--metrics-listen",
                          addr)
            self.assertEqual(r.returncode, 2, describe(r))
            self.assertIn("is not ADDR:PORT", r.stderr)
