"""e2e tests of broken state and clear messages, against the shared pebble:
a saved account without its key is an error (never a new account written
over it) and one without its account.json finds its account again; a
version with an empty key, an unreadable certificate or a truncated
meta.json is reported by list, counted by renew and repaired by the next
renew or issue (a new version, never "fresh"); a busy port, a missing
--webroot folder and an unreachable CA each give one clear line.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_broken
"""

import json
import os
import socket

import run
from run import LeecCase, describe


def versions(d, name):
    a = os.path.join(d, "archive", name)
    return sorted(int(v) for v in os.listdir(a) if v.isdigit())


class BrokenTest(LeecCase):

    def acct(self, f):
        return os.path.join(self.dir, "accounts", run.ENV.ca_id, f)

    def listed(self):
        r = self.leec("list", "--json", "--dir", self.dir)
        return r, {row["name"]: row for row in json.loads(r.stdout)}

    def version_file(self, name, f):
        return os.path.join(self.live(name), f)

    # ---- accounts

    def test_a_account_without_key_is_an_error(self):
        self.issue_ok(["acct-a.leec.test"])
        with open(self.acct("account.json")) as f:
            before = f.read()
        accounts = run.accounts_created()
        os.unlink(self.acct("account.key.pem"))
        r = self.issue(["acct-b.leec.test"])
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("the saved account for %s cannot be used: its key is "
                      "missing or unusable" % run.ENV.ca_id, r.stderr,
                      describe(r))
        # Said once, and nothing replaced.
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, describe(r))
        self.assertEqual(run.accounts_created(), accounts)
        with open(self.acct("account.json")) as f:
            self.assertEqual(f.read(), before)
        self.assertFalse(os.path.exists(self.acct("account.key.pem")))

    def test_b_account_without_json_finds_its_account(self):
        self.issue_ok(["acct-c.leec.test"])
        with open(self.acct("account.json")) as f:
            url = json.load(f)["url"]
        with open(self.acct("account.key.pem")) as f:
            key = f.read()
        accounts = run.accounts_created()
        os.unlink(self.acct("account.json"))
        self.issue_ok(["acct-d.leec.test"])
        self.assertEqual(run.accounts_created(), accounts)
        with open(self.acct("account.json")) as f:
            self.assertEqual(json.load(f)["url"], url)
        with open(self.acct("account.key.pem")) as f:
            self.assertEqual(f.read(), key)

    # ---- broken versions

    def test_c_empty_key_reported_then_repaired_by_renew(self):
        name = "broken-key.leec.test"
        self.issue_ok([name])
        open(self.version_file(name, "privkey.pem"), "w").close()
        r, rows = self.listed()
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(rows[name]["status"], "broken", rows)
        self.assertEqual(rows[name]["broken"], "privkey.pem is empty", rows)
        self.assertIn("%s: broken: privkey.pem is empty" % name, r.stderr)
        r = self.leec("renew", "--dir", self.dir, "--dry-run")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("%s: BROKEN (privkey.pem is empty): would order a new "
                      "version" % name, r.stdout, describe(r))
        # Replaced, and still an error of this run (exit 1): something
        # damaged the state folder; the next run is clean.
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("%s: the installed version is broken (privkey.pem is "
                      "empty); ordering a new one" % name, r.stderr)
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])
        self.check_cert(name, [name])
        r, rows = self.listed()
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(rows[name]["status"], "valid", rows)

    def test_d_unreadable_certificate_repaired(self):
        name = "broken-cert.leec.test"
        self.issue_ok([name])
        with open(self.version_file(name, "cert.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\ntruncated")
        r, rows = self.listed()
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(rows[name]["broken"],
                         "cert.pem holds no readable certificate", rows)
        self.assertIsNone(rows[name]["not_after"], rows)
        r = self.leec("list", "--dir", self.dir)
        self.assertRegex(r.stdout, r"(?m)^%s .* broken " % name, describe(r))
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("renewed %s" % name, r.stdout, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])
        self.check_cert(name, [name])

    def test_e_truncated_meta_counted_then_repaired_by_issue(self):
        name = "broken-meta.leec.test"
        self.issue_ok([name])
        meta = self.version_file(name, "meta.json")
        with open(meta) as f:
            text = f.read()
        with open(meta, "w") as f:
            f.write(text[:len(text) // 2])
        r, rows = self.listed()
        self.assertEqual(rows[name]["broken"],
                         "meta.json is malformed (truncated?)", rows)
        # Its settings are lost: renew cannot order, says so, fails.
        orders = run.orders_created()
        r = self.leec("renew", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("run leec issue for it again", r.stderr, describe(r))
        self.assertEqual(run.orders_created(), orders)
        # issue, given them again, orders a new version (not "fresh").
        r = self.issue([name])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)^issued %s " % name, describe(r))
        self.assertEqual(versions(self.dir, name), [1, 2])
        r, rows = self.listed()
        self.assertEqual(rows[name]["status"], "valid", rows)

    def test_f_key_of_another_certificate_repaired_by_issue(self):
        name, other = "broken-mix.leec.test", "broken-mix2.leec.test"
        self.issue_ok([name])
        self.issue_ok([other])
        with open(self.version_file(other, "privkey.pem")) as f:
            key = f.read()
        with open(self.version_file(name, "privkey.pem"), "w") as f:
            f.write(key)
        r = self.issue([name], "-v")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("privkey.pem is not the key of cert.pem", r.stderr)
        self.assertEqual(versions(self.dir, name), [1, 2])
        self.check_cert(name, [name])

    # ---- messages

    def test_g_busy_port_says_address_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        try:
            orders = run.orders_created()
            r = self.leec("issue", "-d", "busy.leec.test", "--server",
                          run.ENV.directory_url, "--ca-bundle",
                          run.ENV.ca_bundle, "--agree-tos", "--dir", self.dir,
                          "--http-port", "127.0.0.1:%d" % port)
        finally:
            s.close()
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(r.stderr, "leec: cannot listen on 127.0.0.1:%d for "
                         "http-01: address in use (another program listens "
                         "there)\n" % port, describe(r))
        self.assertEqual(run.orders_created(), orders)

    def test_h_missing_webroot_refused_before_ordering(self):
        orders = run.orders_created()
        missing = os.path.join(self.tmp, "no-such-www")
        r = self.issue(["noroot.leec.test"], "--webroot", missing, http=False)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(r.stderr, "leec: --webroot %s: no such folder\n"
                         % missing, describe(r))
        self.assertEqual(run.orders_created(), orders)
        self.assertFalse(os.path.exists(missing))

    def test_i_unreachable_ca_said_once(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()       # nobody listens there now
        r = self.leec("issue", "-d", "nowhere.leec.test", "--server",
                      "https://127.0.0.1:%d/dir" % port, "--agree-tos",
                      "--dir", self.dir, "--http-port", "127.0.0.1:0")
        self.assertEqual(r.returncode, 1, describe(r))
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, describe(r))
        self.assertIn("nowhere.leec.test", lines[0])
