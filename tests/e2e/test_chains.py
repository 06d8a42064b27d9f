"""e2e tests of chain selection and certificate options:

* --preferred-chain against a second pebble offering alternate chains
  (PEBBLE_ALTERNATE_ROOTS=2, Link rel="alternate"): the default chain, and
  the alternate whose top certificate is issued by root 1;
* an IP-address certificate for 127.0.0.1 (RFC 8738) from the shared pebble;
* `leec ca-cert`: the top of the stored chain (pebble's chain stops at the
  intermediate, without AIA);
* certificate profiles (draft-ietf-acme-profiles) through the stub CA:
  a listed profile is sent in newOrder, an unknown one is refused with the
  list before anything reaches newOrder.

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_chains
"""

import os
import re
import subprocess

import run
from run import LeecCase, describe
from pebble_env import PebbleEnv
from stub_ca import StubCA

ALT = None      # the pebble with alternate chains (this module's own)


def subject_cn(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-subject",
                          "-nameopt", "multiline"], input=pem, text=True,
                         capture_output=True, check=True).stdout
    m = re.search(r"commonName\s*=\s*(.+)", out)
    return m.group(1).strip()


def issuer_cn_of_file(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-issuer",
                          "-nameopt", "multiline", "-in", path], text=True,
                         capture_output=True, check=True).stdout
    m = re.search(r"commonName\s*=\s*(.+)", out)
    return m.group(1).strip()


class AltChainTest(LeecCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        global ALT
        ALT = PebbleEnv(env={"PEBBLE_ALTERNATE_ROOTS": "2"},
                        workdir=os.path.join(run.SCRATCH, "pebble-alt"))
        ALT.start()

    @classmethod
    def tearDownClass(cls):
        global ALT
        if ALT is not None:
            ALT.stop()
            ALT = None
        super().tearDownClass()

    def issue_alt(self, name, *extra):
        return self.leec("issue", "-d", name, "--server", ALT.directory_url,
                         "--ca-bundle", ALT.ca_bundle, "--agree-tos",
                         "--dir", self.dir, "--http-port",
                         "127.0.0.1:%d" % ALT.http_port, *extra)

    def top_issuer(self, name):
        return issuer_cn_of_file(os.path.join(self.live(name), "chain.pem"))

    def test_a_default_chain(self):
        name = "default-chain.leec.test"
        r = self.issue_alt(name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.top_issuer(name), subject_cn(ALT.root_pem(0)))

    def test_b_preferred_alternate(self):
        roots = [subject_cn(ALT.root_pem(n)) for n in range(3)]
        self.assertEqual(len(set(roots)), 3, roots)
        name = "preferred-chain.leec.test"
        r = self.issue_alt(name, "--preferred-chain", roots[1], "-v")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.top_issuer(name), roots[1], describe(r))
        self.assertIn("alternate chain", r.stderr, describe(r))
        # The leaf verifies up to root 1 through the chain kept.
        live = self.live(name)
        rootf = os.path.join(self.tmp, "root1.pem")
        with open(rootf, "w") as f:
            f.write(ALT.root_pem(1))
        run.openssl("verify", "-CAfile", rootf, "-untrusted",
                    os.path.join(live, "chain.pem"),
                    os.path.join(live, "cert.pem"))

    def test_c_preferred_unknown_keeps_default(self):
        name = "preferred-none.leec.test"
        r = self.issue_alt(name, "--preferred-chain", "No Such Root", "-v")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.top_issuer(name), subject_cn(ALT.root_pem(0)))
        self.assertIn("keeping the default chain", r.stderr, describe(r))


class IpAndCaCertTest(LeecCase):

    def test_a_ip_certificate(self):
        r = self.issue_ok(["127.0.0.1"])
        sans = run.cert_sans(os.path.join(self.live("127.0.0.1"), "cert.pem"))
        self.assertEqual(sans, {"IP Address:127.0.0.1"}, describe(r))

    def test_b_ca_cert(self):
        name = "ca-cert.leec.test"
        self.issue_ok([name])
        out = os.path.join(self.tmp, "ca.pem")
        # pebble's chain stops short of its root and names no issuer URL:
        # no root reached, nothing written, unless --allow-intermediate.
        r = self.leec("ca-cert", name, "--dir", self.dir, "--out", out)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("stops short", r.stderr, describe(r))
        self.assertIn("--allow-intermediate", r.stderr, describe(r))
        self.assertFalse(os.path.exists(out), describe(r))
        r = self.leec("ca-cert", name, "--dir", self.dir, "--out", out,
                      "--allow-intermediate")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("stops short", r.stderr, describe(r))
        with open(out) as f:
            top = f.read()
        with open(os.path.join(self.live(name), "chain.pem")) as f:
            chain = run.pem_blocks(f.read())
        self.assertEqual(run.pem_blocks(top), [chain[-1]])
        # pebble's intermediate, issued by the root the management API gives
        self.assertEqual(issuer_cn_of_file(out),
                         subject_cn(run.ENV.root_pem(0)))
        # stdout form, and the only certificate of the store by default
        r = self.leec("ca-cert", "--dir", self.dir, "--allow-intermediate")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(run.pem_blocks(r.stdout), [chain[-1]])
        r = self.leec("ca-cert", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertEqual(r.stdout, "", describe(r))
        r = self.leec("ca-cert", "nope", "--dir", self.dir)
        self.assertEqual(r.returncode, 1, describe(r))


class ProfileTest(LeecCase):
    needs_pebble = False

    PROFILES = {"classic": "the usual", "tlsserver": "TLS server only",
                "shortlived": "6 days"}

    def issue_stub(self, ca, profile):
        return self.leec("issue", "-d", "profile.leec.test", "--server",
                         ca.directory_url, "--ca-bundle", ca.ca_bundle,
                         "--agree-tos", "--dir", self.dir,
                         "--webroot", self.tmp, "--profile", profile)

    def new_orders(self, ca):
        return [p for path, p in ca.payloads if path == "/new-order"]

    def test_a_profile_sent(self):
        with StubCA(os.path.join(self.tmp, "stub"), limited=0,
                    profiles=self.PROFILES) as ca:
            r = self.issue_stub(ca, "tlsserver")
            self.assertEqual(r.returncode, 1, describe(r))  # the stub's 403
            orders = self.new_orders(ca)
        self.assertEqual(len(orders), 1, describe(r))
        self.assertEqual(orders[0].get("profile"), "tlsserver", orders)
        self.assertEqual(orders[0]["identifiers"],
                         [{"type": "dns", "value": "profile.leec.test"}])

    def test_b_profile_unknown(self):
        with StubCA(os.path.join(self.tmp, "stub"), limited=0,
                    profiles=self.PROFILES) as ca:
            r = self.issue_stub(ca, "nosuch")
            self.assertEqual(r.returncode, 1, describe(r))
            self.assertIn("the CA offers profiles: classic, tlsserver, "
                          "shortlived", r.stderr, describe(r))
            self.assertEqual(ca.count("/new-order"), 0, describe(r))

    def test_c_profile_none_offered(self):
        with StubCA(os.path.join(self.tmp, "stub"), limited=0) as ca:
            r = self.issue_stub(ca, "classic")
            self.assertEqual(r.returncode, 1, describe(r))
            self.assertIn("the CA offers no profiles", r.stderr, describe(r))
            self.assertEqual(ca.count("/new-order"), 0, describe(r))
