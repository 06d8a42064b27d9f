"""e2e test of examples/https_server.c: an HTTPS server embedding libleec.

One process, one event loop: it answers http-01 itself (through
leec_ctx_http01_key_authorization), gets its certificate from pebble, serves
https with it, renews it every 3 s (--renew-every, forced) and switches to the
new certificate without restarting.

Loaded by run.py (every tests/e2e/test_*.py module is); run alone with
    python3 tests/e2e/run.py test_embed
or  python3 tests/e2e/test_embed.py        (the same thing)
"""

import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402
from run import LeecCase  # noqa: E402


def server_bin():
    """$LEEC_HTTPS_SERVER_BIN, else the build folder the leec under test
    comes from (BUILD/cli/leec -> BUILD/examples/leec-https-server)."""
    if os.environ.get("LEEC_HTTPS_SERVER_BIN"):
        return os.environ["LEEC_HTTPS_SERVER_BIN"]
    build = (os.path.dirname(os.path.dirname(run.LEEC)) if run.LEEC
             else os.path.join(run.REPO, "build"))
    return os.path.join(build, "examples", "leec-https-server")

SERVING = re.compile(r"^serving https on (\d+) with certificate serial ([0-9a-f]+)$")
NAME = "embed.leec.test"
BODY = "hello from leec-https-server (serial %s)\n"


class Server:
    """The example server as a child process; its stdout lines arrive in a
    queue (so that waits have deadlines), its stderr goes to a file."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        self.lines = queue.Queue()
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=run.child_env())
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)            # end of output

    def wait_line(self, regex, timeout):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line matching %r within %ss; got %r\n%s"
                                     % (regex.pattern, timeout, seen, self.tail()))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("server exited (%s) before %r; got %r\n%s"
                                     % (self.proc.poll(), regex.pattern, seen,
                                        self.tail()))
            seen.append(line)
            m = regex.match(line)
            if m:
                return m

    def tail(self):
        self.log.flush()
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- server stderr (tail):\n" + "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def stop(self):
        """Kill by PID if still running (the test's finally)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=5)
        self.proc.stdout.close()
        self.log.close()


def served_serial(root, port, name=NAME):
    """Serial of the certificate the server presents for a new connection,
    verified against pebble's root only (so the server must send the
    intermediate too: fullchain.pem)."""
    ctx = ssl.create_default_context(cafile=root)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            return int(s.getpeercert()["serialNumber"], 16)


def curl_https(root, port, name=NAME):
    return run.run(["curl", "-sS", "--max-time", "10", "--cacert", root,
                    "--resolve", "%s:%d:127.0.0.1" % (name, port),
                    "https://%s:%d/" % (name, port)])


def http_get(port, path, host):
    """GET on the plain-http port without following redirects; returns
    (status, headers, body)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         NoRedirect)
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers={"Host": host})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class EmbedTest(LeecCase):

    def setUp(self):
        super().setUp()
        self.server_bin = server_bin()
        if not os.access(self.server_bin, os.X_OK):
            self.skipTest("%s not built (ninja -C build "
                          "examples/leec-https-server)" % self.server_bin)
        if shutil.which("curl") is None:
            self.skipTest("curl not installed")

    def start(self, *extra):
        env = run.ENV
        argv = [self.server_bin, "--server", env.directory_url,
                "--ca-bundle", env.ca_bundle, "--dir", self.dir,
                "--http-port", "127.0.0.1:%d" % env.http_port,
                # port 0: the kernel picks a free one and the server prints
                # it, so no race with other programs for a "free" port
                "--https-port", "127.0.0.1:0",
                "-d", NAME, "--agree-tos"] + list(extra)
        return Server(argv, os.path.join(self.tmp, "server.log"))

    def test_issue_serve_renew_switch(self):
        root = run.ROOT_PEM
        http_port = run.ENV.http_port
        srv = self.start("--renew-every", "3")
        try:
            # 1. the first certificate, obtained through our own http-01
            m = srv.wait_line(SERVING, 60)
            port, serial1 = int(m.group(1)), m.group(2)
            r = curl_https(root, port)
            self.assertEqual(r.returncode, 0, run.describe(r) + srv.tail())
            self.assertEqual(r.stdout, BODY % serial1)
            self.assertEqual(served_serial(root, port), int(serial1, 16))
            self.check_cert(NAME, [NAME])

            # the plain-http side: unknown tokens 404, the rest goes to https
            status, _, _ = http_get(http_port, "/.well-known/acme-challenge/"
                                    "bm90LWEtdG9rZW4", NAME)
            self.assertEqual(status, 404)
            status, headers, _ = http_get(http_port, "/some/page",
                                          "%s:%d" % (NAME, http_port))
            self.assertEqual(status, 301)
            self.assertEqual(headers["Location"],
                             "https://%s:%d/some/page" % (NAME, port))

            # A connection whose handshake happened before the switch: it
            # must keep working (the old certificate stays alive for it).
            ctx = ssl.create_default_context(cafile=root)
            held = ctx.wrap_socket(socket.create_connection(
                ("127.0.0.1", port), timeout=20), server_hostname=NAME)

            # 2. a forced renewal 3 s later: a new certificate, same socket
            m = srv.wait_line(SERVING, 60)
            self.assertEqual(int(m.group(1)), port, "listening port changed")
            serial2 = m.group(2)
            self.assertNotEqual(serial2, serial1)
            self.assertEqual(served_serial(root, port), int(serial2, 16))
            r = curl_https(root, port)
            self.assertEqual(r.returncode, 0, run.describe(r) + srv.tail())
            self.assertEqual(r.stdout, BODY % serial2)

            with held:
                held.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n"
                              "Connection: close\r\n\r\n" % NAME).encode())
                reply = b""
                while True:
                    chunk = held.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
            self.assertTrue(reply.endswith((BODY % serial1).encode()), reply)

            # the store has both versions, live/ points at the second
            self.assertEqual(run.cert_serial(os.path.join(
                self.live(NAME), "cert.pem")), int(serial2, 16))
            self.check_cert(NAME, [NAME])

            # 3. SIGTERM: a clean exit, status 0, within a few seconds
            srv.proc.send_signal(signal.SIGTERM)
            try:
                rc = srv.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.fail("no exit within 5 s of SIGTERM\n" + srv.tail())
            self.assertEqual(rc, 0, srv.tail())
        finally:
            srv.stop()

    def test_restart_serves_stored_certificate(self):
        """A restart serves the certificate already in the store (FRESH,
        no new order) rather than asking the CA again, and still renews
        later.  (The FRESH agent finishes inside leec_agent_start(), before
        the loop runs: the server must still schedule its next check.)"""
        srv = self.start()
        try:
            serial1 = srv.wait_line(SERVING, 60).group(2)
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(timeout=5), 0, srv.tail())
        finally:
            srv.stop()
        orders = run.ENV.count_endpoint("newOrder")
        srv = self.start("--renew-every", "2")
        try:
            m = srv.wait_line(SERVING, 30)
            port = int(m.group(1))
            self.assertEqual(m.group(2), serial1)
            self.assertEqual(served_serial(run.ROOT_PEM, port),
                             int(serial1, 16))
            self.assertEqual(run.ENV.count_endpoint("newOrder"), orders,
                             "a fresh stored certificate was ordered again")
            m = srv.wait_line(SERVING, 60)
            self.assertNotEqual(m.group(2), serial1, "no renewal after FRESH")
            self.assertEqual(served_serial(run.ROOT_PEM, port),
                             int(m.group(2), 16))
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(timeout=5), 0, srv.tail())
        finally:
            srv.stop()


if __name__ == "__main__":
    # Standalone: let run.py set up pebble and the scratch directory and
    # select this module's tests.
    sys.argv = [os.path.join(HERE, "run.py"), "test_embed"] + sys.argv[1:]
    sys.exit(run.main())
