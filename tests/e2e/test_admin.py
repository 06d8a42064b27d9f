"""e2e tests of the administration commands against the shared pebble:
`leec list` (one row per managed certificate, and the orders in
progress), `leec reset` (forgets a certificate whole, its order in progress
too, so the next issue orders anew), an order of a run cut short taken up
by the next one, and `leec dhparam`
(Diffie-Hellman parameters that OpenSSL accepts).

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_admin
"""

import datetime
import json
import os
import re

import run
from run import LeecCase, describe


class AdminTest(LeecCase):

    def list_json(self):
        r = self.leec("list", "--json", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        return json.loads(r.stdout)

    def test_a_list_and_reset(self):
        one, two = "admin-one.leec.test", "admin-two.leec.test"
        self.issue_ok([one, "www." + one])
        self.issue_ok([two])

        rows = {row["name"]: row for row in self.list_json()}
        self.assertEqual(sorted(rows), [one, two])
        self.assertEqual(sorted(rows[one]["names"]), [one, "www." + one])
        self.assertEqual(rows[two]["names"], [two])
        for row in rows.values():
            self.assertGreater(row["days_left"], 0, row)
            self.assertEqual(row["ca"], run.ENV.directory_url, row)
            self.assertEqual(row["renewal_reason"], "lifetime", row)
            nb = run.parse_iso(row["not_before"])
            na = run.parse_iso(row["not_after"])
            renew = run.parse_iso(row["next_renewal"])
            # A third of the lifetime left (to the second).
            self.assertLessEqual(abs((na - renew) - (na - nb) / 3),
                                 datetime.timedelta(seconds=1), row)
            self.assertEqual(row["key_type"], "EC", row)

        r = self.leec("list", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, describe(r))
        self.assertTrue(lines[0].startswith("NAME"), describe(r))
        self.assertTrue(lines[1].startswith(one + " "), describe(r))
        self.assertTrue(lines[2].startswith(two + " "), describe(r))

        # Not on a terminal and without --yes: refused, nothing removed.
        r = self.leec("reset", "--dir", self.dir, one)
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertTrue(os.path.islink(self.live(one)))

        r = self.leec("reset", "--yes", "--dir", self.dir, one)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual([row["name"] for row in self.list_json()], [two])
        self.assertFalse(os.path.lexists(self.live(one)))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "archive",
                                                     one)))
        self.assertEqual([n for n in os.listdir(os.path.join(self.dir,
                                                             "archive"))
                          if n.startswith(".")], [])
        self.assertTrue(os.path.isfile(os.path.join(self.live(two),
                                                    "fullchain.pem")))

        # Issued again: a new order, version 1 again.
        before = run.orders_created()
        self.issue_ok([one, "www." + one])
        self.assertEqual(run.orders_created(), before + 1)
        self.assertEqual(os.readlink(self.live(one)),
                         "../archive/%s/1" % one)
        self.check_cert(one, [one, "www." + one])
        self.assertEqual(sorted(row["name"] for row in self.list_json()),
                         [one, two])

    def test_b_reset_all(self):
        name = "admin-all.leec.test"
        self.issue_ok([name])
        r = self.leec("reset", "--dir", self.dir, "--all", "--yes")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.list_json(), [])
        for sub in ("live", "archive", "accounts"):
            self.assertEqual(os.listdir(os.path.join(self.dir, sub)), [], sub)
        # A usage error: names and --all together, or neither.
        r = self.leec("reset", "--dir", self.dir, "--all", "--yes", name)
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("reset", "--dir", self.dir, "--yes")
        self.assertEqual(r.returncode, 2, describe(r))

    def journal(self, name):
        return os.path.join(self.dir, "journal", name + ".json")

    def test_b_order_taken_up(self):
        """A run cut short after newOrder (its solver failed) leaves the
        order in the journal: list shows it, the next run takes it up (no
        second order), and it is gone once installed."""
        name = "admin-resume.leec.test"
        before = run.orders_created()
        r = self.issue([name], "--dns-hook", "/bin/false", "--dns-zone",
                       "leec.test", http=False)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(run.orders_created(), before + 1)
        self.assertEqual(run.mode(self.journal(name)), 0o600)
        rows = {row["name"]: row for row in self.list_json()}
        self.assertEqual(rows[name]["status"], "ordering", rows)
        self.assertEqual(rows[name]["order"]["step"], "ordered", rows)
        url = rows[name]["order"]["url"]
        r = self.leec("list", "--dir", self.dir)
        self.assertIn("ORDERS IN PROGRESS", r.stdout, describe(r))
        self.assertRegex(r.stdout, r"(?m)^%s  since \S+  ordered  %s$"
                         % (re.escape(name), re.escape(url)), describe(r))

        r = self.issue_ok([name])
        self.assertIn("resumed order %s" % url, r.stdout, describe(r))
        self.assertEqual(run.orders_created(), before + 1)
        self.assertFalse(os.path.exists(self.journal(name)))
        self.check_cert(name, [name])
        self.assertNotIn("order", self.list_json()[0])

    def test_b_order_gone_or_reset(self):
        """An order the CA does not know leads to a new one; reset drops
        an order in progress and says so."""
        name = "admin-gone.leec.test"
        entry = {"names": [name], "order_url": run.ENV.directory_url
                 .rsplit("/", 1)[0] + "/my-order/leec-test-gone",
                 "ca_id": run.ENV.ca_id, "step": "ordered",
                 "since": 1764000000, "updated": 1764000000}
        os.makedirs(os.path.join(self.dir, "journal"), mode=0o700)
        os.chmod(self.dir, 0o700)

        def put():
            fd = os.open(self.journal(name), os.O_CREAT | os.O_WRONLY, 0o600)
            os.write(fd, json.dumps(entry).encode())
            os.close(fd)
        put()
        r = self.leec("reset", "--yes", "--dir", self.dir, name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("%s: order %s abandoned at the CA"
                      % (name, entry["order_url"]), r.stderr, describe(r))
        self.assertFalse(os.path.exists(self.journal(name)))

        put()
        before = run.orders_created()
        r = self.issue_ok([name], "--json")
        js = json.loads(r.stdout)
        self.assertEqual(js["outcome"], "issued", js)
        self.assertFalse(js["resumed"], js)
        self.assertNotEqual(js["order_url"], entry["order_url"], js)
        self.assertEqual(run.orders_created(), before + 1)
        self.assertFalse(os.path.exists(self.journal(name)))

    def test_c_dhparam(self):
        r = self.leec("dhparam", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        path = os.path.join(self.dir, "dh-params.pem")
        with open(path) as f:
            self.assertTrue(f.read().startswith(
                "-----BEGIN DH PARAMETERS-----\n"))
        self.assertEqual(run.mode(path), 0o644)
        run.openssl("dhparam", "-in", path, "-check", "-noout")
        self.assertIn("(2048 bit)",
                      run.openssl("pkeyparam", "-in", path, "-text",
                                  "-noout"))

        out = os.path.join(self.tmp, "dh3072.pem")
        r = self.leec("dhparam", "--bits", "3072", "--out", out)
        self.assertEqual(r.returncode, 0, describe(r))
        run.openssl("dhparam", "-in", out, "-check", "-noout")
        self.assertIn("(3072 bit)",
                      run.openssl("pkeyparam", "-in", out, "-text", "-noout"))

        r = self.leec("dhparam", "--bits", "1024", "--dir", self.dir)
        self.assertEqual(r.returncode, 2, describe(r))
