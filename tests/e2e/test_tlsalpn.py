"""e2e tests of the tls-alpn-01 responder (RFC 8737): `leec issue --tls-port`
against the shared pebble, whose validator dials run.ENV.tls_port.

Only --tls-port is given, so tls-alpn-01 is the one challenge type leec can
answer; test_wrong_port shows that it is the type leec picked (pebble's
problem names it when the responder is somewhere else).

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_tlsalpn
or  python3 tests/e2e/test_tlsalpn.py --leec build/cli/leec
"""

import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402
from run import LeecCase, describe  # noqa: E402
from pebble_env import free_ports  # noqa: E402


class TlsAlpnTest(LeecCase):

    def tls_issue(self, names, port=None, *extra):
        port = run.ENV.tls_port if port is None else port
        return self.issue(names, "--tls-port", "127.0.0.1:%d" % port,
                          *extra, http=False)

    def test_a_single_name(self):
        name = "alpn.leec.test"
        r = self.tls_issue([name])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)\bissued\s+%s\b" % re.escape(name),
                         describe(r))
        self.check_cert(name, [name])
        self.check_account()

    def test_b_several_names(self):
        """One responder answers every authorization of the order (pebble
        validates each one three times, concurrently)."""
        names = ["alpn-san.leec.test", "www.alpn-san.leec.test",
                 "api.alpn-san.leec.test"]
        r = self.tls_issue(names, None, "--key-type", "rsa2048")
        self.assertEqual(r.returncode, 0, describe(r))
        self.check_cert(names[0], names, key_type="rsa2048")

    def test_c_renewal_forced(self):
        """A second order for the same name: the challenge of the first one
        is gone, the new one is answered."""
        name = "alpn-again.leec.test"
        r = self.tls_issue([name])
        self.assertEqual(r.returncode, 0, describe(r))
        r = self.tls_issue([name], None, "--force")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(os.readlink(self.live(name)).rstrip("/"),
                         "../archive/%s/2" % name)
        self.check_cert(name, [name])

    def test_d_wrong_port(self):
        """The responder listens where pebble does not dial: the
        authorization fails, and pebble's problem says it was tls-alpn-01."""
        name = "alpn-wrong.leec.test"
        port = free_ports(1)[0]
        self.assertNotEqual(port, run.ENV.tls_port)
        r = self.tls_issue([name], port)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertNotRegex(r.stdout, r"\bissued\b", describe(r))
        self.assertRegex(r.stderr, r"(?i)\btls-alpn-01 challenge\b",
                         "stderr lacks the CA's problem detail: "
                         + describe(r))
        live = os.path.join(self.dir, "live")
        self.assertEqual(os.listdir(live) if os.path.isdir(live) else [], [],
                         "something in live/")

    def test_e_port_taken(self):
        """A port that cannot be listened on is an error before any order."""
        orders = run.orders_created()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            r = self.tls_issue(["alpn-busy.leec.test"], port)
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stderr, r"(?i)tls-alpn-01.*listen", describe(r))
        self.assertEqual(run.orders_created(), orders,
                         "an order was created anyway")

    def test_f_bad_address(self):
        orders = run.orders_created()
        for bad in ("localhost:%d" % run.ENV.tls_port, "99999", "[::1]"):
            with self.subTest(addr=bad):
                r = self.issue(["alpn-bad2.leec.test"], "--tls-port", bad,
                               http=False)
                self.assertNotEqual(r.returncode, 0, describe(r))
                self.assertNotRegex(r.stdout, r"\bissued\b", describe(r))
        self.assertEqual(run.orders_created(), orders,
                         "an order was created anyway")


if __name__ == "__main__":
    # Standalone: let run.py set up pebble and the scratch directory and
    # select this module's tests.
    sys.argv = [os.path.join(HERE, "run.py"), "test_tlsalpn"] + sys.argv[1:]
    sys.exit(run.main())
