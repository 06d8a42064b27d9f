"""e2e tests of the fleet mode: several `leec daemon` nodes sharing one
PostgreSQL store (tests/pg_env.py), against a local pebble whose http-01
validator goes through a round-robin balancer over the nodes' --http-listen
ports (tests/e2e/fleet_env.py has the layout).

  a. N certificates queued (`leec issue --queue --batch`), 3 nodes: each
     certificate ordered once and finalized once (record_proxy.py counts),
     installed in every node's live/ (key 0600, chain verifies to pebble's
     root, key matches certificate, the same version everywhere).
  b. the busiest node SIGKILLed at ~40 % installed: the others install
     everything; takeover (kill -> last certificate not yet installed at the
     kill installed on a survivor) within lease TTL + claim interval +
     ISSUE_SLACK; orders wasted within what the killed node can have had
     in flight.
  c. a node SIGSTOPped longer than its lease TTL, then SIGCONT: it logs
     its lease lost (fenced) and no node's live/ ever goes back (version
     number or serial), `leec list` agrees.
  d. PostgreSQL stopped in immediate mode mid-run and restarted: everything
     completes on every node; orders beyond one per certificate only for
     certificates in flight during the outage.

Skipped, saying why, when `leec daemon --help` does not mention --node (no
fleet mode yet) or PostgreSQL (binaries, tests/pg_env.py) is missing.
FleetHarnessTest always runs: the balancer, the recording proxy and pebble
on a chosen http-01 port, with today's `leec issue --batch`.

N: LEEC_FLEET_N (default 30; 300 is the bigger check).  Loaded by run.py;
run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_fleet
Every option name of the fleet CLI is in fleet_env.OPT.
"""

import http.server
import json
import os
import re
import subprocess
import signal
import ssl
import threading
import time
import unittest
import urllib.request

import run
from run import LeecCase, describe
from balancer import Balancer
import fleet_env
from fleet_env import OPT, Fleet, cert_key

N = int(os.environ.get("LEEC_FLEET_N") or 30)
BIG_N = 300                 # LEEC_FLEET_N=300: the bigger check
NODES = 3
LEASE_TTL = 6               # seconds
CLAIM_INTERVAL = 1
# Few claims and orders at once per node, so that the kill, the stop and
# the outage land with work in flight and work still to claim.
CLAIM_BATCH = 2
MAX_PARALLEL = 3
ISSUE_SLACK = 20            # seconds to order and install what is left
PG_OUTAGE = 3               # seconds PostgreSQL is down in test d
SAN_EVERY = 5               # every 5th certificate has a second name


def deadline(n):
    """Seconds for n certificates on every node (2 CPUs shared by pebble,
    PostgreSQL and three daemons)."""
    return 60 + 0.5 * n


def fleet_certs(tag, n=N):
    """{cert name: [names]}: one-name certificates, every SAN_EVERY-th
    with www. too."""
    out = {}
    for i in range(n):
        c = "f%03d.%s.fleet.leec.test" % (i, tag)
        out[c] = [c, "www." + c] if i % SAN_EVERY == SAN_EVERY - 1 else [c]
    return out


REPORT = []


def tearDownModule():
    if REPORT:
        print("\n" + "\n".join(REPORT))


# ------------------------------------------------------------ checks
class FleetChecks:
    def check_fleet_certs(self, f, certs, among=None):
        """Every certificate on every node among: files there, privkey.pem
        0600, fullchain = cert + chain, chains verify to pebble's root
        (one openssl run per node and chain), key matches certificate and
        names match (checked on the first node; the others must hold the
        same certificate and key)."""
        among = list(range(f.n)) if among is None else list(among)
        ref = among[0]
        for i in among:
            d = f.nodes[i].dir
            by_chain = {}
            for c, names in certs.items():
                live = os.path.join(d, "live", c)
                files = {x: os.path.join(live, x) for x in
                         ("privkey.pem", "cert.pem", "chain.pem",
                          "fullchain.pem")}
                for p in files.values():
                    self.assertTrue(os.path.isfile(p), "missing %s" % p)
                self.assertEqual(run.mode(files["privkey.pem"]), 0o600,
                                 files["privkey.pem"])
                cert, chain, full, key = (open(files[x]).read() for x in (
                    "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"))
                self.assertEqual(full, cert + chain, live)
                by_chain.setdefault(chain, (files["chain.pem"], []))[1] \
                    .append(files["cert.pem"])
                if i == ref:
                    out = run.openssl("x509", "-in", files["cert.pem"],
                                      "-noout", "-pubkey", "-ext",
                                      "subjectAltName")
                    pub = out[:out.index("-----END PUBLIC KEY-----")]
                    self.assertEqual(
                        pub, run.openssl("pkey", "-in", files["privkey.pem"],
                                         "-pubout")[:len(pub)],
                        "%s: privkey.pem does not match cert.pem" % live)
                    self.assertEqual(
                        sorted(re.findall(r"DNS:([^,\s]+)", out)),
                        sorted(names), "%s: subjectAltName" % live)
                else:
                    rl = os.path.join(f.nodes[ref].dir, "live", c)
                    self.assertEqual(cert, open(os.path.join(
                        rl, "cert.pem")).read(),
                        "%s: not the certificate %s holds" % (live, rl))
                    self.assertEqual(key, open(os.path.join(
                        rl, "privkey.pem")).read(),
                        "%s: not the key %s holds" % (live, rl))
            for chain_file, cs in by_chain.values():
                r = run.run(["openssl", "verify", "-CAfile", f.root_pem,
                             "-untrusted", chain_file] + cs)
                self.assertEqual(r.returncode, 0, describe(r))
                self.assertEqual(r.stdout.count(": OK"), len(cs), describe(r))

    def check_counts(self, f, certs, extra_allowed=()):
        """Orders and finalizes per certificate: exactly 1, except the
        certificates in extra_allowed (at least 1)."""
        counts = f.proxy.counts()
        bad = []
        for c, names in certs.items():
            k = cert_key(names)
            got = counts.get(k, {"orders": 0, "finalizes": 0})
            if c in extra_allowed:
                if got["orders"] < 1 or got["finalizes"] < 1:
                    bad.append((c, got))
            elif got["orders"] != 1 or got["finalizes"] != 1:
                bad.append((c, got))
        self.assertEqual(bad, [], "orders/finalizes per certificate")
        keys = {cert_key(n) for n in certs.values()}
        self.assertEqual(sorted(set(counts) - keys), [],
                         "orders for certificates never queued")
        # No order finalized twice.
        self.assertEqual([o for o, k in f.proxy.order_finalizes.items()
                          if k > 1], [], "an order finalized twice")


# ------------------------------------------------- harness, always run
class FleetHarnessTest(LeecCase, FleetChecks):
    """The pieces of the fleet tests with today's CLI: the balancer, the
    recording proxy, pebble's http-01 port on the balancer; `leec issue
    --batch` on a folder store stands for the fleet."""
    needs_pebble = False

    def test_a_balancer_round_robin_skips_refusing(self):
        servers = []
        for tag in "abc":
            class H(http.server.BaseHTTPRequestHandler):
                body = tag.encode()

                def do_GET(self):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(self.body)))
                    self.end_headers()
                    self.wfile.write(self.body)

                def log_message(self, *a):
                    pass
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            threading.Thread(target=s.serve_forever, daemon=True).start()
            servers.append(s)
            self.addCleanup(s.server_close)
            self.addCleanup(s.shutdown)
        ports = [s.server_address[1] for s in servers]
        op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with Balancer(ports) as b:
            url = "http://127.0.0.1:%d/" % b.port
            got = [op.open(url, timeout=10).read().decode() for _ in range(9)]
            self.assertEqual(got, list("abc") * 3)
            servers[1].shutdown()
            servers[1].server_close()
            got = [op.open(url, timeout=10).read().decode() for _ in range(6)]
            self.assertNotIn("b", got)
            snap = b.snapshot()
            self.assertEqual(snap["counts"][ports[1]], 3)
            self.assertEqual(snap["refused"][ports[1]], 2)
            self.assertEqual(sum(snap["counts"].values()), 15)
            self.assertEqual(snap["turned_away"], 0)

    def test_b_batch_through_proxy_and_balancer(self):
        """Pebble validates through the balancer (two of its three
        backends down); the proxy counts one order and one finalize per
        certificate, 5 % of nonces refused; the live/ poller reads the
        serials openssl reads."""
        certs = fleet_certs("harness", 12)
        f = Fleet(os.path.join(self.tmp, "fleet"), run.LEEC, None)
        f.start()
        self.addCleanup(f.stop)
        self.assertEqual(f.pebble.http_port, f.balancer.port)
        batch = f.write_batch(certs)
        r = run.run([run.LEEC, "issue", "--batch", batch, "--server",
                     f.proxy.directory_url, "--ca-bundle", f.proxy.ca_bundle,
                     "--agree-tos", "--dir", f.nodes[0].dir, "--http-port",
                     "127.0.0.1:%d" % f.nodes[0].port], timeout=120)
        self.assertEqual(r.returncode, 0, describe(r))
        f.wait_installed(list(certs), 10, among=[0])
        self.check_fleet_certs(f, certs, among=[0])
        self.check_counts(f, certs)
        s = f.proxy.snapshot()
        self.assertEqual(s["orders_created"], len(certs))
        self.assertEqual(s["finalizes"], len(certs))
        pebble_orders = sum(1 for l in f.pebble.log_lines()
                            if 'Added order "' in l)
        self.assertEqual(pebble_orders, len(certs), "proxy vs pebble's log")
        b = f.balancer.snapshot()
        self.assertGreater(b["counts"][f.nodes[0].port], 0,
                           "no validation through the balancer")
        for nd in f.nodes[1:]:
            self.assertEqual(b["counts"][nd.port], 0)
        self.assertEqual(b["turned_away"], 0)
        # the poller, against openssl
        for c in certs:
            hs = f.history[0][c]
            self.assertEqual(len(hs), 1, hs)
            self.assertEqual(hs[0][2], run.cert_serial(os.path.join(
                f.nodes[0].dir, "live", c, "cert.pem")))
            self.assertEqual(hs[0][1], 1)
        self.assertEqual(f.backwards(), [])
        # the side endpoint
        ctx = ssl.create_default_context(
            cafile=f.proxy.ca_bundle)
        op = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=ctx))
        js = json.loads(op.open(f.proxy.base + "/_counts", timeout=10).read())
        self.assertEqual(js["certs"], f.proxy.counts())
        # --force: a second order and finalize for one certificate, a new
        # version seen by the poller
        one = next(iter(certs))
        r = run.run([run.LEEC, "issue", "-d", one, "--force", "--server",
                     f.proxy.directory_url, "--ca-bundle", f.proxy.ca_bundle,
                     "--agree-tos", "--dir", f.nodes[0].dir, "--http-port",
                     "127.0.0.1:%d" % f.nodes[0].port])
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(f.proxy.counts()[cert_key([one])],
                         {"orders": 2, "finalizes": 2, "finalize_refused": 0})
        f.wait_until(lambda: len(f.history[0][one]) == 2, 5, "version 2 seen")
        self.assertEqual([v for _, v, _ in f.history[0][one]], [1, 2])
        self.assertEqual(f.backwards(), [])


    def test_c_pebble_replaced_behind_the_proxy(self):
        """bench/fleet.py's way out of a stuck pebble: a new one behind
        the same proxy URL and http-01 port; a client of the old one goes
        on (its account replaced) and both roots verify."""
        f = Fleet(os.path.join(self.tmp, "fleet"), run.LEEC, None)
        f.start()
        self.addCleanup(f.stop)
        d, port = f.nodes[0].dir, f.nodes[0].port

        def issue(name):
            r = run.run([run.LEEC, "issue", "-d", name, "--server",
                         f.proxy.directory_url, "--ca-bundle",
                         f.proxy.ca_bundle, "--agree-tos", "--dir", d,
                         "--http-port", "127.0.0.1:%d" % port])
            self.assertEqual(r.returncode, 0, describe(r))
        issue("old.fleet.leec.test")
        old_url = f.pebble.directory_url
        f.restart_pebble()
        self.assertNotEqual(f.pebble.directory_url, old_url)
        self.assertEqual(f.pebble.http_port, f.balancer.port)
        issue("new.fleet.leec.test")
        certs = {"old.fleet.leec.test": ["old.fleet.leec.test"],
                 "new.fleet.leec.test": ["new.fleet.leec.test"]}
        f.wait_installed(list(certs), 10, among=[0])
        self.check_fleet_certs(f, certs, among=[0])
        self.check_counts(f, certs)
        self.assertEqual(len(f.roots), 2)


# --------------------------------------------------------- the fleet
class FleetTest(LeecCase, FleetChecks):
    """Three daemons on one PostgreSQL store; a fresh server, pebble and
    store per test."""
    needs_pebble = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The fleet CLI is this tree's own: only a missing PostgreSQL (not
        # installed, not root) skips.
        why = fleet_env.pg_missing()
        if why:
            raise unittest.SkipTest("fleet: " + why)

    def setUp(self):
        super().setUp()
        self.pg = fleet_env.make_pg(os.path.join(self.tmp, "pg"))
        self.pg.start()
        self.addCleanup(self.pg.stop)
        self.fleet = Fleet(os.path.join(self.tmp, "fleet"), run.LEEC,
                           self.pg.conninfo, nodes=NODES, lease_ttl=LEASE_TTL,
                           claim_interval=CLAIM_INTERVAL,
                           claim_batch=CLAIM_BATCH, max_parallel=MAX_PARALLEL)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)

    def queue_and_start(self, certs):
        f = self.fleet
        r = f.queue(certs)
        self.assertEqual(r.returncode, 0, describe(r))
        t0 = time.monotonic()
        f.start_nodes()
        return t0

    def mid_run(self, before, names, what):
        self.assertLess(len(before), len(names),
                        "%s landed after every certificate was installed: "
                        "nothing tested" % what)

    def alive_check(self, among):
        for i in among:
            nd = self.fleet.nodes[i]
            self.assertTrue(nd.alive(), "%s died: %s" % (
                nd.name, "\n".join(nd.log_text().splitlines()[-20:])))

    def test_a_each_certificate_once_on_every_node(self):
        f = self.fleet
        certs = fleet_certs("a")
        t0 = self.queue_and_start(certs)
        f.wait_installed(list(certs), deadline(N))
        wall = time.monotonic() - t0
        self.alive_check(range(f.n))
        self.check_counts(f, certs)
        self.check_fleet_certs(f, certs)
        self.assertEqual(f.backwards(), [])
        # Each node's deploy hook ran once per certificate its copy got,
        # with the absolute live folder of that copy (run on the copy's
        # thread, not the loop's).
        for nd in f.nodes:
            f.wait_until(lambda: len(nd.deploys()) >= len(certs), 10,
                         "%s's deploy hook for every certificate" % nd.name)
            runs = nd.deploys()
            self.assertEqual(sorted(c for c, _ in runs), sorted(certs),
                             "%s: deploy hook runs" % nd.name)
            for c, live in runs:
                self.assertTrue(os.path.isabs(live), live)
                self.assertTrue(os.path.isfile(os.path.join(live,
                                                            "fullchain.pem")),
                                "%s: %s" % (nd.name, live))
        b = f.balancer.snapshot()["counts"]
        REPORT.append("fleet a: %d certificates, %d nodes, %.1f s; "
                      "validations per node %s; issued lines per node %s"
                      % (len(certs), f.n, wall, sorted(b.values()),
                         [nd.issued_lines() for nd in f.nodes]))

    def test_b_sigkill_busiest(self):
        f = self.fleet
        certs = fleet_certs("b")
        names = list(certs)
        self.queue_and_start(certs)
        f.wait_fraction(names, 0.4, deadline(N))
        victim, owners, before, t_kill = f.hit_holder(signal.SIGKILL, names)
        orders_before = f.proxy.snapshot()["orders_created"]
        self.mid_run(before, names, "the kill")
        left = [n for n in names if n not in before]
        survivors = [i for i in range(f.n) if i != victim]
        f.wait_installed(names, deadline(N) + LEASE_TTL, among=survivors)
        self.alive_check(survivors)
        work = f.victim_work(victim, owners, names, before, t_kill)
        takeover = f.takeover(work, survivors, t_kill)
        # What the killed node can have had in flight: its claims not yet
        # installed when the list names them, else at most its
        # --max-parallel.
        in_flight = len(work) if owners else MAX_PARALLEL
        wasted = f.proxy.snapshot()["orders_created"] - len(certs)
        REPORT.append(
            "fleet b: killed %s at %d/%d installed, %d certificates in its "
            "hands (%s); takeover %s s (bound %d s); %d orders wasted "
            "(bound %d); %d orders before the kill"
            % (f.nodes[victim].name, len(before), len(names), len(work),
               "its claims in leec list" if owners else "its log",
               "%.1f" % takeover if takeover is not None else "-",
               LEASE_TTL + CLAIM_INTERVAL + ISSUE_SLACK, wasted, in_flight,
               orders_before))
        self.assertTrue(work, "the killed node had nothing in its hands: "
                        "nothing taken over; " + REPORT[-1])
        self.assertLessEqual(takeover,
                             LEASE_TTL + CLAIM_INTERVAL + ISSUE_SLACK,
                             REPORT[-1])
        self.assertLessEqual(wasted, in_flight, REPORT[-1])
        counts = f.proxy.counts()
        retried = [n for n in names if counts.get(
            cert_key(certs[n]), {}).get("orders", 0) > 1]
        self.assertLessEqual(set(retried), set(left),
                             "orders retried for certificates installed "
                             "before the kill")
        self.check_counts(f, certs, extra_allowed=set(left))
        self.check_fleet_certs(f, certs, among=survivors)
        self.assertEqual(f.backwards(), [])

    def test_c_sigstop_longer_than_lease(self):
        f = self.fleet
        certs = fleet_certs("c")
        names = list(certs)
        # Validations slowed down: 30 certificates take well under a
        # second otherwise, too quick to catch a node with work in hand.
        f.balancer.delay = 0.3
        self.queue_and_start(certs)
        f.wait_fraction(names, 0.25, deadline(N))
        victim, owners, before, _ = f.hit_holder(signal.SIGSTOP, names)
        held = len(f.victim_work(victim, owners, names, before, 0))
        self.mid_run(before, names, "the stop")
        pause = LEASE_TTL + 2 * CLAIM_INTERVAL + 2
        time.sleep(pause)
        f.signal(victim, signal.SIGCONT)
        f.wait_installed(names, deadline(N) + pause)
        # the stopped node learns its lease is gone, then catches up
        f.wait_until(lambda: fleet_env.LEASE_LOST_RE.search(
            f.nodes[victim].log_text()), 3 * LEASE_TTL,
            "%s logs its lease lost (fenced)" % f.nodes[victim].name)
        time.sleep(2 * CLAIM_INTERVAL + 1)     # its refused writes, if any
        f._poll_once()
        self.alive_check(range(f.n))
        bad = f.backwards()
        self.assertEqual(bad, [], "a live/ went back")
        # The same version on every node, and the one the store lists.
        final = {}
        for i in range(f.n):
            for c, (v, s) in f.read_live(i).items():
                final.setdefault(c, set()).add((v, s))
        self.assertEqual([c for c, vs in final.items() if len(vs) != 1], [],
                         "nodes disagree on the installed version")
        entries = {e.get("cert_name") or e.get("name"): e
                   for e in f.list_json() if isinstance(e, dict)}
        for c in names:
            e = entries.get(c)
            self.assertIsNotNone(e, "leec list lacks %s" % c)
            serial = e.get("serial")
            if serial is not None:
                (v, s), = final[c]
                self.assertEqual(int(str(serial).replace(":", ""), 16), s,
                                 "%s: leec list's serial vs live/" % c)
        left = set(names) - before
        self.check_counts(f, certs, extra_allowed=left)
        self.check_fleet_certs(f, certs)
        REPORT.append("fleet c: stopped %s %d s at %d/%d installed, %s "
                      "claims held; %d orders for %d certificates"
                      % (f.nodes[victim].name, pause, len(before), len(names),
                         "?" if held is None else held,
                         f.proxy.snapshot()["orders_created"], len(names)))

    def test_d_postgres_immediate_restart(self):
        f = self.fleet
        certs = fleet_certs("d")
        names = list(certs)
        self.queue_and_start(certs)
        f.wait_fraction(names, 0.4, deadline(N))
        before = set(f.installed_anywhere(names))
        t_down = time.monotonic()
        fleet_env.pg_outage(self.pg, PG_OUTAGE)
        t_up = time.monotonic()
        self.mid_run(before, names, "the outage")
        f.wait_installed(names, deadline(N) + 30)
        self.alive_check(range(f.n))
        # In flight during the outage: ordered before it came back, not
        # installed anywhere before it began.
        ordered = {k for t, e, k, _ in f.proxy.timeline
                   if e == "order" and t <= t_up + 1}
        in_flight = {n for n in names
                     if n not in before and cert_key(certs[n]) in ordered}
        counts = f.proxy.counts()
        retried = {n for n in names
                   if counts.get(cert_key(certs[n]), {}).get("orders", 0) > 1}
        REPORT.append("fleet d: PostgreSQL down %.1f s at %d/%d installed; "
                      "%d in flight; retried: %s"
                      % (t_up - t_down, len(before), len(names),
                         len(in_flight), sorted(retried) or "none"))
        self.assertLessEqual(retried, in_flight, REPORT[-1])
        self.check_counts(f, certs, extra_allowed=in_flight)
        self.check_fleet_certs(f, certs)
        self.assertEqual(f.backwards(), [])

    def test_e_commands_on_the_shared_store(self):
        """issue, show, renew, revoke, reset, list and store rekey on the
        PostgreSQL store (no daemon), and a dump without a key in clear."""
        f = self.fleet
        ca = [OPT["server"], f.proxy.directory_url, OPT["ca_bundle"],
              f.proxy.ca_bundle]

        def leec(*argv, key=None):
            args = list(argv)
            store = [OPT["store"], f.store_uri, OPT["store_key"],
                     key or f.store_key]
            return f.run(args[:1] + store + args[1:])

        for n in ("a", "b"):
            # The balancer skips the nodes' ports, closed: no daemon runs.
            port = f.nodes[0].port
            r = leec("issue", "-d", "%s.e.fleet.test" % n, "--http-port",
                     "127.0.0.1:%d" % port, OPT["agree_tos"], *ca)
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertIn("issued %s.e.fleet.test\n" % n, r.stdout)
        r = leec("show", "a.e.fleet.test")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("a.e.fleet.test", r.stdout)
        r = leec("renew", "--force", "a.e.fleet.test")
        self.assertEqual(r.returncode, 0, describe(r))
        r = leec("revoke", "b.e.fleet.test", *ca)
        self.assertEqual(r.returncode, 0, describe(r))
        r = leec("reset", "--yes", "b.e.fleet.test")
        self.assertEqual(r.returncode, 0, describe(r))
        rows = {x["name"]: x for x in f.list_json()}
        self.assertEqual(sorted(rows), ["a.e.fleet.test"])
        self.assertEqual(rows["a.e.fleet.test"]["status"], "valid")
        # Rotation: a new key, the old one given to rekey, then alone.
        new_key = os.path.join(self.tmp, "new.key")
        fd = os.open(new_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        r = leec("store", "rekey", "--store-old-key", f.store_key,
                 key=new_key)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"sealed [1-9][0-9]* secrets? again")
        r = leec("show", "a.e.fleet.test", key=new_key)
        self.assertEqual(r.returncode, 0, describe(r))
        # The old key alone: refused, naming the fix, nothing re-ordered.
        r = leec("renew", "--force", "a.e.fleet.test")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertIn("--store-old-key", r.stderr)
        self.assertNotIn("ordering a new one", r.stderr)
        dump = subprocess.run(["pg_dump", self.pg.conninfo],
                              capture_output=True, text=True)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertIn("leec_versions", dump.stdout)
        self.assertNotIn("PRIVATE KEY", dump.stdout)
