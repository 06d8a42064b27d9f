"""e2e tests of `leec account` (RFC 8555 §7.3) against the shared pebble:
register and show, contact update, key rollover (then an issuance signed
by the new key), deactivation (the account is forgotten: a later issue
creates a new one); and External Account Binding against a second pebble
that requires it.

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_account
"""

import json
import os

import run
from pebble_env import PebbleEnv
from run import LeecCase, describe

EAB_KID = "leec-test-kid"
# base64url (no padding) of a 48-byte key, as a CA hands it out.
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

EAB_ENV = None      # the second pebble, started by EabTest.setUpClass


class AccountTest(LeecCase):

    def account(self, action, *extra, d=None, env=None):
        env = env or run.ENV
        return self.leec("account", action, "--server", env.directory_url,
                         "--ca-bundle", env.ca_bundle, "--dir", d or self.dir,
                         *extra)

    def account_ok(self, action, *extra, **kw):
        r = self.account(action, *extra, **kw)
        self.assertEqual(r.returncode, 0, describe(r))
        return r

    def show_json(self):
        r = self.account_ok("show", "--json")
        return json.loads(r.stdout)["account"]

    def account_dir(self, env=None):
        return os.path.join(self.dir, "accounts", (env or run.ENV).ca_id)

    def saved(self):
        with open(os.path.join(self.account_dir(), "account.json")) as f:
            return json.load(f)

    def key_pem(self):
        with open(os.path.join(self.account_dir(), "account.key.pem")) as f:
            return f.read()

    def test_a_register_and_show(self):
        before = run.accounts_created()
        r = self.account_ok("register", "--agree-tos",
                            "--email", "admin@leec.test")
        self.assertRegex(r.stdout, r"(?m)^registered account https://",
                         describe(r))
        self.assertEqual(run.accounts_created(), before + 1)
        url = self.saved()["url"]
        # Again: it exists, nothing created.
        r = self.account_ok("register", "--agree-tos")
        self.assertIn("existing account %s" % url, r.stdout, describe(r))
        self.assertEqual(run.accounts_created(), before + 1)
        acc = self.show_json()
        self.assertEqual(acc["url"], url)
        self.assertEqual(acc["status"], "valid")
        self.assertEqual(acc["contact"], ["mailto:admin@leec.test"])
        r = self.account_ok("show")
        self.assertRegex(r.stdout, r"(?m)^status:\s+valid$", describe(r))
        self.assertEqual(run.run(["stat", "-c", "%a", os.path.join(
            self.account_dir(), "account.key.pem")]).stdout.strip(), "600")

    def test_a2_issue_account_key_type(self):
        """issue --account-key-type: the key of the account a first issue
        creates; the certificate's own key type is another option."""
        self.issue_ok(["acct-keytype.leec.test"], "--account-key-type",
                      "rsa2048")
        self.assertEqual(run.key_info(os.path.join(
            self.account_dir(), "account.key.pem"))[0], "RSA")
        self.assertEqual(run.key_info(os.path.join(
            self.live("acct-keytype.leec.test"), "privkey.pem"))[0], "EC")
        r = self.issue(["acct-keytype2.leec.test"], "--account-key-type",
                       "dsa")
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("unknown key type 'dsa'", r.stderr)

    def test_b_update_contact(self):
        self.account_ok("register", "--agree-tos", "--email", "old@leec.test")
        r = self.account_ok("update-contact", "--email", "new@leec.test")
        self.assertIn("contact updated", r.stdout, describe(r))
        self.assertEqual(self.show_json()["contact"],
                         ["mailto:new@leec.test"])
        self.assertEqual(self.saved().get("contact"),
                         ["mailto:new@leec.test"])

    def test_c_rollover_then_issue(self):
        self.issue_ok(["acct-before.leec.test"])
        url = self.saved()["url"]
        old = self.key_pem()
        r = self.account_ok("rollover", "--key-type", "ec384")
        self.assertIn("key rolled over", r.stdout, describe(r))
        new = self.key_pem()
        self.assertNotEqual(old, new, "the saved key did not change")
        self.assertEqual(self.saved()["url"], url)
        self.assertEqual(run.key_info(os.path.join(
            self.account_dir(), "account.key.pem"))[1], "P-384")
        before = run.accounts_created()
        # Signed by the new key, same account.
        self.issue_ok(["acct-after.leec.test"])
        self.assertEqual(run.accounts_created(), before)
        self.assertEqual(self.saved()["url"], url)
        self.assertEqual(self.show_json()["status"], "valid")

    def test_d_deactivate(self):
        self.account_ok("register", "--agree-tos")
        url = self.saved()["url"]
        # Final at the CA: refused without --yes when not on a terminal
        # (stdin is not one here), nothing done.
        r = self.account("deactivate", "--json")
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("--yes", r.stderr, describe(r))
        self.assertEqual(self.show_json()["status"], "valid")
        r = self.account_ok("deactivate", "--json", "--yes")
        out = json.loads(r.stdout)
        self.assertEqual(out["account"]["status"], "deactivated", r.stdout)
        self.assertFalse(os.path.exists(self.account_dir()),
                         "the account was not removed from the store")
        r = self.account("show")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("no saved account", r.stderr, describe(r))
        before = run.accounts_created()
        self.issue_ok(["acct-deact.leec.test"])
        self.assertEqual(run.accounts_created(), before + 1)
        self.assertNotEqual(self.saved()["url"], url)

    def plant_pending(self, key_pem):
        """The store as a run killed right after saving a new account's
        key leaves it: the key, and an account.json without a URL."""
        d = self.account_dir()
        os.makedirs(d, mode=0o700, exist_ok=True)
        with open(os.open(os.path.join(d, "account.key.pem"),
                          os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            f.write(key_pem)
        with open(os.path.join(d, "account.json"), "w") as f:
            json.dump({"directory": run.ENV.directory_url, "pending": True}, f)

    def test_d2_key_saved_before_newaccount(self):
        # Killed before newAccount reached the CA: the next run makes the
        # account with the saved key (one account, that key).
        key = run.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                       "ec_paramgen_curve:P-256"]).stdout
        self.assertIn("PRIVATE KEY", key)
        self.plant_pending(key)
        before = run.accounts_created()
        self.issue_ok(["acct-pending.leec.test"])
        self.assertEqual(run.accounts_created(), before + 1)
        self.assertTrue(self.saved()["url"].startswith("https://"))
        self.assertNotIn("pending", self.saved())
        self.assertEqual(self.key_pem(), key, "the saved key was replaced")
        # Killed after the CA made it: the next run finds it, makes none.
        url = self.saved()["url"]
        self.plant_pending(key)
        self.issue_ok(["acct-pending2.leec.test"])
        self.assertEqual(run.accounts_created(), before + 1)
        self.assertEqual(self.saved()["url"], url)

    def test_e_usage(self):
        r = self.leec("account")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("account", "bogus")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.leec("account", "show", "--eab-kid", "k",
                      "--eab-hmac-key", EAB_KEY)
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.account("show")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("no saved account", r.stderr, describe(r))


class EabTest(AccountTest):
    """A pebble that requires External Account Binding."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        global EAB_ENV
        EAB_ENV = PebbleEnv(extra_config={
            "externalAccountBindingRequired": True,
            "externalAccountMACKeys": {EAB_KID: EAB_KEY}},
            workdir=os.path.join(run.SCRATCH, "pebble-eab"))
        EAB_ENV.start()

    @classmethod
    def tearDownClass(cls):
        global EAB_ENV
        if EAB_ENV is not None:
            EAB_ENV.stop()
            EAB_ENV = None
        super().tearDownClass()

    # The inherited AccountTest cases are not run again here.
    test_a_register_and_show = test_b_update_contact = None
    test_c_rollover_then_issue = test_d_deactivate = test_e_usage = None
    test_d2_key_saved_before_newaccount = None

    def eab_issue(self, name, *extra):
        argv = ["issue", "-d", name, "--server", EAB_ENV.directory_url,
                "--ca-bundle", EAB_ENV.ca_bundle, "--agree-tos",
                "--dir", self.dir,
                "--http-port", "127.0.0.1:%d" % EAB_ENV.http_port]
        return self.leec(*(argv + list(extra)))

    def test_f_issue_needs_eab(self):
        r = self.eab_issue("eab-none.leec.test")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("urn:ietf:params:acme:error:externalAccountRequired",
                      r.stdout + r.stderr, describe(r))
        self.assertFalse(os.path.exists(self.account_dir(EAB_ENV)))
        r = self.eab_issue("eab-bad.leec.test", "--eab-kid", EAB_KID,
                           "--eab-hmac-key", "not base64url!")
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.eab_issue("eab-ok.leec.test", "--eab-kid", EAB_KID,
                           "--eab-hmac-key", EAB_KEY)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)\bissued\s+eab-ok\.leec\.test\b")
        self.assertTrue(os.path.isfile(os.path.join(
            self.account_dir(EAB_ENV), "account.key.pem")))
        # The key is a secret: never echoed.
        self.assertNotIn(EAB_KEY, r.stdout + r.stderr)

    def test_f_issue_eab_key_from_file(self):
        """--eab-hmac-key-file keeps the secret out of the command line; a
        file others may read is refused before anything is sent."""
        keyfile = os.path.join(self.tmp, "eab.key")
        with open(keyfile, "w") as f:
            f.write("  %s\n" % EAB_KEY)
        os.chmod(keyfile, 0o640)
        r = self.eab_issue("eab-file.leec.test", "--eab-kid", EAB_KID,
                           "--eab-hmac-key-file", keyfile)
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("chmod 600", r.stderr, describe(r))
        self.assertFalse(os.path.exists(self.account_dir(EAB_ENV)))
        os.chmod(keyfile, 0o600)
        r = self.eab_issue("eab-file.leec.test", "--eab-kid", EAB_KID,
                           "--eab-hmac-key-file", keyfile,
                           "--eab-hmac-key", EAB_KEY)
        self.assertEqual(r.returncode, 2, describe(r))
        r = self.eab_issue("eab-file.leec.test", "--eab-kid", EAB_KID,
                           "--eab-hmac-key-file", keyfile)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertNotIn(EAB_KEY, r.stdout + r.stderr)

    def test_g_register_with_eab(self):
        r = self.account("register", "--agree-tos", env=EAB_ENV)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("externalAccountRequired", r.stderr, describe(r))
        # A wrong key: refused by the CA.
        r = self.account("register", "--agree-tos", "--eab-kid", EAB_KID,
                         "--eab-hmac-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         env=EAB_ENV)
        self.assertEqual(r.returncode, 1, describe(r))
        r = self.account("register", "--agree-tos", "--eab-kid", EAB_KID,
                         "--eab-hmac-key", EAB_KEY, "-vv", env=EAB_ENV)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("registered account", r.stdout, describe(r))
        self.assertNotIn(EAB_KEY, r.stdout + r.stderr)
        r = self.account("show", env=EAB_ENV)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)^status:\s+valid$", describe(r))
