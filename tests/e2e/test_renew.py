"""e2e tests of the certificate lifecycle: `leec renew` (settings recalled
from the store, --force, --dry-run, nothing sent when not due, due by
lifetime, failure back-off, --reuse-key), ACME Renewal Information through
tests/e2e/ari_proxy.py in front of pebble (window, Retry-After remembered
across runs, "replaces" in the order, and the retry without it), the deploy
hook's environment, pre/post hooks, and `leec daemon` renewing a due
certificate and stopping on SIGTERM.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_renew
"""

import json
import os
import re
import signal
import subprocess
import time

import run
from run import LeecCase, describe
from ari_proxy import AriProxy, ari_cert_id

SHORT_S = 40    # lifetime of the short-lived pebble's certificates


def dates(path):
    nb, na = run.cert_dates(path)
    return nb.timestamp(), na.timestamp()


def iso(s):
    return run.parse_iso(s).timestamp()


def versions(d, name):
    a = os.path.join(d, "archive", name)
    return sorted(int(v) for v in os.listdir(a) if v.isdigit())


def hook_script(tmp, name):
    """A deploy hook that appends its environment to a file, as JSON."""
    out = os.path.join(tmp, name + ".log")
    script = os.path.join(tmp, name + ".sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "printf '{\"event\":\"%%s\",\"name\":\"%%s\",\"live\":\"%%s\","
                "\"domains\":\"%%s\"}\\n' \"$1\" \"$LEEC_CERT_NAME\" "
                "\"$LEEC_LIVE_DIR\" \"$LEEC_DOMAINS\" >> %s\n" % out)
    os.chmod(script, 0o755)
    return script, out


def hook_events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class RenewTest(LeecCase):
    """Against the shared pebble (90-day certificates: never due)."""

    def renew(self, *extra, d=None):
        return self.leec("renew", "--dir", d or self.dir, *extra)

    def test_a_settings_recalled_force_and_hooks(self):
        name = "renew-a.leec.test"
        script, log = hook_script(self.tmp, "h")
        self.issue_ok([name, "www." + name], "--key-type", "ec384",
                      "--deploy-hook", script + " deploy",
                      "--pre-hook", script + " pre",
                      "--post-hook", script + " post")
        ev = hook_events(log)
        self.assertEqual([e["event"] for e in ev], ["pre", "deploy", "post"])
        self.assertEqual(ev[1]["name"], name)
        self.assertEqual(ev[1]["live"], self.live(name))
        self.assertEqual(ev[1]["domains"], "%s www.%s" % (name, name))

        # Not due: nothing sent at all (no order, no hook).
        before = run.orders_created()
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("0 renewed", r.stdout, describe(r))
        self.assertEqual(run.orders_created(), before)
        self.assertEqual(len(hook_events(log)), 3)
        r = self.renew("--dry-run")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"%s: not due until \S+ \S+ UTC \(a third "
                         r"of the lifetime left" % re.escape(name), describe(r))

        # --force, with no other flag: the stored settings (CA, trust, the
        # http-01 port, key type, hooks) are used.
        serial = run.cert_serial(os.path.join(self.live(name), "cert.pem"))
        r = self.renew("--force", name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])
        self.check_cert(name, [name, "www." + name], key_type="ec384")
        self.assertNotEqual(
            run.cert_serial(os.path.join(self.live(name), "cert.pem")), serial)
        ev = hook_events(log)
        self.assertEqual([e["event"] for e in ev],
                         ["pre", "deploy", "post"] * 2)
        # A fresh key by default.
        k1 = open(os.path.join(self.dir, "archive", name, "1",
                               "privkey.pem")).read()
        k2 = open(os.path.join(self.dir, "archive", name, "2",
                               "privkey.pem")).read()
        self.assertNotEqual(k1, k2)

    def test_a_hook_live_dir_absolute(self):
        """A state folder given relative: the hooks' LEEC_LIVE_DIR is
        still from the root (a hook runs wherever it likes), as certbot's
        RENEWED_LINEAGE."""
        name = "renew-rel.leec.test"
        script, log = hook_script(self.tmp, "rel")
        argv = [run.LEEC, "issue", "-d", name, "--server",
                run.ENV.directory_url, "--ca-bundle", run.ENV.ca_bundle,
                "--agree-tos", "--dir", "rel-state", "--http-port",
                "127.0.0.1:%d" % run.ENV.http_port,
                "--deploy-hook", script + " deploy"]
        r = subprocess.run(argv, cwd=self.tmp, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60,
                           env=run.child_env())
        self.assertEqual(r.returncode, 0, describe(r))
        ev = hook_events(log)
        self.assertEqual([e["event"] for e in ev], ["deploy"], describe(r))
        live = ev[0]["live"]
        self.assertTrue(os.path.isabs(live), live)
        self.assertEqual(os.path.realpath(live), os.path.realpath(
            os.path.join(self.tmp, "rel-state", "live", name)))
        self.assertTrue(os.path.isfile(os.path.join(live, "fullchain.pem")))

    def test_a_batch_hooks_once_per_run(self):
        """A batch: the pre-hook once, each certificate's deploy hook (when
        the orders are over, so a slow hook holds up no request), then the
        post-hook once."""
        script, log = hook_script(self.tmp, "b")
        batch = os.path.join(self.tmp, "batch.txt")
        with open(batch, "w") as f:
            f.write("hb1 hb1.leec.test\nhb2 hb2.leec.test\n")
        r = self.leec("issue", "--batch", batch, "--server",
                      run.ENV.directory_url, "--ca-bundle", run.ENV.ca_bundle,
                      "--agree-tos", "--dir", self.dir, "--max-parallel", "1",
                      "--http-port", "127.0.0.1:%d" % run.ENV.http_port,
                      "--pre-hook", script + " pre", "--post-hook",
                      script + " post", "--deploy-hook", script + " deploy")
        self.assertEqual(r.returncode, 0, describe(r))
        ev = hook_events(log)
        self.assertEqual([e["event"] for e in ev],
                         ["pre", "deploy", "deploy", "post"], ev)
        self.assertEqual(sorted(e["name"] for e in ev[1:3]), ["hb1", "hb2"])

    def test_b_reuse_key(self):
        name = "renew-reuse.leec.test"
        self.issue_ok([name], "--reuse-key")
        r = self.renew("--force")
        self.assertEqual(r.returncode, 0, describe(r))
        k = [open(os.path.join(self.dir, "archive", name, v,
                               "privkey.pem")).read() for v in ("1", "2")]
        self.assertEqual(k[0], k[1], "--reuse-key: the key changed")
        self.check_cert(name, [name])

    def test_c_unknown_name_and_usage(self):
        r = self.renew("nosuch.leec.test")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("nosuch.leec.test: no such certificate", r.stderr)
        r = self.leec("renew", "--syslog")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("daemon", "--force")
        self.assertEqual(r.returncode, 2, describe(r))

    def test_d_list_reason(self):
        name = "renew-list.leec.test"
        self.issue_ok([name])
        r = self.leec("list", "--json", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        row = json.loads(r.stdout)[0]
        self.assertEqual(row["renewal_reason"], "lifetime")
        self.assertNotIn("failures", row)


    def test_e_revoked_is_due_and_revoke_uses_its_ca(self):
        """leec revoke NAME talks to the CA the certificate came from (no
        --server: the default CA would be Let's Encrypt), and the revoked
        certificate is due at once: list, the dry run and renew agree."""
        name = "renew-revoked.leec.test"
        self.issue_ok([name])
        r = self.leec("revoke", name, "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        serial = re.search(r"\(serial ([0-9a-f]+)\)", r.stdout).group(1)
        self.assertEqual(run.ENV.cert_status(serial).get("Status"), "Revoked")
        row = json.loads(self.leec("list", "--json", "--dir",
                                   self.dir).stdout)[0]
        self.assertEqual(row["renewal_reason"], "revoked", row)
        self.assertEqual(row["renewal_rule"], "revoked by leec", row)
        self.assertEqual(row["status"], "due", row)
        self.assertLessEqual(iso(row["next_renewal"]), time.time() + 1, row)
        r = self.renew("--dry-run")
        self.assertIn("%s: due since" % name, r.stdout, describe(r))
        self.assertIn("revoked by leec", r.stdout, describe(r))
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])
        row = json.loads(self.leec("list", "--json", "--dir",
                                   self.dir).stdout)[0]
        self.assertEqual(row["renewal_reason"], "lifetime", row)
        self.assertEqual(row["status"], "valid", row)


class AriTest(LeecCase):
    """ARI through a proxy in front of the shared pebble."""

    def setUp(self):
        super().setUp()
        self.ari = AriProxy(os.path.join(self.tmp, "ari"),
                            run.ENV.directory_url, run.ENV.ca_bundle)
        self.ari.start()
        self.addCleanup(self.ari.stop)

    def issue_ari(self, name, *extra):
        r = self.leec("issue", "-d", name, "--server", self.ari.directory_url,
                      "--ca-bundle", self.ari.ca_bundle, "--agree-tos",
                      "--dir", self.dir, "--http-port",
                      "127.0.0.1:%d" % run.ENV.http_port, *extra)
        self.assertEqual(r.returncode, 0, describe(r))
        return os.path.join(self.live(name), "cert.pem")

    def renew(self, *extra):
        return self.leec("renew", "--dir", self.dir, "-v", *extra)

    def test_a_window_ahead_and_retry_after_remembered(self):
        name = "ari-ahead.leec.test"
        cert = self.issue_ari(name)
        cid = ari_cert_id(cert)
        now = time.time()
        start, end = int(now + 20 * 86400), int(now + 21 * 86400)
        self.ari.set_window(start, end)
        self.ari.retry_after = 3600
        orders = len(self.ari.new_orders)
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.ari.renewal_info_requests, [cid])
        self.assertIn("%s is not due" % name, r.stdout, describe(r))
        self.assertEqual(len(self.ari.new_orders), orders)
        # The chosen time lies inside the window, and list tells it.
        r = self.leec("list", "--json", "--dir", self.dir)
        row = json.loads(r.stdout)[0]
        self.assertEqual(row["renewal_reason"], "ari")
        due = iso(row["next_renewal"])
        self.assertTrue(start - 60 <= due <= end + 60, row)
        # Retry-After (an hour) is remembered by the next run: no request.
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.ari.renewal_info_requests, [cid])
        # Even a window now in the past waits for the next check.
        self.ari.set_window(int(now - 3600), int(now - 60))
        r = self.renew("--dry-run")
        self.assertIn("not due until", r.stdout, describe(r))
        self.assertEqual(self.ari.renewal_info_requests, [cid])

    def test_b_window_passed_renews_with_replaces(self):
        name = "ari-due.leec.test"
        cert = self.issue_ari(name)
        cid = ari_cert_id(cert)
        now = time.time()
        self.ari.set_window(int(now - 7200), int(now - 3600))
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        self.assertEqual(self.ari.renewal_info_requests, [cid])
        self.assertEqual(self.ari.new_orders[-1].get("replaces"), cid)
        self.assertEqual(versions(self.dir, name), [1, 2])
        # The new certificate starts afresh: its own id is asked next time.
        self.ari.set_window(int(now + 86400 * 30), int(now + 86400 * 31))
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.ari.renewal_info_requests[-1],
                         ari_cert_id(os.path.join(self.live(name),
                                                  "cert.pem")))

    def test_c_replaces_refused_then_ordered_without(self):
        name = "ari-refused.leec.test"
        cert = self.issue_ari(name)
        cid = ari_cert_id(cert)
        now = time.time()
        self.ari.set_window(int(now - 7200), int(now - 3600))
        self.ari.refuse_replaces = True
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.ari.refused, 1)
        self.assertEqual(self.ari.new_orders[-2].get("replaces"), cid)
        self.assertNotIn("replaces", self.ari.new_orders[-1])
        self.assertIn("alreadyReplaced", r.stderr, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])

    def test_d_no_window_falls_back_on_lifetime(self):
        name = "ari-404.leec.test"
        self.issue_ari(name)
        self.ari.window = None      # 404
        r = self.renew()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("no usable renewal information", r.stderr, describe(r))
        self.assertIn("%s is not due" % name, r.stdout, describe(r))


class ShortLivedTest(run.OwnPebbleCase):
    """A pebble of its own issuing SHORT_S-second certificates (due after
    half of it), without authorization reuse (so that a broken challenge
    answer really fails)."""
    pebble_config = {"certificateValidityPeriod": SHORT_S}
    pebble_env = {"PEBBLE_AUTHZREUSE": "0"}

    def issue_short(self, name, *extra):
        p = self.pebble
        r = self.leec("issue", "-d", name, "--server", p.directory_url,
                      "--ca-bundle", p.ca_bundle, "--agree-tos",
                      "--dir", self.dir, *extra)
        self.assertEqual(r.returncode, 0, describe(r))

    def wait_due(self, name):
        nb, na = dates(os.path.join(self.live(name), "cert.pem"))
        due = na - (na - nb) / 2
        while time.time() < due + 0.5:
            time.sleep(0.2)

    def test_a_due_by_lifetime(self):
        name = "short-a.leec.test"
        self.issue_short(name, "--http-port",
                         "127.0.0.1:%d" % self.pebble.http_port)
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(versions(self.dir, name), [1])
        self.wait_due(name)
        r = self.leec("renew", "--dir", self.dir, "--dry-run")
        self.assertIn("%s: due since" % name, r.stdout, describe(r))
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])

    def test_b_failure_backs_off(self):
        name = "short-b.leec.test"
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        # A throwaway account: the renewal's is a new one, with no valid
        # authorization pebble could reuse (it sometimes does, whatever
        # PEBBLE_AUTHZREUSE says).
        with run.Webroot(webroot, self.pebble.http_port):
            self.issue_short(name, "--webroot", webroot, "--throwaway-account")
        # No server answers for the webroot any more: the renewal, when due,
        # fails.
        self.wait_due(name)
        before = sum(1 for l in self.pebble.log_lines()
                     if 'Added order "' in l)
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("renewal failed", r.stderr, describe(r))
        r = self.leec("list", "--json", "--dir", self.dir)
        row = json.loads(r.stdout)[0]
        self.assertEqual(row["failures"]["count"], 1, row)
        # The back-off (an hour for a 90-day certificate) never exceeds a
        # third of the time left (or 10 s): a certificate of seconds gets
        # another attempt before it lapses.
        _, na = dates(os.path.join(self.live(name), "cert.pem"))
        retry = iso(row["failures"]["retry_at"])
        self.assertTrue(time.time() < retry <= time.time() +
                        max(10, (na - time.time()) / 3) + 2, row)
        # Backing off: nothing is sent, and every run says so.
        orders = sum(1 for l in self.pebble.log_lines()
                     if 'Added order "' in l)
        self.assertEqual(orders, before + 1)
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("backing off", r.stderr, describe(r))
        self.assertEqual(sum(1 for l in self.pebble.log_lines()
                             if 'Added order "' in l), orders)
        r = self.leec("renew", "--dir", self.dir, "--dry-run")
        self.assertIn("backing off after 1 failed renewal", r.stdout,
                      describe(r))
        # Then tried again (and it fails again: two in a row).
        while time.time() < retry + 0.5:
            time.sleep(0.2)
        r = self.leec("renew", "--dir", self.dir, "--force")
        self.assertEqual(r.returncode, 1, describe(r))
        row = json.loads(self.leec("list", "--json", "--dir",
                                   self.dir).stdout)[0]
        self.assertEqual(row["failures"]["count"], 2, row)

    def test_c_daemon_renews_then_stops_on_sigterm(self):
        name = "short-c.leec.test"
        script, log = hook_script(self.tmp, "d")
        self.issue_short(name, "--http-port",
                         "127.0.0.1:%d" % self.pebble.http_port,
                         "--deploy-hook", script + " deploy")
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir, "-v"],
                             stdout=subprocess.DEVNULL, stderr=errf,
                             env=run.child_env())
        try:
            deadline = time.time() + SHORT_S + 30
            while time.time() < deadline and len(versions(self.dir, name)) < 2:
                time.sleep(0.2)
            self.assertGreaterEqual(len(versions(self.dir, name)), 2,
                                    "the daemon did not renew")
            # The renewal happened when due, not before.
            nb, na = dates(os.path.join(self.dir, "archive", name,
                                                 "1", "cert.pem"))
            nb2, _ = dates(os.path.join(self.dir, "archive", name,
                                                 "2", "cert.pem"))
            self.assertGreaterEqual(nb2 + 2, nb + (na - nb) / 2)
            # ... and before the first one expired: passes a minute apart
            # would let a certificate of seconds lapse.
            self.assertLessEqual(nb2, na, "the certificate lapsed")
            self.assertEqual(len(hook_events(log)), 2)   # issue + renewal
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        errf.seek(0)
        err = errf.read()
        errf.close()
        self.assertIn("daemon started", err)
        self.assertIn("next look at", err)
        self.assertIn("stopping", err)


class DaemonSignalsTest(LeecCase):
    """The daemon with nothing to renew: it sleeps until a signal; SIGHUP,
    or a certificate added to live/, makes it look again at once; SIGTERM
    stops it (exit 0)."""
    needs_pebble = False

    def test_hup_then_term(self):
        os.makedirs(self.dir)
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir, "-v"],
                             stdout=subprocess.DEVNULL, stderr=errf,
                             env=run.child_env())

        def log():
            errf.seek(0)
            return errf.read()

        def wait_for(text, count=1):
            deadline = time.time() + 20
            while time.time() < deadline and log().count(text) < count:
                time.sleep(0.05)
            self.assertGreaterEqual(log().count(text), count, log())
        try:
            wait_for("next look at a signal")
            p.send_signal(signal.SIGHUP)
            wait_for("SIGHUP: reading the certificates again")
            wait_for("next look at a signal", 2)
            # A certificate appearing in live/ (here a dangling link) is
            # looked at without waiting for the next wake.
            os.symlink("../archive/new/1",
                       os.path.join(self.dir, "live", "new.leec.test"))
            wait_for("certificates added or removed: looking again")
            wait_for("next look at a signal", 3)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0, log())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertIn("stopping", log())
        errf.close()


LIFE_S = 16     # LapseTest's certificates


def minute(t):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


class LapseTest(run.OwnPebbleCase):
    """A pebble of its own issuing LIFE_S-second certificates: neither what
    a CA says nor a failed renewal lets one lapse unnoticed."""
    pebble_config = {"certificateValidityPeriod": LIFE_S}
    pebble_env = {"PEBBLE_AUTHZREUSE": "0"}

    def renew(self, *extra):
        return self.leec("renew", "--dir", self.dir, *extra)

    def row(self):
        r = self.leec("list", "--json", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        return json.loads(r.stdout)[0]

    def test_a_window_after_expiry_is_ignored(self):
        """renewalInfo says: in ten years. The lifetime rule (half of a
        short lifetime) decides; renew, its dry run and list agree on the
        time and the rule, then renew on time."""
        name = "lapse-ari.leec.test"
        p = self.pebble
        with AriProxy(os.path.join(self.tmp, "ari"), p.directory_url,
                      p.ca_bundle) as ari:
            far = int(time.time()) + 3650 * 86400
            ari.set_window(far, far + 86400)
            r = self.leec("issue", "-d", name, "--server", ari.directory_url,
                          "--ca-bundle", ari.ca_bundle, "--agree-tos",
                          "--dir", self.dir, "--http-port",
                          "127.0.0.1:%d" % p.http_port)
            self.assertEqual(r.returncode, 0, describe(r))
            cert = os.path.join(self.live(name), "cert.pem")
            nb, na = dates(cert)
            due = na - (na - nb) // 2
            rule = "half of the lifetime left (lifetime under 10 days)"

            r = self.renew("-v")
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertEqual(ari.renewal_info_requests, [ari_cert_id(cert)])
            self.assertIn("ignoring the CA's renewal window", r.stderr,
                          describe(r))
            self.assertIn("%s is not due (renewal from %s, %s)"
                          % (name, minute(due), rule), r.stdout, describe(r))
            row = self.row()
            self.assertEqual(row["renewal_reason"], "lifetime", row)
            self.assertEqual(row["renewal_rule"], rule, row)
            self.assertTrue(row.get("ari_ignored"), row)
            self.assertEqual(iso(row["next_renewal"]), due, row)
            self.assertEqual(row["status"], "valid", row)
            r = self.renew("--dry-run")
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertIn("%s: not due until %s (%s; expires %s; the CA's "
                          "window %s to %s is ignored" %
                          (name, minute(due), rule, minute(na), minute(far),
                           minute(far + 86400)), r.stdout, describe(r))

            while time.time() < due + 0.5:
                time.sleep(0.1)
            r = self.renew("--dry-run")
            self.assertIn("%s: due since %s (%s;" % (name, minute(due), rule),
                          r.stdout, describe(r))
            self.assertEqual(self.row()["status"], "due")
            r = self.renew()
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertIn("renewed %s" % name, r.stdout, describe(r))
            self.assertEqual(versions(self.dir, name), [1, 2])
            self.assertLessEqual(dates(os.path.join(self.live(name),
                                                    "cert.pem"))[0], na)

    def test_b_expired_not_renewed_is_an_error(self):
        name = "lapse-exp.leec.test"
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        p = self.pebble
        with run.Webroot(webroot, p.http_port):
            r = self.leec("issue", "-d", name, "--server", p.directory_url,
                          "--ca-bundle", p.ca_bundle, "--agree-tos",
                          "--dir", self.dir, "--webroot", webroot,
                          "--throwaway-account")
            self.assertEqual(r.returncode, 0, describe(r))
        _, na = dates(os.path.join(self.live(name), "cert.pem"))
        while time.time() < na + 1:
            time.sleep(0.2)
        row = self.row()
        self.assertEqual(row["status"], "expired", row)
        r = self.leec("list", "--dir", self.dir)
        self.assertRegex(r.stdout, r"(?m)^%s .* expired " % re.escape(name),
                         describe(r))
        # Nobody answers for the webroot: the renewal fails, and the
        # expired certificate is an error of its own.
        r = self.renew()
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("renewal failed", r.stderr, describe(r))
        self.assertIn("%s: expired on %s and not renewed" % (name, minute(na)),
                      r.stderr, describe(r))
        # Backing off now: still an error while it is expired.
        r = self.renew()
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("backing off", r.stderr, describe(r))
        self.assertIn("expired on", r.stderr, describe(r))
        r = self.renew("--dry-run")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("EXPIRED", r.stdout, describe(r))
