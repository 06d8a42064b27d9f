"""e2e tests of dns-01 in the CLI: RFC 2136 against a real BIND9 (wildcard,
CNAME delegation, a wrong TSIG key, a stale authoritative server), the
--dns-hook and --hook (uacme) scripts, and the OVH API (against
tests/e2e/ovh_stub.py).

The RFC 2136 cases run their own pebble whose -dnsserver is a NamedEnv
(tests/e2e/named_env.py): pebble reads the TXT records from that named, on
loopback.  The hook and OVH cases use the shared run.ENV, whose challtestsrv
serves the records they set through its management API.

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_dns01
"""

import os
import subprocess
import signal
import re
import shutil
import stat
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402
from run import LeecCase, describe  # noqa: E402
from named_env import DnsProxy, NamedEnv, free_port  # noqa: E402
from pebble_env import PebbleEnv  # noqa: E402

try:
    import ovh_stub
except ImportError:         # not written yet
    ovh_stub = None

VALUE_RE = r"[A-Za-z0-9_-]{43}"     # base64url(SHA-256(key authorization))
STALE_NS = [("ns1", "127.0.0.1"), ("ns2", "127.0.0.2")]


def tools_missing(*tools):
    return [t for t in tools if shutil.which(t) is None]


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o700)
    return path


def read_lines(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except FileNotFoundError:
        return []


class Dns01Case(LeecCase):
    """Shared helpers: issuing against a given PebbleEnv, check_cert against
    that pebble's root."""

    def issue_with(self, env, names, *extra, timeout=run.TIMEOUT):
        argv = ["issue"]
        for n in names:
            argv += ["-d", n]
        argv += ["--server", env.directory_url, "--ca-bundle", env.ca_bundle,
                 "--agree-tos", "--dir", self.dir]
        return self.leec(*(argv + list(extra)), timeout=timeout)

    def assert_issued(self, r, cert_name):
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"(?m)\bissued\s+%s\b" % re.escape(cert_name),
                         describe(r))
        # cleanup finished before exit: no record reported left behind
        self.assertNotRegex(r.stderr, r"(?i)\bleft in zone\b|remove it by "
                            r"hand|could not remove|left behind", describe(r))

    def assert_not_issued(self, r, cert_name):
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertNotRegex(r.stdout, r"\bissued\b", describe(r))
        self.assertFalse(os.path.exists(self.live(cert_name)),
                         "a certificate was installed\n" + describe(r))

    def check_cert_root(self, root_pem, name, names):
        """run.LeecCase.check_cert, verifying the chain against root_pem
        (the pebble this test used) instead of the shared pebble's root."""
        saved = run.ROOT_PEM
        run.ROOT_PEM = root_pem
        try:
            return self.check_cert(name, names)
        finally:
            run.ROOT_PEM = saved


# ------------------------------------------------------------ RFC 2136
class Rfc2136Test(Dns01Case):
    """leec --dns rfc2136 against BIND9, which is also pebble's DNS."""

    needs_pebble = False        # brings its own pebble (-dnsserver = named)
    PROPAGATION = "20"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        missing = tools_missing("named", "dig", "nsupdate", "tsig-keygen")
        if missing:
            raise unittest.SkipTest("not installed: %s" % ", ".join(missing))
        cls.named = cls.pebble = None
        base = run.SCRATCH or tempfile.gettempdir()
        # stale.test: served by ns1 (this named, 127.0.0.1) and ns2
        # (127.0.0.2, a copy that never gets the updates): same port.
        cls.port = free_port(("127.0.0.1", "127.0.0.2"))
        cls.named = NamedEnv(zones={"stale.test": []},
                             zone_ns={"stale.test": STALE_NS}, port=cls.port)
        try:
            cls.named.start()
            # CNAME delegation: the record for deleg.example.test lives in
            # delegated.test.  Explicit A records: the CNAME owner makes
            # deleg.example.test an empty non-terminal otherwise (no wildcard
            # match any more).
            cls.named.nsupdate([
                # A CNAME to a name with shell metacharacters (in the zone
                # file's escapes): never followed, never handed on.
                "update add _acme-challenge.evil.example.test. 60 CNAME "
                "x\\$\\(touch\\032/tmp/leec-pwned\\)\\;.delegated.test.",
                "update add evil.example.test. 60 A 127.0.0.1",
                "update add _acme-challenge.deleg.example.test. 60 CNAME "
                "_acme-challenge.deleg.delegated.test.",
                "update add deleg.example.test. 60 A 127.0.0.1",
                "update add *.deleg.example.test. 60 A 127.0.0.1"])
            cls.pebble = PebbleEnv(
                extra_config={"certificateValidityPeriod":
                              run.VALIDITY_DAYS * 86400},
                env={"PEBBLE_AUTHZREUSE": "0"},
                workdir=tempfile.mkdtemp(prefix="pebble-named-", dir=base),
                dns_server=cls.named.server)
            cls.pebble.start()
            cls.root = cls.pebble.write_root()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._stop()
        super().tearDownClass()

    @classmethod
    def _stop(cls):
        if getattr(cls, "pebble", None) is not None:
            cls.pebble.stop()
            cls.pebble = None
        if getattr(cls, "named", None) is not None:
            cls.named.stop()
            cls.named = None

    def rfc2136(self, names, *extra, key=None, timeout=run.TIMEOUT):
        ns = self.named
        return self.issue_with(
            self.pebble, names, "--dns", "rfc2136",
            "--dns-server", ns.server, "--tsig-key", key or ns.key_file,
            "--dns-resolver", ns.server, "--dns-auth-port", str(ns.port),
            *extra, timeout=timeout)

    def update_log(self, start):
        """named's "updating zone" lines since log offset start."""
        with open(self.named.log_file, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        return [l for l in text.splitlines() if "updating zone" in l], text

    def log_offset(self):
        return os.path.getsize(self.named.log_file)

    def test_a_wildcard_and_apex(self):
        names = ["*.example.test", "example.test"]
        rr = "_acme-challenge.example.test"
        off = self.log_offset()
        r = self.rfc2136(names, "--dns-propagation-timeout", self.PROPAGATION)
        updates, log = self.update_log(off)
        info = describe(r) + "--- named updates:\n" + "\n".join(updates)
        self.assert_issued(r, "example.test")
        self.check_cert_root(self.root, "example.test", names)
        adds = re.findall(r"updating zone 'example\.test/IN': adding an RR "
                          r"at '%s' TXT \"(%s)\"" % (re.escape(rr), VALUE_RE),
                          log)
        self.assertEqual(len(set(adds)), 2, "two TXT values (wildcard and "
                         "apex) were to be added at %s\n%s" % (rr, info))
        # each record removed on its own (BIND does not log the value of a
        # deleted RR), never the whole RRset: other values at a name stay
        dels = re.findall(r"updating zone 'example\.test/IN': deleting an RR "
                          r"at '?%s'? TXT" % re.escape(rr), log)
        self.assertEqual(len(dels), len(adds), info)
        self.assertNotIn("deleting rrset", log, info)
        self.assertEqual(self.named.txt(rr), [], "TXT left at " + rr)

    def test_a_renew_recalls_dns_settings(self):
        """leec renew --force, with no DNS option, from another folder: the
        server, TSIG key (given relative, kept absolute), resolver, port and
        propagation timeout come from the certificate's settings."""
        names = ["*.renew.example.test"]
        keydir = os.path.join(self.tmp, "keys")
        os.makedirs(keydir)
        shutil.copy(self.named.key_file, os.path.join(keydir, "tsig.key"))
        os.chmod(os.path.join(keydir, "tsig.key"), 0o600)
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            r = self.rfc2136(names, "--dns-propagation-timeout",
                             self.PROPAGATION, key="keys/tsig.key")
        finally:
            os.chdir(cwd)
        self.assert_issued(r, "renew.example.test")
        off = self.log_offset()
        r = self.leec("renew", "--force", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("renewed renew.example.test", r.stdout, describe(r))
        updates, _ = self.update_log(off)
        self.assertTrue(any("adding an RR at '_acme-challenge.renew.example"
                            ".test' TXT" in u for u in updates),
                        describe(r) + "\n".join(updates))
        self.assertEqual(
            sorted(os.listdir(os.path.join(self.dir, "archive",
                                           "renew.example.test"))), ["1", "2"])
        self.check_cert_root(self.root, "renew.example.test", names)

    def test_b_cname_delegation(self):
        names = ["deleg.example.test", "*.deleg.example.test"]
        owner = "_acme-challenge.deleg.example.test"
        target = "_acme-challenge.deleg.delegated.test"
        off = self.log_offset()
        r = self.rfc2136(names, "--dns-propagation-timeout", self.PROPAGATION)
        updates, log = self.update_log(off)
        info = describe(r) + "--- named updates:\n" + "\n".join(updates)
        self.assert_issued(r, "deleg.example.test")
        self.check_cert_root(self.root, "deleg.example.test", names)
        adds = re.findall(r"updating zone 'delegated\.test/IN': adding an RR "
                          r"at '%s' TXT \"(%s)\""
                          % (re.escape(target), VALUE_RE), log)
        self.assertEqual(len(set(adds)), 2,
                         "the records did not land in delegated.test\n" + info)
        self.assertNotRegex(log, r"updating zone 'example\.test/IN'",
                            "example.test was updated\n" + info)
        dels = re.findall(r"updating zone 'delegated\.test/IN': deleting an "
                          r"RR at '?%s'? TXT" % re.escape(target), log)
        self.assertEqual(len(dels), len(adds), info)
        self.assertEqual(self.named.txt(target), [], "TXT left at " + target)
        self.assertEqual(self.named.txt(owner, norec=False), [],
                         "TXT still visible through the CNAME")
        cname = self.named.dig(owner, "CNAME", "+short").stdout.split()
        self.assertEqual(cname, [target + "."], "the CNAME was touched")

    def test_b_cname_to_no_host_name_fails(self):
        """_acme-challenge.evil.example.test is a CNAME to a name with
        shell metacharacters: the certificate fails, the dns hook is never
        called (with it or its escaped form), nothing is written."""
        log = os.path.join(self.tmp, "hook.log")
        hook = write_script(os.path.join(self.tmp, "dns-hook.sh"),
                            "#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\n"
                            "exit 0\n" % log)
        off = self.log_offset()
        r = self.issue_with(self.pebble, ["evil.example.test"], "--dns-hook",
                            hook, "--dns-resolver", self.named.server,
                            "--dns-auth-port", str(self.named.port))
        self.assert_not_issued(r, "evil.example.test")
        self.assertIn("is a CNAME to a name that is not a host name: not "
                      "followed", r.stderr, describe(r))
        self.assertNotIn("\\", r.stderr, describe(r))
        self.assertFalse(os.path.exists(log), "the hook was called")
        self.assertEqual(self.update_log(off)[0], [], "a zone was updated")
        self.assertFalse(os.path.exists("/tmp/leec-pwned"))

    def test_c_wrong_tsig_key(self):
        names = ["badkey.example.test"]
        rr = "_acme-challenge.badkey.example.test"
        bad = os.path.join(self.tmp, "wrong.key")
        other = NamedEnv.key_secret_new()
        self.assertNotEqual(other, self.named.key_secret)
        NamedEnv.write_key_file(bad, other)
        off = self.log_offset()
        r = self.rfc2136(names, "--dns-propagation-timeout", self.PROPAGATION,
                         key=bad)
        updates, log = self.update_log(off)
        self.assert_not_issued(r, "badkey.example.test")
        self.assertIn("tsig verify failure", log,
                      "named saw no badly signed update\n" + describe(r))
        self.assertRegex(r.stderr, r"(?i)\b(tsig|badsig|badkey)\b",
                         "stderr does not mention TSIG\n" + describe(r))
        self.assertRegex(r.stderr, r"(?i)reject|refus|notauth|denied",
                         "stderr does not say the server refused the "
                         "update\n" + describe(r))
        self.assertEqual(updates, [], "an update went through")
        self.assertEqual(self.named.txt(rr), [])

    def test_d_propagation_timeout(self):
        names = ["d.stale.test"]
        rr = "_acme-challenge.d.stale.test"
        # ns2.stale.test (127.0.0.2, same port) is a named with the zone as
        # it was: it never serves the record.  named binds interface
        # addresses only, hence the relay on 127.0.0.2.
        with NamedEnv(default_zones=False, zones={"stale.test": []},
                      zone_ns={"stale.test": STALE_NS}, updates=False) as ns2:
            try:
                proxy = DnsProxy(("127.0.0.2", self.port),
                                 ("127.0.0.1", ns2.port))
            except OSError as e:
                self.skipTest("cannot listen on 127.0.0.2:%d: %s"
                              % (self.port, e))
            with proxy:
                t0 = time.monotonic()
                r = self.rfc2136(names, "--dns-propagation-timeout", "3")
                elapsed = time.monotonic() - t0
            self.assertEqual(ns2.txt(rr), [])
        self.assert_not_issued(r, "d.stale.test")
        self.assertGreater(proxy.queries, 0,
                           "127.0.0.2 was never asked\n" + describe(r))
        self.assertIn("127.0.0.2", r.stderr,
                      "stderr does not name the server that lacked the "
                      "record\n" + describe(r))
        self.assertGreaterEqual(elapsed, 3, describe(r))
        self.assertLess(elapsed, 3 + 20, describe(r))
        self.assertEqual(self.named.txt(rr), [], "record not cleaned up")


    def _interrupted(self, label, sig):
        """Runs leec -v for LABEL.stale.test, sends sig once the record is
        in named (leec then waits for ns2, which never serves it): (exit
        status, stderr, whether the record is still there)."""
        rr = "_acme-challenge.%s.stale.test" % label
        with NamedEnv(default_zones=False, zones={"stale.test": []},
                      zone_ns={"stale.test": STALE_NS}, updates=False) as ns2:
            try:
                proxy = DnsProxy(("127.0.0.2", self.port),
                                 ("127.0.0.1", ns2.port))
            except OSError as e:
                self.skipTest("cannot listen on 127.0.0.2:%d: %s"
                              % (self.port, e))
            ns = self.named
            argv = [run.LEEC, "issue", "-v", "-d", "%s.stale.test" % label,
                    "--server", self.pebble.directory_url,
                    "--ca-bundle", self.pebble.ca_bundle, "--agree-tos",
                    "--dir", self.dir, "--dns", "rfc2136",
                    "--dns-server", ns.server, "--tsig-key", ns.key_file,
                    "--dns-resolver", ns.server,
                    "--dns-auth-port", str(ns.port),
                    "--dns-propagation-timeout", "60"]
            with proxy:
                p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL)
                try:
                    deadline = time.monotonic() + 20
                    while not ns.txt(rr) and time.monotonic() < deadline:
                        time.sleep(0.1)
                    self.assertTrue(ns.txt(rr), "the record never appeared")
                    p.send_signal(sig)
                    out, err = p.communicate(timeout=30)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
        return p.returncode, err, ns.txt(rr)

    def test_e_sigterm_removes_records(self):
        """SIGTERM while waiting for propagation: the record goes anyway."""
        rc, err, left = self._interrupted("sig", signal.SIGTERM)
        self.assertEqual(rc, 128 + signal.SIGTERM, err)
        self.assertEqual(left, [], "record left after SIGTERM\n" + err)
        self.assertFalse(os.path.exists(self.live("sig.stale.test")))

    def test_e_sigint_says_records_removed(self):
        """SIGINT while waiting for propagation: stderr says the DNS records
        are being removed, and that they were only once they were."""
        rc, err, left = self._interrupted("int", signal.SIGINT)
        self.assertEqual(rc, 128 + signal.SIGINT, err)
        self.assertEqual(left, [], "record left after SIGINT\n" + err)
        self.assertNotIn("challenge files", err)
        lines = err.splitlines()

        def at(pattern):
            for i, l in enumerate(lines):
                if re.search(pattern, l):
                    return i
            self.fail("no line matches %r\n%s" % (pattern, err))
        removing = at(r"^leec: interrupted; removing the DNS records")
        removed = at(r"rfc2136: removed TXT _acme-challenge\.int\.stale\.test")
        done = at(r"^leec: interrupted; the DNS records were removed$")
        self.assertLess(removing, removed, err)
        self.assertLess(removed, done, err)
        self.assertEqual(done, len(lines) - 1, err)
        # The order stays in the journal for the next run.
        self.assertTrue(os.path.exists(os.path.join(
            self.dir, "journal", "int.stale.test.json")), err)

# ------------------------------------------------------------- hooks
DNS_HOOK = r"""#!/bin/sh
# leec --dns-hook: present|cleanup FQDN VALUE.  Keeps the values per name
# (a wildcard and its apex share one) and mirrors them into challtestsrv.
LOG=%(log)s
STATE=%(state)s
API=%(api)s
printf '%%s\n' "$*" >> "$LOG"
[ $# -eq 3 ] || exit 3
post() { curl -sS -f --noproxy '*' --max-time 5 -X POST -d "$2" "$API$1" \
         >/dev/null; }
exec 9>"$STATE/lock"
flock -w 10 9 || exit 4
f="$STATE/$2"
case "$1" in
present) printf '%%s\n' "$3" >> "$f" ;;
cleanup) [ -f "$f" ] && grep -vxF -- "$3" "$f" > "$f.new"; mv -f "$f.new" "$f" ;;
*) exit 2 ;;
esac
post /clear-txt "{\"host\":\"$2\"}" || exit 5
while read -r v; do
    post /set-txt "{\"host\":\"$2\",\"value\":\"$v\"}" || exit 6
done < "$f"
exit 0
"""

UACME_HOOK = r"""#!/bin/sh
# leec --hook (uacme's interface): begin|done|failed TYPE IDENT TOKEN AUTH.
# Declines everything but http-01 (non-zero on begin); serves http-01 from
# the webroot.
LOG=%(log)s
WEBROOT=%(webroot)s
printf '%%s\n' "$*" >> "$LOG"
[ "$2" = http-01 ] || exit 1
case "$4" in *[!A-Za-z0-9_-]*|'') exit 2 ;; esac
d="$WEBROOT/.well-known/acme-challenge"
case "$1" in
begin) mkdir -p "$d" && printf '%%s' "$5" > "$d/$4" ;;
done|failed) rm -f "$d/$4" ;;
*) exit 2 ;;
esac
"""


class HookTest(Dns01Case):
    """--dns-hook and --hook against the shared pebble + challtestsrv."""

    def setUp(self):
        super().setUp()
        missing = tools_missing("curl", "flock", "dig")
        if missing:
            self.skipTest("not installed: %s" % ", ".join(missing))

    def challtest_txt(self, name):
        r = run.run(["dig", "-p", str(run.ENV.dns_port), "@127.0.0.1",
                     "+time=2", "+tries=2", "+short", name, "TXT"],
                    timeout=15)
        return [l.strip('"') for l in r.stdout.split()]

    def test_e_dns_hook(self):
        names = ["hook.leec.test", "*.hook.leec.test"]
        fqdn = "_acme-challenge.hook.leec.test."
        log = os.path.join(self.tmp, "hook.log")
        state = os.path.join(self.tmp, "state-hook")
        os.makedirs(state)
        hook = write_script(os.path.join(self.tmp, "dns-hook.sh"), DNS_HOOK % {
            "log": log, "state": state, "api": run.ENV.challtest_mgmt_url})
        r = self.issue_with(run.ENV, names, "--dns-hook", hook,
                            "--dns-resolver", "127.0.0.1:%d" % run.ENV.dns_port,
                            "--dns-propagation-timeout", "0")
        lines = read_lines(log)
        info = describe(r) + "--- hook log:\n" + "\n".join(lines)
        self.assert_issued(r, "hook.leec.test")
        self.check_cert("hook.leec.test", names)

        calls = [l.split(" ") for l in lines]
        for c in calls:
            self.assertEqual(len(c), 3, info)
            self.assertIn(c[0], ("present", "cleanup"), info)
            self.assertEqual(c[1], fqdn, "FQDN (with its trailing dot)\n" + info)
            self.assertRegex(c[2], "^%s$" % VALUE_RE, info)
        present = [c[2] for c in calls if c[0] == "present"]
        self.assertEqual(len(set(present)), 2, "two values (apex, wildcard)\n"
                         + info)
        for v in set(present):
            i = calls.index(["present", fqdn, v])
            self.assertIn(["cleanup", fqdn, v], calls[i + 1:],
                          "no cleanup after present %s\n%s" % (v, info))
        self.assertEqual(self.challtest_txt(fqdn), [], "TXT left\n" + info)

    def test_f_uacme_hook(self):
        name = "uacme.leec.test"
        log = os.path.join(self.tmp, "hook.log")
        webroot = os.path.join(self.tmp, "www")
        os.makedirs(webroot)
        hook = write_script(os.path.join(self.tmp, "uacme-hook.sh"),
                            UACME_HOOK % {"log": log, "webroot": webroot})
        with run.Webroot(webroot, run.ENV.http_port) as srv:
            r = self.issue_with(run.ENV, [name], "--hook", hook)
        lines = read_lines(log)
        info = describe(r) + "--- hook log:\n" + "\n".join(lines)
        self.assert_issued(r, name)
        self.check_cert(name, [name])

        calls = [l.split(" ") for l in lines]
        for c in calls:
            self.assertEqual(len(c), 5, info)
            self.assertIn(c[0], ("begin", "done", "failed"), info)
            self.assertEqual(c[2], name, info)
        begins = [c for c in calls if c[0] == "begin" and c[1] == "http-01"]
        self.assertEqual(len(begins), 1, info)
        b = begins[0]
        token, auth = b[3], b[4]
        self.assertRegex(token, r"^[A-Za-z0-9_-]+$", info)
        self.assertRegex(auth, r"^%s\.%s$" % (re.escape(token), VALUE_RE), info)
        i = calls.index(b)
        self.assertIn(["done", "http-01", name, token, auth], calls[i + 1:], info)
        self.assertNotIn("failed", [c[0] for c in calls], info)
        # declined types: begin (answered 1) and nothing more for them
        for c in calls:
            if c[1] != "http-01":
                self.assertEqual(c[0], "begin", "a declined type got %s\n%s"
                                 % (c[0], info))
        self.assertIn("/.well-known/acme-challenge/" + token, srv.requests,
                      info)
        chal = os.path.join(webroot, ".well-known", "acme-challenge")
        self.assertEqual(os.listdir(chal), [], "challenge file left\n" + info)


# --------------------------------------------------------------- OVH
class OvhTest(Dns01Case):
    """--dns ovh against ovh_stub.OvhStub, which pushes the records into the
    shared challtestsrv (pebble's DNS) on POST .../refresh."""

    ZONE = "leec.test"

    def setUp(self):
        super().setUp()
        if ovh_stub is None:
            self.skipTest("tests/e2e/ovh_stub.py not there yet")
        if tools_missing("dig"):
            self.skipTest("dig not installed")
        self.ovh = ovh_stub.OvhStub(
            os.path.join(self.tmp, "ovh"),
            push=ovh_stub.challtestsrv_push(run.ENV.challtest_mgmt_url))
        self.ovh.start()
        self.addCleanup(self.ovh.stop)

    def ovh_issue(self, names, creds, *extra):
        return self.issue_with(
            run.ENV, names, "--dns", "ovh", "--dns-credentials", creds,
            "--dns-zone", self.ZONE,
            "--dns-resolver", "127.0.0.1:%d" % run.ENV.dns_port,
            "--dns-propagation-timeout", "0", *extra)

    def test_g_ovh_wildcard(self):
        names = ["*.ovh.leec.test"]
        fqdn = "_acme-challenge.ovh.leec.test."
        creds = self.ovh.write_credentials(os.path.join(self.tmp, "ovh.conf"))
        self.assertEqual(run.mode(creds), 0o600)
        r = self.ovh_issue(names, creds, "--cert-name", "ovh.leec.test")
        info = describe(r) + "--- stub requests:\n" + "\n".join(
            "%s %s %s" % q for q in self.ovh.requests)
        self.assert_issued(r, "ovh.leec.test")
        self.check_cert("ovh.leec.test", names)
        self.assertEqual(self.ovh.bad_signatures, 0, info)
        self.assertEqual(self.ovh.push_errors, [], info)
        pushed = [v for f, vals in self.ovh.pushed if f == fqdn for v in vals]
        self.assertEqual(len(pushed), 1, "value pushed to the DNS\n" + info)
        self.assertRegex(pushed[0], "^%s$" % VALUE_RE, info)
        self.assertEqual(self.ovh.records, {}, "records left at OVH\n" + info)
        r2 = run.run(["dig", "-p", str(run.ENV.dns_port), "@127.0.0.1",
                      "+time=2", "+tries=2", "+short", fqdn, "TXT"], timeout=15)
        self.assertEqual(r2.stdout.strip(), "", "TXT left in the DNS\n" + info)

    def test_g_ovh_certbot_file(self):
        """The certbot OVH plugin's credentials file as the LEEC manual
        writes it (dns_ovh_ keys, mode 0400) and certbot's flag."""
        path = os.path.join(self.tmp, "certbot-ovh.ini")
        with open(path, "w") as f:
            f.write("dns_ovh_endpoint = %s\n" % self.ovh.url)
            f.write("dns_ovh_application_key = %s\n" % self.ovh.app_key)
            f.write("dns_ovh_application_secret = %s\n"
                    % self.ovh.app_secret)
            f.write("dns_ovh_consumer_key = %s\n" % self.ovh.consumer_key)
            f.write("ca_bundle = %s\n" % self.ovh.ca_file)
        os.chmod(path, 0o400)
        r = self.issue_with(
            run.ENV, ["*.certbot.leec.test"], "--dns-ovh-credentials", path,
            "--dns-zone", self.ZONE,
            "--dns-resolver", "127.0.0.1:%d" % run.ENV.dns_port,
            "--dns-propagation-timeout", "0",
            "--cert-name", "certbot.leec.test")
        self.assert_issued(r, "certbot.leec.test")
        self.check_cert("certbot.leec.test", ["*.certbot.leec.test"])
        self.assertEqual(self.ovh.bad_signatures, 0)
        self.assertEqual(self.ovh.records, {})

    def test_g_ovh_credentials_mode(self):
        creds = self.ovh.write_credentials(os.path.join(self.tmp, "ovh.conf"),
                                           mode=0o644)
        self.assertEqual(stat.S_IMODE(os.stat(creds).st_mode), 0o644)
        r = self.ovh_issue(["*.mode.leec.test"], creds,
                           "--cert-name", "mode.leec.test")
        self.assert_not_issued(r, "mode.leec.test")
        self.assertRegex(r.stderr, r"(?i)credentials", describe(r))
        self.assertRegex(r.stderr, r"(?i)mode|permission|readable|chmod|0?644",
                         describe(r))
        self.assertEqual(self.ovh.requests, [],
                         "the stub was called with insecure credentials")
