#!/usr/bin/env python3
"""A stand-in for the fleet command line, to check the fleet tests and
bench (test_fleet.py, bench/fleet.py) before the real one exists.  NOT
leec's fleet mode and not run by `make check`.  Python 3 standard library
+ psql; the real leec (LEEC_REAL) does the ACME part.

    LEEC_REAL=build/cli/leec LEEC_PG_ENV=.../pg_env.py \\
        python3 tests/e2e/run.py --leec tests/e2e/fleet_fake.py test_fleet

It takes the contract's command lines (fleet_env.OPT) and passes every
other command to LEEC_REAL unchanged:

  issue --queue   rows in a table fake_certs of the --store database
  daemon          claims due rows (UPDATE ... FOR UPDATE SKIP LOCKED, a
                  lease of --lease-ttl s kept alive every ttl/3 s, a
                  fencing token), runs `LEEC_REAL issue --webroot` for each
                  (a webroot shared by the nodes beside --store-key, served
                  on --http-listen: any node answers any token), installs
                  the result in the table only while its token still holds
                  (else logs "lease lost (fenced)"), and writes every
                  installed certificate into its --dir/live as
                  live/NAME -> ../archive/NAME/VERSION
  list --json     a JSON array, one object per row (name, names, as
                  `leec list --json`; version, serial, claimed_by)

It resumes no order: a certificate taken over is ordered again.
"""

import base64
import ctypes
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fleet_env import OPT, pg_bin  # noqa: E402

REAL = os.environ.get("LEEC_REAL") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "build", "cli", "leec")
FS, RS = "\x1f", "\x1e"

SCHEMA = """
CREATE TABLE IF NOT EXISTS fake_certs(
  name text PRIMARY KEY, names text NOT NULL, server text, ca_bundle text,
  owner text, lease_until double precision NOT NULL DEFAULT 0,
  token bigint NOT NULL DEFAULT 0, version int NOT NULL DEFAULT 0,
  updated bigint NOT NULL DEFAULT 0, serial text,
  cert text, chain text, key text);
CREATE SEQUENCE IF NOT EXISTS fake_seq;
"""


def q(s):
    return "$q$%s$q$" % s


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s).decode()


class DB:
    def __init__(self, conninfo):
        self.conninfo = conninfo
        self.psql = pg_bin("psql")

    def __call__(self, sql):
        """Rows (lists of strings); raises OSError when psql fails."""
        r = subprocess.run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-At", "-F", FS, "-R", RS, "-d", self.conninfo,
                            "-c", sql], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise OSError("psql: " + r.stderr.strip().replace("\n", " "))
        out = r.stdout.rstrip("\n")
        return [row.split(FS) for row in out.split(RS) if row]


def opts(argv, flags=(), multi=()):
    """A tiny option parser: {option: value}, flags True, multi lists."""
    o, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a in flags:
            o[a] = True
            i += 1
        elif a in multi:
            o.setdefault(a, []).append(argv[i + 1])
            i += 2
        elif a.startswith("-"):
            o[a] = argv[i + 1] if i + 1 < len(argv) else ""
            i += 2
        else:
            i += 1
    return o


def log(*a):
    sys.stderr.write("%s fake-daemon: %s\n" % (
        time.strftime("%H:%M:%S"), " ".join(str(x) for x in a)))
    sys.stderr.flush()


# ---------------------------------------------------------------- issue
def queue(argv):
    o = opts(argv, flags=(OPT["queue"], OPT["agree_tos"]), multi=("-d",))
    db = DB(o[OPT["store"]])
    certs = {}
    if OPT["batch"] in o:
        for line in open(o[OPT["batch"]]):
            w = line.split("#", 1)[0].split()
            if w:
                certs[w[0]] = w[1:]
    else:
        names = o["-d"]
        certs[o.get("--cert-name", names[0])] = names
    sql = SCHEMA + "".join(
        "INSERT INTO fake_certs(name, names, server, ca_bundle) VALUES "
        "(%s, %s, %s, %s) ON CONFLICT DO NOTHING;\n" % (
            q(c), q(" ".join(n)), q(o[OPT["server"]]),
            q(os.path.abspath(o[OPT["ca_bundle"]])))
        for c, n in certs.items())
    db(sql)
    print("queued %d certificates" % len(certs))
    return 0


def list_json(argv):
    o = opts(argv, flags=(OPT["json"],))
    db = DB(o[OPT["store"]])
    rows = [{"name": name, "names": names.split(), "version": int(version),
             "serial": serial or None, "claimed_by": owner or None}
            for name, names, version, serial, owner in db(
                "SELECT name, names, version, coalesce(serial, ''), "
                "coalesce(owner, '') FROM fake_certs ORDER BY name")]
    print(json.dumps(rows, indent=2))   # an array, as `leec list --json`
    return 0


# --------------------------------------------------------------- daemon
def _pdeathsig():
    try:
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except Exception:
        pass


class Daemon:
    def __init__(self, argv):
        o = opts(argv, flags=(OPT["verbose"],))
        self.db = DB(o[OPT["store"]])
        self.node = o[OPT["node"]]
        self.dir = os.path.abspath(o[OPT["dir"]])
        host, _, port = o[OPT["http_listen"]].rpartition(":")
        self.listen = (host or "127.0.0.1", int(port))
        self.ttl = float(o.get(OPT["lease_ttl"], 30))
        self.interval = float(o.get(OPT["claim_interval"], 5))
        self.batch = int(o.get(OPT["claim_batch"], 10))
        self.parallel = int(o.get(OPT["max_parallel"], 10))
        self.webroot = os.path.join(os.path.dirname(os.path.abspath(
            o[OPT["store_key"]])), "fake-webroot")
        self.private = os.path.join(self.dir, ".fake-private")
        self.lock = threading.Lock()
        self.owned = {}             # name: token
        self.done = []              # (name, token, files) to install
        self.seen = 0               # highest "updated" synced
        self.busy = 0

    def serve(self):
        webroot = self.webroot

        class H(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=webroot, **kw)

            def log_message(self, *a):
                pass
        os.makedirs(webroot, exist_ok=True)
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        s = http.server.ThreadingHTTPServer(self.listen, H)
        threading.Thread(target=s.serve_forever, daemon=True).start()

    def heartbeat(self):
        while True:
            time.sleep(self.ttl / 3)
            with self.lock:
                owned = dict(self.owned)
            if not owned:
                continue
            try:
                self.db("UPDATE fake_certs SET lease_until = extract(epoch "
                        "FROM now()) + %g WHERE owner = %s AND version = 0"
                        % (self.ttl, q(self.node)))
            except OSError as e:
                log("heartbeat failed:", e)

    def claim(self):
        with self.lock:
            room = min(self.batch, self.parallel - self.busy)
        if room <= 0:
            return
        rows = self.db(
            "UPDATE fake_certs SET owner = %s, token = token + 1, "
            "lease_until = extract(epoch FROM now()) + %g WHERE name IN "
            "(SELECT name FROM fake_certs WHERE version = 0 AND (owner IS "
            "NULL OR lease_until < extract(epoch FROM now())) ORDER BY name "
            "LIMIT %d FOR UPDATE SKIP LOCKED) RETURNING name, names, token, "
            "server, ca_bundle" % (q(self.node), self.ttl, room))
        for name, names, token, server, bundle in rows:
            log("claimed", name)
            with self.lock:
                self.owned[name] = int(token)
                self.busy += 1
            threading.Thread(target=self.order, args=(
                name, names.split(), int(token), server, bundle),
                daemon=True).start()

    def order(self, name, names, token, server, bundle):
        argv = [REAL, "issue", "--cert-name", name, "--server", server,
                "--ca-bundle", bundle, "--agree-tos", "--dir", self.private,
                "--webroot", self.webroot, "--force", "-q"]
        for n in names:
            argv += ["-d", n]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           preexec_fn=_pdeathsig)
        with self.lock:
            self.busy -= 1
        if r.returncode != 0:
            log("order failed", name, r.stderr.strip()[-200:])
            with self.lock:
                self.owned.pop(name, None)
            return
        live = os.path.join(self.private, "live", name)
        files = {f: open(os.path.join(live, f)).read() for f in
                 ("cert.pem", "chain.pem", "privkey.pem")}
        with self.lock:
            self.done.append((name, token, files))

    def install(self):
        with self.lock:
            done, self.done = self.done, []
        for name, token, files in done:
            serial = subprocess.run(
                ["openssl", "x509", "-noout", "-serial"],
                input=files["cert.pem"], capture_output=True,
                text=True).stdout.strip().split("=")[-1]
            try:
                rows = self.db(
                    "UPDATE fake_certs SET version = version + 1, owner = "
                    "NULL, updated = nextval('fake_seq'), serial = %s, "
                    "cert = %s, chain = %s, key = %s WHERE name = %s AND "
                    "owner = %s AND token = %d RETURNING version" % (
                        q(serial), q(b64(files["cert.pem"])),
                        q(b64(files["chain.pem"])),
                        q(b64(files["privkey.pem"])), q(name), q(self.node),
                        token))
            except OSError as e:
                log("install of", name, "failed, again later:", e)
                with self.lock:
                    self.done.append((name, token, files))
                continue
            with self.lock:
                self.owned.pop(name, None)
            if rows:
                log("issued", name, "version", rows[0][0])
            else:
                log("lease lost (fenced): %s, token %d is stale; not "
                    "installed" % (name, token))

    def sync(self):
        rows = self.db("SELECT name, version, updated, cert, chain, key FROM "
                       "fake_certs WHERE updated > %d ORDER BY updated"
                       % self.seen)
        for name, version, updated, cert, chain, key in rows:
            arch = os.path.join(self.dir, "archive", name, version)
            if not os.path.isdir(arch):
                tmp = arch + ".tmp"
                os.makedirs(tmp, mode=0o700, exist_ok=True)
                c, ch, k = unb64(cert), unb64(chain), unb64(key)
                for f, text, mode in (("cert.pem", c, 0o644),
                                      ("chain.pem", ch, 0o644),
                                      ("fullchain.pem", c + ch, 0o644),
                                      ("privkey.pem", k, 0o600)):
                    fd = os.open(os.path.join(tmp, f), os.O_WRONLY |
                                 os.O_CREAT | os.O_TRUNC, mode)
                    with os.fdopen(fd, "w") as fo:
                        fo.write(text)
                os.rename(tmp, arch)
            live = os.path.join(self.dir, "live")
            os.makedirs(live, mode=0o700, exist_ok=True)
            link = os.path.join(live, name)
            cur = os.readlink(link) if os.path.islink(link) else ""
            m = re.search(r"(\d+)$", cur)
            if not m or int(m.group(1)) < int(version):
                tl = os.path.join(live, "." + name + ".tmp")
                if os.path.lexists(tl):
                    os.remove(tl)
                os.symlink("../archive/%s/%s" % (name, version), tl)
                os.rename(tl, link)
            self.seen = max(self.seen, int(updated))

    def run(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.serve()
        while True:
            try:
                self.db(SCHEMA)
                break
            except OSError as e:
                log("store:", e)
                time.sleep(self.interval)
        threading.Thread(target=self.heartbeat, daemon=True).start()
        log("daemon started, node", self.node)
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        while True:
            for step in (self.install, self.claim, self.sync):
                try:
                    step()
                except OSError as e:
                    log(step.__name__, "failed:", e)
            time.sleep(self.interval)


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "daemon" and "--help" in argv:
        print("usage: leec daemon (fleet_fake.py stand-in) %s" % " ".join(
            OPT[k] for k in ("store", "store_key", "node", "dir",
                             "http_listen", "lease_ttl", "claim_interval",
                             "claim_batch", "max_parallel")))
        return 0
    if cmd == "issue" and OPT["queue"] in argv:
        return queue(argv[1:])
    if cmd == "list" and OPT["store"] in argv:
        return list_json(argv[1:])
    if cmd == "daemon" and OPT["node"] in argv:
        Daemon(argv[1:]).run()
        return 0
    os.execv(REAL, [REAL] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
