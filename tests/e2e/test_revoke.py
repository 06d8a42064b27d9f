"""e2e tests of `leec revoke` (RFC 8555 §7.6) against the shared pebble:
revocation signed by the saved account, by the certificate's own key from a
state folder without any account, and a second revocation refused with the
CA's alreadyRevoked problem.

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_revoke
"""

import os
import re
import shutil

import run
from run import LeecCase, describe


class RevokeTest(LeecCase):

    def revoke(self, target, *extra, d=None):
        return self.leec("revoke", target, "--server", run.ENV.directory_url,
                         "--ca-bundle", run.ENV.ca_bundle,
                         "--dir", d or self.dir, *extra)

    def serial_of(self, r):
        m = re.search(r"\(serial ([0-9a-f]+)\)", r.stdout)
        self.assertIsNotNone(m, describe(r))
        return m.group(1)

    def assert_revoked(self, serial):
        st = run.ENV.cert_status(serial)
        self.assertIsNotNone(st, "pebble does not know serial %s" % serial)
        self.assertEqual(st.get("Status"), "Revoked", st)

    def test_a_revoke_by_account(self):
        name = "revoke-acct.leec.test"
        self.issue_ok([name])
        r = self.revoke(name, "--reason", "superseded")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)^revoked %s \(serial [0-9a-f]+\)$"
                         % re.escape(name), describe(r))
        self.assert_revoked(self.serial_of(r))

    def test_b_revoke_with_cert_key_no_account(self):
        name = "revoke-key.leec.test"
        self.issue_ok([name])
        out = os.path.join(self.tmp, "copy")
        os.mkdir(out)
        cert = os.path.join(out, "cert.pem")
        key = os.path.join(out, "privkey.pem")
        shutil.copyfile(os.path.join(self.live(name), "cert.pem"), cert)
        shutil.copyfile(os.path.join(self.live(name), "privkey.pem"), key)
        fresh = os.path.join(self.tmp, "fresh")
        # Without the key, a folder with no account cannot revoke: said
        # clearly, exit 1, and no account is created.
        r = self.revoke(cert, d=fresh)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("no saved account", r.stderr, describe(r))
        self.assertFalse(os.path.exists(os.path.join(fresh, "accounts"))
                         and os.listdir(os.path.join(fresh, "accounts")),
                         "an account was created")
        r = self.revoke(cert, "--with-cert-key", "--key", key,
                        "--reason", "keyCompromise", d=fresh)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assert_revoked(self.serial_of(r))

    def test_c_revoke_twice(self):
        name = "revoke-twice.leec.test"
        self.issue_ok([name])
        r = self.revoke(name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assert_revoked(self.serial_of(r))
        r = self.revoke(name)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("urn:ietf:params:acme:error:alreadyRevoked", r.stderr,
                      describe(r))

    def test_d_usage(self):
        r = self.leec("revoke")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("revoke", "x.pem", "--reason", "bogus")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("revoke", "x.pem", "--with-cert-key")
        self.assertEqual(r.returncode, 2, describe(r))
