"""e2e test of examples/dns_provider.c: dns-01 through a DNS provider of the
program's own, plugged into libleec through leec/dns_provider.h.

The example's provider sets the TXT records through pebble-challtestsrv's
management API (/set-txt, /clear-txt); the library's dns-01 solver does the
rest (CNAME following, zone, removal), against the shared run.ENV, whose
pebble resolves through that challtestsrv.

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_plugin
"""

import os
import re
import shutil
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402
from run import LeecCase, describe  # noqa: E402

VALUE_RE = r"[A-Za-z0-9_-]{43}"     # base64url(SHA-256(key authorization))


def provider_bin():
    """$LEEC_DNS_PROVIDER_BIN, else the build folder the leec under test
    comes from (BUILD/cli/leec -> BUILD/examples/leec-dns-provider)."""
    if os.environ.get("LEEC_DNS_PROVIDER_BIN"):
        return os.environ["LEEC_DNS_PROVIDER_BIN"]
    build = (os.path.dirname(os.path.dirname(run.LEEC)) if run.LEEC
             else os.path.join(run.REPO, "build"))
    return os.path.join(build, "examples", "leec-dns-provider")


def closed_port():
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsProviderTest(LeecCase):
    def setUp(self):
        super().setUp()
        self.bin = provider_bin()
        if not os.access(self.bin, os.X_OK):
            self.skipTest("%s not built (ninja -C build "
                          "examples/leec-dns-provider)" % self.bin)

    def run_provider(self, names, api):
        argv = [self.bin, "--server", run.ENV.directory_url,
                "--ca-bundle", run.ENV.ca_bundle, "--dir", self.dir,
                "--api", api,
                "--resolver", "127.0.0.1:%d" % run.ENV.dns_port,
                "--propagation-timeout", "0", "--agree-tos"]
        for n in names:
            argv += ["-d", n]
        return run.run(argv)

    def challtest_txt(self, name):
        r = run.run(["dig", "-p", str(run.ENV.dns_port), "@127.0.0.1",
                     "+time=2", "+tries=2", "+short", name, "TXT"],
                    timeout=15)
        return [l.strip('"') for l in r.stdout.split()]

    def test_a_wildcard_and_base_name(self):
        """One name, two values at once (the wildcard's and the base
        name's): each added, each removed, the certificate issued."""
        names = ["plug.leec.test", "*.plug.leec.test"]
        fqdn = "_acme-challenge.plug.leec.test."
        r = self.run_provider(names, run.ENV.challtest_mgmt_url)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)^issued plug\.leec\.test$",
                         describe(r))
        self.check_cert("plug.leec.test", names)

        calls = [l.split(" ") for l in r.stdout.splitlines()
                 if l.startswith(("add ", "remove "))]
        for c in calls:
            self.assertEqual(len(c), 3, describe(r))
            self.assertEqual(c[1], fqdn, describe(r))
            self.assertRegex(c[2], "^%s$" % VALUE_RE, describe(r))
        added = [c[2] for c in calls if c[0] == "add"]
        removed = [c[2] for c in calls if c[0] == "remove"]
        self.assertEqual(len(set(added)), 2, describe(r))
        self.assertEqual(sorted(added), sorted(removed),
                         "each record removed once\n" + describe(r))
        for v in added:
            self.assertLess(calls.index(["add", fqdn, v]),
                            calls.index(["remove", fqdn, v]), describe(r))
        if shutil.which("dig"):
            self.assertEqual(self.challtest_txt(fqdn), [],
                             "TXT left\n" + describe(r))

    def test_b_provider_failure_reason(self):
        """A provider that fails at once says why (done, then PENDING): the
        reason reaches the agent's error message."""
        api = "http://127.0.0.1:%d" % closed_port()
        r = self.run_provider(["down.plug.leec.test"], api)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertRegex(
            r.stdout,
            r"failed: dns-01 for down\.plug\.leec\.test: challtestsrv API "
            r"could not add the TXT record at "
            r"_acme-challenge\.down\.plug\.leec\.test\.: %s/clear-txt: "
            % re.escape(api), describe(r))
        self.assertNotIn("remove ", r.stdout, describe(r))
        self.assertFalse(os.path.exists(self.live("down.plug.leec.test")))


if __name__ == "__main__":
    # Standalone: let run.py set up pebble and the scratch directory and
    # select this module's tests.
    sys.argv = [os.path.join(HERE, "run.py"), "test_plugin"] + sys.argv[1:]
    sys.exit(run.main())
