"""e2e tests of dns-persist-01 (draft-ietf-acme-dns-persist-01): `leec
account dns-persist-record` prints the record; with it set once, `leec
issue --dns-persist` gets certificates (a wildcard too) with no record per
order; a missing record, one for another account, and a wildcard without
policy=wildcard fail with the record to create; the record is never
removed.

The CA is tests/e2e/persist_proxy.py (dns-persist-01 over a pebble of this
class's own, PEBBLE_VA_ALWAYS_VALID=1 and no authorization reuse, so the
proxy's DNS check is the validation); the records live in that pebble's
challtestsrv, which both leec (--dns-resolver) and the proxy ask.

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_persist
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import OwnPebbleCase, cert_sans, describe, run  # noqa: E402
from persist_proxy import PersistProxy, txt_lookup  # noqa: E402
import test_json  # noqa: E402  (its schema validator)

ISSUER = "ca.leec.test"

# leec --dns-hook (present|cleanup FQDN VALUE): logs its calls, and puts
# what it presents into challtestsrv.
HOOK = r"""#!/usr/bin/python3
import json, sys, urllib.request
with open(%(log)r, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
if sys.argv[1] == "present":
    req = urllib.request.Request(
        %(api)r + "/set-txt", method="POST",
        data=json.dumps({"host": sys.argv[2], "value": sys.argv[3]}).encode())
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
        req, timeout=5).read()
"""


class Persist(OwnPebbleCase):
    needs_pebble = False
    pebble_env = {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_AUTHZREUSE": "0"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = PersistProxy(os.path.join(cls.base, "proxy"),
                              cls.pebble.directory_url, cls.pebble.ca_bundle,
                              cls.pebble.dns_port, issuer=ISSUER)
        cls.ca.start()

    @classmethod
    def tearDownClass(cls):
        cls.ca.stop()
        super().tearDownClass()

    # -- helpers
    def ca_args(self):
        return ["--server", self.ca.directory_url, "--ca-bundle",
                self.ca.ca_bundle, "--dir", self.dir]

    def account_url(self):
        r = self.leec("account", "register", "--agree-tos", *self.ca_args())
        self.assertEqual(r.returncode, 0, describe(r))
        r = self.leec("account", "show", "--json", *self.ca_args())
        self.assertEqual(r.returncode, 0, describe(r))
        return json.loads(r.stdout)["account"]["url"]

    def record(self, domain, *extra):
        r = self.leec("account", "dns-persist-record", domain, *extra,
                      *self.ca_args())
        self.assertEqual(r.returncode, 0, describe(r))
        return r.stdout.strip()

    def set_txt(self, name, value):
        self.pebble.challtest("/set-txt", {"host": name, "value": value})

    def txt(self, name):
        return txt_lookup(self.pebble.dns_port, name)

    def issue_persist(self, *names_and_extra):
        argv = ["issue", "--agree-tos", "--dns-persist", "--dns-resolver",
                "127.0.0.1:%d" % self.pebble.dns_port] + self.ca_args()
        argv += list(names_and_extra)
        return self.leec(*argv)

    def validated(self, name):
        return [v for v in self.ca.validations if v[0] == name]

    def check_issued(self, name, names):
        cert = os.path.join(self.live(name), "cert.pem")
        chain = os.path.join(self.live(name), "chain.pem")
        self.assertEqual(cert_sans(cert), set(names))
        root = os.path.join(self.tmp, "root.pem")
        with open(root, "w") as f:
            f.write(self.pebble.root_pem())
        r = run(["openssl", "verify", "-CAfile", root, "-untrusted", chain,
                 cert])
        self.assertEqual(r.returncode, 0, describe(r))

    # -- the tests
    def test_record_printed(self):
        url = self.account_url()
        self.assertEqual(
            self.record("Print.Leec.Test"),
            '_validation-persist.print.leec.test. IN TXT "%s; accounturi=%s"'
            % (ISSUER, url))
        self.assertEqual(
            self.record("*.print.leec.test", "--persist-until", "2030-01-02"),
            '_validation-persist.print.leec.test. IN TXT "%s; accounturi=%s; '
            'policy=wildcard; persistUntil=1893542400"' % (ISSUER, url))
        self.assertIn('"other.example; accounturi=%s; policy=wildcard"' % url,
                      self.record("print.leec.test", "--wildcard", "--issuer",
                                  "other.example"))
        r = self.leec("account", "dns-persist-record", "print.leec.test",
                      "--json", *self.ca_args())
        self.assertEqual(r.returncode, 0, describe(r))
        doc = json.loads(r.stdout)
        self.assertEqual(test_json.V.errors("account.schema.json", doc), [])
        self.assertEqual(doc, {
            "action": "dns-persist-record", "ok": True, "record": {
                "name": "_validation-persist.print.leec.test.", "type": "TXT",
                "value": "%s; accounturi=%s" % (ISSUER, url),
                "issuer": ISSUER, "account": url, "wildcard": False,
                "persist_until": None}})
        # A CA whose directory has no caaIdentities (pebble itself): the
        # issuer must be given.
        pebble = ["--server", self.pebble.directory_url, "--ca-bundle",
                  self.pebble.ca_bundle, "--dir", self.dir]
        r = self.leec("account", "register", "--agree-tos", *pebble)
        self.assertEqual(r.returncode, 0, describe(r))
        r = self.leec("account", "dns-persist-record", "x.leec.test", *pebble)
        self.assertEqual(r.returncode, 2, describe(r))
        self.assertIn("--issuer", r.stderr)
        r = self.leec("account", "dns-persist-record", "x.leec.test",
                      "--issuer", ISSUER, *pebble)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn('IN TXT "%s; accounturi=' % ISSUER, r.stdout)
        self.assertNotIn(url, r.stdout)     # another account, at pebble
        for bad in (["bad..name"], ["x.leec.test", "--persist-until", "soon"],
                    ["x.leec.test", "--issuer", "Not A Name"], []):
            r = self.leec("account", "dns-persist-record", *bad,
                          *self.ca_args())
            self.assertEqual(r.returncode, 2, describe(r))

    def test_issue_with_record(self):
        """One record, set once: two orders (the second forced) and a
        wildcard order validate with it; no record is added or removed."""
        self.account_url()
        line = self.record("one.leec.test")
        name, value = re.fullmatch(r'(\S+) IN TXT "(.*)"', line).groups()
        self.set_txt(name, value)
        r = self.issue_persist("-d", "one.leec.test")
        self.assertEqual(r.returncode, 0, describe(r))
        # The renewal finds --dns-persist in the certificate's settings.
        r = self.leec("renew", "one.leec.test", "--force", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertTrue(os.readlink(self.live("one.leec.test"))
                        .rstrip("/").endswith("/2"), describe(r))
        self.check_issued("one.leec.test", ["one.leec.test"])
        self.assertEqual([ok for _, ok, _ in self.validated("one.leec.test")],
                         [True, True])
        self.assertEqual(self.txt(name), [value])
        self.assertEqual(self.txt("_acme-challenge.one.leec.test."), [])

        # A wildcard and its base name: one record with policy=wildcard.
        line = self.record("*.wild.leec.test")
        name, value = re.fullmatch(r'(\S+) IN TXT "(.*)"', line).groups()
        self.assertIn("policy=wildcard", value)
        self.set_txt(name, value)
        r = self.issue_persist("-d", "*.wild.leec.test", "-d",
                               "wild.leec.test", "--cert-name", "wild")
        self.assertEqual(r.returncode, 0, describe(r))
        self.check_issued("wild", ["*.wild.leec.test", "wild.leec.test"])
        self.assertEqual([ok for _, ok, _ in self.validated("wild.leec.test")],
                         [True, True])
        self.assertEqual(self.txt(name), [value])
        self.assertEqual(self.txt("_acme-challenge.wild.leec.test."), [])

    def test_missing_record(self):
        url = self.account_url()
        r = self.issue_persist("-d", "none.leec.test")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn('_validation-persist.none.leec.test. IN TXT "%s; '
                      'accounturi=%s"' % (ISSUER, url), r.stderr, describe(r))
        self.assertIn("leec account dns-persist-record none.leec.test",
                      r.stderr)
        self.assertEqual(self.validated("none.leec.test"), [])

    def test_ca_without_dns_persist(self):
        """pebble itself offers no dns-persist-01: said, with what it
        offers."""
        r = self.leec("issue", "-d", "plain.leec.test", "--dns-persist",
                      "--dns-resolver", "127.0.0.1:%d" % self.pebble.dns_port,
                      "--server", self.pebble.directory_url, "--ca-bundle",
                      self.pebble.ca_bundle, "--agree-tos", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertRegex(r.stderr, r"no dns-persist-01 challenge for "
                         r"plain\.leec\.test \(offered: [a-z0-9 -]*dns-01",
                         describe(r))

    def refused(self, base, value, ident, reason, wanted):
        """A record at _validation-persist.BASE that does not fit: leec
        fails saying why, with the record wanted; the CA is not asked and
        the record stays."""
        name = "_validation-persist.%s." % base
        self.set_txt(name, value)
        r = self.issue_persist("-d", ident)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn(reason, r.stderr, describe(r))
        self.assertIn('%s IN TXT "%s"' % (name, wanted), r.stderr)
        self.assertEqual(self.validated(base), [])
        self.assertEqual(self.txt(name), [value])

    def test_other_account_refused(self):
        url = self.account_url()
        self.refused("other.leec.test", "%s; accounturi=%s0" % (ISSUER, url),
                     "other.leec.test", "for another account",
                     "%s; accounturi=%s" % (ISSUER, url))
        # The CA refuses it too, when asked (the proxy's own check).
        ok, why = self.ca._check("other.leec.test", False, url)
        self.assertFalse(ok)
        self.assertIn("another account", why)

    def test_wildcard_needs_policy(self):
        url = self.account_url()
        self.refused("nopolicy.leec.test",
                     "%s; accounturi=%s" % (ISSUER, url),
                     "*.nopolicy.leec.test", "policy=wildcard",
                     "%s; accounturi=%s; policy=wildcard" % (ISSUER, url))

    def test_created_once_never_removed(self):
        """With a DNS provider too (--dns-hook here), a missing record is
        created once, and never removed: the renewal finds it and calls
        the provider no more."""
        url = self.account_url()
        log = os.path.join(self.tmp, "hook.log")
        hook = os.path.join(self.tmp, "dns-hook.py")
        with open(hook, "w") as f:
            f.write(HOOK % {"log": log, "api": self.pebble.challtest_mgmt_url})
        os.chmod(hook, 0o700)
        r = self.issue_persist("-d", "new.leec.test", "--dns-hook", hook,
                               "--dns-propagation-timeout", "0")
        self.assertEqual(r.returncode, 0, describe(r))
        name = "_validation-persist.new.leec.test."
        value = "%s;accounturi=%s" % (ISSUER, url)
        with open(log) as f:
            self.assertEqual(f.read(), "present %s %s\n" % (name, value))
        self.assertEqual(self.txt(name), [value])
        self.assertEqual([ok for _, ok, _ in self.validated("new.leec.test")],
                         [True])
        r = self.leec("renew", "new.leec.test", "--force", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        with open(log) as f:
            self.assertEqual(f.read(), "present %s %s\n" % (name, value))
        self.assertEqual(self.txt(name), [value])
        self.assertEqual(len(self.validated("new.leec.test")), 2)

    def test_parent_record_covers_subdomain(self):
        """A record with policy=wildcard at a parent name covers the names
        under it (leec looks up the parents, as the CA does)."""
        url = self.account_url()
        self.set_txt("_validation-persist.parent.leec.test.",
                     "%s; accounturi=%s; policy=wildcard" % (ISSUER, url))
        r = self.issue_persist("-d", "a.b.parent.leec.test")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual([ok for _, ok, _ in
                          self.validated("a.b.parent.leec.test")], [True])
