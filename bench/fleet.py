#!/usr/bin/env python3
"""Fleet benchmark: several `leec daemon` nodes on one PostgreSQL store,
against a local pebble.  Python 3 standard library (+ openssl, psql);
nothing leaves 127.0.0.1.

    python3 bench/fleet.py --leec build/cli/leec [--certs 3000] [--nodes 3]
    make bench-fleet [N=3000]

The layout is tests/e2e/fleet_env.py's: a throwaway PostgreSQL
(tests/pg_env.py) with pg_stat_statements loaded (ALTER SYSTEM + restart),
pebble (PEBBLE_VA_NOSLEEP=1, its default 5 % of nonces refused, 90-day
certificates) whose http-01 validator goes through a round-robin balancer
over the nodes' --http-listen ports, the nodes talking to pebble through a
proxy that counts orders and finalizes per certificate.  Phases:

  1. small: S = max(30, N/100) certificates queued (`leec issue --queue
     --batch`), the nodes started, every certificate on every node; then
     the idle cost: statements per claim interval with everything
     installed and nothing due, over IDLE_INTERVALS intervals.
  2. big: the other N - S queued: wall time (queue to the last certificate
     on every node), orders and finalizes (orders must equal
     certificates), statements per certificate, throughput per node; then
     the idle cost again, at N certificates: it must not grow with N.
  3. takeover: K = max(300, N/10) more queued, the busiest node SIGKILLed
     at ~40 % of them installed: time from the kill to the last
     certificate not installed at the kill being installed on a survivor.
  4. single process: the same pebble (through the same proxy), `leec issue
     --batch` of min(N, 1000) certificates on a folder store: the figure
     per-node throughput is compared with.

pebble 2.4 deadlocks now and then under load (bench/RESULTS.md): when a
request has waited STALL seconds for its answer, pebble is replaced by a
new one behind the same proxy URL (its accounts and orders gone: the
orders made again show in the counts), the time lost is left out of the
wall times and the notes say so.

The table goes to stdout and is appended to bench/RESULTS.md under
"## Fleet" (--out FILE elsewhere, --no-write not at all).  Exit status 0
if every certificate was installed on every node with one order each
(phases 1-2), 1 otherwise, 2 on set-up errors (no fleet mode in this leec,
no PostgreSQL).
"""

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import fleet_env  # noqa: E402
from fleet_env import Fleet, cert_key  # noqa: E402

# Every certificate has names of its own, so pebble has nothing to reuse;
# its reuse lookup (MemoryStore.FindValidAuthorization) is in the goroutine
# dump of its deadlocks under this load (pebble 2.4).
PEBBLE_ENV = {"PEBBLE_AUTHZREUSE": "0"}
LEASE_TTL = 10              # seconds
CLAIM_INTERVAL = 2
IDLE_INTERVALS = 10         # claim intervals the idle cost is measured over
STALL = 20                  # seconds a request waits for pebble: stuck
SAMPLE = 50                 # certificates per node whose chain is verified


def certs_for(prefix, start, n):
    return {"%s%05d.bench.fleet.leec.test" % (prefix, i):
            ["%s%05d.bench.fleet.leec.test" % (prefix, i)]
            for i in range(start, start + n)}


def sh(argv):
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


class Bench:
    def __init__(self, args):
        self.args = args
        self.notes = []
        self.rows = []          # (label, value)
        self.ok = True

    def note(self, s):
        self.notes.append(s)
        print("fleet bench: " + s, file=sys.stderr, flush=True)

    def row(self, label, value):
        self.rows.append((label, value))
        print("  %-58s %s" % (label, value), file=sys.stderr, flush=True)

    # --------------------------------------------------------- waiting
    def unstick(self, f, what):
        """Replace pebble if a request has waited STALL seconds for it;
        the seconds lost (0 if not stuck)."""
        age = f.proxy.oldest_inflight()
        if age < STALL:
            return 0.0
        self.note("pebble stuck (a request unanswered for %.0f s) during "
                  "%s: SIGQUIT (goroutines in its log), replaced" % (age,
                                                                    what))
        try:
            os.kill(f.pebble.pebble.pid, signal.SIGQUIT)
            time.sleep(1)
        except (OSError, AttributeError):
            pass
        f.restart_pebble()
        return age

    def wait_all(self, f, names, among, timeout):
        """Every name on every node among; pebble replaced when stuck.
        True when done; self.lost: the seconds lost to a stuck pebble."""
        end = time.monotonic() + timeout
        self.lost = 0.0
        while True:
            if all(len(f.installed(i, names)) == len(names) for i in among):
                f._poll_once()
                return True
            if time.monotonic() > end:
                self.note("timed out after %.0f s: %s" % (timeout,
                                                         f.describe()))
                return False
            lost = self.unstick(f, "%d certificates, %d installed" % (
                len(names), len(f.installed_anywhere(names))))
            self.lost += lost
            end += lost
            time.sleep(0.2)

    def idle_cost(self, f, label):
        time.sleep(2 * CLAIM_INTERVAL)
        fleet_env.pg_statements_reset(f.store_uri)
        t0 = time.monotonic()
        time.sleep(IDLE_INTERVALS * CLAIM_INTERVAL)
        n = fleet_env.pg_statements(f.store_uri)
        dt = time.monotonic() - t0
        per = n / (dt / CLAIM_INTERVAL) / len(
            [nd for nd in f.nodes if nd.alive()])
        self.row("idle: statements per claim interval per node (%s)" % label,
                 "%.1f" % per)
        return per

    def verify_sample(self, f, certs, among):
        names = list(certs)[:SAMPLE]
        for i in among:
            d = f.nodes[i].dir
            files = [os.path.join(d, "live", n, "cert.pem") for n in names]
            chain = os.path.join(d, "live", names[0], "chain.pem")
            r = subprocess.run(["openssl", "verify", "-CAfile", f.root_pem,
                                "-untrusted", chain] + files,
                               capture_output=True, text=True, timeout=120)
            good = r.stdout.count(": OK")
            if good != len(files):
                self.ok = False
                self.note("%s: %d of %d sampled chains verify" % (
                    f.nodes[i].name, good, len(files)))

    # ----------------------------------------------------------- phases
    def run(self):
        a = self.args
        if a.single_only:
            return self.run_single_only()
        why = fleet_env.fleet_cli_missing(a.leec) or fleet_env.pg_missing()
        if why:
            print("fleet bench: " + why, file=sys.stderr)
            return 2
        work = tempfile.mkdtemp(prefix="leec-bench-fleet-")
        self.work = work
        pg = fleet_env.make_pg(os.path.join(work, "pg"))
        pg.start()
        f = None
        try:
            fleet_env.enable_pg_stat_statements(pg)
            # No deploy hook: the single process it is compared with has
            # none either.
            f = Fleet(os.path.join(work, "fleet"), a.leec, pg.conninfo,
                      nodes=a.nodes, lease_ttl=LEASE_TTL,
                      claim_interval=CLAIM_INTERVAL, deploy_hook=False,
                      pebble_env=PEBBLE_ENV)
            f.start()
            self.phases(f, pg)
        finally:
            if f is not None:
                f.stop()
            pg.stop()
        if self.ok and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("fleet bench: scratch kept in %s" % work)
        return 0 if self.ok else 1

    def run_single_only(self):
        """Phase 4 alone (no PostgreSQL, no fleet mode needed): checks the
        bench's pebble, balancer and proxy with today's leec."""
        work = self.work = tempfile.mkdtemp(prefix="leec-bench-fleet-")
        f = Fleet(os.path.join(work, "fleet"), self.args.leec, None,
                  nodes=self.args.nodes, verbose=False)
        f.start()
        try:
            self.single(f)
        finally:
            f.stop()
        shutil.rmtree(work, ignore_errors=True)
        return 0 if self.ok else 1

    def phases(self, f, pg):
        a = self.args
        n_total = a.certs
        s = max(30, n_total // 100)
        k = max(300, n_total // 10)
        every = list(range(f.n))

        # 1. small
        small = certs_for("s", 0, s)
        r = f.queue(small)
        if r.returncode != 0:
            raise SystemExit("leec issue --queue: exit %d\n%s%s"
                             % (r.returncode, r.stdout, r.stderr))
        f.start_nodes()
        if not self.wait_all(f, list(small), every, 120 + s):
            self.ok = False
            return
        idle_small = self.idle_cost(f, "%d certificates" % s)

        # 2. big
        big = certs_for("b", s, n_total - s)
        fleet_env.pg_statements_reset(f.store_uri)
        before = f.proxy.snapshot()
        t0 = time.monotonic()
        r = f.queue(big)
        if r.returncode != 0:
            raise SystemExit("leec issue --queue: exit %d\n%s%s"
                             % (r.returncode, r.stdout, r.stderr))
        done = self.wait_all(f, list(big), every, 300 + n_total)
        wall = time.monotonic() - t0 - self.lost
        stmts = fleet_env.pg_statements(f.store_uri)
        after = f.proxy.snapshot()
        orders = after["orders_created"] - before["orders_created"]
        fins = after["finalizes"] - before["finalizes"]
        counts = f.proxy.counts()
        multi = [c for c in big if counts.get(cert_key(big[c]), {})
                 .get("orders", 0) != 1]
        installed = min(len(f.installed(i, list(big))) for i in every)
        self.row("certificates (phase 2; + %d in phase 1)" % s,
                 "%d" % len(big))
        self.row("nodes", "%d" % f.n)
        self.row("installed on every node", "%d/%d" % (installed, len(big)))
        self.row("wall time, queue to the last on every node (s)",
                 "%.1f" % wall)
        self.row("orders (must equal certificates)", "%d%s" % (
            orders, "" if orders == len(big) else " **≠ %d**" % len(big)))
        self.row("finalizes", "%d" % fins)
        self.row("database statements per certificate",
                 "%.1f" % (stmts / float(len(big))))
        per_node = len(big) / wall / f.n
        self.row("throughput per node (certs/s)", "%.1f" % per_node)
        if not done or orders != len(big) or multi:
            self.ok = False
            if multi:
                self.note("%d certificates ordered other than once, e.g. %s"
                          % (len(multi), multi[:5]))
        self.verify_sample(f, big, every)
        idle_big = self.idle_cost(f, "%d certificates" % n_total)
        grew = idle_big > idle_small * 1.2 + 2
        self.row("idle cost independent of N", "no" if grew else "yes")

        # 3. takeover
        tk = certs_for("k", n_total, k)
        names = list(tk)
        r = f.queue(tk)
        if r.returncode == 0:
            f.wait_until(lambda: f.fraction_installed(names) >= 0.4,
                         120 + k, "40 % of the takeover batch")
            try:
                victim, owners, before_k, t_kill = f.hit_holder(
                    signal.SIGKILL, names)
            except AssertionError:
                # The live/ poller reads every certificate of every node:
                # with thousands it lags, and the batch can be done before
                # it sees 40 % of it.
                victim = None
                self.note("takeover: no node held a claim when looked at "
                          "(the batch finished first): not measured")
            survivors = [i for i in every if i != victim]
            if victim is None:
                self.row("takeover after SIGKILL", "not measured")
            elif self.wait_all(f, names, survivors, 120 + k):
                work = f.victim_work(victim, owners, names, before_k,
                                     t_kill)
                takeover = f.takeover(work, survivors, t_kill)
                if not work:
                    self.note("takeover: %s had nothing in its hands when "
                              "killed (%d/%d installed): nothing measured"
                              % (f.nodes[victim].name, len(before_k), k))
                self.row("takeover after SIGKILL of %s at %d/%d installed, "
                         "%d certificates in its hands (%s) (s; lease %d s, "
                         "claim interval %d s)" % (
                             f.nodes[victim].name, len(before_k), k,
                             len(work), "its claims in leec list" if owners
                             else "its log",
                             LEASE_TTL, CLAIM_INTERVAL),
                         "-" if takeover is None else "%.1f" % takeover)
            else:
                self.row("takeover after SIGKILL", "not completed")
        else:
            self.note("takeover batch not queued: %s" % r.stderr.strip())

        self.single(f, per_node)

    def single(self, f, per_node=None):
        """4. single process, folder store, same pebble and proxy."""
        a = self.args
        m = min(a.certs, 1000)
        single = certs_for("p", 0, m)
        d = os.path.join(self.work, "single")
        batch = f.write_batch(single, os.path.join(self.work, "single.txt"))
        port = fleet_env.free_ports(1)[0]
        # pebble validates on the balancer's port: point it at this one
        f.balancer.set_backends([port])
        argv = [a.leec, "issue", "--batch", batch, "--server",
                f.proxy.directory_url, "--ca-bundle", f.proxy.ca_bundle,
                "--agree-tos", "--dir", d, "--http-port",
                "127.0.0.1:%d" % port, "-q"]
        t0, lost = time.monotonic(), 0.0
        errf = open(os.path.join(self.work, "single.err"), "w+")
        for attempt in range(4):
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errf,
                                 env=fleet_env.child_env(),
                                 start_new_session=True)
            end = time.monotonic() + 600
            stuck = 0.0
            while p.poll() is None and time.monotonic() < end:
                stuck = self.unstick(f, "the single-process run")
                if stuck:
                    break
                time.sleep(0.2)
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)      # not reaped: still ours
                p.wait()
            lost += stuck
            if not stuck:
                break
            self.note("single process: run again on the same folder")
        wall1 = time.monotonic() - t0 - lost
        errf.seek(0)
        rc, err_text = p.returncode, errf.read()
        errf.close()
        got = len(os.listdir(os.path.join(d, "live"))) \
            if os.path.isdir(os.path.join(d, "live")) else 0
        self.row("single process `issue --batch`, folder store: %d certs "
                 "(certs/s)" % m, "%.1f%s" % (got / wall1, "" if got == m
                                                else " (%d issued)" % got))
        if got != m:
            self.ok = False
            self.note("single process: exit %s, %s" % (
                rc, err_text.strip()[-300:]))
        if per_node is not None:
            self.row("per-node throughput / single process",
                     "%.2f" % (per_node / (got / wall1)) if got else "n/a")

    # ------------------------------------------------------------ report
    def table(self):
        out = ["| measure | value |", "|---|---:|"]
        out += ["| %s | %s |" % (l, v) for l, v in self.rows]
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leec", default=os.environ.get("LEEC_BIN") or
                    os.path.join(REPO, "build", "cli", "leec"))
    ap.add_argument("--certs", type=int, default=3000)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--single-only", action="store_true",
                    help="only the single-process figure (phase 4): no "
                         "PostgreSQL or fleet mode needed")
    args = ap.parse_args()
    args.leec = os.path.abspath(args.leec)
    b = Bench(args)
    t0 = time.monotonic()
    status = b.run()
    if status == 2:
        return 2
    table = b.table()
    commit = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    version = sh([args.leec, "--version"])
    head = ("\n## Fleet\n\nGenerated by `python3 bench/fleet.py` (`make "
            "bench-fleet`) on %s, %.0f s in all; %s, git %s; %d CPUs, load "
            "average %s.\n\n" % (
                datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"), time.monotonic() - t0,
                version or "leec", commit or "?", os.cpu_count(),
                " ".join(open("/proc/loadavg").read().split()[:3])))
    body = head + table + "\n"
    if b.notes:
        body += "\nNotes:\n\n" + "".join("- %s\n" % n for n in b.notes)
    print(body)
    if not args.no_write:
        with open(args.out, "a") as fo:
            fo.write(body)
    return status


if __name__ == "__main__":
    sys.exit(main())
