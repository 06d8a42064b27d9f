"""A throwaway ACME test CA for leec's end-to-end tests and demo.

PebbleEnv starts pebble-challtestsrv (mock DNS) and pebble (the ACME server)
on free loopback ports, with a fresh TLS certificate for pebble's own HTTPS
listener, and stops both by PID when done.  Python 3 standard library only.

    with PebbleEnv() as env:
        env.directory_url   # https://127.0.0.1:PORT/dir
        env.ca_bundle       # pebble's TLS certificate, for leec --ca-bundle
        env.http_port       # where pebble's validator connects for http-01
        env.root_pem()      # PEM of the root that signs issued certificates

Nothing listens on loopback outside 127.0.0.1, and pebble resolves every name
through challtestsrv (-dnsserver), never the machine's resolver.  challtestsrv
answers A queries for any name with 127.0.0.1 unless told otherwise
(challtest("/add-a", ...)) and AAAA queries with nothing.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

__all__ = ["PebbleEnv", "PebbleError", "free_ports"]

PEBBLE = os.environ.get("PEBBLE_BIN", "pebble")
CHALLTESTSRV = os.environ.get("CHALLTESTSRV_BIN", "pebble-challtestsrv")

# Pebble's ACME endpoints (pebble 2.4.0 wfe.go), as they appear in its log:
# one line per request, "<METHOD> <PATH> -> calling handler()".
PATHS = {
    "directory": "/dir",
    "newNonce": "/nonce-plz",
    "newAccount": "/sign-me-up",
    "newOrder": "/order-plz",
    "revokeCert": "/revoke-cert",
    "keyChange": "/rollover-account-key",
    "account": "/my-account/",
    "order": "/my-order/",
    "authz": "/authZ/",
    "challenge": "/chalZ/",
    "finalize": "/finalize-order/",
    "certificate": "/certZ/",
}


class PebbleError(RuntimeError):
    """A server failed to start or a management call failed."""


def _set_pdeathsig():
    """In the child, before exec: ask Linux to SIGTERM us when our parent
    (this Python) dies, so a kill -9 of the test run leaves no servers."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except Exception:  # not Linux: the context manager still stops them
        pass


def free_ports(n, udp_too=()):
    """Return n distinct free TCP ports on 127.0.0.1.  Indices listed in
    udp_too must also be free for UDP.  All sockets are held until every
    port is chosen, so the n ports differ; they are closed before returning,
    so a race with another program is possible (callers retry)."""
    held, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if len(ports) in udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    u.close()
                    continue
                held.append(u)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


class PebbleEnv:
    """Context manager running pebble + pebble-challtestsrv on loopback.

    extra_config: dict merged into pebble's "pebble" config object, e.g.
        {"certificateValidityPeriod": 120} or EAB settings.
    env: dict of environment overrides for pebble, e.g.
        {"PEBBLE_WFE_NONCEREJECT": "0"}.  A value of None removes the variable.
        Defaults: PEBBLE_VA_NOSLEEP=1 (PEBBLE_WFE_NONCEREJECT left at pebble's
        default of 5 %, so clients must handle badNonce).
    workdir: directory for certificate, config and logs (default: a new temp
        dir, removed on stop unless keep=True or the env var PEBBLE_ENV_KEEP=1).
    dns_server: "127.0.0.1:PORT" of the DNS server pebble resolves every name
        through (its -dnsserver), e.g. a tests/e2e/named_env.py NamedEnv.
        Default: this env's own challtestsrv (which runs either way; its
        dns_port and management API stay usable).  Give a loopback server:
        pebble must never ask the machine's resolver.
    http_port: the port pebble's validator connects to for http-01 (its
        "httpPort"), e.g. a tests/e2e/balancer.py Balancer already listening
        in front of several responders.  Default: a free port chosen at
        start (env.http_port), where the test runs its own responder.
    """

    def __init__(self, extra_config=None, env=None, workdir=None, keep=False,
                 start_timeout=20.0, attempts=3, verbose=False,
                 dns_server=None, http_port=None):
        self.dns_server = dns_server
        self.fixed_http_port = http_port
        self.extra_config = dict(extra_config or {})
        self.env_overrides = dict(env or {})
        self._own_workdir = workdir is None
        self.workdir = workdir
        self.keep = keep or os.environ.get("PEBBLE_ENV_KEEP") == "1"
        self.start_timeout = start_timeout
        self.attempts = attempts
        self.verbose = verbose
        self.pebble = None          # subprocess.Popen
        self.challtestsrv = None    # subprocess.Popen
        self._logs = []
        self.listen_port = self.mgmt_port = None
        self.http_port = self.tls_port = None
        self.dns_port = self.challtest_mgmt_port = None
        self._ssl = None

    # ---------------------------------------------------------------- urls
    @property
    def directory_url(self):
        return "https://127.0.0.1:%d/dir" % self.listen_port

    @property
    def ca_id(self):
        """leec's account folder name for this server: accounts/<ca_id>/."""
        return "127.0.0.1_%d" % self.listen_port

    @property
    def management_url(self):
        return "https://127.0.0.1:%d" % self.mgmt_port

    @property
    def challtest_mgmt_url(self):
        return "http://127.0.0.1:%d" % self.challtest_mgmt_port

    @property
    def pebble_log(self):
        return os.path.join(self.workdir, "pebble.log")

    @property
    def challtestsrv_log(self):
        return os.path.join(self.workdir, "challtestsrv.log")

    # ----------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="leec-pebble-")
        else:
            os.makedirs(self.workdir, exist_ok=True)
        for tool in (PEBBLE, CHALLTESTSRV, "openssl"):
            if shutil.which(tool) is None:
                raise PebbleError("%s not found in PATH" % tool)
        self._make_tls_cert()
        self._ssl = ssl.create_default_context(cafile=self.ca_bundle)
        last = None
        for attempt in range(1, self.attempts + 1):
            try:
                self._start_once(attempt)
                return self
            except PebbleError as e:
                last = e
                self._stop_procs()
                if self.verbose:
                    print("pebble_env: attempt %d failed: %s" % (attempt, e))
        self.stop()
        raise PebbleError("could not start pebble after %d attempts: %s"
                          % (self.attempts, last))

    def stop(self):
        self._stop_procs()
        if self._own_workdir and not self.keep and self.workdir \
                and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_procs(self):
        for name in ("pebble", "challtestsrv"):
            proc = getattr(self, name)
            if proc is None:
                continue
            if proc.poll() is None:
                try:
                    proc.terminate()
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
            setattr(self, name, None)
        for f in self._logs:
            f.close()
        self._logs = []

    # ------------------------------------------------------------ internals
    def _make_tls_cert(self):
        self.ca_bundle = os.path.join(self.workdir, "pebble-tls.pem")
        self.tls_key = os.path.join(self.workdir, "pebble-tls.key")
        if os.path.exists(self.ca_bundle) and os.path.exists(self.tls_key):
            return
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", self.tls_key, "-out", self.ca_bundle, "-days", "30",
             "-subj", "/CN=leec test pebble",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise PebbleError("openssl req failed: %s"
                              % r.stdout.decode(errors="replace"))

    def _spawn(self, argv, logname, env=None):
        log = open(os.path.join(self.workdir, logname), "ab")
        self._logs.append(log)
        log.write(("### %s\n" % " ".join(repr(a) if a == "" else a
                                          for a in argv)).encode())
        log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env,
                                cwd=self.workdir, start_new_session=True,
                                preexec_fn=_set_pdeathsig)

    def _start_once(self, attempt):
        (self.listen_port, self.mgmt_port, self.http_port, self.tls_port,
         self.challtest_mgmt_port, self.dns_port) = free_ports(6, udp_too=(5,))
        if self.fixed_http_port is not None:
            # The chosen port is already taken (by its responder): the five
            # others, picked free, cannot be it.
            self.http_port = int(self.fixed_http_port)

        self.challtestsrv = self._spawn(
            [CHALLTESTSRV,
             "-dns01", "127.0.0.1:%d" % self.dns_port,
             "-management", "127.0.0.1:%d" % self.challtest_mgmt_port,
             "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            "challtestsrv.log")

        cfg = {
            "listenAddress": "127.0.0.1:%d" % self.listen_port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": self.ca_bundle,
            "privateKey": self.tls_key,
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        cfg.update(self.extra_config)
        self.config_file = os.path.join(self.workdir, "pebble-config.json")
        with open(self.config_file, "w") as f:
            json.dump({"pebble": cfg}, f, indent=2)

        env = dict(os.environ)
        env["PEBBLE_VA_NOSLEEP"] = "1"
        for k, v in self.env_overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)

        deadline = time.monotonic() + self.start_timeout
        # challtestsrv first: pebble must never resolve through anything else.
        self._wait_until(deadline, self.challtestsrv, "challtestsrv",
                         self._challtest_up)
        self.pebble = self._spawn(
            [PEBBLE, "-config", self.config_file,
             "-dnsserver", self.dns_server or "127.0.0.1:%d" % self.dns_port],
            "pebble.log", env=env)
        self._wait_until(deadline, self.pebble, "pebble", self._pebble_up)
        self._wait_until(deadline, self.pebble, "pebble management",
                         self._mgmt_up)
        if self.verbose:
            print("pebble_env: up at %s (attempt %d, workdir %s)"
                  % (self.directory_url, attempt, self.workdir))

    def _wait_until(self, deadline, proc, what, probe):
        delay = 0.05
        while True:
            if proc.poll() is not None:
                raise PebbleError("%s exited with status %s; log tail:\n%s"
                                  % (what, proc.returncode, self._tail(proc)))
            if probe():
                return
            if time.monotonic() > deadline:
                raise PebbleError("%s did not answer within %.0f s; log tail:\n%s"
                                  % (what, self.start_timeout, self._tail(proc)))
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _tail(self, proc):
        name = "pebble.log" if proc is self.pebble else "challtestsrv.log"
        try:
            with open(os.path.join(self.workdir, name), "rb") as f:
                return b"".join(f.readlines()[-15:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def _opener(self):
        # Never through a proxy from the environment: everything is loopback.
        return urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self._ssl))

    def _get(self, url, timeout=5):
        with self._opener().open(url, timeout=timeout) as r:
            return r.status, r.read()

    def _probe(self, url):
        try:
            self._get(url, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True         # it answered
        except (urllib.error.URLError, OSError):
            return False

    def _challtest_up(self):
        return self._probe(self.challtest_mgmt_url + "/")

    def _pebble_up(self):
        try:
            status, body = self._get(self.directory_url, timeout=2)
            return status == 200 and b"newAccount" in body
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _mgmt_up(self):
        return self._probe(self.management_url + "/roots/0")

    # ------------------------------------------------------------- helpers
    def directory(self):
        return json.loads(self._get(self.directory_url)[1])

    def root_pem(self, n=0):
        """PEM of pebble's root CA n (0 = the default chain's root)."""
        return self._get("%s/roots/%d" % (self.management_url, n))[1].decode()

    def intermediate_pem(self, n=0):
        """PEM of pebble's intermediate n (the issuer of leaf certificates)."""
        return self._get("%s/intermediates/%d"
                         % (self.management_url, n))[1].decode()

    def write_root(self, path=None):
        """Write root_pem() to a file (default workdir/root.pem); return path."""
        path = path or os.path.join(self.workdir, "root.pem")
        with open(path, "w") as f:
            f.write(self.root_pem())
        return path

    def cert_status(self, serial):
        """Revocation status of a certificate as pebble's management API
        reports it (a dict with at least "Status": "Valid"|"Revoked"), or
        None if pebble does not know the serial.  serial: int or hex string
        (colons allowed, as openssl prints it)."""
        if isinstance(serial, int):
            serial = "%x" % serial
        serial = serial.replace(":", "").lower()
        try:
            body = self._get("%s/cert-status-by-serial/%s"
                             % (self.management_url, serial))[1]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
        return json.loads(body)

    def challtest(self, path, obj):
        """POST obj as JSON to challtestsrv's management API, e.g.
        challtest("/add-a", {"host": "x.leec.test.", "addresses": ["127.0.0.2"]}).
        Host names need the trailing dot.  Returns the response body."""
        req = urllib.request.Request(
            self.challtest_mgmt_url + path, data=json.dumps(obj).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with self._opener().open(req, timeout=10) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise PebbleError("challtestsrv %s: HTTP %d %s"
                              % (path, e.code, e.read()[:200])) from None

    def log_lines(self):
        try:
            with open(self.pebble_log, "r", errors="replace") as f:
                return f.readlines()
        except OSError:
            return []

    def count_requests(self, substring, method=None):
        """Number of requests pebble logged whose "METHOD PATH" line contains
        substring (e.g. "POST /sign-me-up" or PATHS["newAccount"]).  Only the
        per-request lines ("... -> calling handler()") count."""
        n = 0
        for line in self.log_lines():
            if "-> calling handler()" not in line:
                continue
            if substring in line and (method is None
                                      or (" %s /" % method) in line):
                n += 1
        return n

    def count_endpoint(self, name, method="POST"):
        """count_requests for an ACME resource by its directory name,
        e.g. count_endpoint("newAccount")."""
        return self.count_requests("%s %s" % (method, PATHS[name]))


if __name__ == "__main__":
    # Manual use: python3 tests/e2e/pebble_env.py  -> runs until Ctrl-C.
    with PebbleEnv(verbose=True, keep=True) as e:
        print("directory:  ", e.directory_url)
        print("ca bundle:  ", e.ca_bundle)
        print("http-01 port", e.http_port, " tls-alpn-01 port", e.tls_port)
        print("dns port    ", e.dns_port, " challtestsrv mgmt",
              e.challtest_mgmt_url)
        print("logs in     ", e.workdir)
        try:
            while e.pebble.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
