"""A fleet of `leec daemon` nodes sharing one PostgreSQL store, against a
local pebble, for tests/e2e/test_fleet.py and bench/fleet.py.  Python 3
standard library (+ the openssl and psql commands).

    pg = load_pg_env().PgEnv(...)        # tests/pg_env.py: a throwaway server
    pg.start()
    with Fleet(workdir, leec, pg.conninfo, nodes=3, lease_ttl=6,
               claim_interval=1) as f:   # pebble, balancer, proxy, store key
        f.queue(certs)                   # leec issue --queue --batch
        f.start_nodes()                  # leec daemon x nodes
        f.wait_installed(names, timeout) # every certificate on every node
        f.proxy.counts()                 # orders/finalizes per certificate
        f.history                        # what each node's live/ held, when
        f.kill(i, signal.SIGKILL)        # by PID, that node only

Layout: pebble's http-01 validator connects to a tests/e2e/balancer.py
Balancer (pebble_env.PebbleEnv(http_port=...)), which spreads connections
round robin over the nodes' --http-listen ports, skipping a node that is
down; so the node answering a challenge is usually not the one that
ordered the certificate.  The nodes talk to pebble through a
record_proxy.RecordProxy, which counts orders and finalizes per
certificate.  Each node has its own --dir; a thread reads every node's
live/ every POLL seconds and records, per node and certificate, the
(version, serial) seen and when (`history`, `first_seen`).

Every option name of the fleet CLI is in OPT below: the one place to change
if the command line changes.
"""

import base64
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time

from balancer import Balancer
from pebble_env import PebbleEnv, free_ports
from record_proxy import RecordProxy, cert_key

__all__ = ["Fleet", "load_pg_env", "pg_missing", "fleet_cli_missing",
           "OPT", "cert_serial_pem", "cert_key", "child_env"]

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

# ------------------------------------------------- the fleet command line
OPT = {
    "store": "--store",             # URI of the shared store
    "store_key": "--store-key",     # 32 random bytes, mode 0600
    "queue": "--queue",             # issue: record the wanted certs, exit
    "batch": "--batch",
    "server": "--server",
    "ca_bundle": "--ca-bundle",
    "agree_tos": "--agree-tos",
    "node": "--node",               # daemon: this node's name
    "dir": "--dir",                 # daemon: where live/ is kept in sync
    "http_listen": "--http-listen",  # daemon: http-01 for any node's token
    "lease_ttl": "--lease-ttl",
    "claim_interval": "--claim-interval",
    "claim_batch": "--claim-batch",
    "max_parallel": "--max-parallel",
    "json": "--json",
    "verbose": "-v",
    "deploy_hook": "--deploy-hook",  # daemon: run when its copy changes
}
# What `leec daemon --help` says once the fleet mode is there.
DAEMON_HELP_MARK = OPT["node"]
# A daemon's log line for a certificate it installed from its own order
# (how the busiest node is found; lines of certificates synced from the
# store may match too, hence also first_seen below).
ISSUED_RE = re.compile(r"\b(issued|renewed)\b", re.I)
# The log line of a node whose lease was lost (its writes refused).
LEASE_LOST_RE = re.compile(r"lease.*\b(lost|fenced)\b|\b(lost|fenced)\b.*lease",
                           re.I)
# Which certificates a node holds, from its -v log (the lead's cli/fleet.c:
# "NAME: claimed (token N)" when claimed; "NAME: issued", "NAME: failed:
# ...", "NAME is not due", "NAME: backing off ..." when done with it;
# "...: stopping work on N certificates" when it drops them all).
CLAIMED_RE = re.compile(r"^leec: (\S+): claimed \(token \d+\)")
RELEASED_RE = re.compile(r"^leec: (?:error: |warning: )?(\S+?):? "
                         r"(?:issued|failed|is not due|backing off)\b")
DROPPED_RE = re.compile(r"stopping work on \d+ certificate")
# Fields of `leec list --json` entries that may name the node holding a
# certificate's claim (the first present is used).
OWNER_FIELDS = ("claimed_by", "owner", "node", "lease_owner")

POLL = 0.2                  # seconds between two reads of the live/ folders
VALIDITY_DAYS = 90


def child_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# --------------------------------------------------------- prerequisites
def pg_env_path():
    """tests/pg_env.py (LEEC_PG_ENV=PATH names another copy)."""
    return os.environ.get("LEEC_PG_ENV") or os.path.join(TESTS, "pg_env.py")


def load_pg_env():
    """The tests/pg_env.py module (a throwaway PostgreSQL), or None."""
    path = pg_env_path()
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location("pg_env", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pg_class(mod):
    """The server class of pg_env: PgEnv, else the first class with
    start, stop and restart."""
    cls = getattr(mod, "PgEnv", None)
    if cls is not None:
        return cls
    for v in vars(mod).values():
        if isinstance(v, type) and all(hasattr(v, a) for a in
                                       ("start", "stop", "restart")):
            return v
    raise RuntimeError("%s has no PostgreSQL server class" % mod.__file__)


def make_pg(workdir):
    """A tests/pg_env.py server (not started) keeping its files in
    workdir."""
    cls = pg_class(load_pg_env())
    try:
        return cls(workdir=workdir)
    except TypeError:
        return cls()


def psql(conninfo, sql, timeout=60):
    """Run sql through psql on conninfo; its unaligned, tuples-only
    output.  Raises AssertionError on failure."""
    r = subprocess.run([pg_bin("psql"), "-X", "-v", "ON_ERROR_STOP=1",
                        "-At", "-d", conninfo, "-c", sql],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env=child_env())
    if r.returncode != 0:
        raise AssertionError("psql %r: exit %d\n%s" % (sql, r.returncode,
                                                        r.stderr))
    return r.stdout.strip()


def enable_pg_stat_statements(pg):
    """Load pg_stat_statements into a running pg_env server: ALTER SYSTEM
    (postgresql.auto.conf in its data folder), a restart, CREATE
    EXTENSION.  No hook of pg_env needed.  It counts the statements
    clients send (pg_stat_statements.track = top, the default), not those
    run inside functions."""
    psql(pg.conninfo, "ALTER SYSTEM SET shared_preload_libraries = "
                      "'pg_stat_statements'")
    pg.restart(immediate=False)
    psql(pg.conninfo, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


# Our own statements (psql's, the counting's) are left out of the counts.
OWN_SQL = "query NOT ILIKE '%pg_stat_statements%'"


def pg_statements(conninfo):
    """Statements executed since the last reset (pg_stat_statements, all
    users and databases), ours left out."""
    return int(psql(conninfo, "SELECT coalesce(sum(calls), 0) FROM "
                              "pg_stat_statements WHERE " + OWN_SQL) or 0)


def pg_statements_reset(conninfo):
    psql(conninfo, "SELECT pg_stat_statements_reset()")


def pg_outage(pg, seconds):
    """PostgreSQL stopped as a crash would (pg_ctl stop -m immediate),
    down for about seconds, started again on the same port and folder.
    pg_env's restart(immediate=True) has no pause; with seconds > 0 its
    two halves are called apart (PgEnv._stop_server/_start_server, private:
    the one place to change should they be renamed).  Returns the seconds
    it was down."""
    t0 = time.monotonic()
    if seconds > 0 and hasattr(pg, "_stop_server") and \
            hasattr(pg, "_start_server"):
        pg._stop_server("immediate")
        time.sleep(seconds)
        pg._start_server()
    else:
        pg.restart(immediate=True)
    return time.monotonic() - t0


def pg_bin(name):
    """Path of a PostgreSQL program (PATH, else Debian's folder), or None."""
    import shutil
    p = shutil.which(name)
    if p:
        return p
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        for v in sorted(os.listdir(base), reverse=True):
            p = os.path.join(base, v, "bin", name)
            if os.access(p, os.X_OK):
                return p
    return None


def pg_missing():
    """Why PostgreSQL cannot run here, or None."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres", "psql")
               if pg_bin(b) is None]
    if missing:
        return "PostgreSQL binaries missing (%s): apt-get install " \
               "postgresql postgresql-contrib" % ", ".join(missing)
    if not os.path.isfile(pg_env_path()):
        return "%s not found (the PostgreSQL test server)" % pg_env_path()
    mod = load_pg_env()
    if hasattr(mod, "available") and not mod.available():
        return "pg_env.py: PostgreSQL not installed where it looks (%s)" \
            % getattr(mod, "BIN", "?")
    return None


# A store URI that names no server: `leec daemon --store ... --help` shows
# the fleet daemon's options without connecting anywhere.
NOWHERE_STORE = "postgresql:///leec?host=/nonexistent"


def fleet_cli_missing(leec):
    """Why this leec has no fleet mode, or None: neither `leec daemon
    --help` nor `leec daemon --store postgresql://... --help` (the fleet
    daemon's own usage) mentions DAEMON_HELP_MARK."""
    seen = ""
    for argv in ([leec, "daemon", "--help"],
                 [leec, "daemon", OPT["store"], NOWHERE_STORE, "--help"]):
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=30, stdin=subprocess.DEVNULL,
                               env=child_env())
        except (OSError, subprocess.TimeoutExpired) as e:
            return "cannot run %s: %s" % (leec, e)
        seen += r.stdout + r.stderr
        if DAEMON_HELP_MARK in r.stdout + r.stderr:
            return None
    return "`leec daemon --help` does not mention %s: no fleet mode in " \
           "this binary yet" % DAEMON_HELP_MARK


# ------------------------------------------------------------- certificates
def _tlv(b, i):
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, n


def cert_serial_pem(text):
    """The serial number of the first certificate of a PEM text (a small
    DER walk: Certificate, tbsCertificate, [0] version, serialNumber), or
    None."""
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE",
                  text, re.S)
    if not m:
        return None
    try:
        der = base64.b64decode("".join(m.group(1).split()))
        _, i, _ = _tlv(der, 0)
        _, i, _ = _tlv(der, i)
        tag, j, n = _tlv(der, i)
        if tag == 0xa0:
            tag, j, n = _tlv(der, j + n)
        if tag != 0x02:
            return None
        return int.from_bytes(der[j:j + n], "big")
    except (ValueError, IndexError):
        return None


# ------------------------------------------------------------------ fleet
class Node:
    def __init__(self, fleet, i, port):
        self.i = i
        self.name = "node%d" % (i + 1)
        self.port = port
        self.base = os.path.join(fleet.workdir, self.name)
        self.dir = os.path.join(self.base, "state")
        self.log = os.path.join(self.base, "daemon.log")
        # one line per run of the deploy hook: "<cert name> <live dir>"
        self.deployed = os.path.join(self.base, "deployed.txt")
        self.proc = None
        self.stopped = False        # SIGSTOPped

    def deploys(self):
        """[(cert name, live dir)] of the deploy hook's runs, in order."""
        try:
            with open(self.deployed) as f:
                return [tuple(l.split(" ", 1)) for l in f.read().splitlines()
                        if l.strip()]
        except OSError:
            return []

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def issued_lines(self):
        return sum(1 for l in self.log_text().splitlines()
                   if ISSUED_RE.search(l))

    def in_hand(self):
        """The certificates this node's log says it holds now (claimed,
        not yet done nor dropped): CLAIMED_RE, RELEASED_RE, DROPPED_RE."""
        held = set()
        for line in self.log_text().splitlines():
            m = CLAIMED_RE.search(line)
            if m:
                held.add(m.group(1))
                continue
            m = RELEASED_RE.search(line)
            if m:
                held.discard(m.group(1))
            elif DROPPED_RE.search(line):
                held.clear()
        return held

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Fleet:
    def __init__(self, workdir, leec, store_uri, nodes=3, lease_ttl=6,
                 claim_interval=1, claim_batch=None, max_parallel=None,
                 daemon_args=(), pebble_env=None, verbose=True,
                 deploy_hook=True):
        self.workdir = workdir
        self.leec = leec
        self.store_uri = store_uri
        self.lease_ttl = lease_ttl
        self.claim_interval = claim_interval
        self.claim_batch = claim_batch
        self.max_parallel = max_parallel
        self.daemon_args = list(daemon_args)
        self.pebble_env = dict(pebble_env or {})
        self.verbose = verbose
        self.deploy_hook = deploy_hook  # each node logs its hook's runs
        self.n = nodes
        self.nodes = []
        self.pebble = self.proxy = self.balancer = None
        self.root_pem = None
        self.lock = threading.Lock()
        self.cert_keys = {}     # cert name: cert_key (what was queued)
        self.history = {}       # node i: {cert: [(t, version, serial)]}
        self.first_seen = {}    # node i: {cert: monotonic time}
        self._poller = None
        self._polling = False

    # ------------------------------------------------------- lifecycle
    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.store_key = os.path.join(self.workdir, "store.key")
        fd = os.open(self.store_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        ports = free_ports(self.n)
        self.nodes = [Node(self, i, p) for i, p in enumerate(ports)]
        for nd in self.nodes:
            os.makedirs(nd.base, exist_ok=True)
            self.history[nd.i] = {}
            self.first_seen[nd.i] = {}
        self.balancer = Balancer(ports).start()
        self.pebble = PebbleEnv(
            extra_config={"certificateValidityPeriod": VALIDITY_DAYS * 86400},
            env=self.pebble_env, http_port=self.balancer.port,
            workdir=os.path.join(self.workdir, "pebble"))
        self.pebble.start()
        self.root_pem = self.pebble.write_root()
        self.roots = [self.pebble.root_pem()]
        self.proxy = RecordProxy(os.path.join(self.workdir, "proxy"),
                                 self.pebble.directory_url,
                                 self.pebble.ca_bundle)
        self.proxy.start()
        self._polling = True
        self._poller = threading.Thread(target=self._poll_loop, daemon=True)
        self._poller.start()
        return self

    def restart_pebble(self):
        """A new pebble (same http-01 port: the balancer's) behind the same
        proxy URL, for a pebble that stopped answering (pebble 2.4's
        MemoryStore deadlock, see bench/RESULTS.md).  Everything pebble
        knew (accounts, orders) is gone; its old root stays in roots."""
        old = self.pebble
        old.stop()
        self.pebble = PebbleEnv(
            extra_config={"certificateValidityPeriod": VALIDITY_DAYS * 86400},
            env=self.pebble_env, http_port=self.balancer.port,
            workdir=os.path.join(self.workdir, "pebble%d" % len(self.roots)))
        self.pebble.start()
        self.proxy.repoint(self.pebble.directory_url, self.pebble.ca_bundle)
        self.roots.append(self.pebble.root_pem())
        self.root_pem = os.path.join(self.workdir, "roots.pem")
        with open(self.root_pem, "w") as f:
            f.write("".join(self.roots))

    def stop(self):
        self._polling = False
        if self._poller is not None:
            self._poller.join(timeout=5)
        for nd in self.nodes:
            self.stop_node(nd.i)
        for x in (self.proxy, self.pebble, self.balancer):
            if x is not None:
                x.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---------------------------------------------------------- leec
    def store_args(self):
        return [OPT["store"], self.store_uri, OPT["store_key"], self.store_key]

    def run(self, argv, timeout=120):
        return subprocess.run([self.leec] + [str(a) for a in argv],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout,
                              env=child_env())

    def write_batch(self, certs, path=None):
        """certs: {cert name: [names]} -> a batch file."""
        path = path or os.path.join(self.workdir, "certs.txt")
        with open(path, "w") as f:
            for c, names in certs.items():
                f.write("%s %s\n" % (c, " ".join(names)))
        return path

    def queue(self, certs):
        """leec issue --queue --batch for certs {cert name: [names]}."""
        self.cert_keys.update((c, cert_key(n)) for c, n in certs.items())
        batch = self.write_batch(certs)
        return self.run(["issue"] + self.store_args() +
                        [OPT["queue"], OPT["server"], self.proxy.directory_url,
                         OPT["ca_bundle"], self.proxy.ca_bundle,
                         OPT["agree_tos"], OPT["batch"], batch])

    def list_json(self):
        """The entries of `leec list --store ... --json` (a list of dicts;
        JSON Lines or one array accepted), or raises."""
        r = self.run(["list"] + self.store_args() + [OPT["json"]])
        if r.returncode != 0:
            raise AssertionError("leec list: exit %d\n%s%s"
                                 % (r.returncode, r.stdout, r.stderr))
        text = r.stdout.strip()
        try:
            v = json.loads(text)
            if isinstance(v, dict):
                v = v.get("certificates", [v])
            return v
        except ValueError:
            return [json.loads(l) for l in text.splitlines() if l.strip()]

    def daemon_argv(self, nd):
        argv = [self.leec, "daemon"] + self.store_args() + [
            OPT["node"], nd.name, OPT["dir"], nd.dir,
            OPT["http_listen"], "127.0.0.1:%d" % nd.port,
            # the lead's daemon orders only certificates queued for its
            # own --server ("ordered from another CA than this node's")
            OPT["server"], self.proxy.directory_url,
            OPT["ca_bundle"], self.proxy.ca_bundle,
            OPT["lease_ttl"], str(self.lease_ttl),
            OPT["claim_interval"], str(self.claim_interval)]
        if self.deploy_hook:
            argv += [OPT["deploy_hook"],
                     'printf "%%s %%s\\n" "$LEEC_CERT_NAME" '
                     '"$LEEC_LIVE_DIR" >> %s' % shlex.quote(nd.deployed)]
        if self.claim_batch is not None:
            argv += [OPT["claim_batch"], str(self.claim_batch)]
        if self.max_parallel is not None:
            argv += [OPT["max_parallel"], str(self.max_parallel)]
        if self.verbose:
            argv.append(OPT["verbose"])
        return argv + self.daemon_args

    def start_node(self, i):
        nd = self.nodes[i]
        log = open(nd.log, "ab")
        try:
            nd.proc = subprocess.Popen(self.daemon_argv(nd),
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT,
                                       env=child_env(),
                                       start_new_session=True)
        finally:
            log.close()
        nd.stopped = False
        return nd

    def start_nodes(self):
        for nd in self.nodes:
            self.start_node(nd.i)

    def signal(self, i, sig):
        """sig to node i's daemon, by its PID."""
        nd = self.nodes[i]
        if nd.proc is not None and nd.proc.poll() is None:
            os.kill(nd.proc.pid, sig)
            if sig == signal.SIGSTOP:
                nd.stopped = True
            elif sig == signal.SIGCONT:
                nd.stopped = False

    def kill(self, i):
        nd = self.nodes[i]
        self.signal(i, signal.SIGKILL)
        nd.proc.wait(timeout=10)

    def stop_node(self, i, timeout=15):
        """SIGTERM (after SIGCONT if stopped), SIGKILL after timeout."""
        nd = self.nodes[i]
        p = nd.proc
        if p is None:
            return None
        if p.poll() is None:
            if nd.stopped:
                os.kill(p.pid, signal.SIGCONT)
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        return p.returncode

    # ------------------------------------------------------ live/ reads
    def read_live(self, i):
        """{cert name: (version or None, serial)} of node i's live/ now."""
        nd = self.nodes[i]
        live = os.path.join(nd.dir, "live")
        out = {}
        try:
            entries = os.listdir(live)
        except OSError:
            return out
        for name in entries:
            if name.startswith("."):
                continue
            p = os.path.join(live, name)
            version = None
            try:
                target = os.readlink(p)
                m = re.search(r"(\d+)/?$", target)
                version = int(m.group(1)) if m else None
                p = os.path.join(live, target)
            except OSError:
                pass            # not a link: read the folder itself
            try:
                with open(os.path.join(p, "cert.pem")) as f:
                    serial = cert_serial_pem(f.read())
            except OSError:
                continue
            if serial is not None:
                out[name] = (version, serial)
        return out

    def _poll_once(self):
        now = time.monotonic()
        for nd in self.nodes:
            seen = self.read_live(nd.i)
            with self.lock:
                h, first = self.history[nd.i], self.first_seen[nd.i]
                for name, vs in seen.items():
                    hs = h.setdefault(name, [])
                    if not hs or hs[-1][1:] != vs:
                        hs.append((now,) + vs)
                    first.setdefault(name, now)

    def _poll_loop(self):
        while self._polling:
            try:
                self._poll_once()
            except Exception:
                pass
            time.sleep(POLL)

    def installed(self, i, names):
        with self.lock:
            return [n for n in names if n in self.first_seen[i]]

    def installed_anywhere(self, names, among=None):
        among = range(self.n) if among is None else among
        with self.lock:
            return [n for n in names
                    if any(n in self.first_seen[i] for i in among)]

    def fraction_installed(self, names):
        return len(self.installed_anywhere(names)) / float(len(names))

    def first_install(self, name, among=None):
        """Monotonic time a certificate first appeared in a live/ of the
        nodes among (default all), or None."""
        among = range(self.n) if among is None else among
        with self.lock:
            ts = [self.first_seen[i][name] for i in among
                  if name in self.first_seen[i]]
        return min(ts) if ts else None

    def wait_until(self, pred, timeout, what, step=0.2):
        """Wait for pred() or raise AssertionError naming what (and the
        nodes' state) after timeout seconds."""
        end = time.monotonic() + timeout
        while True:
            if pred():
                return
            if time.monotonic() > end:
                raise AssertionError("%s: not within %.0f s\n%s"
                                     % (what, timeout, self.describe()))
            time.sleep(step)

    def wait_installed(self, names, timeout, among=None):
        """Every name in the live/ of every node among (default all)."""
        among = list(range(self.n)) if among is None else list(among)
        self._poll_once()
        self.wait_until(lambda: all(len(self.installed(i, names)) == len(names)
                                    for i in among),
                        timeout, "%d certificates on nodes %s" % (
                            len(names), [self.nodes[i].name for i in among]))
        self._poll_once()

    def wait_fraction(self, names, frac, timeout):
        self.wait_until(lambda: self.fraction_installed(names) >= frac,
                        timeout, "%.0f %% of %d certificates installed"
                        % (frac * 100, len(names)))

    def describe(self):
        lines = []
        for nd in self.nodes:
            with self.lock:
                k = len(self.first_seen[nd.i])
            st = "not started" if nd.proc is None else (
                "running" if nd.proc.poll() is None
                else "exit %s" % nd.proc.returncode)
            tail = nd.log_text().splitlines()[-8:]
            lines.append("%s (port %d): %s, %d installed; log %s, tail:\n    %s"
                         % (nd.name, nd.port, st, k, nd.log,
                            "\n    ".join(tail)))
        if self.proxy is not None:
            s = self.proxy.snapshot()
            lines.append("proxy: %d orders, %d finalizes, %d requests"
                         % (s["orders_created"], s["finalizes"],
                            s["requests"]))
        if self.balancer is not None:
            lines.append("balancer: %r" % self.balancer.snapshot())
        return "\n".join(lines)

    def busiest(self, among=None, names=None, owners=None):
        """The node (index) to hit: the one holding the most claims on
        certificates of names not installed anywhere yet, when `leec list
        --json` names claim holders (OWNER_FIELDS), else as its log says
        (Node.in_hand); if none holds any, the one with the
        most ISSUED_RE log lines, ties going to the one first to install
        the most certificates.  Returns (index, claims held or None).
        owners: owners() if the caller has it (one `leec list` less)."""
        among = list(range(self.n)) if among is None else list(among)
        if owners is None:
            owners = self.owners()
        if owners:
            done = set(self.installed_anywhere(list(owners)))
            held = {i: sum(1 for c, o in owners.items()
                           if o == self.nodes[i].name and c not in done
                           and (names is None or c in names))
                    for i in among}
            i = max(among, key=lambda i: held[i])
            if held[i]:
                return i, held[i]
        done = set(self.installed_anywhere(list(self.cert_keys)))
        held = {i: len({c for c in self.nodes[i].in_hand()
                        if c not in done and (names is None or c in names)})
                for i in among}
        i = max(among, key=lambda i: held[i])
        if held[i]:
            return i, held[i]
        with self.lock:
            firsts = {i: 0 for i in among}
            seen = set()
            for i in among:
                seen |= set(self.first_seen[i])
            for n in seen:
                ts = [(self.first_seen[i][n], i) for i in among
                      if n in self.first_seen[i]]
                firsts[min(ts)[1]] += 1
        return max(among, key=lambda i: (self.nodes[i].issued_lines(),
                                         firsts[i])), None

    def owners(self):
        """{cert name: node name} from `leec list --json` when it names the
        holder of a claim (OWNER_FIELDS), else {}."""
        out = {}
        try:
            entries = self.list_json()
        except (AssertionError, ValueError, subprocess.TimeoutExpired):
            return out
        for e in entries:
            if not isinstance(e, dict):
                continue
            for f in OWNER_FIELDS:
                if e.get(f):
                    out[e.get("cert_name") or e.get("name")] = e[f]
                    break
        return out

    def victim_work(self, victim, owners, names, before, t_kill):
        """The certificates of names the node victim was working on when
        killed at t_kill (monotonic), before being the set installed
        anywhere then: its claims when `leec list` named them (owners, from
        owners() just before the kill), else those its log says it held
        (Node.in_hand: a killed node's log is final), else every
        certificate with an
        order created before the kill (the proxy's timeline), whoever made
        it."""
        left = set(names) - set(before)
        if owners:
            return {c for c, o in owners.items()
                    if o == self.nodes[victim].name and c in left}
        logged = self.nodes[victim].in_hand() & left
        if logged:
            return logged
        keys = {k for t, e, k, _ in self.proxy.timeline
                if e == "order" and t <= t_kill}
        return {c for c in left if self.cert_keys.get(c) in keys}

    def takeover(self, work, survivors, t_kill):
        """Seconds from t_kill to the last of work installed on a
        survivor (None if work is empty)."""
        ts = [self.first_install(c, survivors) for c in work]
        return max(ts) - t_kill if ts else None

    def hit_holder(self, sig, names, tries=100):
        """Send sig (SIGKILL or SIGSTOP) to the node holding the most
        claims on names not yet installed (busiest()).  When only its log
        tells, the node is stopped first and its log read again (a stopped
        node's log is final): one that finished in between is let go
        (SIGCONT) and the pick made again, every 0.1 s, up to tries times.
        Returns (index, owners, before: the names installed anywhere at
        the hit, monotonic time of the hit)."""
        for _ in range(tries):
            owners = self.owners()
            victim, held = self.busiest(names=names, owners=owners)
            if held:
                before = set(self.installed_anywhere(names))
                t = time.monotonic()
                self.signal(victim, signal.SIGSTOP)
                if owners or self.nodes[victim].in_hand() - before:
                    if sig == signal.SIGKILL:
                        self.kill(victim)
                    return victim, owners, before, t
                self.signal(victim, signal.SIGCONT)
            time.sleep(0.1)
        raise AssertionError("no node held a claim to be hit within %d "
                             "tries\n%s" % (tries, self.describe()))

    # -------------------------------------------------------- checks
    def backwards(self):
        """[(node, cert, history)] where a node's live/ went back: a
        version number lower than one seen before, or a serial seen before
        that was replaced coming back."""
        bad = []
        with self.lock:
            for i, h in self.history.items():
                for name, hs in h.items():
                    vers = [v for _, v, _ in hs if v is not None]
                    sers = [s for _, _, s in hs]
                    if any(b < a for a, b in zip(vers, vers[1:])) or \
                            len(set(sers)) != len(sers):
                        bad.append((self.nodes[i].name, name,
                                    [(v, "%x" % s) for _, v, s in hs]))
        return bad
