"""A throwaway BIND9 for leec's dns-01 end-to-end tests.  Python 3 stdlib
(+ named, dig, nsupdate, tsig-keygen from bind9 / bind9-dnsutils).

NamedEnv runs `named` on 127.0.0.1:PORT (UDP and TCP, a free port), primary
for a few test zones that accept dynamic updates signed with a TSIG key:

    with NamedEnv() as ns:
        ns.port             # where it answers (127.0.0.1 only)
        ns.server           # "127.0.0.1:PORT", for --dns-server/--dns-resolver
        ns.key_file         # the TSIG key in BIND's format (mode 0600)
        ns.txt("_acme-challenge.example.test")   # -> ["value", ...]
        ns.nsupdate(["update add x.example.test. 60 TXT \"v\""])

Zones (all with SOA, NS ns1.<zone> -> A 127.0.0.1, and `* A 127.0.0.1` so
that every name resolves to loopback): example.test., delegated.test. and
whatever `zones` adds.  Recursion is on for 127.0.0.1 only (so that a CNAME
from one of our zones into another comes back with the target's TXT), but
named can never ask the internet: it is authoritative for the root zone
itself (every other name is NXDOMAIN, no root hints are needed), has no
forwarders, and sends its own queries from 127.0.0.1 only.

A second NamedEnv with updates=False and the same zone text makes a stale
secondary (see DnsProxy to put it on another loopback address).

Run as a script it serves until interrupted and prints where.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

__all__ = ["NamedEnv", "NamedError", "DnsProxy", "KEY_NAME", "DEFAULT_ZONES"]

NAMED = os.environ.get("NAMED_BIN", "named")
KEY_NAME = "leec-test"
DEFAULT_ZONES = ("example.test", "delegated.test")
TIMEOUT = 20            # seconds, for every helper subprocess


class NamedError(RuntimeError):
    """named failed to start or a helper command failed."""


def _set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port(addresses=("127.0.0.1",)):
    """A port free for both UDP and TCP on every address given."""
    for _ in range(50):
        held = []
        try:
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(t)
            t.bind((addresses[0], 0))
            port = t.getsockname()[1]
            ok = True
            for i, a in enumerate(addresses):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    if i == 0 and kind == socket.SOCK_STREAM:
                        continue
                    s = socket.socket(socket.AF_INET, kind)
                    held.append(s)
                    try:
                        s.bind((a, port))
                    except OSError:
                        ok = False
            if ok:
                return port
        finally:
            for s in held:
                s.close()
    raise NamedError("no free port on %s" % (addresses,))


def _zone_text(zone, extra=(), ns=(("ns1", "127.0.0.1"),)):
    zone = zone.rstrip(".") + "."
    lines = [
        "$TTL 60",
        "@ IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 10" % (zone, zone),
    ]
    for label, addr in ns:
        lines.append("@ IN NS %s.%s" % (label, zone))
    for label, addr in ns:
        lines.append("%s IN A %s" % (label, addr))
    lines += ["@ IN A 127.0.0.1", "* IN A 127.0.0.1"]
    lines += list(extra)
    return "\n".join(lines) + "\n"


ROOT_ZONE = """$TTL 60
@ IN SOA a.root.test. hostmaster.root.test. 1 3600 600 86400 10
@ IN NS a.root.test.
a.root.test. IN A 127.0.0.1
"""


class NamedEnv:
    """Context manager running one named on ADDRESS:PORT (127.0.0.1).

    zones: {zone: [extra zone-file lines]} or a sequence of zone names, in
        addition to (or, with default_zones=False, instead of) example.test.
        and delegated.test.  zone_ns: {zone: [(label, address), ...]} for
        the NS set of a zone (default [("ns1", "127.0.0.1")]).
    updates: accept TSIG-signed dynamic updates (allow-update { key ...; }).
    key_secret: base64 secret for the key (default: a fresh tsig-keygen one);
        two NamedEnvs can share a key that way.
    port: a fixed port (default: a free one).
    """

    def __init__(self, zones=None, zone_ns=None, default_zones=True,
                 updates=True, key_secret=None, port=None, workdir=None,
                 keep=False, start_timeout=20.0, attempts=3):
        self.zones = {}
        if default_zones:
            for z in DEFAULT_ZONES:
                self.zones[z] = []
        if isinstance(zones, dict):
            for z, extra in zones.items():
                self.zones[z.rstrip(".")] = list(extra)
        elif zones:
            for z in zones:
                self.zones[z.rstrip(".")] = []
        self.zone_ns = dict(zone_ns or {})
        self.updates = updates
        self.key_secret = key_secret
        self.fixed_port = port
        self.port = None
        self.address = "127.0.0.1"
        self._own_workdir = workdir is None
        self.workdir = workdir
        self.keep = keep or os.environ.get("LEEC_E2E_KEEP") == "1"
        self.start_timeout = start_timeout
        self.attempts = attempts
        self.proc = None
        self._log = None

    # ------------------------------------------------------------- props
    @property
    def server(self):
        return "%s:%d" % (self.address, self.port)

    @property
    def log_file(self):
        return os.path.join(self.workdir, "named.log")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # --------------------------------------------------------- lifecycle
    def start(self):
        for tool in (NAMED, "dig", "nsupdate", "tsig-keygen"):
            if shutil.which(tool) is None:
                raise NamedError("%s not found in PATH (apt-get install bind9 "
                                 "bind9-dnsutils)" % tool)
        if self.workdir is None:
            # Not under the test run's 0700 scratch dir: named drops to the
            # bind user and must reach its directory.
            self.workdir = tempfile.mkdtemp(prefix="leec-named-")
        os.makedirs(self.workdir, exist_ok=True)
        self._user = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("bind")
            except KeyError:
                self._user = None
        self._write_key()
        last = None
        for attempt in range(self.attempts):
            try:
                self._start_once()
                return self
            except NamedError as e:
                last = e
                self._stop_proc()
                if self.fixed_port:
                    break
        self.stop()
        raise NamedError("could not start named: %s" % last)

    def stop(self):
        self._stop_proc()
        if self._own_workdir and not self.keep and self.workdir \
                and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_proc(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.terminate()
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    # --------------------------------------------------------- internals
    def _write_key(self):
        """key_file: what leec gets (--tsig-key), 0600, BIND's format."""
        self.key_file = os.path.join(self.workdir, "tsig.key")
        if self.key_secret is None:
            self.key_secret = self.key_secret_new()
        self.write_key_file(self.key_file, self.key_secret)

    @staticmethod
    def key_secret_new(name=KEY_NAME, algorithm="hmac-sha256"):
        """A fresh secret from tsig-keygen (base64)."""
        r = subprocess.run(["tsig-keygen", "-a", algorithm, name],
                           capture_output=True, text=True, timeout=TIMEOUT)
        m = re.search(r'secret\s+"([^"]+)"', r.stdout)
        if r.returncode != 0 or not m:
            raise NamedError("tsig-keygen: %s%s" % (r.stdout, r.stderr))
        return m.group(1)

    @staticmethod
    def key_text(secret, name=KEY_NAME, algorithm="hmac-sha256"):
        return ('key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n'
                % (name, algorithm, secret))

    @classmethod
    def write_key_file(cls, path, secret, name=KEY_NAME,
                       algorithm="hmac-sha256"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cls.key_text(secret, name, algorithm))
        os.chmod(path, 0o600)
        return path

    def _chown(self, path):
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _start_once(self):
        self.port = self.fixed_port or free_port((self.address,))
        d = self.workdir
        # named's own copy of the key (the bind user must read it).
        named_key = os.path.join(d, "named-tsig.key")
        with open(named_key, "w") as f:
            f.write(self.key_text(self.key_secret))
        zone_stmts = ['zone "." { type primary; file "root.db"; };']
        with open(os.path.join(d, "root.db"), "w") as f:
            f.write(ROOT_ZONE)
        for z, extra in self.zones.items():
            fname = "%s.db" % z
            path = os.path.join(d, fname)
            with open(path, "w") as f:
                f.write(_zone_text(z, extra, self.zone_ns.get(
                    z, (("ns1", "127.0.0.1"),))))
            for j in (path + ".jnl",):
                if os.path.exists(j):
                    os.unlink(j)
            upd = ('allow-update { key "%s"; };' % KEY_NAME
                   if self.updates else "allow-update { none; };")
            zone_stmts.append('zone "%s." { type primary; file "%s"; %s };'
                              % (z, fname, upd))
        conf = """include "%(key)s";
options {
    directory "%(dir)s";
    pid-file "%(dir)s/named.pid";
    session-keyfile "%(dir)s/session.key";
    managed-keys-directory "%(dir)s";
    listen-on port %(port)d { %(addr)s; };
    listen-on-v6 { none; };
    query-source address 127.0.0.1;
    recursion yes;
    allow-recursion { 127.0.0.1; };
    allow-query { 127.0.0.0/8; };
    allow-transfer { none; };
    forwarders { };
    dnssec-validation no;
    notify no;
    empty-zones-enable no;
    minimal-responses no;
};
controls { };
logging {
    channel out { stderr; severity info; print-time yes; };
    category default { out; };
    category update { out; };
    category update-security { out; };
    category security { out; };
    category lame-servers { null; };
};
%(zones)s
""" % {"key": named_key, "dir": d, "port": self.port, "addr": self.address,
       "zones": "\n".join(zone_stmts)}
        self.conf = os.path.join(d, "named.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for name in os.listdir(d):
            self._chown(os.path.join(d, name))
        self._chown(d)
        os.chmod(d, 0o755)
        os.chmod(self.key_file, 0o600)
        if self._user is not None:
            os.chown(self.key_file, 0, 0)   # leec's copy stays root's
        os.chmod(named_key, 0o600)

        r = subprocess.run(["named-checkconf", self.conf], capture_output=True,
                           text=True, timeout=TIMEOUT) \
            if shutil.which("named-checkconf") else None
        if r is not None and r.returncode != 0:
            raise NamedError("named-checkconf: %s%s" % (r.stdout, r.stderr))

        argv = [NAMED, "-c", self.conf, "-g", "-4", "-n", "1"]
        if self._user is not None:
            argv += ["-u", "bind"]
        self._log = open(self.log_file, "ab")
        self._log.write(("### %s\n" % " ".join(argv)).encode())
        self._log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=d,
                                     start_new_session=True,
                                     preexec_fn=_set_pdeathsig)
        deadline = time.monotonic() + self.start_timeout
        delay = 0.05
        first = next(iter(self.zones), None)
        while True:
            if self.proc.poll() is not None:
                raise NamedError("named exited with status %s:\n%s"
                                 % (self.proc.returncode, self.tail()))
            if first is None or self._soa_ok(first):
                return
            if time.monotonic() > deadline:
                raise NamedError("named did not answer within %.0f s:\n%s"
                                 % (self.start_timeout, self.tail()))
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _soa_ok(self, zone):
        r = self.dig(zone, "SOA", timeout=3, check=False)
        return r.returncode == 0 and "status: NOERROR" in r.stdout and \
            " SOA " in r.stdout.replace("\t", " ")

    def tail(self, n=30):
        try:
            with open(self.log_file, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    # ----------------------------------------------------------- helpers
    def dig(self, name, rtype="TXT", *extra, timeout=10, check=True,
            address=None):
        """dig NAME RTYPE at this named (full output)."""
        argv = ["dig", "-p", str(self.port), "@" + (address or self.address),
                "+time=2", "+tries=2", name, rtype] + list(extra)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise NamedError("%s: exit %d\n%s%s" % (" ".join(argv),
                                                    r.returncode, r.stdout,
                                                    r.stderr))
        return r

    def txt(self, name, norec=True, address=None):
        """The TXT values at name (each value's strings joined), straight
        from this named's own data (+norec: no CNAME chasing); [] if none.
        norec=False: as a recursive resolver answers (CNAME followed)."""
        argv = ["+short"] + (["+norec"] if norec else [])
        r = self.dig(name, "TXT", *argv, address=address)
        out = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if not line.startswith('"'):
                continue        # a CNAME target line
            out.append("".join(_parse_strings(line)))
        return out

    def nsupdate(self, lines, key_file=None, check=True):
        """Send one dynamic update (lines without server/send) signed with
        the key; returns CompletedProcess."""
        script = "server %s %d\n%s\nsend\n" % (self.address, self.port,
                                               "\n".join(lines))
        r = subprocess.run(["nsupdate", "-k", key_file or self.key_file,
                            "-t", "5"],
                           input=script, capture_output=True, text=True,
                           timeout=TIMEOUT)
        if check and r.returncode != 0:
            raise NamedError("nsupdate failed (%d): %s%s\n--- script:\n%s"
                             % (r.returncode, r.stdout, r.stderr, script))
        return r


def _parse_strings(line):
    """'"a" "b\\"c"' -> ['a', 'b"c'] (dig's presentation format)."""
    out, i = [], 0
    while i < len(line):
        if line[i] != '"':
            i += 1
            continue
        i += 1
        s = []
        while i < len(line) and line[i] != '"':
            if line[i] == "\\" and i + 1 < len(line):
                if line[i + 1:i + 4].isdigit():
                    s.append(chr(int(line[i + 1:i + 4])))
                    i += 4
                    continue
                s.append(line[i + 1])
                i += 2
                continue
            s.append(line[i])
            i += 1
        out.append("".join(s))
        i += 1
    return out


class DnsProxy:
    """UDP+TCP relay from LISTEN_ADDR:PORT to TARGET_ADDR:TARGET_PORT, in
    threads of this process, e.g. to put a second named (which only binds
    interface addresses) on 127.0.0.2 with the port of the first one."""

    def __init__(self, listen, target):
        self.listen = listen
        self.target = target
        self.queries = 0
        outer = self

        class UDP(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                outer.queries += 1
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.settimeout(3)
                    try:
                        u.sendto(data, outer.target)
                        reply, _ = u.recvfrom(65535)
                    except OSError:
                        return
                sock.sendto(reply, self.client_address)

        class TCP(socketserver.BaseRequestHandler):
            def handle(self):
                outer.queries += 1
                c = self.request
                c.settimeout(5)
                try:
                    with socket.create_connection(outer.target, timeout=5) as u:
                        while True:
                            hdr = _recv_exact(c, 2)
                            if not hdr:
                                return
                            n = int.from_bytes(hdr, "big")
                            u.sendall(hdr + _recv_exact(c, n))
                            rh = _recv_exact(u, 2)
                            if not rh:
                                return
                            c.sendall(rh + _recv_exact(
                                u, int.from_bytes(rh, "big")))
                except OSError:
                    return

        class TS(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        class US(socketserver.ThreadingUDPServer):
            daemon_threads = True

        self.udp = US(listen, UDP)
        try:
            self.tcp = TS(listen, TCP)
        except OSError:
            self.udp.server_close()
            raise
        self.threads = [threading.Thread(target=s.serve_forever,
                                         kwargs={"poll_interval": 0.1},
                                         daemon=True)
                        for s in (self.udp, self.tcp)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()
        for t in self.threads:
            t.join(timeout=5)
        return False


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


if __name__ == "__main__":
    with NamedEnv(keep=True) as ns:
        print("named on    ", ns.server)
        print("TSIG key    ", ns.key_file)
        print("workdir     ", ns.workdir)
        try:
            while ns.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
